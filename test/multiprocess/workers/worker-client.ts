import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import type { WorkerCommand, WorkerReply } from './store-worker.js';
import { workerArgs } from '../../helpers/worker-bundle.js';

const STORE_WORKER = fileURLToPath(new URL('./store-worker.ts', import.meta.url));

/** Spawns a TypeScript worker (bundled, see worker-bundle.ts); it is killed when the current test finishes. */
export function spawnTsWorker(path: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [...workerArgs(path), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Resolves with the exit code (or signal) once `child` has exited. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** A store-worker process: `call` sends one command and resolves with its reply. */
export interface StoreWorker {
  readonly pid: number;
  readonly child: ChildProcess;
  call(cmd: WorkerCommand): Promise<WorkerReply>;
  /** Like `call`, but throws unless the command succeeded; returns its value. */
  ok<T = unknown>(cmd: WorkerCommand): Promise<T>;
  /** Tells the worker to exit at once (holding whatever it holds) and waits for it. */
  exit(): Promise<void>;
}

/** Starts a store worker on the store at `location`, in `namespace`, and waits until it is ready. */
export async function startStoreWorker(location: string, namespace = ''): Promise<StoreWorker> {
  const child = spawnTsWorker(STORE_WORKER, [location, namespace]);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const pending = new Map<number, (reply: WorkerReply) => void>();
  let ready: (pid: number) => void;
  const readyPromise = new Promise<number>((resolve) => (ready = resolve));
  const gone = exited(child);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as { ready?: boolean; pid?: number } & Partial<WorkerReply>;
    if (message.ready) ready(message.pid!);
    else pending.get(message.id!)?.(message as WorkerReply);
  });
  const pid = await Promise.race([
    readyPromise,
    gone.then(({ code, signal }) => {
      throw new Error(`store worker exited before it was ready (${code ?? signal}): ${stderr}`);
    }),
  ]);
  let nextId = 1;
  const call = (cmd: WorkerCommand): Promise<WorkerReply> => {
    const id = nextId++;
    const reply = new Promise<WorkerReply>((resolve, reject) => {
      pending.set(id, resolve);
      void gone.then(({ code, signal }) => {
        if (cmd.op !== 'exit') reject(new Error(`store worker exited (${code ?? signal}) during ${cmd.op}: ${stderr}`));
      });
    });
    child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    return reply;
  };
  return {
    pid,
    child,
    call,
    async ok<T>(cmd: WorkerCommand): Promise<T> {
      const reply = await call(cmd);
      if (!reply.ok) throw new Error(`worker ${cmd.op} failed with ${reply.code}: ${reply.message}`);
      return reply.value as T;
    },
    async exit() {
      child.stdin!.write(`${JSON.stringify({ op: 'exit', id: 0 })}\n`);
      await gone;
    },
  };
}
