import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { requireBuiltCli } from '../cli/helpers.js';
import { freePort } from '../events/helpers.js';

/*
 * Helpers of the PostgreSQL fault suite (test/faults/postgres-*.test.ts): a throwaway
 * PostgreSQL cluster of the test file's own (initdb into a temporary folder, a free port
 * on 127.0.0.1, run as the `postgres` user: the server refuses root), which the tests
 * stop, restart and whose backends they terminate; and berth stores in processes of
 * their own, driven over stdio, so that a crash is a dead process, not a test error.
 * Never the shared server on 5432.
 */

/** The folder of PostgreSQL's binaries (initdb, pg_ctl, postgres), or undefined. */
function pgBinDir(): string | undefined {
  const fromEnv = process.env.BERTH_TEST_PG_BIN;
  if (fromEnv) return existsSync(join(fromEnv, 'pg_ctl')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** The uid and gid of the `postgres` user, if there is one. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Why the cluster cannot be had here, or undefined when it can. */
function whyNoCluster(): string | undefined {
  if (!pgBinDir())
    return 'PostgreSQL binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin (or BERTH_TEST_PG_BIN)';
  const user = postgresUser();
  if (!user) return 'no `postgres` user to run a throwaway PostgreSQL cluster as';
  const me = process.getuid?.();
  if (me !== 0 && me !== user.uid) return 'needs root (or the postgres user) to run a throwaway PostgreSQL cluster';
  return undefined;
}

/** A PostgreSQL cluster of one test file. */
export interface PgCluster {
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres (trust auth: the password is never needed). */
  readonly url: string;
  /** The URL's password, which no message may show. */
  readonly password: string;
  readonly host: string;
  readonly dir: string;
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it: `fast` ends sessions cleanly, `immediate` is a crash (recovery on the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** One statement on a connection of its own. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** A connection left open (for holding locks); ended by the caller or when the file ends. */
  connect(): Promise<pg.Client>;
  /**
   * Terminates the berth sessions of `app` (an application_name; default: every berth
   * session), or those of `pids`. With `wait` (default), returns once they are gone.
   * Returns how many it terminated.
   */
  terminate(opts?: { app?: string; pids?: number[]; wait?: boolean }): Promise<number>;
  /** Berth's sessions (of `app`, if given), with what they wait for. */
  berthBackends(app?: string): Promise<{ pid: number; state: string; query: string; wait: string | null }[]>;
  /** The server log so far (for failure messages). */
  log(): string;
}

const PASSWORD = 'pw-never-shown-3f9c';

/**
 * A describe block with a cluster of its own, started before its tests and stopped (and
 * its folder removed, unless a test failed) after them; `concurrent` runs its tests side
 * by side. Without PostgreSQL binaries or the rights to run them, one visible skipped
 * test says why.
 */
export function describeCluster(
  name: string,
  body: (cluster: () => PgCluster) => void,
  opts: { concurrent?: boolean } = {},
): void {
  // The store processes run the built library, as the CLI suite runs the built binary.
  requireBuiltCli();
  const why = whyNoCluster();
  if (why !== undefined) {
    describe(name, () => {
      it.skip(`skipped: ${why}`, () => {});
    });
    return;
  }
  let cluster: PgCluster | undefined;
  let failed = false;
  (opts.concurrent ? describe.concurrent : describe)(name, () => {
    beforeAll(async () => {
      cluster = await createCluster();
    }, 60_000);
    beforeEach((t) => {
      t.onTestFailed(() => {
        failed = true;
      });
    });
    afterAll(async () => {
      await cluster?.stop('immediate').catch(() => undefined);
      for (const c of clients.splice(0)) await c.end().catch(() => undefined);
      if (cluster && !failed) rmSync(cluster.dir, { recursive: true, force: true });
      else if (cluster) console.warn(`PostgreSQL fault suite: cluster kept as evidence in ${cluster.dir}`);
    }, 60_000);
    body(() => cluster!);
  });
}

const clients: pg.Client[] = [];

async function createCluster(): Promise<PgCluster> {
  const bin = pgBinDir()!;
  const user = postgresUser()!;
  // Not under the suite's TMPDIR (0700, root's): the postgres user must reach the folder.
  const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const dir = mkdtempSync(join(base, 'berth-pgfault-'));
  chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const asPostgres = (cmd: string, args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const [file, argv] =
        process.getuid?.() === user.uid ? [cmd, args] : ['runuser', ['-u', 'postgres', '--', cmd, ...args]];
      execFile(file, argv, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`));
        else resolve(stdout);
      });
    });
  await asPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  let port = await freePort();
  // fsync off keeps the tests quick; synchronous_commit stays on, so an acknowledged commit
  // is in the operating system's hands and survives an immediate (crash) stop of the server.
  const settings = (p: number): string =>
    `-p ${p} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB`;
  const start = async (): Promise<void> => {
    await asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-t', '30', '-o', settings(port), 'start']);
  };
  try {
    await start();
  } catch {
    // Another process took the port in between: one more try on another.
    port = await freePort();
    await start();
  }
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const cluster: PgCluster = {
    url,
    password: PASSWORD,
    host: `127.0.0.1:${port}`,
    dir,
    start,
    async stop(mode = 'fast') {
      if (!existsSync(join(data, 'postmaster.pid'))) return;
      await asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-w', '-t', '30', '-m', mode, 'stop']);
    },
    async query(sql, params) {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      try {
        return (await c.query(sql, params)).rows;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    async connect() {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    async terminate(opts = {}) {
      const wait = opts.wait === false ? '' : ', 10000';
      const [where, params] = opts.pids
        ? ['pid = ANY($1)', [opts.pids]]
        : opts.app
          ? ['application_name = $1', [opts.app]]
          : ["application_name LIKE 'berth%'", []];
      const rows = await cluster.query<{ n: string }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid${wait})) AS n FROM pg_stat_activity
         WHERE pid <> pg_backend_pid() AND ${where}`,
        params,
      );
      return Number(rows[0]!.n);
    },
    async berthBackends(app) {
      return cluster.query(
        `SELECT pid, state, query, wait_event_type AS wait FROM pg_stat_activity
         WHERE pid <> pg_backend_pid() AND ${app ? 'application_name = $1' : "application_name LIKE 'berth%'"}`,
        app ? [app] : [],
      );
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  // A test run that dies must not leave a server behind.
  process.once('exit', () => {
    if (existsSync(join(data, 'postmaster.pid'))) {
      spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop']);
    }
  });
  return cluster;
}

// ---------------------------------------------------------------------------------------
// A store in a process of its own

const RPC_WORKER = fileURLToPath(new URL('./workers/store-rpc-worker.mjs', import.meta.url));

/** An error as it crossed the process boundary: `berth` false means a raw error reached the caller. */
export interface WireError {
  berth: boolean;
  code?: string;
  name: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The answer to one command: a value, or the error as it crossed the process boundary. */
export interface Reply {
  ok: boolean;
  value?: unknown;
  error?: WireError;
}

/** libfaketime's library, if installed (Debian: the faketime package). */
export function libfaketime(): string | undefined {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
  ];
  return candidates.find((c) => existsSync(c));
}

/** One JSON document a store process printed. */
export type Message = Record<string, unknown>;

/**
 * A berth store in a child process (test/faults/workers/store-rpc-worker.mjs, on the
 * built library), killed when its test ends (registered on the test's own context: tests
 * run concurrently).
 */
export class StoreProcess {
  private readonly child: ChildProcess;
  private readonly messages: Message[] = [];
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  private err = '';
  done = false;

  constructor(t: TestContext, env?: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [RPC_WORKER], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stdin!.on('error', () => undefined);
    this.child.stderr!.on('data', (chunk: Buffer) => (this.err += chunk.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.messages.push(JSON.parse(line) as Message);
      } catch {
        this.err += `(stdout) ${line}\n`;
      }
      this.wake();
    });
    this.child.on('exit', () => {
      this.done = true;
      this.wake();
    });
    t.onTestFinished(() => {
      if (!this.done) this.child.kill('SIGKILL');
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Takes the first message `match` accepts, waiting up to `timeoutMs`; fails when the process died. */
  async take(match: (m: Message) => boolean, timeoutMs = 30_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      if (this.done) throw new Error(`the store process died (a crash is what this suite looks for):\n${this.err}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no expected message from the store process in ${timeoutMs} ms\n${this.err}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Resolves once the process is up. */
  async ready(): Promise<this> {
    await this.take((m) => m.ready === true);
    return this;
  }

  /** Sends a command; returns its id. */
  send(op: string, fields: Record<string, unknown> = {}): number {
    const id = this.nextId++;
    this.child.stdin!.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    return id;
  }

  /** The next message for command `id` that `match` accepts (default: its answer). */
  next(id: number, match: (m: Message) => boolean = (m) => 'ok' in m, timeoutMs = 30_000): Promise<Message> {
    return this.take((m) => m.id === id && match(m), timeoutMs);
  }

  /** Every message for `id` that arrived so far and `match` accepts, taken from the queue. */
  drain(id: number, match: (m: Message) => boolean): Message[] {
    const out: Message[] = [];
    for (let i = 0; i < this.messages.length;) {
      const m = this.messages[i]!;
      if (m.id === id && match(m)) out.push(...this.messages.splice(i, 1));
      else i++;
    }
    return out;
  }

  async open(options: Record<string, unknown>): Promise<Reply> {
    return (await this.next(this.send('open', { options }))) as unknown as Reply;
  }

  async call(path: string, ...args: unknown[]): Promise<Reply> {
    return (await this.next(this.send('call', { path, args }))) as unknown as Reply;
  }

  async callInTx(path: string, ...args: unknown[]): Promise<Reply> {
    return (await this.next(this.send('call', { path, args, tx: true }))) as unknown as Reply;
  }

  /** The value of a call that must succeed. */
  async value<T = unknown>(path: string, ...args: unknown[]): Promise<T> {
    const r = await this.call(path, ...args);
    expect(r.ok, `${path}: ${JSON.stringify(r.error)}`).toBe(true);
    return r.value as T;
  }

  /** Answers a ping: the process is alive and its event loop turns. */
  async alive(): Promise<boolean> {
    if (this.done) return false;
    const m = await this.next(this.send('ping'), (x) => 'pong' in x, 10_000);
    return typeof m.pong === 'number';
  }

  get stderr(): string {
    return this.err;
  }
}

/** Starts a store process and opens `options` in it (the open must succeed). */
export async function storeProcess(
  t: TestContext,
  options: Record<string, unknown>,
  env?: NodeJS.ProcessEnv,
): Promise<StoreProcess> {
  const p = await new StoreProcess(t, env).ready();
  const r = await p.open(options);
  expect(r.ok, `open: ${JSON.stringify(r.error)}\n${p.stderr}`).toBe(true);
  return p;
}

/**
 * Asserts that an error crossed as a BerthError with one of `codes`, naming the server
 * and never its password.
 */
export function expectFault(
  error: WireError | undefined,
  codes: readonly string[],
  cluster: PgCluster,
  what = '',
): void {
  expect(error, `${what}: expected an error`).toBeDefined();
  expect(error!.berth, `${what}: a raw ${error!.name} reached the caller: ${error!.message}`).toBe(true);
  expect(codes, `${what}: ${error!.code}: ${error!.message}`).toContain(error!.code);
  expect(error!.message).not.toContain(cluster.password);
  if (error!.code === 'STORE_UNAVAILABLE') expect(error!.message, what).toContain(cluster.host);
}

/** Polls `fn` until it returns true, for up to `ms`. */
export async function eventually(fn: () => Promise<boolean> | boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The cluster's URL for one test: its sessions carry `application_name` `app`, so the test
 * can terminate its own without touching those of tests running beside it.
 */
export function urlFor(cluster: PgCluster, app: string): string {
  const u = new URL(cluster.url);
  u.searchParams.set('application_name', app);
  return u.toString();
}

/** A schema name no other test of the file uses. */
export function schemaName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}
