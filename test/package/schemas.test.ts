import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateSecretsKey, isBerthError, type StateExport } from '../../src/index.js';
import { cliWorld, requireBuiltCli } from '../cli/helpers.js';
import { sqliteFactory } from '../helpers/store-factory.js';
import { request, startServe } from '../server/helpers.js';

/*
 * The shapes berth reads from outside are checked with its schemas (src/schemas/): the
 * workspace export envelope here, the force-unlock body of `berth serve`, and plan files
 * in test/plan/plan-file.test.ts. A broken document fails with its usual code and the
 * JSON Pointer path of what is wrong. The schema library is loaded only where a schema
 * is used: `berth ps` and body-less routes of `berth serve` never load it (nor does
 * `ps` load the secret cipher), traced in real processes.
 */

requireBuiltCli();

const TRACE = fileURLToPath(new URL('../../bench/module-trace.mjs', import.meta.url));

/** Environment that makes a berth process record every module it loads into `file`. */
const traced = (file: string) => ({ NODE_OPTIONS: `--import ${TRACE}`, BENCH_MODULE_TRACE: file });

/** Whether a traced process loaded code of `pkg` (bundled into a chunk, or required). */
function loaded(traceFile: string, pkg: string): boolean {
  if (!existsSync(traceFile)) return false;
  const marker = new RegExp(`^// (?:\\S*/)?node_modules/${pkg.replace(/[/.]/g, '\\$&')}/`, 'm');
  return readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .some((line) => {
      const file = fileURLToPath(line);
      if (file.includes(`/node_modules/${pkg}/`)) return true;
      // esbuild marks each bundled module with a `// <path>/node_modules/<pkg>/…` line.
      return file.includes('/dist/bin/') && marker.test(readFileSync(file, 'utf8'));
    });
}

async function importFailure(work: Promise<unknown>): Promise<{ message: string; details: { path?: string } }> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBerthError(err, 'INVALID_IMPORT'), String(err)).toBe(true);
  return err as { message: string; details: { path?: string } };
}

describe.concurrent('schemas: checks that name the path', () => {
  it('an export envelope of the wrong shape is INVALID_IMPORT naming the failing field, and changes nothing', async () => {
    const store = await sqliteFactory.open();
    await store.workspaces.writeState('default', { release: 1 });
    const envelope = await store.workspaces.exportState('default');
    await store.workspaces.create('target');
    const before = await store.workspaces.readState('target');
    const { lineage: _lineage, ...noLineage } = envelope;
    const cases: [unknown, string, RegExp][] = [
      ['an export', '', /at the top level: expected object/],
      [noLineage, '/lineage', /at \/lineage: expected required property/],
      [{ ...envelope, serial: 1.5 }, '/serial', /at \/serial: expected integer/],
      [{ ...envelope, kind: 'terraform.state' }, '/kind', /at \/kind: expected 'berth\.workspace'/],
      [{ ...envelope, version: 2 }, '/version', /version 2 is not supported \(this berth reads version 1\)/],
      [{ ...envelope, secretsKeys: { k: 5 } }, '/secretsKeys/k', /at \/secretsKeys\/k: expected string/],
      [{ ...envelope, checksum: 'f'.repeat(64) }, '/checksum', /checksum does not match the state/],
      [{ ...envelope, state: null, checksum: null }, '/state', /it holds no state/],
    ];
    for (const [bad, path, message] of cases) {
      const err = await importFailure(store.workspaces.importState('target', bad as StateExport, { force: true }));
      expect(err.details.path, JSON.stringify(bad)).toBe(path);
      expect(err.message).toMatch(/^the import is not a valid berth workspace export: /);
      expect(err.message).toMatch(message);
    }
    expect(await store.workspaces.readState('target')).toEqual(before);
    await store.workspaces.importState('target', envelope);
    expect((await store.workspaces.readState('target')).state).toEqual({ release: 1 });
  });

  it('berth serve: a force-unlock body of the wrong shape is 400 INVALID_ARGUMENT naming the field; only that route loads the schema library', async (t) => {
    const world = cliWorld(t);
    const trace = join(world.dir, 'serve.trace');
    const served = await startServe(t, ['--listen', '127.0.0.1:0'], { world, env: traced(trace) });
    for (const path of ['/v1/state', '/v1/locks', '/v1/workspaces', '/v1/health']) {
      expect((await request(served.url, path)).status).toBe(200);
    }
    expect(loaded(trace, '@sinclair/typebox'), 'GET routes loaded the schema library').toBe(false);

    const post = (body: string) =>
      request(served.url, '/v1/locks/workspace%3A%2Fdefault/force-unlock', { method: 'POST', body });
    const cases: [string, string, RegExp][] = [
      ['{"lockId": 5}', '/lockId', /at \/lockId: expected string/],
      ['{"lockId": ""}', '/lockId', /at \/lockId: expected string length greater or equal to 1/],
      ['{}', '/lockId', /at \/lockId: expected required property/],
      ['["x"]', '', /at the top level: expected object/],
      ['', '', /the body is empty/],
    ];
    for (const [body, path, message] of cases) {
      const r = await post(body);
      const error = (r.json as { error: { code: string; message: string; details: { path: string } } }).error;
      expect(r.status, body).toBe(400);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.details.path).toBe(path);
      expect(error.message).toMatch(/^send the exact id of the lock to break: \{"lockId": "\.\.\."\}/);
      expect(error.message).toMatch(message);
    }
    // The trace sees the library once a route with a body used it.
    expect(loaded(trace, '@sinclair/typebox')).toBe(true);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('berth ps loads neither the schema library nor the secret cipher; an import of secrets loads both', async (t) => {
    const world = cliWorld(t);
    const secretsKey = generateSecretsKey();
    await world.seed(
      async (s) => {
        await s.addContainer({ config: { name: 'web', image: 'nginx:1.27' } });
        await s.workspaces.writeState('default', { password: { $secret: 'hunter2' } });
      },
      { secretsKey },
    );
    const ps = join(world.dir, 'ps.trace');
    const listed = await world.run(['ps', '-a'], { env: traced(ps) });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('web');
    expect(loaded(ps, '@sinclair/typebox')).toBe(false);
    expect(loaded(ps, '@noble/ciphers')).toBe(false);

    const file = join(world.dir, 'export.json');
    const exported = await world.run(['state', 'export']);
    expect(exported.code, exported.stderr).toBe(0);
    writeFileSync(file, exported.stdout);
    const imp = join(world.dir, 'import.trace');
    const imported = await world.run(['state', 'import', file, '--force'], {
      env: { ...traced(imp), BERTH_SECRETS_KEY: secretsKey },
    });
    expect(imported.code, imported.stderr).toBe(0);
    expect(loaded(imp, '@sinclair/typebox')).toBe(true);
    expect(loaded(imp, '@noble/ciphers')).toBe(true);
  });
});
