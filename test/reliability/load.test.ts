/**
 * Load (issue 8): 8 processes for 60 s of mixed reads and writes on one SQLite store at
 * the default busy timeout. Passes when every error is a documented BerthError that the
 * operation can meet under contention (LOCKED for a held lock, CONTAINER_EXISTS for a
 * name race, ...), none is STORE_BUSY, every process exits cleanly after a real amount of
 * work, nothing written was lost, and the store passes SQLite's integrity check and
 * `diagnose()` afterwards. Prints a latency table (p99 write latency included).
 *
 * Environment: BERTH_LOAD_PROCESSES (default 8), BERTH_LOAD_SECONDS (default 60),
 * BERTH_LOAD_THINK_MS (mean pause between a process's scenarios, default 2),
 * BERTH_LOAD_SEED (replays the processes' choices), BERTH_LOAD_REPORT (also write the
 * report as JSON to this file).
 *
 * The processes run workers/load-worker.ts, bundled with the current src/ (test/helpers/worker-bundle.ts).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openStore, type ErrorCode } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { tempDir } from '../helpers/store-factory.js';
import { workerArgs } from '../helpers/worker-bundle.js';
import { withRawDb } from './helpers.js';

const PROCESSES = Number(process.env.BERTH_LOAD_PROCESSES ?? 8);
const SECONDS = Number(process.env.BERTH_LOAD_SECONDS ?? 60);
const THINK_MS = Number(process.env.BERTH_LOAD_THINK_MS ?? 2);
const SEED = Number(process.env.BERTH_LOAD_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** openStore's default: the workers open the store without busyTimeoutMs. */
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Store calls each process must at least make per second of run: a floor far below the real rate. */
const MIN_CALLS_PER_SECOND = 20;

/**
 * Every op a worker reports, whether it writes, and the error codes it may meet: only
 * those the contention it is in can cause. Ops on a worker's own objects allow none.
 */
const OPS: Record<string, { write: boolean; allowed: readonly ErrorCode[]; waits?: true }> = {
  // A worker's own objects: nobody else touches them, so nothing may fail.
  addContainer: { write: true, allowed: [] },
  removeContainer: { write: true, allowed: [] },
  removeContainerExecSessions: { write: true, allowed: [] },
  saveContainer: { write: true, allowed: [] },
  safeRewriteContainerConfig: { write: true, allowed: [] },
  addPod: { write: true, allowed: [] },
  removePodContainers: { write: true, allowed: [] },
  removePod: { write: true, allowed: [] },
  addContainerToPod: { write: true, allowed: [] },
  removeContainerFromPod: { write: true, allowed: [] },
  'addContainerToPod:shared': { write: true, allowed: [] },
  'removeContainerFromPod:shared': { write: true, allowed: [] },
  addVolume: { write: true, allowed: [] },
  removeVolume: { write: true, allowed: [] },
  addExecSession: { write: true, allowed: [] },
  removeExecSession: { write: true, allowed: [] },
  networkConnect: { write: true, allowed: [] },
  networkDisconnect: { write: true, allowed: [] },
  addContainerExitCode: { write: true, allowed: [] },
  'workspaces.lock:own': { write: true, allowed: [] },
  'workspaces.readState:own': { write: false, allowed: [] },
  'workspaces.writeState:own': { write: true, allowed: [] },
  'workspaces.unlock:own': { write: true, allowed: [] },
  // Shared workspaces: the lock is raced for; under it, the compare-and-set must always hold.
  'workspaces.lock:shared': { write: true, allowed: ['LOCKED'] },
  // With timeoutMs: its time is mostly waiting for the holder, so it stays out of the write latency.
  'workspaces.lock:wait': { write: true, allowed: ['LOCKED'], waits: true },
  'workspaces.readState:shared': { write: false, allowed: [] },
  'workspaces.writeState:shared': { write: true, allowed: [] },
  'workspaces.unlock:shared': { write: true, allowed: [] },
  // A write without the lock: someone wrote since the read, or holds the lock now.
  'workspaces.writeState:cas': { write: true, allowed: ['STALE_SERIAL', 'LOCKED'] },
  'locks.acquire:race': { write: true, allowed: ['LOCKED'] },
  'locks.heartbeat': { write: true, allowed: [] },
  'locks.release': { write: true, allowed: [] },
  // Races for a small pool of shared names.
  'addContainer:race': { write: true, allowed: ['CONTAINER_EXISTS'] },
  'lookupContainer:race': { write: false, allowed: ['NO_SUCH_CONTAINER'] },
  'removeContainerExecSessions:race': { write: true, allowed: ['NO_SUCH_CONTAINER'] },
  'removeContainer:race': { write: true, allowed: ['NO_SUCH_CONTAINER', 'EXEC_SESSION_EXISTS'] },
  'addExecSession:race': { write: true, allowed: ['NO_SUCH_CONTAINER'] },
  'addVolume:race': { write: true, allowed: ['VOLUME_EXISTS'] },
  'removeVolume:race': { write: true, allowed: ['NO_SUCH_VOLUME'] },
  'workspaces.create:race': { write: true, allowed: ['WORKSPACE_EXISTS'] },
  'workspaces.delete:race': { write: true, allowed: ['NO_SUCH_WORKSPACE'] },
  // Reads (updateContainer re-reads the stored container, as libpod's UpdateContainer).
  'lookupContainer:name': { write: false, allowed: [] },
  'lookupContainer:id': { write: false, allowed: [] },
  'lookupContainer:prefix': { write: false, allowed: [] },
  container: { write: false, allowed: [] },
  updateContainer: { write: false, allowed: [] },
  allContainers: { write: false, allowed: [] },
  lookupPod: { write: false, allowed: [] },
  podContainers: { write: false, allowed: [] },
  allVolumes: { write: false, allowed: [] },
  lookupVolume: { write: false, allowed: [] },
  volumeInUse: { write: false, allowed: [] },
  getContainerExecSessions: { write: false, allowed: [] },
  getNetworks: { write: false, allowed: [] },
  getContainerExitCode: { write: false, allowed: [] },
  'workspaces.list': { write: false, allowed: [] },
  'workspaces.history': { write: false, allowed: [] },
  'events.lastSeq': { write: false, allowed: [] },
  'events.list': { write: false, allowed: [] },
  'events.list:types': { write: false, allowed: [] },
  'locks.list': { write: false, allowed: [] },
  snapshot: { write: false, allowed: [] },
};

function launch(worker: string[], args: string[], doneTimeoutMs: number) {
  const child = spawn(process.execPath, [...worker, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  // A message is a JSON line with `key: true`; anything else on stdout is kept with stderr.
  const waiting = new Map<string, (msg: Record<string, unknown>) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown> | undefined;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      stderr += `(stdout) ${line}\n`;
    }
    for (const [key, resolve] of waiting) if (msg?.[key] === true) resolve(msg);
  });
  const message = (key: string, timeoutMs: number): Promise<Record<string, unknown>> => {
    const got = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${args[1]}: no ${key} message within ${timeoutMs} ms; stderr:\n${stderr}`)),
        timeoutMs,
      );
      waiting.set(key, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      void exited.then((e) => {
        clearTimeout(timer);
        reject(
          new Error(`worker ${args[1]} exited (${e.code ?? e.signal}) before its ${key} message; stderr:\n${e.stderr}`),
        );
      });
    });
    got.catch(() => undefined); // Awaited later; a worker that dies early fails the first wait.
    return got;
  };
  return {
    ready: message('ready', 30_000),
    done: message('done', doneTimeoutMs),
    exited,
    send: (line: string) => void child.stdin!.write(line + '\n'),
  };
}

/** What a worker prints when its run is over. */
interface WorkerResult {
  index: number;
  elapsedMs: number;
  scenarios: number;
  stats: Record<string, { n: number; errors: Record<string, number>; ms: number[] }>;
  samples: { op: string; code: string; message: string }[];
  mismatches: string[];
  wsWrites: Record<string, number>;
  owned: { containers: string[]; pods: string[]; volumes: string[] };
}

interface Latency {
  count: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `ms` (sorted in place). */
function latency(ms: number[], errors: number): Latency {
  ms.sort((a, b) => a - b);
  const at = (p: number): number => (ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]!);
  return { count: ms.length, errors, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: ms.at(-1) ?? 0 };
}

/** The report: latency per op and per kind (write/read), throughput, and errors by code. */
function buildReport(results: WorkerResult[], startupMs: number, wallMs: number) {
  const perOp: Record<string, { ms: number[]; errors: number; kind: string }> = {};
  const errorsByCode: Record<string, number> = {};
  const kinds = { write: { ms: [] as number[], errors: 0 }, read: { ms: [] as number[], errors: 0 } };
  for (const r of results) {
    for (const [op, s] of Object.entries(r.stats)) {
      const write = OPS[op]?.write ?? true;
      const waits = OPS[op]?.waits === true;
      const entry = (perOp[op] ??= { ms: [], errors: 0, kind: waits ? 'wait' : write ? 'write' : 'read' });
      const failed = Object.values(s.errors).reduce((a, b) => a + b, 0);
      const kind = waits ? { ms: [], errors: 0 } : kinds[write ? 'write' : 'read'];
      // One push per sample: spreading 100k arguments can overflow the stack.
      for (const ms of s.ms) {
        entry.ms.push(ms);
        kind.ms.push(ms);
      }
      entry.errors += failed;
      kind.errors += failed;
      for (const [code, n] of Object.entries(s.errors)) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
    }
  }
  const ops = Object.fromEntries(
    Object.entries(perOp)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, e]) => [op, { kind: e.kind, ...latency(e.ms, e.errors) }]),
  );
  const writes = latency(kinds.write.ms, kinds.write.errors);
  const reads = latency(kinds.read.ms, kinds.read.errors);
  const seconds = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
  const callsPerProcess = results.map((r) => Object.values(r.stats).reduce((a, s) => a + s.n, 0));
  return {
    processes: results.length,
    seconds: Math.round(seconds * 10) / 10,
    startupSeconds: Math.round(startupMs / 100) / 10,
    wallSeconds: Math.round(wallMs / 100) / 10,
    thinkMs: THINK_MS,
    seed: SEED,
    busyTimeoutMs: DEFAULT_BUSY_TIMEOUT_MS,
    callsPerSecond: Math.round(callsPerProcess.reduce((a, b) => a + b, 0) / seconds),
    writesPerSecond: Math.round(writes.count / seconds),
    callsPerProcess,
    writes,
    reads,
    errorsByCode: Object.fromEntries(Object.entries(errorsByCode).sort(([, a], [, b]) => b - a)),
    ops,
  };
}
type Report = ReturnType<typeof buildReport>;

function formatReport(r: Report): string {
  const ms = (n: number): string => n.toFixed(2).padStart(9);
  const row = (name: string, kind: string, l: Latency): string =>
    `${name.padEnd(34)}${kind.padEnd(6)}${String(l.count).padStart(8)}${String(l.errors).padStart(8)}` +
    `${ms(l.p50)}${ms(l.p95)}${ms(l.p99)}${ms(l.max)}`;
  const lines = [
    `berth load: ${r.processes} processes x ${r.seconds} s on one SQLite store, default busy timeout (${r.busyTimeoutMs} ms), think time up to ${2 * r.thinkMs} ms, seed ${r.seed}, processes ready in ${r.startupSeconds} s`,
    `${'op'.padEnd(34)}${'kind'.padEnd(6)}${'calls'.padStart(8)}${'errors'.padStart(8)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}`,
    ...Object.entries(r.ops).map(([op, l]) => row(op, l.kind, l)),
    row('ALL WRITES', 'write', r.writes),
    row('ALL READS', 'read', r.reads),
    `throughput: ${r.callsPerSecond} calls/s (${r.writesPerSecond} writes/s); calls per process: ${r.callsPerProcess.join(' ')}`,
    `errors by code: ${
      Object.entries(r.errorsByCode)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ') || 'none'
    }`,
  ];
  return lines.join('\n');
}

describe('load', () => {
  it(
    `${PROCESSES} processes of mixed reads and writes for ${SECONDS} s meet only documented errors, never STORE_BUSY`,
    async () => {
      const path = join(tempDir('berth-load-'), 'berth.db');
      // The shared objects the workers race for, and one workspace per worker.
      const setup = await openStore({ path });
      await setup.addVolume({ config: { name: 'shared-vol', driver: 'local' }, state: {} });
      await setup.addPod({ config: { id: hexId(), name: 'shared-pod' }, state: {} });
      for (const name of ['shared-0', 'shared-1']) await setup.workspaces.create(name);
      for (let i = 0; i < PROCESSES; i++) await setup.workspaces.create(`w${i}`);
      await setup.close();

      const spawned = Date.now();
      const worker = workerArgs(fileURLToPath(new URL('./workers/load-worker.ts', import.meta.url)));
      const workers = Array.from({ length: PROCESSES }, (_, i) =>
        launch(worker, [path, String(i), String(SEED + i), String(SECONDS), String(THINK_MS)], SECONDS * 1000 + 60_000),
      );
      await Promise.all(workers.map((w) => w.ready));
      const started = Date.now();
      const startupMs = started - spawned;
      const at = started + 100;
      for (const w of workers) w.send(`go ${at}`);
      const results = (await Promise.all(workers.map((w) => w.done))) as unknown as WorkerResult[];
      const exits = await Promise.all(workers.map((w) => w.exited));
      const report = buildReport(results, startupMs, Date.now() - started);
      console.log(formatReport(report));
      if (process.env.BERTH_LOAD_REPORT) writeFileSync(process.env.BERTH_LOAD_REPORT, JSON.stringify(report, null, 2));

      for (const [i, e] of exits.entries())
        expect({ code: e.code, signal: e.signal }, `worker ${i}: ${e.stderr}`).toEqual({ code: 0, signal: null });

      // Every error is one the op can meet under this contention; anything else (STORE_BUSY,
      // a raw driver error, INTERNAL, a STALE_SERIAL under the lock) is listed with its message.
      const unexpected: string[] = [];
      for (const r of results) {
        for (const [op, s] of Object.entries(r.stats)) {
          const allowed: readonly string[] | undefined = OPS[op]?.allowed;
          if (allowed === undefined) unexpected.push(`worker ${r.index}: unknown op ${op}`);
          for (const [code, n] of Object.entries(s.errors)) {
            if (allowed?.includes(code)) continue;
            const sample = r.samples.find((x) => x.op === op && x.code === code);
            unexpected.push(`worker ${r.index}: ${op} failed ${n}x with ${code}: ${sample?.message ?? ''}`);
          }
        }
      }
      expect(unexpected).toEqual([]);
      expect(report.errorsByCode.STORE_BUSY ?? 0).toBe(0);
      // The races really happened.
      expect(report.errorsByCode.LOCKED ?? 0).toBeGreaterThan(0);
      expect(report.errorsByCode.CONTAINER_EXISTS ?? 0).toBeGreaterThan(0);

      // What each worker read back of its own objects always matched what it had written.
      for (const r of results) expect(r.mismatches, `worker ${r.index}`).toEqual([]);

      // Every process did real work, writes included.
      const floor = MIN_CALLS_PER_SECOND * SECONDS;
      for (const r of results) {
        const writes = Object.entries(r.stats).reduce((a, [op, s]) => a + (OPS[op]?.write ? s.n : 0), 0);
        expect(report.callsPerProcess[r.index], `calls of worker ${r.index}`).toBeGreaterThanOrEqual(floor);
        expect(writes, `writes of worker ${r.index}`).toBeGreaterThanOrEqual(floor / 4);
      }

      // A write that waits as long as the busy timeout is one hiccup from STORE_BUSY: 99% stay far below.
      expect(report.writes.p99).toBeLessThan(DEFAULT_BUSY_TIMEOUT_MS);

      // The file is sound, and nothing acknowledged was lost.
      const integrity = withRawDb(path, (db) => ({
        check: db.pragma('integrity_check'),
        foreignKeys: db.pragma('foreign_key_check'),
      }));
      expect(integrity).toEqual({ check: [{ integrity_check: 'ok' }], foreignKeys: [] });
      const store = await openStore({ path });
      try {
        const diagnosis = await store.diagnose();
        expect({
          integrity: diagnosis.integrity,
          danglingReferences: diagnosis.danglingReferences,
          staleLocks: diagnosis.staleLocks,
        }).toEqual({ integrity: ['ok'], danglingReferences: [], staleLocks: [] });
        expect(await store.locks.list()).toEqual([]);

        const containers = await store.allContainers();
        const pods = await store.allPods();
        const volumes = await store.allVolumes();
        for (const r of results) {
          const tag = `w${r.index}`;
          const mine = <T extends { config: { labels?: Record<string, string> } }>(items: T[]): T[] =>
            items.filter((x) => x.config.labels?.worker === tag);
          const containerIds = mine(containers).map((c) => c.config.id);
          expect(containerIds.sort(), `${tag} containers`).toEqual(r.owned.containers);
          expect(
            mine(pods)
              .map((p) => p.config.id)
              .sort(),
            `${tag} pods`,
          ).toEqual(r.owned.pods);
          expect(
            mine(volumes)
              .map((v) => v.config.name)
              .sort(),
            `${tag} volumes`,
          ).toEqual(r.owned.volumes);
          expect((await store.workspaces.readState(tag)).serial, `${tag} state writes`).toBe(r.wsWrites[tag] ?? 0);
        }
        // The shared counters: one serial per acknowledged write, and no increment lost.
        for (const name of ['shared-0', 'shared-1']) {
          const written = results.reduce((a, r) => a + (r.wsWrites[name] ?? 0), 0);
          const current = await store.workspaces.readState(name);
          expect(current.serial, `${name} serial`).toBe(written);
          expect((current.state as { counter?: number } | null)?.counter ?? 0, `${name} counter`).toBe(written);
        }
      } finally {
        await store.close();
      }
    },
    SECONDS * 1000 + 90_000,
  );
});
