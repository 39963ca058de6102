import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { ctr, expectCode, vol } from '../conformance/builders.js';
import { tempDir } from '../helpers/store-factory.js';
import { openEvents, seqRange, waitUntil } from './helpers.js';

/*
 * Retention (DESIGN.md §6 "Retention is bounded"): the journal keeps at most maxEvents
 * and nothing older than maxAgeMs; prune() drops the oldest, prunedThrough() says up to
 * which seq, and a reader's resume point (lastSeq, snapshot seq) never falls behind it.
 */

describe('retention by count', () => {
  it('prune() keeps the newest maxEvents; prunedThrough() moves with it', async () => {
    const store = await openEvents({ eventRetention: { maxEvents: 50 } });
    expect(await store.events.prunedThrough()).toBe(0);
    const c = await store.addContainer(ctr());
    for (let i = 0; i < 300; i++) await store.saveContainer({ ...c, state: { status: 'running', pid: i } });
    const last = await store.events.lastSeq();
    expect(last).toBeGreaterThan(300);

    const dropped = await store.events.prune();
    expect(dropped).toBe(last - 50);
    const kept = await store.events.list();
    expect(kept.length).toBe(50);
    expect(kept.map((e) => e.seq)).toEqual(seqRange(last - 50, last));
    expect(await store.events.prunedThrough()).toBe(last - 50);
    expect(await store.events.lastSeq()).toBe(last);
    // Reading from before the pruned point returns what is left, in order.
    expect((await store.events.list({ since: 0, limit: 3 })).map((e) => e.seq)).toEqual(seqRange(last - 50, last - 47));

    // Nothing more to drop: a no-op.
    expect(await store.events.prune()).toBe(0);
    expect(await store.events.prunedThrough()).toBe(last - 50);

    // Ten more writes push the window on by ten; seqs are never reused.
    for (let i = 0; i < 10; i++) await store.saveContainer({ ...c, state: { status: 'exited', exitCode: i } });
    expect(await store.events.lastSeq()).toBe(last + 10);
    expect(await store.events.prune()).toBe(10);
    expect(await store.events.prunedThrough()).toBe(last - 40);
    expect((await store.events.list()).map((e) => e.seq)).toEqual(seqRange(last - 40, last + 10));
  });

  it('prunes more than one batch (1000 rows) in one prune() call', async () => {
    const store = await openEvents({ eventRetention: { maxEvents: 10 } });
    await store.transaction(async (tx) => {
      for (let i = 0; i < 2600; i++) {
        await tx.events.append({ namespace: '', type: 'test.tick', subject: { kind: 'test' } });
      }
    });
    const last = await store.events.lastSeq();
    expect(await store.events.prune()).toBe(last - 10);
    expect((await store.events.list()).map((e) => e.seq)).toEqual(seqRange(last - 10, last));
    expect(await store.events.prunedThrough()).toBe(last - 10);
  });

  it('the store prunes by itself as writes go on (every 512 writes)', async () => {
    const store = await openEvents({ eventRetention: { maxEvents: 50 } });
    const c = await store.addContainer(ctr());
    for (let i = 0; i < 1100; i++) await store.saveContainer({ ...c, state: { status: 'running', pid: i } });
    await waitUntil(async () => (await store.events.prunedThrough()) > 0, 'automatic pruning', 10_000);
    // Automatic pruning runs in the background; let it finish its round.
    await waitUntil(
      async () => (await store.events.list()).length <= 50 + 1100 - 1024 + 5,
      'the journal to shrink to its retention',
      10_000,
    );
    const kept = await store.events.list();
    const last = await store.events.lastSeq();
    expect(kept[kept.length - 1]!.seq).toBe(last);
    expect(kept[0]!.seq).toBe((await store.events.prunedThrough()) + 1);
    expect(kept.map((e) => e.seq)).toEqual(seqRange(kept[0]!.seq - 1, last));
  });

  it('refuses a retention that is not a positive integer', async () => {
    const dir = tempDir();
    for (const eventRetention of [{ maxEvents: 0 }, { maxEvents: -5 }, { maxAgeMs: 1.5 }, { maxAgeMs: 0 }]) {
      await expectCode(openStore({ path: `${dir}/berth.db`, eventRetention }), 'INVALID_ARGUMENT');
    }
  });
});

describe('retention by age', () => {
  it('prune() drops events older than maxAgeMs by the store clock', async () => {
    const clock = { now: Date.UTC(2026, 2, 1, 8, 0, 0) };
    const store = await openEvents({ clock: () => clock.now, eventRetention: { maxAgeMs: 60_000 } });
    for (let i = 0; i < 20; i++) await store.addVolume(vol());
    const oldLast = await store.events.lastSeq();

    clock.now += 30_000; // still young
    expect(await store.events.prune()).toBe(0);
    expect(await store.events.prunedThrough()).toBe(0);

    clock.now += 90_000; // the first batch is now two minutes old
    for (let i = 0; i < 5; i++) await store.addVolume(vol());
    const last = await store.events.lastSeq();
    expect(await store.events.prune()).toBe(oldLast);
    expect(await store.events.prunedThrough()).toBe(oldLast);
    const kept = await store.events.list();
    expect(kept.map((e) => e.seq)).toEqual(seqRange(oldLast, last));
    expect(kept.every((e) => Date.parse(e.ts) === clock.now)).toBe(true);

    // firstSeqAt finds the first event at or after a time.
    expect(await store.events.firstSeqAt(clock.now - 1)).toBe(oldLast + 1);
    expect(await store.events.firstSeqAt(clock.now + 1)).toBeUndefined();
  });

  it('an emptied journal still reports the last seq it reached (lastSeq, snapshot seq >= prunedThrough)', async () => {
    const clock = { now: Date.UTC(2026, 2, 1, 8, 0, 0) };
    const store = await openEvents({ clock: () => clock.now, eventRetention: { maxAgeMs: 60_000 } });
    for (let i = 0; i < 5; i++) await store.addVolume(vol());
    const last = await store.events.lastSeq();
    clock.now += 10 * 60_000;
    await store.events.prune();
    expect(await store.events.prunedThrough()).toBe(last);
    expect(await store.events.list()).toEqual([]);
    // A reader resuming from these must not be told that it missed pruned events.
    expect(await store.events.lastSeq()).toBe(last);
    expect((await store.snapshot()).seq).toBe(last);
    // The next event continues the sequence.
    await store.addVolume(vol());
    expect((await store.events.list()).map((e) => e.seq)).toEqual([last + 1]);
  });
});
