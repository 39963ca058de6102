import { createCipheriv, createHmac } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  generateSecretsKey,
  isBerthError,
  loadManifest,
  type Store,
  type ErrorCode,
  type StateExport,
} from '../../src/index.js';
import { parseSecretsKey, unwrapDataKey } from '../../src/engine/secrets/crypto.js';
import { canonical, sha256 } from '../helpers/canonical-json.js';
import type { StoreFactory } from '../helpers/store-factory.js';

/*
 * Secret values (issue 8): `{ "$secret": v }` in a state document and `{ secret: v }` env
 * entries of a manifest are stored encrypted under a per-workspace data key wrapped by
 * the operator's secrets key; they are decrypted only for a caller that asks; a missing
 * or wrong key is an error that changes nothing. Run on every backend.
 */

const PASSWORD = 'hunter2-Pa55w0rd-unique-8c1f';
const TOKEN = 'tok_live_4f9a0c7e-unique';

type RawQuery = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * Runs `fn` with SQL on the store's database over a connection of its own (`?`
 * placeholders on both backends): to see what the store holds, and to write what an
 * earlier berth would have written.
 */
async function withRawDb<T>(factory: StoreFactory, store: Store, fn: (query: RawQuery) => Promise<T>): Promise<T> {
  const target = factory.target(store);
  if (target.path) {
    const db = new Database(target.path);
    try {
      return await fn(async (sql, params = []) => {
        const stmt = db.prepare(sql);
        if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[];
        stmt.run(...params);
        return [];
      });
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${target.schema}"`);
    return await fn(async (sql, params = []) => {
      let n = 0;
      return (
        await client.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows as Record<string, unknown>[];
    });
  } finally {
    await client.end();
  }
}

/** Everything the store holds, as text: every row of every table (and, for SQLite, the file's bytes). */
async function storedText(factory: StoreFactory, store: Store): Promise<string> {
  const target = factory.target(store);
  const tables = target.path
    ? "SELECT name AS table_name FROM sqlite_master WHERE type = 'table'"
    : 'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()';
  const rows = await withRawDb(factory, store, async (query) => {
    const out: string[] = [];
    for (const t of await query(tables))
      out.push(JSON.stringify(await query(`SELECT * FROM "${String(t.table_name)}"`)));
    return out.join('\n');
  });
  const files = target.path
    ? [target.path, `${target.path}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'))
    : [];
  return rows + files.join('\n');
}

/** A workspace's data key, unwrapped from the store's rows with the secrets key. */
async function dataKeyOf(
  factory: StoreFactory,
  store: Store,
  secretsKey: string,
): Promise<{ id: string; key: Buffer }> {
  const [row] = await withRawDb(factory, store, (query) => query('SELECT id, wrapped FROM secret_keys'));
  const id = String(row!.id);
  return { id, key: unwrapDataKey(parseSecretsKey(secretsKey, 'the test'), id, String(row!.wrapped))! };
}

/**
 * A value encrypted the way berth's first ciphertext format (v1) did, written out here
 * because berth no longer writes it: AES-256-GCM under an HMAC subkey of the data key,
 * with a synthetic IV (an HMAC of the value).
 */
function encryptV1(dk: { id: string; key: Buffer }, value: unknown): string {
  const subkey = (purpose: string) => createHmac('sha256', dk.key).update(`berth:${purpose}:v1`).digest();
  const plain = Buffer.from(canonical(value), 'utf8');
  const aad = Buffer.from(`berth:secret:v1:${dk.id}`);
  const iv = createHmac('sha256', subkey('iv')).update(aad).update(plain).digest().subarray(0, 12);
  const cipher = createCipheriv('aes-256-gcm', subkey('enc'), iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return `berth:secret:v1:${dk.id}:${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
}

async function expectCode(work: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBerthError(err), `expected ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return err as Error;
}

const secretDoc = () => ({
  app: 'shop',
  db: { user: 'admin', password: { $secret: PASSWORD } },
  tokens: [{ $secret: { id: 7, token: TOKEN } }, 'plain'],
});

export function secretsSuite(factory: StoreFactory): void {
  const open = (key?: string) => factory.open(key === undefined ? {} : { secretsKey: key });

  describe(`secrets (${factory.backend})`, () => {
    it('stores { $secret } values encrypted, returns them encrypted, and decrypts them only on request', async () => {
      const key = generateSecretsKey();
      const store = await open(key);
      const written = await store.workspaces.writeState('default', secretDoc());
      const read = await store.workspaces.readState('default');
      expect(read.state).toEqual(written.state);
      const state = read.state as { db: { password: Record<string, string> }; tokens: unknown[] };
      expect(Object.keys(state.db.password)).toEqual(['$encrypted']);
      expect(state.db.password.$encrypted).toMatch(/^berth:secret:v2:[0-9a-f]{16}:[A-Za-z0-9_-]+$/);
      expect(state.tokens[1]).toBe('plain');
      expect(JSON.stringify(read)).not.toContain(PASSWORD);

      const shown = await store.workspaces.readState('default', { showSecrets: true });
      expect(shown.state).toEqual(secretDoc());
      expect(shown.serial).toBe(read.serial);

      const raw = await storedText(factory, store);
      expect(raw).not.toContain(PASSWORD);
      expect(raw).not.toContain(TOKEN);
      expect(raw).not.toContain(Buffer.from(key, 'base64').toString('latin1'));
      expect(raw).not.toContain(key);
    });

    it('equal secrets encrypt to equal text, so rewriting a state keeps its checksum', async () => {
      const store = await open(generateSecretsKey());
      const a = await store.workspaces.writeState('default', secretDoc());
      const b = await store.workspaces.writeState('default', secretDoc());
      expect(b.serial).toBe(a.serial + 1);
      expect(b.checksum).toBe(a.checksum);
      const other = await store.workspaces.writeState('default', { ...secretDoc(), app: 'other' });
      expect(other.checksum).not.toBe(a.checksum);
    });

    it('v1 ciphertext of an earlier berth reads as before; a write with the key rewrites it as v2, one without keeps it', async () => {
      const key = generateSecretsKey();
      const store = await open(key);
      await store.workspaces.writeState('default', { seed: { $secret: 'seed' } });
      const dk = await dataKeyOf(factory, store, key);
      const v1 = encryptV1(dk, PASSWORD);
      const old = { app: 'shop', db: { password: { $encrypted: v1 } } };
      // What an earlier berth stored: the document with v1 ciphertext, as the current state.
      await withRawDb(factory, store, (query) =>
        query("UPDATE workspaces SET state_json = ?, checksum = ? WHERE namespace = '' AND name = 'default'", [
          canonical(old),
          sha256(canonical(old)),
        ]),
      );
      const plain = { app: 'shop', db: { password: { $secret: PASSWORD } } };
      expect((await store.workspaces.readState('default')).state).toEqual(old);
      expect((await store.workspaces.readState('default', { showSecrets: true })).state).toEqual(plain);
      expect(await store.secrets.reveal(old)).toEqual(plain);
      expect((await store.workspaces.exportState('default', { showSecrets: true })).state).toEqual(plain);

      // Without the key it is written back as it is, and only as the workspace holds it.
      const keyless = await factory.reopen(store, {});
      const kept = await keyless.workspaces.writeState('default', { ...old, app: 'renamed' });
      expect(kept.state).toEqual({ ...old, app: 'renamed' });
      const forged = v1.slice(0, -2) + (v1.endsWith('AA') ? 'BB' : 'AA');
      await expectCode(keyless.workspaces.writeState('default', { p: { $encrypted: forged } }), 'SECRETS_KEY_MISSING');
      await expectCode(store.workspaces.writeState('default', { p: { $encrypted: forged } }), 'SECRET_UNREADABLE');

      // With the key, the next write of the document stores it as v2: same secret, and
      // from then on the same checksum on every rewrite.
      const upgraded = await store.workspaces.writeState('default', old);
      const text = (upgraded.state as typeof old).db.password.$encrypted;
      expect(text).toMatch(/^berth:secret:v2:/);
      expect(text.split(':')[3]).toBe(dk.id);
      expect((await store.workspaces.readState('default')).state).toEqual(upgraded.state);
      expect((await store.workspaces.readState('default', { showSecrets: true })).state).toEqual(plain);
      const again = await store.workspaces.writeState('default', upgraded.state);
      expect(again.checksum).toBe(upgraded.checksum);
      expect(JSON.stringify(await store.workspaces.readState('default'))).not.toContain('berth:secret:v1:');
      // v1 ciphertext brought by an import is rewritten the same way.
      await store.workspaces.create('copy');
      const imported = await store.workspaces.importState('copy', {
        ...(await store.workspaces.exportState('default')),
        state: old,
        checksum: sha256(canonical(old)),
      });
      expect(JSON.stringify(imported.state)).toMatch(/berth:secret:v2:/);
      expect((await store.workspaces.readState('copy', { showSecrets: true })).state).toEqual(plain);
      expect(await storedText(factory, store)).not.toContain(PASSWORD);
    });

    it('without a key, a write with a secret is SECRETS_KEY_MISSING and changes nothing', async () => {
      const store = await open();
      await store.workspaces.writeState('default', { plain: true });
      const before = await store.workspaces.readState('default');
      const err = await expectCode(store.workspaces.writeState('default', secretDoc()), 'SECRETS_KEY_MISSING');
      expect(err.message).toMatch(/BERTH_SECRETS_KEY/);
      expect(err.message).toMatch(/berth secrets keygen/);
      expect(await store.workspaces.readState('default')).toEqual(before);
      expect((await store.secrets.status()).dataKeys).toBe(0);
    });

    it('a wrong key cannot read or add secrets, names both fingerprints, and changes nothing', async () => {
      const store = await open(generateSecretsKey());
      await store.workspaces.writeState('default', secretDoc());
      const before = await store.workspaces.readState('default');
      const wrong = await factory.reopen(store, { secretsKey: generateSecretsKey() });
      const read = await expectCode(
        wrong.workspaces.readState('default', { showSecrets: true }),
        'SECRETS_KEY_MISMATCH',
      );
      const { fingerprint, expected } = (read as unknown as { details: Record<string, string> }).details;
      expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(expected).toMatch(/^[0-9a-f]{16}$/);
      expect(fingerprint).not.toBe(expected);
      expect(read.message).toContain(expected!);
      await expectCode(wrong.workspaces.writeState('default', { x: { $secret: 'new' } }), 'SECRETS_KEY_MISMATCH');
      // Another workspace's first secret under a second key would split the store: refused too.
      await wrong.workspaces.create('other');
      await expectCode(wrong.workspaces.writeState('other', { x: { $secret: 'new' } }), 'SECRETS_KEY_MISMATCH');
      expect(await store.workspaces.readState('default')).toEqual(before);
      expect((await store.workspaces.readState('other')).serial).toBe(0);
      expect((await store.secrets.status()).dataKeys).toBe(1);
      // Reading the encrypted form needs no key at all.
      expect((await wrong.workspaces.readState('default')).state).toEqual(before.state);
    });

    it('a document read without its secrets can be changed and written back without the key', async () => {
      const key = generateSecretsKey();
      const store = await open(key);
      await store.workspaces.writeState('default', secretDoc());
      const keyless = await factory.reopen(store, {});
      const current = await keyless.workspaces.readState('default');
      await keyless.workspaces.writeState('default', { ...(current.state as object), app: 'renamed' });
      const shown = await store.workspaces.readState('default', { showSecrets: true });
      expect(shown.state).toEqual({ ...secretDoc(), app: 'renamed' });

      // But ciphertext the workspace never held cannot be checked without the key: refused.
      const before = await keyless.workspaces.readState('default');
      const text = JSON.stringify(before.state);
      const enc = /berth:secret:v2:[0-9a-f]{16}:([A-Za-z0-9_-]+)/.exec(text)![0];
      const altered = enc.slice(0, -2) + (enc.endsWith('AA') ? 'BB' : 'AA');
      const forged = JSON.parse(text.replace(enc, altered)) as object;
      await expectCode(keyless.workspaces.writeState('default', forged), 'SECRETS_KEY_MISSING');
      // Nor a piece of one it holds.
      const cut = JSON.parse(text.replace(enc, enc.slice(0, -4))) as object;
      await expectCode(keyless.workspaces.writeState('default', cut), 'SECRETS_KEY_MISSING');
      expect(await store.workspaces.readState('default')).toEqual(before);
    });

    it('malformed markers are INVALID_ARGUMENT; altered or foreign ciphertext is SECRET_UNREADABLE; nothing changes', async () => {
      const store = await open(generateSecretsKey());
      await store.workspaces.writeState('default', secretDoc());
      const before = await store.workspaces.readState('default');
      const enc = (before.state as { db: { password: { $encrypted: string } } }).db.password.$encrypted;
      const bad: [unknown, ErrorCode][] = [
        [{ a: { $secret: 'x', other: 1 } }, 'INVALID_ARGUMENT'],
        [{ a: { $encrypted: 'not ciphertext' } }, 'INVALID_ARGUMENT'],
        [{ a: { $encrypted: 42 } }, 'INVALID_ARGUMENT'],
        [{ a: { $encrypted: enc.slice(0, -4) + (enc.endsWith('AAAA') ? 'BBBB' : 'AAAA') } }, 'SECRET_UNREADABLE'],
        [{ a: { $encrypted: enc.replace(/v2:[0-9a-f]{16}:/, 'v2:0123456789abcdef:') } }, 'SECRET_UNREADABLE'],
      ];
      for (const [doc, code] of bad) {
        const err = await expectCode(store.workspaces.writeState('default', doc), code);
        expect(err.message).not.toContain(PASSWORD);
      }
      expect(await store.workspaces.readState('default')).toEqual(before);
    });

    it('history and rollback keep secrets encrypted; rollback restores them', async () => {
      const store = await open(generateSecretsKey());
      const first = await store.workspaces.writeState('default', secretDoc());
      await store.workspaces.writeState('default', { gone: true });
      const back = await store.workspaces.rollback('default', first.serial);
      expect(back.checksum).toBe(first.checksum);
      expect((await store.workspaces.readState('default', { showSecrets: true })).state).toEqual(secretDoc());
      expect(JSON.stringify(await store.workspaces.history('default'))).not.toContain(PASSWORD);
    });

    it('events never carry a secret', async () => {
      const store = await open(generateSecretsKey());
      await store.workspaces.writeState('default', secretDoc());
      await store.workspaces.rollback('default', 1);
      const envelope = await store.workspaces.exportState('default', { showSecrets: true });
      await store.workspaces.create('copy');
      await store.workspaces.importState('copy', envelope);
      const events = JSON.stringify(await store.events.list());
      expect(events).toContain('workspace.state.import');
      expect(events).not.toContain(PASSWORD);
      expect(events).not.toContain(TOKEN);
    });

    it('an export keeps secrets encrypted with their wrapped data key; it imports into any store with the same key', async () => {
      const key = generateSecretsKey();
      const store = await open(key);
      await store.workspaces.writeState('default', secretDoc());
      const envelope = await store.workspaces.exportState('default');
      expect(JSON.stringify(envelope)).not.toContain(PASSWORD);
      expect(Object.keys(envelope.secretsKeys ?? {})).toHaveLength(1);

      // Another workspace of the same store: re-encrypted with that workspace's own data key.
      await store.workspaces.create('copy');
      await store.workspaces.importState('copy', envelope);
      const copied = await store.workspaces.readState('copy');
      const idOf = (s: unknown) => JSON.stringify(s).match(/berth:secret:v2:([0-9a-f]{16})/)![1];
      expect(idOf(copied.state)).not.toBe(idOf(envelope.state));
      expect((await store.workspaces.readState('copy', { showSecrets: true })).state).toEqual(secretDoc());

      // Another store with the same secrets key: the carried key opens it.
      const second = await open(key);
      await second.workspaces.importState('default', envelope);
      expect((await second.workspaces.readState('default', { showSecrets: true })).state).toEqual(secretDoc());

      // Another store with another key: refused, nothing written.
      const foreign = await open(generateSecretsKey());
      await expectCode(foreign.workspaces.importState('default', envelope), 'SECRETS_KEY_MISMATCH');
      expect((await foreign.workspaces.readState('default')).serial).toBe(0);
      // Without the carried keys, the ciphertext is unreadable.
      const { secretsKeys: _dropped, ...bare } = envelope;
      await expectCode(foreign.workspaces.importState('default', bare as StateExport), 'SECRET_UNREADABLE');
      expect((await foreign.workspaces.readState('default')).serial).toBe(0);
    });

    it('an export with shown secrets is checksummed as shown and imports into a store with another key', async () => {
      const store = await open(generateSecretsKey());
      await store.workspaces.writeState('default', secretDoc());
      const shown = await store.workspaces.exportState('default', { showSecrets: true });
      expect(shown.state).toEqual(secretDoc());
      expect(shown.secretsKeys).toBeUndefined();
      const other = await open(generateSecretsKey());
      await other.workspaces.importState('default', shown);
      expect((await other.workspaces.readState('default', { showSecrets: true })).state).toEqual(secretDoc());
      expect(await storedText(factory, other)).not.toContain(PASSWORD);
      // Into a store without a key it is SECRETS_KEY_MISSING, and nothing is written.
      const keyless = await open();
      await expectCode(keyless.workspaces.importState('default', shown), 'SECRETS_KEY_MISSING');
      expect((await keyless.workspaces.readState('default')).serial).toBe(0);
    });

    it('rotating the secrets key re-wraps every data key; the old key stops working, values and checksums stay', async () => {
      const oldKey = generateSecretsKey();
      const newKey = generateSecretsKey();
      const store = await open(oldKey);
      await store.workspaces.writeState('default', secretDoc());
      await store.workspaces.create('two');
      const two = await store.workspaces.writeState('two', { k: { $secret: 2 } });
      const before = await store.workspaces.readState('default');

      // With a wrong current key, rotation changes nothing.
      const wrong = await factory.reopen(store, { secretsKey: generateSecretsKey() });
      await expectCode(wrong.secrets.rotateKey(newKey), 'SECRETS_KEY_MISMATCH');
      await expectCode(store.secrets.rotateKey('short'), 'SECRETS_KEY_INVALID');
      // A missing new key is an error, never the current key from the environment.
      await expectCode(store.secrets.rotateKey(undefined as unknown as string), 'SECRETS_KEY_INVALID');
      expect((await store.secrets.status()).wrappedWith).toHaveLength(1);

      const result = await store.secrets.rotateKey(newKey);
      expect(result.rewrapped).toBe(2);
      const status = await store.secrets.status();
      expect(status.fingerprint).toBe(result.fingerprint);
      expect(status.wrappedWith).toEqual([result.fingerprint]);
      // This handle goes on with the new key; the states did not change.
      expect((await store.workspaces.readState('default', { showSecrets: true })).state).toEqual(secretDoc());
      expect(await store.workspaces.readState('default')).toEqual(before);
      expect((await store.workspaces.readState('two')).checksum).toBe(two.checksum);

      const stale = await factory.reopen(store, { secretsKey: oldKey });
      await expectCode(stale.workspaces.readState('two', { showSecrets: true }), 'SECRETS_KEY_MISMATCH');
      const fresh = await factory.reopen(store, { secretsKey: newKey });
      expect((await fresh.workspaces.readState('two', { showSecrets: true })).state).toEqual({ k: { $secret: 2 } });
      const rotate = (await store.events.list({ types: ['secrets.rotate'] }))[0];
      expect(rotate?.data).toMatchObject({ dataKeys: 2, to: result.fingerprint });
    });

    it('a workspace deleted and created again gets a new data key', async () => {
      const store = await open(generateSecretsKey());
      await store.workspaces.create('w');
      const a = await store.workspaces.writeState('w', { s: { $secret: 1 } });
      await store.workspaces.delete('w', { force: true });
      await store.workspaces.create('w');
      const b = await store.workspaces.writeState('w', { s: { $secret: 1 } });
      expect(b.checksum).not.toBe(a.checksum);
      expect((await store.secrets.status()).dataKeys).toBe(2);
    });

    it("a handle confined to a namespace cannot open another namespace's secrets", async () => {
      const key = generateSecretsKey();
      const store = await open(key);
      const a = store.withNamespace('a');
      const written = await a.workspaces.writeState('default', { p: { $secret: PASSWORD } });
      const ct = (written.state as { p: { $encrypted: string } }).p.$encrypted;
      const b = await factory.reopen(store, { namespace: 'b', secretsKey: key });
      await expectCode(b.secrets.reveal({ X: ct }), 'SECRET_UNREADABLE');
      await expectCode(b.workspaces.writeState('default', { p: { $encrypted: ct } }), 'SECRET_UNREADABLE');
      expect((await b.workspaces.readState('default')).serial).toBe(0);
      // The unconfined handle opens every namespace's secrets.
      expect(await store.secrets.reveal({ X: ct })).toEqual({ X: PASSWORD });
    });

    it('reveal of a value JSON cannot carry is INVALID_ARGUMENT', async () => {
      const store = await open(generateSecretsKey());
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await expectCode(store.secrets.reveal({ n: 10n }), 'INVALID_ARGUMENT');
      await expectCode(store.secrets.reveal(circular), 'INVALID_ARGUMENT');
    });

    it('bad keys are SECRETS_KEY_INVALID when the store is opened', async () => {
      for (const secretsKey of ['', 'short', 'x'.repeat(44), 'ab'.repeat(31)]) {
        await expectCode(open(secretsKey), 'SECRETS_KEY_INVALID');
      }
      await expectCode(factory.open({ secretsKey: Buffer.alloc(16) }), 'SECRETS_KEY_INVALID');
      await expectCode(factory.open({ secretsKeyFile: '/nonexistent/berth.key' }), 'SECRETS_KEY_INVALID');
    });

    describe('manifest env secrets', () => {
      const text = (password: string) => `
version: 1
containers:
  api:
    image: shop/api:1
    env:
      LOG: debug
      DB_PASSWORD:
        secret: ${password}
`;

      it('apply stores the env value encrypted; reveal decrypts it; planning again changes nothing', async () => {
        const store = await open(generateSecretsKey());
        const plan = await store.plan('default', loadManifest(text(PASSWORD)));
        expect(JSON.stringify(plan)).not.toContain(PASSWORD);
        await store.apply(plan);
        const [ctr] = await store.allContainers();
        expect(ctr!.config.env!.LOG).toBe('debug');
        expect(ctr!.config.env!.DB_PASSWORD).toMatch(/^berth:secret:v2:/);
        expect(await store.secrets.reveal(ctr!.config.env)).toEqual({ LOG: 'debug', DB_PASSWORD: PASSWORD });
        expect(await storedText(factory, store)).not.toContain(PASSWORD);

        const again = await store.plan('default', loadManifest(text(PASSWORD)));
        expect(again.changes.map((c) => c.effective)).toEqual(['noop']);
        const changed = await store.plan('default', loadManifest(text('another-password')));
        expect(changed.changes.map((c) => [c.effective, c.fields])).toEqual([['replace', ['env']]]);
        expect(JSON.stringify(changed)).not.toContain('another-password');
      });

      it('containers holding v1 env secrets of an earlier berth: planning the same manifest changes nothing', async () => {
        const key = generateSecretsKey();
        const store = await open(key);
        await store.apply(await store.plan('default', loadManifest(text(PASSWORD))));
        // Make the stack what an earlier berth left: the container's env and the stack
        // state's record of it hold v1 ciphertext.
        const v1 = encryptV1(await dataKeyOf(factory, store, key), PASSWORD);
        const [ctr] = await store.allContainers();
        const v2 = ctr!.config.env!.DB_PASSWORD!;
        await store.rewriteContainerConfig(ctr!, { ...ctr!.config, env: { ...ctr!.config.env, DB_PASSWORD: v1 } });
        const stack = (await store.workspaces.readState('default')).state as {
          objects: Record<string, { digest: string; spec: { env: Record<string, string> } }>;
        };
        const recorded = stack.objects['container/api']!;
        recorded.spec.env.DB_PASSWORD = v1;
        recorded.digest = sha256(canonical(recorded.spec));
        await store.workspaces.writeState('default', stack);
        expect(JSON.stringify((await store.workspaces.readState('default')).state)).toContain(v1);

        const again = await store.plan('default', loadManifest(text(PASSWORD)));
        expect(again.changes.map((c) => [c.key, c.effective])).toEqual([['container/api', 'noop']]);
        expect(again.drift).toEqual([]);
        expect(JSON.stringify(again)).toContain(v1);
        expect(JSON.stringify(again)).not.toContain(v2);
        await store.apply(again);
        expect((await store.allContainers())[0]!.config.env!.DB_PASSWORD).toBe(v1);
        expect(await store.secrets.reveal((await store.allContainers())[0]!.config.env)).toEqual({
          LOG: 'debug',
          DB_PASSWORD: PASSWORD,
        });
        // Another value is still a replace, encrypted as v2.
        const changed = await store.plan('default', loadManifest(text('another-password')));
        expect(changed.changes.map((c) => [c.effective, c.fields])).toEqual([['replace', ['env']]]);
        expect(JSON.stringify(changed)).toMatch(/berth:secret:v2:/);
      });

      it('a stack state shown with its secrets keeps env secrets encrypted, so re-importing it stores no plain text', async () => {
        const store = await open(generateSecretsKey());
        await store.apply(await store.plan('default', loadManifest(text(PASSWORD))));
        const shown = await store.workspaces.exportState('default', { showSecrets: true });
        expect(JSON.stringify(shown)).not.toContain(PASSWORD);
        await store.workspaces.create('copy');
        await store.workspaces.importState('copy', shown);
        expect(await storedText(factory, store)).not.toContain(PASSWORD);
      });

      it('a stack state moves to another store with the same key, its env secrets still readable there', async () => {
        const key = generateSecretsKey();
        const store = await open(key);
        await store.apply(await store.plan('default', loadManifest(text(PASSWORD))));
        for (const showSecrets of [false, true]) {
          const envelope = await store.workspaces.exportState('default', { showSecrets });
          expect(JSON.stringify(envelope)).not.toContain(PASSWORD);
          const other = await open(key);
          await other.workspaces.importState('default', envelope);
          const state = (await other.workspaces.readState('default')).state;
          expect(JSON.stringify(await other.secrets.reveal(state))).toContain(PASSWORD);
          expect(await storedText(factory, other)).not.toContain(PASSWORD);
        }
      });

      it('a numeric secret is MANIFEST_INVALID without the value in the message', () => {
        const err = (() => {
          try {
            loadManifest('version: 1\ncontainers:\n  api:\n    env:\n      PIN:\n        secret: 98127634\n');
          } catch (e) {
            return e as Error & { code: string };
          }
          throw new Error('accepted');
        })();
        expect(err.code).toBe('MANIFEST_INVALID');
        expect(err.message).toMatch(/PIN\.secret must be a string/);
        expect(JSON.stringify(err)).not.toContain('98127634');
        expect(err.message).not.toContain('98127634');
      });

      it('planning secrets without a key is SECRETS_KEY_MISSING', async () => {
        const store = await open();
        await expectCode(store.plan('default', loadManifest(text(PASSWORD))), 'SECRETS_KEY_MISSING');
        expect(await store.allContainers()).toEqual([]);
      });
    });
  });
}
