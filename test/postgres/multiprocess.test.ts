import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { postgresFactory } from '../helpers/store-factory.js';
import { describePg, LineWorker } from './helpers.js';

/*
 * Real processes sharing one PostgreSQL store (issue: "Multi-process tests on
 * PostgreSQL"): a workspace lock contended by 4 processes loses no update, a contested
 * container name has exactly one winner and the loser gets CONTAINER_EXISTS, and 4
 * processes adding containers at once lose nothing. The workers are the SQLite suite's,
 * given a JSON target ({ url, schema }) instead of a path.
 */

const COUNTER_WORKER = fileURLToPath(new URL('../multiprocess/workers/counter-worker.ts', import.meta.url));
const OBJECTS_WORKER = fileURLToPath(new URL('../multiprocess/workers/objects-worker.ts', import.meta.url));

describePg('postgres: several processes on one store', () => {
  it('4 processes x 50 rounds of lock -> readState -> writeState(counter + 1) -> unlock lose no update', async () => {
    const processes = 4;
    const rounds = 50;
    const store = await postgresFactory.open();
    await store.workspaces.create('counter');
    await store.workspaces.writeState('counter', { counter: 1000 });
    const before = await store.workspaces.readState('counter');
    const target = JSON.stringify(postgresFactory.target(store));

    const workers = Array.from(
      { length: processes },
      () => new LineWorker(COUNTER_WORKER, [target, 'counter', String(rounds)]),
    );
    await Promise.all(workers.map((w) => w.next((m) => m.ready === true)));
    for (const w of workers) w.send('go');
    const results = await Promise.all(workers.map((w) => w.next((m) => m.done === true, 50_000)));
    const exits = await Promise.all(workers.map((w) => w.exited));
    for (const [i, r] of results.entries()) {
      expect({ result: r, exit: exits[i] }).toMatchObject({ result: { rounds }, exit: { code: 0 } });
    }

    const after = await store.workspaces.readState('counter');
    expect((after.state as { counter: number }).counter).toBe(1000 + processes * rounds);
    expect(after.serial).toBe(before.serial + processes * rounds);
    expect(after.lineage).toBe(before.lineage);
    const history = await store.workspaces.history('counter');
    expect(history[0]?.serial).toBe(after.serial);
    // Every serial in between was written exactly once.
    expect(new Set(history.map((h) => h.serial)).size).toBe(history.length);
    expect((await store.workspaces.get('counter')).lock).toBeUndefined();
    // Every round took a fencing token bigger than the one before, in commit order.
    const acquires = await store.events.list({ types: ['lock.acquire'] });
    const tokens = acquires.map((e) => e.data.fencingToken as number);
    expect(tokens).toHaveLength(processes * rounds);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
  });

  it('gives a contested container name to exactly one of two processes; the other gets CONTAINER_EXISTS', async () => {
    const store = await postgresFactory.open();
    const target = JSON.stringify(postgresFactory.target(store));
    const racers = [new LineWorker(OBJECTS_WORKER, ['race', target]), new LineWorker(OBJECTS_WORKER, ['race', target])];
    await Promise.all(racers.map((w) => w.next((m) => m.ready === true)));
    const rounds = 15;
    for (let round = 0; round < rounds; round++) {
      // Both start at the same wall-clock millisecond.
      const at = Date.now() + 40;
      for (const w of racers) w.send(`go ${round} race-${round} ${at}`);
      const outcomes = await Promise.all(racers.map((w) => w.next((m) => m.round === round)));
      const winners = outcomes.filter((o) => o.ok === true);
      const losers = outcomes.filter((o) => o.ok !== true);
      expect(winners, `round ${round}: ${JSON.stringify(outcomes)}`).toHaveLength(1);
      // Never STORE_BUSY or INTERNAL: the unique-violation race is retried and reported properly.
      expect(losers[0]!.code, `round ${round}`).toBe('CONTAINER_EXISTS');
    }
    for (const w of racers) {
      w.send('exit');
      w.endInput();
    }
    await Promise.all(racers.map((w) => w.exited));
    const names = (await store.allContainers()).map((c) => c.config.name).sort();
    expect(names).toEqual(Array.from({ length: rounds }, (_, i) => `race-${i}`).sort());
    expect(await store.events.list({ types: ['container.create'] })).toHaveLength(rounds);
  });

  it('loses nothing when 4 processes add and remove containers at once, and never reports STORE_BUSY', async () => {
    const store = await postgresFactory.open();
    await store.addVolume({ config: { name: 'shared' }, state: {} });
    const target = JSON.stringify(postgresFactory.target(store));
    const count = 24;
    const workers = [0, 1, 2, 3].map(
      (i) => new LineWorker(OBJECTS_WORKER, ['churn', target, String(i), String(count), 'shared']),
    );
    await Promise.all(workers.map((w) => w.next((m) => m.ready === true)));
    for (const w of workers) w.send('go');
    const results = await Promise.all(workers.map((w) => w.next((m) => m.done === true, 50_000)));
    await Promise.all(workers.map((w) => w.exited));

    const expected = new Set<string>();
    for (const [i, r] of results.entries()) {
      expect(r.errors, `worker ${i} errors`).toEqual({});
      expect(r.added as string[], `worker ${i} added`).toHaveLength(count);
      expect(r.removed as string[], `worker ${i} removed`).toHaveLength(count / 2);
      for (const id of r.added as string[]) expected.add(id);
      for (const id of r.removed as string[]) expected.delete(id);
    }
    const all = await store.allContainers();
    expect(all.map((c) => c.config.id).sort()).toEqual([...expected].sort());
    expect(new Set(all.map((c) => c.config.name)).size).toBe(all.length);
    expect((await store.volumeInUse({ config: { name: 'shared' }, state: {} })).sort()).toEqual([...expected].sort());
    for (const ctr of all) expect(await store.containerInUse(ctr)).toEqual([]);
    // One event per change, seqs strictly increasing.
    const events = await store.events.list({ types: ['container.*'] });
    expect(events.filter((e) => e.type === 'container.create')).toHaveLength(4 * count);
    expect(events.filter((e) => e.type === 'container.remove')).toHaveLength(2 * count);
    for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBeGreaterThan(events[i - 1]!.seq);
  });
});
