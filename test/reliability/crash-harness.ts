import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import type * as S from '../../src/db/schema.js';
import { isBerthError, loadManifest, openStore } from '../../src/index.js';
import {
  actorOf,
  APPLY_WORKSPACES,
  canonical,
  HISTORY_LIMIT,
  isIntent,
  isOutcome,
  OBJECT_NAMESPACES,
  prng,
  sha256,
  STATE_WORKSPACES,
  tagOfName,
  workerSeed,
  workerTag,
  type Intent,
  type LogLine,
  type Outcome,
  type Projection,
  type WorkerConfig,
} from './crash-model.js';

/*
 * The crash harness of issue 8: worker processes do seeded random writes against one
 * SQLite store and are killed with SIGKILL at random moments, hundreds of times; then
 * checkRun() checks the store as a whole against DESIGN.md §3–5, the event journal and
 * every acknowledged write.
 *
 * Workers start cheaply: one is started per kill, so on the 2-core reference machine
 * their start-up is most of the run. CPU until the store is open, measured there:
 * - node itself: 0.06–0.08 s;
 * - `node --import tsx` on src/: ~1.0 s; the built dist/: ~0.3 s (kysely's hundreds
 *   of ES modules; pg is loaded eagerly);
 * - one esbuild bundle of workers/crash-worker.ts with berth's *sources*, pg stubbed
 *   out: ~0.15–0.18 s. It runs the current src/ (dist/ may be stale while src/ is
 *   edited), and the worker stays TypeScript, type-checked with the rest of test/;
 * - that bundle as CommonJS, compiled from a V8 code cache that a warm-up run of the
 *   worker fills (workers/crash-loader.cjs), under `--no-opt`: ~0.09–0.12 s, and about
 *   twice as many calls per CPU second afterwards — a process that lives a tenth of a
 *   second spends more on TurboFan's background compiles than it gains from them.
 * Bundling and the warm-up take about a second when the run starts. Each worker then
 * loops over calls until it is killed.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WORKER_SOURCE = fileURLToPath(new URL('./workers/crash-worker.ts', import.meta.url));
const LOADER = fileURLToPath(new URL('./workers/crash-loader.cjs', import.meta.url));
const requireFromRepo = createRequire(import.meta.url);

/** The actors of the parent's own writes (the set-up, and using the store after the run). */
export const SETUP_ACTOR = 'crash-setup@test';
export const CHECK_ACTOR = 'crash-check@test';

/** How to start a worker: `node` with these arguments, and its config in BERTH_CRASH_WORKER. */
export type WorkerCommand = string[];

/**
 * Bundles the worker into `dir` and fills its code cache with a warm-up run against a
 * scratch store. The bundle sits two folders below `dir`, next to a link to the
 * migrations, because berth finds them at `../../migrations` from its own module.
 */
export async function buildWorker(dir: string): Promise<WorkerCommand> {
  const outfile = join(dir, 'bundle', 'worker', 'crash-worker.cjs');
  mkdirSync(join(dir, 'bundle', 'worker'), { recursive: true });
  if (!existsSync(join(dir, 'migrations'))) symlinkSync(join(REPO, 'migrations'), join(dir, 'migrations'), 'dir');
  const sqlite = requireFromRepo.resolve('better-sqlite3');
  const warmStore = join(dir, 'warm-up.db');
  await Promise.all([
    createStore(warmStore),
    build({
      entryPoints: [WORKER_SOURCE],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'warning',
      define: { 'import.meta.url': 'crashBundleUrl' },
      banner: { js: "var crashBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
      plugins: [
        {
          name: 'crash-worker',
          setup(b) {
            // A native module: loaded from the repository, where it was compiled.
            b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqlite, external: true }));
            // The worker never opens PostgreSQL.
            b.onResolve({ filter: /^pg(-native)?$/ }, (args) => ({ path: args.path, namespace: 'no-pg' }));
            b.onLoad({ filter: /.*/, namespace: 'no-pg' }, () => ({ contents: 'export default {};', loader: 'js' }));
          },
        },
      ],
    }),
  ]);
  const command = ['--no-opt', LOADER, outfile];
  const warmUp: WorkerConfig = { store: warmStore, log: join(dir, 'warm-up.log'), k: 999_999, seed: 1, warmupOps: 150 };
  const child = spawn(process.execPath, [...command, '--make-cache'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BERTH_CRASH_WORKER: JSON.stringify(warmUp) },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  const log = existsSync(warmUp.log) ? readFileSync(warmUp.log, 'utf8') : '';
  // Not killed, it must have ended cleanly, and seen nothing berth should not have done.
  if (code !== 0 || log.includes('"violation"')) {
    throw new Error(
      `the warm-up worker ended with ${code ?? signal}:\n${stderr}\n${log
        .split('\n')
        .filter((l) => l.includes('"violation"'))
        .join('\n')}`,
    );
  }
  return command;
}

/** What a run is asked to do. */
export interface RunOptions {
  dir: string;
  seed: number;
  /** Workers to start; every one ends killed with SIGKILL. */
  kills: number;
  /** Workers running at once. */
  concurrency: number;
  /** The parent kills most workers within this many ms of being ready (seeded per worker, see killPlan). */
  maxDelayMs: number;
}

/** One worker of a run and how it ended. */
export interface WorkerRun {
  k: number;
  seed: number;
  log: string;
  /** The kill delay the parent drew for it. */
  delayMs: number;
  /** Who sent the SIGKILL: the parent's timer, or the worker itself inside a transaction. */
  killedBy: 'parent' | 'self';
}

export interface CrashRun {
  options: RunOptions;
  store: string;
  workers: WorkerRun[];
  wallMs: number;
}

/**
 * How worker `k` is to die, seeded so that a run can be repeated: most workers are
 * killed by the parent within `maxDelayMs` of being ready; one in six lives up to three
 * times as long, so that slow calls (plan and apply under contention) also complete;
 * and one in four kills itself inside the transaction of its first object transaction
 * or apply from call `selfKillFrom` on (with the parent's kill as a late backstop).
 */
export function killPlan(seed: number, k: number, maxDelayMs: number): { delayMs: number; selfKillFrom?: number } {
  const rnd = prng(workerSeed(seed, k) ^ 0x5bd1e995);
  const r = rnd();
  if (r < 1 / 4) return { delayMs: Math.floor(maxDelayMs * (5 + 5 * rnd())), selfKillFrom: Math.floor(rnd() * 3) };
  if (r < 1 / 4 + 1 / 6) return { delayMs: Math.floor(maxDelayMs * (1 + 2 * rnd())) };
  return { delayMs: Math.floor(maxDelayMs * rnd()) };
}

/** Creates the store with every workspace the workers use, so they only open it. */
async function createStore(path: string): Promise<void> {
  const store = await openStore({ path, actor: SETUP_ACTOR, historyLimit: HISTORY_LIMIT });
  try {
    const namespaces = new Set<string>([
      ...OBJECT_NAMESPACES,
      ...STATE_WORKSPACES.map(([ns]) => ns),
      ...APPLY_WORKSPACES.map(([ns]) => ns),
    ]);
    // Every namespace's default workspace, made now: nobody creates it on the way later.
    for (const ns of namespaces) await store.withNamespace(ns).workspaces.get('default');
    for (const [ns, ws] of [...STATE_WORKSPACES, ...APPLY_WORKSPACES]) {
      if (ws !== 'default') await store.withNamespace(ns).workspaces.create(ws);
    }
  } finally {
    await store.close();
  }
}

/**
 * Runs `kills` workers, `concurrency` at a time, each killed with SIGKILL; resolves when
 * the last one is dead. Fails when a worker ends any other way.
 */
export async function runCrash(options: RunOptions): Promise<CrashRun> {
  const started = Date.now();
  const store = join(options.dir, 'berth.db');
  const logs = join(options.dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const [command] = await Promise.all([buildWorker(options.dir), createStore(store)]);
  const workers: WorkerRun[] = [];
  let next = 0;
  let running = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const startNext = (): void => {
      if (failed) return;
      if (next >= options.kills) {
        if (running === 0) resolve();
        return;
      }
      const k = next++;
      running++;
      const { delayMs, selfKillFrom } = killPlan(options.seed, k, options.maxDelayMs);
      const cfg: WorkerConfig = {
        store,
        log: join(logs, `${workerTag(k)}.log`),
        k,
        seed: workerSeed(options.seed, k),
        ...(selfKillFrom !== undefined && { selfKillFrom }),
      };
      const child = spawn(process.execPath, command, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BERTH_CRASH_WORKER: JSON.stringify(cfg) },
      });
      let stderr = '';
      let killed = false;
      let timer: NodeJS.Timeout | undefined;
      const fail = (why: string): void => {
        if (failed) return;
        failed = true;
        reject(new Error(`worker ${workerTag(k)} (seed ${cfg.seed}) ${why}\n${stderr}`));
      };
      // A worker that never gets ready is stuck: fail rather than hang.
      const watchdog = setTimeout(() => {
        child.kill('SIGKILL');
        fail('was not ready within 20 s');
      }, 20_000);
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        if (timer === undefined && d.includes('ready')) {
          clearTimeout(watchdog);
          timer = setTimeout(() => {
            killed = true;
            child.kill('SIGKILL');
          }, delayMs);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(watchdog);
        if (timer) clearTimeout(timer);
        running--;
        if (signal !== 'SIGKILL') return fail(`ended by itself (code ${code}, signal ${signal})`);
        workers.push({ k, seed: cfg.seed, log: cfg.log, delayMs, killedBy: killed ? 'parent' : 'self' });
        startNext();
      });
    };
    for (let i = 0; i < options.concurrency; i++) startNext();
  });
  workers.sort((a, b) => a.k - b.k);
  // A lock tied to no process (pid 0) goes stale only when its lease runs out: wait for
  // that, so that every lock a dead worker left is stale when the run is checked.
  const db = new Database(store, { readonly: true });
  const { until } = db.prepare('SELECT max(expires_at) AS until FROM locks WHERE pid = 0').get() as {
    until: number | null;
  };
  db.close();
  if (until !== null && until > Date.now())
    await new Promise((resolve) => setTimeout(resolve, until - Date.now() + 10));
  return { options, store, workers, wallMs: Date.now() - started };
}

// ------------------------------------------------------------------- the checker

/** Counts that show what a run exercised. */
export interface CheckStats {
  workers: number;
  killedByParent: number;
  /** Workers that killed themselves inside a transaction (an object transaction or an apply). */
  selfKilledInTransaction: number;
  /** Log lines checked: acknowledged calls, and calls that failed as they may. */
  acknowledged: number;
  acknowledgedByOp: Record<string, number>;
  failedAsAllowed: number;
  /** Calls a kill interrupted (intent logged, no outcome), and how many of them committed. */
  inFlightAtKill: number;
  inFlightByOp: Record<string, number>;
  inFlightCommitted: number;
  /** Applies killed (by the parent) while holding their workspace lock: in or right before their transaction. */
  appliesKilledHoldingLock: number;
  events: number;
  containers: number;
  stateVersions: number;
  staleLocks: number;
}

export interface CheckReport {
  problems: string[];
  stats: CheckStats;
}

interface Row {
  [column: string]: unknown;
}

interface EventRow {
  seq: number;
  namespace: string;
  type: string;
  subject_kind: string;
  subject_id: string | null;
  subject_name: string | null;
  actor: string;
  data: Record<string, unknown>;
}

// The raw rows the checker reads, as the schema declares them (the columns it selects).
type WorkspaceRow = Pick<S.WorkspaceRow, 'namespace' | 'name' | 'lineage' | 'serial' | 'state_json' | 'checksum'>;
type VersionRow = Pick<
  S.StateVersionRow,
  'namespace' | 'workspace' | 'serial' | 'lineage' | 'checksum' | 'state_json' | 'operation'
>;
type LockRow = Pick<S.LockRow, 'key' | 'id' | 'pid' | 'fencing_token'>;
type ObjectColumns = 'namespace' | 'workspace' | 'config_json' | 'state_json';

/** One logged call: its intent and, unless a kill interrupted it, its outcome. */
interface LoggedCall {
  intent: Intent;
  outcome?: Outcome;
}

interface WorkerLog {
  worker: WorkerRun;
  calls: LoggedCall[];
  violations: string[];
}

function readLog(worker: WorkerRun, problems: string[]): WorkerLog {
  const calls = new Map<number, LoggedCall>();
  const violations: string[] = [];
  const text = existsSync(worker.log) ? readFileSync(worker.log, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l !== '');
  for (const [i, raw] of lines.entries()) {
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      // Only the very last line can be cut short by the kill (it was never acknowledged).
      if (i !== lines.length - 1) problems.push(`${workerTag(worker.k)}: log line ${i + 1} is not JSON: ${raw}`);
      continue;
    }
    if (isIntent(line)) calls.set(line.n, { intent: line });
    else if (isOutcome(line)) {
      const call = calls.get(line.n);
      if (call) call.outcome = line;
      else problems.push(`${workerTag(worker.k)}: outcome of op ${line.n} without its intent`);
    } else violations.push(line.violation);
  }
  return { worker, calls: [...calls.values()].sort((a, b) => a.intent.n - b.intent.n), violations };
}

const parse = (text: string | null): Record<string, unknown> =>
  text === null ? {} : (JSON.parse(text) as Record<string, unknown>);

/**
 * Checks a store after a crash run. `workers` are the logs to hold it to (all of the run's).
 * Reads the file with a raw read-only connection first, then through berth (which must
 * open it); changes nothing. Returns every problem found (empty: all good).
 */
export async function checkRun(store: string, workers: readonly WorkerRun[]): Promise<CheckReport> {
  const problems: string[] = [];
  const logs = workers.map((w) => readLog(w, problems));
  for (const log of logs)
    for (const v of log.violations) problems.push(`${workerTag(log.worker.k)} (seed ${log.worker.seed}): ${v}`);
  const stats: CheckStats = {
    workers: workers.length,
    killedByParent: workers.filter((w) => w.killedBy === 'parent').length,
    selfKilledInTransaction: workers.filter((w) => w.killedBy === 'self').length,
    acknowledged: 0,
    acknowledgedByOp: {},
    failedAsAllowed: 0,
    inFlightAtKill: 0,
    inFlightByOp: {},
    inFlightCommitted: 0,
    appliesKilledHoldingLock: 0,
    events: 0,
    containers: 0,
    stateVersions: 0,
    staleLocks: 0,
  };

  const db = new Database(store, { readonly: true, fileMustExist: true });
  let tables: ReturnType<typeof readTables>;
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') problems.push(`PRAGMA integrity_check: ${String(integrity)}`);
    for (const fk of db.pragma('foreign_key_check') as Row[])
      problems.push(`PRAGMA foreign_key_check: ${JSON.stringify(fk)}`);
    tables = db.transaction(() => readTables(db))();
  } finally {
    db.close();
  }
  stats.events = tables.events.length;
  stats.containers = tables.containers.length;
  stats.stateVersions = tables.versions.length;

  checkObjects(tables, problems);
  checkWorkspaces(tables, problems);
  checkLocks(tables, problems);
  checkEvents(tables, problems);
  checkAcknowledged(tables, logs, stats, problems);
  await checkThroughBerth(store, tables, logs, stats, problems);
  return { problems, stats };
}

type Tables = ReturnType<typeof readTables>;

function readTables(db: Database.Database) {
  const all = <T>(sql: string): T[] => db.prepare(sql).all() as T[];
  const events = all<Omit<EventRow, 'data'> & { data_json: string }>('SELECT * FROM events ORDER BY seq').map(
    ({ data_json, ...e }) => ({ ...e, data: parse(data_json) }) as EventRow,
  );
  const meta = new Map(
    all<{ key: string; value: string }>('SELECT key, value FROM berth_meta').map((r) => [r.key, r.value]),
  );
  return {
    containers: all<Pick<S.ContainerRow, 'id' | 'name' | 'pod_id' | ObjectColumns>>(
      'SELECT id, name, namespace, pod_id, workspace, config_json, state_json FROM containers',
    ),
    pods: all<Pick<S.PodRow, 'id' | 'name' | ObjectColumns>>(
      'SELECT id, name, namespace, workspace, config_json, state_json FROM pods',
    ),
    volumes: all<Pick<S.VolumeRow, 'name' | ObjectColumns>>(
      'SELECT name, namespace, workspace, config_json, state_json FROM volumes',
    ),
    dependencies: all<S.ContainerDependencyRow>('SELECT * FROM container_dependencies'),
    volumeUses: all<S.ContainerVolumeRow>('SELECT * FROM container_volumes'),
    summaries: all<S.ContainerSummaryRow>('SELECT * FROM container_summaries'),
    execSessions: all<S.ExecSessionRow>('SELECT id, container_id FROM exec_sessions'),
    workspaces: all<WorkspaceRow>('SELECT namespace, name, lineage, serial, state_json, checksum FROM workspaces'),
    versions: all<VersionRow>(
      'SELECT namespace, workspace, serial, lineage, checksum, state_json, operation FROM state_versions ORDER BY namespace, workspace, serial',
    ),
    locks: all<LockRow>('SELECT key, id, pid, fencing_token FROM locks'),
    events,
    meta,
    eventSequence:
      (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get() as { seq: number } | undefined)?.seq ??
      0,
  };
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const WORKSPACE_LABEL = 'berth.workspace';

/** DESIGN.md §3 on the rows: unique ids and names, references, namespaces, and columns agreeing with documents. */
function checkObjects(t: Tables, problems: string[]): void {
  const byId = new Map(t.containers.map((c) => [c.id, c]));
  const pods = new Map(t.pods.map((p) => [p.id, p]));
  const volumes = new Map(t.volumes.map((v) => [v.name, v]));
  const group = <R>(rows: readonly R[], key: (r: R) => string, value: (r: R) => string): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const r of rows) out.set(key(r), [...(out.get(key(r)) ?? []), value(r)]);
    return out;
  };
  const depRows = group(
    t.dependencies,
    (d) => d.container_id,
    (d) => d.dependency_id,
  );
  const useRows = group(
    t.volumeUses,
    (u) => u.container_id,
    (u) => u.volume_name,
  );
  const summaries = new Map(t.summaries.map((r) => [r.id, r]));
  if (t.summaries.length !== t.containers.length) {
    problems.push(`${t.summaries.length} listing rows for ${t.containers.length} containers`);
  }
  for (const c of t.containers) {
    const what = `container ${c.name} (${c.id})`;
    const config = parse(c.config_json) as {
      id?: string;
      name?: string;
      namespace?: string;
      pod?: string;
      labels?: Record<string, string>;
      dependencies?: string[];
      namedVolumes?: Array<{ name: string }>;
    };
    if (!NAME.test(c.name)) problems.push(`${what}: invalid name`);
    if (
      config.id !== c.id ||
      config.name !== c.name ||
      config.namespace !== c.namespace ||
      (config.pod ?? null) !== c.pod_id
    ) {
      problems.push(`${what}: columns and config disagree (${JSON.stringify({ ...config, labels: undefined })})`);
    }
    if ((config.labels?.[WORKSPACE_LABEL] ?? null) !== c.workspace)
      problems.push(`${what}: workspace column ${c.workspace}`);
    // The listing row (kept by triggers) says what the documents say.
    const summary = summaries.get(c.id);
    const state = parse(c.state_json) as { status?: unknown; exitCode?: unknown };
    if (
      !summary ||
      summary.name !== c.name ||
      summary.namespace !== c.namespace ||
      summary.pod_id !== c.pod_id ||
      summary.status !== (typeof state.status === 'string' ? state.status : null) ||
      JSON.stringify(JSON.parse(summary.labels_json as string)) !== JSON.stringify(config.labels ?? {})
    ) {
      problems.push(`${what}: its listing row disagrees with its documents (${JSON.stringify(summary)})`);
    }
    if (c.pod_id !== null) {
      const pod = pods.get(c.pod_id);
      if (!pod) problems.push(`${what} points at missing pod ${c.pod_id}`);
      else if (pod.namespace !== c.namespace)
        problems.push(`${what}: pod ${pod.name} is in namespace ${pod.namespace}`);
    }
    const deps = depRows.get(c.id) ?? [];
    if (canonical([...deps].sort()) !== canonical([...(config.dependencies ?? [])].sort())) {
      problems.push(
        `${what}: dependency rows ${JSON.stringify(deps)} differ from its config ${JSON.stringify(config.dependencies)}`,
      );
    }
    for (const dep of config.dependencies ?? []) {
      const target = byId.get(dep);
      if (!target) problems.push(`${what} points at missing dependency ${dep}`);
      else if (target.pod_id !== c.pod_id || target.namespace !== c.namespace) {
        problems.push(`${what}: dependency ${target.name} is in another pod or namespace`);
      }
    }
    const uses = useRows.get(c.id) ?? [];
    const declared = [...new Set((config.namedVolumes ?? []).map((v) => v.name))];
    if (canonical([...uses].sort()) !== canonical(declared.sort())) {
      problems.push(`${what}: volume rows ${JSON.stringify(uses)} differ from its config ${JSON.stringify(declared)}`);
    }
    for (const v of declared) {
      const vol = volumes.get(v);
      if (!vol) problems.push(`${what} points at missing volume ${v}`);
      else if (vol.namespace !== c.namespace) problems.push(`${what}: volume ${v} is in namespace ${vol.namespace}`);
    }
  }
  for (const p of t.pods) {
    const config = parse(p.config_json) as {
      id?: string;
      name?: string;
      namespace?: string;
      labels?: Record<string, string>;
    };
    if (!NAME.test(p.name)) problems.push(`pod ${p.name}: invalid name`);
    if (config.id !== p.id || config.name !== p.name || config.namespace !== p.namespace)
      problems.push(`pod ${p.name}: columns and config disagree`);
    if ((config.labels?.[WORKSPACE_LABEL] ?? null) !== p.workspace)
      problems.push(`pod ${p.name}: workspace column ${p.workspace}`);
  }
  for (const v of t.volumes) {
    const config = parse(v.config_json) as { name?: string; namespace?: string; labels?: Record<string, string> };
    if (config.name !== v.name || config.namespace !== v.namespace)
      problems.push(`volume ${v.name}: columns and config disagree`);
    if ((config.labels?.[WORKSPACE_LABEL] ?? null) !== v.workspace)
      problems.push(`volume ${v.name}: workspace column ${v.workspace}`);
  }
  // Ids and names are unique across containers and pods together.
  const ids = [...t.containers.map((c) => c.id), ...t.pods.map((p) => p.id)];
  const names = [...t.containers.map((c) => c.name), ...t.pods.map((p) => p.name)];
  if (new Set(ids).size !== ids.length || new Set(names).size !== names.length) {
    problems.push(`a container and a pod share an id or a name`);
  }
  for (const d of t.dependencies)
    if (!byId.has(d.container_id)) problems.push(`dependency row of missing container ${d.container_id}`);
  for (const u of t.volumeUses)
    if (!byId.has(u.container_id)) problems.push(`volume row of missing container ${u.container_id}`);
  for (const s of t.execSessions)
    if (!byId.has(s.container_id)) problems.push(`exec session ${s.id} points at missing container ${s.container_id}`);
}

const wsKey = (ns: string, ws: string): string => `${ns}/${ws}`;

/** DESIGN.md §4: serials, checksums, and history contiguous up to the current serial within retention. */
function checkWorkspaces(t: Tables, problems: string[]): void {
  const versions = new Map<string, VersionRow[]>();
  for (const v of t.versions) {
    const key = wsKey(v.namespace, v.workspace);
    versions.set(key, [...(versions.get(key) ?? []), v]);
  }
  const known = new Set(t.workspaces.map((w) => wsKey(w.namespace, w.name)));
  for (const key of versions.keys()) if (!known.has(key)) problems.push(`history rows of missing workspace ${key}`);
  for (const ns of new Set([
    ...OBJECT_NAMESPACES,
    ...STATE_WORKSPACES.map(([n]) => n),
    ...APPLY_WORKSPACES.map(([n]) => n),
  ])) {
    if (!known.has(wsKey(ns, 'default'))) problems.push(`namespace ${JSON.stringify(ns)} has no default workspace`);
  }
  for (const w of t.workspaces) {
    const key = wsKey(w.namespace, w.name);
    if ((w.serial === 0) !== (w.state_json === null) || (w.state_json === null) !== (w.checksum === null)) {
      problems.push(
        `workspace ${key}: serial ${w.serial} with state ${w.state_json === null ? 'null' : 'set'}, checksum ${w.checksum}`,
      );
    }
    if (w.state_json !== null && sha256(w.state_json) !== w.checksum)
      problems.push(`workspace ${key}: checksum does not match its state`);
    const history = versions.get(key) ?? [];
    const first = Math.max(1, w.serial - HISTORY_LIMIT + 1);
    const serials = history.map((v) => v.serial);
    const expected = w.serial === 0 ? [] : Array.from({ length: w.serial - first + 1 }, (_, i) => first + i);
    if (canonical(serials) !== canonical(expected)) {
      problems.push(
        `workspace ${key} at serial ${w.serial}: history serials ${summarise(serials)}, expected ${summarise(expected)}`,
      );
    }
    for (const v of history) {
      if (v.lineage !== w.lineage)
        problems.push(`workspace ${key} serial ${v.serial}: lineage ${v.lineage}, not ${w.lineage}`);
      if (v.state_json !== null && sha256(v.state_json) !== v.checksum)
        problems.push(`workspace ${key} serial ${v.serial}: checksum does not match`);
    }
    const newest = history[history.length - 1];
    if (
      w.serial > 0 &&
      (!newest || newest.serial !== w.serial || newest.checksum !== w.checksum || newest.state_json !== w.state_json)
    ) {
      problems.push(`workspace ${key}: its current state is not the newest version in history`);
    }
  }
}

function summarise(xs: number[]): string {
  if (xs.length === 0) return '[]';
  const gaps = xs.filter((x, i) => i > 0 && x !== xs[i - 1]! + 1);
  return `${xs[0]}..${xs[xs.length - 1]} (${xs.length}${gaps.length ? `, breaks at ${gaps.slice(0, 5).join(', ')}` : ''})`;
}

/** DESIGN.md §5: every lock is of an existing workspace, with its own fencing token. */
function checkLocks(t: Tables, problems: string[]): void {
  const known = new Set(t.workspaces.map((w) => `workspace:${w.namespace}/${w.name}`));
  const tokens = new Set<number>();
  const counter = Number(t.meta.get('fencing_token') ?? 0);
  for (const l of t.locks) {
    if (!known.has(l.key)) problems.push(`lock ${l.id} on ${l.key}: no such workspace`);
    if (tokens.has(l.fencing_token)) problems.push(`lock ${l.id}: fencing token ${l.fencing_token} used twice`);
    tokens.add(l.fencing_token);
    if (l.fencing_token > counter)
      problems.push(`lock ${l.id}: fencing token ${l.fencing_token} above the counter ${counter}`);
  }
}

/** The events of each subject of one kind, in commit order, by subject id or name. */
function eventsBySubject(events: readonly EventRow[], kind: string, by: 'id' | 'name'): Map<string, EventRow[]> {
  const out = new Map<string, EventRow[]>();
  for (const e of events) {
    const key = by === 'id' ? e.subject_id : e.subject_name;
    if (e.subject_kind !== kind || key === null) continue;
    const list = out.get(key);
    if (list) list.push(e);
    else out.set(key, [e]);
  }
  return out;
}

/**
 * Events and changes agree: every change has its event and every event's change is
 * there — per object (its last event says it exists, under its current name), per exec
 * session, per state version, per lock, and per apply (one transaction: start, changes,
 * state, finish, nothing else in between).
 */
function checkEvents(t: Tables, problems: string[]): void {
  const pruned = Number(t.meta.get('events_pruned_through') ?? 0);
  const seqs = t.events.map((e) => e.seq);
  // A rolled-back transaction takes back its seqs (AUTOINCREMENT's counter is in the same
  // transaction), and nothing is pruned at this size: seqs run without a gap.
  const expected = Array.from({ length: seqs.length }, (_, i) => pruned + 1 + i);
  if (canonical(seqs) !== canonical(expected) || t.eventSequence !== (seqs[seqs.length - 1] ?? pruned)) {
    problems.push(`event seqs ${summarise(seqs)} are not contiguous after ${pruned} (sequence at ${t.eventSequence})`);
  }
  const actors = new Set([SETUP_ACTOR, CHECK_ACTOR]);
  for (const e of t.events) {
    if (!actors.has(e.actor) && !/^w\d+@crash$/.test(e.actor))
      problems.push(`event ${e.seq} by unknown actor ${e.actor}`);
  }

  for (const [kind, rows] of [
    ['container', t.containers],
    ['pod', t.pods],
  ] as const) {
    const events = eventsBySubject(t.events, kind, 'id');
    const present = new Map<string, { name: string }>(rows.map((r) => [r.id, r]));
    for (const [id, row] of present) {
      const history = events.get(id) ?? [];
      const last = history[history.length - 1];
      if (history[0]?.type !== `${kind}.create`)
        problems.push(`${kind} ${row.name} (${id}) has no ${kind}.create event`);
      else if (history.filter((e) => e.type === `${kind}.create`).length !== 1)
        problems.push(`${kind} ${row.name} was created twice`);
      if (last?.type === `${kind}.remove`)
        problems.push(`${kind} ${row.name} (${id}) exists after its ${kind}.remove event ${last.seq}`);
      if (last && last.subject_name !== row.name)
        problems.push(`${kind} ${id} is named ${row.name}, its last event ${last.seq} says ${last.subject_name}`);
    }
    for (const [id, history] of events) {
      const last = history[history.length - 1]!;
      if (!present.has(id) && last.type !== `${kind}.remove`)
        problems.push(`${kind} ${last.subject_name} (${id}) is missing after its ${last.type} event ${last.seq}`);
    }
  }
  const volumeEvents = eventsBySubject(t.events, 'volume', 'name');
  const volumeNames = new Set(t.volumes.map((v) => v.name));
  for (const name of volumeNames) {
    const history = volumeEvents.get(name) ?? [];
    const lastCreate = history.map((e) => e.type).lastIndexOf('volume.create');
    const lastRemove = history.map((e) => e.type).lastIndexOf('volume.remove');
    if (lastCreate < 0 || lastRemove > lastCreate)
      problems.push(`volume ${name} exists without a volume.create event after its last removal`);
  }
  for (const [name, history] of volumeEvents) {
    const last = history[history.length - 1]!;
    if (!volumeNames.has(name) && last.type !== 'volume.remove')
      problems.push(`volume ${name} is missing after its ${last.type} event ${last.seq}`);
  }
  const execEvents = eventsBySubject(t.events, 'exec', 'id');
  const sessions = new Map(t.execSessions.map((s) => [s.id, s]));
  for (const [id, s] of sessions) {
    const last = (execEvents.get(id) ?? []).at(-1);
    if (last?.type !== 'exec.create' || last.data.container !== s.container_id)
      problems.push(`exec session ${id} has no exec.create event as its last`);
  }
  for (const [id, history] of execEvents) {
    if (!sessions.has(id) && history.at(-1)!.type !== 'exec.remove')
      problems.push(`exec session ${id} is missing after its exec.create event`);
  }

  // Worker containers are created without networks and never change them but by
  // connect/disconnect, and their status only by saveContainer: replay their events.
  const containerEvents = eventsBySubject(t.events, 'container', 'id');
  for (const c of t.containers) {
    if (c.workspace !== null || tagOfName(c.name) === undefined) continue;
    const networks = new Set<string>();
    let status = 'configured';
    for (const e of containerEvents.get(c.id) ?? []) {
      if (e.type === 'network.connect') networks.add(String(e.data.network));
      if (e.type === 'network.disconnect') networks.delete(String(e.data.network));
      if (e.type === 'container.update' && typeof e.data.status === 'string') status = e.data.status;
    }
    const config = parse(c.config_json) as { networks?: Record<string, unknown> };
    const actual = Object.keys(config.networks ?? {}).sort();
    if (canonical(actual) !== canonical([...networks].sort())) {
      problems.push(
        `container ${c.name}: networks ${JSON.stringify(actual)}, its events say ${JSON.stringify([...networks].sort())}`,
      );
    }
    const actualStatus = String(parse(c.state_json).status);
    if (actualStatus !== status)
      problems.push(`container ${c.name}: status ${actualStatus}, its last update event says ${status}`);
  }

  // State versions: every serial of a workspace has exactly one event, 1..serial.
  const stateEvents = new Map<string, EventRow[]>();
  for (const e of t.events) {
    if (!e.type.startsWith('workspace.state.')) continue;
    const key = wsKey(e.namespace, e.subject_name ?? '');
    stateEvents.set(key, [...(stateEvents.get(key) ?? []), e]);
  }
  const versions = new Map(t.versions.map((v) => [`${wsKey(v.namespace, v.workspace)}#${v.serial}`, v]));
  const created = new Set(
    t.events.filter((e) => e.type === 'workspace.create').map((e) => wsKey(e.namespace, e.subject_name ?? '')),
  );
  for (const w of t.workspaces) {
    const key = wsKey(w.namespace, w.name);
    if (!created.has(key)) problems.push(`workspace ${key} has no workspace.create event`);
    const events = stateEvents.get(key) ?? [];
    stateEvents.delete(key);
    const serials = events.map((e) => Number(e.data.serial));
    const expected = Array.from({ length: w.serial }, (_, i) => i + 1);
    if (canonical(serials) !== canonical(expected)) {
      problems.push(`workspace ${key} at serial ${w.serial}: state events for serials ${summarise(serials)}`);
    }
    const bySerial = new Map(events.map((e) => [Number(e.data.serial), e]));
    for (const e of events) {
      const serial = Number(e.data.serial);
      if (e.data.lineage !== w.lineage)
        problems.push(`workspace ${key}: event ${e.seq} has lineage ${String(e.data.lineage)}`);
      const version = versions.get(`${key}#${serial}`);
      if (serial > w.serial - HISTORY_LIMIT && (!version || version.checksum !== e.data.checksum)) {
        problems.push(`workspace ${key}: event ${e.seq} (serial ${serial}) has no history row with its checksum`);
      }
      if (e.type === 'workspace.state.rollback') {
        const from = bySerial.get(Number(e.data.from));
        if (!from || from.data.checksum !== e.data.checksum)
          problems.push(
            `workspace ${key}: rollback event ${e.seq} does not carry serial ${String(e.data.from)}'s checksum`,
          );
      }
    }
    if (w.serial > 0 && bySerial.get(w.serial)?.data.checksum !== w.checksum)
      problems.push(`workspace ${key}: no event for its current serial ${w.serial}`);
    for (const v of t.versions.filter((x) => wsKey(x.namespace, x.workspace) === key)) {
      if (!bySerial.has(v.serial)) problems.push(`workspace ${key}: history serial ${v.serial} has no event`);
    }
  }
  for (const [key, events] of stateEvents) problems.push(`${events.length} state events of missing workspace ${key}`);

  // Locks: held ⇔ acquired and not yet released, force-unlocked or broken.
  const lockEvents = eventsBySubject(t.events, 'lock', 'id');
  const held = new Map(t.locks.map((l) => [l.id, l]));
  for (const [id, history] of lockEvents) {
    if (history[0]!.type !== 'lock.acquire') problems.push(`lock ${id}: first event is ${history[0]!.type}`);
    const open = history.at(-1)!.type === 'lock.acquire';
    if (open && !held.has(id))
      problems.push(`lock ${id} on ${history[0]!.subject_name} is gone without a release event`);
    if (!open && held.has(id)) problems.push(`lock ${id} is held after its ${history.at(-1)!.type} event`);
  }
  for (const [id, l] of held) {
    const acquire = lockEvents.get(id)?.[0];
    if (!acquire || acquire.subject_name !== l.key || acquire.data.fencingToken !== l.fencing_token)
      problems.push(`lock ${id} on ${l.key} has no lock.acquire event`);
  }

  // Applies: apply.start, its changes, one state write, apply.finish — one transaction, so
  // consecutive seqs by one actor in one namespace.
  const finishes = new Set<string>();
  for (const [i, e] of t.events.entries()) {
    if (e.type === 'apply.finish') {
      finishes.add(`${wsKey(e.namespace, e.subject_name ?? '')}#${String(e.data.serial)}`);
      continue;
    }
    if (e.type !== 'apply.start') continue;
    let end = i + 1;
    while (end < t.events.length && !t.events[end]!.type.startsWith('apply.')) end++;
    const finish = t.events[end];
    if (!finish || finish.type !== 'apply.finish' || finish.data.plan !== e.data.plan) {
      problems.push(`apply.start ${e.seq} (plan ${String(e.data.plan).slice(0, 12)}) has no apply.finish after it`);
      continue;
    }
    const inside = t.events.slice(i, end + 1);
    if (inside.some((x, j) => x.actor !== e.actor || x.namespace !== e.namespace || x.seq !== e.seq + j)) {
      problems.push(`apply ${e.seq}..${finish.seq}: events of other actors or namespaces inside one apply`);
    }
    const writes = inside.filter((x) => x.type.startsWith('workspace.state.'));
    if (
      writes.length !== 1 ||
      writes[0]!.data.operation !== 'apply' ||
      writes[0]!.subject_name !== e.subject_name ||
      writes[0]!.data.serial !== finish.data.serial
    ) {
      problems.push(
        `apply ${e.seq}..${finish.seq}: not exactly one state write of serial ${String(finish.data.serial)}`,
      );
    }
  }
  const started = new Set<string>();
  for (const e of t.events) {
    if (e.type === 'apply.start') started.add(String(e.data.plan));
    if (e.type === 'apply.finish' && !started.has(String(e.data.plan))) {
      problems.push(`apply.finish ${e.seq} has no apply.start`);
    }
  }
  for (const v of t.versions) {
    if (v.operation === 'apply' && !finishes.has(`${wsKey(v.namespace, v.workspace)}#${v.serial}`)) {
      problems.push(`workspace ${wsKey(v.namespace, v.workspace)} serial ${v.serial} was applied without apply.finish`);
    }
  }
}

/** Projections of the store's objects, grouped by the worker whose tag their name carries. */
function storeProjections(t: Tables): Map<number, Map<string, string>> {
  const out = new Map<number, Map<string, string>>();
  const put = (name: string, p: Projection): void => {
    const k = tagOfName(name);
    if (k === undefined) return;
    if (!out.has(k)) out.set(k, new Map());
    out.get(k)!.set(p.kind === 'volume' ? `volume:${p.name}` : `${p.kind}:${p.id}`, canonical(p));
  };
  const sessions = new Map<string, string[]>();
  for (const s of t.execSessions) sessions.set(s.container_id, [...(sessions.get(s.container_id) ?? []), s.id]);
  for (const c of t.containers) {
    if (c.workspace !== null) continue;
    const config = parse(c.config_json) as {
      labels?: Record<string, string>;
      dependencies?: string[];
      namedVolumes?: Array<{ name: string }>;
      networks?: Record<string, unknown>;
    };
    put(c.name, {
      kind: 'container',
      id: c.id,
      name: c.name,
      namespace: c.namespace,
      pod: c.pod_id,
      dependencies: [...new Set(config.dependencies ?? [])].sort(),
      volumes: [...new Set((config.namedVolumes ?? []).map((v) => v.name))].sort(),
      status: String(parse(c.state_json).status),
      labels: config.labels ?? {},
      networks: Object.keys(config.networks ?? {}).sort(),
      execSessions: [...(sessions.get(c.id) ?? [])].sort(),
    });
  }
  for (const p of t.pods) {
    if (p.workspace !== null) continue;
    const cgroupPath = parse(p.state_json).cgroupPath;
    put(p.name, {
      kind: 'pod',
      id: p.id,
      name: p.name,
      namespace: p.namespace,
      cgroupPath: typeof cgroupPath === 'string' ? cgroupPath : null,
    });
  }
  for (const v of t.volumes) {
    if (v.workspace !== null) continue;
    const mountCount = parse(v.state_json).mountCount;
    put(v.name, {
      kind: 'volume',
      name: v.name,
      namespace: v.namespace,
      mountCount: typeof mountCount === 'number' ? mountCount : 0,
    });
  }
  return out;
}

function applyEffects(model: Map<string, string>, intent: Intent): Map<string, string> {
  const next = new Map(model);
  if (intent.op !== 'objects') return next;
  for (const [key, value] of intent.effects) {
    if (value === null) next.delete(key);
    else next.set(key, canonical(value));
  }
  return next;
}

function diff(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [key, value] of expected) {
    if (!actual.has(key)) out.push(`${key} acknowledged but missing`);
    else if (actual.get(key) !== value) out.push(`${key} is ${actual.get(key)}, acknowledged ${value}`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) out.push(`${key} exists but was never acknowledged`);
  return out;
}

/**
 * Every acknowledged write is there, every failed one is not, and a call a kill
 * interrupted left all of its changes or none (none when the kill was inside its
 * transaction): the objects of each worker exactly, its state versions, locks and applies.
 */
function checkAcknowledged(t: Tables, logs: readonly WorkerLog[], stats: CheckStats, problems: string[]): void {
  const actual = storeProjections(t);
  // Worker documents are unique (they carry the worker's tag and op number): by checksum and actor.
  const stateEvents = new Map<string, EventRow>();
  for (const e of t.events) {
    if (e.type === 'workspace.state.write' && e.data.operation !== 'apply') {
      const key = `${String(e.data.checksum)}@${e.actor}`;
      if (stateEvents.has(key))
        problems.push(`state document ${key} was written twice (events ${stateEvents.get(key)!.seq}, ${e.seq})`);
      stateEvents.set(key, e);
    }
  }
  const intended = new Set<string>();
  const bySerial = new Map<string, EventRow>();
  for (const e of t.events) {
    if (e.type.startsWith('workspace.state.'))
      bySerial.set(`${wsKey(e.namespace, e.subject_name ?? '')}#${String(e.data.serial)}`, e);
  }
  const workspaces = new Map(t.workspaces.map((w) => [wsKey(w.namespace, w.name), w]));
  const versions = new Map(t.versions.map((v) => [`${wsKey(v.namespace, v.workspace)}#${v.serial}`, v]));
  const lockEvents = eventsBySubject(t.events, 'lock', 'id');
  const held = new Set(t.locks.map((l) => l.id));
  const finishes = t.events.filter((e) => e.type === 'apply.finish');

  for (const log of logs) {
    const who = `${workerTag(log.worker.k)} (seed ${log.worker.seed})`;
    const actor = actorOf(log.worker.k);
    const last = log.calls.at(-1);
    let model = new Map<string, string>();
    let pending: { call: LoggedCall; without: Map<string, string>; with: Map<string, string> } | undefined;
    const lastSerial = new Map<string, number>();
    const applies = new Map<
      string,
      { acked: number[]; inFlight: number; selfKilled: number; failed: number; what: string }
    >();
    for (const call of log.calls) {
      const { intent, outcome } = call;
      if (!outcome && call !== last) problems.push(`${who}: op ${intent.n} has no outcome but is not the last`);
      if (outcome?.ok) {
        stats.acknowledged++;
        stats.acknowledgedByOp[intent.op] = (stats.acknowledgedByOp[intent.op] ?? 0) + 1;
      } else if (outcome) stats.failedAsAllowed++;
      else {
        stats.inFlightAtKill++;
        stats.inFlightByOp[intent.op] = (stats.inFlightByOp[intent.op] ?? 0) + 1;
      }
      const what = `${who} op ${intent.n} ${intent.op}${'what' in intent ? ` (${intent.what})` : 'ws' in intent ? ` ${wsKey(intent.ns, intent.ws)}` : ''}`;

      if (intent.op === 'objects') {
        if (outcome?.ok) model = applyEffects(model, intent);
        else if (!outcome) pending = { call, without: model, with: applyEffects(model, intent) };
      } else if (intent.op === 'write' || intent.op === 'rollback') {
        const key = wsKey(intent.ns, intent.ws);
        const w = workspaces.get(key);
        if (intent.op === 'write') {
          if (outcome?.ok !== false) intended.add(`${intent.checksum}@${actor}`);
          const event = stateEvents.get(`${intent.checksum}@${actor}`);
          if (
            outcome?.ok &&
            (!event || Number(event.data.serial) !== outcome.serial || outcome.checksum !== intent.checksum)
          ) {
            problems.push(`${what}: acknowledged serial ${outcome.serial} is lost (no state event with its checksum)`);
          }
          if (outcome && !outcome.ok && event)
            problems.push(
              `${what}: failed with ${outcome.code}, yet serial ${String(event.data.serial)} has its document`,
            );
          if (!outcome && event) stats.inFlightCommitted++;
        }
        if (outcome?.ok && outcome.serial !== undefined) {
          const event = bySerial.get(`${key}#${outcome.serial}`);
          if (!event || event.actor !== actor || event.data.checksum !== outcome.checksum) {
            problems.push(
              `${what}: acknowledged serial ${outcome.serial} has no state event of this worker with its checksum`,
            );
          }
          if (!w || w.serial < outcome.serial)
            problems.push(`${what}: acknowledged serial ${outcome.serial}, the workspace is at ${w?.serial}`);
          else if (
            outcome.serial > w.serial - HISTORY_LIMIT &&
            versions.get(`${key}#${outcome.serial}`)?.checksum !== outcome.checksum
          ) {
            problems.push(
              `${what}: acknowledged serial ${outcome.serial} is not in history with checksum ${outcome.checksum}`,
            );
          }
          if ((lastSerial.get(key) ?? 0) >= outcome.serial)
            problems.push(`${what}: serial ${outcome.serial} after this worker's ${lastSerial.get(key)}`);
          lastSerial.set(key, outcome.serial);
        }
      } else if (intent.op === 'lock' || intent.op === 'unlock' || intent.op === 'forceUnlock') {
        const id = intent.op === 'lock' ? outcome?.lockId : intent.lockId;
        if (!outcome?.ok || id === undefined) continue;
        const history = lockEvents.get(id) ?? [];
        const expected = { lock: 'lock.acquire', unlock: 'lock.release', forceUnlock: 'lock.force_unlock' }[intent.op];
        if (!history.some((e) => e.type === expected && e.actor === actor))
          problems.push(`${what}: acknowledged, but no ${expected} event for lock ${id}`);
        if (intent.op !== 'lock' && held.has(id)) problems.push(`${what}: acknowledged, but lock ${id} is still held`);
      } else if (intent.op === 'apply') {
        // Two applies of one worker can make the very same plan (same manifest, same
        // basis; then only one can commit): plans are matched by count, not one by one.
        const tally = applies.get(intent.plan) ?? { acked: [], inFlight: 0, selfKilled: 0, failed: 0, what };
        applies.set(intent.plan, tally);
        if (outcome?.ok) tally.acked.push(outcome.serial ?? -1);
        else if (outcome) tally.failed++;
        else if (intent.selfKill) tally.selfKilled++;
        else tally.inFlight++;
        if (outcome?.ok && outcome.serial !== undefined) {
          const key = wsKey(intent.ns, intent.ws);
          if ((lastSerial.get(key) ?? 0) >= outcome.serial)
            problems.push(`${what}: serial ${outcome.serial} after this worker's ${lastSerial.get(key)}`);
          lastSerial.set(key, outcome.serial);
        }
      }
    }
    for (const [plan, tally] of applies) {
      const done = finishes.filter((e) => e.actor === actor && e.data.plan === plan);
      for (const serial of tally.acked) {
        if (!done.some((e) => e.data.serial === serial))
          problems.push(`${tally.what}: acknowledged apply (serial ${serial}) has no apply.finish`);
      }
      if (done.length > tally.acked.length + tally.inFlight) {
        const why = tally.selfKilled > 0 ? 'killed inside its transaction' : `failed ${tally.failed} time(s)`;
        problems.push(`${tally.what}: ${why}, yet applied (events ${done.map((e) => e.seq).join(', ')})`);
      }
      stats.inFlightCommitted += Math.max(0, Math.min(tally.inFlight, done.length - tally.acked.length));
    }

    if (last && !last.outcome && last.intent.op === 'apply' && !last.intent.selfKill) {
      const key = `workspace:${last.intent.ns}/${last.intent.ws}`;
      const held = [...lockEvents.values()].some(
        (history) =>
          history[0]!.actor === actor &&
          history[0]!.subject_name === key &&
          history[0]!.data.operation === 'apply' &&
          !history.some((e) => e.type === 'lock.release'),
      );
      if (held) stats.appliesKilledHoldingLock++;
    }

    const mine = actual.get(log.worker.k) ?? new Map<string, string>();
    actual.delete(log.worker.k);
    if (pending) {
      const committed = diff(pending.with, mine).length === 0;
      const untouched = diff(pending.without, mine).length === 0;
      if (committed && !untouched) stats.inFlightCommitted++;
      if (pending.call.intent.selfKill && !untouched) {
        problems.push(
          `${who}: op ${pending.call.intent.n} was killed inside its transaction, yet: ${diff(pending.without, mine).slice(0, 4).join('; ')}`,
        );
      } else if (!committed && !untouched) {
        problems.push(
          `${who}: objects match neither the state before nor after op ${pending.call.intent.n} (killed in flight): ${diff(pending.without, mine).slice(0, 4).join('; ')}`,
        );
      }
    } else {
      for (const d of diff(model, mine).slice(0, 6)) problems.push(`${who}: ${d}`);
    }
  }
  for (const [k, objects] of actual)
    problems.push(`${objects.size} objects named for worker w${k}, which is not in the run`);
  // No write appears that no worker meant (or that failed).
  for (const [key, e] of stateEvents) {
    if (/^w\d+@crash$/.test(e.actor) && !intended.has(key))
      problems.push(`state event ${e.seq} (${key}) matches no write of its worker`);
  }
}

/** What berth itself says: it opens the store, diagnoses it, and re-plans every applied workspace. */
async function checkThroughBerth(
  path: string,
  t: Tables,
  logs: readonly WorkerLog[],
  stats: CheckStats,
  problems: string[],
): Promise<void> {
  const store = await openStore({ path, actor: CHECK_ACTOR, readonly: true });
  try {
    const report = await store.diagnose();
    if (report.integrity.join() !== 'ok') problems.push(`berth diagnose: integrity ${report.integrity.join('; ')}`);
    if (report.danglingReferences.length > 0) problems.push(`berth diagnose: ${report.danglingReferences.join('; ')}`);
    const migrations = readdirSync(join(REPO, 'migrations', 'sqlite')).filter((f) => f.endsWith('.sql')).length;
    if (report.schemaVersion !== migrations)
      problems.push(`berth diagnose: schema version ${report.schemaVersion}, not ${migrations}`);
    // Every worker is dead: every lock left is stale, and nothing else may be.
    const locks = await store.locks.list();
    stats.staleLocks = report.staleLocks.length;
    for (const l of locks)
      if (!l.stale) problems.push(`lock ${l.id} on ${l.key} (pid ${l.pid}) is not stale, yet every worker is dead`);
    if (report.staleLocks.length !== t.locks.length)
      problems.push(`berth diagnose: ${report.staleLocks.length} stale locks of ${t.locks.length}`);

    // Each applied workspace holds the result of one whole apply: re-planning the manifest
    // of the apply its state records (found by its plan digest among the workers' applies
    // that did not fail) plans nothing. With several workers applying to one workspace,
    // a worker's acknowledged manifest may have been replaced by another's since, so the
    // check uses the apply the workspace's state names, not each acknowledged one.
    const applies = logs.flatMap((log) =>
      log.calls
        .filter((c) => c.intent.op === 'apply' && c.outcome?.ok !== false)
        .map((c) => ({ intent: c.intent as Extract<Intent, { op: 'apply' }>, outcome: c.outcome, k: log.worker.k })),
    );
    for (const [ns, ws] of APPLY_WORKSPACES) {
      const current = await store.withNamespace(ns).workspaces.readState(ws);
      if (current.serial === 0) continue;
      const state = current.state as { kind?: string; planDigest?: string; manifestDigest?: string } | null;
      const what = `workspace ${wsKey(ns, ws)} at serial ${current.serial}`;
      const made = applies.find((a) => a.intent.ns === ns && a.intent.ws === ws && a.intent.plan === state?.planDigest);
      const acked = applies.find(
        (a) => a.intent.ns === ns && a.intent.ws === ws && a.outcome?.serial === current.serial,
      );
      if (acked && acked.intent.plan !== state?.planDigest)
        problems.push(`${what}: state is not the acknowledged apply of w${acked.k}`);
      if (!made) {
        problems.push(
          `${what}: its state names plan ${String(state?.planDigest).slice(0, 12)}, which no worker applied`,
        );
        continue;
      }
      const plan = await store.plan(ws, loadManifest(made.intent.manifest));
      const changes = plan.changes.filter((c) => c.effective !== 'noop').map((c) => `${c.effective} ${c.key}`);
      if (changes.length > 0 || plan.drift.length > 0 || plan.manifestDigest !== state?.manifestDigest) {
        problems.push(
          `${what}: re-planning the manifest of w${made.k} op ${made.intent.n} is not a no-op: ${[...changes, ...plan.drift.map((d) => `drift ${d.key}`)].join(', ') || 'manifest digest differs'}`,
        );
      }
    }
  } catch (err) {
    problems.push(`berth could not read the store: ${isBerthError(err) ? `${err.code} ${err.message}` : String(err)}`);
  } finally {
    await store.close();
  }
}
