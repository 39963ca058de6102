import { describe, expect, it } from 'vitest';
import type { BerthEvent, Store } from '../../src/index.js';
import { ctr } from '../conformance/builders.js';
import { openEvents, seqRange, sleep, startWriter, waitUntil } from './helpers.js';

/*
 * events.follow (API.md "Store — events"): follows the journal from `since` on,
 * including what other processes commit, in commit order, until its signal aborts.
 */

interface Follower {
  events: BerthEvent[];
  /** Resolves when the iteration ended (after an abort). */
  done: Promise<void>;
  abort(): void;
}

function follow(store: Store, opts: { since?: number; types?: string[]; pollMs?: number } = {}): Follower {
  const ctl = new AbortController();
  const events: BerthEvent[] = [];
  const done = (async () => {
    for await (const e of store.events.follow({ pollMs: 20, ...opts, signal: ctl.signal })) events.push(e);
  })();
  return { events, done, abort: () => ctl.abort() };
}

describe('events.follow', () => {
  it('sees what another process writes, in commit order, and stops when aborted', async () => {
    const store = await openEvents();
    const since = await store.events.lastSeq();
    const f = follow(store, { since });
    const writer = await startWriter(store.location);
    const reply = await writer.run({ op: 'create', prefix: 'child', count: 30 });
    await waitUntil(() => f.events.length >= reply.lastSeq! - since, 'the follower to catch up');
    expect(f.events.map((e) => e.seq)).toEqual(seqRange(since, reply.lastSeq!));
    const creates = f.events.filter((e) => e.type === 'container.create');
    expect(creates.map((e) => e.subject.name)).toEqual(Array.from({ length: 30 }, (_, i) => `child-${i}`));
    expect(creates.every((e) => e.actor === `writer-${writer.pid}@test`)).toBe(true);

    const t0 = Date.now();
    f.abort();
    await f.done;
    expect(Date.now() - t0).toBeLessThan(2000);
    // Nothing is delivered after the abort.
    const seen = f.events.length;
    await writer.run({ op: 'create', prefix: 'late', count: 3 });
    await sleep(100);
    expect(f.events.length).toBe(seen);
    expect(await writer.exit()).toBe(0);
  });

  it('without since starts at the end of the journal; with since replays from there', async () => {
    const store = await openEvents();
    for (let i = 0; i < 5; i++) await store.addContainer(ctr());
    const last = await store.events.lastSeq();
    const fromNow = follow(store);
    const replay = follow(store, { since: last - 3 });
    await waitUntil(() => replay.events.length === 3, 'the replay');
    await sleep(100); // let fromNow read the journal's end first
    const c = ctr({ name: 'after' });
    await store.addContainer(c);
    await waitUntil(() => fromNow.events.length === 1 && replay.events.length === 4, 'the new event');
    expect(fromNow.events.map((e) => e.seq)).toEqual([last + 1]);
    expect(replay.events.map((e) => e.seq)).toEqual(seqRange(last - 3, last + 1));
    fromNow.abort();
    replay.abort();
    await Promise.all([fromNow.done, replay.done]);
  });

  it('types filter what is followed', async () => {
    const store = await openEvents();
    const since = await store.events.lastSeq();
    const onlyVolumes = follow(store, { since, types: ['volume.*'] });
    const onlyCreate = follow(store, { since, types: ['container.create'] });
    const writer = await startWriter(store.location);
    await writer.run({ op: 'save', count: 5 }); // container.create + 5 container.update
    await store.addVolume({ config: { name: 'v1' }, state: {} });
    await waitUntil(() => onlyVolumes.events.length === 1 && onlyCreate.events.length === 1, 'filtered events');
    await sleep(100);
    expect(onlyVolumes.events.map((e) => e.type)).toEqual(['volume.create']);
    expect(onlyCreate.events.map((e) => e.type)).toEqual(['container.create']);
    onlyVolumes.abort();
    onlyCreate.abort();
    await Promise.all([onlyVolumes.done, onlyCreate.done]);
  });

  it('a namespaced handle follows only its namespace', async () => {
    const store = await openEvents();
    const since = await store.events.lastSeq();
    const a = follow(store.withNamespace('team-a'), { since });
    const all = follow(store, { since });
    const writer = await startWriter(store.location);
    await writer.run({ op: 'create', prefix: 'a', count: 4, namespace: 'team-a' });
    await writer.run({ op: 'create', prefix: 'b', count: 4, namespace: 'team-b' });
    await waitUntil(() => all.events.length === 8, 'all eight creates');
    await sleep(100);
    expect(a.events.map((e) => e.subject.name)).toEqual(['a-0', 'a-1', 'a-2', 'a-3']);
    expect(a.events.every((e) => e.namespace === 'team-a')).toBe(true);
    a.abort();
    all.abort();
    await Promise.all([a.done, all.done]);
  });

  it('ten followers each get every event of a writer process exactly once, in order', async () => {
    const store = await openEvents();
    const since = await store.events.lastSeq();
    const followers = Array.from({ length: 10 }, () => follow(store, { since }));
    const writer = await startWriter(store.location);
    const [r] = await Promise.all([
      writer.run({ op: 'create', prefix: 'x', count: 150 }),
      store.addVolume({ config: { name: 'mine' }, state: {} }), // a write of this process in between
    ]);
    const last = Math.max(r!.lastSeq!, await store.events.lastSeq());
    await waitUntil(() => followers.every((f) => f.events.length >= last - since), 'every follower to catch up');
    for (const f of followers) expect(f.events.map((e) => e.seq)).toEqual(seqRange(since, last));
    for (const f of followers) f.abort();
    await Promise.all(followers.map((f) => f.done));
  });

  it('snapshot() + follow({ since: snapshot.seq }) miss nothing and repeat nothing while a child writes', async () => {
    const store = await openEvents();
    const writer = await startWriter(store.location);
    const count = 120;
    const writing = writer.run({ op: 'create', prefix: 's', count, delayMs: 2 });
    const views: { names: string[]; seq: number; f: Follower }[] = [];
    for (let k = 0; k < 3; k++) {
      await sleep(100);
      const snap = await store.snapshot();
      views.push({
        names: snap.containers.map((c) => c.config.name),
        seq: snap.seq,
        f: follow(store, { since: snap.seq }),
      });
    }
    const last = (await writing).lastSeq!;
    for (const { names, seq, f } of views) {
      await waitUntil(() => (f.events.at(-1)?.seq ?? seq) >= last, `the follower from ${seq}`);
      expect(f.events.map((e) => e.seq)).toEqual(seqRange(seq, last));
      const created = f.events.filter((e) => e.type === 'container.create').map((e) => e.subject.name!);
      expect(created.filter((n) => names.includes(n))).toEqual([]);
      expect([...names, ...created].sort()).toEqual(Array.from({ length: count }, (_, i) => `s-${i}`).sort());
      f.abort();
      await f.done;
    }
  });

  it('an abort before the first event, or closing the store, ends the iteration', async () => {
    const store = await openEvents();
    const ctl = new AbortController();
    ctl.abort();
    const got: BerthEvent[] = [];
    for await (const e of store.events.follow({ since: 0, signal: ctl.signal })) got.push(e);
    expect(got).toEqual([]);

    const f = follow(store, { since: 0, pollMs: 20 });
    await waitUntil(() => f.events.length > 0, 'the replay');
    await store.close();
    await Promise.race([
      f.done.catch(() => undefined),
      sleep(3000).then(() => {
        throw new Error('follow() kept running after the store was closed');
      }),
    ]);
  });
});
