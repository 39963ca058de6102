import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/index.js';
import {
  formatMiB,
  formatTable,
  openRawDatabase,
  percentile,
  REPO_ROOT,
  runHeader,
  type RunHeader,
} from './harness.js';
import { ContainerFixture, createBerthFile, storeConnection } from './objects.js';

/*
 * Cold start of the CLI (STYLE.md habit 11): `node dist/cli/bin.js ps -a` on a store of
 * 10,000 containers, each run a fresh process, against the floor of the same listing in a
 * bare Node process with raw better-sqlite3 (bench/cli-floor.mjs), and bare `node` itself.
 * The sides alternate run by run (ABBA). Wall time is measured around the spawn; peak
 * memory is the child's maximum RSS from /usr/bin/time -f %M (when installed). Also traces
 * which modules `ps` loads (bench/module-trace.mjs): startup must not load what `ps` does
 * not use.
 */

/** berth's median wall time may exceed the floor's by this much. */
export const TARGET_MS_OVER_FLOOR = 150;

const CONTAINERS = 10_000;
const BIN = join(REPO_ROOT, 'dist', 'cli', 'bin.js');
const FLOOR = join(REPO_ROOT, 'bench', 'cli-floor.mjs');
const TRACE = join(REPO_ROOT, 'bench', 'module-trace.mjs');
const TIME = '/usr/bin/time';

/** What `ps` must not load (dist-relative paths, or packages under node_modules). */
const MUST_NOT_LOAD = [
  'dist/plan/',
  'dist/cli/commands/workspaces.js',
  'dist/cli/commands/stack.js',
  'dist/cli/commands/admin.js',
  'dist/cli/completion.js',
  'node_modules/yaml/',
] as const;

type SideName = 'berth' | 'floor' | 'node';

export interface StartSample {
  side: SideName;
  command: string;
  runs: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  /** Median of the runs' peak RSS, bytes (null without /usr/bin/time). */
  maxRss: number | null;
  /** Median of the runs' user + system CPU time, ms (10 ms resolution; null without /usr/bin/time). */
  cpuMs: number | null;
}

export interface ModuleTrace {
  /** Files of dist/ loaded, repo-relative. */
  dist: string[];
  distTotal: number;
  /** Packages loaded from node_modules, with their file count. */
  packages: Record<string, number>;
  forbidden: { path: string; loaded: string[]; pass: boolean }[];
}

export interface CliReport {
  name: 'cli';
  header: RunHeader;
  containers: number;
  build: string;
  samples: StartSample[];
  overFloorMs: number;
  target: number;
  pass: boolean;
  modules: ModuleTrace;
  misses: string[];
}

export interface CliBenchOptions {
  dataDir: string;
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

// ---------------------------------------------------------------- build

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(ext)) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function oldestMtime(dir: string, ext: string): number {
  let oldest = Infinity;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(ext)) continue;
    oldest = Math.min(oldest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return oldest;
}

/** Runs `npm run build` when a file under src/ is newer than the oldest file of dist/. */
function ensureBuilt(print: (t: string) => void): string {
  const dist = join(REPO_ROOT, 'dist');
  const stale = !existsSync(BIN) || newestMtime(join(REPO_ROOT, 'src'), '.ts') > oldestMtime(dist, '.js');
  if (!stale) return 'dist up to date';
  print('dist/ is older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    // tsc emits even with type errors; measure what it emitted, but say so.
    print(`npm run build failed (exit ${r.status}); measuring what tsc emitted:\n${(r.stdout + r.stderr).trim()}`);
    return `build failed (exit ${r.status}); tsc output used`;
  }
  return 'rebuilt';
}

// ---------------------------------------------------------------- running

/** A clean environment: no loader or option inherited from the bench's own node. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  delete env.BERTH_STORE;
  env.NO_COLOR = '1';
  return env;
}

interface RunResult {
  ms: number;
  maxRss: number | null;
  cpuMs: number | null;
  stdout: string;
}

function runOnce(args: readonly string[], useTime: boolean, env = childEnv()): RunResult {
  const [cmd, argv] = useTime ? [TIME, ['-f', '%M %U %S', process.execPath, ...args]] : [process.execPath, [...args]];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, env, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status}: ${r.stderr}`);
  let maxRss: number | null = null;
  let cpuMs: number | null = null;
  if (useTime) {
    const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(r.stderr.trim().split('\n').pop() ?? '');
    if (m) {
      maxRss = Number(m[1]) * 1024;
      cpuMs = (Number(m[2]) + Number(m[3])) * 1000;
    }
  }
  return { ms, maxRss, cpuMs, stdout: r.stdout };
}

function sample(side: SideName, command: string, results: readonly RunResult[]): StartSample {
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const known = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  const rss = known(results.map((r) => r.maxRss));
  const cpu = known(results.map((r) => r.cpuMs));
  return {
    side,
    command,
    runs: ms.length,
    medianMs: percentile(ms, 50),
    p90Ms: percentile(ms, 90),
    minMs: ms[0]!,
    maxRss: rss.length > 0 ? percentile(rss, 50) : null,
    cpuMs: cpu.length > 0 ? percentile(cpu, 50) : null,
  };
}

/** The lines of `ps -a` output. */
function tableRows(stdout: string): string[] {
  return stdout.trimEnd().split('\n');
}

/** A line's container id and name (first and last column): the rows and their order. */
function rowKey(line: string): string {
  const cells = line.split(/\s{2,}/);
  return `${cells[0]} ${cells[cells.length - 1]}`;
}

// ---------------------------------------------------------------- modules

function traceModules(file: string, dir: string): ModuleTrace {
  const out = join(dir, 'cli-modules.txt');
  rmSync(out, { force: true });
  const env = childEnv({ BENCH_MODULE_TRACE: out });
  const r = spawnSync(process.execPath, ['--import', TRACE, BIN, '--store', file, 'ps', '-a'], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 2 ** 20,
  });
  if (r.status !== 0) throw new Error(`traced ps exited with ${r.status}: ${r.stderr}`);
  const urls = [...new Set(readFileSync(out, 'utf8').trim().split('\n'))].filter((u) => u.startsWith('file:'));
  const paths = urls.map((u) => relative(REPO_ROOT, fileURLToPath(u)));
  const dist = paths.filter((p) => p.startsWith('dist/')).sort();
  const packages: Record<string, number> = {};
  for (const p of paths) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p);
    if (m) packages[m[1]!] = (packages[m[1]!] ?? 0) + 1;
  }
  const distTotal = readdirSync(join(REPO_ROOT, 'dist'), { recursive: true }).filter((f) =>
    String(f).endsWith('.js'),
  ).length;
  const forbidden = MUST_NOT_LOAD.map((path) => {
    const loaded = paths.filter((p) => p.startsWith(path));
    return { path, loaded, pass: loaded.length === 0 };
  });
  return { dist, distTotal, packages, forbidden };
}

// ---------------------------------------------------------------- bench

/** Runs the CLI start bench; see {@link CliReport}. */
export async function runCliBench(opts: CliBenchOptions): Promise<CliReport> {
  const { print } = opts;
  const dir = join(opts.dataDir, 'cli');
  mkdirSync(dir, { recursive: true });
  const build = ensureBuilt(print);
  const file = join(dir, `cli-${CONTAINERS}.db`);
  const t0 = performance.now();
  await createBerthFile(file, new ContainerFixture(), CONTAINERS, Date.now);
  const fillSeconds = (performance.now() - t0) / 1000;

  const store = await openStore({ path: file });
  const raw = openRawDatabase(file);
  const header = runHeader({ berth: storeConnection(store), raw }, dir);
  raw.close();
  await store.close();
  print(opts.formatHeader(header));

  const useTime = existsSync(TIME);
  const commands: Record<SideName, string[]> = {
    berth: [BIN, '--store', file, 'ps', '-a'],
    floor: [FLOOR, file],
    node: ['-e', ''],
  };
  // Settle: migrations and the boot id are recorded by the first run, not a measured one.
  const first = runOnce(commands.berth, false);
  const floorOut = runOnce(commands.floor, false);
  const berthRows = tableRows(first.stdout);
  if (berthRows.length !== CONTAINERS + 1) {
    throw new Error(`berth ps -a printed ${berthRows.length} lines, expected ${CONTAINERS + 1}`);
  }
  // Same work: the floor prints the same rows in the same order. Its layout mirrors berth's
  // (cli-floor.mjs); a difference there is reported, not fatal (a relative time may tick).
  const floorRows = tableRows(floorOut.stdout);
  if (floorRows.length !== berthRows.length || berthRows.some((row, i) => rowKey(row) !== rowKey(floorRows[i]!))) {
    throw new Error("the floor's ps table has other rows, or another order, than berth's; fix bench/cli-floor.mjs");
  }
  const layoutDiffers = berthRows.filter((row, i) => row !== floorRows[i]).length;
  if (layoutDiffers > 0) print(`note: ${layoutDiffers} of ${berthRows.length} lines differ in layout from berth's`);

  const reps = opts.quick ? 10 : 20;
  const results: Record<SideName, RunResult[]> = { berth: [], floor: [], node: [] };
  const sides: SideName[] = ['berth', 'floor', 'node'];
  for (const s of sides) runOnce(commands[s], useTime); // warm the page cache
  for (let i = 0; i < reps; i++) {
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) results[s].push(runOnce(commands[s], useTime));
  }
  const shown = (a: string): string => (a === file ? '<store>' : a === '' ? "''" : relative(REPO_ROOT, a) || a);
  const samples = sides.map((s) => sample(s, `node ${commands[s].map(shown).join(' ')}`, results[s]));
  const berth = samples[0]!;
  const floor = samples[1]!;
  const overFloorMs = berth.medianMs - floor.medianMs;
  const pass = overFloorMs <= TARGET_MS_OVER_FLOOR;

  const modules = traceModules(file, dir);
  const misses: string[] = [];
  if (!pass) {
    misses.push(`ps -a cold start ${overFloorMs.toFixed(0)} ms over the floor (target <= ${TARGET_MS_OVER_FLOOR} ms)`);
  }
  for (const f of modules.forbidden.filter((x) => !x.pass)) {
    misses.push(`ps loads ${f.path} (${f.loaded.length} file(s)), which it does not use`);
  }
  print(formatCli(samples, overFloorMs, pass, fillSeconds, build));
  print(formatModules(modules));
  print(`\n== cli: ${misses.length === 0 ? 'all within target' : `${misses.length} miss(es)`} ==`);
  for (const m of misses) print(`MISS  ${m}`);
  return {
    name: 'cli',
    header,
    containers: CONTAINERS,
    build,
    samples,
    overFloorMs,
    target: TARGET_MS_OVER_FLOOR,
    pass,
    modules,
    misses,
  };
}

// ---------------------------------------------------------------- tables

function formatCli(
  samples: readonly StartSample[],
  overFloorMs: number,
  pass: boolean,
  fillSeconds: number,
  build: string,
): string {
  const floor = samples.find((s) => s.side === 'floor')!;
  const berth = samples.find((s) => s.side === 'berth')!;
  const cpuGap = berth.cpuMs === null || floor.cpuMs === null ? null : berth.cpuMs - floor.cpuMs;
  const rows = samples.map((s) => [
    s.side,
    `${s.medianMs.toFixed(0)}ms`,
    `${s.p90Ms.toFixed(0)}ms`,
    `${s.minMs.toFixed(0)}ms`,
    `${(s.medianMs - floor.medianMs).toFixed(0)}ms`,
    s.cpuMs === null ? '-' : `${s.cpuMs.toFixed(0)}ms`,
    s.maxRss === null ? '-' : formatMiB(s.maxRss),
    s.command,
  ]);
  return [
    `\n== cli: cold start of ps -a, ${CONTAINERS.toLocaleString('en-US')} containers (filled in ${fillSeconds.toFixed(1)}s; ${build}), ${samples[0]!.runs} runs per side ==`,
    formatTable(['side', 'p50', 'p90', 'min', 'vs floor', 'cpu p50', 'max rss', 'command'], rows),
    `berth - floor: ${overFloorMs.toFixed(0)} ms wall (target <= ${TARGET_MS_OVER_FLOOR} ms)  ${pass ? 'PASS' : 'MISS'}${cpuGap === null ? '' : `; ${cpuGap.toFixed(0)} ms of CPU (user + sys), less sensitive to load`}`,
  ].join('\n');
}

function formatModules(m: ModuleTrace): string {
  const packages = Object.entries(m.packages)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} (${n})`)
    .join(', ');
  const rows = m.forbidden.map((f) => [
    f.path,
    f.pass ? 'not loaded' : `LOADED: ${f.loaded.slice(0, 4).join(', ')}${f.loaded.length > 4 ? ', …' : ''}`,
    f.pass ? 'PASS' : 'MISS',
  ]);
  return [
    `\nmodules loaded by ps -a: ${m.dist.length} of ${m.distTotal} dist files; packages: ${packages}`,
    `  ${m.dist.map((p) => p.replace(/^dist\//, '')).join(' ')}`,
    formatTable(['must not load', 'ps -a', ''], rows),
  ].join('\n');
}
