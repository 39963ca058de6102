import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { LockInfo, Store } from '../../src/index.js';
import type { StoreFactory } from '../helpers/store-factory.js';
import { startStoreWorker } from '../multiprocess/workers/worker-client.js';
import { expectCode } from './builders.js';

/*
 * Locks and force-unlock (DESIGN.md §5, API.md), a port of Terraform's
 * TestBackendStateLocks and TestBackendStateForceUnlock plus berth's own rules: holder
 * info, store-wide fencing tokens, leases, stale locks and fencing of writes. Where two
 * holders are involved they are two handles on the same store (`factory.reopen`).
 * Events (lock.acquire|release|force_unlock|break_stale) are not asserted here: the
 * events API comes later.
 */

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Two handles on one store, as Terraform's tests take two backends b1, b2 on one state. */
async function twoHandles(
  factory: StoreFactory,
  opts: Parameters<StoreFactory['open']>[0] = {},
): Promise<[Store, Store]> {
  const a = await factory.open(opts);
  const b = await factory.reopen(a, opts);
  return [a, b];
}

/** A clock the test moves by hand. */
function manualClock(start = Date.parse('2030-06-01T12:00:00.000Z')): { now: number; clock: () => number } {
  const c = { now: start, clock: () => c.now };
  return c;
}

export function lockConformance(factory: StoreFactory): void {
  describe(`locks (${factory.backend})`, () => {
    describe("Terraform's TestBackendStateLocks", () => {
      it.each(['default', 'foo'])(
        'in workspace %s: B cannot lock while A holds, can read, and locks once A unlocks',
        async (name) => {
          const [a, b] = await twoHandles(factory);
          if (name !== 'default') await a.workspaces.create(name);
          await a.workspaces.writeState(name, { serial: 'one' });
          const lockA = await a.workspaces.lock(name, { operation: 'test', who: 'clientA' });
          // B can still read the state although A holds the lock.
          expect((await b.workspaces.readState(name)).state).toEqual({ serial: 'one' });
          const err = await expectCode(b.workspaces.lock(name, { operation: 'test', who: 'clientB' }), 'LOCKED');
          expect(err.details.lock).toMatchObject({ id: lockA.id, who: 'clientA', operation: 'test' });
          await a.workspaces.unlock(name, lockA.id);
          const lockB = await b.workspaces.lock(name, { operation: 'test', who: 'clientB' });
          expect(lockB.id).not.toBe(lockA.id);
          await b.workspaces.unlock(name, lockB.id);
          expect((await a.workspaces.get(name)).lock).toBeUndefined();
        },
      );
    });

    describe("Terraform's TestBackendStateForceUnlock", () => {
      it('the LOCKED error carries the id that force-unlocks the lock; then B locks', async () => {
        const [a, b] = await twoHandles(factory);
        const lockA = await a.workspaces.lock('default', { operation: 'test', who: 'clientA' });
        const err = await expectCode(b.workspaces.lock('default', { operation: 'test', who: 'clientB' }), 'LOCKED');
        const holder = err.details.lock as LockInfo;
        expect(holder.id).toBe(lockA.id);
        const removed = await b.workspaces.forceUnlock('default', holder.id);
        expect(removed).toEqual(lockA);
        const lockB = await b.workspaces.lock('default', { operation: 'test', who: 'clientB' });
        expect((await a.workspaces.get('default')).lock).toEqual(lockB);
      });

      it('the same works for plain lock keys', async () => {
        const [a, b] = await twoHandles(factory);
        const lockA = await a.locks.acquire('deploy', { operation: 'test' });
        const err = await expectCode(b.locks.acquire('deploy', { operation: 'test' }), 'LOCKED');
        await b.locks.forceUnlock('deploy', (err.details.lock as LockInfo).id);
        const lockB = await b.locks.acquire('deploy', { operation: 'test' });
        expect(lockB.id).not.toBe(lockA.id);
        expect((await a.locks.get('deploy'))?.id).toBe(lockB.id);
      });
    });

    describe('acquire', () => {
      it('returns the lock with every field', async () => {
        const { clock, now } = manualClock();
        const store = await factory.open({ clock, actor: 'alice@laptop' });
        const lock = await store.locks.acquire('deploy', { operation: 'apply', info: 'pipeline 42' });
        expect(lock).toEqual({
          key: 'deploy',
          id: expect.any(String),
          operation: 'apply',
          who: 'alice@laptop',
          info: 'pipeline 42',
          version: expect.any(String),
          createdAt: new Date(now).toISOString(),
          pid: process.pid,
          host: hostname(),
          fencingToken: expect.any(Number),
          stale: false,
        });
        expect(lock.id).not.toBe('');
        expect(lock.version).not.toBe('');
        expect(Number.isInteger(lock.fencingToken)).toBe(true);
        expect(lock.fencingToken).toBeGreaterThan(0);
        expect(lock.expiresAt).toBeUndefined();
      });

      it('who overrides the actor; info defaults to an empty string', async () => {
        const store = await factory.open({ actor: 'alice@laptop' });
        const lock = await store.locks.acquire('deploy', { operation: 'plan', who: 'ci@runner-7' });
        expect(lock.who).toBe('ci@runner-7');
        expect(lock.info).toBe('');
      });

      it('host and version describe a holder on another machine, as given', async () => {
        const store = await factory.open();
        const lock = await store.locks.acquire('deploy', {
          operation: 'OperationTypeApply',
          who: 'alice@laptop',
          pid: 0,
          host: '10.0.0.7',
          version: '1.11.4',
        });
        expect(lock).toMatchObject({ pid: 0, host: '10.0.0.7', version: '1.11.4', stale: false });
        expect(await store.locks.get('deploy')).toEqual(lock);
        for (const bad of [
          { host: '' },
          { version: '' },
          { host: 'h'.repeat(201) },
          { version: 4 as unknown as string },
        ]) {
          await expectCode(store.locks.acquire('other', { operation: 'apply', ...bad }), 'INVALID_ARGUMENT');
        }
        expect((await store.locks.list()).map((l) => l.key)).toEqual(['deploy']);
      });

      it('a workspace lock with create makes a missing workspace first, with its event; without it NO_SUCH_WORKSPACE', async () => {
        const store = await factory.open();
        await expectCode(store.workspaces.lock('staging', { operation: 'apply' }), 'NO_SUCH_WORKSPACE');
        const since = await store.events.lastSeq();
        const lock = await store.workspaces.lock('staging', { operation: 'apply', create: true });
        expect((await store.workspaces.get('staging')).lock).toEqual(lock);
        const events = await store.events.list({ since });
        expect(events.map((e) => [e.type, e.subject.name])).toEqual([
          ['workspace.create', 'staging'],
          ['lock.acquire', lock.key],
        ]);
        // Taken again with its own id: the same lock, nothing new.
        expect(await store.workspaces.lock('staging', { operation: 'apply', create: true, id: lock.id })).toEqual(lock);
        expect(await store.events.lastSeq()).toBe(events[1]!.seq);
      });

      it('with ttlMs has expiresAt = createdAt + ttl', async () => {
        const { clock, now } = manualClock();
        const store = await factory.open({ clock });
        const lock = await store.locks.acquire('deploy', { operation: 'apply', ttlMs: 30_000 });
        expect(lock.createdAt).toMatch(ISO_TIME);
        expect(lock.expiresAt).toBe(new Date(now + 30_000).toISOString());
        expect(lock.stale).toBe(false);
      });

      it('a workspace lock has key workspace:<namespace>/<name> and shows in locks.get and locks.list', async () => {
        const store = await factory.open({ namespace: 'shop' });
        await store.workspaces.create('prod');
        const lock = await store.workspaces.lock('prod', { operation: 'apply' });
        expect(lock.key).toBe('workspace:shop/prod');
        expect(await store.locks.get('workspace:shop/prod')).toEqual(lock);
        expect(await store.locks.list()).toEqual([lock]);
      });

      it('the same key on another handle is LOCKED with the holder in details.lock', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply', info: 'first' });
        const err = await expectCode(b.locks.acquire('deploy', { operation: 'apply', info: 'second' }), 'LOCKED');
        expect(err.details.lock).toEqual(lock);
        expect(await b.locks.get('deploy')).toEqual(lock);
      });

      it('locks are not reentrant: the same handle locking twice is LOCKED', async () => {
        const store = await factory.open();
        const lock = await store.locks.acquire('deploy', { operation: 'apply' });
        const err = await expectCode(store.locks.acquire('deploy', { operation: 'apply' }), 'LOCKED');
        expect(err.details.lock).toEqual(lock);
      });

      it('different keys are independent', async () => {
        const [a, b] = await twoHandles(factory);
        const one = await a.locks.acquire('one', { operation: 'x' });
        const two = await b.locks.acquire('two', { operation: 'x' });
        expect(one.id).not.toBe(two.id);
        expect((await a.locks.list()).map((l) => l.key).sort()).toEqual(['one', 'two']);
      });

      it('is atomic: two handles racing for a free key, exactly one wins and the other is LOCKED', async () => {
        const [a, b] = await twoHandles(factory, { busyTimeoutMs: 1000 });
        const results = await Promise.allSettled([
          a.locks.acquire('race', { operation: 'a' }),
          b.locks.acquire('race', { operation: 'b' }),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost.map((r) => (r.reason as { code?: string }).code)).toEqual(['LOCKED']);
      });

      it('needs an operation (INVALID_ARGUMENT) and a key (EMPTY_ID)', async () => {
        const store = await factory.open();
        await expectCode(store.locks.acquire('deploy', { operation: '' }), 'INVALID_ARGUMENT');
        await expectCode(store.locks.acquire('', { operation: 'apply' }), 'EMPTY_ID');
        expect(await store.locks.list()).toEqual([]);
      });

      it('get is undefined and list empty when nothing is locked', async () => {
        const store = await factory.open();
        expect(await store.locks.get('deploy')).toBeUndefined();
        expect(await store.locks.list()).toEqual([]);
      });
    });

    describe('fencing tokens', () => {
      it('strictly increase on every acquisition, store-wide: across keys, handles, namespaces and workspaces', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a, { namespace: 'shop' });
        const tokens: number[] = [];
        const take = async (lock: Promise<LockInfo>): Promise<LockInfo> => {
          const l = await lock;
          tokens.push(l.fencingToken);
          return l;
        };
        const k1 = await take(a.locks.acquire('k1', { operation: 'x' }));
        await take(b.locks.acquire('k2', { operation: 'x' }));
        await a.locks.release('k1', k1.id);
        const again = await take(b.locks.acquire('k1', { operation: 'x' }));
        await b.locks.forceUnlock('k1', again.id);
        await take(a.locks.acquire('k1', { operation: 'x' }));
        await take(a.workspaces.lock('default', { operation: 'apply' }));
        await take(b.workspaces.lock('default', { operation: 'apply' }));
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
      });

      it('a new holder after a release always has a bigger token than the previous one', async () => {
        const [a, b] = await twoHandles(factory);
        let previous = 0;
        for (let i = 0; i < 6; i++) {
          const store = i % 2 === 0 ? a : b;
          const lock = await store.locks.acquire('deploy', { operation: 'apply' });
          expect(lock.fencingToken).toBeGreaterThan(previous);
          previous = lock.fencingToken;
          await store.locks.release('deploy', lock.id);
        }
      });
    });

    describe('release', () => {
      it('with the holder id frees the key', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply' });
        await a.locks.release('deploy', lock.id);
        expect(await b.locks.get('deploy')).toBeUndefined();
        expect((await b.locks.acquire('deploy', { operation: 'apply' })).id).not.toBe(lock.id);
      });

      it('with a wrong id is LOCK_ID_MISMATCH and the lock stays', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply' });
        await expectCode(b.locks.release('deploy', 'not-the-id'), 'LOCK_ID_MISMATCH');
        await expectCode(a.locks.release('deploy', `${lock.id}x`), 'LOCK_ID_MISMATCH');
        expect(await a.locks.get('deploy')).toEqual(lock);
      });

      it('of a key nobody holds is NOT_LOCKED', async () => {
        const store = await factory.open();
        await expectCode(store.locks.release('deploy', 'some-id'), 'NOT_LOCKED');
        const lock = await store.locks.acquire('deploy', { operation: 'apply' });
        await store.locks.release('deploy', lock.id);
        await expectCode(store.locks.release('deploy', lock.id), 'NOT_LOCKED');
      });

      it('workspace unlock: wrong id LOCK_ID_MISMATCH, unlocked NOT_LOCKED', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('w');
        await expectCode(a.workspaces.unlock('w', 'some-id'), 'NOT_LOCKED');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await expectCode(b.workspaces.unlock('w', 'some-id'), 'LOCK_ID_MISMATCH');
        expect((await b.workspaces.get('w')).lock).toEqual(lock);
        await b.workspaces.unlock('w', lock.id);
        await expectCode(a.workspaces.unlock('w', lock.id), 'NOT_LOCKED');
      });
    });

    describe('force-unlock', () => {
      it('with a wrong id is LOCK_ID_MISMATCH and the lock stays', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply' });
        await expectCode(b.locks.forceUnlock('deploy', 'not-the-id'), 'LOCK_ID_MISMATCH');
        await expectCode(b.locks.forceUnlock('deploy', lock.id.slice(0, 8)), 'LOCK_ID_MISMATCH');
        expect(await b.locks.get('deploy')).toEqual(lock);
        await expectCode(b.locks.acquire('deploy', { operation: 'apply' }), 'LOCKED');
      });

      it('returns the removed lock and frees the key', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply', info: 'stuck' });
        expect(await b.locks.forceUnlock('deploy', lock.id)).toEqual(lock);
        expect(await a.locks.get('deploy')).toBeUndefined();
      });

      it('then the key can be locked again, with a new id and a bigger token', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply' });
        await b.locks.forceUnlock('deploy', lock.id);
        const next = await b.locks.acquire('deploy', { operation: 'apply' });
        expect(next.id).not.toBe(lock.id);
        expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
      });

      it('of a key nobody holds is NOT_LOCKED (Terraform: nothing to unlock is an error)', async () => {
        const store = await factory.open();
        await expectCode(store.locks.forceUnlock('deploy', 'some-id'), 'NOT_LOCKED');
        await expectCode(store.workspaces.forceUnlock('default', 'some-id'), 'NOT_LOCKED');
      });

      it('workspace forceUnlock: wrong id LOCK_ID_MISMATCH; right id returns the lock and relock works', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await expectCode(b.workspaces.forceUnlock('w', 'wrong'), 'LOCK_ID_MISMATCH');
        expect(await b.workspaces.forceUnlock('w', lock.id)).toEqual(lock);
        expect((await b.workspaces.get('w')).lock).toBeUndefined();
        expect((await b.workspaces.lock('w', { operation: 'apply' })).fencingToken).toBeGreaterThan(lock.fencingToken);
      });

      it('records who broke whose lock in its event: by, else the actor', async () => {
        const [a, b] = await twoHandles(factory);
        const first = await a.workspaces.lock('default', { operation: 'apply', who: 'alice@laptop' });
        await b.workspaces.forceUnlock('default', first.id, { by: 'ci@10.0.0.7' });
        const second = await a.locks.acquire('deploy', { operation: 'apply' });
        await b.locks.forceUnlock('deploy', second.id);
        const events = await b.events.list({ types: ['lock.force_unlock'] });
        expect(events.map((e) => [e.subject.id, e.data.brokenBy, e.data.holder])).toEqual([
          [first.id, 'ci@10.0.0.7', 'alice@laptop'],
          [second.id, events[1]!.actor, second.who],
        ]);
      });

      it('after it, a heartbeat with the old id is LOCK_LOST', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.locks.acquire('deploy', { operation: 'apply', ttlMs: 60_000 });
        await b.locks.forceUnlock('deploy', lock.id);
        await expectCode(a.locks.heartbeat('deploy', lock.id), 'LOCK_LOST');
        await b.locks.acquire('deploy', { operation: 'apply', ttlMs: 60_000 });
        await expectCode(a.locks.heartbeat('deploy', lock.id), 'LOCK_LOST');
      });

      it('after it, a write with the old lock id is LOCK_LOST and the state is unchanged', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { v: 1 });
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await b.workspaces.forceUnlock('w', lock.id);
        const before = await b.workspaces.readState('w');
        await expectCode(a.workspaces.writeState('w', { zombie: true }, { lockId: lock.id }), 'LOCK_LOST');
        expect(await b.workspaces.readState('w')).toEqual(before);
        expect(await b.workspaces.history('w')).toHaveLength(1);
      });

      it('after it, rollback and import with the old lock id are LOCK_LOST', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { v: 1 });
        await a.workspaces.writeState('w', { v: 2 });
        const envelope = await a.workspaces.exportState('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await b.workspaces.forceUnlock('w', lock.id);
        await expectCode(a.workspaces.rollback('w', 1, { lockId: lock.id }), 'LOCK_LOST');
        await expectCode(a.workspaces.importState('w', envelope, { lockId: lock.id, force: true }), 'LOCK_LOST');
        expect((await b.workspaces.readState('w')).serial).toBe(2);
      });

      it('a zombie holder cannot overwrite what the next holder wrote', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('w');
        const zombie = await a.workspaces.lock('w', { operation: 'apply' });
        await b.workspaces.forceUnlock('w', zombie.id);
        const next = await b.workspaces.lock('w', { operation: 'apply' });
        await b.workspaces.writeState('w', { by: 'b' }, { lockId: next.id });
        await expectCode(a.workspaces.writeState('w', { by: 'zombie' }, { lockId: zombie.id }), 'LOCK_LOST');
        expect(await a.workspaces.readState('w')).toMatchObject({ serial: 1, state: { by: 'b' } });
        // Nor can the old holder release the new holder's lock.
        await expectCode(a.workspaces.unlock('w', zombie.id), 'LOCK_ID_MISMATCH');
        expect((await a.workspaces.get('w')).lock?.id).toBe(next.id);
      });
    });

    describe('never-issued lock ids', () => {
      it('a heartbeat with an id that was never issued is LOCK_LOST, held key or not', async () => {
        const [a, b] = await twoHandles(factory);
        await expectCode(a.locks.heartbeat('deploy', 'never-issued'), 'LOCK_LOST');
        await b.locks.acquire('deploy', { operation: 'apply' });
        await expectCode(a.locks.heartbeat('deploy', 'never-issued'), 'LOCK_LOST');
      });

      it('a write with an id that was never issued is LOCK_LOST and changes nothing', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { v: 1 });
        const before = await a.workspaces.readState('w');
        await expectCode(a.workspaces.writeState('w', { v: 2 }, { lockId: 'never-issued' }), 'LOCK_LOST');
        await b.workspaces.lock('w', { operation: 'apply' });
        await expectCode(a.workspaces.writeState('w', { v: 2 }, { lockId: 'never-issued' }), 'LOCK_LOST');
        expect(await a.workspaces.readState('w')).toEqual(before);
      });

      it("another workspace's lock id does not fence this workspace: LOCK_LOST", async () => {
        const store = await factory.open();
        await store.workspaces.create('one');
        await store.workspaces.create('two');
        const lockOne = await store.workspaces.lock('one', { operation: 'apply' });
        await expectCode(store.workspaces.writeState('two', { v: 1 }, { lockId: lockOne.id }), 'LOCK_LOST');
        expect((await store.workspaces.readState('two')).serial).toBe(0);
      });

      it('a write with the id of a released lock is LOCK_LOST', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        const lock = await store.workspaces.lock('w', { operation: 'apply' });
        await store.workspaces.unlock('w', lock.id);
        await expectCode(store.workspaces.writeState('w', { v: 1 }, { lockId: lock.id }), 'LOCK_LOST');
      });
    });

    describe('timeoutMs', () => {
      it('waits, and succeeds when the holder releases during the wait', async () => {
        const [a, b] = await twoHandles(factory);
        const held = await a.locks.acquire('deploy', { operation: 'apply' });
        const started = Date.now();
        setTimeout(() => void a.locks.release('deploy', held.id), 300);
        const lock = await b.locks.acquire('deploy', { operation: 'apply', timeoutMs: 10_000 });
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        expect(lock.id).not.toBe(held.id);
        expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
      });

      it('takes a lock within a poll of its release, however long it waited (waiters poll by reading)', async () => {
        const [a, b] = await twoHandles(factory);
        for (const key of ['deploy', 'ws-lock']) {
          const held = await a.locks.acquire(key, { operation: 'apply' });
          // Long enough for a doubling backoff to reach long sleeps; the poll stays short.
          let released = 0;
          setTimeout(() => void a.locks.release(key, held.id).then(() => (released = Date.now())), 1_000);
          const lock = await b.locks.acquire(key, { operation: 'apply', timeoutMs: 10_000 });
          expect(released).toBeGreaterThan(0);
          expect(Date.now() - released).toBeLessThan(150);
          await b.locks.release(key, lock.id);
        }
      });

      it('a waiter never holds up the holder: the holder writes and releases while others wait', async () => {
        const [a, b] = await twoHandles(factory);
        await a.workspaces.create('busy');
        const held = await a.workspaces.lock('busy', { operation: 'apply' });
        const waiting = b.workspaces.lock('busy', { operation: 'apply', timeoutMs: 10_000 });
        const started = Date.now();
        for (let i = 0; i < 30; i++) await a.workspaces.writeState('busy', { i }, { lockId: held.id });
        await a.workspaces.unlock('busy', held.id);
        const lock = await waiting;
        expect((await b.workspaces.readState('busy')).serial).toBe(30);
        // 30 durable writes take well under a second; a waiter's write-lock attempts would add busy waits.
        expect(Date.now() - started).toBeLessThan(5_000);
        await b.workspaces.unlock('busy', lock.id);
      });

      it('fails with LOCKED, with the holder, once the timeout passes', async () => {
        const [a, b] = await twoHandles(factory);
        const held = await a.locks.acquire('deploy', { operation: 'apply' });
        const started = Date.now();
        const err = await expectCode(b.locks.acquire('deploy', { operation: 'apply', timeoutMs: 400 }), 'LOCKED');
        expect(Date.now() - started).toBeGreaterThanOrEqual(390);
        expect(err.details.lock).toEqual(held);
      });

      it('is wall time: it expires even when the store clock is frozen', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        await a.locks.acquire('deploy', { operation: 'apply' });
        const started = Date.now();
        await expectCode(b.locks.acquire('deploy', { operation: 'apply', timeoutMs: 200 }), 'LOCKED');
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it('works the same for workspace locks', async () => {
        const [a, b] = await twoHandles(factory);
        const held = await a.workspaces.lock('default', { operation: 'apply' });
        await expectCode(b.workspaces.lock('default', { operation: 'apply', timeoutMs: 200 }), 'LOCKED');
        setTimeout(() => void a.workspaces.unlock('default', held.id), 200);
        const lock = await b.workspaces.lock('default', { operation: 'apply', timeoutMs: 10_000 });
        expect((await a.workspaces.get('default')).lock?.id).toBe(lock.id);
      });
    });

    describe('leases (ttlMs)', () => {
      it('a lock goes stale once its lease expires', async () => {
        const c = manualClock();
        const store = await factory.open({ clock: c.clock });
        await store.locks.acquire('deploy', { operation: 'apply', ttlMs: 10_000 });
        c.now += 9_999;
        expect((await store.locks.get('deploy'))?.stale).toBe(false);
        c.now += 1;
        expect((await store.locks.get('deploy'))?.stale).toBe(true);
        expect((await store.locks.list())[0]?.stale).toBe(true);
      });

      it('heartbeat renews the lease from now', async () => {
        const c = manualClock();
        const store = await factory.open({ clock: c.clock });
        const lock = await store.locks.acquire('deploy', { operation: 'apply', ttlMs: 10_000 });
        c.now += 8_000;
        const renewed = await store.locks.heartbeat('deploy', lock.id);
        expect(renewed.expiresAt).toBe(new Date(c.now + 10_000).toISOString());
        expect(renewed).toMatchObject({ id: lock.id, fencingToken: lock.fencingToken, stale: false });
        c.now += 9_000; // 17 s after the acquisition, 9 s after the heartbeat
        expect((await store.locks.get('deploy'))?.stale).toBe(false);
        c.now += 1_000;
        expect((await store.locks.get('deploy'))?.stale).toBe(true);
      });

      it('heartbeat renews a lock whose lease already expired but that nobody broke', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        const lock = await a.locks.acquire('deploy', { operation: 'apply', ttlMs: 1_000 });
        c.now += 5_000;
        expect((await b.locks.get('deploy'))?.stale).toBe(true);
        const renewed = await a.locks.heartbeat('deploy', lock.id);
        expect(renewed.stale).toBe(false);
        expect((await b.locks.get('deploy'))?.stale).toBe(false);
      });

      it('a heartbeat of a lock without a lease proves it is held and changes nothing', async () => {
        const store = await factory.open();
        const lock = await store.locks.acquire('deploy', { operation: 'apply' });
        expect(await store.locks.heartbeat('deploy', lock.id)).toEqual(lock);
      });

      it('an expired lock still blocks others (LOCKED, marked stale) until broken', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        const lock = await a.locks.acquire('deploy', { operation: 'apply', ttlMs: 1_000 });
        c.now += 60_000;
        const err = await expectCode(b.locks.acquire('deploy', { operation: 'apply' }), 'LOCKED');
        expect(err.details.lock).toMatchObject({ id: lock.id, stale: true });
        expect((await b.locks.get('deploy'))?.id).toBe(lock.id);
      });

      it('the holder of an expired but unbroken workspace lock can still write', async () => {
        const c = manualClock();
        const store = await factory.open({ clock: c.clock });
        const lock = await store.workspaces.lock('default', { operation: 'apply', ttlMs: 1_000 });
        c.now += 5_000;
        expect((await store.workspaces.get('default')).lock?.stale).toBe(true);
        expect((await store.workspaces.writeState('default', { v: 1 }, { lockId: lock.id })).serial).toBe(1);
      });

      it('a workspace write without the id is LOCKED while an expired lock is unbroken', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        await a.workspaces.lock('default', { operation: 'apply', ttlMs: 1_000 });
        c.now += 5_000;
        await expectCode(b.workspaces.writeState('default', { v: 1 }), 'LOCKED');
      });
    });

    describe('breakStale', () => {
      it('does not break a live lock: LOCKED', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        const lock = await a.locks.acquire('deploy', { operation: 'apply', ttlMs: 10_000 });
        const err = await expectCode(b.locks.acquire('deploy', { operation: 'apply', breakStale: true }), 'LOCKED');
        expect(err.details.lock).toEqual(lock);
        await a.locks.heartbeat('deploy', lock.id);
      });

      it('does not break a live lock without a lease: LOCKED', async () => {
        const [a, b] = await twoHandles(factory);
        const lock = await a.workspaces.lock('default', { operation: 'apply' });
        await expectCode(b.workspaces.lock('default', { operation: 'apply', breakStale: true }), 'LOCKED');
        expect((await b.workspaces.get('default')).lock).toEqual(lock);
      });

      it('breaks an expired lock and takes it; the old id is then LOCK_LOST', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        const old = await a.locks.acquire('deploy', { operation: 'apply', ttlMs: 1_000 });
        c.now += 2_000;
        const lock = await b.locks.acquire('deploy', { operation: 'apply', breakStale: true });
        expect(lock.id).not.toBe(old.id);
        expect(lock.fencingToken).toBeGreaterThan(old.fencingToken);
        expect(lock.stale).toBe(false);
        await expectCode(a.locks.heartbeat('deploy', old.id), 'LOCK_LOST');
        await expectCode(a.locks.release('deploy', old.id), 'LOCK_ID_MISMATCH');
      });

      it('breaking an expired workspace lock fences the old holder: its write is LOCK_LOST', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        const old = await a.workspaces.lock('default', { operation: 'apply', ttlMs: 1_000 });
        c.now += 2_000;
        const lock = await b.workspaces.lock('default', { operation: 'apply', breakStale: true });
        await b.workspaces.writeState('default', { by: 'b' }, { lockId: lock.id });
        await expectCode(a.workspaces.writeState('default', { by: 'a' }, { lockId: old.id }), 'LOCK_LOST');
        expect((await a.workspaces.readState('default')).state).toEqual({ by: 'b' });
      });

      it('on a free key simply acquires', async () => {
        const store = await factory.open();
        const lock = await store.locks.acquire('deploy', { operation: 'apply', breakStale: true });
        expect(await store.locks.get('deploy')).toEqual(lock);
      });
    });

    describe('stale holders', () => {
      it('a lock whose holder process is dead on this host is stale, blocks, and is broken by breakStale', async () => {
        const store = await factory.open();
        const worker = await startStoreWorker(JSON.stringify(factory.target(store)));
        const taken = await worker.ok<LockInfo>({ op: 'acquire', key: 'deploy', operation: 'apply' });
        expect(taken.pid).toBe(worker.pid);
        expect((await store.locks.get('deploy'))?.stale).toBe(false);
        await worker.exit();
        const seen = await store.locks.get('deploy');
        expect(seen).toMatchObject({ id: taken.id, pid: worker.pid, stale: true });
        expect((await store.locks.list()).find((l) => l.key === 'deploy')?.stale).toBe(true);
        const err = await expectCode(store.locks.acquire('deploy', { operation: 'apply' }), 'LOCKED');
        expect(err.details.lock).toMatchObject({ id: taken.id, stale: true });
        const lock = await store.locks.acquire('deploy', { operation: 'apply', breakStale: true });
        expect(lock.pid).toBe(process.pid);
      });

      it('a lock taken under another boot id is cleared by the automatic refresh after a reboot', async () => {
        const before = await factory.open({ bootId: 'boot-a' });
        await before.workspaces.create('w');
        const lock = await before.workspaces.lock('w', { operation: 'apply' });
        await before.locks.acquire('deploy', { operation: 'apply' });
        const after = await factory.reopen(before, { bootId: 'boot-b' });
        expect(await after.locks.list()).toEqual([]);
        expect((await after.workspaces.get('w')).lock).toBeUndefined();
        await after.workspaces.lock('w', { operation: 'apply' });
        await expectCode(before.workspaces.writeState('w', { v: 1 }, { lockId: lock.id }), 'LOCK_LOST');
      });

      it('a lock from before the last reboot is stale, and blocks (LOCKED) until broken', async () => {
        // `current` has seen boot b; `old` still runs under boot a and takes a lock after that.
        const old = await factory.open({ bootId: 'boot-a' });
        const current = await factory.reopen(old, { bootId: 'boot-b' });
        const lock = await old.locks.acquire('deploy', { operation: 'apply' });
        expect((await current.locks.get('deploy'))?.stale).toBe(true);
        expect((await current.locks.list()).map((l) => [l.id, l.stale])).toEqual([[lock.id, true]]);
        await expectCode(current.locks.acquire('deploy', { operation: 'apply' }), 'LOCKED');
        await current.locks.forceUnlock('deploy', lock.id);
        expect((await current.locks.acquire('deploy', { operation: 'apply' })).stale).toBe(false);
      });

      it('a lock held for another host with pid 0 is never stale by the reboot rule; only its lease makes it so', async () => {
        const c = manualClock();
        const before = await factory.open({ bootId: 'boot-a', clock: c.clock });
        const remote = await before.workspaces.lock('w', {
          operation: 'OperationTypeApply',
          pid: 0,
          host: '10.0.0.7',
          create: true,
        });
        const leased = await before.locks.acquire('leased', {
          operation: 'apply',
          pid: 0,
          host: '10.0.0.8',
          ttlMs: 60_000,
        });
        const local = await before.locks.acquire('local', { operation: 'apply' });
        const after = await factory.reopen(before, { bootId: 'boot-b', clock: c.clock });
        expect((await after.locks.list()).map((l) => [l.id, l.stale])).toEqual([
          [leased.id, false],
          [remote.id, false],
        ]);
        expect((await after.locks.list()).map((l) => l.id)).not.toContain(local.id);
        c.now += 61_000;
        expect((await after.locks.get('leased'))?.staleReason).toBe('lease expired');
        expect((await after.workspaces.get('w')).lock?.stale).toBe(false);
      });

      it('locks.list and locks.get are store-wide: a namespaced handle sees every lock', async () => {
        const root = await factory.open();
        const shop = await factory.reopen(root, { namespace: 'shop' });
        const rootLock = await root.workspaces.lock('default', { operation: 'apply' });
        const plain = await root.locks.acquire('deploy', { operation: 'apply' });
        expect((await shop.locks.list()).map((l) => l.id).sort()).toEqual([rootLock.id, plain.id].sort());
        expect(await shop.locks.get(rootLock.key)).toEqual(rootLock);
      });

      it('locks.list marks stale locks and only those', async () => {
        const c = manualClock();
        const [a, b] = await twoHandles(factory, { clock: c.clock });
        await a.locks.acquire('lease-short', { operation: 'apply', ttlMs: 1_000 });
        await b.locks.acquire('lease-long', { operation: 'apply', ttlMs: 60_000 });
        await a.locks.acquire('no-lease', { operation: 'apply' });
        c.now += 5_000;
        const stale = Object.fromEntries((await b.locks.list()).map((l) => [l.key, l.stale]));
        expect(stale).toEqual({ 'lease-short': true, 'lease-long': false, 'no-lease': false });
      });
    });
  });
}
