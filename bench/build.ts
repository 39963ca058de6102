import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.js';

/*
 * The benches measure the built package, what users install and run: the library from
 * dist/ (tsc's output, through bench/berth.ts) and the CLI from dist/bin (the esbuild
 * bundle). Running the sources through the dev loader instead (tsx) measures its helpers
 * and its transpiled output as well: berth's first 160 lock cycles in a process ran at
 * 1.59x raw under tsx, 1.23x on dist/ (both settle near 1.1x). bench/run.ts calls
 * ensureBuilt before it loads any bench.
 */

/** package.json `bin`: the esbuild bundle (chunks beside it), built by `npm run build:bin`. */
export const BIN_DIR = join(REPO_ROOT, 'dist', 'bin');
export const BIN = join(BIN_DIR, 'berth.js');

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
  if (!existsSync(dir)) return -Infinity;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(ext)) continue;
    oldest = Math.min(oldest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return oldest === Infinity ? -Infinity : oldest;
}

/** What is older than src/: the bundle (dist/bin) and/or the rest of dist/; empty when fresh. */
function staleParts(): string[] {
  const src = newestMtime(join(REPO_ROOT, 'src'), '.ts');
  const stale: string[] = [];
  if (!existsSync(BIN) || src > oldestMtime(BIN_DIR, '.js')) stale.push('dist/bin');
  // dist/ as a whole (dist/bin included): the library and the tsc build of the CLI.
  if (src > oldestMtime(join(REPO_ROOT, 'dist'), '.js')) stale.push('dist');
  return stale;
}

function npmRun(script: string): { ok: boolean; text: string; status: number | null } {
  const r = spawnSync('npm', ['run', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { ok: r.status === 0, text: `${r.stdout}${r.stderr}`.trim(), status: r.status };
}

let built: string | undefined;

/**
 * Runs `npm run build` (tsc, then the esbuild bundle) when dist/bin, or any file of dist/,
 * is older than a file under src/, once per bench run; returns what it did. `build` stops
 * before the bundle when tsc reports type errors: then nothing fresh can be measured.
 * @throws when the build fails
 */
export function ensureBuilt(print: (t: string) => void): string {
  if (built !== undefined) return built;
  const stale = staleParts();
  if (stale.length === 0) return (built = 'dist up to date');
  print(`${stale.join(' and ')} older than src/: npm run build`);
  const build = npmRun('build');
  if (!build.ok)
    throw new Error(`npm run build failed (exit ${build.status}); nothing fresh to measure:\n${build.text}`);
  const still = staleParts();
  if (still.length > 0) throw new Error(`npm run build succeeded but ${still.join(' and ')} is still older than src/`);
  return (built = 'rebuilt');
}
