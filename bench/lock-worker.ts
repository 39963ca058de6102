import { LOCK_TIMEOUT_MS, openSide, type SideName } from './lock-sides.js';

/*
 * One of the processes of bench/locks.ts's contention runs, forked with IPC and reused
 * for every run. Per run: {type: 'run', side, dir, ws, cycles} -> opens the side, answers
 * {type: 'ready'}, waits for {type: 'go'} (so all processes start together), runs the
 * cycles, answers {type: 'done', ms} (or {type: 'error', message}), closes the side and
 * answers {type: 'closed'}.
 * {type: 'exit'} ends it.
 */

export type WorkerRequest =
  { type: 'run'; side: SideName; dir: string; ws: string; cycles: number } | { type: 'go' } | { type: 'exit' };
export type WorkerReply =
  { type: 'ready' } | { type: 'done'; ms: number } | { type: 'closed' } | { type: 'error'; message: string };

const send = (m: WorkerReply): void => void process.send!(m);
let go: (() => void) | undefined;

process.on('message', (m: WorkerRequest) => {
  if (m.type === 'go') go?.();
  else if (m.type === 'exit') process.disconnect();
  else void run(m).catch((err: unknown) => send({ type: 'error', message: String((err as Error).stack ?? err) }));
});

async function run(req: Extract<WorkerRequest, { type: 'run' }>): Promise<void> {
  const side = await openSide(req.side, req.dir);
  try {
    const started = new Promise<void>((resolve) => (go = resolve));
    send({ type: 'ready' });
    await started;
    const t0 = performance.now();
    for (let i = 0; i < req.cycles; i++) await side.cycle(req.ws, LOCK_TIMEOUT_MS);
    send({ type: 'done', ms: performance.now() - t0 });
  } finally {
    await side.close();
  }
  // The next run opens the side afresh, after this close (which may checkpoint the WAL).
  send({ type: 'closed' });
}
