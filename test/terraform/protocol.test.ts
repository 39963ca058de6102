import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSecretsKey, type LockInfo } from '../../src/index.js';
import { requireBuiltCli } from '../cli/helpers.js';
import { expectJsonError, request, type Reply } from '../server/helpers.js';
import { terraformState as stateFile } from '../helpers/terraform-state.js';
import { jsonBody, lockInfo, startBackend, withLength, type Backend } from './backend.js';
import { fileDir, startBerthServe, type Serve } from './terraform.js';

/*
 * Terraform's http state backend, protocol by protocol (API.md "HTTP"): what the real
 * terraform binary cannot be made to send — bad bodies, wrong lock ids, digests that do not
 * match, oversized bodies, missing auth — each answered with its status and a JSON body,
 * never a 500. The real binary's own flows are in terraform.test.ts.
 */

const TOKEN = 'tf-token-5d0c';
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let main: Backend;
let counter = 0;
/** A workspace address of its own for each test (they run concurrently on one backend). */
const address = (): { name: string; path: string } => {
  const name = `ws-${++counter}`;
  return { name, path: `/v1/terraform/${name}` };
};

/** Asserts a 423 whose body is the holder's lock info (and berth's LOCKED error). */
function expectLocked(r: Reply, holder: LockInfo): void {
  expect(r.status, r.text).toBe(423);
  expect(r.json).toMatchObject({
    ID: holder.id,
    Operation: holder.operation,
    Who: holder.who,
    Info: holder.info,
    Version: holder.version,
    Created: holder.createdAt,
    error: { code: 'LOCKED' },
  });
}

beforeAll(async () => {
  main = await startBackend({ serve: { maxBodyBytes: 256 * 1024 } });
});

describe.concurrent('Terraform state backend: the protocol', () => {
  it('GET of an unknown workspace, or of one without state, is a JSON 404', async () => {
    const { name, path } = address();
    expectJsonError(await main.send(path), 404, 'NO_SUCH_WORKSPACE');
    await main.store.workspaces.create(name);
    const none = expectJsonError(await main.send(path), 404, 'NOT_FOUND');
    expect(none.message).toContain('no state');
  });

  it('a first POST creates the workspace; GET serves the state back; the write is a version in history', async () => {
    const { name, path } = address();
    const doc = stateFile('lin-1', 1);
    const r = await main.send(path, { method: 'POST', ...jsonBody(doc) });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ workspace: name, serial: 1 });
    const got = await main.send(path);
    expect(got.status).toBe(200);
    expect(String(got.headers['content-type'])).toMatch(/^application\/json/);
    expect(got.json).toEqual(doc);
    expect((await main.store.workspaces.history(name)).map((v) => [v.serial, v.who])).toEqual([[1, '127.0.0.1']]);
    // update_method = "PUT" works the same.
    expect((await main.send(path, { method: 'PUT', ...jsonBody(stateFile('lin-1', 2)) })).status).toBe(200);
    expect((await main.send(path)).json).toMatchObject({ serial: 2 });
  });

  it("LOCK creates the workspace and takes its lock with Terraform's lock info; the holder's ID again is 200", async () => {
    const { name, path } = address();
    const info = lockInfo('tf-lock-a', { Info: 'pipeline 42' });
    const r = await main.send(path, { method: 'LOCK', ...jsonBody(info) });
    expect(r.status, r.text).toBe(200);
    const lock = (await main.store.workspaces.get(name)).lock!;
    expect(lock).toMatchObject({
      key: `workspace:/${name}`,
      id: 'tf-lock-a',
      operation: 'OperationTypeApply',
      who: 'alice@laptop',
      info: 'pipeline 42',
      version: '1.11.4',
      pid: 0,
      host: '127.0.0.1',
      stale: false,
    });
    expect(lock.fencingToken).toBeGreaterThan(0);
    const listed = (await main.send('/v1/locks')).json as LockInfo[];
    expect(listed.find((l) => l.id === 'tf-lock-a')).toEqual(lock);
    expect((await main.send(path, { method: 'LOCK', ...jsonBody(info) })).status).toBe(200);
    expect((await main.store.workspaces.get(name)).lock).toEqual(lock);
  });

  it("LOCK of a held lock is 423 with the holder's lock info; POST without or with another id is 423 too", async () => {
    const { name, path } = address();
    await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo('holder-1')) });
    const holder = (await main.store.workspaces.get(name)).lock!;
    expectLocked(await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo('other-1')) }), holder);
    expectLocked(await main.send(path, { method: 'POST', ...jsonBody(stateFile('l', 1)) }), holder);
    expect((await main.store.workspaces.readState(name)).serial).toBe(0);
    const ok = await main.send(`${path}?ID=holder-1`, { method: 'POST', ...jsonBody(stateFile('l', 1)) });
    expect(ok.status, ok.text).toBe(200);
    expect((await main.store.workspaces.history(name))[0]).toMatchObject({
      who: 'alice@laptop',
      operation: 'OperationTypeApply',
    });
  });

  it('POST with a lock id that no longer holds the lock is 409 LOCK_LOST and writes nothing (fencing)', async () => {
    const { name, path } = address();
    await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo('zombie-1')) });
    await main.store.workspaces.forceUnlock(name, 'zombie-1');
    await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo('next-1')) });
    const r = await main.send(`${path}?ID=zombie-1`, { method: 'POST', ...jsonBody(stateFile('l', 1)) });
    expectJsonError(r, 409, 'LOCK_LOST');
    expect((await main.store.workspaces.readState(name)).serial).toBe(0);
    // Released and not taken again: still fenced.
    await main.send(path, { method: 'UNLOCK', ...jsonBody(lockInfo('next-1')) });
    expectJsonError(
      await main.send(`${path}?ID=next-1`, { method: 'POST', ...jsonBody(stateFile('l', 1)) }),
      409,
      'LOCK_LOST',
    );
  });

  it("UNLOCK with a wrong ID is 409 without the holder's id; with the right one 200; then 409 NOT_LOCKED", async () => {
    const { name, path } = address();
    await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo('secret-holder-id')) });
    const wrong = await main.send(path, { method: 'UNLOCK', ...jsonBody(lockInfo('guess')) });
    expectJsonError(wrong, 409, 'LOCK_ID_MISMATCH');
    expect(wrong.text).not.toContain('secret-holder-id');
    expect((await main.store.workspaces.get(name)).lock?.id).toBe('secret-holder-id');
    expect((await main.send(path, { method: 'UNLOCK', ...jsonBody(lockInfo('secret-holder-id')) })).status).toBe(200);
    expect((await main.store.workspaces.get(name)).lock).toBeUndefined();
    expectJsonError(
      await main.send(path, { method: 'UNLOCK', ...jsonBody(lockInfo('secret-holder-id')) }),
      409,
      'NOT_LOCKED',
    );
  });

  it('UNLOCK with an empty body (terraform force-unlock) breaks the lock and journals the client; none held is 409', async () => {
    const { name, path } = address();
    await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo('stuck-1')) });
    const since = await main.store.events.lastSeq();
    const r = await main.send(path, { method: 'UNLOCK', headers: { 'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==' } });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ ID: 'stuck-1', Who: 'alice@laptop' });
    expect((await main.store.workspaces.get(name)).lock).toBeUndefined();
    const events = await main.store.events.list({ since, types: ['lock.force_unlock'] });
    expect(events.map((e) => [e.subject.id, e.data.brokenBy, e.data.holder])).toEqual([
      ['stuck-1', '127.0.0.1', 'alice@laptop'],
    ]);
    expectJsonError(await main.send(path, { method: 'UNLOCK' }), 409, 'NOT_LOCKED');
  });

  it('GitLab-style: POST {address}/lock takes the lock, DELETE {address}/lock releases it', async () => {
    const { name, path } = address();
    expect((await main.send(`${path}/lock`, { method: 'POST', ...jsonBody(lockInfo('gl-1')) })).status).toBe(200);
    const holder = (await main.store.workspaces.get(name)).lock!;
    expectLocked(await main.send(`${path}/lock`, { method: 'POST', ...jsonBody(lockInfo('gl-2')) }), holder);
    expect((await main.send(`${path}?ID=gl-1`, { method: 'POST', ...jsonBody(stateFile('l', 1)) })).status).toBe(200);
    expect((await main.send(`${path}/lock`, { method: 'DELETE', ...jsonBody(lockInfo('gl-1')) })).status).toBe(200);
    expect((await main.store.workspaces.get(name)).lock).toBeUndefined();
    expect((await main.send(`${path}/lock`, { method: 'LOCK', ...jsonBody(lockInfo('gl-3')) })).status).toBe(200);
    expect((await main.send(`${path}/lock`, { method: 'UNLOCK', ...jsonBody(lockInfo('gl-3')) })).status).toBe(200);
  });

  it('compare-and-set: another lineage, a lower serial, or the same serial with other content is 409 naming both', async () => {
    const { name, path } = address();
    await main.send(path, { method: 'POST', ...jsonBody(stateFile('lin-a', 5)) });
    const lineage = expectJsonError(
      await main.send(path, { method: 'POST', ...jsonBody(stateFile('lin-b', 9)) }),
      409,
      'LINEAGE_MISMATCH',
    );
    expect(lineage.message).toMatch(/lin-a.*lin-b/);
    const lower = expectJsonError(
      await main.send(path, { method: 'POST', ...jsonBody(stateFile('lin-a', 4)) }),
      409,
      'STALE_SERIAL',
    );
    expect(lower.message).toMatch(/serial 5.*serial 4/);
    expectJsonError(
      await main.send(path, { method: 'POST', ...jsonBody(stateFile('lin-a', 5, { outputs: {} })) }),
      409,
      'STALE_SERIAL',
    );
    expect((await main.send(path)).json).toEqual(stateFile('lin-a', 5));
    expect((await main.store.workspaces.history(name)).length).toBe(1);
    // The same state again is no conflict, and writes nothing.
    expect((await main.send(path, { method: 'POST', ...jsonBody(stateFile('lin-a', 5)) })).status).toBe(200);
    expect((await main.store.workspaces.history(name)).length).toBe(1);
  });

  it('bad bodies are 400 and change nothing: not JSON, not a state, empty, bad lock info', async () => {
    const { name, path } = address();
    for (const body of ['{"version": 4,', '[]', JSON.stringify({ hello: 'world' }), '', '   ']) {
      const r = await main.send(path, { method: 'POST', body });
      expectJsonError(r, 400, 'INVALID_ARGUMENT');
    }
    for (const body of ['not json', '{}', '{"ID": ""}', '{"ID": 7}', '{"ID": "x", "Who": 3}', '[]', '']) {
      expectJsonError(await main.send(path, { method: 'LOCK', body }), 400, 'INVALID_ARGUMENT');
    }
    expectJsonError(await main.send(path, { method: 'UNLOCK', body: '{"nope": 1}' }), 400, 'INVALID_ARGUMENT');
    expect((await main.store.workspaces.list()).map((w) => w.name)).not.toContain(name);
  });

  it('a Content-MD5 that does not match the body is 400 and writes nothing; a malformed one too', async () => {
    const { name, path } = address();
    const good = jsonBody(stateFile('l', 1));
    const other = jsonBody(stateFile('l', 2));
    const mismatch = await main.send(path, { method: 'POST', body: good.body!, headers: other.headers! });
    expect(expectJsonError(mismatch, 400, 'BAD_REQUEST').message).toContain('Content-MD5');
    for (const md5 of ['nope', 'AAAA', `${other.headers!['content-md5']!}x`]) {
      const r = await main.send(path, { method: 'POST', body: good.body!, headers: { 'content-md5': md5 } });
      expectJsonError(r, 400, 'BAD_REQUEST');
    }
    const lock = jsonBody(lockInfo('md5-lock'));
    expectJsonError(
      await main.send(path, { method: 'LOCK', body: lock.body!, headers: other.headers! }),
      400,
      'BAD_REQUEST',
    );
    expect((await main.store.workspaces.list()).map((w) => w.name)).not.toContain(name);
    expect((await main.send(path, { method: 'POST', ...good })).status).toBe(200);
  });

  it('a body over --max-body is 413 (by Content-Length, and chunked), and nothing is written', async () => {
    const { name, path } = address();
    const big = stateFile('l', 1, { padding: 'x'.repeat(300 * 1024) });
    expectJsonError(await main.send(path, { method: 'POST', ...jsonBody(big) }), 413, 'BODY_TOO_LARGE');
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(`${main.url}${path}`, { method: 'POST', agent: false }, async (res) => {
        let text = '';
        for await (const chunk of res.setEncoding('utf8')) text += chunk as string;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: JSON.parse(text) as unknown });
      });
      req.on('error', reject);
      const body = JSON.stringify(big);
      for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.slice(i, i + 16 * 1024));
      req.end();
    });
    expectJsonError(chunked, 413, 'BODY_TOO_LARGE');
    expect((await main.store.workspaces.list()).map((w) => w.name)).not.toContain(name);
  });

  it('other methods are 405 with Allow; other paths 404; a bad workspace name 400', async () => {
    const { path } = address();
    const patch = await main.send(path, { method: 'PATCH', body: '{}' });
    expectJsonError(patch, 405, 'METHOD_NOT_ALLOWED');
    expect(patch.headers.allow).toBe('GET, POST, PUT, DELETE, LOCK, UNLOCK');
    expect((await main.send(`${path}/lock`, { method: 'GET' })).headers.allow).toBe('LOCK, POST, PUT, UNLOCK, DELETE');
    expectJsonError(await main.send('/v1/terraform'), 404, 'NOT_FOUND');
    expectJsonError(await main.send(`${path}/lock/more`), 404, 'NOT_FOUND');
    expectJsonError(await main.send('/v1/terraform/bad%20name'), 400, 'INVALID_NAME');
    expectJsonError(await main.send('/v1/terraform/%E0%A4%A'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await main.send('/v1/terraform/..'), 404, 'NOT_FOUND');
  });

  it('?namespace=NS keeps a workspace of that namespace; a bad namespace is 400', async () => {
    const { name, path } = address();
    await main.send(`${path}?namespace=team-a`, { method: 'POST', ...jsonBody(stateFile('team-a', 1)) });
    await main.send(path, { method: 'POST', ...jsonBody(stateFile('root', 1)) });
    expect((await main.send(`${path}?namespace=team-a`)).json).toMatchObject({ lineage: 'team-a' });
    expect((await main.send(path)).json).toMatchObject({ lineage: 'root' });
    const teamA = main.store.withNamespace('team-a');
    expect((await teamA.workspaces.get(name)).serial).toBe(1);
    // Put adds ?ID= to the address's own query.
    await main.send(`${path}?namespace=team-a`, { method: 'LOCK', ...jsonBody(lockInfo(`ns-${name}`)) });
    const put = await main.send(`${path}?namespace=team-a&ID=ns-${name}`, {
      method: 'POST',
      ...jsonBody(stateFile('team-a', 2)),
    });
    expect(put.status).toBe(200);
    expectJsonError(await main.send(`${path}?namespace=bad%20ns`), 400, 'INVALID_NAME');
  });

  it('DELETE empties the state (then GET is 404); of an unknown workspace 404; while locked 423', async () => {
    const { name, path } = address();
    expectJsonError(await main.send(path, { method: 'DELETE' }), 404, 'NO_SUCH_WORKSPACE');
    await main.send(path, { method: 'POST', ...jsonBody(stateFile('l', 3)) });
    await main.send(path, { method: 'LOCK', ...jsonBody(lockInfo(`del-${name}`)) });
    const holder = (await main.store.workspaces.get(name)).lock!;
    expectLocked(await main.send(path, { method: 'DELETE' }), holder);
    expect((await main.send(`${path}?ID=del-${name}`, { method: 'DELETE' })).status).toBe(200);
    expectJsonError(await main.send(path), 404, 'NOT_FOUND');
    expect((await main.store.workspaces.get(name)).isEmpty).toBe(true);
  });

  it("OpenTofu's encrypted state is stored and served as given", async () => {
    const { path } = address();
    const envelope = {
      meta: { 'key_provider.pbkdf2.k': 'eyJzYWx0Ijoi' },
      encrypted_data: 'q83vEg==',
      encryption_version: 'v0',
    };
    expect((await main.send(path, { method: 'POST', ...jsonBody(envelope) })).status).toBe(200);
    expect((await main.send(path)).json).toEqual(envelope);
  });
});

describe.concurrent('Terraform state backend: tokens, sealed state, leases', () => {
  let guarded: Backend;
  let open: Backend;
  let clock = Date.parse('2030-06-01T12:00:00.000Z');
  let leased: Backend;
  beforeAll(async () => {
    const secretsKey = generateSecretsKey();
    [guarded, open, leased] = await Promise.all([
      startBackend({ serve: { token: TOKEN }, store: { secretsKey } }),
      startBackend({ store: { secretsKey }, socket: true }),
      startBackend({ serve: { terraformLockTtlMs: 60_000 }, store: { clock: () => clock } }),
    ]);
  });

  it("without the token every request is a JSON 401; with it as basic auth's password Terraform's flow works", async () => {
    const path = '/v1/terraform/guarded';
    for (const authorization of [undefined, basic('ci', 'wrong'), 'Bearer nope']) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      for (const method of ['GET', 'POST', 'LOCK', 'UNLOCK']) {
        const r = await guarded.send(path, { method, headers, body: '{}' });
        expectJsonError(r, 401, 'UNAUTHORIZED');
        expect(r.headers['www-authenticate']).toMatch(/Basic realm="berth"/);
      }
    }
    const auth = { authorization: basic('ci', TOKEN) };
    const withAuth = (o: { body?: string | Buffer; headers?: Record<string, string> }) => ({
      body: o.body!,
      headers: { ...o.headers, ...auth },
    });
    const doc = stateFile('sealed-l', 1, {
      outputs: { pw: { value: 'hunter2-protocol', type: 'string', sensitive: true } },
    });
    expect((await guarded.send(path, { method: 'LOCK', ...withAuth(jsonBody(lockInfo('g-1'))) })).status).toBe(200);
    expect((await guarded.send(`${path}?ID=g-1`, { method: 'POST', ...withAuth(jsonBody(doc)) })).status).toBe(200);
    expect((await guarded.send(path, { headers: auth })).json).toEqual(doc);
    expect(JSON.stringify((await guarded.store.workspaces.readState('guarded')).state)).not.toContain('hunter2');
    const since = await guarded.store.events.lastSeq();
    expect((await guarded.send(path, { method: 'UNLOCK', headers: auth })).status).toBe(200);
    const [broken] = await guarded.store.events.list({ since, types: ['lock.force_unlock'] });
    expect(broken?.data.brokenBy).toBe('ci@127.0.0.1');
  });

  it('a sealed state is served decrypted only to authenticated clients: not over open TCP, yes over the unix socket', async () => {
    const path = '/v1/terraform/sealed';
    const doc = stateFile('l', 1, { outputs: { pw: { value: 'hunter2-open', type: 'string' } } });
    expect((await open.send(path, { method: 'POST', ...jsonBody(doc) })).status).toBe(200);
    const refused = await open.send(path);
    expect(expectJsonError(refused, 401, 'UNAUTHORIZED').message).toMatch(/encrypted.*token/);
    expect(refused.text).not.toContain('hunter2-open');
    const viaSocket = await request(open.socketUrl!, path);
    expect(viaSocket.status).toBe(200);
    expect(viaSocket.json).toEqual(doc);
  });

  it('with --terraform-lock-ttl a lock goes stale after the lease without a state write; each write renews it', async () => {
    const path = '/v1/terraform/leased';
    await leased.send(path, { method: 'LOCK', ...jsonBody(lockInfo('lease-1')) });
    const lock = async () => ((await leased.send('/v1/locks')).json as LockInfo[]).find((l) => l.id === 'lease-1')!;
    expect(await lock()).toMatchObject({ stale: false, expiresAt: new Date(clock + 60_000).toISOString() });
    clock += 50_000;
    expect((await leased.send(`${path}?ID=lease-1`, { method: 'POST', ...jsonBody(stateFile('l', 1)) })).status).toBe(
      200,
    );
    clock += 50_000;
    expect((await lock()).stale).toBe(false);
    clock += 20_000;
    expect(await lock()).toMatchObject({ stale: true, staleReason: 'lease expired' });
    // Stale, it still blocks: broken only on request.
    expect((await leased.send(path, { method: 'LOCK', ...jsonBody(lockInfo('lease-2')) })).status).toBe(423);
  });
});

describe.concurrent('berth serve --terraform-lock-ttl', () => {
  requireBuiltCli();
  const root = fileDir('berth-tf-ttl-');
  let serve: Serve;
  beforeAll(async () => {
    serve = await startBerthServe(root, ['--terraform-lock-ttl', '2s']);
  });

  it('a malformed or sub-second lease is a usage error (exit 2)', async () => {
    for (const value of ['soon', '500ms', '-1s']) {
      const r = await serve.berth(['serve', '--listen', '127.0.0.1:0', '--terraform-lock-ttl', value]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('--terraform-lock-ttl');
    }
  });

  it('gives the locks Terraform takes a lease: berth state locks shows one stale once it passed without a write', async () => {
    const lock = await request(
      serve.url,
      '/v1/terraform/leased',
      withLength({ method: 'LOCK', ...jsonBody(lockInfo('ttl-1')) }),
    );
    expect(lock.status, lock.text).toBe(200);
    const [held] = (await request(serve.url, '/v1/locks')).json as LockInfo[];
    expect(held).toMatchObject({ id: 'ttl-1', expiresAt: expect.any(String) });
    expect(Date.parse(held!.expiresAt!) - Date.parse(held!.createdAt)).toBe(2000);
    // Live until its lease ends (a machine slow enough to answer after that sees it stale).
    if (Date.now() < Date.parse(held!.expiresAt!)) expect(held!.stale).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(held!.expiresAt!) - Date.now()) + 50));
    const { locks } = JSON.parse((await serve.berth(['state', 'locks', '--format', 'json'])).stdout) as {
      locks: LockInfo[];
    };
    expect(locks[0]).toMatchObject({ id: 'ttl-1', stale: true, staleReason: 'lease expired' });
    expect((await serve.berth(['state', 'locks'])).stdout).toMatch(/ttl-1 .*stale: lease expired/);
  });
});
