/**
 * A writer in its own process for the backup tests: `node --import tsx writer.ts STORE COUNT`.
 * Opens the store, creates the volume `shared`, prints `{"ready":true}`, waits for a line
 * on stdin, then adds COUNT containers named `w-<i>`: even ones mount `shared` (every
 * sixth also gets an exec session `exec-<i>`), odd ones depend on the even one before
 * them, and after every tenth container the odd container `w-<i-2>` is removed again.
 * Prints `{"n":...}` every 25 containers and `{"done":true,...}` at the end.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { openStore, type Container } from '../../../src/index.js';

const [path, countArg] = process.argv.slice(2);
const count = Number(countArg);
const send = (msg: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(msg) + '\n');

const store = await openStore({ path: path!, actor: `writer-${process.pid}@test` });
await store.addVolume({ config: { name: 'shared', driver: 'local' }, state: {} });
send({ ready: true, pid: process.pid });

const lines = createInterface({ input: process.stdin });
for await (const _line of lines) break;
lines.close();
process.stdin.destroy();

const made: Container[] = [];
let removed = 0;
for (let i = 0; i < count; i++) {
  const even = i % 2 === 0;
  const ctr = await store.addContainer({
    config: {
      id: randomBytes(32).toString('hex'),
      name: `w-${i}`,
      image: 'busybox',
      labels: { i: String(i) },
      ...(even ? { namedVolumes: [{ name: 'shared', dest: '/data' }] } : { dependencies: [made[i - 1]!.config.id] }),
    },
    state: { status: 'configured' },
  });
  made.push(ctr);
  if (i % 6 === 0) await store.addExecSession(ctr, { id: `exec-${i}`, containerId: ctr.config.id });
  if (i % 10 === 9) {
    // w-<i-2> is odd: nothing depends on it and it has no exec session.
    await store.removeContainer(made[i - 2]!);
    removed++;
  }
  if ((i + 1) % 25 === 0) send({ n: i + 1 });
}
send({ done: true, added: count, removed, lastSeq: await store.events.lastSeq() });
await store.close();
