import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { CopyReport } from './backend.js';
import type { Executor, QueryRunner } from './executor.js';
import { defineQuery, param, type QueryDef } from './query.js';
import type { Database } from './schema.js';
import { BerthError } from '../errors.js';

/*
 * Copies a whole store between backends (SQLite <-> PostgreSQL): objects, workspaces
 * with their history, locks and the event journal, then verifies counts and checksums
 * before the copy commits.
 */

interface TableSpec {
  name: keyof Database;
  columns: string[];
  /** Order of reading: insertion order where listings depend on it, else the key. */
  readOrder: string;
  /** Order for checksums: the primary key, the same on both backends. */
  key: string[];
}

/** Tables in an order that satisfies every foreign key. */
const TABLES: TableSpec[] = [
  { name: 'berth_meta', columns: ['key', 'value'], readOrder: 'key', key: ['key'] },
  {
    name: 'pods',
    columns: ['id', 'name', 'namespace', 'workspace', 'config_json', 'state_json', 'created_at', 'updated_at'],
    readOrder: 'rowid',
    key: ['id'],
  },
  {
    name: 'volumes',
    columns: ['name', 'namespace', 'workspace', 'config_json', 'state_json', 'created_at', 'updated_at'],
    readOrder: 'rowid',
    key: ['name'],
  },
  {
    name: 'containers',
    columns: [
      'id',
      'name',
      'namespace',
      'pod_id',
      'workspace',
      'config_json',
      'state_json',
      'created_at',
      'updated_at',
    ],
    readOrder: 'rowid',
    key: ['id'],
  },
  {
    name: 'container_dependencies',
    columns: ['container_id', 'dependency_id'],
    readOrder: 'container_id, dependency_id',
    key: ['container_id', 'dependency_id'],
  },
  {
    name: 'container_volumes',
    columns: ['container_id', 'volume_name'],
    readOrder: 'container_id, volume_name',
    key: ['container_id', 'volume_name'],
  },
  { name: 'exec_sessions', columns: ['id', 'container_id'], readOrder: 'id', key: ['id'] },
  {
    name: 'exit_codes',
    columns: ['container_id', 'code', 'created_at'],
    readOrder: 'container_id',
    key: ['container_id'],
  },
  {
    name: 'workspaces',
    columns: ['namespace', 'name', 'lineage', 'serial', 'state_json', 'checksum', 'created_at', 'updated_at'],
    readOrder: 'namespace, name',
    key: ['namespace', 'name'],
  },
  {
    name: 'state_versions',
    columns: [
      'namespace',
      'workspace',
      'serial',
      'lineage',
      'checksum',
      'state_json',
      'created_at',
      'who',
      'operation',
    ],
    readOrder: 'namespace, workspace, serial',
    key: ['namespace', 'workspace', 'serial'],
  },
  {
    name: 'locks',
    columns: [
      'key',
      'id',
      'operation',
      'who',
      'info',
      'version',
      'created_at',
      'pid',
      'host',
      'boot_id',
      'fencing_token',
      'ttl_ms',
      'expires_at',
    ],
    readOrder: 'key',
    key: ['key'],
  },
  {
    name: 'secret_keys',
    columns: ['id', 'namespace', 'workspace', 'wrapped', 'key_check', 'created_at', 'retired_at'],
    readOrder: 'id',
    key: ['id'],
  },
  {
    name: 'events',
    columns: ['seq', 'ts', 'namespace', 'type', 'subject_kind', 'subject_id', 'subject_name', 'actor', 'data_json'],
    readOrder: 'seq',
    key: ['seq'],
  },
];

/** berth_meta rows that belong to a backend, not to the store's content. */
const LOCAL_META = new Set(['write_lock']);

type AnyDb = Kysely<Record<string, Record<string, unknown>>>;

const reads = new Map<string, QueryDef<Record<string, unknown>>>();
const inserts = new Map<string, QueryDef<unknown>>();
const clears = new Map<string, QueryDef<unknown>>();
const keyed = new Map<string, QueryDef<Record<string, unknown>>>();

function readAll(t: TableSpec, byKey: boolean): QueryDef<Record<string, unknown>> {
  const cache = byKey ? keyed : reads;
  let q = cache.get(t.name);
  if (!q) {
    const order = byKey ? t.key.join(', ') : t.readOrder;
    q = defineQuery(
      `copyRead_${t.name}_${byKey ? 'key' : 'order'}`,
      (db) => (db as unknown as AnyDb).selectFrom(t.name).select(t.columns).orderBy(sql.raw(order)) as never,
    );
    cache.set(t.name, q);
  }
  return q;
}

function insertRow(t: TableSpec): QueryDef<unknown> {
  let q = inserts.get(t.name);
  if (!q) {
    q = defineQuery(
      `copyInsert_${t.name}`,
      (db) =>
        (db as unknown as AnyDb)
          .insertInto(t.name)
          .values(Object.fromEntries(t.columns.map((c) => [c, param(c)]))) as never,
    );
    inserts.set(t.name, q);
  }
  return q;
}

function clearTable(t: TableSpec): QueryDef<unknown> {
  let q = clears.get(t.name);
  if (!q) {
    q = defineQuery(`copyClear_${t.name}`, (db) =>
      t.name === 'berth_meta'
        ? ((db as unknown as AnyDb).deleteFrom(t.name).where('key', '!=', 'write_lock') as never)
        : ((db as unknown as AnyDb).deleteFrom(t.name) as never),
    );
    clears.set(t.name, q);
  }
  return q;
}

/** PostgreSQL: the event sequence continues after the copied events. */
const restartEventSeq = defineQuery('copyRestartEventSeq', (db) => ({
  compile: () =>
    sql`SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST((SELECT max(seq) FROM events), 1))`.compile(db),
}));

/** Per table: row count and sha256 of the rows in key order. */
async function fingerprint(
  tx: QueryRunner,
  include: (t: TableSpec, row: Record<string, unknown>) => boolean,
): Promise<Record<string, { rows: number; sha256: string }>> {
  const out: Record<string, { rows: number; sha256: string }> = {};
  for (const t of TABLES) {
    const hash = createHash('sha256');
    let rows = 0;
    for (const row of await tx.all(readAll(t, true), {})) {
      if (!include(t, row)) continue;
      rows++;
      hash.update(JSON.stringify(t.columns.map((c) => normalise(row[c]))) + '\n');
    }
    out[t.name] = { rows, sha256: hash.digest('hex') };
  }
  return out;
}

/** Numbers may come back as bigint-ish strings from one driver and numbers from the other. */
function normalise(v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

const isContent = (t: TableSpec, row: Record<string, unknown>): boolean =>
  !(t.name === 'berth_meta' && LOCAL_META.has(String(row.key)));

/**
 * Copies every row of `source` into `target`, which must be empty (freshly migrated),
 * in one target transaction; verifies counts and checksums before committing.
 * @throws INVALID_ARGUMENT (target not empty), INTERNAL (verification failed; nothing
 *   was written)
 */
export async function copyStore(source: Executor, target: Executor): Promise<CopyReport> {
  const rows = new Map<string, Record<string, unknown>[]>();
  const expected = await source.read(async (tx) => {
    for (const t of TABLES) rows.set(t.name, await tx.all(readAll(t, false), {}));
    return fingerprint(tx, isContent);
  });
  return target.write(async (tx) => {
    const before = await fingerprint(tx, isContent);
    const occupied = TABLES.filter((t) => t.name !== 'berth_meta' && t.name !== 'events' && before[t.name]!.rows > 0);
    const foreignEvents = (
      await tx.all(
        readAll(
          TABLES.find((t) => t.name === 'events')!,
          true,
        ),
        {},
      )
    ).filter((e) => e.type !== 'store.migrate');
    if (occupied.length > 0 || foreignEvents.length > 0) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `the target store ${target.location} is not empty (${occupied.map((t) => t.name).join(', ') || 'events'}); copy into a new store`,
        { details: { target: target.location } },
      );
    }
    // The target's own migration events and metadata give way to the source's.
    for (const t of [...TABLES].reverse()) await tx.run(clearTable(t), {});
    for (const t of TABLES) {
      for (const row of rows.get(t.name)!) {
        if (!isContent(t, row)) continue;
        await tx.run(insertRow(t), Object.fromEntries(t.columns.map((c) => [c, normalise(row[c])])));
      }
    }
    if (target.backend === 'postgres') await tx.get(restartEventSeq, {});
    const copied = await fingerprint(tx, isContent);
    for (const t of TABLES) {
      const a = expected[t.name]!;
      const b = copied[t.name]!;
      if (a.rows !== b.rows || a.sha256 !== b.sha256) {
        throw new BerthError(
          'INTERNAL',
          `copy verification failed for ${t.name}: ${a.rows} rows (${a.sha256.slice(0, 12)}) in the source, ${b.rows} (${b.sha256.slice(0, 12)}) in the target; nothing was written`,
          { details: { table: t.name, source: a, target: b } },
        );
      }
    }
    return { tables: copied };
  });
}

export type { CopyReport };
