import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { copyStoreTo, generateSecretsKey, openStore, type Store, type ContainerConfig } from '../../src/index.js';
import { ctr, expectCode, hexId, unknownFields } from '../conformance/builders.js';
import { postgresFactory, sqliteFactory, tempDir } from '../helpers/store-factory.js';
import { describePg, pgTarget, urlWithSchema } from './helpers.js';

/*
 * `berth migrate --to` / copyStoreTo (issue: "copies a SQLite store (objects, workspaces
 * with history, events) into an empty PostgreSQL store, verifying counts and checksums,
 * and the reverse"): everything read back through the library API is identical on both
 * sides, a non-empty target is refused untouched, and the journal goes on after the
 * copied seqs.
 */

const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));
const NAMESPACES = ['', 'ns1'];

/** A store with every kind of content: objects, exec sessions, exit codes, workspaces with history, locks, events. */
async function populate(store: Store): Promise<{ stagingLock: string; ids: string[] }> {
  await store.validateDBConfig({ os: 'linux', graphRoot: '/var/lib/containers/storage', graphDriver: 'overlay' });
  await store.addVolume({ config: { name: 'data', driver: 'local', labels: { tier: 'db' } }, state: {} });
  await store.addVolume({ config: { name: 'scratch', options: { size: '1g' } }, state: { mountCount: 2 } });
  const web = await store.addPod({
    config: { id: hexId('aa'), name: 'web', labels: { app: 'web' } },
    state: { cgroupPath: '/machine.slice/web' },
  });
  const front = await store.addContainerToPod(web, ctr({ name: 'web-front', pod: web.config.id }));
  await store.addContainerToPod(
    web,
    ctr({ name: 'web-back', pod: web.config.id, dependencies: [front.config.id] }, { status: 'running', pid: 77 }),
  );
  const db = await store.addContainer(
    ctr(
      {
        name: 'db',
        namedVolumes: [{ name: 'data', dest: '/var/lib/pg' }],
        networks: { backend: { aliases: ['db'] } },
        labels: { tier: 'db' },
        env: { PGDATA: '/var/lib/pg' },
        ...(unknownFields('db') as Partial<ContainerConfig>),
      },
      { status: 'running', pid: 4242, mounted: true },
    ),
  );
  const app = await store.addContainer(
    ctr({ name: 'app', dependencies: [db.config.id], command: ['serve', '--port', '80'] }),
  );
  await store.networkConnect(app, 'frontend', { aliases: ['app'], staticIps: ['10.0.0.5'] });
  await store.addExecSession(app, { id: hexId('e1'), containerId: app.config.id });
  await store.addExecSession(app, { id: hexId('e2'), containerId: app.config.id });
  await store.saveContainer({
    ...db,
    state: { status: 'exited', exitCode: 137, finishedAt: new Date(0).toISOString() },
  });
  await store.addContainerExitCode(db.config.id, 137);
  const gone = await store.addContainer(ctr({ name: 'gone' }));
  await store.removeContainer(gone);
  await store.addContainerExitCode(gone.config.id, 0);
  const ns1 = store.withNamespace('ns1');
  const inNs = await ns1.addContainer(ctr({ name: 'ns1-ctr' }));

  const ws = store.workspaces;
  for (const v of [1, 2, 3]) await ws.writeState('default', { v, objects: { db: db.config.id } });
  await ws.create('staging');
  await ws.writeState('staging', { s: 1 });
  await ws.writeState('staging', { s: 2, nested: { list: [1, 2, 3] } });
  await ws.rollback('staging', 1);
  await ws.create('empty');
  await ws.create('temporary');
  await ws.delete('temporary');
  await ns1.workspaces.writeState('default', { ns: 'ns1' });
  await ws.create('secret');
  await ws.writeState('secret', { db: { password: { $secret: 'copied-secret' } } });
  const stagingLock = (await ws.lock('staging', { operation: 'apply', info: 'plan 1234', ttlMs: 3_600_000 })).id;
  await store.locks.acquire('job:nightly', { operation: 'backup', info: 'nightly run' });
  return { stagingLock, ids: [db.config.id, app.config.id, gone.config.id, inNs.config.id, front.config.id] };
}

const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** Everything the library API shows of a store, in a stable order. Reads only. */
async function capture(store: Store, ids: string[]): Promise<Record<string, unknown>> {
  const containers = (await store.allContainers()).sort(byKey((c) => c.config.id));
  const perContainer: Record<string, unknown> = {};
  for (const c of containers) {
    perContainer[c.config.name] = {
      execSessions: (await store.getContainerExecSessions(c)).sort(),
      networks: await store.getNetworks(c),
      inUse: (await store.containerInUse(c)).sort(),
    };
  }
  const exitCodes: Record<string, number | string> = {};
  for (const id of ids) {
    exitCodes[id] = await store.getContainerExitCode(id).catch((err: { code: string }) => err.code);
  }
  const pods = (await store.allPods()).sort(byKey((p) => p.config.id));
  const podMembers: Record<string, string[]> = {};
  for (const p of pods) podMembers[p.config.name] = (await store.podContainersByID(p)).sort();
  const volumes = (await store.allVolumes()).sort(byKey((v) => v.config.name));
  const volumeUse: Record<string, string[]> = {};
  for (const v of volumes) volumeUse[v.config.name] = (await store.volumeInUse(v)).sort();
  const workspaces: Record<string, unknown> = {};
  for (const ns of NAMESPACES) {
    const ws = store.withNamespace(ns).workspaces;
    for (const info of await ws.list()) {
      workspaces[`${ns}/${info.name}`] = {
        info: await ws.get(info.name),
        state: await ws.readState(info.name),
        // The data keys travel with the copy: the same secrets key opens them there.
        shown: await ws.readState(info.name, { showSecrets: true }),
        history: await ws.history(info.name),
        export: await ws.exportState(info.name),
      };
    }
  }
  const snapshot = await store.snapshot();
  return {
    containers,
    perContainer,
    exitCodes,
    pods,
    podMembers,
    volumes,
    volumeUse,
    dbConfig: await store.getDBConfig(),
    workspaces,
    locks: await store.locks.list(),
    events: await store.events.list(),
    lastSeq: await store.events.lastSeq(),
    snapshot: { ...snapshot, workspaces: [...snapshot.workspaces].sort(byKey((w) => `${w.namespace}/${w.name}`)) },
  };
}

/** The secrets key every handle of these tests is opened with. */
const SECRETS_KEY = generateSecretsKey();

async function openSqlite(path: string): Promise<Store> {
  const store = await openStore({ path, secretsKey: SECRETS_KEY });
  onTestFinished(() => store.close());
  return store;
}

/** Runs the built CLI; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.BERTH_STORE;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describePg('postgres: copying a store between SQLite and PostgreSQL', (url) => {
  it('copyStoreTo: SQLite -> PostgreSQL -> SQLite keeps every object, workspace, lock and event identical', async () => {
    const source = await sqliteFactory.open({ secretsKey: SECRETS_KEY });
    const { stagingLock, ids } = await populate(source);
    const expected = await capture(source, ids);
    // The comparison covers real content, not empty lists.
    expect(Object.keys(expected.workspaces as object).sort()).toEqual([
      '/default',
      '/empty',
      '/secret',
      '/staging',
      'ns1/default',
    ]);
    expect((expected.locks as unknown[]).length).toBe(2);
    expect((expected.workspaces as Record<string, { history: unknown[] }>)['/staging']!.history).toHaveLength(3);

    const pgStore = await postgresFactory.open({ secretsKey: SECRETS_KEY });
    const pgTarget = postgresFactory.target(pgStore);
    const report = await copyStoreTo(sqliteFactory.target(source), pgTarget);
    expect(report.tables).toMatchObject({
      containers: { rows: 5 },
      pods: { rows: 1 },
      volumes: { rows: 2 },
      exec_sessions: { rows: 2 },
      exit_codes: { rows: 2 },
      locks: { rows: 2 },
      secret_keys: { rows: 1 },
      events: { rows: (expected.events as unknown[]).length },
    });
    expect(await capture(pgStore, ids)).toEqual(expected);

    // And back into a new SQLite file.
    const backPath = join(tempDir(), 'back.db');
    await copyStoreTo(pgTarget, { path: backPath });
    const back = await openSqlite(backPath);
    expect(await capture(back, ids)).toEqual(expected);

    // Copying into a store that is not empty is refused and changes nothing.
    await expectCode(copyStoreTo(sqliteFactory.target(source), pgTarget), 'INVALID_ARGUMENT');
    await expectCode(copyStoreTo(pgTarget, { path: backPath }), 'INVALID_ARGUMENT');
    await expectCode(copyStoreTo(pgTarget, pgTarget), 'INVALID_ARGUMENT');
    expect(await capture(pgStore, ids)).toEqual(expected);
    expect(await capture(back, ids)).toEqual(expected);

    // The copies go on: new events get higher seqs, and the copied lock still fences.
    const lastSeq = expected.lastSeq as number;
    for (const store of [pgStore, back]) {
      const written = await store.workspaces.writeState('staging', { after: 'copy' }, { lockId: stagingLock });
      expect(written.serial).toBe(4);
      await store.addContainer(ctr({ name: `new-on-${store.backend}` }));
      const fresh = await store.events.list({ since: lastSeq });
      expect(fresh.map((e) => e.type)).toEqual(['workspace.state.write', 'container.create']);
      expect(fresh[0]!.seq).toBeGreaterThan(lastSeq);
      expect(fresh[1]!.seq).toBeGreaterThan(fresh[0]!.seq);
      await store.workspaces.unlock('staging', stagingLock);
      await expectCode(store.locks.acquire('job:nightly', { operation: 'backup' }), 'LOCKED');
    }
  });

  it('berth migrate --to postgres://... and back, with the CLI; a non-empty target is refused', async () => {
    const source = await sqliteFactory.open({ secretsKey: SECRETS_KEY });
    const { ids } = await populate(source);
    const expected = await capture(source, ids);
    const pgStore = await postgresFactory.open({ secretsKey: SECRETS_KEY });
    const { schema } = pgTarget(pgStore);

    const there = await cli(['--store', source.location, 'migrate', '--to', url, '--to-schema', schema]);
    expect(there, there.stderr).toMatchObject({ code: 0 });
    expect(there.stdout).toContain('Copied and verified');
    expect(await capture(pgStore, ids)).toEqual(expected);

    const backPath = join(tempDir(), 'cli-back.db');
    const back = await cli(['--store', urlWithSchema(url, schema), '--format', 'json', 'migrate', '--to', backPath]);
    expect(back, back.stderr).toMatchObject({ code: 0 });
    const json = JSON.parse(back.stdout) as { copied: boolean; tables: Record<string, { rows: number }> };
    expect(json.copied).toBe(true);
    expect(json.tables.events!.rows).toBe((expected.events as unknown[]).length);
    expect(await capture(await openSqlite(backPath), ids)).toEqual(expected);

    const again = await cli([
      '--store',
      source.location,
      '--format',
      'json',
      'migrate',
      '--to',
      urlWithSchema(url, schema),
    ]);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr.trim().split('\n').pop()!)).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    expect(await capture(pgStore, ids)).toEqual(expected);
  });
});
