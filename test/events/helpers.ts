import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, onTestFinished } from 'vitest';
import { openStore, type BerthEvent, type Store, type OpenStoreOptions } from '../../src/index.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/http-server.js';
import { sqliteFactory, tempDir, type StoreFactory } from '../helpers/store-factory.js';
import { workerArgs } from '../helpers/worker-bundle.js';

/*
 * Helpers of the event-journal suite (DESIGN.md §6): stores owned by the test, child
 * writer processes, the HTTP API on 127.0.0.1 only, and stream clients that parse NDJSON
 * and Server-Sent Events by hand (no client library hides framing bugs).
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'dist', 'bin', 'berth.js');
export const WRITER = fileURLToPath(new URL('./workers/writer.ts', import.meta.url));

let factory: StoreFactory | undefined;

/** Runs the suites of this folder on another backend (set once per test file). */
export function useFactory(f: StoreFactory): void {
  factory = f;
}

/**
 * A fresh store (with plan/apply), closed when the test ends: on the backend chosen with
 * useFactory, else in its own temp folder (`dir`).
 */
export async function openEvents(
  opts: Omit<OpenStoreOptions, 'path' | 'url'> = {},
  dir = tempDir('berth-events-'),
): Promise<Store> {
  if (factory) return factory.open({ actor: 'tester@events', ...opts });
  const store = await openStore({ actor: 'tester@events', ...opts, path: join(dir, 'berth.db') });
  onTestFinished(() => store.close());
  return store;
}

/** Another handle on the same store, closed when the test ends. */
export async function reopenEvents(store: Store, opts: Omit<OpenStoreOptions, 'path' | 'url'> = {}): Promise<Store> {
  return (factory ?? sqliteFactory).reopen(store, { actor: 'tester@events', ...opts });
}

/**
 * A temp folder on a memory file system when there is one (/dev/shm), so throughput
 * comparisons measure berth rather than the disk's fsync jitter. Removed when the test passes.
 */
export function memoryDir(): string {
  const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(root, 'berth-events-'));
  onTestFinished((ctx) => {
    if (ctx.task.result?.state !== 'fail') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The new events since `since`, all namespaces. */
export async function eventsSince(store: Store, since: number): Promise<BerthEvent[]> {
  return store.events.list({ since });
}

/** `[from+1, ..., to]`. */
export function seqRange(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + 1 + i);
}

/** Polls `check` until it is true (or throws after `timeoutMs`, naming `what`). */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- child writers

/** A command of workers/writer.ts (one JSON line on its stdin). */
export type WriterCommand =
  | { op: 'create'; prefix: string; count: number; delayMs?: number; namespace?: string }
  | { op: 'save'; count: number }
  | { op: 'append'; count: number; type: string; bytes?: number }
  | { op: 'exit' };

/** A writer's reply: what it did and how long it took. */
export interface WriterReply {
  ok: boolean;
  op: string;
  count?: number;
  ms?: number;
  lastSeq?: number;
  error?: string;
}

/** A child process that writes to a store on command (workers/writer.ts). */
export interface Writer {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Sends a command and resolves with its reply (rejects when the writer failed). */
  run(cmd: WriterCommand): Promise<WriterReply>;
  /** Asks the writer to exit and waits for it. */
  exit(): Promise<number | null>;
}

/** Spawns the TypeScript worker `path` (bundled, see worker-bundle.ts); killed when the current test ends. */
export function spawnTs(path: string, args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [...workerArgs(path), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Starts a writer process on the store file `location` and waits until it is ready. */
export async function startWriter(location: string): Promise<Writer> {
  const child = spawnTs(WRITER, [location]);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const replies: ((r: WriterReply) => void)[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as WriterReply & { ready?: boolean };
    if (msg.ready) ready();
    else replies.shift()?.(msg);
  });
  await Promise.race([
    isReady,
    exited.then((code) => {
      throw new Error(`writer exited (${code}) before it was ready: ${stderr}`);
    }),
  ]);
  return {
    pid: child.pid!,
    child,
    async run(cmd) {
      const reply = new Promise<WriterReply>((resolve, reject) => {
        replies.push(resolve);
        void exited.then((code) => reject(new Error(`writer exited (${code}) during ${cmd.op}: ${stderr}`)));
      });
      child.stdin!.write(`${JSON.stringify(cmd)}\n`);
      const r = await reply;
      if (!r.ok) throw new Error(`writer ${cmd.op} failed: ${r.error}`);
      return r;
    },
    async exit() {
      child.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`);
      return exited;
    },
  };
}

// ---------------------------------------------------------------- HTTP

/** Starts the API in-process on 127.0.0.1 (port 0 unless given); closed when the test ends. */
export async function serve(store: Store, opts: Partial<ServeOptions> = {}): Promise<RunningServer> {
  const running = await startServer(store, { host: '127.0.0.1', port: 0, ...opts });
  expect(new URL(running.url).hostname).toBe('127.0.0.1');
  let closed = false;
  const close = running.close;
  running.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  onTestFinished(() => running.close());
  return running;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

/** One request to a loopback URL; resolves with the whole body. */
export function http(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  const url = new URL(path, base);
  expect(url.hostname, 'the suite only talks to loopback').toBe('127.0.0.1');
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: { connection: 'close', ...opts.headers }, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Parses an NDJSON body, skipping the blank heartbeat lines. */
export function ndjson<T = BerthEvent>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** One message of a stream: its payload and (SSE) its id. */
export interface StreamMessage {
  id?: string;
  data: Record<string, unknown>;
}

/** A client reading an event stream (NDJSON or SSE) as it arrives. */
export interface StreamClient {
  status: number;
  headers: IncomingHttpHeaders;
  messages: StreamMessage[];
  /** Blank NDJSON lines or `:` SSE comments seen so far. */
  heartbeats: number;
  ended: boolean;
  /** The events' seqs (records without a seq, like resync_required, are left out). */
  seqs(): number[];
  waitFor(check: (c: StreamClient) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens `GET path` as a stream and resolves once the response headers arrived. */
export function openStream(
  base: string,
  path: string,
  opts: { sse?: boolean; headers?: Record<string, string> } = {},
): Promise<StreamClient> {
  const url = new URL(path, base);
  expect(url.hostname, 'the suite only talks to loopback').toBe('127.0.0.1');
  const headers: Record<string, string> = { ...(opts.sse ? { accept: 'text/event-stream' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const client: StreamClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages: [],
        heartbeats: 0,
        ended: false,
        seqs: () => client.messages.map((m) => m.data.seq).filter((s): s is number => typeof s === 'number'),
        waitFor: (check, what, timeoutMs = 15_000) =>
          waitUntil(
            () => {
              if (check(client)) return true;
              if (client.ended) throw new Error(`stream ended before ${what}: ${JSON.stringify(client.messages)}`);
              return false;
            },
            what,
            timeoutMs,
          ),
        close: () => {
          req.destroy();
          res.destroy();
        },
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (opts.sse) {
          let at: number;
          while ((at = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            let id: string | undefined;
            const data: string[] = [];
            let comment = false;
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comment = true;
              else if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length > 0) {
              client.messages.push({
                ...(id !== undefined ? { id } : {}),
                data: JSON.parse(data.join('\n')) as Record<string, unknown>,
              });
            } else if (comment) client.heartbeats++;
          }
        } else {
          let at: number;
          while ((at = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, at);
            buffer = buffer.slice(at + 1);
            if (line.trim() === '') client.heartbeats++;
            else client.messages.push({ data: JSON.parse(line) as Record<string, unknown> });
          }
        }
      });
      const end = (): void => {
        client.ended = true;
      };
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
      onTestFinished(() => client.close());
      resolve(client);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for `berth serve --listen`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- statistics

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
