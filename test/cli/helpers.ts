import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, expect, type TestContext } from 'vitest';
import { openStore, type Container, type LockInfo, type OpenStoreOptions } from '../../src/index.js';
import type { Store } from '../../src/index.js';

/*
 * Helpers of the CLI suite: every test runs the built binary (dist/bin/berth.js) as a
 * real subprocess, with its own store and its own working directory, so neither the
 * store nor the workspace selection (.berth/workspace, BERTH_WORKSPACE) leaks.
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'dist', 'bin', 'berth.js');
export const DIST_INDEX = join(REPO_ROOT, 'dist', 'index.js');

/** Any ANSI escape sequence. */
// eslint-disable-next-line no-control-regex
export const ANSI = /\u001b\[/;
/** A line of a JavaScript stack trace. */
export const STACK_LINE = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

/** The newest modification time of the files under `dir`. */
export function newestMtime(dir: string): number {
  let newest = 0;
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const st = statSync(join(dir, rel));
    if (st.isFile()) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/**
 * Registers a beforeAll that fails the file with a clear message when the CLI is not
 * built, and warns when src/ changed after the last build (the suite tests dist/).
 */
export function requireBuiltCli(): void {
  beforeAll(() => {
    if (!existsSync(BIN) || !existsSync(DIST_INDEX)) {
      throw new Error(
        `the CLI suite runs the built binary, but ${BIN} is missing: run \`npm run build\` first (\`npm install\` builds it too)`,
      );
    }
    if (newestMtime(join(REPO_ROOT, 'src')) > newestMtime(join(REPO_ROOT, 'dist'))) {
      console.warn('berth CLI tests: src/ is newer than dist/; run `npm run build` to test the current code');
    }
  });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Extra environment; a variable set to undefined is removed. */
  env?: Record<string, string | undefined>;
  /** Standard input. */
  input?: string;
  /** Working directory (default: the world's). */
  cwd?: string;
  /** Skip the automatic no-ANSI / no-stack-trace checks (tests of those behaviours). */
  raw?: boolean;
}

/** A test's own world: a temp folder, a store path in it, and a working directory. */
export interface CliWorld {
  dir: string;
  store: string;
  cwd: string;
  env(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv;
  /** Runs `berth ...args` and waits for it to exit. */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts `berth ...args` without waiting. */
  start(args: readonly string[], opts?: RunOptions): Running;
  /** Opens the world's store through the library (closed when the test ends). */
  open(opts?: Omit<OpenStoreOptions, 'path' | 'url'>): Promise<Store>;
  /** Opens the store, runs `fn`, closes it again (so the CLI sees a quiet store). */
  seed<T>(fn: (store: Store) => Promise<T>, opts?: Omit<OpenStoreOptions, 'path' | 'url'>): Promise<T>;
  /** Another working directory of this world (its own workspace selection). */
  subdir(name: string): string;
  /** Every lock, read through the library. */
  locks(): Promise<LockInfo[]>;
  /** Every container (all namespaces), read through the library. */
  containers(): Promise<Container[]>;
  /** A workspace's current state, read through the library. */
  readState(workspace: string): Promise<{ lineage: string; serial: number; state: unknown; checksum: string | null }>;
  /** Runs `fn` when the test ends. */
  onFinished(fn: () => unknown): void;
}

export interface Running {
  pid: number;
  done: Promise<RunResult>;
  /** Everything printed so far on stdout and stderr, in arrival order. */
  output(): string;
  /** Resolves once the output contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  write(text: string): void;
  kill(signal?: NodeJS.Signals): void;
}

function checkClean(result: RunResult, opts: RunOptions | undefined, env: NodeJS.ProcessEnv): void {
  if (opts?.raw) return;
  expect(result.stdout, 'stdout must carry no ANSI escapes (NO_COLOR, not a TTY)').not.toMatch(ANSI);
  expect(result.stderr, 'stderr must carry no ANSI escapes (NO_COLOR, not a TTY)').not.toMatch(ANSI);
  if (env.BERTH_DEBUG !== '1') expect(result.stderr, 'no stack trace without BERTH_DEBUG=1').not.toMatch(STACK_LINE);
}

/** Starts a process and gives a handle to wait for its output, answer it, or kill it. */
export function startProcess(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; input?: string; onFinished: (fn: () => unknown) => void },
): Running {
  const child = spawn(command, [...args], { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  if (options.input !== undefined) child.stdin.end(options.input);
  let stdout = '';
  let stderr = '';
  let all = '';
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    all += d;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    all += d;
    notify();
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      notify();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let exited = false;
  void done.then(() => (exited = true)).catch(() => undefined);
  options.onFinished(() => {
    if (!exited && child.pid !== undefined) child.kill('SIGKILL');
  });
  return {
    pid: child.pid ?? -1,
    done,
    output: () => all,
    write: (text) => void child.stdin.write(text),
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitFor(text, timeoutMs = 10_000) {
      const found = (): boolean => (typeof text === 'string' ? all.includes(text) : text.test(all));
      return new Promise((resolve, reject) => {
        if (found()) return resolve(all);
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(text)}; output so far:\n${all}`));
        }, timeoutMs);
        const check = (): void => {
          if (found()) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(all);
          } else if (exited) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`process exited before printing ${String(text)}; output:\n${all}`));
          }
        };
        waiters.add(check);
      });
    },
  };
}

/**
 * A fresh world for the test `t` (its context: tests run concurrently, so hooks must be
 * the test's own); its folder is removed when the test passes.
 */
export function cliWorld(t: TestContext): CliWorld {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  const onFinished = (fn: () => unknown): void => void t.onTestFinished(async () => void (await fn()));
  t.onTestFinished((ctx) => {
    if (ctx.task.result?.state !== 'fail') rmSync(dir, { recursive: true, force: true });
  });
  const store = join(dir, 'store', 'berth.db');
  const cwd = join(dir, 'work');
  mkdirSync(cwd);
  const env = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
    const merged: Record<string, string | undefined> = {
      ...process.env,
      BERTH_STORE: store,
      NO_COLOR: '1',
      BERTH_WORKSPACE: undefined,
      BERTH_DEBUG: undefined,
      // If BERTH_STORE were ignored, the default location stays inside this world.
      XDG_DATA_HOME: join(dir, 'xdg'),
      ...extra,
    };
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    return merged as NodeJS.ProcessEnv;
  };
  const handles: Store[] = [];
  onFinished(async () => {
    for (const h of handles) await h.close().catch(() => undefined);
  });
  const world: CliWorld = {
    dir,
    store,
    cwd,
    env,
    async run(args, opts) {
      const e = env(opts?.env);
      const child = startProcess(process.execPath, [BIN, ...args], {
        env: e,
        cwd: opts?.cwd ?? cwd,
        input: opts?.input ?? '',
        onFinished,
      });
      const result = await child.done;
      checkClean(result, opts, e);
      return result;
    },
    start(args, opts) {
      return startProcess(process.execPath, [BIN, ...args], {
        env: env(opts?.env),
        cwd: opts?.cwd ?? cwd,
        ...(opts?.input === undefined ? {} : { input: opts.input }),
        onFinished,
      });
    },
    async open(opts = {}) {
      const s = await openStore({ ...opts, path: store });
      handles.push(s);
      return s;
    },
    async seed(fn, opts = {}) {
      const s = await openStore({ ...opts, path: store });
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    },
    subdir(name) {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      return d;
    },
    locks: () => world.seed((s) => s.locks.list()),
    containers: () => world.seed((s) => s.allContainers()),
    readState: (workspace) => world.seed((s) => s.workspaces.readState(workspace)),
    onFinished,
  };
  return world;
}

/** Describes a result for assertion messages. */
export function show(r: RunResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** Asserts success and returns stdout. */
export function ok(r: RunResult): string {
  expect(r.code, show(r)).toBe(0);
  return r.stdout;
}

/** Asserts success and that stdout is exactly one JSON document; returns it. */
export function okJson<T = unknown>(r: RunResult): T {
  expect(r.code, show(r)).toBe(0);
  return parseOne<T>(r.stdout);
}

/** Parses `text` as exactly one JSON document (JSON.parse rejects a second one). */
export function parseOne<T = unknown>(text: string): T {
  expect(text.trim(), 'expected one JSON document').not.toBe('');
  return JSON.parse(text) as T;
}

/**
 * Asserts a table-format error: exit 1 (or `exitCode`), nothing on stdout, stderr `Error: <message>`.
 * Returns the message (first line after `Error: `, and any continuation).
 */
export function fails(r: RunResult, exitCode = 1): string {
  expect(r.code, show(r)).toBe(exitCode);
  expect(r.stdout, show(r)).toBe('');
  expect(r.stderr, show(r)).toMatch(/^Error: \S/m);
  const at = r.stderr.indexOf('Error: ');
  return r.stderr.slice(at + 'Error: '.length);
}

export interface JsonError {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/**
 * Asserts a `--format json` error with `code`: exit 1 (2 for usage errors), stdout empty,
 * one JSON document on stderr.
 */
export function failsJson(r: RunResult, code: string, exitCode = 1): JsonError['error'] {
  expect(r.code, show(r)).toBe(exitCode);
  expect(r.stdout, show(r)).toBe('');
  const doc = parseOne<JsonError>(r.stderr);
  expect(Object.keys(doc)).toEqual(['error']);
  expect(Object.keys(doc.error).sort()).toEqual(['code', 'details', 'message']);
  expect(doc.error.code, show(r)).toBe(code);
  expect(typeof doc.error.message).toBe('string');
  expect(doc.error.message).not.toBe('');
  expect(typeof doc.error.details).toBe('object');
  return doc.error;
}

/**
 * Asserts a `--format json` batch removal (rm of several objects) where `ref` failed with
 * `code`: exit 1, `{"removed":[…],"failed":[{"ref","error"}]}` on stdout, and one error
 * document on stderr. Returns the stdout document.
 */
export function failsBatchJson(
  r: RunResult,
  ref: string,
  code: string,
): { removed: string[]; failed: { ref: string; error: JsonError['error'] }[] } {
  expect(r.code, show(r)).toBe(1);
  const doc = parseOne<{ removed: string[]; failed: { ref: string; error: JsonError['error'] }[] }>(r.stdout);
  expect(Object.keys(doc).sort()).toEqual(['failed', 'removed']);
  expect(doc.failed.find((f) => f.ref === ref)?.error.code, show(r)).toBe(code);
  expect(parseOne<JsonError>(r.stderr).error.code).toBe(code);
  return doc;
}

/** Asserts a usage error: exit 2, nothing on stdout, an `Error:` line on stderr. */
export function usageError(r: RunResult): string {
  return fails(r, 2);
}

/** A 64-hex-digit object id starting with `prefix`. */
export function hexId(prefix: string): string {
  return (prefix + '0'.repeat(64)).slice(0, 64);
}

/** Shell-quotes one word for `sh -c`. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `berth ...args` on a pseudo-terminal (util-linux `script`), so stdin and stdout
 * are a TTY; write answers with `write`, read everything with `output`/`waitFor`.
 */
export function runInPty(world: CliWorld, args: readonly string[], env?: Record<string, string | undefined>): Running {
  const which = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error('the pseudo-terminal tests need util-linux `script` on the PATH (apt-get install bsdutils)');
  }
  const command = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  // -q: no banner; -e: exit with the command's exit code; /dev/null: keep no typescript file.
  return startProcess('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env: world.env(env),
    cwd: world.cwd,
    onFinished: world.onFinished,
  });
}

/** A child process holding a workspace lock through the library (its own pid), until killed. */
export interface LockHolder extends Running {
  id: string;
}

/** Starts a process that takes `workspace`'s lock, prints the lock id, and waits to be killed. */
export async function holdLockInChild(world: CliWorld, workspace: string, operation: string): Promise<LockHolder> {
  const script = `
    import { openStore } from ${JSON.stringify(pathToFileURL(DIST_INDEX).href)};
    const store = await openStore({ path: process.env.BERTH_STORE });
    const lock = await store.workspaces.lock(${JSON.stringify(workspace)}, { operation: ${JSON.stringify(operation)} });
    process.stdout.write('LOCK ' + lock.id + '\\n');
    setInterval(() => undefined, 60_000);
  `;
  const child = startProcess(process.execPath, ['--input-type=module', '-e', script], {
    env: world.env(),
    cwd: world.cwd,
    onFinished: world.onFinished,
  });
  const out = await child.waitFor(/LOCK \S+\n/);
  const id = /LOCK (\S+)\n/.exec(out)![1]!;
  return { ...child, id };
}
