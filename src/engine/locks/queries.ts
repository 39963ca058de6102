import { sql } from 'kysely';
import { defineQuery, param } from '../../db/query.js';

/* Statements of the lock table; see objects/queries.ts for the conventions. */

const lockColumns = [
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
] as const;

// --- locks ---
export const getLock = defineQuery('getLock', (db) =>
  db.selectFrom('locks').select(lockColumns).where('key', '=', param('key')),
);
export const allLocks = defineQuery('allLocks', (db) => db.selectFrom('locks').select(lockColumns).orderBy('key'));
export const insertLock = defineQuery('insertLock', (db) =>
  db.insertInto('locks').values({
    key: param('key'),
    id: param('id'),
    operation: param('operation'),
    who: param('who'),
    info: param('info'),
    version: param('version'),
    created_at: param<number>('now'),
    pid: param<number>('pid'),
    host: param('host'),
    boot_id: param('bootId'),
    fencing_token: param<number>('token'),
    ttl_ms: param<number | null>('ttl'),
    expires_at: param<number | null>('expiresAt'),
  }),
);
export const deleteLock = defineQuery('deleteLock', (db) =>
  db.deleteFrom('locks').where('key', '=', param('key')).where('id', '=', param('id')),
);
export const renewLock = defineQuery('renewLock', (db) =>
  db
    .updateTable('locks')
    .set({ expires_at: param<number | null>('expiresAt') })
    .where('key', '=', param('key'))
    .where('id', '=', param('id')),
);
/** The locks a host took: staleness.ts decides which of them predate its boot. */
export const hostLocks = defineQuery('hostLocks', (db) =>
  db.selectFrom('locks').select(lockColumns).where('host', '=', param('host')),
);
/** The store-wide fencing counter, bumped and read in one statement. */
export const nextFencingToken = defineQuery('nextFencingToken', (db) =>
  db
    .insertInto('berth_meta')
    .values({ key: 'fencing_token', value: '1' })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({ value: sql<string>`CAST(CAST(berth_meta.value AS BIGINT) + 1 AS TEXT)` }),
    )
    .returning('value'),
);

export const getLockById = defineQuery('getLockById', (db) =>
  db.selectFrom('locks').select(lockColumns).where('id', '=', param('id')),
);
