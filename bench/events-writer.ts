import { randomBytes } from 'node:crypto';
import { openStore } from './berth.js';

/*
 * The writer process of bench/events.ts: `node --import tsx bench/events-writer.ts <file> <count>`,
 * forked with IPC. Opens the store, adds one container, says `ready`, and on `go` writes
 * `count` durable state changes (saveContainer: one transaction and one event each), then
 * reports how long they took.
 */

/** What the writer reports when done. */
export interface WriterReport {
  count: number;
  ms: number;
  firstSeq: number;
  lastSeq: number;
}

const [file, countText] = process.argv.slice(2);
const count = Number(countText);
if (!file || !Number.isInteger(count) || count < 1 || !process.send) {
  throw new Error('usage: fork bench/events-writer.ts <store file> <count> (with an IPC channel)');
}
const store = await openStore({ path: file, actor: 'bench-writer@berth' });
const ctr = await store.addContainer({
  config: { id: randomBytes(32).toString('hex'), name: `writer-${process.pid}`, image: 'docker.io/library/nginx:1.27' },
  state: { status: 'running', pid: 1 },
});
process.send({ ready: true });
process.once('message', async () => {
  const firstSeq = (await store.events.lastSeq()) + 1;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await store.saveContainer({ ...ctr, state: { status: 'running', pid: i + 2 } });
  const ms = performance.now() - t0;
  const report: WriterReport = { count, ms, firstSeq, lastSeq: await store.events.lastSeq() };
  await store.close();
  process.send!(report, () => process.disconnect());
});
