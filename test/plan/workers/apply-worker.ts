import { readFileSync, writeSync } from 'node:fs';
import { openStore, type Plan } from '../../../src/index.js';

/*
 * A child process for the crash tests: applies a saved plan (as `berth apply PLANFILE`).
 *   apply-worker.ts STORE PLANFILE [pauseAt]
 * Prints `APPLYING <steps>` just before apply starts. With pauseAt, it stops inside the
 * apply transaction once that many steps are done (printing `PAUSED <n>`) and sleeps
 * until it is killed. Output goes straight to fd 1, so the parent sees it at once.
 */

const [storePath, planPath, pauseAtArg] = process.argv.slice(2);
if (!storePath || !planPath) throw new Error('usage: apply-worker.ts STORE PLANFILE [pauseAt]');
const pauseAt = pauseAtArg === undefined ? -1 : Number(pauseAtArg);
const say = (line: string): void => void writeSync(1, `${line}\n`);

const store = await openStore({ path: storePath });
const plan = JSON.parse(readFileSync(planPath, 'utf8')) as Plan;
say(`APPLYING ${plan.steps.length}`);
const started = Date.now();
const result = await store.apply(plan, {
  allowDestroy: true,
  onProgress: (done) => {
    if (done === pauseAt) {
      say(`PAUSED ${done}`);
      // Block the event loop inside the open transaction until the parent kills us.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
    }
  },
});
say(`APPLIED ${result.serial} ${Date.now() - started}ms`);
await store.close();
