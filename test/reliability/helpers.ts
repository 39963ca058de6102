import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect, onTestFinished } from 'vitest';
import { isBerthError, openStore, type BerthError, type Store, type ErrorCode } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { workerArgs } from '../helpers/worker-bundle.js';

/*
 * Helpers of the reliability suite: file fingerprints (a refused store must be left
 * byte for byte as it was), deterministic garbage, a populated sample store, a full
 * read of a store through the public API (to compare stores), raw table dumps, and
 * TypeScript workers in child processes.
 */

/** What must not change when berth refuses a file: its bytes, its size, and its sidecar files. */
export interface Fingerprint {
  sha256: string;
  size: number;
  /** Which of -wal, -shm, -journal exist next to it. */
  sidecars: string[];
}

export function fingerprint(file: string): Fingerprint {
  const data = readFileSync(file);
  return {
    sha256: createHash('sha256').update(data).digest('hex'),
    size: data.length,
    sidecars: ['-wal', '-shm', '-journal'].filter((s) => existsSync(file + s)),
  };
}

/** The names in a folder, sorted (to see that nothing was created beside a store). */
export function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** `n` deterministic pseudo-random bytes (xorshift32), so a failure can be reproduced. */
export function garbage(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Overwrites `bytes` at `offset` of `file` in place. */
export function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Runs `fn` on a raw better-sqlite3 connection to `file` (the way an operator edits a store by hand). */
export function withRawDb<T>(file: string, fn: (db: Database.Database) => T, opts: { create?: boolean } = {}): T {
  const db = new Database(file, { fileMustExist: !opts.create });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Every row of every table except SQLite's own, in a stable order, read with a raw connection. */
export function dumpTables(file: string): Record<string, Record<string, unknown>[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all() as { name: string }[];
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[];
      out[name] = rows.map((r) => r).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    return out;
  } finally {
    db.close();
  }
}

/**
 * Awaits `run` and returns the BerthError it failed with, asserting it is one (never a raw
 * driver error) with `code`, and that its message is lowercase and names a next step.
 */
export async function expectFailure(
  run: Promise<unknown> | (() => Promise<unknown>),
  code: ErrorCode,
  nextStep?: RegExp,
): Promise<BerthError> {
  let failure: unknown;
  let settled = false;
  try {
    await (typeof run === 'function' ? run() : run);
    settled = true;
  } catch (err) {
    failure = err;
  }
  expect(settled, `expected the call to fail with ${code}, but it succeeded`).toBe(false);
  expect(isBerthError(failure), `expected a BerthError ${code}, got a raw ${String(failure)}`).toBe(true);
  const err = failure as BerthError;
  expect(err.code, err.message).toBe(code);
  expect(err.message, 'messages are lowercase, with context first').toMatch(/^[^A-Z]/);
  if (nextStep) expect(err.message).toMatch(nextStep);
  return err;
}

/**
 * Fills a store with one of everything: volumes, a pod with members, containers with
 * dependencies, volumes, networks and exec sessions, an exit code, workspaces with
 * history, a live lock (this process) and a lock with a lease. Returns what it made.
 */
export async function populate(store: Store, tag = 'p'): Promise<{ exitCodeIds: string[]; lockIds: string[] }> {
  await store.addVolume({ config: { name: `${tag}-data`, driver: 'local', labels: { tier: 'db' } }, state: {} });
  await store.addVolume({ config: { name: `${tag}-cache`, driver: 'local' }, state: { mountCount: 1 } });
  const web = await store.addPod({
    config: { id: hexId(), name: `${tag}-web`, labels: { app: 'web' } },
    state: { status: 'up' },
  });
  const db = await store.addContainer({
    config: {
      id: hexId(),
      name: `${tag}-db`,
      image: 'postgres:16',
      namedVolumes: [{ name: `${tag}-data`, dest: '/var/lib/postgresql/data' }],
      env: { PGDATA: '/var/lib/postgresql/data' },
    },
    state: { status: 'running', pid: 4242 },
  });
  const app = await store.addContainerToPod(web, {
    config: {
      id: hexId(),
      name: `${tag}-app`,
      image: 'shop/app:2.3',
      pod: web.config.id,
      namedVolumes: [{ name: `${tag}-cache`, dest: '/cache' }],
    },
    state: { status: 'running' },
  });
  await store.addContainerToPod(web, {
    config: {
      id: hexId(),
      name: `${tag}-proxy`,
      image: 'nginx:1.27',
      pod: web.config.id,
      dependencies: [app.config.id],
    },
    state: { status: 'running' },
  });
  await store.addContainer({
    config: { id: hexId(), name: `${tag}-worker`, image: 'shop/worker:2.3', dependencies: [db.config.id] },
    state: { status: 'exited', exitCode: 0 },
  });
  await store.networkConnect(app, 'front', { aliases: ['app'] });
  await store.addExecSession(app, { id: `${tag}-exec-1`, containerId: app.config.id });
  await store.addExecSession(db, { id: `${tag}-exec-2`, containerId: db.config.id });
  await store.addContainerExitCode(`${tag}-gone-container`, 137);
  await store.workspaces.writeState('default', { resources: [tag] });
  await store.workspaces.create(`${tag}-staging`);
  for (let serial = 1; serial <= 3; serial++) {
    await store.workspaces.writeState(`${tag}-staging`, { serial, resources: Array.from({ length: serial }, String) });
  }
  const held = await store.workspaces.lock(`${tag}-staging`, { operation: 'apply', info: 'populate' });
  const leased = await store.locks.acquire(`custom:${tag}`, { operation: 'migrate', ttlMs: 3_600_000 });
  return { exitCodeIds: [`${tag}-gone-container`], lockIds: [held.id, leased.id] };
}

/** Everything a store holds, read through the public API, in a comparable form. */
export async function readContent(store: Store, exitCodeIds: readonly string[] = []) {
  const byKey = <T>(items: T[], key: (t: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));
  const containers = byKey(await store.allContainers(), (c) => c.config.id);
  const execSessions: Record<string, string[]> = {};
  for (const c of containers) execSessions[c.config.id] = (await store.getContainerExecSessions(c)).sort();
  const exitCodes: Record<string, number | string> = {};
  for (const id of exitCodeIds) {
    exitCodes[id] = await store.getContainerExitCode(id).catch((err: BerthError) => err.code);
  }
  const workspaces = byKey(await store.workspaces.list(), (w) => w.name);
  const states: Record<string, unknown> = {};
  for (const w of workspaces) {
    states[w.name] = {
      current: await store.workspaces.readState(w.name),
      history: await store.workspaces.history(w.name),
    };
  }
  return {
    containers,
    execSessions,
    exitCodes,
    pods: byKey(await store.allPods(), (p) => p.config.id),
    volumes: byKey(await store.allVolumes(), (v) => v.config.name),
    workspaces,
    states,
    locks: byKey(await store.locks.list(), (l) => l.key),
    events: await store.events.list(),
  };
}

/** Opens a store for the current test and closes it when the test ends. */
export async function openForTest(path: string): Promise<Store> {
  const store = await openStore({ path });
  onTestFinished(() => store.close());
  return store;
}

export const WORKERS = fileURLToPath(new URL('./workers/', import.meta.url));

/** A TypeScript worker in a child process, killed when the current test ends. */
export interface Worker {
  child: ChildProcess;
  /** Resolves with the next JSON line the worker prints that satisfies `match`. */
  next(match?: (msg: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(line: string): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startWorker(name: string, args: readonly string[]): Worker {
  const child = spawn(process.execPath, [...workerArgs(WORKERS + name), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin!.on('error', () => undefined);
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const messages: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      messages.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      messages.push({ unparsed: line });
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => {
      for (const w of [...waiters]) w();
      resolve({ code, signal, stderr });
    }),
  );
  let cursor = 0;
  return {
    child,
    exited,
    send: (line) => void child.stdin!.write(line + '\n'),
    next(match = () => true, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          while (cursor < messages.length) {
            const msg = messages[cursor++]!;
            if (match(msg)) {
              waiters.delete(onChange);
              clearTimeout(timer);
              resolve(msg);
              return true;
            }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(onChange);
            clearTimeout(timer);
            reject(new Error(`worker ${name} exited (${child.exitCode ?? child.signalCode}); stderr:\n${stderr}`));
            return true;
          }
          return false;
        };
        const onChange = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(onChange);
          reject(new Error(`worker ${name}: nothing matching within ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        if (!check()) waiters.add(onChange);
      });
    },
  };
}
