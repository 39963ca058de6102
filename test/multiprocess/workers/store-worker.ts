/*
 * A berth store in a separate process, driven over stdio with one JSON command per line.
 * argv: <store location> [namespace]. It prints {"ready":true,"pid":N} once the store is
 * open, then answers every command with {"id","ok":true,"value"} or
 * {"id","ok":false,"code","details","message"}. `exit` ends the process at once without
 * releasing anything it holds (the lock rows stay, as after a crash); a SIGKILL does the same.
 */
import { createInterface } from 'node:readline';
import { isBerthError, openStore, type StateExport } from '../../../src/index.js';

export type WorkerCommand =
  | { op: 'lock'; name: string; operation: string; timeoutMs?: number; ttlMs?: number }
  | { op: 'unlock'; name: string; lockId: string }
  | { op: 'forceUnlock'; name: string; lockId: string }
  | { op: 'readState'; name: string }
  | { op: 'writeState'; name: string; state: unknown; lockId?: string; expectedSerial?: number }
  | { op: 'importState'; name: string; envelope: StateExport; lockId?: string; force?: boolean }
  | { op: 'acquire'; key: string; operation: string; ttlMs?: number }
  | { op: 'release'; key: string; lockId: string }
  | { op: 'heartbeat'; key: string; lockId: string }
  | { op: 'exit' };

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; code: string; message: string; details?: Record<string, unknown> };

const [location, namespace = ''] = process.argv.slice(2);
if (location === undefined) {
  process.stderr.write('usage: store-worker <store location> [namespace]\n');
  process.exit(2);
}

// A plain path, or the JSON of a factory target ({ path } or { url, schema }).
const target = location.startsWith('{')
  ? (JSON.parse(location) as { path?: string; url?: string; schema?: string })
  : { path: location };
const store = await openStore({ ...target, namespace, actor: `worker-${process.pid}@test` });

function send(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function run(cmd: WorkerCommand): Promise<unknown> {
  switch (cmd.op) {
    case 'lock':
      return store.workspaces.lock(cmd.name, { operation: cmd.operation, timeoutMs: cmd.timeoutMs, ttlMs: cmd.ttlMs });
    case 'unlock':
      return store.workspaces.unlock(cmd.name, cmd.lockId);
    case 'forceUnlock':
      return store.workspaces.forceUnlock(cmd.name, cmd.lockId);
    case 'readState':
      return store.workspaces.readState(cmd.name);
    case 'writeState':
      return store.workspaces.writeState(cmd.name, cmd.state, {
        lockId: cmd.lockId,
        expectedSerial: cmd.expectedSerial,
      });
    case 'importState':
      return store.workspaces.importState(cmd.name, cmd.envelope, { lockId: cmd.lockId, force: cmd.force });
    case 'acquire':
      return store.locks.acquire(cmd.key, { operation: cmd.operation, ttlMs: cmd.ttlMs });
    case 'release':
      return store.locks.release(cmd.key, cmd.lockId);
    case 'heartbeat':
      return store.locks.heartbeat(cmd.key, cmd.lockId);
    case 'exit':
      return undefined;
  }
}

send({ ready: true, pid: process.pid });
let nextId = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const cmd = JSON.parse(line) as WorkerCommand & { id?: number };
  const id = cmd.id ?? nextId++;
  try {
    const value = await run(cmd);
    send({ id, ok: true, value: value ?? null });
  } catch (err) {
    if (isBerthError(err)) send({ id, ok: false, code: err.code, message: err.message, details: err.details });
    else send({ id, ok: false, code: 'UNEXPECTED', message: String(err) });
  }
  if (cmd.op === 'exit') process.exit(0);
}
await store.close();
