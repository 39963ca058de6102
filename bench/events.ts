import type BetterSqlite3 from 'better-sqlite3';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { openStore, type BerthEvent, type Container, type Store, startServer } from './berth.js';
import { storePragmas } from './objects.js';
import type { WriterReport } from './events-writer.js';
import {
  applyMigrationFile,
  collectGarbage,
  formatRate,
  formatTable,
  formatUs,
  openRawDatabase,
  percentile,
  REPO_ROOT,
  runHeader,
  summarise,
  type RunHeader,
  type Sample,
} from './harness.js';

/*
 * The event journal's cost (DESIGN.md §6, STYLE.md habit 11):
 *  1. append overhead: berth's saveContainer (which journals) against the same work done
 *     with raw better-sqlite3, with and without the event INSERT, on files with the same
 *     schema and pragmas, measured in the same run with the order rotated every write;
 *  2. fan-out: events delivered per second to 10 followers — 10 store.events.follow
 *     iterators, or 10 SSE clients of an in-process server on 127.0.0.1 — while a writer
 *     process appends N events, and what the followers cost that writer.
 * Both run on the data dir (the disk under test, fsync included) and, when there is one,
 * on a memory file system (/dev/shm), where the CPU cost is not hidden behind fsync.
 */

const SCHEMA_FILE = 'migrations/sqlite/001-object-store.sql';
const ACTOR = 'bench@berth';
const FOLLOWERS = 10;

/** One location's append comparison, µs per durable write. */
export interface AppendResult {
  location: string;
  fs: 'disk' | 'memory';
  writes: number;
  berth: Sample;
  rawWithEvent: Sample;
  raw: Sample;
  /** Median µs the event INSERT adds to a raw write. */
  eventInsertUs: number;
  /** eventInsertUs over the raw write with the event. */
  journalShareOfRaw: number;
  /** eventInsertUs over berth's write. */
  journalShareOfBerth: number;
  /** berth median / raw-with-event median. */
  ratio: number;
}

/** One fan-out run: a writer process appending N events while followers read them. */
export interface FanoutResult {
  location: string;
  fs: 'disk' | 'memory';
  followers: 'none' | 'follow() x10' | 'SSE x10';
  events: number;
  /** The writer's durable writes per second. */
  writerPerSec: number;
  /** writerPerSec over the same writer's rate with no follower (1 = no slow-down). */
  writerShare: number;
  /** Events received per second summed over all followers, from the first write to the last receipt. */
  deliveredPerSec: number;
  /** Commit (event ts) to receipt, ms. */
  lagP50Ms: number;
  lagP99Ms: number;
}

/** Everything bench/run.ts prints and writes to bench/results/events.json. */
export interface EventsReport {
  name: 'events';
  header: RunHeader;
  append: AppendResult[];
  fanout: FanoutResult[];
  misses: string[];
}

/** Options of {@link runEventsBench}. */
export interface EventsBenchOptions {
  /** A scratch directory for the store files (on the disk under test: adds fsync). */
  dataDir: string;
  /** Fewer writes (set by --quick). */
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

// ---------------------------------------------------------------- locations

interface Location {
  dir: string;
  fs: 'disk' | 'memory';
}

/** The data dir, plus /dev/shm when it exists and is another file system. */
function locations(dataDir: string): { list: Location[]; cleanup: () => void } {
  const list: Location[] = [{ dir: dataDir, fs: 'disk' }];
  let memory: string | undefined;
  if (existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(dataDir).dev) {
    memory = mkdtempSync(join('/dev/shm', 'berth-bench-events-'));
    list.push({ dir: memory, fs: 'memory' });
  }
  return {
    list,
    cleanup: () => {
      if (memory && process.env.BENCH_KEEP !== '1') rmSync(memory, { recursive: true, force: true });
    },
  };
}

function container(): Container {
  return {
    config: {
      id: randomBytes(32).toString('hex'),
      name: 'web-1',
      image: 'docker.io/library/nginx:1.27-alpine',
      command: ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;'],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NGINX_VERSION: '1.27.2' },
      labels: { 'io.podman.compose.project': 'shop', 'io.podman.compose.service': 'web' },
      createdAt: new Date().toISOString(),
    },
    state: { status: 'running', pid: 1 },
  };
}

// ---------------------------------------------------------------- 1. append overhead

/** A raw writer doing what saveContainer does, with or without the journal's INSERT. */
function rawSave(db: BetterSqlite3.Database, ctr: Container, withEvent: boolean): (i: number) => void {
  const { config } = ctr;
  db.prepare("INSERT INTO object_ids (id, name, kind) VALUES (?, ?, 'container')").run(config.id, config.name);
  db.prepare(
    `INSERT INTO containers (id, name, namespace, pod_id, workspace, config_json, state_json, created_at, updated_at)
     VALUES (?, ?, '', NULL, NULL, ?, ?, ?, ?)`,
  ).run(config.id, config.name, JSON.stringify(config), JSON.stringify(ctr.state), Date.now(), Date.now());
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const load = db.prepare('SELECT id, name, namespace, pod_id, config_json, state_json FROM containers WHERE id = ?');
  const update = db.prepare('UPDATE containers SET state_json = ?, updated_at = ? WHERE id = ?');
  const event = db.prepare(
    `INSERT INTO events (ts, namespace, type, subject_kind, subject_id, subject_name, actor, data_json)
     VALUES (?, ?, 'container.update', 'container', ?, ?, ?, ?)`,
  );
  return (i) => {
    const state = { status: 'running', pid: i };
    const text = JSON.stringify(state);
    const now = Date.now();
    begin.run();
    try {
      const row = load.get(config.id) as { namespace: string; name: string } | undefined;
      if (!row) throw new Error('raw baseline lost its container');
      update.run(text, now, config.id);
      if (withEvent)
        event.run(now, row.namespace, config.id, row.name, ACTOR, JSON.stringify({ status: state.status }));
      commit.run();
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  };
}

/** All 6 orders of the three sides, cycled: each goes first, second and third alike. */
const ORDERS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
  [0, 2, 1],
  [1, 0, 2],
] as const;

async function compareAppends(
  loc: Location,
  writes: number,
): Promise<{
  result: AppendResult;
  connections: Record<string, BetterSqlite3.Database | Record<string, string>>;
  close: () => Promise<void>;
}> {
  const dir = join(loc.dir, 'append');
  mkdirSync(dir, { recursive: true });
  const store = await openStore({ path: join(dir, 'berth.db'), actor: ACTOR });
  const ctr = await store.addContainer(container());
  const rawEventDb = openRawDatabase(join(dir, 'raw-event.db'));
  const rawDb = openRawDatabase(join(dir, 'raw.db'));
  applyMigrationFile(rawEventDb, SCHEMA_FILE);
  applyMigrationFile(rawDb, SCHEMA_FILE);
  const sides: ((i: number) => unknown)[] = [
    (i) => store.saveContainer({ ...ctr, state: { status: 'running', pid: i } }),
    rawSave(rawEventDb, container(), true),
    rawSave(rawDb, container(), false),
  ];
  const us: number[][] = [[], [], []];
  const warmup = Math.min(100, Math.ceil(writes / 10));
  for (let k = 0; k < warmup; k++) for (const side of sides) await side(k);
  collectGarbage();
  for (let k = 0; k < writes; k++) {
    for (const s of ORDERS[k % ORDERS.length]!) {
      const t0 = process.hrtime.bigint();
      const r = sides[s]!(warmup + k);
      if (r instanceof Promise) await r;
      us[s]!.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
  }
  const [berth, rawWithEvent, raw] = us.map((x) => summarise(x, 1)) as [Sample, Sample, Sample];
  const eventInsertUs = rawWithEvent.medianUs - raw.medianUs;
  return {
    result: {
      location: loc.dir,
      fs: loc.fs,
      writes,
      berth,
      rawWithEvent,
      raw,
      eventInsertUs,
      journalShareOfRaw: eventInsertUs / rawWithEvent.medianUs,
      journalShareOfBerth: eventInsertUs / berth.medianUs,
      ratio: berth.medianUs / rawWithEvent.medianUs,
    },
    connections: { berth: await storePragmas(store), 'raw+event': rawEventDb, raw: rawDb },
    close: async () => {
      await store.close();
      rawEventDb.close();
      rawDb.close();
    },
  };
}

// ---------------------------------------------------------------- 2. fan-out

/** Forks bench/events-writer.ts on `file` and resolves once it is ready. */
async function startWriter(file: string, count: number) {
  const execArgv = process.execArgv.filter((a) => !/^--(cpu-prof|heap-prof|prof|inspect)/.test(a));
  const child = fork(join(REPO_ROOT, 'bench', 'events-writer.ts'), [file, String(count)], { execArgv });
  let report: WriterReport | undefined;
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const exited = new Promise<WriterReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      report ? resolve(report) : reject(new Error(`events-writer.ts exited with ${code} and no report`)),
    );
  });
  child.on('message', (m) => {
    if ((m as { ready?: boolean }).ready) ready();
    else report = m as WriterReport;
  });
  await Promise.race([isReady, exited]);
  return { go: () => child.send('go'), done: exited };
}

/** What one follower received, and when. */
class Receipts {
  count = 0;
  lastAt = 0;
  readonly lagMs: number[] = [];
  constructor(private readonly lags: boolean) {}
  add(e: Pick<BerthEvent, 'seq' | 'ts'>, now: number): void {
    this.count++;
    this.lastAt = now;
    if (this.lags) this.lagMs.push(now - Date.parse(e.ts));
  }
}

/** SSE clients on 127.0.0.1: parses `data:` lines of the stream as they arrive. */
function sseClient(url: string, onEvent: (e: BerthEvent) => void): () => void {
  const req = request(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data) onEvent(JSON.parse(data.slice(6)) as BerthEvent);
      }
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  return () => req.destroy();
}

async function fanout(loc: Location, mode: FanoutResult['followers'], events: number): Promise<FanoutResult> {
  const dir = mkdtempSync(join(loc.dir, 'fanout-'));
  const file = join(dir, 'berth.db');
  const store = await openStore({ path: file, actor: ACTOR });
  const writer = await startWriter(file, events);
  const since = await store.events.lastSeq(); // the writer's container.create is in already
  const target = since + events;
  // Lags are kept for three followers only: enough samples, little memory.
  const followers = Array.from({ length: mode === 'none' ? 0 : FOLLOWERS }, (_, i) => new Receipts(i < 3));
  let complete = 0;
  let allIn!: () => void;
  const delivered = new Promise<void>((resolve) => (allIn = resolve));
  if (followers.length === 0) allIn();
  const receive = (f: Receipts, e: Pick<BerthEvent, 'seq' | 'ts'>): void => {
    if (e.seq > target) return;
    f.add(e, Date.now());
    if (e.seq === target && ++complete === followers.length) allIn();
  };

  const ctl = new AbortController();
  const stops: (() => void)[] = [];
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  if (mode === 'follow() x10') {
    for (const f of followers) {
      void (async () => {
        for await (const e of store.events.follow({ since, signal: ctl.signal })) receive(f, e);
      })();
    }
  } else if (mode === 'SSE x10') {
    server = await startServer(store, { host: '127.0.0.1', port: 0 });
    for (const f of followers) stops.push(sseClient(`${server.url}/v1/events?since=${since}`, (e) => receive(f, e)));
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the clients connect
  }

  const t0 = Date.now();
  writer.go();
  const report = await writer.done;
  await delivered;
  ctl.abort();
  for (const stop of stops) stop();
  await server?.close();
  await store.close();
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });

  if (report.firstSeq !== since + 1 || report.lastSeq !== target) {
    throw new Error(`the writer wrote seqs ${report.firstSeq}..${report.lastSeq}, expected ${since + 1}..${target}`);
  }
  for (const f of followers) {
    if (f.count !== events) throw new Error(`a follower received ${f.count} of ${events} events`);
  }
  const writerPerSec = (report.count / report.ms) * 1000;
  const lags = followers.flatMap((f) => f.lagMs).sort((a, b) => a - b);
  const lastAt = Math.max(...followers.map((f) => f.lastAt));
  return {
    location: loc.dir,
    fs: loc.fs,
    followers: mode,
    events,
    writerPerSec,
    writerShare: 1, // set against the run without followers
    deliveredPerSec: followers.length ? (followers.length * events * 1000) / Math.max(1, lastAt - t0) : 0,
    lagP50Ms: lags.length ? percentile(lags, 50) : NaN,
    lagP99Ms: lags.length ? percentile(lags, 99) : NaN,
  };
}

// ---------------------------------------------------------------- run

const MODES = ['none', 'follow() x10', 'SSE x10'] as const;

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** The element-wise median of several runs of one setup. */
function medianRun(runs: readonly FanoutResult[]): FanoutResult {
  const pick = (k: 'writerPerSec' | 'deliveredPerSec' | 'lagP50Ms' | 'lagP99Ms') => median(runs.map((r) => r[k]));
  return {
    ...runs[0]!,
    writerPerSec: pick('writerPerSec'),
    deliveredPerSec: pick('deliveredPerSec'),
    lagP50Ms: pick('lagP50Ms'),
    lagP99Ms: pick('lagP99Ms'),
  };
}

/** Runs the events bench; see {@link EventsReport}. */
export async function runEventsBench(opts: EventsBenchOptions): Promise<EventsReport> {
  const { dataDir, quick, print } = opts;
  mkdirSync(dataDir, { recursive: true });
  const locs = locations(dataDir);
  const append: AppendResult[] = [];
  const fan: FanoutResult[] = [];
  let header: RunHeader | undefined;
  try {
    for (const loc of locs.list) {
      const writes = loc.fs === 'disk' ? (quick ? 300 : 1000) : quick ? 2000 : 6000;
      const run = await compareAppends(loc, writes);
      if (!header) {
        header = runHeader(run.connections, dataDir);
        print(opts.formatHeader(header));
      }
      await run.close();
      append.push(run.result);
      print(formatAppend(run.result));
    }
    for (const loc of locs.list) {
      const events = loc.fs === 'disk' ? (quick ? 500 : 2000) : quick ? 2000 : 10_000;
      // The three setups run in rotation, `rounds` times, each on a fresh store; the
      // table shows the median of each figure (a loaded machine makes single runs noisy).
      const runs = new Map<FanoutResult['followers'], FanoutResult[]>(MODES.map((m) => [m, []]));
      for (let r = 0; r < (quick ? 1 : 3); r++) {
        for (let k = 0; k < MODES.length; k++) {
          const mode = MODES[(r + k) % MODES.length]!;
          runs.get(mode)!.push(await fanout(loc, mode, events));
        }
      }
      const rows = MODES.map((m) => medianRun(runs.get(m)!));
      const alone = rows[0]!.writerPerSec;
      for (const row of rows) row.writerShare = row.writerPerSec / alone;
      fan.push(...rows);
      print(formatFanout(loc, rows, quick ? 1 : 3));
    }
  } finally {
    locs.cleanup();
  }
  return { name: 'events', header: header!, append, fanout: fan, misses: [] };
}

// ---------------------------------------------------------------- tables

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function formatAppend(r: AppendResult): string {
  const sides: [string, Sample][] = [
    ['berth saveContainer', r.berth],
    ['raw + event INSERT', r.rawWithEvent],
    ['raw, no event', r.raw],
  ];
  const rows = sides.map(([name, x]) => [name, formatUs(x.medianUs), formatUs(x.p99Us), formatRate(x.opsPerSec)]);
  return [
    `\n== events: append overhead per durable write, ${r.fs} (${r.location}), ${r.writes} writes per side ==`,
    formatTable(['write', 'p50', 'p99', 'writes/s'], rows),
    r.eventInsertUs > 0
      ? `event INSERT: ${formatUs(r.eventInsertUs)} per write = ${pct(r.journalShareOfRaw)} of a raw write with it, ` +
        `${pct(r.journalShareOfBerth)} of berth's; berth / raw+event = ${r.ratio.toFixed(2)}x`
      : `event INSERT: not measurable here (the raw write without it was not faster: fsync jitter hides it); ` +
        `berth / raw+event = ${r.ratio.toFixed(2)}x`,
  ].join('\n');
}

function formatFanout(loc: Location, rows: readonly FanoutResult[], rounds: number): string {
  const table = rows.map((r) => [
    r.followers,
    formatRate(r.writerPerSec),
    r.followers === 'none' ? '-' : `${(r.writerShare * 100).toFixed(0)}%`,
    r.followers === 'none' ? '-' : formatRate(r.deliveredPerSec),
    Number.isFinite(r.lagP50Ms) ? `${r.lagP50Ms.toFixed(0)}ms` : '-',
    Number.isFinite(r.lagP99Ms) ? `${r.lagP99Ms.toFixed(0)}ms` : '-',
  ]);
  return [
    `\n== events: ${rows[0]!.events.toLocaleString('en-US')} events from a writer process to ${FOLLOWERS} followers, ${loc.fs} (${loc.dir}), median of ${rounds} ==`,
    formatTable(['followers', 'writes/s', 'vs alone', 'delivered/s', 'lag p50', 'lag p99'], table),
    'followers poll every 100 ms (the default); SSE clients and their server share this process',
  ].join('\n');
}
