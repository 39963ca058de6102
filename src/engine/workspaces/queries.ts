import { sql } from 'kysely';
import { defineQuery, param } from '../../db/query.js';
import { inNamespace } from '../rules/namespaces.js';

/* Statements of workspaces and their history; see objects/queries.ts for the conventions. */

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
/** A workspace's row but its state document: what a lock or a write needs of it. */
export const getWorkspaceHead = defineQuery('getWorkspaceHead', (db) =>
  db
    .selectFrom('workspaces')
    .select(workspaceColumns.filter((c) => c !== 'state_json'))
    .where('namespace', '=', param('ns'))
    .where('name', '=', param('name')),
);
/** Whether a workspace exists, without reading its state. */
export const workspaceExists = defineQuery('workspaceExists', (db) =>
  db
    .selectFrom('workspaces')
    .select(sql<number>`1`.as('found'))
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

// --- objects a workspace manages ---
export const managedContainers = defineQuery('managedContainers', (db) =>
  db
    .selectFrom('containers')
    .select(['config_json', 'state_json'])
    .where(inNamespace)
    .where('workspace', '=', param('name'))
    .orderBy(sql`rowid`),
);
export const managedPods = defineQuery('managedPods', (db) =>
  db
    .selectFrom('pods')
    .select(['config_json', 'state_json'])
    .where(inNamespace)
    .where('workspace', '=', param('name'))
    .orderBy(sql`rowid`),
);
export const managedVolumes = defineQuery('managedVolumes', (db) =>
  db
    .selectFrom('volumes')
    .select(['config_json', 'state_json'])
    .where(inNamespace)
    .where('workspace', '=', param('name'))
    .orderBy(sql`rowid`),
);
