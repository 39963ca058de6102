import { sql, type Kysely, type RawBuilder } from 'kysely';
import { defineQuery, param, type QueryDef } from '../../db/query.js';
import type { ContainerSummaryRow, Database } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { lookupContainerRow, lookupPodRow } from '../rules/lookup.js';
import type { ContainerSummary, PodSummary, VolumeSummary } from '../types.js';
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
 * The test of one `label`/`label!` value on a JSON labels document: on SQLite the labels
 * are JSON.stringify's text, in which `"key":"value"` (or `"key":`) occurs exactly when
 * the label is set (every quote inside a key or value is escaped); on PostgreSQL jsonb
 * containment and key existence.
 */
function labelTest(pg: boolean, column: RawBuilder<unknown>, name: string, hasValue: boolean): RawBuilder<boolean> {
  if (pg) {
    return hasValue
      ? sql<boolean>`(${column} @> CAST(${param(name)} AS jsonb))`
      : sql<boolean>`jsonb_exists(${column}, ${param(name)})`;
  }
  return contains(false, column, sql`${param(name)}`);
}

/** The parameter value of a `label` filter value for `labelTest`. */
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

const summaryColumns = [
  's.created',
  's.id',
  's.name',
  's.namespace',
  's.pod_id',
  's.image',
  's.command_json',
  's.status',
  's.exit_code',
  's.started_at',
  's.finished_at',
  's.labels_json',
  's.mounts_json',
  's.networks_json',
] as const;

type ListedRow = ContainerSummaryRow & { pod_name: string | null };

/** The shape of a container query: what its statement depends on (values are parameters). */
interface ListingShape {
  all: boolean;
  counts: Partial<Record<string, number>>;
  labelValues: boolean[];
  notLabelValues: boolean[];
  sort: CheckedContainerQuery['sort'];
  limit: boolean;
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
  shape.labelValues.forEach((hasValue, i) => add(labelTest(pg, sql`s.labels_json`, `label${i}`, hasValue)));
  shape.notLabelValues.forEach((hasValue, i) =>
    add(sql<boolean>`NOT ${labelTest(pg, sql`s.labels_json`, `nlabel${i}`, hasValue)}`),
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
  const select = db
    .selectFrom('container_summaries as s')
    .leftJoin('pods as p', 'p.id', 's.pod_id')
    .select([...summaryColumns, 'p.name as pod_name'])
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

function toSummary(row: ListedRow): ContainerSummary {
  const status = row.status ?? 'unknown';
  return {
    id: row.id,
    name: row.name,
    namespace: row.namespace,
    pod: row.pod_id,
    podName: row.pod_name,
    image: row.image,
    command: json<string[]>(row.command_json, []),
    status,
    state: stateOf(status),
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    createdAt: row.created === '' ? null : row.created,
    labels: json<Record<string, string>>(row.labels_json, {}),
    mounts: json<{ name: string; dest: string }[]>(row.mounts_json, []).map((m) => ({ name: m.name, dest: m.dest })),
    networks: json<string[]>(row.networks_json, []),
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
    if (ids.length === 0) return [];
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
    if (query.limit === 0) return [];
    params.limit = query.limit;
  }
  const def = listingDef({
    all: query.all,
    counts,
    labelValues: labels.map((l) => l.hasValue),
    notLabelValues: notLabels.map((l) => l.hasValue),
    sort: query.sort,
    limit: query.limit !== undefined,
  });
  return (await tx.q.all(def, params)).map(toSummary);
}

// ---------------------------------------------------------------- pods

const podRows = defineQuery('listPods', (db) =>
  db
    .selectFrom('pods')
    .select(['id', 'name', 'namespace', 'config_json', 'state_json'])
    .where(sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR namespace = ${param('ns')})`)
    .orderBy(sql`rowid`),
);
const podMembers = defineQuery('listPodMembers', (db) =>
  db
    .selectFrom('container_summaries')
    .select(['pod_id', 'id', 'status'])
    .where('pod_id', 'is not', null)
    .orderBy('created')
    .orderBy('id'),
);

/** podman's status of a pod from its containers' states. */
function podStatus(states: string[]): PodSummary['status'] {
  if (states.length === 0) return 'Created';
  const all = (s: string): boolean => states.every((x) => x === s);
  if (all('running')) return 'Running';
  if (states.includes('running')) return 'Degraded';
  if (all('paused')) return 'Paused';
  if (all('created')) return 'Created';
  return 'Exited';
}

/** Whether a labels map passes a `label` filter value (`key` or `key=value`). */
function hasLabel(labels: Record<string, unknown>, filter: string): boolean {
  const at = filter.indexOf('=');
  if (at < 0) return Object.hasOwn(labels, filter);
  const key = filter.slice(0, at);
  return Object.hasOwn(labels, key) && labels[key] === filter.slice(at + 1);
}

/** The pods a checked query selects, oldest first, with podman's status. */
export async function listPods(tx: Tx, query: ReturnType<typeof checkPodQuery>): Promise<PodSummary[]> {
  const f = query.filters;
  const members = new Map<string, { ids: string[]; states: string[] }>();
  for (const m of await tx.q.all(podMembers, {})) {
    const entry = members.get(m.pod_id!) ?? { ids: [], states: [] };
    entry.ids.push(m.id);
    entry.states.push(stateOf(m.status));
    members.set(m.pod_id!, entry);
  }
  const out: PodSummary[] = [];
  for (const row of await tx.q.all(podRows, { ns: tx.ns })) {
    const config = parseStored<{ labels?: Record<string, string>; createdAt?: unknown }>(row.config_json, 'pod config');
    const state = parseStored<{ infraContainerId?: unknown }>(row.state_json, 'pod state');
    const labels = config.labels ?? {};
    const m = members.get(row.id) ?? { ids: [], states: [] };
    const summary: PodSummary = {
      id: row.id,
      name: row.name,
      namespace: row.namespace,
      labels,
      createdAt: typeof config.createdAt === 'string' ? config.createdAt : null,
      status: podStatus(m.states),
      containers: m.ids,
      infraContainerId: typeof state.infraContainerId === 'string' ? state.infraContainerId : null,
    };
    const keep =
      (!f.id || f.id.some((p) => row.id.startsWith(p))) &&
      (!f.name || f.name.some((n) => row.name.includes(n))) &&
      (f.label ?? []).every((l) => hasLabel(labels, l)) &&
      (!f.status || f.status.includes(summary.status.toLowerCase())) &&
      (!f.namespace || f.namespace.includes(row.namespace));
    if (keep) out.push(summary);
  }
  return out;
}

// ---------------------------------------------------------------- volumes

const volumeRows = defineQuery('listVolumes', (db) =>
  db
    .selectFrom('volumes as v')
    .select([
      'v.name',
      'v.namespace',
      'v.config_json',
      'v.state_json',
      sql<number>`(SELECT count(*) FROM container_volumes cv WHERE cv.volume_name = v.name)`.as('users'),
    ])
    .where(sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR v.namespace = ${param('ns')})`)
    .orderBy(sql`v.rowid`),
);

/** The volumes a checked query selects, oldest first, with how many containers use each. */
export async function listVolumes(tx: Tx, query: ReturnType<typeof checkVolumeQuery>): Promise<VolumeSummary[]> {
  const f = query.filters;
  const out: VolumeSummary[] = [];
  for (const row of await tx.q.all(volumeRows, { ns: tx.ns })) {
    const config = parseStored<{
      driver?: unknown;
      labels?: Record<string, string>;
      options?: Record<string, string>;
      createdAt?: unknown;
    }>(row.config_json, 'volume config');
    const state = parseStored<{ mountPoint?: unknown }>(row.state_json, 'volume state');
    const summary: VolumeSummary = {
      name: row.name,
      namespace: row.namespace,
      driver: typeof config.driver === 'string' ? config.driver : 'local',
      labels: config.labels ?? {},
      options: config.options ?? {},
      createdAt: typeof config.createdAt === 'string' ? config.createdAt : null,
      mountPoint: typeof state.mountPoint === 'string' ? state.mountPoint : null,
      users: Number(row.users),
    };
    const keep =
      (!f.name || f.name.some((n) => row.name.includes(n))) &&
      (f.label ?? []).every((l) => hasLabel(summary.labels, l)) &&
      (!f.driver || f.driver.includes(summary.driver)) &&
      (!f.namespace || f.namespace.includes(row.namespace)) &&
      (!f.dangling || f.dangling.every((d) => (d === 'true') === (summary.users === 0)));
    if (keep) out.push(summary);
  }
  return out;
}
