import { sql } from 'kysely';
import { defineQuery, param } from '../db/query.js';

/* Statements of the workspace and lock stores; see object-queries.ts for the conventions. */

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
/** Locks taken on this host before its current boot: refresh clears them. */
export const preRebootLocks = defineQuery('preRebootLocks', (db) =>
  db.selectFrom('locks').select(lockColumns).where('host', '=', param('host')).where('boot_id', '!=', param('bootId')),
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

// --- workspaces ---
const workspaceColumns = [
  'namespace',
  'name',
  'lineage',
  'serial',
  'state_json',
  'checksum',
  'created_at',
  'updated_at',
] as const;

export const getWorkspace = defineQuery('getWorkspace', (db) =>
  db
    .selectFrom('workspaces')
    .select(workspaceColumns)
    .where('namespace', '=', param('ns'))
    .where('name', '=', param('name')),
);
export const listWorkspaces = defineQuery('listWorkspaces', (db) =>
  db.selectFrom('workspaces').select(workspaceColumns).where('namespace', '=', param('ns')).orderBy('name'),
);
export const insertWorkspace = defineQuery('insertWorkspace', (db) =>
  db.insertInto('workspaces').values({
    namespace: param('ns'),
    name: param('name'),
    lineage: param('lineage'),
    serial: 0,
    state_json: null,
    checksum: null,
    created_at: param<number>('now'),
    updated_at: param<number>('now'),
  }),
);
export const updateWorkspaceState = defineQuery('updateWorkspaceState', (db) =>
  db
    .updateTable('workspaces')
    .set({
      lineage: param('lineage'),
      serial: param<number>('serial'),
      state_json: param<string | null>('state'),
      checksum: param<string | null>('checksum'),
      updated_at: param<number>('now'),
    })
    .where('namespace', '=', param('ns'))
    .where('name', '=', param('name')),
);
export const deleteWorkspace = defineQuery('deleteWorkspace', (db) =>
  db.deleteFrom('workspaces').where('namespace', '=', param('ns')).where('name', '=', param('name')),
);
export const countManaged = defineQuery('countManaged', (db) =>
  db.selectNoFrom((eb) => [
    eb
      .selectFrom('containers')
      .select((e) => e.fn.countAll<number>().as('n'))
      .where('namespace', '=', param('ns'))
      .where('workspace', '=', param('name'))
      .as('containers'),
    eb
      .selectFrom('pods')
      .select((e) => e.fn.countAll<number>().as('n'))
      .where('namespace', '=', param('ns'))
      .where('workspace', '=', param('name'))
      .as('pods'),
    eb
      .selectFrom('volumes')
      .select((e) => e.fn.countAll<number>().as('n'))
      .where('namespace', '=', param('ns'))
      .where('workspace', '=', param('name'))
      .as('volumes'),
  ]),
);

// --- state history ---
const versionColumns = ['serial', 'lineage', 'checksum', 'created_at', 'who', 'operation'] as const;

export const insertStateVersion = defineQuery('insertStateVersion', (db) =>
  db.insertInto('state_versions').values({
    namespace: param('ns'),
    workspace: param('name'),
    serial: param<number>('serial'),
    lineage: param('lineage'),
    checksum: param<string | null>('checksum'),
    state_json: param<string | null>('state'),
    created_at: param<number>('now'),
    who: param('who'),
    operation: param('operation'),
  }),
);
export const stateHistory = defineQuery('stateHistory', (db) =>
  db
    .selectFrom('state_versions')
    .select(versionColumns)
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .orderBy('serial', 'desc')
    .limit(param<number>('limit')),
);
/** The stored texts of a workspace's versions (to recognise ciphertext it once held). */
export const stateVersionTexts = defineQuery('stateVersionTexts', (db) =>
  db
    .selectFrom('state_versions')
    .select('state_json')
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name')),
);
export const getStateVersion = defineQuery('getStateVersion', (db) =>
  db
    .selectFrom('state_versions')
    .select([...versionColumns, 'state_json'])
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .where('serial', '=', param<number>('serial')),
);
/** Keeps the newest `keep` versions of a workspace's history (by count, not by serial). */
export const pruneStateVersions = defineQuery('pruneStateVersions', (db) =>
  db
    .deleteFrom('state_versions')
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .where('serial', '<', (eb) =>
      eb
        .selectFrom('state_versions as newer')
        .select('newer.serial')
        .where('newer.namespace', '=', param('ns'))
        .where('newer.workspace', '=', param('name'))
        .orderBy('newer.serial', 'desc')
        .limit(1)
        .offset(param<number>('keepMinusOne')),
    ),
);
export const deleteStateVersions = defineQuery('deleteStateVersions', (db) =>
  db.deleteFrom('state_versions').where('namespace', '=', param('ns')).where('workspace', '=', param('name')),
);

// --- secret data keys ---
const secretKeyColumns = ['id', 'namespace', 'workspace', 'wrapped', 'key_check', 'created_at', 'retired_at'] as const;

/** The data key new secrets of a workspace are encrypted with. */
export const currentSecretKey = defineQuery('currentSecretKey', (db) =>
  db
    .selectFrom('secret_keys')
    .select(secretKeyColumns)
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .where('retired_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(sql.lit(1)),
);
export const getSecretKey = defineQuery('getSecretKey', (db) =>
  db.selectFrom('secret_keys').select(secretKeyColumns).where('id', '=', param('id')),
);
export const allSecretKeys = defineQuery('allSecretKeys', (db) =>
  db.selectFrom('secret_keys').select(secretKeyColumns).orderBy('id'),
);
/** A data key wrapped by another secrets key than the one with fingerprint `check`. */
export const otherSecretKey = defineQuery('otherSecretKey', (db) =>
  db.selectFrom('secret_keys').select(secretKeyColumns).where('key_check', '!=', param('check')).limit(sql.lit(1)),
);
export const insertSecretKey = defineQuery('insertSecretKey', (db) =>
  db.insertInto('secret_keys').values({
    id: param('id'),
    namespace: param('ns'),
    workspace: param('name'),
    wrapped: param('wrapped'),
    key_check: param('keyCheck'),
    created_at: param<number>('now'),
    retired_at: null,
  }),
);
export const rewrapSecretKey = defineQuery('rewrapSecretKey', (db) =>
  db
    .updateTable('secret_keys')
    .set({ wrapped: param('wrapped'), key_check: param('keyCheck') })
    .where('id', '=', param('id')),
);
export const retireSecretKeys = defineQuery('retireSecretKeys', (db) =>
  db
    .updateTable('secret_keys')
    .set({ retired_at: param<number>('now') })
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .where('retired_at', 'is', null),
);
