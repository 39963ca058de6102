/*
 * One of several processes incrementing a counter in a workspace's state under its lock.
 * argv: <store location> <workspace> <rounds>; the location is a path, or the JSON of a
 * factory target ({ path } or { url, schema }) for a PostgreSQL store. Prints {"ready":true} once the store is open,
 * waits for a line "go" on stdin (so that all workers start together), then runs `rounds`
 * times: lock (with timeoutMs) -> readState -> writeState(counter + 1, { lockId }) -> unlock.
 * Prints {"done":true,"rounds":N,"waitedMs":M} on success, or {"error":...} and exits 1.
 */
import { createInterface } from 'node:readline';
import { isBerthError, openStore } from '../../../src/index.js';

const [location, workspace, roundsArg] = process.argv.slice(2);
if (location === undefined || workspace === undefined || roundsArg === undefined) {
  process.stderr.write('usage: counter-worker <store location> <workspace> <rounds>\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const target = location.startsWith('{')
  ? (JSON.parse(location) as { path?: string; url?: string; schema?: string })
  : { path: location };
const store = await openStore({ ...target, actor: `counter-${process.pid}@test` });
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
while ((await lines.next()).value !== 'go') {
  // Wait for the start signal.
}

let waitedMs = 0;
try {
  for (let i = 0; i < rounds; i++) {
    const started = Date.now();
    const lock = await store.workspaces.lock(workspace, { operation: `increment ${i}`, timeoutMs: 45_000 });
    waitedMs += Date.now() - started;
    const current = await store.workspaces.readState(workspace);
    const counter = (current.state as { counter?: number } | null)?.counter ?? 0;
    await store.workspaces.writeState(workspace, { counter: counter + 1, by: process.pid }, { lockId: lock.id });
    await store.workspaces.unlock(workspace, lock.id);
  }
  process.stdout.write(`${JSON.stringify({ done: true, rounds, waitedMs })}\n`);
  await store.close();
  process.exit(0);
} catch (err) {
  const error = isBerthError(err) ? err.toJSON() : { code: 'UNEXPECTED', message: String(err) };
  process.stdout.write(`${JSON.stringify({ error })}\n`);
  await store.close();
  process.exit(1);
}
