import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { isBerthError, openStore } from '../../src/index.js';
import { loadMigrations } from '../../src/db/migrations.js';
import { ctr, expectCode } from '../conformance/builders.js';
import { postgresFactory } from '../helpers/store-factory.js';
import {
  describePg,
  freshSchema,
  LineWorker,
  pgTarget,
  schemaExists,
  sleep,
  waitForListener,
  withClient,
  urlWithSchema,
} from './helpers.js';

/*
 * PostgreSQL schema handling (issue: "Migrations for PostgreSQL ... applied under a
 * PostgreSQL advisory lock, with the same bookkeeping, checksum and SCHEMA_TOO_NEW rules.
 * A schema option lets several berth stores share one database"), and connection
 * failures reported as BerthErrors.
 */

const OBJECTS_WORKER = fileURLToPath(new URL('../multiprocess/workers/objects-worker.ts', import.meta.url));
const KNOWN = loadMigrations('postgres');

/** Every table of a schema with all its rows, in a stable order: "untouched" means equal. */
async function dumpSchema(url: string, schema: string): Promise<Record<string, unknown[]>> {
  return withClient(url, async (c) => {
    const tables = await c.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
      [schema],
    );
    const out: Record<string, unknown[]> = {};
    for (const { table_name: t } of tables.rows) {
      const rows = await c.query(`SELECT * FROM "${schema}"."${t}"`);
      out[t] = rows.rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  });
}

async function appliedMigrations(url: string, schema: string): Promise<{ version: number; checksum: string }[]> {
  return withClient(url, async (c) => {
    const r = await c.query<{ version: number; checksum: string }>(
      `SELECT version, checksum FROM "${schema}".berth_migrations ORDER BY version`,
    );
    return r.rows;
  });
}

/** A fresh schema migrated by one open (and closed again). */
async function migratedSchema(url: string): Promise<string> {
  const schema = freshSchema(url);
  const store = await openStore({ url, schema });
  await store.close();
  return schema;
}

describePg('postgres: migrations and schemas', (url) => {
  it('lets 3 processes open a brand-new schema at once: one migrates under the advisory lock, all work', async () => {
    const schema = freshSchema(url);
    const target = JSON.stringify({ url, schema });
    // They open the store at once: the first migrates it, the others wait on the advisory lock.
    const workers = [0, 1, 2].map((i) => new LineWorker(OBJECTS_WORKER, ['churn', target, String(i), '4']));
    await Promise.all(workers.map((w) => w.next((m) => m.ready === true)));
    for (const w of workers) w.send('go');
    const results = await Promise.all(workers.map((w) => w.next((m) => m.done === true)));
    await Promise.all(workers.map((w) => w.exited));
    for (const [i, r] of results.entries()) expect(r.errors, `worker ${i} errors`).toEqual({});

    // Each migration was applied exactly once, with its bookkeeping row and one event.
    expect(await appliedMigrations(url, schema)).toEqual(
      KNOWN.map((m) => ({ version: m.version, checksum: m.checksum })),
    );
    const store = await openStore({ url, schema });
    try {
      expect(store.migration.applied).toEqual([]);
      const migrate = await store.events.list({ types: ['store.migrate'] });
      expect(migrate.map((e) => e.subject.name)).toEqual(KNOWN.map((m) => `${m.version}-${m.name}`));
      expect(await store.allContainers()).toHaveLength(3 * 2);
    } finally {
      await store.close();
    }
  });

  it('lets 8 handles open a brand-new schema at the very same moment, round after round', async () => {
    // The same race as above without process start-up jitter: every open reaches the
    // server within a few milliseconds of the others.
    for (let round = 0; round < 6; round++) {
      const schema = freshSchema(url);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => openStore({ url, schema })));
      for (const r of results) if (r.status === 'fulfilled') await r.value.close();
      const failures = results.flatMap((r) =>
        r.status === 'rejected' ? [`${(r.reason as { code?: string }).code}: ${(r.reason as Error).message}`] : [],
      );
      expect(failures, `round ${round}`).toEqual([]);
      expect(await appliedMigrations(url, schema)).toHaveLength(KNOWN.length);
    }
  });

  it('reports the applied migrations on the first open and none afterwards', async () => {
    const schema = freshSchema(url);
    const first = await openStore({ url, schema });
    expect(first.migration).toEqual({ from: 0, to: KNOWN.length, applied: KNOWN.map((m) => `${m.version}-${m.name}`) });
    await first.close();
    const second = await openStore({ url, schema });
    expect(second.migration).toEqual({ from: KNOWN.length, to: KNOWN.length, applied: [] });
    await second.close();
  });

  it('refuses a schema newer than the code with SCHEMA_TOO_NEW and leaves it untouched', async () => {
    const schema = await migratedSchema(url);
    await withClient(url, (c) =>
      c.query(
        `INSERT INTO "${schema}".berth_migrations (version, name, checksum, applied_at) VALUES ($1, 'from-the-future', $2, 0)`,
        [KNOWN.length + 7, 'f'.repeat(64)],
      ),
    );
    const before = await dumpSchema(url, schema);
    const err = await expectCode(openStore({ url, schema }), 'SCHEMA_TOO_NEW');
    expect(err.details).toMatchObject({ storeVersion: KNOWN.length + 7, codeVersion: KNOWN.length });
    await expectCode(openStore({ url, schema, readonly: true }), 'SCHEMA_TOO_NEW');
    expect(await dumpSchema(url, schema)).toEqual(before);
  });

  it('refuses a schema whose recorded checksum differs with MIGRATION_CHECKSUM_MISMATCH, untouched', async () => {
    const schema = await migratedSchema(url);
    await withClient(url, (c) =>
      c.query(`UPDATE "${schema}".berth_migrations SET checksum = $1 WHERE version = 1`, ['0'.repeat(64)]),
    );
    const before = await dumpSchema(url, schema);
    const err = await expectCode(openStore({ url, schema }), 'MIGRATION_CHECKSUM_MISMATCH');
    expect(err.details).toMatchObject({ version: 1 });
    expect(await dumpSchema(url, schema)).toEqual(before);
  });

  it('keeps two schemas of one database as independent stores', async () => {
    const a = await postgresFactory.open();
    const b = await postgresFactory.open();
    const startB = await b.events.lastSeq();
    expect(pgTarget(a).schema).not.toBe(pgTarget(b).schema);
    expect(a.location).not.toBe(b.location);
    // The same id and name in both: uniqueness is per store.
    const c = ctr({ name: 'same-name' });
    await a.addContainer(c);
    await b.addContainer(structuredClone(c));
    await a.addContainer(ctr({ name: 'only-in-a' }));
    expect((await a.allContainers()).map((x) => x.config.name).sort()).toEqual(['only-in-a', 'same-name']);
    expect((await b.allContainers()).map((x) => x.config.name)).toEqual(['same-name']);
    await expectCode(b.lookupContainer('only-in-a'), 'NO_SUCH_CONTAINER');

    // Locks, workspaces and events are per store too.
    const lockA = await a.workspaces.lock('default', { operation: 'apply' });
    const lockB = await b.workspaces.lock('default', { operation: 'apply' });
    expect(lockB.id).not.toBe(lockA.id);
    await a.workspaces.writeState('default', { in: 'a' }, { lockId: lockA.id });
    expect((await b.workspaces.readState('default')).serial).toBe(0);
    const eventsB = await b.events.list({ since: startB, types: ['container.*', 'lock.*'] });
    expect(eventsB.map((e) => e.type)).toEqual(['container.create', 'lock.acquire']);
    await b.workspaces.unlock('default', lockB.id);
    await a.workspaces.unlock('default', lockA.id);

    // A follower of b is not woken by writes to a (each store notifies its own channel).
    const abort = new AbortController();
    const seen: string[] = [];
    const since = await b.events.lastSeq();
    const following = (async () => {
      for await (const e of b.events.follow({ since, pollMs: 5000, signal: abort.signal })) {
        seen.push(e.type);
        if (e.type === 'volume.create') abort.abort();
      }
    })();
    await waitForListener(url, pgTarget(b).schema);
    await a.addVolume({ config: { name: 'in-a' }, state: {} });
    await sleep(300);
    expect(seen).toEqual([]);
    await b.addVolume({ config: { name: 'in-b' }, state: {} });
    await following;
    expect(seen).toEqual(['volume.create']);
  });

  it('takes the schema from ?schema= in the URL; an explicit schema option wins over it', async () => {
    const schema = freshSchema(url);
    const viaUrl = await openStore({ url: urlWithSchema(url, schema) });
    try {
      expect(viaUrl.location).toContain(schema);
      await viaUrl.addContainer(ctr({ name: 'via-url' }));
    } finally {
      await viaUrl.close();
    }
    const names = await withClient(url, async (c) => (await c.query(`SELECT name FROM "${schema}".containers`)).rows);
    expect(names).toEqual([{ name: 'via-url' }]);

    const viaOption = await openStore({ url, schema });
    try {
      expect((await viaOption.lookupContainer('via-url')).config.name).toBe('via-url');
    } finally {
      await viaOption.close();
    }
    const other = `${schema}_unused`;
    const both = await openStore({ url: urlWithSchema(url, other), schema });
    try {
      expect((await both.lookupContainer('via-url')).config.name).toBe('via-url');
    } finally {
      await both.close();
    }
    expect(await schemaExists(url, other)).toBe(false);
  });

  it.each([
    ['upper case', 'Berth'],
    ['a dash', 'my-store'],
    ['a leading digit', '1store'],
    ['SQL', 'x"; DROP SCHEMA public CASCADE; --'],
    ['64 characters', `s${'x'.repeat(63)}`],
    ['empty', ''],
  ])('refuses a schema name with %s with INVALID_ARGUMENT, creating nothing', async (_what, schema) => {
    const err = await expectCode(openStore({ url, schema }), 'INVALID_ARGUMENT');
    expect(err.details).toMatchObject({ schema });
    if (schema !== '') await expectCode(openStore({ url: urlWithSchema(url, schema) }), 'INVALID_ARGUMENT');
    expect(await schemaExists(url, schema)).toBe(false);
  });

  it('reports a refused connection, an unknown database and an unknown role as BerthErrors, quickly', async () => {
    const base = new URL(url);
    const refused = new URL(url);
    refused.hostname = '127.0.0.1';
    refused.port = '1';
    const noDb = new URL(url);
    noDb.pathname = '/berth_no_such_database';
    const noRole = new URL(url);
    noRole.username = 'berth_no_such_role';
    for (const [target, codes] of [
      [refused, ['STORE_UNAVAILABLE']],
      [noDb, ['INVALID_ARGUMENT']],
      [noRole, ['INVALID_ARGUMENT']],
    ] as const) {
      const started = Date.now();
      let failure: unknown;
      try {
        const store = await openStore({ url: target.toString(), schema: 'berth_never_created' });
        await store.close();
      } catch (err) {
        failure = err;
      }
      const label = `${target.toString()} (base ${base.host})`;
      expect(isBerthError(failure), `${label}: ${String(failure)}`).toBe(true);
      expect(codes as readonly string[], label).toContain((failure as { code: string }).code);
      expect(Date.now() - started, label).toBeLessThan(10_000);
    }
  });
});
