import { sql } from 'kysely';
import { defineQuery, param } from '../../db/query.js';
import type { ContainerRow, PodRow, VolumeRow } from '../../db/schema.js';
import { inNamespace } from '../rules/namespaces.js';

/*
 * Statements of the object store, built once with kysely and cached as prepared
 * statements by the executor. Parameters are named; `ns` is the handle's namespace
 * ('' matches all).
 */

// --- ids and names: unique across containers and pods (checked inside the write transaction) ---
/** The containers and pods that hold an id or a name. */
export const findIdOrName = defineQuery('findIdOrName', (db) =>
  db
    .selectFrom('containers')
    .select([sql<'container' | 'pod'>`'container'`.as('kind'), 'id', 'name', 'namespace'])
    .where((eb) => eb.or([eb('id', '=', param('id')), eb('name', '=', param('name'))]))
    .unionAll(
      db
        .selectFrom('pods')
        .select([sql<'container' | 'pod'>`'pod'`.as('kind'), 'id', 'name', 'namespace'])
        .where((eb) => eb.or([eb('id', '=', param('id')), eb('name', '=', param('name'))])),
    ),
);

// --- containers ---
export const containerColumns = ['id', 'name', 'namespace', 'pod_id', 'config_json', 'state_json'] as const;
/** The columns every container read returns. */
export type ContainerRecord = Pick<ContainerRow, (typeof containerColumns)[number]>;

export const getContainer = defineQuery('getContainer', (db) =>
  db.selectFrom('containers').select(containerColumns).where('id', '=', param('id')),
);
export const allContainers = defineQuery('allContainers', (db) =>
  db
    .selectFrom('containers')
    .select(['config_json', 'state_json'])
    .where(inNamespace)
    .orderBy(sql`rowid`),
);
export const insertContainer = defineQuery('insertContainer', (db) =>
  db.insertInto('containers').values({
    id: param('id'),
    name: param('name'),
    namespace: param('namespace'),
    pod_id: param('pod'),
    workspace: param('workspace'),
    config_json: param('config'),
    state_json: param('state'),
    created_at: param<number>('now'),
    updated_at: param<number>('now'),
  }),
);
export const updateContainerConfig = defineQuery('updateContainerConfig', (db) =>
  db
    .updateTable('containers')
    .set({
      name: param('name'),
      workspace: param('workspace'),
      config_json: param('config'),
      updated_at: param<number>('now'),
    })
    .where('id', '=', param('id')),
);
export const updateContainerState = defineQuery('updateContainerState', (db) =>
  db
    .updateTable('containers')
    .set({ state_json: param('state'), updated_at: param<number>('now') })
    .where('id', '=', param('id')),
);
export const deleteContainer = defineQuery('deleteContainer', (db) =>
  db.deleteFrom('containers').where('id', '=', param('id')),
);
export const podContainerRows = defineQuery('podContainerRows', (db) =>
  db
    .selectFrom('containers')
    .select(containerColumns)
    .where('pod_id', '=', param('pod'))
    .orderBy(sql`rowid`),
);

// --- dependencies ---
export const insertDependency = defineQuery('insertDependency', (db) =>
  db.insertInto('container_dependencies').values({ container_id: param('id'), dependency_id: param('dep') }),
);
export const deleteContainerDependencies = defineQuery('deleteContainerDependencies', (db) =>
  db.deleteFrom('container_dependencies').where('container_id', '=', param('id')),
);
export const dependents = defineQuery('dependents', (db) =>
  db
    .selectFrom('container_dependencies')
    .select('container_id')
    .where('dependency_id', '=', param('id'))
    .orderBy('container_id'),
);

// --- named volumes of containers ---
export const insertContainerVolume = defineQuery('insertContainerVolume', (db) =>
  db.insertInto('container_volumes').values({ container_id: param('id'), volume_name: param('volume') }),
);
export const deleteContainerVolumes = defineQuery('deleteContainerVolumes', (db) =>
  db.deleteFrom('container_volumes').where('container_id', '=', param('id')),
);
export const volumeUsers = defineQuery('volumeUsers', (db) =>
  db
    .selectFrom('container_volumes')
    .select('container_id')
    .where('volume_name', '=', param('volume'))
    .orderBy('container_id'),
);

// --- exec sessions ---
export const getExecSession = defineQuery('getExecSession', (db) =>
  db.selectFrom('exec_sessions').select(['id', 'container_id']).where('id', '=', param('id')),
);
export const insertExecSession = defineQuery('insertExecSession', (db) =>
  db.insertInto('exec_sessions').values({ id: param('id'), container_id: param('container') }),
);
export const deleteExecSession = defineQuery('deleteExecSession', (db) =>
  db.deleteFrom('exec_sessions').where('id', '=', param('id')),
);
export const containerExecSessions = defineQuery('containerExecSessions', (db) =>
  db.selectFrom('exec_sessions').select('id').where('container_id', '=', param('container')).orderBy('id'),
);
export const deleteContainerExecSessions = defineQuery('deleteContainerExecSessions', (db) =>
  db.deleteFrom('exec_sessions').where('container_id', '=', param('container')),
);
export const deleteAllExecSessions = defineQuery('deleteAllExecSessions', (db) => db.deleteFrom('exec_sessions'));

// --- exit codes ---
export const putExitCode = defineQuery('putExitCode', (db) =>
  db
    .insertInto('exit_codes')
    .values({ container_id: param('id'), code: param<number>('code'), created_at: param<number>('now') })
    .onConflict((oc) =>
      oc.column('container_id').doUpdateSet({
        code: (eb) => eb.ref('excluded.code'),
        created_at: (eb) => eb.ref('excluded.created_at'),
      }),
    ),
);
export const getExitCode = defineQuery('getExitCode', (db) =>
  db.selectFrom('exit_codes').select('code').where('container_id', '=', param('id')),
);
export const pruneExitCodes = defineQuery('pruneExitCodes', (db) =>
  db
    .deleteFrom('exit_codes')
    .where('created_at', '<', param<number>('before'))
    .where((eb) =>
      eb.not(
        eb.exists(
          eb.selectFrom('containers').select('containers.id').whereRef('containers.id', '=', 'exit_codes.container_id'),
        ),
      ),
    ),
);
export const deleteAllExitCodes = defineQuery('deleteAllExitCodes', (db) => db.deleteFrom('exit_codes'));

// --- pods ---
export const podColumns = ['id', 'name', 'namespace', 'config_json', 'state_json'] as const;
/** The columns every pod read returns. */
export type PodRecord = Pick<PodRow, (typeof podColumns)[number]>;

export const getPod = defineQuery('getPod', (db) =>
  db.selectFrom('pods').select(podColumns).where('id', '=', param('id')),
);
export const allPods = defineQuery('allPods', (db) =>
  db
    .selectFrom('pods')
    .select(podColumns)
    .where(inNamespace)
    .orderBy(sql`rowid`),
);
export const insertPod = defineQuery('insertPod', (db) =>
  db.insertInto('pods').values({
    id: param('id'),
    name: param('name'),
    namespace: param('namespace'),
    workspace: param('workspace'),
    config_json: param('config'),
    state_json: param('state'),
    created_at: param<number>('now'),
    updated_at: param<number>('now'),
  }),
);
export const updatePodConfig = defineQuery('updatePodConfig', (db) =>
  db
    .updateTable('pods')
    .set({
      name: param('name'),
      workspace: param('workspace'),
      config_json: param('config'),
      updated_at: param<number>('now'),
    })
    .where('id', '=', param('id')),
);
export const updatePodState = defineQuery('updatePodState', (db) =>
  db
    .updateTable('pods')
    .set({ state_json: param('state'), updated_at: param<number>('now') })
    .where('id', '=', param('id')),
);
export const deletePod = defineQuery('deletePod', (db) => db.deleteFrom('pods').where('id', '=', param('id')));

// --- volumes ---
export const volumeColumns = ['name', 'namespace', 'config_json', 'state_json'] as const;
/** The columns every volume read returns. */
export type VolumeRecord = Pick<VolumeRow, (typeof volumeColumns)[number]>;

export const getVolume = defineQuery('getVolume', (db) =>
  db.selectFrom('volumes').select(volumeColumns).where('name', '=', param('name')),
);
export const allVolumes = defineQuery('allVolumes', (db) =>
  db
    .selectFrom('volumes')
    .select(volumeColumns)
    .where(inNamespace)
    .orderBy(sql`rowid`),
);
export const insertVolume = defineQuery('insertVolume', (db) =>
  db.insertInto('volumes').values({
    name: param('name'),
    namespace: param('namespace'),
    workspace: param('workspace'),
    config_json: param('config'),
    state_json: param('state'),
    created_at: param<number>('now'),
    updated_at: param<number>('now'),
  }),
);
export const updateVolumeConfig = defineQuery('updateVolumeConfig', (db) =>
  db
    .updateTable('volumes')
    .set({ workspace: param('workspace'), config_json: param('config'), updated_at: param<number>('now') })
    .where('name', '=', param('name')),
);
export const updateVolumeState = defineQuery('updateVolumeState', (db) =>
  db
    .updateTable('volumes')
    .set({ state_json: param('state'), updated_at: param<number>('now') })
    .where('name', '=', param('name')),
);
export const deleteVolume = defineQuery('deleteVolume', (db) =>
  db.deleteFrom('volumes').where('name', '=', param('name')),
);

// --- refresh: every object, unfiltered ---
export const everyContainerState = defineQuery('everyContainerState', (db) =>
  db.selectFrom('containers').select(['id', 'state_json']),
);
export const everyPodState = defineQuery('everyPodState', (db) => db.selectFrom('pods').select(['id', 'state_json']));
export const everyVolumeState = defineQuery('everyVolumeState', (db) =>
  db.selectFrom('volumes').select(['name', 'state_json']),
);

// --- repair: rows whose references dangle (possible only if foreign keys were off) ---

/** `NOT EXISTS` a row of `table` whose `column` equals the outer `ref`. */
const missing = (table: string, column: string, ref: string) =>
  sql<boolean>`NOT EXISTS (SELECT 1 FROM ${sql.table(table)} WHERE ${sql.ref(`${table}.${column}`)} = ${sql.ref(ref)})`;

export const danglingDependencies = defineQuery('danglingDependencies', (db) =>
  db
    .deleteFrom('container_dependencies')
    .where((eb) =>
      eb.or([
        missing('containers', 'id', 'container_dependencies.container_id'),
        missing('containers', 'id', 'container_dependencies.dependency_id'),
      ]),
    ),
);
export const danglingContainerVolumes = defineQuery('danglingContainerVolumes', (db) =>
  db
    .deleteFrom('container_volumes')
    .where((eb) =>
      eb.or([
        missing('containers', 'id', 'container_volumes.container_id'),
        missing('volumes', 'name', 'container_volumes.volume_name'),
      ]),
    ),
);
export const danglingExecSessions = defineQuery('danglingExecSessions', (db) =>
  db.deleteFrom('exec_sessions').where(missing('containers', 'id', 'exec_sessions.container_id')),
);
