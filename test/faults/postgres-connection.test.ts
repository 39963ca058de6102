import { expect, it, type TestContext } from 'vitest';
import {
  describeCluster,
  eventually,
  expectFault,
  schemaName,
  storeProcess,
  urlFor,
  type PgCluster,
  type StoreProcess,
} from './postgres-helpers.js';

/*
 * Issue 13, on a PostgreSQL cluster of this file's own: backends terminated between
 * calls, inside a transaction and during lock waits; another session holding ACCESS
 * EXCLUSIVE on a berth table; a read-only handle. Each store lives in a process of its
 * own: a lost connection used to crash it (an 'error' event of a checked-out pg client
 * without a listener). Each case asserts the process is alive, every call settled as a
 * BerthError with DESIGN.md §8's code, the handle works again, and what was acknowledged
 * is there. Each case's sessions carry an application_name of their own, so a case
 * terminates only its own and the cases run side by side.
 */

const UNAVAILABLE = ['STORE_UNAVAILABLE'];

describeCluster(
  'postgres faults: lost connections, held locks, read-only handles',
  (cluster) => {
    async function open(
      t: TestContext,
      prefix: string,
      extra: Record<string, unknown> = {},
    ): Promise<{ p: StoreProcess; schema: string; app: string; url: string }> {
      const schema = schemaName(prefix);
      const app = `berth-${schema}`;
      const url = urlFor(cluster(), app);
      const p = await storeProcess(t, { url, schema, ...extra });
      return { p, schema, app, url };
    }

    async function names(c: PgCluster, schema: string): Promise<string[]> {
      const rows = await c.query<{ name: string }>(`SELECT name FROM "${schema}".containers ORDER BY name`);
      return rows.map((r) => r.name);
    }

    it('a backend terminated between calls: the process lives and the next calls reconnect by themselves', async (t) => {
      const c = cluster();
      const { p, schema, app } = await open(t, 'between');
      await p.value('addContainer', { config: { name: 'before', image: 'x' } });
      const calls = (round: number): [string, unknown[]][] => [
        ['allContainers', []],
        ['workspaces.readState', ['default']],
        ['addContainer', [{ config: { name: `after-${round}`, image: 'x' } }]],
        ['lookupContainer', ['before']],
      ];
      for (let round = 0; round < 3; round++) {
        // Terminated while idle: the next calls find a pool of dropped connections and go on.
        await p.value('hasContainer', 'before');
        expect(await c.terminate({ app })).toBeGreaterThan(0);
        for (const [path, args] of calls(round)) {
          const r = await p.call(path, ...args);
          expect(r.ok, `${path} after a terminated backend: ${JSON.stringify(r.error)}`).toBe(true);
        }
        // Terminated as the calls arrive: each either succeeds or is STORE_UNAVAILABLE.
        const [, ...racing] = await Promise.all([
          c.terminate({ app, wait: false }),
          ...calls(round + 10).map(([path, args]) => p.call(path, ...args)),
        ]);
        for (const [i, r] of racing.entries()) if (!r.ok) expectFault(r.error, UNAVAILABLE, c, calls(0)[i]![0]);
      }
      expect(await p.alive()).toBe(true);
      const stored = await names(c, schema);
      expect(stored).toEqual(expect.arrayContaining(['after-0', 'after-1', 'after-2', 'before']));
    });

    it('a backend terminated inside a transaction: the transaction fails whole with STORE_UNAVAILABLE, nothing of it commits', async (t) => {
      const c = cluster();
      const { p, schema, app } = await open(t, 'intx');
      // Terminated between two calls of the transaction.
      const first = p.send('begin');
      await p.next(first, (m) => m.begun === true);
      expect((await p.callInTx('addContainer', { config: { name: 'tx-a', image: 'x' } })).ok).toBe(true);
      await c.terminate({ app });
      const second = await p.callInTx('addContainer', { config: { name: 'tx-b', image: 'x' } });
      expectFault(second.error, UNAVAILABLE, c, 'a call after the terminate');
      await p.next(p.send('commit'));
      const outcome = await p.next(first);
      expect(outcome.ok).toBe(false);
      expectFault(outcome.error as never, UNAVAILABLE, c, 'the transaction');

      // Terminated just before the commit: COMMIT itself meets the lost connection.
      const again = p.send('begin');
      await p.next(again, (m) => m.begun === true);
      expect((await p.callInTx('addContainer', { config: { name: 'tx-c', image: 'x' } })).ok).toBe(true);
      await c.terminate({ app });
      await p.next(p.send('commit'));
      const committed = await p.next(again);
      expect(committed.ok).toBe(false);
      expectFault(committed.error as never, UNAVAILABLE, c, 'the commit');

      expect(await p.alive()).toBe(true);
      expect(await names(c, schema)).toEqual([]);
      // The handle goes on, transactions included.
      const third = p.send('begin');
      await p.next(third, (m) => m.begun === true);
      expect((await p.callInTx('addContainer', { config: { name: 'tx-d', image: 'x' } })).ok).toBe(true);
      await p.next(p.send('commit'));
      expect((await p.next(third)).ok).toBe(true);
      expect(await names(c, schema)).toEqual(['tx-d']);
    });

    it('a backend terminated while waiting for the store write lock (a row lock held by another session)', async (t) => {
      const c = cluster();
      const { p, schema, app } = await open(t, 'rowwait', { busyTimeoutMs: 10_000 });
      const holder = await c.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT value FROM "${schema}".berth_meta WHERE key = 'write_lock' FOR UPDATE`);
      const write = p.send('call', { path: 'addContainer', args: [{ config: { name: 'waited', image: 'x' } }] });
      let waiting: number[] = [];
      await eventually(
        async () => {
          waiting = (await c.berthBackends(app)).filter((b) => b.wait === 'Lock').map((b) => b.pid);
          return waiting.length === 1;
        },
        10_000,
        'a berth session waiting for the write lock',
      );
      await c.terminate({ pids: waiting });
      // The wait starts again on a new connection; the holder lets go.
      await holder.query('COMMIT');
      const r = await p.next(write);
      if (!r.ok) expectFault(r.error as never, UNAVAILABLE, c, 'the waiting write');
      expect(await p.alive()).toBe(true);
      await p.value('addContainer', { config: { name: 'later', image: 'x' } });
      expect(await names(c, schema)).toEqual(r.ok ? ['later', 'waited'] : ['later']);
    });

    it('a backend terminated while a workspace lock waits for its holder (timeoutMs)', async (t) => {
      const c = cluster();
      const { p: holder, schema, app, url } = await open(t, 'lockwait');
      const waiter = await storeProcess(t, { url, schema });
      const held = await holder.value<{ id: string }>('workspaces.lock', 'default', { operation: 'hold' });
      const wait = waiter.send('call', {
        path: 'workspaces.lock',
        args: ['default', { operation: 'wait', timeoutMs: 2500 }],
      });
      // Terminate both processes' sessions a few times while the waiter retries.
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await c.terminate({ app });
      }
      const r = await waiter.next(wait, (m) => 'ok' in m, 15_000);
      expect(r.ok).toBe(false);
      expectFault(r.error as never, ['LOCKED', 'STORE_UNAVAILABLE'], c, 'the waiting lock');
      expect(await waiter.alive()).toBe(true);
      expect(await holder.alive()).toBe(true);
      // The holder still holds it, and can release it; the waiter then gets it.
      await holder.value('workspaces.unlock', 'default', held.id);
      const mine = await waiter.value<{ id: string }>('workspaces.lock', 'default', {
        operation: 'wait',
        timeoutMs: 2500,
      });
      await waiter.value('workspaces.unlock', 'default', mine.id);
    });

    it('another session holding ACCESS EXCLUSIVE on a berth table: STORE_BUSY after busyTimeoutMs, then work goes on', async (t) => {
      const c = cluster();
      const { p, schema } = await open(t, 'exclusive', { busyTimeoutMs: 300 });
      await p.value('addContainer', { config: { name: 'first', image: 'x' } });
      await p.value('addPod', { config: { name: 'pod-1' }, state: {} });
      const holder = await c.connect();
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".containers IN ACCESS EXCLUSIVE MODE`);
      for (const [path, args] of [
        ['allContainers', []],
        ['lookupContainer', ['first']],
        ['hasContainer', ['first']],
        ['addContainer', [{ config: { name: 'blocked', image: 'x' } }]],
        ['snapshot', []],
      ] as const) {
        const started = Date.now();
        const r = await p.call(path, ...args);
        expect(r.ok, `${path} while containers is locked`).toBe(false);
        expectFault(r.error, ['STORE_BUSY'], c, path);
        expect(Date.now() - started, path).toBeLessThan(5_000);
      }
      // What does not touch the locked table goes on.
      expect((await p.value<unknown[]>('allPods')).length).toBe(1);
      await holder.query('COMMIT');
      await p.value('addContainer', { config: { name: 'second', image: 'x' } });
      expect(await p.alive()).toBe(true);
      expect(await names(c, schema)).toEqual(['first', 'second']);
    });

    it('a read-only handle refuses every write with INVALID_ARGUMENT and changes nothing', async (t) => {
      const c = cluster();
      const { p: writer, schema } = await open(t, 'readonly');
      await writer.value('addContainer', { config: { name: 'kept', image: 'x' } });
      await writer.value('workspaces.writeState', 'default', { v: 1 });
      const ro = await storeProcess(t, { url: c.url, schema, readonly: true });
      const before = await c.query(`SELECT count(*)::int AS n FROM "${schema}".events`);
      for (const [path, args] of [
        ['addContainer', [{ config: { name: 'refused', image: 'x' } }]],
        ['addPod', [{ config: { name: 'refused-pod' }, state: {} }]],
        ['addVolume', [{ config: { name: 'refused-vol' } }]],
        ['workspaces.lock', ['default', { operation: 'refused' }]],
        ['workspaces.writeState', ['default', { v: 2 }]],
        ['workspaces.create', ['refused-ws']],
        ['locks.acquire', ['refused-key', { operation: 'x' }]],
        ['events.append', [{ namespace: '', type: 'test.refused', subject: { kind: 'test' } }]],
        ['refresh', []],
      ] as const) {
        const r = await ro.call(path, ...args);
        expect(r.ok, path).toBe(false);
        expectFault(r.error, ['INVALID_ARGUMENT'], c, path);
      }
      const tx = ro.send('begin');
      const refused = await ro.next(tx);
      expectFault(refused.error as never, ['INVALID_ARGUMENT'], c, 'transaction');
      // Reads work; nothing was written.
      expect(((await ro.value<{ state: unknown }>('workspaces.readState', 'default')).state as { v: number }).v).toBe(
        1,
      );
      expect(await names(c, schema)).toEqual(['kept']);
      expect(await c.query(`SELECT count(*)::int AS n FROM "${schema}".locks`)).toEqual([{ n: 0 }]);
      expect(await c.query(`SELECT count(*)::int AS n FROM "${schema}".events`)).toEqual(before);
      expect(await ro.alive()).toBe(true);
    });
  },
  { concurrent: true },
);
