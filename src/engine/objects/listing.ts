import { sql, type Kysely, type RawBuilder } from 'kysely';
import { defineQuery, param, type QueryDef } from '../../db/query.js';
import type { ContainerSummaryRow, Database } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { lookupContainerRow, lookupPodRow } from '../rules/lookup.js';
import type { ContainerSummary, ContainerSummaryField, PodSummary, VolumeSummary } from '../types.js';
import { stateOf, STATUS_WORDS, type CheckedContainerQuery } from './listing-query.js';
import type { checkPodQuery, checkVolumeQuery } from './listing-query.js';
import { parseStored } from './rows.js';

/*
 * Listings (issue: fast `ps`): containers are listed from their narrow summary rows
 * (migration 005), with every filter, the sort and the limit run in SQL, so a listing
 * reads only what it returns and never parses a container's documents. Pods and volumes
 * are few; they are listed from their own rows.
 */

type Db = Kysely<Database>;

/** Whether a query definition is being compiled for PostgreSQL (some text and JSON functions differ). */
function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter.constructor.name === 'PostgresAdapter';
}

/** `needle` occurs in `haystack` (literal text). */
function contains(pg: boolean, haystack: RawBuilder<unknown>, needle: RawBuilder<unknown>): RawBuilder<boolean> {
  return pg ? sql<boolean>`strpos(${haystack}, ${needle}) > 0` : sql<boolean>`instr(${haystack}, ${needle}) > 0`;
}

/** The exclusive upper bound of the texts that start with `prefix`. */
function prefixUpperBound(prefix: string): string {
  return prefix + '\u{10FFFF}';
}

/**
 * The test of one `label`/`label!` value on the summary row's labels: on SQLite the
 * labels are JSON text in which `"key":"value"` (or `"key":`) occurs exactly when the label
 * is set (every quote inside a key or value is escaped), scanned without an index of its
 * own (one would cost each durable add a page per label); on PostgreSQL jsonb containment
 * or key existence, which the GIN index on the labels answers.
 */
function labelTest(pg: boolean, labels: RawBuilder<unknown>, name: string, hasValue: boolean): RawBuilder<boolean> {
  if (!pg) return contains(false, labels, sql`${param(name)}`);
  return hasValue
    ? sql<boolean>`(${labels} @> CAST(${param(name)} AS jsonb))`
    : sql<boolean>`(${labels} ? ${param(name)})`;
}

/** The parameter of a `label` filter value for a label test, and whether it names a value. */
function labelParam(pg: boolean, value: string): { value: string; hasValue: boolean } {
  const at = value.indexOf('=');
  const key = at < 0 ? value : value.slice(0, at);
  if (at < 0) return { value: pg ? key : `${JSON.stringify(key)}:`, hasValue: false };
  const v = value.slice(at + 1);
  return { value: pg ? JSON.stringify({ [key]: v }) : `${JSON.stringify(key)}:${JSON.stringify(v)}`, hasValue: true };
}

/** Does an image reference match `ancestor` (podman's rule: the name, with or without tag, digest or registry)? */
function ancestorTest(pg: boolean, i: number): RawBuilder<boolean> {
  const image = sql.ref('s.image');
  const n = param<number>(`anc${i}_n`);
  const right = pg ? sql`right(${image}, ${n})` : sql`substr(${image}, -${n})`;
  return sql<boolean>`(${image} = ${param(`anc${i}`)}
    OR substr(${image}, 1, ${param<number>(`anc${i}_n1`)}) = ${param(`anc${i}_tag`)}
    OR substr(${image}, 1, ${param<number>(`anc${i}_n1`)}) = ${param(`anc${i}_digest`)}
    OR ${right} = ${param(`anc${i}_suffix`)}
    OR ${contains(pg, sql`${image}`, sql`${param(`anc${i}_tagged`)}`)})`;
}

/** The columns each summary field reads (the id is always read). */
const FIELD_COLUMNS: Record<ContainerSummaryField, readonly string[]> = {
  id: [],
  name: ['s.name'],
  namespace: ['s.namespace'],
  pod: ['s.pod_id'],
  podName: ['p.name as pod_name'],
  image: ['s.image'],
  command: ['s.command_json'],
  status: ['s.status'],
  state: ['s.status'],
  exitCode: ['s.exit_code'],
  startedAt: ['s.started_at'],
  finishedAt: ['s.finished_at'],
  createdAt: ['s.created'],
  labels: ['s.labels_json'],
  mounts: ['s.mounts_json'],
  networks: ['s.networks_json'],
};

type ListedRow = ContainerSummaryRow & { pod_name: string | null };

/** The shape of a container query: what its statement depends on (values are parameters). */
interface ListingShape {
  all: boolean;
  counts: Partial<Record<string, number>>;
  labelValues: boolean[];
  notLabelValues: boolean[];
  sort: CheckedContainerQuery['sort'];
  limit: boolean;
  fields: readonly ContainerSummaryField[];
}

const listingDefs = new Map<string, QueryDef<ListedRow>>();

/** One statement per shape, so each shape is compiled and prepared once. */
function listingDef(shape: ListingShape): QueryDef<ListedRow> {
  const key = JSON.stringify(shape);
  let def = listingDefs.get(key);
  if (!def) {
    def = defineQuery<ListedRow>(`listContainers${listingDefs.size}`, (db) => buildListing(db, shape));
    listingDefs.set(key, def);
  }
  return def;
}

function buildListing(db: Db, shape: ListingShape) {
  const pg = isPostgres(db);
  const count = (k: string): number => shape.counts[k] ?? 0;
  const any = (k: string, test: (i: number) => RawBuilder<boolean>): RawBuilder<boolean> | undefined => {
    const n = count(k);
    if (n === 0) return undefined;
    const tests = Array.from({ length: n }, (_, i) => test(i));
    return sql<boolean>`(${sql.join(tests, sql` OR `)})`;
  };
  const conditions: RawBuilder<boolean>[] = [
    sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR s.namespace = ${param('ns')})`,
  ];
  if (!shape.all) conditions.push(sql<boolean>`s.status = 'running'`);
  const add = (c: RawBuilder<boolean> | undefined): void => void (c && conditions.push(c));
  add(any('id', (i) => sql<boolean>`(s.id >= ${param(`id${i}`)} AND s.id < ${param(`id${i}_hi`)})`));
  add(any('name', (i) => contains(pg, sql`s.name`, sql`${param(`name${i}`)}`)));
  const labels = sql`s.labels_json`;
  shape.labelValues.forEach((hasValue, i) => add(labelTest(pg, labels, `label${i}`, hasValue)));
  shape.notLabelValues.forEach((hasValue, i) =>
    add(sql<boolean>`NOT ${labelTest(pg, labels, `nlabel${i}`, hasValue)}`),
  );
  if (count('status') > 0) add(sql<boolean>`s.status IN (${sql.join(statusParams(count('status')))})`);
  add(any('ancestor', (i) => ancestorTest(pg, i)));
  if (count('pod') > 0) add(sql<boolean>`s.pod_id IN (${sql.join(listParams('pod', count('pod')))})`);
  if (count('volume') > 0) {
    add(sql<boolean>`EXISTS (SELECT 1 FROM container_volumes v WHERE v.container_id = s.id
      AND v.volume_name IN (${sql.join(listParams('volume', count('volume')))}))`);
  }
  if (count('namespace') > 0)
    add(sql<boolean>`s.namespace IN (${sql.join(listParams('namespace', count('namespace')))})`);
  if (count('before') > 0) add(sql<boolean>`s.created < ${param('before')}`);
  if (count('since') > 0) add(sql<boolean>`s.created > ${param('since')}`);
  if (count('exited') > 0) {
    add(
      sql<boolean>`(s.status IN ('exited', 'stopped') AND s.exit_code IN (${sql.join(listParams('exited', count('exited')))}))`,
    );
  }
  // Byte order on both backends (STYLE.md 16), and missing values first: SQLite's NULL
  // order, made explicit because PostgreSQL's is the reverse.
  const collate = pg ? sql` COLLATE "C"` : sql``;
  const asc = (expr: RawBuilder<unknown>): RawBuilder<unknown> => sql`(${expr} IS NOT NULL), ${expr}${collate}`;
  const order: Record<CheckedContainerQuery['sort'], RawBuilder<unknown>> = {
    created: sql`s.created DESC, s.id DESC`,
    runningfor: sql`(s.started_at IS NULL), s.started_at${collate} DESC, s.id`,
    id: sql`s.id`,
    image: sql`${asc(sql`s.image`)}, s.id`,
    names: sql`s.name`,
    status: sql`${asc(sql`s.status`)}, s.id`,
    pod: sql`${asc(sql`s.pod_id`)}, s.id`,
    command: sql`${asc(sql`CAST(s.command_json AS TEXT)`)}, s.id`,
  };
  const columns = [...new Set(['s.id', ...shape.fields.flatMap((f) => FIELD_COLUMNS[f])])];
  const from = db.selectFrom('container_summaries as s');
  const joined = shape.fields.includes('podName') ? from.leftJoin('pods as p', 'p.id', 's.pod_id') : from;
  const select = joined
    .select(columns as never)
    .where(sql<boolean>`${sql.join(conditions, sql` AND `)}`)
    .orderBy(order[shape.sort]);
  return (shape.limit ? select.limit(param<number>('limit')) : select) as never;
}

function listParams(prefix: string, n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => param(`${prefix}${i}`));
}

function statusParams(n: number): unknown[] {
  // Each status word is expanded into the statuses it matches (at most two each).
  return Array.from({ length: n * 2 }, (_, i) => param(`status${i}`));
}

/** A JSON column: text on SQLite, already parsed on PostgreSQL. */
function json<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  return (typeof value === 'string' ? parseStored<T>(value, 'container summary') : value) as T;
}

/** How each summary field is built from its columns. */
const FIELD_VALUES: { [K in ContainerSummaryField]: (row: ListedRow) => ContainerSummary[K] } = {
  id: (row) => row.id,
  name: (row) => row.name,
  namespace: (row) => row.namespace,
  pod: (row) => row.pod_id,
  podName: (row) => row.pod_name,
  image: (row) => row.image,
  command: (row) => json<string[]>(row.command_json, []),
  status: (row) => row.status ?? 'unknown',
  state: (row) => stateOf(row.status ?? 'unknown'),
  exitCode: (row) => (row.exit_code === null ? null : Number(row.exit_code)),
  startedAt: (row) => row.started_at,
  finishedAt: (row) => row.finished_at,
  createdAt: (row) => (row.created === '' ? null : row.created),
  labels: (row) => json<Record<string, string>>(row.labels_json, {}),
  mounts: (row) =>
    json<{ name: string; dest: string }[]>(row.mounts_json, []).map((m) => ({ name: m.name, dest: m.dest })),
  networks: (row) => json<string[]>(row.networks_json, []),
};

/** Builds the summaries of rows with exactly `fields`, in summary order. */
function summaryBuilder(fields: readonly ContainerSummaryField[]): (row: ListedRow) => ContainerSummary {
  const builders = fields.map((f) => [f, FIELD_VALUES[f]] as const);
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const [f, value] of builders) out[f] = value(row);
    return out as unknown as ContainerSummary;
  };
}

/** The creation time of the container `ref` names (for `before=`/`since=`). */
async function createdOf(tx: Tx, ref: string): Promise<string> {
  const row = await lookupContainerRow(tx, ref);
  const created = parseStored<{ createdAt?: unknown }>(row.config_json, 'container config').createdAt;
  return typeof created === 'string' ? created : '';
}

/**
 * The containers a checked query selects, as summaries, sorted and limited in SQL.
 * @throws NO_SUCH_CONTAINER, AMBIGUOUS_ID (a `before=`/`since=` reference)
 */
export async function listContainers(tx: Tx, query: CheckedContainerQuery): Promise<ContainerSummary[]> {
  const out: ContainerSummary[] = [];
  await eachContainer(tx, query, (c) => void out.push(c));
  return out;
}

/**
 * Hands each container a checked query selects to `visit`, as a summary, in the
 * listing's order; returns how many there were. Nothing is held but the summary being
 * visited, so a listing of 100,000 costs the memory of what the caller keeps.
 * @throws NO_SUCH_CONTAINER, AMBIGUOUS_ID (a `before=`/`since=` reference); whatever `visit` throws
 */
export async function eachContainer(
  tx: Tx,
  query: CheckedContainerQuery,
  visit: (summary: ContainerSummary) => void,
): Promise<number> {
  const f = query.filters;
  const pg = tx.ctx.exec.backend === 'postgres';
  const params: Record<string, unknown> = { ns: tx.ns };
  const counts: Record<string, number> = {};
  const list = (key: keyof typeof f, values: readonly unknown[]): void => {
    counts[key] = values.length;
    values.forEach((v, i) => (params[`${key}${i}`] = v));
  };
  // References are resolved first: a pod that does not exist matches nothing.
  if (f.pod) {
    const ids: string[] = [];
    for (const ref of f.pod) {
      try {
        ids.push((await lookupPodRow(tx, ref)).id);
      } catch (err) {
        if (!(err instanceof BerthError) || (err.code !== 'NO_SUCH_POD' && err.code !== 'AMBIGUOUS_ID')) throw err;
      }
    }
    if (ids.length === 0) return 0;
    list('pod', ids);
  }
  if (f.before) {
    const times = await Promise.all(f.before.map((ref) => createdOf(tx, ref)));
    counts.before = 1;
    params.before = times.reduce((a, b) => (a > b ? a : b));
  }
  if (f.since) {
    const times = await Promise.all(f.since.map((ref) => createdOf(tx, ref)));
    counts.since = 1;
    params.since = times.reduce((a, b) => (a < b ? a : b));
  }
  if (f.id) {
    counts.id = f.id.length;
    f.id.forEach((v, i) => ((params[`id${i}`] = v), (params[`id${i}_hi`] = prefixUpperBound(v))));
  }
  if (f.name) list('name', f.name);
  if (f.status) {
    counts.status = f.status.length;
    f.status.forEach((word, i) => {
      const [a, b] = STATUS_WORDS[word]!;
      params[`status${2 * i}`] = a;
      params[`status${2 * i + 1}`] = b ?? a;
    });
  }
  if (f.ancestor) {
    counts.ancestor = f.ancestor.length;
    f.ancestor.forEach((x, i) => {
      params[`anc${i}`] = x;
      params[`anc${i}_n1`] = x.length + 1;
      params[`anc${i}_tag`] = `${x}:`;
      params[`anc${i}_digest`] = `${x}@`;
      params[`anc${i}_n`] = x.length + 1;
      params[`anc${i}_suffix`] = `/${x}`;
      params[`anc${i}_tagged`] = `/${x}:`;
    });
  }
  if (f.volume) list('volume', f.volume);
  if (f.namespace) list('namespace', f.namespace);
  if (f.exited) list('exited', f.exited.map(Number));
  const labels = (f.label ?? []).map((v) => labelParam(pg, v));
  labels.forEach((l, i) => (params[`label${i}`] = l.value));
  const notLabels = (f['label!'] ?? []).map((v) => labelParam(pg, v));
  notLabels.forEach((l, i) => (params[`nlabel${i}`] = l.value));
  if (query.limit !== undefined) {
    if (query.limit === 0) return 0;
    params.limit = query.limit;
  }
  const def = listingDef({
    all: query.all,
    counts,
    labelValues: labels.map((l) => l.hasValue),
    notLabelValues: notLabels.map((l) => l.hasValue),
    sort: query.sort,
    limit: query.limit !== undefined,
    fields: query.fields,
  });
  const build = summaryBuilder(query.fields);
  return tx.q.each(def, params, (row) => visit(build(row)));
}

// ---------------------------------------------------------------- pods and volumes

/** A JSON object member of a text document (the labels or options of a pod or volume), `{}` when not an object. */
function objectMember(pg: boolean, doc: string, key: string): RawBuilder<unknown> {
  const column = sql.ref(doc);
  return pg
    ? sql`(CASE WHEN jsonb_typeof(CAST(${column} AS jsonb) -> ${sql.lit(key)}) = 'object'
        THEN CAST(${column} AS jsonb) -> ${sql.lit(key)} ELSE '{}'::jsonb END)`
    : sql`(CASE WHEN json_valid(${column}) AND json_type(${column}, ${sql.lit(`$.${key}`)}) = 'object'
        THEN ${column} -> ${sql.lit(`$.${key}`)} ELSE '{}' END)`;
}

/** The parameters of the `label` filters of a pod or volume listing; says which name a value. */
function documentLabelParams(pg: boolean, values: readonly string[], params: Record<string, unknown>): boolean[] {
  return values.map((value, i) => {
    const l = labelParam(pg, value);
    params[`label${i}`] = l.value;
    return l.hasValue;
  });
}

interface DocumentShape {
  counts: Partial<Record<string, number>>;
  labelValues: readonly boolean[];
}

const podDefs = new Map<string, QueryDef<ListedPodRow>>();

interface ListedPodRow {
  id: string;
  name: string;
  namespace: string;
  config_json: string;
  state_json: string;
  status: PodSummary['status'];
  members: unknown;
}

/**
 * Pods with podman's status, computed in SQL from their containers' summary rows (no
 * containers: Created; all running: Running; some: Degraded; all paused: Paused; all
 * created: Created; else Exited), and their container ids oldest first.
 */
function buildPodListing(db: Db, shape: DocumentShape) {
  const pg = isPostgres(db);
  const count = (k: string): number => shape.counts[k] ?? 0;
  const ids = pg ? sql`json_agg(c.id ORDER BY c.created, c.id)` : sql`json_group_array(c.id ORDER BY c.created, c.id)`;
  const members = db
    .selectFrom('container_summaries as c')
    .where('c.pod_id', 'is not', null)
    .groupBy('c.pod_id')
    .select([
      'c.pod_id',
      sql<number>`count(*)`.as('n'),
      sql<number>`sum(CASE WHEN c.status = 'running' THEN 1 ELSE 0 END)`.as('running'),
      sql<number>`sum(CASE WHEN c.status = 'paused' THEN 1 ELSE 0 END)`.as('paused'),
      sql<number>`sum(CASE WHEN c.status IN ('configured', 'created') THEN 1 ELSE 0 END)`.as('created'),
      sql<unknown>`${ids}`.as('members'),
    ]);
  const status = sql<string>`CASE
    WHEN m.n IS NULL THEN 'Created'
    WHEN m.running = m.n THEN 'Running'
    WHEN m.running > 0 THEN 'Degraded'
    WHEN m.paused = m.n THEN 'Paused'
    WHEN m.created = m.n THEN 'Created'
    ELSE 'Exited' END`;
  const pods = db
    .selectFrom('pods as p')
    .leftJoin(members.as('m'), 'm.pod_id', 'p.id')
    .select([
      sql<number>`p.rowid`.as('ord'),
      'p.id',
      'p.name',
      'p.namespace',
      'p.config_json',
      'p.state_json',
      status.as('status'),
      'm.members',
      sql<unknown>`${objectMember(pg, 'p.config_json', 'labels')}`.as('labels'),
    ])
    .where(sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR p.namespace = ${param('ns')})`);
  const conditions: RawBuilder<boolean>[] = [sql<boolean>`TRUE`];
  const any = (k: string, test: (i: number) => RawBuilder<boolean>): void => {
    if (count(k) > 0)
      conditions.push(
        sql<boolean>`(${sql.join(
          Array.from({ length: count(k) }, (_, i) => test(i)),
          sql` OR `,
        )})`,
      );
  };
  any('id', (i) => sql<boolean>`(x.id >= ${param(`id${i}`)} AND x.id < ${param(`id${i}_hi`)})`);
  any('name', (i) => contains(pg, sql`x.name`, sql`${param(`name${i}`)}`));
  shape.labelValues.forEach((hasValue, i) => conditions.push(labelTest(pg, sql`x.labels`, `label${i}`, hasValue)));
  if (count('status') > 0)
    conditions.push(sql<boolean>`x.status IN (${sql.join(listParams('status', count('status')))})`);
  if (count('namespace') > 0)
    conditions.push(sql<boolean>`x.namespace IN (${sql.join(listParams('namespace', count('namespace')))})`);
  return db
    .selectFrom(pods.as('x'))
    .select(['x.id', 'x.name', 'x.namespace', 'x.config_json', 'x.state_json', 'x.status', 'x.members'])
    .where(sql<boolean>`${sql.join(conditions, sql` AND `)}`)
    .orderBy('x.ord') as never;
}

/** The pods a checked query selects, oldest first, with podman's status. */
export async function listPods(tx: Tx, query: ReturnType<typeof checkPodQuery>): Promise<PodSummary[]> {
  const f = query.filters;
  const pg = tx.ctx.exec.backend === 'postgres';
  const params: Record<string, unknown> = { ns: tx.ns };
  const counts: Record<string, number> = {};
  const list = (key: string, values: readonly string[]): void => {
    counts[key] = values.length;
    values.forEach((v, i) => (params[`${key}${i}`] = v));
  };
  if (f.id) {
    counts.id = f.id.length;
    f.id.forEach((v, i) => ((params[`id${i}`] = v), (params[`id${i}_hi`] = prefixUpperBound(v))));
  }
  if (f.name) list('name', f.name);
  const labelValues = documentLabelParams(pg, f.label ?? [], params);
  // podman's status words are lower case; the listing shows them capitalised.
  if (f.status)
    list(
      'status',
      f.status.map((w) => w.charAt(0).toUpperCase() + w.slice(1)),
    );
  if (f.namespace) list('namespace', f.namespace);
  const shape: DocumentShape = { counts, labelValues };
  const key = JSON.stringify(shape);
  let def = podDefs.get(key);
  if (!def) {
    def = defineQuery<ListedPodRow>(`listPods${podDefs.size}`, (db) => buildPodListing(db, shape));
    podDefs.set(key, def);
  }
  return (await tx.q.all(def, params)).map((row) => {
    const config = parseStored<{ labels?: Record<string, string>; createdAt?: unknown }>(row.config_json, 'pod config');
    const state = parseStored<{ infraContainerId?: unknown }>(row.state_json, 'pod state');
    return {
      id: row.id,
      name: row.name,
      namespace: row.namespace,
      labels: config.labels ?? {},
      createdAt: typeof config.createdAt === 'string' ? config.createdAt : null,
      status: row.status,
      containers: json<string[]>(row.members, []),
      infraContainerId: typeof state.infraContainerId === 'string' ? state.infraContainerId : null,
    };
  });
}

const volumeDefs = new Map<string, QueryDef<ListedVolumeRow>>();

interface ListedVolumeRow {
  name: string;
  namespace: string;
  config_json: string;
  state_json: string;
  users: number;
}

function buildVolumeListing(db: Db, shape: DocumentShape) {
  const pg = isPostgres(db);
  const count = (k: string): number => shape.counts[k] ?? 0;
  const driver = pg
    ? sql<string>`coalesce(CASE WHEN jsonb_typeof(CAST(v.config_json AS jsonb) -> 'driver') = 'string'
        THEN CAST(v.config_json AS jsonb) ->> 'driver' END, 'local')`
    : sql<string>`coalesce(CASE WHEN json_valid(v.config_json) AND json_type(v.config_json, '$.driver') = 'text'
        THEN v.config_json ->> '$.driver' END, 'local')`;
  const volumes = db
    .selectFrom('volumes as v')
    .select([
      sql<number>`v.rowid`.as('ord'),
      'v.name',
      'v.namespace',
      'v.config_json',
      'v.state_json',
      sql<number>`(SELECT count(*) FROM container_volumes cv WHERE cv.volume_name = v.name)`.as('users'),
      driver.as('driver'),
      sql<unknown>`${objectMember(pg, 'v.config_json', 'labels')}`.as('labels'),
    ])
    .where(sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR v.namespace = ${param('ns')})`);
  const conditions: RawBuilder<boolean>[] = [sql<boolean>`TRUE`];
  if (count('name') > 0) {
    const tests = Array.from({ length: count('name') }, (_, i) => contains(pg, sql`x.name`, sql`${param(`name${i}`)}`));
    conditions.push(sql<boolean>`(${sql.join(tests, sql` OR `)})`);
  }
  shape.labelValues.forEach((hasValue, i) => conditions.push(labelTest(pg, sql`x.labels`, `label${i}`, hasValue)));
  if (count('driver') > 0)
    conditions.push(sql<boolean>`x.driver IN (${sql.join(listParams('driver', count('driver')))})`);
  if (count('namespace') > 0)
    conditions.push(sql<boolean>`x.namespace IN (${sql.join(listParams('namespace', count('namespace')))})`);
  // Each `dangling` value must hold (podman: true and false together select nothing).
  for (let i = 0; i < count('dangling'); i++) {
    conditions.push(sql<boolean>`((x.users = 0) = (${param(`dangling${i}`)} = 'true'))`);
  }
  return db
    .selectFrom(volumes.as('x'))
    .select(['x.name', 'x.namespace', 'x.config_json', 'x.state_json', 'x.users'])
    .where(sql<boolean>`${sql.join(conditions, sql` AND `)}`)
    .orderBy('x.ord') as never;
}

/** The volumes a checked query selects, oldest first, with how many containers use each. */
export async function listVolumes(tx: Tx, query: ReturnType<typeof checkVolumeQuery>): Promise<VolumeSummary[]> {
  const f = query.filters;
  const pg = tx.ctx.exec.backend === 'postgres';
  const params: Record<string, unknown> = { ns: tx.ns };
  const counts: Record<string, number> = {};
  const list = (key: string, values: readonly string[]): void => {
    counts[key] = values.length;
    values.forEach((v, i) => (params[`${key}${i}`] = v));
  };
  if (f.name) list('name', f.name);
  const labelValues = documentLabelParams(pg, f.label ?? [], params);
  if (f.driver) list('driver', f.driver);
  if (f.namespace) list('namespace', f.namespace);
  if (f.dangling) list('dangling', f.dangling);
  const shape: DocumentShape = { counts, labelValues };
  const key = JSON.stringify(shape);
  let def = volumeDefs.get(key);
  if (!def) {
    def = defineQuery<ListedVolumeRow>(`listVolumes${volumeDefs.size}`, (db) => buildVolumeListing(db, shape));
    volumeDefs.set(key, def);
  }
  return (await tx.q.all(def, params)).map((row) => {
    const config = parseStored<{
      driver?: unknown;
      labels?: Record<string, string>;
      options?: Record<string, string>;
      createdAt?: unknown;
    }>(row.config_json, 'volume config');
    const state = parseStored<{ mountPoint?: unknown }>(row.state_json, 'volume state');
    return {
      name: row.name,
      namespace: row.namespace,
      driver: typeof config.driver === 'string' ? config.driver : 'local',
      labels: config.labels ?? {},
      options: config.options ?? {},
      createdAt: typeof config.createdAt === 'string' ? config.createdAt : null,
      mountPoint: typeof state.mountPoint === 'string' ? state.mountPoint : null,
      users: Number(row.users),
    };
  });
}
