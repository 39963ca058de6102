import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BerthError, type Store, type Transaction } from '../../src/index.js';
import { ctr, expectCode, uniqueName, vol } from '../conformance/builders.js';
import { LineWorker } from '../helpers/line-worker.js';
import type { StoreFactory } from '../helpers/store-factory.js';

/*
 * Transactions are values (API.md "Transactions", STYLE.md 13): only calls made through
 * `tx` and awaited inside the callback belong to it; nothing joins implicitly; a late
 * call is TRANSACTION_CLOSED; a `store` call inside is INVALID_ARGUMENT at once; the
 * callback's own errors come back unchanged. Every case asserts exactly what committed.
 */

const TX_COUNTER = fileURLToPath(new URL('./workers/tx-counter.ts', import.meta.url));

/** Fails the test when `work` takes longer than `ms` (a call that must fail fast, never hang). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The events written after `since`, as `type subject` strings. */
async function eventsAfter(store: Store, since: number): Promise<string[]> {
  return (await store.events.list({ since })).map((e) => `${e.type} ${e.subject.name ?? e.subject.id ?? ''}`);
}

export function transactionSuite(factory: StoreFactory): void {
  describe(`store.transaction (${factory.backend})`, () => {
    it('commits every awaited call on tx together, with their events in one block', async () => {
      const store = await factory.open();
      await store.workspaces.list(); // the default workspace exists before
      const since = await store.events.lastSeq();
      const a = ctr();
      const v = vol();
      const result = await store.transaction(async (tx) => {
        await tx.addVolume(v);
        await tx.addContainer({ ...a, config: { ...a.config, namedVolumes: [{ name: v.config.name, dest: '/d' }] } });
        await tx.workspaces.writeState('default', { n: 1 });
        return 'done';
      });
      expect(result).toBe('done');
      expect(await store.hasContainer(a.config.id)).toBe(true);
      expect(await store.hasVolume(v.config.name)).toBe(true);
      expect((await store.workspaces.readState('default')).state).toEqual({ n: 1 });
      expect(await eventsAfter(store, since)).toEqual([
        `volume.create ${v.config.name}`,
        `container.create ${a.config.name}`,
        'workspace.state.write default',
      ]);
    });

    it('an error the callback throws comes back unchanged and nothing commits', async () => {
      const store = await factory.open();
      const since = await store.events.lastSeq();
      class Mine extends Error {}
      const mine = new Mine('my own failure');
      const a = ctr();
      const err = await store
        .transaction(async (tx) => {
          await tx.addContainer(a);
          throw mine;
        })
        .catch((e: unknown) => e);
      expect(err).toBe(mine);
      const thrownValue = await store
        .transaction(async (tx) => {
          await tx.addContainer(ctr());
          throw 'a plain string';
        })
        .catch((e: unknown) => e);
      expect(thrownValue).toBe('a plain string');
      expect(await store.hasContainer(a.config.id)).toBe(false);
      expect(await eventsAfter(store, since)).toEqual([]);
    });

    it('a call on tx after the callback settled is TRANSACTION_CLOSED and writes nothing', async () => {
      const store = await factory.open();
      let kept: Transaction | undefined;
      await store.transaction(async (tx) => {
        kept = tx;
        await tx.addContainer(ctr());
      });
      const since = await store.events.lastSeq();
      const late = ctr();
      await expectCode(kept!.addContainer(late), 'TRANSACTION_CLOSED');
      await expectCode(kept!.allContainers(), 'TRANSACTION_CLOSED');
      await expectCode(kept!.workspaces.writeState('default', { late: true }), 'TRANSACTION_CLOSED');
      expect(await store.hasContainer(late.config.id)).toBe(false);
      expect(await eventsAfter(store, since)).toEqual([]);
    });

    it('calls from a timer set inside the callback never join the transaction open when it fires', async () => {
      const store = await factory.open();
      const lateTx = ctr();
      const lateStore = ctr();
      let open!: () => void;
      const secondIsOpen = new Promise<void>((resolve) => (open = resolve));
      let calls: Promise<unknown>[] = [];
      let fired!: () => void;
      const timerRan = new Promise<void>((resolve) => (fired = resolve));
      await store.transaction(async (tx) => {
        // Fires once the first transaction has committed and a second one is open.
        void secondIsOpen.then(() => {
          calls = [tx.addContainer(lateTx), store.addContainer(lateStore)];
          for (const c of calls) c.catch(() => undefined);
          fired();
        });
        await tx.addContainer(ctr());
      });
      const other = ctr();
      const second = store
        .transaction(async (tx) => {
          await tx.addContainer(other);
          open();
          await timerRan;
          throw new Error('roll the second one back');
        })
        .catch((e: unknown) => e);
      expect(((await second) as Error).message).toBe('roll the second one back');
      // The late call on the first tx is refused; the store call runs on its own and stays.
      await expectCode(calls[0]!, 'TRANSACTION_CLOSED');
      await calls[1];
      expect(await store.hasContainer(lateTx.config.id)).toBe(false);
      expect(await store.hasContainer(lateStore.config.id)).toBe(true);
      expect(await store.hasContainer(other.config.id)).toBe(false);
    });

    it('a call on tx left pending when the callback returns fails the transaction; nothing commits', async () => {
      const store = await factory.open();
      const since = await store.events.lastSeq();
      const a = ctr();
      const b = ctr();
      let pending: Promise<unknown> | undefined;
      const err = await expectCode(
        store.transaction(async (tx) => {
          await tx.addContainer(a);
          pending = tx.addContainer(b); // not awaited
          pending.catch(() => undefined);
        }),
        'INVALID_ARGUMENT',
      );
      expect(err.message).toMatch(/await every call/);
      await expectCode(pending!, 'TRANSACTION_CLOSED');
      expect(await store.hasContainer(a.config.id)).toBe(false);
      expect(await store.hasContainer(b.config.id)).toBe(false);
      expect(await eventsAfter(store, since)).toEqual([]);
    });

    it('an un-awaited call whose callback then throws is rolled back with the rest', async () => {
      const store = await factory.open();
      const since = await store.events.lastSeq();
      const a = ctr();
      const b = ctr();
      let pending: Promise<unknown> | undefined;
      const err = await store
        .transaction(async (tx) => {
          await tx.addContainer(a);
          pending = tx.addContainer(b);
          pending.catch(() => undefined);
          throw new Error('after an un-awaited call');
        })
        .catch((e: unknown) => e);
      expect((err as Error).message).toBe('after an un-awaited call');
      await expectCode(pending!, 'TRANSACTION_CLOSED');
      expect(await store.hasContainer(a.config.id)).toBe(false);
      expect(await store.hasContainer(b.config.id)).toBe(false);
      expect(await eventsAfter(store, since)).toEqual([]);
    });

    it('a store call made inside the callback fails at once with INVALID_ARGUMENT (never hangs)', async () => {
      const store = await factory.open();
      const a = ctr();
      const seen: BerthError[] = [];
      await within(
        2000,
        store.transaction(async (tx) => {
          await tx.addContainer(a);
          for (const call of [
            () => store.addContainer(ctr()),
            () => store.allContainers(),
            () => store.workspaces.readState('default'),
            () => store.locks.list(),
          ]) {
            try {
              await call();
            } catch (e) {
              seen.push(e as BerthError);
            }
          }
        }),
      );
      expect(seen.map((e) => e.code)).toEqual([
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
      ]);
      expect(seen[0]!.message).toMatch(/use tx/);
      // The refused calls did not fail the transaction: what it did through tx committed.
      expect(await store.hasContainer(a.config.id)).toBe(true);
      // Once the transaction is over, the same async flow may use the store again.
      expect((await store.allContainers()).map((c) => c.config.id)).toContain(a.config.id);
    });

    it('a store call from another async flow waits for the transaction, then runs on its own', async () => {
      const store = await factory.open();
      const inside = ctr();
      const outside = ctr();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const started = new Promise<void>((resolve) => (entered = resolve));
      const tx = store.transaction(async (t) => {
        await t.addContainer(inside);
        entered();
        await gate;
        throw new Error('rolled back');
      });
      await started;
      // A flow that did not start inside the callback: it is not refused.
      const other = (async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return store.addContainer(outside);
      })();
      setTimeout(release, 50);
      await expect(tx).rejects.toThrow('rolled back');
      await other;
      expect(await store.hasContainer(inside.config.id)).toBe(false);
      expect(await store.hasContainer(outside.config.id)).toBe(true);
    });

    it('Promise.all inside a transaction runs the calls one after the other, all committed', async () => {
      const store = await factory.open();
      const cs = [ctr(), ctr(), ctr()];
      const v = vol();
      await store.transaction(async (tx) => {
        await Promise.all([
          ...cs.map((c) => tx.addContainer(c)),
          tx.addVolume(v),
          tx.workspaces.writeState('default', 1),
        ]);
      });
      for (const c of cs) expect(await store.hasContainer(c.config.id)).toBe(true);
      expect(await store.hasVolume(v.config.name)).toBe(true);
    });

    it('Promise.all inside a transaction with one failing call rolls back all, with that call’s error', async () => {
      const store = await factory.open();
      const taken = await store.addContainer(ctr());
      const since = await store.events.lastSeq();
      const a = ctr();
      const b = ctr();
      const err = await expectCode(
        store.transaction(async (tx) => {
          await Promise.all([
            tx.addContainer(a),
            tx.addContainer(ctr({ name: taken.config.name })),
            tx.addContainer(b),
          ]);
        }),
        'CONTAINER_EXISTS',
      );
      expect(err.details.name).toBe(taken.config.name);
      expect(await store.hasContainer(a.config.id)).toBe(false);
      expect(await store.hasContainer(b.config.id)).toBe(false);
      expect(await eventsAfter(store, since)).toEqual([]);
    });

    it('a failed write the callback catches still dooms the transaction', async () => {
      const store = await factory.open();
      const taken = await store.addContainer(ctr());
      const a = ctr();
      await expectCode(
        store.transaction(async (tx) => {
          await tx.addContainer(a);
          await tx.addContainer(ctr({ name: taken.config.name })).catch(() => undefined);
          await tx.hasContainer(a.config.id).catch(() => undefined);
        }),
        'CONTAINER_EXISTS',
      );
      expect(await store.hasContainer(a.config.id)).toBe(false);
    });

    it('a failed read inside does not doom it: the callback may look before it writes', async () => {
      const store = await factory.open();
      const a = ctr();
      await store.transaction(async (tx) => {
        await expectCode(tx.lookupContainer('nobody-here'), 'NO_SUCH_CONTAINER');
        await tx.addContainer(a);
        expect(await tx.hasContainer(a.config.id)).toBe(true);
      });
      expect(await store.hasContainer(a.config.id)).toBe(true);
    });

    it('Promise.all of transactions and single calls outside one: each commits as a block, in order', async () => {
      const store = await factory.open();
      const since = await store.events.lastSeq();
      const [x1, x2, y1, y2, solo] = [ctr(), ctr(), ctr(), ctr(), ctr()];
      await Promise.all([
        store.transaction(async (tx) => {
          await tx.addContainer(x1);
          await new Promise((resolve) => setTimeout(resolve, 10));
          await tx.addContainer(x2);
        }),
        store.addContainer(solo),
        store.transaction(async (tx) => {
          await tx.addContainer(y1);
          await tx.addContainer(y2);
        }),
      ]);
      const names = (await eventsAfter(store, since)).map((e) => e.split(' ')[1]);
      expect(names).toHaveLength(5);
      const at = (c: typeof x1): number => names.indexOf(c.config.name);
      expect(at(x2) - at(x1)).toBe(1);
      expect(at(y2) - at(y1)).toBe(1);
    });

    it('inside a transaction a held lock fails at once with LOCKED, even with a timeout', async () => {
      const store = await factory.open();
      const other = await factory.reopen(store);
      const held = await other.locks.acquire('busy', { operation: 'hold' });
      const started = Date.now();
      await expectCode(
        store.transaction((tx) => tx.locks.acquire('busy', { operation: 'wait', timeoutMs: 10_000 })),
        'LOCKED',
      );
      expect(Date.now() - started).toBeLessThan(2000);
      await other.locks.release('busy', held.id);
    });

    it('refuses what cannot run in a transaction, and a read-only handle', async () => {
      const store = await factory.open();
      await store.transaction(async (tx) => {
        await expectCode(
          (tx as unknown as Store).transaction(async () => undefined),
          'INVALID_ARGUMENT',
        );
        await expectCode((tx as unknown as Store).removeContainers(['x']), 'INVALID_ARGUMENT');
        await expectCode((tx as unknown as Store).close(), 'INVALID_ARGUMENT');
      });
      const ro = await factory.reopen(store, { readonly: true });
      await expectCode(
        ro.transaction(async () => undefined),
        'INVALID_ARGUMENT',
      );
      await expectCode(ro.addContainer(ctr()), 'INVALID_ARGUMENT');
    });

    it('a namespaced tx (withNamespace) runs in the same transaction', async () => {
      const store = await factory.open();
      const name = uniqueName('ns');
      const a = ctr({ namespace: name });
      await expectCode(
        store.transaction(async (tx) => {
          await tx.withNamespace(name).addContainer(a);
          throw new BerthError('INVALID_ARGUMENT', 'roll back');
        }),
        'INVALID_ARGUMENT',
      );
      expect(await store.hasContainer(a.config.id)).toBe(false);
    });

    it('transactions racing in other processes lose no read-modify-write', async () => {
      const store = await factory.open();
      const target = JSON.stringify(factory.target(store));
      const rounds = 15;
      const workers = [0, 1, 2].map(() => new LineWorker(TX_COUNTER, [target, String(rounds)], ['error']));
      for (const w of workers) await w.next((m) => m.ready === true);
      for (const w of workers) w.send('go');
      for (let i = 0; i < rounds; i++) {
        await store.transaction(async (tx) => {
          const n = ((await tx.workspaces.readState('default')).state as { n?: number } | null)?.n ?? 0;
          await tx.workspaces.writeState('default', { n: n + 1 });
        });
      }
      for (const w of workers) await w.next((m) => m.done === true, 60_000);
      const final = await store.workspaces.readState('default');
      expect(final.state).toEqual({ n: 4 * rounds });
      expect(final.serial).toBe(4 * rounds);
      expect((await store.allContainers()).length).toBe(3 * rounds);
    });
  });
}
