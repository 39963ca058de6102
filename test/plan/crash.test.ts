import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadManifest, openStore, type Store, type Manifest, type Plan } from '../../src/index.js';
import { tempDir } from '../helpers/store-factory.js';
import { declared, managedObjects, storeObjects } from './helpers.js';
import { workerArgs } from '../helpers/worker-bundle.js';

/*
 * A process killed with SIGKILL in the middle of a large apply leaves the old state or
 * the new one, never a mix (one transaction, DESIGN.md §7), and its workspace lock is
 * then reported stale (its holder's pid is dead, DESIGN.md §5). Real child processes.
 */

const WORKER = fileURLToPath(new URL('./workers/apply-worker.ts', import.meta.url));
const NS = 'big';

/** Old: 20 standalone containers. New: 3000 containers (30 pods of 50 in chains, 1500 standalone). */
function oldDoc(): object {
  const containers: Record<string, object> = {};
  for (let i = 0; i < 20; i++) containers[`s-${i}`] = { image: 'img:1' };
  return { version: 1, namespace: NS, containers };
}

function newDoc(): object {
  const pods: Record<string, object> = {};
  for (let p = 0; p < 30; p++) {
    const containers: Record<string, object> = {};
    for (let i = 0; i < 50; i++) {
      containers[`p${p}-c${i}`] = { image: 'img:2', ...(i > 0 ? { dependsOn: [`p${p}-c${i - 1}`] } : {}) };
    }
    pods[`pod-${p}`] = { labels: { n: String(p) }, containers };
  }
  const containers: Record<string, object> = {};
  for (let i = 0; i < 1500; i++) containers[`s-${i}`] = { image: 'img:2', env: { I: String(i) } };
  return { version: 1, namespace: NS, volumes: { shared: {} }, pods, containers };
}

interface Seeded {
  dir: string;
  storePath: string;
  /** The saved plan from the old state to the new one. */
  planPath: string;
  oldObjects: Awaited<ReturnType<typeof storeObjects>>;
  newManifest: Manifest;
}

// Parsing 3000 containers of YAML takes a second or two: do it once for the file.
let newManifest: Manifest | undefined;

/**
 * A store with the old manifest applied (serial 1), closed, and the saved plan to the new
 * manifest, so the children only apply (as `berth apply PLANFILE` does).
 */
async function seed(): Promise<Seeded> {
  newManifest ??= loadManifest(stringify(newDoc()));
  const dir = tempDir('berth-crash-');
  const storePath = join(dir, 'berth.db');
  const planPath = join(dir, 'new.plan.json');
  const store = await openStore({ path: storePath });
  try {
    await store.apply(await store.plan('default', loadManifest(stringify(oldDoc()))));
    writeFileSync(planPath, JSON.stringify(await store.plan('default', newManifest)));
    return { dir, storePath, planPath, oldObjects: await storeObjects(store, NS), newManifest };
  } finally {
    await store.close();
  }
}

interface Child {
  pid: number;
  waitFor(prefix: string): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function startWorker(storePath: string, planPath: string, pauseAt?: number): Child {
  const args = [...workerArgs(WORKER), storePath, planPath, ...(pauseAt === undefined ? [] : [String(pauseAt)])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => l.startsWith(w.prefix));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  child.stderr.on('data', (d: Buffer) => void (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    pid: child.pid!,
    exit,
    output: () => out,
    waitFor: (prefix) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ prefix, resolve });
        check();
        void exit.then(() => setTimeout(() => reject(new Error(`worker exited before "${prefix}":\n${out}`)), 50));
      }),
  };
}

type Outcome = 'old' | 'new';

/** Which state the store is in; fails on anything else (a mix). */
async function outcomeOf(store: Store, s: Seeded): Promise<Outcome> {
  const ws = await store.withNamespace(NS).workspaces.readState('default');
  const objects = await storeObjects(store, NS);
  const containers = Object.keys(objects).filter((k) => k.startsWith('container/')).length;
  if (ws.serial === 1) {
    expect(containers).toBe(20);
    expect(objects).toEqual(s.oldObjects);
    return 'old';
  }
  expect(ws.serial).toBe(2);
  expect(containers).toBe(3000);
  expect(Object.keys(objects)).toHaveLength(3000 + 30 + 1);
  expect(await managedObjects(store, NS, 'default')).toEqual(declared(s.newManifest));
  return 'new';
}

describe('SIGKILL during a large apply', () => {
  it('killed inside the apply transaction: the old state, and a stale workspace lock that can be cleared', async () => {
    const s = await seed();
    const child = startWorker(s.storePath, s.planPath, 1500);
    expect(Number((await child.waitFor('APPLYING')).split(' ')[1])).toBeGreaterThan(3000);
    await child.waitFor('PAUSED 1500');
    process.kill(child.pid, 'SIGKILL');
    expect((await child.exit).signal).toBe('SIGKILL');

    const store = await openStore({ path: s.storePath });
    try {
      expect(await outcomeOf(store, s)).toBe('old');
      const locks = await store.locks.list();
      expect(locks).toHaveLength(1);
      expect(locks[0]).toMatchObject({ key: `workspace:${NS}/default`, pid: child.pid, stale: true });

      // The stale lock still blocks (it is broken only on request) ...
      const ns = store.withNamespace(NS);
      const plan = JSON.parse(readFileSync(s.planPath, 'utf8')) as Plan;
      const err = await store.apply(plan).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('LOCKED');
      // ... and once force-unlocked, the same saved plan applies: nothing of the killed run remains.
      await ns.workspaces.forceUnlock('default', locks[0]!.id);
      const result = await store.apply(plan);
      expect(result.serial).toBe(2);
      expect(await outcomeOf(store, s)).toBe('new');
      expect(await store.locks.list()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('killed at random moments of concurrent applies: each store is wholly old or wholly new', async () => {
    const base = await seed();
    const delays = [100, 600, 1200];
    const runs = delays.map((delay, i) => {
      const storePath = join(base.dir, `run-${i}.db`);
      copyFileSync(base.storePath, storePath);
      return { delay, storePath };
    });
    const outcomes = await Promise.all(
      runs.map(async ({ delay, storePath }) => {
        const child = startWorker(storePath, base.planPath);
        await child.waitFor('APPLYING');
        await new Promise((r) => setTimeout(r, delay + Math.floor(Math.random() * 100)));
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already finished
        }
        await child.exit;
        const store = await openStore({ path: storePath });
        try {
          const outcome = await outcomeOf(store, base);
          for (const lock of await store.locks.list()) expect(lock.stale).toBe(true);
          return outcome;
        } finally {
          await store.close();
        }
      }),
    );
    for (const o of outcomes) expect(['old', 'new']).toContain(o);
  });
});
