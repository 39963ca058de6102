import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { openStore, type Container } from '../../../src/index.js';
import type { WriterCommand, WriterReply } from '../helpers.js';

/*
 * A writer in its own process: `node --import tsx writer.ts <store path>`. Prints
 * {"ready":true}, then runs one JSON command per stdin line and answers each with one
 * JSON line: how many writes it made, how long they took (ms), and the journal's last seq.
 */

const store = await openStore({ path: process.argv[2]!, actor: `writer-${process.pid}@test` });
let target: Container | undefined;

function reply(r: WriterReply): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function run(cmd: WriterCommand): Promise<number> {
  switch (cmd.op) {
    case 'create': {
      const handle = cmd.namespace === undefined ? store : store.withNamespace(cmd.namespace);
      for (let i = 0; i < cmd.count; i++) {
        await handle.addContainer({
          config: { id: randomBytes(32).toString('hex'), name: `${cmd.prefix}-${i}`, image: 'busybox' },
          state: { status: 'configured' },
        });
        if (cmd.delayMs) await new Promise((resolve) => setTimeout(resolve, cmd.delayMs));
      }
      return cmd.count;
    }
    case 'save': {
      target ??= await store.addContainer({
        config: { id: randomBytes(32).toString('hex'), name: `writer-${process.pid}`, image: 'busybox' },
        state: { status: 'running' },
      });
      for (let i = 0; i < cmd.count; i++)
        await store.saveContainer({ ...target, state: { status: 'running', pid: i } });
      return cmd.count;
    }
    case 'append': {
      const blob = cmd.bytes ? 'x'.repeat(cmd.bytes) : undefined;
      for (let i = 0; i < cmd.count; i++) {
        await store.events.append({
          namespace: '',
          type: cmd.type,
          subject: { kind: 'test', name: `n${i}` },
          data: blob ? { i, blob } : { i },
        });
      }
      return cmd.count;
    }
    case 'exit':
      return 0;
  }
}

process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as WriterCommand;
  if (cmd.op === 'exit') break;
  const t0 = performance.now();
  try {
    const count = await run(cmd);
    reply({ ok: true, op: cmd.op, count, ms: performance.now() - t0, lastSeq: await store.events.lastSeq() });
  } catch (err) {
    reply({ ok: false, op: cmd.op, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
}
await store.close();
// Stop reading stdin so the process can exit once the parent asks it to.
process.stdin.destroy();
