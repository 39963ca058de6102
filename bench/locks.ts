import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from './berth.js';
import {
  collectGarbage,
  compareSides,
  formatRate,
  formatTable,
  formatUs,
  openRawDatabase,
  REPO_ROOT,
  runHeader,
  type RunHeader,
  type CpuSample,
} from './harness.js';
import {
  ACTOR,
  BENCH_WORKSPACE,
  createTargets,
  openSide,
  SIDES,
  sideTarget,
  type LockSide,
  type SideName,
} from './lock-sides.js';
import type { WorkerReply, WorkerRequest } from './lock-worker.js';
import { storePragmas } from './objects.js';

/*
 * Workspace locks against raw better-sqlite3 and against the file-per-state + lock-file
 * design of Terraform's local backend and Pulumi's file backend (STYLE.md habit 11;
 * DESIGN.md §4, §5). One cycle is lock -> readState -> writeState(counter + 1, { lockId })
 * -> unlock; see bench/lock-sides.ts for what each side does. Measured:
 *   - uncontended cycles in this process, the sides taking turns batch by batch in
 *     balanced orders (each after every other equally often), after a warm-up;
 *   - 4 processes each running N cycles on one workspace (total cycles/s), the sides
 *     alternating run by run, with the final counter checked to be 4N; one unmeasured
 *     round of every side first warms the processes up.
 */

/**
 * berth's cycle time over raw's: 1.3x uncontended (the engine's lock → write → unlock
 * target), 1.5x with 4 processes (their waits dominate); files must be slower than berth.
 */
export const TARGETS = { uncontended: 1.3, contended: 1.5, filesRatioBelow: 1 } as const;

const PROCESSES = 4;

export interface ContentionRun {
  round: number;
  side: SideName;
  cyclesPerProcess: number;
  seconds: number;
  cyclesPerSec: number;
  finalCounter: number;
  counterOk: boolean;
}

export interface ContentionSummary {
  side: SideName;
  /** All rounds' cycles over all rounds' time: what the targets use (steadier than a median of few rounds). */
  cyclesPerSec: number;
  /** Per round. */
  median: number;
  min: number;
  max: number;
}

export interface TargetCheck {
  what: string;
  ratio: number;
  target: string;
  pass: boolean;
}

export interface LocksReport {
  name: 'locks';
  header: RunHeader;
  targets: typeof TARGETS;
  /** Steady state (after {@link WARMUP_BATCHES} batches of 8 cycles): what the target uses. */
  uncontended: Record<SideName, CpuSample>;
  /** The first cycles of the process, before V8 has optimised berth's code: reported, no target. */
  uncontendedCold: Record<SideName, CpuSample>;
  contention: { processes: number; runs: ContentionRun[]; summary: ContentionSummary[] };
  checks: TargetCheck[];
  misses: string[];
}

export interface LocksBenchOptions {
  dataDir: string;
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

// ---------------------------------------------------------------- workers

class Workers {
  private readonly children: ChildProcess[] = [];
  private readonly inbox = new Map<ChildProcess, WorkerReply[]>();
  private readonly waiters = new Map<ChildProcess, (m: WorkerReply) => void>();

  constructor(count: number) {
    const execArgv = process.execArgv.filter((a) => !/^--(cpu-prof|heap-prof|prof|inspect)/.test(a));
    for (let i = 0; i < count; i++) {
      const child = fork(join(REPO_ROOT, 'bench', 'lock-worker.ts'), [], { execArgv, stdio: 'inherit' });
      this.inbox.set(child, []);
      child.on('message', (m: WorkerReply) => {
        const waiter = this.waiters.get(child);
        if (waiter) {
          this.waiters.delete(child);
          waiter(m);
        } else this.inbox.get(child)!.push(m);
      });
      child.on('exit', (code) => {
        const waiter = this.waiters.get(child);
        if (waiter) waiter({ type: 'error', message: `worker exited with ${code}` });
      });
      this.children.push(child);
    }
  }

  private next(child: ChildProcess): Promise<WorkerReply> {
    const queued = this.inbox.get(child)!.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.waiters.set(child, resolve));
  }

  private async expectAll(type: WorkerReply['type']): Promise<WorkerReply[]> {
    const replies = await Promise.all(this.children.map((c) => this.next(c)));
    const bad = replies.find((r) => r.type !== type);
    if (bad) throw new Error(`lock worker: ${bad.type === 'error' ? bad.message : `unexpected ${bad.type}`}`);
    return replies;
  }

  /** Runs `cycles` cycles in every worker at once; returns the wall time from go to the last done. */
  async run(side: SideName, dir: string, ws: string, cycles: number): Promise<number> {
    const req: WorkerRequest = { type: 'run', side, dir, ws, cycles };
    for (const c of this.children) c.send(req);
    await this.expectAll('ready');
    const t0 = performance.now();
    for (const c of this.children) c.send({ type: 'go' } satisfies WorkerRequest);
    await this.expectAll('done');
    const ms = performance.now() - t0;
    await this.expectAll('closed');
    return ms;
  }

  close(): void {
    for (const c of this.children) {
      if (c.connected) c.send({ type: 'exit' } satisfies WorkerRequest);
    }
  }
}

// ---------------------------------------------------------------- measuring

/** Each side's own workspace (raw and raw-1tx share a file). */
function wsOf(side: SideName, base: string): string {
  return `${base}.${side}`;
}

/** The uncontended figures: the first cycles of the process, and the steady state the target uses. */
interface Uncontended {
  cold: Record<SideName, CpuSample>;
  warm: Record<SideName, CpuSample>;
}

/**
 * How many cycles each side runs, unmeasured, before the measured ones. V8 optimises a
 * function only after many calls, and berth's cycle runs far more JavaScript than raw's
 * (validation, canonical JSON, events, lock info), so its first few hundred cycles run
 * partly interpreted: on the 2-core reference machine berth / raw is 1.1x-1.45x over a
 * fresh process's first 80 cycles, and settles near 1.2x after some 400. The target is
 * the steady state, as in a server or any long-lived process; the first cycles are
 * reported beside it.
 */
const WARMUP_BATCHES = 60;
const COLD_BATCHES = 10;

async function uncontended(sides: Record<SideName, LockSide>, quick: boolean): Promise<Uncontended> {
  for (const s of SIDES) await sides[s].createWorkspace(wsOf(s, BENCH_WORKSPACE));
  const ops = Object.fromEntries(SIDES.map((s) => [s, () => sides[s].cycle(wsOf(s, BENCH_WORKSPACE), 0)])) as Record<
    SideName,
    () => unknown
  >;
  const cold = await compareSides(ops, { batches: COLD_BATCHES, opsPerBatch: 8, warmupBatches: 0 });
  const opts = { batches: quick ? 20 : 60, opsPerBatch: 8, warmupBatches: WARMUP_BATCHES - COLD_BATCHES };
  const warm = await compareSides(ops, opts);
  // Same work: every side counted every cycle.
  const expected = (COLD_BATCHES + opts.batches + opts.warmupBatches) * opts.opsPerBatch;
  for (const s of SIDES) {
    const got = await sides[s].counter(wsOf(s, BENCH_WORKSPACE));
    if (got !== expected) throw new Error(`locks: ${s} counted ${got} cycles, expected ${expected}`);
  }
  return { cold, warm };
}

async function contention(
  sides: Record<SideName, LockSide>,
  dir: string,
  quick: boolean,
  print: (t: string) => void,
): Promise<ContentionRun[]> {
  const rounds = quick ? 3 : 5;
  const cycles = quick ? 30 : 120;
  const workers = new Workers(PROCESSES);
  const runs: ContentionRun[] = [];
  try {
    // Unmeasured: each process runs every side's code until V8 has optimised it (see WARMUP_BATCHES).
    for (const side of SIDES) {
      const ws = wsOf(side, 'contend-warmup');
      await sides[side].createWorkspace(ws);
      await workers.run(side, dir, ws, Math.ceil((WARMUP_BATCHES * 8) / PROCESSES));
    }
    for (let round = 0; round < rounds; round++) {
      // Rotate the order every round: each side runs first equally often.
      const order = SIDES.map((_, k) => SIDES[(k + round) % SIDES.length]!);
      for (const side of order) {
        const ws = wsOf(side, `contend-${round}`);
        await sides[side].createWorkspace(ws);
        collectGarbage();
        const ms = await workers.run(side, dir, ws, cycles);
        const finalCounter = await sides[side].counter(ws);
        const run: ContentionRun = {
          round,
          side,
          cyclesPerProcess: cycles,
          seconds: ms / 1000,
          cyclesPerSec: (PROCESSES * cycles * 1000) / ms,
          finalCounter,
          counterOk: finalCounter === PROCESSES * cycles,
        };
        runs.push(run);
        print(
          `  round ${round + 1}/${rounds} ${side.padEnd(7)} ${formatRate(run.cyclesPerSec).padStart(6)} cycles/s  counter ${finalCounter}${run.counterOk ? '' : ` != ${PROCESSES * cycles} LOST UPDATES`}`,
        );
      }
    }
  } finally {
    workers.close();
  }
  return runs;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summariseRuns(runs: readonly ContentionRun[]): ContentionSummary[] {
  return SIDES.map((side) => {
    const mine = runs.filter((r) => r.side === side);
    const rates = mine.map((r) => r.cyclesPerSec);
    const cycles = mine.reduce((n, r) => n + PROCESSES * r.cyclesPerProcess, 0);
    const seconds = mine.reduce((n, r) => n + r.seconds, 0);
    return {
      side,
      cyclesPerSec: cycles / seconds,
      median: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
    };
  });
}

/** Runs the lock bench; see {@link LocksReport}. */
export async function runLocksBench(opts: LocksBenchOptions): Promise<LocksReport> {
  const dir = join(opts.dataDir, 'locks');
  mkdirSync(dir, { recursive: true });
  await createTargets(dir);

  const headerStore = await openStore({ path: sideTarget(dir, 'berth'), actor: ACTOR });
  const headerRaw = openRawDatabase(sideTarget(dir, 'raw'));
  const header = runHeader({ berth: await storePragmas(headerStore), raw: headerRaw }, dir);
  headerRaw.close();
  await headerStore.close();
  opts.print(opts.formatHeader(header));

  const sides = {} as Record<SideName, LockSide>;
  for (const s of SIDES) sides[s] = await openSide(s, dir);
  let samples: Uncontended;
  let runs: ContentionRun[];
  try {
    samples = await uncontended(sides, opts.quick);
    opts.print(formatUncontended(samples.warm, samples.cold));
    opts.print(`\n== locks: ${PROCESSES} processes on one workspace ==`);
    runs = await contention(sides, dir, opts.quick, opts.print);
  } finally {
    for (const s of SIDES) await sides[s].close();
  }
  const summary = summariseRuns(runs);
  const rate = (side: SideName): number => summary.find((x) => x.side === side)!.cyclesPerSec;

  const checks: TargetCheck[] = [];
  const check = (what: string, ratio: number, target: number, strictlyBelow = false): void => {
    checks.push({
      what,
      ratio,
      target: `${strictlyBelow ? '<' : '<='}${target}x`,
      pass: strictlyBelow ? ratio < target : ratio <= target,
    });
  };
  check('uncontended: berth / raw', samples.warm.berth.medianUs / samples.warm.raw.medianUs, TARGETS.uncontended);
  check(`${PROCESSES} processes: berth / raw`, rate('raw') / rate('berth'), TARGETS.contended);
  check(
    'uncontended: berth / files',
    samples.warm.berth.medianUs / samples.warm.files.medianUs,
    TARGETS.filesRatioBelow,
    true,
  );
  check(`${PROCESSES} processes: berth / files`, rate('files') / rate('berth'), TARGETS.filesRatioBelow, true);

  const misses = checks.filter((c) => !c.pass).map((c) => `${c.what}: ${c.ratio.toFixed(2)}x, target ${c.target}`);
  for (const r of runs.filter((x) => !x.counterOk)) {
    misses.push(`${r.side} round ${r.round + 1}: final counter ${r.finalCounter} != ${PROCESSES * r.cyclesPerProcess}`);
  }
  opts.print(formatContention(summary, runs));
  opts.print(formatChecks(checks, misses));
  return {
    name: 'locks',
    header,
    targets: TARGETS,
    uncontended: samples.warm,
    uncontendedCold: samples.cold,
    contention: { processes: PROCESSES, runs, summary },
    checks,
    misses,
  };
}

// ---------------------------------------------------------------- tables

const SIDE_NOTES: Record<SideName, string> = {
  berth: 'store.workspaces lock/readState/writeState/unlock',
  raw: "berth's statements, same 3 write txs + 1 read; lock/unlock at synchronous=NORMAL",
  'raw-1tx': 'floor: one BEGIN IMMEDIATE read-modify-write, no lock row',
  files: 'lock file (O_EXCL) + tmp/fsync/rename/dir-fsync + .backup',
};

function formatUncontended(warm: Record<SideName, CpuSample>, cold: Record<SideName, CpuSample>): string {
  const rows = SIDES.map((s) => [
    s,
    formatUs(warm[s].medianUs),
    formatUs(warm[s].p99Us),
    formatRate(warm[s].opsPerSec),
    `${(warm.berth.medianUs / warm[s].medianUs).toFixed(2)}x`,
    formatUs(warm[s].cpuUs),
    `${(warm.berth.cpuUs / warm[s].cpuUs).toFixed(2)}x`,
    formatUs(cold[s].medianUs),
    `${(cold.berth.medianUs / cold[s].medianUs).toFixed(2)}x`,
    SIDE_NOTES[s],
  ]);
  return [
    `\n== locks: uncontended lock -> read -> write -> unlock, one process (per-cycle time, batches of 8) ==`,
    `after ${WARMUP_BATCHES * 8} cycles per side (steady state, the target); "first" = the first ${COLD_BATCHES * 8} cycles of the process`,
    formatTable(
      [
        'side',
        'p50',
        'p99',
        'cycles/s',
        'berth/side',
        'cpu',
        'cpu berth/side',
        'first p50',
        'first berth/side',
        'what',
      ],
      rows,
    ),
  ].join('\n');
}

function formatContention(summary: readonly ContentionSummary[], runs: readonly ContentionRun[]): string {
  const berth = summary.find((s) => s.side === 'berth')!.cyclesPerSec;
  const rows = summary.map((s) => [
    s.side,
    formatRate(s.cyclesPerSec),
    formatRate(s.median),
    formatRate(s.min),
    formatRate(s.max),
    `${(s.cyclesPerSec / berth).toFixed(2)}x`,
    runs.filter((r) => r.side === s.side).every((r) => r.counterOk) ? 'ok' : 'LOST UPDATES',
  ]);
  const cycles = runs[0]?.cyclesPerProcess ?? 0;
  return [
    `\n${PROCESSES} processes x ${cycles} cycles each, ${runs.length / SIDES.length} rounds (cycles/s of all processes; overall = all rounds' cycles / their time):`,
    formatTable(['side', 'overall', 'round p50', 'min', 'max', 'side/berth', `counter = ${PROCESSES * cycles}`], rows),
  ].join('\n');
}

function formatChecks(checks: readonly TargetCheck[], misses: readonly string[]): string {
  const rows = checks.map((c) => [c.what, `${c.ratio.toFixed(2)}x`, c.target, c.pass ? 'PASS' : 'MISS']);
  const lines = [
    `\n== locks: ${checks.filter((c) => c.pass).length}/${checks.length} within target (ratio = berth time / other time) ==`,
    formatTable(['check', 'ratio', 'target', ''], rows),
  ];
  for (const m of misses) lines.push(`MISS  ${m}`);
  return lines.join('\n');
}
