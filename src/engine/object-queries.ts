import { sql, type Kysely } from 'kysely';
import { defineQuery, param, type QueryDef } from '../db/query.js';
import type { ContainerRow, PodRow } from '../db/schema.js';

/*
 * Every statement of the object store, built once with kysely and cached as a prepared
 * statement by the executor. Parameters are named; `ns` is the handle's namespace
 * ('' matches all), `hi` the exclusive upper bound of a literal prefix range.
 */

/** `namespace` filter of a handle: '' sees every namespace. */
const inNamespace = () => sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR namespace = ${param('ns')})`;

/**
 * The whole lookup precedence of containers and pods in one statement, so it reads one
 * snapshot: rank 0 is the full id, rank 1 the exact name, rank 2 up to two literal
 * id-prefix matches (LIMIT a literal: a bound LIMIT makes SQLite re-plan every call).
 */
function rankedLookup<R>(
  name: string,
  table: 'containers' | 'pods',
  columns: readonly string[],
): QueryDef<R & { rank: number }> {
  return defineQuery(name, (typed) => {
    // The two tables share these columns; kysely cannot type a query over either one.
    const db = typed as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const ranked = (rank: number) =>
      db
        .selectFrom(table)
        .select([sql<number>`${sql.lit(rank)}`.as('rank'), ...columns])
        .where(inNamespace);
    return ranked(0)
      .where('id', '=', param('x'))
      .unionAll(ranked(1).where('name', '=', param('x')))
      .unionAll(
        db
          .selectFrom(
            ranked(2)
              .where('id', '>', param('x'))
              .where('id', '<', param('hi'))
              .orderBy('id')
              .limit(sql.lit(2))
              .as('prefixed'),
          )
          .selectAll() as never,
      ) as never;
  });
}

// --- meta ---
export const getMeta = defineQuery('getMeta', (db) =>
  db.selectFrom('berth_meta').select('value').where('key', '=', param('key')),
);
export const putMeta = defineQuery('putMeta', (db) =>
  db
    .insertInto('berth_meta')
    .values({ key: param('key'), value: param('value') })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.ref('excluded.value') })),
);

// --- id/name registry shared by containers and pods ---
export const findIdOrName = defineQuery('findIdOrName', (db) =>
  db
    .selectFrom('object_ids')
    .select(['id', 'name', 'kind'])
    .where((eb) => eb.or([eb('id', '=', param('id')), eb('name', '=', param('name'))])),
);
export const findName = defineQuery('findName', (db) =>
  db.selectFrom('object_ids').select(['id', 'name', 'kind']).where('name', '=', param('name')),
);
export const findObjectId = defineQuery('findObjectId', (db) =>
  db.selectFrom('object_ids').select(['id', 'name', 'kind']).where('id', '=', param('id')),
);
export const insertObjectId = defineQuery('insertObjectId', (db) =>
  db.insertInto('object_ids').values({ id: param('id'), name: param('name'), kind: param('kind') }),
);
export const renameObjectId = defineQuery('renameObjectId', (db) =>
  db
    .updateTable('object_ids')
    .set({ name: param('name') })
    .where('id', '=', param('id')),
);
export const deleteObjectId = defineQuery('deleteObjectId', (db) =>
  db.deleteFrom('object_ids').where('id', '=', param('id')),
);

// --- containers ---
const containerColumns = ['id', 'name', 'namespace', 'pod_id', 'config_json', 'state_json'] as const;
/** The columns every container read returns. */
export type ContainerRecord = Pick<ContainerRow, (typeof containerColumns)[number]>;

export const getContainer = defineQuery('getContainer', (db) =>
  db.selectFrom('containers').select(containerColumns).where('id', '=', param('id')),
);
export const lookupContainer = rankedLookup<ContainerRecord>('lookupContainer', 'containers', containerColumns);
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
const podColumns = ['id', 'name', 'namespace', 'config_json', 'state_json'] as const;
/** The columns every pod read returns. */
export type PodRecord = Pick<PodRow, (typeof podColumns)[number]>;

export const getPod = defineQuery('getPod', (db) =>
  db.selectFrom('pods').select(podColumns).where('id', '=', param('id')),
);
export const lookupPod = rankedLookup<PodRecord>('lookupPod', 'pods', podColumns);
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
const volumeColumns = ['name', 'namespace', 'config_json', 'state_json'] as const;

export const getVolume = defineQuery('getVolume', (db) =>
  db.selectFrom('volumes').select(volumeColumns).where('name', '=', param('name')),
);
/** Exact name (rank 0), else up to two literal name-prefix matches (rank 2). */
export const lookupVolume = defineQuery('lookupVolume', (db) =>
  db
    .selectFrom('volumes')
    .select([sql<number>`0`.as('rank'), ...volumeColumns])
    .where('name', '=', param('x'))
    .where(inNamespace)
    .unionAll(
      db
        .selectFrom((sub) =>
          sub
            .selectFrom('volumes')
            .select([sql<number>`2`.as('rank'), ...volumeColumns])
            .where('name', '>', param('x'))
            .where('name', '<', param('hi'))
            .where(inNamespace)
            .orderBy('name')
            .limit(sql.lit(2))
            .as('prefixed'),
        )
        .selectAll(),
    ),
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

// --- events ---
export const insertEvent = defineQuery('insertEvent', (db) =>
  db.insertInto('events').values({
    ts: param<number>('ts'),
    namespace: param('namespace'),
    type: param('type'),
    subject_kind: param('kind'),
    subject_id: param<string | null>('subjectId'),
    subject_name: param<string | null>('subjectName'),
    actor: param('actor'),
    data_json: param('data'),
  }),
);
export const listEvents = defineQuery('listEvents', (db) =>
  db
    .selectFrom('events')
    .selectAll()
    .where('seq', '>', param<number>('since'))
    .where('seq', '<=', param<number>('until'))
    .where(inNamespace)
    .orderBy('seq')
    .limit(param<number>('limit')),
);
export const lastEventSeq = defineQuery('lastEventSeq', (db) =>
  db.selectFrom('events').select((eb) => eb.fn.max('seq').as('seq')),
);
/** The first event at or after a time, for `--since TIME`. */
export const firstSeqAtOrAfter = defineQuery('firstSeqAtOrAfter', (db) =>
  db
    .selectFrom('events')
    .select((eb) => eb.fn.min('seq').as('seq'))
    .where('ts', '>=', param<number>('ts')),
);
/** The newest seq of the next batch of events to prune: beyond the count limit or too old. */
export const pruneEventsUpTo = defineQuery('pruneEventsUpTo', (db) =>
  db
    .selectFrom((sub) =>
      sub
        .selectFrom('events')
        .select('seq')
        .where((w) => w.or([w('seq', '<=', param<number>('through')), w('ts', '<', param<number>('before'))]))
        .orderBy('seq')
        .limit(sql.lit(1000))
        .as('batch'),
    )
    .select((eb) => eb.fn.max('seq').as('seq')),
);
export const deleteEventsThrough = defineQuery('deleteEventsThrough', (db) =>
  db.deleteFrom('events').where('seq', '<=', param<number>('through')),
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
/** Registry entries naming neither a container nor a pod (what danglingObjectIds removes). */
export const countDanglingObjectIds = defineQuery('countDanglingObjectIds', (db) =>
  db
    .selectFrom('object_ids')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where((eb) => eb.and([missing('containers', 'id', 'object_ids.id'), missing('pods', 'id', 'object_ids.id')])),
);
export const danglingObjectIds = defineQuery('danglingObjectIds', (db) =>
  db
    .deleteFrom('object_ids')
    .where((eb) => eb.and([missing('containers', 'id', 'object_ids.id'), missing('pods', 'id', 'object_ids.id')])),
);
