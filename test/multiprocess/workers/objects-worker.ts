/**
 * A child process for test/multiprocess/objects.test.ts, run with
 * `node --import tsx objects-worker.ts MODE STORE ...`. It talks to the parent through
 * stdout, one JSON document per line.
 *
 * Modes:
 * - `churn STORE INDEX COUNT [VOLUME]`: prints `{ ready }` once the store is open, waits
 *   for a line on stdin, adds COUNT containers with unique names (every odd
 *   one depending on the one before it, all using VOLUME when given), then removes
 *   the odd ones; prints `{ done, added, removed, errors }` where errors counts every error
 *   code seen (none expected).
 * - `race STORE`: prints `{ ready }`, then for every stdin line `go ROUND NAME AT` waits
 *   until the epoch millisecond AT and adds a container named NAME; prints
 *   `{ round, ok }` or `{ round, code }`. Ends on `exit` or end of input.
 * - `crash STORE LOG PREFIX SEED`: prints `{ loaded }`, waits for a line on stdin, opens
 *   the store, creates its pods and volumes, prints `{ ready }`, then
 *   loops forever over addContainer / addContainerToPod / removeContainer /
 *   removeContainerFromPod with dependencies and named volumes, until it is killed. Every
 *   change is logged to LOG with fsync: `intent-add ID` before the call and `add ID` after
 *   it resolved; `intent-rm ID` before a removal and `rm ID` after it.
 *
 * STORE is a path, or the JSON of a factory target ({ path } or { url, schema }) for a
 * PostgreSQL store.
 */
import { fsyncSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isBerthError, openStore } from '../../../src/index.js';
import type { Container, Pod } from '../../../src/engine/types.js';
import { prng } from '../../helpers/prng.js';

type Store = Awaited<ReturnType<typeof openStore>>;

/** openStore's location options from a STORE argument (a path, or a JSON target). */
function target(store: string): { path?: string; url?: string; schema?: string } {
  return store.startsWith('{')
    ? (JSON.parse(store) as { path?: string; url?: string; schema?: string })
    : { path: store };
}

function send(message: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function codeOf(err: unknown): string {
  if (isBerthError(err)) return err.code;
  return `RAW:${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
}

/** A 64-hex id that starts with a readable tag, so that ids of different workers never collide. */
function hexId(tag: string, n: number): string {
  const head = Buffer.from(tag).toString('hex') + n.toString(16).padStart(8, '0');
  return head.padEnd(64, '0').slice(0, 64);
}

/** Resolves on the first line of stdin: the parent's start signal. */
async function startSignal(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const _line of lines) break;
  lines.close();
  process.stdin.destroy();
}

async function churn(path: string, index: number, count: number, volume: string): Promise<void> {
  const store = await openStore(target(path));
  // All workers start writing together, once every one has opened the store.
  send({ ready: true });
  await startSignal();
  const errors: Record<string, number> = {};
  const seen = (err: unknown): void => {
    const code = codeOf(err);
    errors[code] = (errors[code] ?? 0) + 1;
  };
  const added: string[] = [];
  const removed: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = hexId(`w${index}`, i);
    ids.push(id);
    const ctr: Container = {
      config: {
        id,
        name: `w${index}-c${i}`,
        image: 'busybox',
        ...(volume !== '-' && { namedVolumes: [{ name: volume, dest: '/data' }] }),
        ...(i % 2 === 1 && { dependencies: [ids[i - 1]!] }),
      },
      state: { status: 'configured' },
    };
    try {
      await store.addContainer(ctr);
      added.push(id);
    } catch (err) {
      seen(err);
    }
    // Reads in between, as a real runtime does: they must never see a half-written container.
    if (i % 10 === 0) {
      try {
        await store.lookupContainer(`w${index}-c${i}`);
      } catch (err) {
        seen(err);
      }
    }
  }
  for (let i = 1; i < count; i += 2) {
    try {
      await store.removeContainer({ config: { id: ids[i]!, name: `w${index}-c${i}` }, state: { status: 'exited' } });
      removed.push(ids[i]!);
    } catch (err) {
      seen(err);
    }
  }
  await store.close();
  send({ done: true, added, removed, errors });
}

async function race(path: string): Promise<void> {
  const store = await openStore(target(path));
  send({ ready: true });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [word, round, name, at] = line.trim().split(' ');
    if (word === 'exit') break;
    if (word !== 'go') continue;
    const wait = Number(at) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      // No id: berth generates one, so only the name is contested.
      await store.addContainer({ config: { name: name! } as Container['config'], state: { status: 'configured' } });
      send({ round: Number(round), ok: true });
    } catch (err) {
      send({ round: Number(round), code: codeOf(err) });
    }
  }
  lines.close();
  process.stdin.destroy();
  await store.close();
}

async function crash(path: string, logPath: string, prefix: string, seed: number): Promise<void> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const log = openSync(logPath, 'a');
  const record = (line: string): void => {
    writeSync(log, line + '\n');
    fsyncSync(log);
  };
  // Loading tsx and the engine is the slow part: the parent starts the next worker early
  // and lets it open the store only once it has checked the previous crash.
  send({ loaded: true });
  await startSignal();
  const store: Store = await openStore({ path });
  const pods: Pod[] = [];
  for (const p of [1, 2]) {
    pods.push(await store.addPod({ config: { id: hexId(`${prefix}p`, p), name: `${prefix}-pod${p}` }, state: {} }));
  }
  const volumes = [`${prefix}-v1`, `${prefix}-v2`];
  for (const name of volumes) await store.addVolume({ config: { name }, state: {} });
  send({ ready: true });

  /** Live containers of this worker: id -> { pod, dependencies }. */
  const live = new Map<string, { name: string; pod: string | undefined; deps: string[] }>();
  const dependents = (id: string): number => [...live.values()].filter((c) => c.deps.includes(id)).length;
  let n = 0;
  // Runs until the parent kills it.
  for (;;) {
    const roll = rnd();
    if (roll < 0.6 || live.size < 3) {
      const i = n++;
      const id = hexId(`${prefix}c`, i);
      const name = `${prefix}-c${i}`;
      const pod = rnd() < 0.5 ? pick(pods) : undefined;
      const candidates = [...live.entries()].filter(([, c]) => c.pod === pod?.config.id).map(([cid]) => cid);
      const deps = candidates.length > 0 && rnd() < 0.7 ? [pick(candidates)] : [];
      if (deps.length > 0 && candidates.length > 1 && rnd() < 0.3) {
        const other = pick(candidates);
        if (!deps.includes(other)) deps.push(other);
      }
      const ctr: Container = {
        config: {
          id,
          name,
          image: 'busybox',
          dependencies: deps,
          namedVolumes: rnd() < 0.7 ? [{ name: pick(volumes), dest: '/data' }] : [],
          labels: { worker: prefix },
          networks: { front: { aliases: [name] } },
        },
        state: { status: 'created' },
      };
      record(`intent-add ${id}`);
      if (pod) await store.addContainerToPod(pod, ctr);
      else await store.addContainer(ctr);
      record(`add ${id}`);
      live.set(id, { name, pod: pod?.config.id, deps });
    } else {
      const removable = [...live.keys()].filter((id) => dependents(id) === 0);
      const id = pick(removable);
      const c = live.get(id)!;
      const arg: Container = {
        config: { id, name: c.name, ...(c.pod !== undefined && { pod: c.pod }) },
        state: { status: 'exited' },
      };
      record(`intent-rm ${id}`);
      if (c.pod !== undefined)
        await store.removeContainerFromPod(
          pods.find((p) => p.config.id === c.pod)!,
          arg,
        );
      else await store.removeContainer(arg);
      record(`rm ${id}`);
      live.delete(id);
    }
  }
}

const [mode, ...args] = process.argv.slice(2);
try {
  if (mode === 'churn') await churn(args[0]!, Number(args[1]), Number(args[2]), args[3] ?? '-');
  else if (mode === 'race') await race(args[0]!);
  else if (mode === 'crash') await crash(args[0]!, args[1]!, args[2]!, Number(args[3]));
  else throw new Error(`unknown mode ${String(mode)}`);
} catch (err) {
  send({ fatal: codeOf(err), message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
}
