/*
 * One of the processes of bench/backends.ts's contention run, on either backend.
 * argv: <target JSON ({ path } or { url, schema })> <workspace> <cycles>. Prints
 * {"ready":true} once the store is open, waits for a line on stdin (so all start
 * together), runs `cycles` times lock (with timeoutMs) -> readState ->
 * writeState(counter + 1, { lockId }) -> unlock, and prints {"done":true,"ms":M} or
 * {"error":...}.
 */
import { createInterface } from 'node:readline';
import { isBerthError, openStore } from './berth.js';

const [targetJson, workspace, cyclesArg] = process.argv.slice(2);
if (targetJson === undefined || workspace === undefined || cyclesArg === undefined) {
  process.stderr.write('usage: backends-worker <target JSON> <workspace> <cycles>\n');
  process.exit(2);
}
const cycles = Number(cyclesArg);
const target = JSON.parse(targetJson) as { path?: string; url?: string; schema?: string };
const store = await openStore({ ...target, actor: `bench-${process.pid}@berth` });
const send = (m: unknown): void => void process.stdout.write(`${JSON.stringify(m)}\n`);
send({ ready: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
await lines.next();

const started = performance.now();
try {
  for (let i = 0; i < cycles; i++) {
    const lock = await store.workspaces.lock(workspace, { operation: 'bench', timeoutMs: 120_000 });
    const current = await store.workspaces.readState(workspace);
    const counter = (current.state as { counter?: number } | null)?.counter ?? 0;
    await store.workspaces.writeState(workspace, { counter: counter + 1 }, { lockId: lock.id });
    await store.workspaces.unlock(workspace, lock.id);
  }
  send({ done: true, ms: performance.now() - started });
  await store.close();
  process.exit(0);
} catch (err) {
  send({ error: isBerthError(err) ? err.toJSON() : { code: 'UNEXPECTED', message: String(err) } });
  await store.close();
  process.exit(1);
}
