import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from './berth.js';
import {
  formatMiB,
  formatTable,
  openRawDatabase,
  percentile,
  REPO_ROOT,
  runHeader,
  type RunHeader,
} from './harness.js';
import { BIN, BIN_DIR, ensureBuilt } from './build.js';
import { ContainerFixture, createBerthFile, storePragmas } from './objects.js';

/*
 * Cold start of the CLI (STYLE.md habit 11): `node dist/bin/berth.js ps -a` (the esbuild
 * bundle that package.json's `bin` points at, i.e. what users run) on a store of 10,000
 * containers, each run a fresh process, against the floor of the same listing in a bare
 * Node process with raw better-sqlite3 (bench/cli-floor.mjs), and bare `node` itself.
 * The sides alternate run by run (ABBA). Wall time is measured around the spawn; peak
 * memory is the child's maximum RSS from /usr/bin/time -f %M (when installed). Also traces
 * which files `ps` loads (bench/module-trace.mjs): the bundle's chunks and the packages
 * required from node_modules, and, from esbuild's `// <path>` markers inside each chunk,
 * which source modules and packages are bundled into the loaded chunks. Startup must not
 * load the chunks (or the code) of commands `ps` does not use.
 */

/** berth's median wall time may exceed the floor's by this much. */
export const TARGET_MS_OVER_FLOOR = 150;

const CONTAINERS = 10_000;
const FLOOR = join(REPO_ROOT, 'bench', 'cli-floor.mjs');
const TRACE = join(REPO_ROOT, 'bench', 'module-trace.mjs');
const TIME = '/usr/bin/time';

/**
 * What `ps` must not load, three ways: a chunk file of dist/bin by name (`*` = any text;
 * esbuild names a lazily imported module's chunk after it), a module bundled into any
 * loaded chunk (esbuild's `// src/...` or `// node_modules/...` marker), or a package
 * required from node_modules at run time (better-sqlite3 and pg stay external).
 */
interface Unused {
  what: string;
  chunks: readonly string[];
  sources: readonly string[];
  packages: readonly string[];
}

const MUST_NOT_LOAD: readonly Unused[] = [
  { what: 'plan layer', chunks: ['planner-*.js', 'applier-*.js'], sources: ['src/plan/'], packages: [] },
  { what: 'stack command', chunks: ['stack-*.js'], sources: ['src/cli/commands/stack.ts'], packages: [] },
  {
    what: 'workspaces command',
    chunks: ['workspaces-*.js'],
    sources: ['src/cli/commands/workspaces.ts'],
    packages: [],
  },
  { what: 'admin command', chunks: ['admin-*.js'], sources: ['src/cli/commands/admin.ts'], packages: [] },
  { what: 'shell completion', chunks: ['completion-*.js'], sources: ['src/cli/completion.ts'], packages: [] },
  { what: 'HTTP server', chunks: ['http-server-*.js'], sources: ['src/server/'], packages: [] },
  {
    what: 'PostgreSQL backend',
    chunks: ['postgres-*.js'],
    sources: ['src/db/postgres/', 'src/migrate/postgres-migrator.ts'],
    packages: ['pg'],
  },
  { what: 'yaml package', chunks: [], sources: ['node_modules/yaml/'], packages: ['yaml'] },
  {
    what: 'secret cipher',
    chunks: ['aes-*.js'],
    sources: ['node_modules/@noble/ciphers/'],
    packages: ['@noble/ciphers'],
  },
  {
    what: 'schema checks',
    chunks: [],
    sources: ['src/schemas/', 'node_modules/@sinclair/typebox/'],
    packages: ['@sinclair/typebox'],
  },
];

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

export interface ForbiddenCheck {
  what: string;
  /** The patterns and markers checked, for the table. */
  rule: string;
  /** Chunk files of dist/bin the patterns match, and chunks holding a marked module. */
  present: string[];
  /** What of it `ps -a` loaded: chunk files, `chunk: module` pairs, package files. */
  loaded: string[];
  /** False when nothing in dist/bin matches: the check would be vacuous. */
  found: boolean;
  pass: boolean;
}

export interface ModuleTrace {
  /** Chunk files of dist/bin loaded, repo-relative. */
  chunks: string[];
  /** All chunk files in dist/bin. */
  chunksTotal: number;
  /** Packages required from node_modules at run time, with their file count. */
  packages: Record<string, number>;
  /** Chunks + package files: every file `ps -a` loaded (besides node's builtins). */
  filesLoaded: number;
  /** Files of dist/ outside dist/bin (the tsc build) loaded: must be none. */
  tscOutput: string[];
  /** Packages bundled into the loaded chunks, with their module count. */
  bundledPackages: Record<string, number>;
  /** berth source modules bundled into the loaded chunks. */
  bundledSources: string[];
  forbidden: ForbiddenCheck[];
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

/** A chunk-name pattern (`*` = any text) as a regular expression. */
function globRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** The package of a node_modules path (`@scope/name` or `name`), if it is one. */
function packageOf(path: string): string | undefined {
  return /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
}

/**
 * The modules esbuild bundled into each chunk of dist/bin, from the `// <path>` line it
 * writes before each module's code (unminified output), repo-relative.
 */
function chunkContents(): Map<string, string[]> {
  const contents = new Map<string, string[]>();
  for (const name of readdirSync(BIN_DIR).filter((f) => f.endsWith('.js'))) {
    const text = readFileSync(join(BIN_DIR, name), 'utf8');
    const modules = new Set<string>();
    for (const m of text.matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)) modules.add(m[1]!);
    contents.set(name, [...modules].sort());
  }
  return contents;
}

function checkUnused(
  rule: Unused,
  contents: ReadonlyMap<string, string[]>,
  loadedChunks: ReadonlySet<string>,
  paths: readonly string[],
): ForbiddenCheck {
  const patterns = rule.chunks.map(globRegExp);
  const byName = [...contents.keys()].filter((c) => patterns.some((re) => re.test(c)));
  const marked = (c: string): string[] =>
    (contents.get(c) ?? []).filter((m) => rule.sources.some((s) => m.startsWith(s)));
  const byMarker = [...contents.keys()].filter((c) => marked(c).length > 0);
  const loaded = [
    ...byName.filter((c) => loadedChunks.has(c)),
    ...byMarker
      .filter((c) => loadedChunks.has(c))
      .flatMap((c) => {
        const ms = marked(c);
        return [`${c}: ${ms.slice(0, 2).join(', ')}${ms.length > 2 ? ` (+${ms.length - 2})` : ''}`];
      }),
    ...paths.filter((p) => rule.packages.includes(packageOf(p) ?? '')),
  ];
  const found = byName.length > 0 || byMarker.length > 0 || rule.chunks.length === 0;
  const ruleText = [
    ...rule.chunks,
    ...rule.sources.map((s) => `${s.startsWith('node_modules/') ? 'bundled ' : ''}${s}`),
    ...rule.packages.map((p) => `require(${p})`),
  ].join(', ');
  return {
    what: rule.what,
    rule: ruleText,
    present: [...new Set([...byName, ...byMarker])].sort(),
    loaded,
    found,
    pass: found && loaded.length === 0,
  };
}

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
  const paths = [...new Set(urls.map((u) => relative(REPO_ROOT, fileURLToPath(u))))];
  const binPrefix = `${relative(REPO_ROOT, BIN_DIR)}/`;
  const chunks = paths.filter((p) => p.startsWith(binPrefix)).sort();
  if (!chunks.includes(relative(REPO_ROOT, BIN))) throw new Error(`the trace did not see ${BIN} load`);
  const tscOutput = paths.filter((p) => p.startsWith('dist/') && !p.startsWith(binPrefix)).sort();
  const packages: Record<string, number> = {};
  for (const p of paths) {
    const name = packageOf(p);
    if (name) packages[name] = (packages[name] ?? 0) + 1;
  }
  const packageFiles = Object.values(packages).reduce((a, b) => a + b, 0);

  const contents = chunkContents();
  const loadedChunks = new Set(chunks.map((p) => p.slice(binPrefix.length)));
  const bundledPackages: Record<string, number> = {};
  const bundledSources = new Set<string>();
  for (const c of loadedChunks) {
    for (const m of contents.get(c) ?? []) {
      const name = packageOf(m);
      if (name) bundledPackages[name] = (bundledPackages[name] ?? 0) + 1;
      else bundledSources.add(m);
    }
  }
  return {
    chunks,
    chunksTotal: contents.size,
    packages,
    filesLoaded: chunks.length + packageFiles,
    tscOutput,
    bundledPackages,
    bundledSources: [...bundledSources].sort(),
    forbidden: MUST_NOT_LOAD.map((rule) => checkUnused(rule, contents, loadedChunks, paths)),
  };
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
  const header = runHeader({ berth: await storePragmas(store), raw }, dir);
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
    misses.push(
      f.found
        ? `ps loads the ${f.what} (${f.loaded.join('; ')}), which it does not use`
        : `no chunk or module of the ${f.what} (${f.rule}) found in dist/bin: update MUST_NOT_LOAD`,
    );
  }
  if (modules.tscOutput.length > 0) {
    misses.push(
      `the bundle loads ${modules.tscOutput.length} file(s) of the tsc build: ${modules.tscOutput.join(', ')}`,
    );
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
  const counts = (r: Record<string, number>, unit: string): string =>
    Object.entries(r)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, n]) => `${name} (${n} ${unit}${n === 1 ? '' : 's'})`)
      .join(', ') || 'none';
  const packageFiles = m.filesLoaded - m.chunks.length;
  const rows = m.forbidden.map((f) => [
    f.what,
    f.rule,
    f.present.join(' ') || '-',
    !f.found
      ? 'NOT FOUND in dist/bin'
      : f.pass
        ? 'not loaded'
        : `LOADED: ${f.loaded.slice(0, 3).join('; ')}${f.loaded.length > 3 ? '; …' : ''}`,
    f.pass ? 'PASS' : 'MISS',
  ]);
  return [
    `\nfiles loaded by ps -a: ${m.filesLoaded} = ${m.chunks.length} of ${m.chunksTotal} chunks of dist/bin + ${packageFiles} package files; ${m.tscOutput.length} of the tsc build (dist/ outside dist/bin)`,
    `  chunks:   ${m.chunks.map((p) => p.replace(/^dist\/bin\//, '')).join(' ')}`,
    `  packages: ${counts(m.packages, 'file')} (required from node_modules)`,
    `  bundled into those chunks: ${counts(m.bundledPackages, 'module')}; ${m.bundledSources.length} berth modules`,
    formatTable(['must not load', 'checked as', 'where it is in dist/bin', 'ps -a', ''], rows),
  ].join('\n');
}
