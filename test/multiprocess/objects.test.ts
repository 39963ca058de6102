/**
 * The object store shared by real processes (DESIGN.md §2): concurrent writers lose
 * nothing and never see STORE_BUSY, a name race has exactly one winner, and a writer
 * killed with SIGKILL mid-transaction leaves an intact store in which every rule of
 * DESIGN.md §3 still holds and every acknowledged change is still there.
 *
 * Children run workers/objects-worker.ts, bundled (test/helpers/worker-bundle.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { LineWorker } from '../helpers/line-worker.js';
import { tempDir } from '../helpers/store-factory.js';

const WORKER = fileURLToPath(new URL('./workers/objects-worker.ts', import.meta.url));

/** An objects worker: its JSON messages in order, its stderr, and how it ended. */
class Worker extends LineWorker {
  constructor(args: string[]) {
    super(WORKER, args);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates and migrates a store, so children only open it. */
async function createStore(path: string, volumes: string[] = []): Promise<void> {
  const store = await openStore({ path });
  for (const name of volumes) await store.addVolume({ config: { name }, state: {} });
  await store.close();
}

describe('object store shared by several processes', () => {
  it('loses nothing when 4 processes add and remove containers at once, and never reports STORE_BUSY', async () => {
    const path = join(tempDir('berth-mp-'), 'berth.db');
    await createStore(path, ['shared']);
    const count = 200;
    const workers = [0, 1, 2, 3].map((i) => new Worker(['churn', path, String(i), String(count), 'shared']));
    await Promise.all(workers.map((w) => w.next((m) => 'ready' in m)));
    for (const w of workers) w.send('go');
    const results = await Promise.all(workers.map((w) => w.next((m) => 'done' in m, 50_000)));
    await Promise.all(workers.map((w) => w.exited));

    const expected = new Set<string>();
    for (const [i, r] of results.entries()) {
      // Every error code a worker saw, STORE_BUSY above all: there must be none.
      expect(r.errors, `worker ${i} errors`).toEqual({});
      expect(r.added as string[], `worker ${i} added`).toHaveLength(count);
      expect(r.removed as string[], `worker ${i} removed`).toHaveLength(count / 2);
      for (const id of r.added as string[]) expected.add(id);
      for (const id of r.removed as string[]) expected.delete(id);
    }

    const store = await openStore({ path });
    try {
      const all = await store.allContainers();
      expect(all.map((c) => c.config.id).sort()).toEqual([...expected].sort());
      expect(new Set(all.map((c) => c.config.name)).size).toBe(all.length);
      expect((await store.volumeInUse({ config: { name: 'shared' }, state: {} })).sort()).toEqual([...expected].sort());
      for (const ctr of all) expect(await store.containerInUse(ctr)).toEqual([]);
    } finally {
      await store.close();
    }
    checkStoreFile(path);
  });

  it('lets 4 processes open a brand-new store at once', async () => {
    const path = join(tempDir('berth-mp-'), 'fresh', 'berth.db');
    // They open the store at once: the first creates and migrates it, the others wait for it.
    const workers = [0, 1, 2, 3].map((i) => new Worker(['churn', path, String(i), '10']));
    await Promise.all(workers.map((w) => w.next((m) => 'ready' in m)));
    for (const w of workers) w.send('go');
    const results = await Promise.all(workers.map((w) => w.next((m) => 'done' in m, 30_000)));
    await Promise.all(workers.map((w) => w.exited));
    for (const [i, r] of results.entries()) expect(r.errors, `worker ${i} errors`).toEqual({});
    const rows = checkStoreFile(path);
    expect(rows).toHaveLength(4 * 5);
  });

  it('gives a contested name to exactly one of two processes', async () => {
    const path = join(tempDir('berth-mp-'), 'berth.db');
    await createStore(path);
    const racers = [new Worker(['race', path]), new Worker(['race', path])];
    try {
      await Promise.all(racers.map((w) => w.next((m) => 'ready' in m)));
      for (let round = 0; round < 20; round++) {
        // Both start at the same wall-clock millisecond.
        const at = Date.now() + 40;
        for (const w of racers) w.send(`go ${round} race-${round} ${at}`);
        const outcomes = await Promise.all(racers.map((w) => w.next((m) => m.round === round)));
        const winners = outcomes.filter((o) => o.ok === true);
        const losers = outcomes.filter((o) => o.ok !== true);
        expect(winners, `round ${round}: ${JSON.stringify(outcomes)}`).toHaveLength(1);
        expect(losers[0]!.code, `round ${round}`).toBe('CONTAINER_EXISTS');
      }
      for (const w of racers) {
        w.send('exit');
        w.endInput();
      }
      await Promise.all(racers.map((w) => w.exited));
    } finally {
      for (const w of racers) if (!w.done) w.child.kill('SIGKILL');
    }
    const store = await openStore({ path });
    try {
      const names = (await store.allContainers()).map((c) => c.config.name).sort();
      expect(names).toEqual(Array.from({ length: 20 }, (_, i) => `race-${i}`).sort());
    } finally {
      await store.close();
    }
  });

  it('keeps the store intact and every acknowledged change when a writer is killed with SIGKILL', async () => {
    const dir = tempDir('berth-mp-');
    const path = join(dir, 'berth.db');
    await createStore(path);
    /** Across all rounds: containers acknowledged as added, and those whose removal was attempted or done. */
    const acked = new Set<string>();
    const intended = new Set<string>();
    const removeIntended = new Set<string>();
    const removed = new Set<string>();
    /** Adds of earlier rounds that committed but were killed before their acknowledgement. */
    const committedUnacked = new Set<string>();
    const rounds = 10;
    const seeds = Array.from({ length: rounds }, () => Math.floor(Math.random() * 2 ** 31));
    const start = (round: number): Worker =>
      new Worker(['crash', path, join(dir, `k${round}.log`), `k${round}`, String(seeds[round])]);
    let next = start(0);
    for (let round = 0; round < rounds; round++) {
      const log = join(dir, `k${round}.log`);
      // Kill delays spread over 20..420 ms, a different one every round.
      const delay = 20 + Math.floor(((round + Math.random()) / rounds) * 400);
      const context = `round ${round} (seed ${seeds[round]}, kill after ${delay} ms)`;
      const worker = next;
      await worker.next((m) => 'loaded' in m, 30_000);
      worker.send('go');
      await worker.next((m) => 'ready' in m, 30_000);
      await sleep(delay);
      expect(worker.done, `${context}: the worker ended before it was killed\n${worker.errorOutput}`).toBe(false);
      worker.child.kill('SIGKILL');
      const end = await worker.exited;
      expect(end.signal, context).toBe('SIGKILL');
      // The next worker loads while this crash is checked; it opens the store only on 'go'.
      if (round + 1 < rounds) next = start(round + 1);

      for (const line of existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []) {
        const [what, id] = line.split(' ');
        if (id === undefined) continue;
        if (what === 'intent-add') intended.add(id);
        if (what === 'add') acked.add(id);
        if (what === 'intent-rm') removeIntended.add(id);
        if (what === 'rm') removed.add(id);
      }

      // The raw file first, before anything opens it read-write: intact and consistent.
      const rows = checkStoreFile(path, context);
      const present = new Set(rows.map((r) => r.id));
      for (const id of acked) {
        if (!removeIntended.has(id))
          expect(present.has(id), `${context}: acknowledged container ${id} is lost`).toBe(true);
      }
      for (const id of removed) expect(present.has(id), `${context}: removed container ${id} is back`).toBe(false);
      for (const id of present) expect(intended.has(id), `${context}: container ${id} was never added`).toBe(true);
      const unacked = [...present].filter((id) => !acked.has(id) && !committedUnacked.has(id));
      expect(
        unacked.length,
        `${context}: more than the one in-flight add committed unacknowledged`,
      ).toBeLessThanOrEqual(1);
      for (const id of unacked) committedUnacked.add(id);

      // Then through berth: it opens the store after the crash and sees the same containers.
      const store = await openStore({ path });
      try {
        const ids = (await store.allContainers()).map((c) => c.config.id).sort();
        expect(ids, context).toEqual([...present].sort());
        for (const id of ids) await store.lookupContainer(id);
      } finally {
        await store.close();
      }
    }
    expect(acked.size).toBeGreaterThan(rounds);
  }, 90_000);
});

interface ContainerRow {
  id: string;
  name: string;
  namespace: string;
  pod_id: string | null;
  config_json: string;
}

/**
 * Opens the store file read-only with better-sqlite3 and checks it: `PRAGMA
 * integrity_check` and `foreign_key_check`, then the object rules of DESIGN.md §3 on the
 * rows themselves. Returns the container rows.
 */
function checkStoreFile(path: string, context = 'store'): ContainerRow[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('integrity_check', { simple: true }), `${context}: integrity_check`).toBe('ok');
    expect(db.pragma('foreign_key_check'), `${context}: foreign_key_check`).toEqual([]);
    const containers = db
      .prepare('SELECT id, name, namespace, pod_id, config_json FROM containers')
      .all() as ContainerRow[];
    const pods = db.prepare('SELECT id, name FROM pods').all() as Array<{ id: string; name: string }>;
    const volumes = new Set(
      (db.prepare('SELECT name FROM volumes').all() as Array<{ name: string }>).map((v) => v.name),
    );
    const deps = db.prepare('SELECT container_id, dependency_id FROM container_dependencies').all() as Array<{
      container_id: string;
      dependency_id: string;
    }>;
    const uses = db.prepare('SELECT container_id, volume_name FROM container_volumes').all() as Array<{
      container_id: string;
      volume_name: string;
    }>;
    const sessions = db.prepare('SELECT id, container_id FROM exec_sessions').all() as Array<{
      id: string;
      container_id: string;
    }>;

    const byId = new Map(containers.map((c) => [c.id, c]));
    const podIds = new Set(pods.map((p) => p.id));

    // Ids and names are unique across containers and pods together (no registry table checks it).
    const everyId = [...containers.map((c) => c.id), ...pods.map((p) => p.id)];
    const everyName = [...containers.map((c) => c.name), ...pods.map((p) => p.name)];
    expect(new Set(everyId).size, `${context}: an id shared by a container and a pod`).toBe(everyId.length);
    expect(new Set(everyName).size, `${context}: a name shared by a container and a pod`).toBe(everyName.length);

    for (const c of containers) {
      const config = JSON.parse(c.config_json) as {
        id: string;
        name: string;
        namespace?: string;
        pod?: string;
        dependencies?: string[];
        namedVolumes?: Array<{ name: string }>;
      };
      const what = `${context}: container ${c.id}`;
      // The columns and the config document agree.
      expect({ id: config.id, name: config.name, namespace: config.namespace, pod: config.pod ?? null }, what).toEqual({
        id: c.id,
        name: c.name,
        namespace: c.namespace,
        pod: c.pod_id,
      });
      // No container points at a missing pod, volume or dependency.
      if (c.pod_id !== null) expect(podIds.has(c.pod_id), `${what}: pod ${c.pod_id}`).toBe(true);
      const depRows = deps.filter((d) => d.container_id === c.id).map((d) => d.dependency_id);
      expect(depRows.sort(), `${what}: dependency rows`).toEqual([...(config.dependencies ?? [])].sort());
      for (const dep of depRows) {
        const target = byId.get(dep);
        expect(target, `${what}: dependency ${dep}`).toBeDefined();
        // A dependency is in the same pod, or both in none, and in the same namespace.
        expect(target!.pod_id, `${what}: pod of dependency ${dep}`).toBe(c.pod_id);
        expect(target!.namespace, `${what}: namespace of dependency ${dep}`).toBe(c.namespace);
      }
      const volumeRows = uses.filter((u) => u.container_id === c.id).map((u) => u.volume_name);
      expect(volumeRows.sort(), `${what}: volume rows`).toEqual(
        [...new Set((config.namedVolumes ?? []).map((v) => v.name))].sort(),
      );
      for (const v of volumeRows) expect(volumes.has(v), `${what}: volume ${v}`).toBe(true);
    }
    for (const d of deps)
      expect(byId.has(d.container_id), `${context}: dependency row of ${d.container_id}`).toBe(true);
    for (const u of uses) expect(byId.has(u.container_id), `${context}: volume row of ${u.container_id}`).toBe(true);
    for (const s of sessions) expect(byId.has(s.container_id), `${context}: exec session ${s.id}`).toBe(true);
    return containers;
  } finally {
    db.close();
  }
}
