import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import type { BerthEvent, Store, LockInfo } from '../../src/index.js';
import { ctr, expectCode } from '../conformance/builders.js';
import { postgresFactory } from '../helpers/store-factory.js';
import { describePg, openClient, pgTarget, sleep, waitForListener, withClient } from './helpers.js';

/*
 * PostgreSQL-only behaviour of the issue: a write that cannot get the store's write lock
 * is STORE_BUSY after busyTimeoutMs, serialization failures are retried a bounded number
 * of times, locks from other hosts go stale only by lease, and followers wake on
 * LISTEN/NOTIFY instead of polling.
 */

/** The pid of a process that has exited (pids are not reused this quickly). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

/** A clock the test moves by hand. */
function movableClock(start = Date.now()): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describePg('postgres: busy store, retries, stale locks, LISTEN/NOTIFY', (url) => {
  it('fails a write with STORE_BUSY after busyTimeoutMs while another session holds the write lock; reads go on', async () => {
    const store = await postgresFactory.open();
    await store.addContainer(ctr({ name: 'before' }));
    // The default workspace is created on first use (a write): use it once beforehand.
    await store.workspaces.writeState('default', { v: 0 });
    const { schema } = pgTarget(store);
    const busy = await postgresFactory.reopen(store, { busyTimeoutMs: 300 });

    const holder = await openClient(url);
    await holder.query('BEGIN');
    await holder.query(`SELECT value FROM "${schema}".berth_meta WHERE key = 'write_lock' FOR UPDATE`);
    try {
      const started = Date.now();
      await expectCode(busy.addContainer(ctr({ name: 'blocked' })), 'STORE_BUSY');
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(3000);
      await expectCode(busy.workspaces.writeState('default', { v: 1 }), 'STORE_BUSY');
      // Reads never wait for writers.
      expect((await busy.lookupContainer('before')).config.name).toBe('before');
      expect((await busy.allContainers()).map((c) => c.config.name)).toEqual(['before']);
      expect((await busy.workspaces.readState('default')).state).toEqual({ v: 0 });
      expect((await busy.workspaces.history('default')).map((h) => h.serial)).toEqual([1]);
      expect(await busy.locks.list()).toEqual([]);
      expect((await busy.events.list({ types: ['container.*'] })).map((e) => e.subject.name)).toEqual(['before']);
    } finally {
      await holder.query('ROLLBACK');
    }
    // Nothing of the failed writes was kept, and the store writes again.
    expect(await store.hasContainer((await store.lookupContainer('before')).config.id)).toBe(true);
    await expectCode(store.lookupContainer('blocked'), 'NO_SUCH_CONTAINER');
    await busy.addContainer(ctr({ name: 'after' }));
    expect((await store.allContainers()).map((c) => c.config.name).sort()).toEqual(['after', 'before']);
  });

  it('retries a serialization failure a bounded number of times, then reports STORE_BUSY', async () => {
    const store = await postgresFactory.open();
    const { schema } = pgTarget(store);
    const q = (sql: string) => withClient(url, (c) => c.query(sql));
    // A trigger that fails the first `fail_first` inserts of a container with 40001; the
    // sequence counts attempts (nextval survives the rollback).
    await q(`CREATE SEQUENCE "${schema}".test_attempts`);
    await q(`CREATE TABLE "${schema}".test_fail (n INTEGER NOT NULL)`);
    await q(`INSERT INTO "${schema}".test_fail VALUES (3)`);
    await q(`CREATE FUNCTION "${schema}".test_serialization_failure() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('"${schema}".test_attempts') <= (SELECT n FROM "${schema}".test_fail) THEN
          RAISE EXCEPTION 'simulated serialization failure' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN NEW;
      END $$`);
    await q(
      `CREATE TRIGGER test_serialization_failure BEFORE INSERT ON "${schema}".containers FOR EACH ROW EXECUTE FUNCTION "${schema}".test_serialization_failure()`,
    );
    const attempts = async (): Promise<number> =>
      withClient(url, async (c) => {
        const r = await c.query<{ n: string }>(`SELECT last_value AS n FROM "${schema}".test_attempts`);
        return Number(r.rows[0]!.n);
      });
    try {
      // Three failures, then success: the caller sees one clean add and one event.
      const since = await store.events.lastSeq();
      await store.addContainer(ctr({ name: 'retried' }));
      expect(await attempts()).toBe(4);
      expect((await store.allContainers()).map((c) => c.config.name)).toEqual(['retried']);
      expect((await store.events.list({ since })).map((e) => e.type)).toEqual(['container.create']);

      // Always failing: a bounded number of attempts, then STORE_BUSY (never the raw 40001).
      await q(`UPDATE "${schema}".test_fail SET n = 1000000`);
      const before = await attempts();
      await expectCode(store.addContainer(ctr({ name: 'never' })), 'STORE_BUSY');
      const tried = (await attempts()) - before;
      expect(tried).toBeGreaterThan(1);
      expect(tried).toBeLessThanOrEqual(10);
      await expectCode(store.lookupContainer('never'), 'NO_SUCH_CONTAINER');
    } finally {
      await q(`DROP TRIGGER IF EXISTS test_serialization_failure ON "${schema}".containers`);
      await q(`DROP FUNCTION IF EXISTS "${schema}".test_serialization_failure()`);
      await q(`DROP TABLE IF EXISTS "${schema}".test_fail`);
      await q(`DROP SEQUENCE IF EXISTS "${schema}".test_attempts`);
    }
  });

  it('marks a lock stale once its lease expired (moved clock), and breakStale breaks only then', async () => {
    const clock = movableClock();
    const store = await postgresFactory.open({ clock: clock.now });
    const other = await postgresFactory.reopen(store, { clock: clock.now });
    const held = await store.locks.acquire('job:lease', { operation: 'backup', ttlMs: 10_000 });
    expect(held).toMatchObject({ stale: false, host: hostname(), pid: process.pid });
    expect(held.expiresAt).toBe(new Date(clock.now() + 10_000).toISOString());

    clock.advance(9_000);
    expect((await other.locks.get('job:lease'))?.stale).toBe(false);
    await expectCode(other.locks.acquire('job:lease', { operation: 'backup', breakStale: true }), 'LOCKED');
    // A heartbeat renews the lease.
    await store.locks.heartbeat('job:lease', held.id);
    clock.advance(9_000);
    expect((await other.locks.get('job:lease'))?.stale).toBe(false);

    clock.advance(2_000);
    expect(await other.locks.get('job:lease')).toMatchObject({ stale: true, staleReason: 'lease expired' });
    // Stale locks still block those who do not ask to break them.
    const err = await expectCode(other.locks.acquire('job:lease', { operation: 'backup' }), 'LOCKED');
    expect(err.details.lock).toMatchObject({ id: held.id, stale: true });
    const since = await other.events.lastSeq();
    const mine = await other.locks.acquire('job:lease', { operation: 'backup', breakStale: true });
    expect(mine.fencingToken).toBeGreaterThan(held.fencingToken);
    const events = await other.events.list({ since });
    expect(events.map((e) => e.type)).toEqual(['lock.break_stale', 'lock.acquire']);
    expect(events[0]!.data).toMatchObject({ reason: 'lease expired', lock: { id: held.id } });
    // The broken holder is fenced off.
    await expectCode(store.locks.heartbeat('job:lease', held.id), 'LOCK_LOST');
  });

  it('does not call a lock from another host stale because its pid is not running here; only its lease', async () => {
    const clock = movableClock();
    const store = await postgresFactory.open({ clock: clock.now });
    const { schema } = pgTarget(store);
    const gone = deadPid();
    const moveToOtherHost = (key: string) =>
      withClient(url, (c) =>
        c.query(`UPDATE "${schema}".locks SET host = 'build-07.example.net', pid = $1 WHERE key = $2`, [gone, key]),
      );

    // Same host, dead pid: stale (the pid can be checked here).
    const local = await store.locks.acquire('job:local', { operation: 'x' });
    await withClient(url, (c) => c.query(`UPDATE "${schema}".locks SET pid = $1 WHERE key = 'job:local'`, [gone]));
    expect(await store.locks.get('job:local')).toMatchObject({
      stale: true,
      staleReason: `holder process ${gone} is gone`,
    });
    await store.locks.release('job:local', local.id);

    // Another host, same dead pid, no lease: live, and breakStale does not break it.
    const remote = await store.locks.acquire('job:remote', { operation: 'deploy' });
    await moveToOtherHost('job:remote');
    const info = await store.locks.get('job:remote');
    expect(info).toMatchObject({ host: 'build-07.example.net', pid: gone, stale: false });
    expect(info?.staleReason).toBeUndefined();
    await expectCode(store.locks.acquire('job:remote', { operation: 'deploy', breakStale: true }), 'LOCKED');
    clock.advance(365 * 24 * 3600 * 1000);
    expect((await store.locks.get('job:remote'))?.stale).toBe(false);
    // A lock row inserted by another host directly is treated the same way.
    await withClient(url, (c) =>
      c.query(
        `INSERT INTO "${schema}".locks (key, id, operation, who, info, version, created_at, pid, host, boot_id, fencing_token, ttl_ms, expires_at)
         VALUES ('job:inserted', 'lock-from-elsewhere', 'deploy', 'ci@build-08', '', '0.1.0', $1, $2, 'build-08.example.net', 'another-boot', 999999, NULL, NULL)`,
        [clock.now(), gone],
      ),
    );
    expect(await store.locks.get('job:inserted')).toMatchObject({ stale: false, who: 'ci@build-08' });
    // The workspace lock of another host: LOCKED, shown as live.
    await store.workspaces.writeState('default', { v: 1 });
    const ws = await store.workspaces.lock('default', { operation: 'apply' });
    await moveToOtherHost('workspace:/default');
    const locked = await expectCode(
      store.workspaces.lock('default', { operation: 'apply', breakStale: true }),
      'LOCKED',
    );
    expect(locked.details.lock).toMatchObject({ id: ws.id, host: 'build-07.example.net', stale: false });

    // Another host with a lease: stale once the lease expired, then breakable.
    const leased = await store.locks.acquire('job:leased', { operation: 'deploy', ttlMs: 5_000 });
    await moveToOtherHost('job:leased');
    expect((await store.locks.get('job:leased'))?.stale).toBe(false);
    clock.advance(6_000);
    expect(await store.locks.get('job:leased')).toMatchObject({ stale: true, staleReason: 'lease expired' });
    const mine = await store.locks.acquire('job:leased', { operation: 'deploy', breakStale: true });
    expect(mine.fencingToken).toBeGreaterThan(leased.fencingToken);
    expect((await store.locks.list()).map((l: LockInfo) => [l.key, l.stale])).toEqual([
      ['job:inserted', false],
      ['job:leased', false],
      ['job:remote', false],
      ['workspace:/default', false],
    ]);
  });

  /** Follows `store` from its last seq; `next()` resolves with the next event and the ms it took. */
  function follower(store: Store) {
    const abort = new AbortController();
    const queue: BerthEvent[] = [];
    let wake: (() => void) | undefined;
    const done = (async () => {
      for await (const e of store.events.follow({ pollMs: 5000, signal: abort.signal })) {
        queue.push(e);
        wake?.();
      }
    })();
    return {
      async next(timeoutMs = 10_000): Promise<BerthEvent> {
        const deadline = Date.now() + timeoutMs;
        while (queue.length === 0) {
          if (Date.now() > deadline) throw new Error(`no event within ${timeoutMs} ms`);
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 50);
          });
        }
        return queue.shift()!;
      },
      async stop(): Promise<void> {
        abort.abort();
        await done;
      },
    };
  }

  it('wakes a follower (pollMs 5000) on NOTIFY: events written by another handle arrive in well under a second', async () => {
    const store = await postgresFactory.open();
    const writer = await postgresFactory.reopen(store);
    const { schema } = pgTarget(store);
    const f = follower(store);
    try {
      // The follower has read the (empty) journal and waits: its listener is connected.
      await waitForListener(url, schema);
      await sleep(100);
      for (const name of ['first', 'second', 'third']) {
        const started = Date.now();
        await writer.addContainer(ctr({ name }));
        const event = await f.next();
        const latency = Date.now() - started;
        expect(event).toMatchObject({ type: 'container.create', subject: { name } });
        // A poll would take 5 s or more: this came from the notification.
        expect(latency, `${name}: ${latency} ms`).toBeLessThan(1000);
        await sleep(50);
      }
    } finally {
      await f.stop();
    }
  });

  it('does not lose a wake-up when an event commits while the follower is reading the journal', async () => {
    const store = await postgresFactory.open();
    const writer = await postgresFactory.reopen(store);
    const { schema } = pgTarget(store);
    // A commit that lands after a follower's read took its snapshot but before the
    // follower waits again: the window every follower has between two reads. The read
    // right after the one that returned 'prime' lets a write commit before it returns.
    const events = store.events;
    const list = events.list.bind(events);
    let armed = false;
    let committedAt = 0;
    events.list = async (opts) => {
      const rows = await list(opts);
      if (armed) {
        armed = false;
        await writer.addContainer(ctr({ name: 'in-the-window' }));
        committedAt = Date.now();
        await sleep(100);
      }
      if (rows.some((e) => e.subject.name === 'prime')) armed = true;
      return rows;
    };
    const abort = new AbortController();
    const seen: { name: string | undefined; at: number }[] = [];
    const following = (async () => {
      // pollMs 2000: a missed wake-up costs 10 x 2 s, beyond this test's patience.
      for await (const e of store.events.follow({ pollMs: 2000, signal: abort.signal })) {
        seen.push({ name: e.subject.name, at: Date.now() });
        if (e.subject.name === 'in-the-window') abort.abort();
      }
    })();
    const timer = setTimeout(() => abort.abort(), 3_000);
    await waitForListener(url, schema);
    await writer.addContainer(ctr({ name: 'prime' }));
    await following;
    clearTimeout(timer);
    expect(seen.map((s) => s.name)).toEqual(['prime', 'in-the-window']);
    const latency = seen[1]!.at - committedAt;
    expect(latency, `in-the-window arrived ${latency} ms after its commit`).toBeLessThan(1000);
  });
});
