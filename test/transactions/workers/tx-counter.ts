/*
 * A process incrementing a counter in a workspace's state, each increment one
 * store.transaction that reads the state and writes it + 1 (no workspace lock: the
 * transaction alone must keep every increment). argv: <target JSON> <rounds>. Prints
 * {"ready":true}, waits for "go" on stdin, then {"done":true} or {"error":…}.
 */
import { createInterface } from 'node:readline';
import { isBerthError, openStore } from '../../../src/index.js';

const [targetArg, roundsArg] = process.argv.slice(2);
const target = JSON.parse(targetArg!) as { path?: string; url?: string; schema?: string };
const rounds = Number(roundsArg);
const store = await openStore({ ...target, actor: `tx-counter-${process.pid}@test`, busyTimeoutMs: 30_000 });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
while ((await lines.next()).value !== 'go') {
  // Wait for the start signal, so every process races from the same moment.
}
try {
  for (let i = 0; i < rounds; i++) {
    await store.transaction(async (tx) => {
      const current = await tx.workspaces.readState('default');
      const n = (current.state as { n?: number } | null)?.n ?? 0;
      await tx.addContainer({ config: { name: `p${process.pid}-${i}` }, state: { status: 'configured' } });
      await tx.workspaces.writeState('default', { n: n + 1 });
    });
  }
  process.stdout.write(`${JSON.stringify({ done: true })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: isBerthError(err) ? err.toJSON() : String(err) })}\n`);
  process.exitCode = 1;
} finally {
  await store.close();
}
