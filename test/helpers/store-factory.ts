import BetterSqlite3 from 'better-sqlite3';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { onTestFinished } from 'vitest';
import { openStore, type OpenStoreOptions } from '../../src/index.js';
import type { Store } from '../../src/index.js';

/**
 * How a conformance suite gets its stores: each test owns its world. `open` gives a fresh
 * store; `reopen` gives another handle on the same store (same file, same schema).
 */
export interface StoreFactory {
  readonly backend: string;
  /** A fresh, empty store owned by the current test. */
  open(opts?: Omit<OpenStoreOptions, 'path' | 'url'>): Promise<Store>;
  /** Another handle on the store `store` was opened on. */
  reopen(store: Store, opts?: Omit<OpenStoreOptions, 'path' | 'url'>): Promise<Store>;
  /** What `openStore` needs to reach the same store from another process. */
  target(store: Store): { path?: string; url?: string; schema?: string };
}

/** A temp directory removed when the current test passes (kept as evidence when it fails). */
export function tempDir(prefix = 'berth-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished((ctx) => {
    if (ctx.task.result?.state !== 'fail') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

let template: string | undefined;

/**
 * A migrated, empty store file made once per test worker: copying it is ~30x cheaper
 * than migrating a new file with synchronous=FULL. It records no boot id, so the first
 * open behaves exactly as on a brand-new store.
 */
async function sqliteTemplate(): Promise<string> {
  if (template) return template;
  const dir = mkdtempSync(join(tmpdir(), 'berth-template-'));
  const file = join(dir, 'template.db');
  const store = await openStore({ path: file });
  await store.close();
  const db = new BetterSqlite3(file);
  db.prepare("DELETE FROM berth_meta WHERE key = 'boot_id'").run();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  template = file;
  return file;
}

/** SQLite stores, one temp file per test. */
export const sqliteFactory: StoreFactory = {
  backend: 'sqlite',
  async open(opts = {}) {
    const path = join(tempDir(), 'berth.db');
    copyFileSync(await sqliteTemplate(), path);
    chmodSync(path, 0o600);
    const store = await openStore({ ...opts, path });
    onTestFinished(() => store.close());
    return store;
  },
  async reopen(store, opts = {}) {
    const other = await openStore({ ...opts, path: store.location });
    onTestFinished(() => other.close());
    return other;
  },
  target(store) {
    return { path: store.location };
  },
};

/** The PostgreSQL server the tests may use, from BERTH_TEST_PG_URL. */
export const pgUrl = process.env.BERTH_TEST_PG_URL;

const pgTargets = new WeakMap<Store, { url: string; schema: string }>();

/** Migrated schemas of passed tests, emptied and ready for the next test of this worker. */
const freeSchemas: string[] = [];

const BERTH_TABLES = [
  'container_dependencies',
  'container_volumes',
  'exec_sessions',
  'containers',
  'pods',
  'volumes',
  'exit_codes',
  'events',
  'state_versions',
  'workspaces',
  'locks',
  'secret_keys',
  'berth_meta',
];

/**
 * PostgreSQL stores: each test gets a schema of its own. A passed test's schema is
 * emptied and handed to the next test (migrating a fresh schema costs ~20x more); a
 * failed test's schema is kept as evidence and never reused.
 */
export const postgresFactory: StoreFactory = {
  backend: 'postgres',
  async open(opts = {}) {
    if (!pgUrl) throw new Error('BERTH_TEST_PG_URL is not set');
    const schema = freeSchemas.pop() ?? `t_${randomBytes(6).toString('hex')}`;
    const store = await openStore({ ...opts, url: pgUrl, schema });
    pgTargets.set(store, { url: pgUrl, schema });
    onTestFinished(async (ctx) => {
      await store.close();
      if (ctx.task.result?.state !== 'fail') {
        await resetSchema(pgUrl, schema);
        freeSchemas.push(schema);
      }
    });
    return store;
  },
  async reopen(store, opts = {}) {
    const t = pgTargets.get(store);
    if (!t) throw new Error('reopen: not a store of this factory');
    const other = await openStore({ ...opts, url: t.url, schema: t.schema });
    pgTargets.set(other, t);
    onTestFinished(() => other.close());
    return other;
  },
  target(store) {
    const t = pgTargets.get(store);
    if (!t) throw new Error('target: not a store of this factory');
    return t;
  },
};

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Empties a schema to the state of a freshly migrated store. DELETE, not TRUNCATE: on
 * tables this small it is much cheaper (TRUNCATE makes new files for every table).
 */
let admin: Promise<pg.Client> | undefined;

/** One connection per test worker for emptying schemas. */
async function adminClient(url: string): Promise<pg.Client> {
  admin ??= (async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    process.once('beforeExit', () => void c.end());
    return c;
  })();
  return admin;
}

async function resetSchema(url: string, schema: string): Promise<void> {
  await (async (c: pg.Client) => {
    await c.query('BEGIN');
    await c.query('SET LOCAL synchronous_commit = off');
    // A fresh store's journal holds its migrations: keep those, drop the rest.
    for (const t of BERTH_TABLES) {
      await c.query(`DELETE FROM "${schema}".${t}${t === 'events' ? " WHERE type <> 'store.migrate'" : ''}`);
    }
    for (const seq of ['containers_rowid_seq', 'pods_rowid_seq', 'volumes_rowid_seq']) {
      await c.query(`ALTER SEQUENCE "${schema}".${seq} RESTART`);
    }
    await c.query(`SELECT setval('"${schema}".events_seq_seq', (SELECT max(seq) FROM "${schema}".events))`);
    await c.query(`INSERT INTO "${schema}".berth_meta (key, value) VALUES ('write_lock', '')`);
    await c.query('COMMIT');
  })(await adminClient(url));
}

/** Drops the schemas passed tests left for reuse (call from afterAll). */
export async function dropFreeSchemas(): Promise<void> {
  if (!pgUrl || freeSchemas.length === 0) return;
  const schemas = freeSchemas.splice(0);
  await withClient(pgUrl, async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  });
}
