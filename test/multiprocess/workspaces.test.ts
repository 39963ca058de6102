import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LockInfo, WorkspaceState } from '../../src/index.js';
import { expectCode } from '../conformance/builders.js';
import { sqliteFactory } from '../helpers/store-factory.js';
import { exited, spawnTsWorker, startStoreWorker } from './workers/worker-client.js';

/*
 * Workspaces and locks across real processes (DESIGN.md §4, §5): Terraform's lock tests
 * with the second holder in another process, a counter incremented under the lock by four
 * processes, a holder killed with SIGKILL, and a zombie holder fenced by LOCK_LOST.
 */

const COUNTER_WORKER = fileURLToPath(new URL('./workers/counter-worker.ts', import.meta.url));

describe('workspaces and locks across processes (sqlite)', () => {
  describe("Terraform's lock tests with a second process", () => {
    it.each(['default', 'foo'])(
      'TestBackendStateLocks in %s: LOCKED while the other process holds it, then the lock is free',
      async (name) => {
        const store = await sqliteFactory.open();
        if (name !== 'default') await store.workspaces.create(name);
        await store.workspaces.writeState(name, { v: 1 });
        const worker = await startStoreWorker(store.location);
        const held = await worker.ok<LockInfo>({ op: 'lock', name, operation: 'test' });
        expect(held.pid).toBe(worker.pid);

        const err = await expectCode(store.workspaces.lock(name, { operation: 'test' }), 'LOCKED');
        expect(err.details.lock).toMatchObject({
          id: held.id,
          pid: worker.pid,
          who: `worker-${worker.pid}@test`,
          operation: 'test',
          stale: false,
        });
        // Reading is allowed while the other process holds the lock; writing is not.
        expect((await store.workspaces.readState(name)).state).toEqual({ v: 1 });
        await expectCode(store.workspaces.writeState(name, { v: 2 }), 'LOCKED');

        await worker.ok({ op: 'unlock', name, lockId: held.id });
        const mine = await store.workspaces.lock(name, { operation: 'test' });
        const reply = await worker.call({ op: 'lock', name, operation: 'test' });
        expect(reply).toMatchObject({
          ok: false,
          code: 'LOCKED',
          details: { lock: { id: mine.id, pid: process.pid } },
        });
        await store.workspaces.unlock(name, mine.id);
      },
    );

    it('TestBackendStateForceUnlock: force-unlock with the id from the LOCKED error, then relock', async () => {
      const store = await sqliteFactory.open();
      await store.workspaces.writeState('default', { v: 1 });
      const worker = await startStoreWorker(store.location);
      const held = await worker.ok<LockInfo>({ op: 'lock', name: 'default', operation: 'test' });

      const err = await expectCode(store.workspaces.lock('default', { operation: 'test' }), 'LOCKED');
      const holder = err.details.lock as LockInfo;
      await expectCode(store.workspaces.forceUnlock('default', 'not-the-id'), 'LOCK_ID_MISMATCH');
      expect(await store.workspaces.forceUnlock('default', holder.id)).toEqual(held);
      const mine = await store.workspaces.lock('default', { operation: 'test' });
      expect(mine.fencingToken).toBeGreaterThan(held.fencingToken);

      // The old holder, still running, is fenced off.
      expect(
        await worker.call({ op: 'writeState', name: 'default', state: { v: 'zombie' }, lockId: held.id }),
      ).toMatchObject({ ok: false, code: 'LOCK_LOST' });
      expect(await worker.call({ op: 'unlock', name: 'default', lockId: held.id })).toMatchObject({
        ok: false,
        code: 'LOCK_ID_MISMATCH',
      });
      expect(await store.workspaces.readState('default')).toMatchObject({ serial: 1, state: { v: 1 } });
      expect((await store.workspaces.get('default')).lock?.id).toBe(mine.id);
    });
  });

  it('4 processes x 50 rounds of lock -> read -> write(counter + 1) -> unlock lose no update', async () => {
    const processes = 4;
    const rounds = 50;
    const store = await sqliteFactory.open();
    await store.workspaces.create('counter');
    await store.workspaces.writeState('counter', { counter: 1000 });
    const before = await store.workspaces.readState('counter');

    const workers = Array.from({ length: processes }, () =>
      spawnTsWorker(COUNTER_WORKER, [store.location, 'counter', String(rounds)]),
    );
    const outputs = workers.map((child) => {
      const lines: unknown[] = [];
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => (stderr += chunk));
      let ready: () => void;
      const isReady = new Promise<void>((resolve) => (ready = resolve));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as { ready?: boolean };
        if (message.ready) ready();
        else lines.push(message);
      });
      return { child, lines, isReady, stderr: () => stderr };
    });
    await Promise.all(outputs.map((o) => o.isReady));
    for (const o of outputs) o.child.stdin!.write('go\n');
    const results = await Promise.all(outputs.map((o) => exited(o.child)));

    for (const [i, o] of outputs.entries()) {
      expect({ exit: results[i], lines: o.lines, stderr: o.stderr() }).toMatchObject({
        exit: { code: 0 },
        lines: [{ done: true, rounds }],
      });
    }
    const after = await store.workspaces.readState('counter');
    expect((after.state as { counter: number }).counter).toBe(1000 + processes * rounds);
    expect(after.serial).toBe(before.serial + processes * rounds);
    expect(after.lineage).toBe(before.lineage);
    expect((await store.workspaces.history('counter', { limit: 1 }))[0]?.serial).toBe(after.serial);
    expect((await store.workspaces.get('counter')).lock).toBeUndefined();
  });

  it('a holder killed with SIGKILL leaves a lock that list() reports stale and forceUnlock clears', async () => {
    const store = await sqliteFactory.open();
    await store.workspaces.create('prod');
    const worker = await startStoreWorker(store.location);
    const held = await worker.ok<LockInfo>({ op: 'lock', name: 'prod', operation: 'apply' });
    expect((await store.locks.list()).map((l) => [l.id, l.stale])).toEqual([[held.id, false]]);

    worker.child.kill('SIGKILL');
    expect(await exited(worker.child)).toMatchObject({ signal: 'SIGKILL' });

    const listed = await store.locks.list();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: held.id, key: held.key, pid: worker.pid, stale: true });
    expect((await store.workspaces.get('prod')).lock?.stale).toBe(true);
    // Stale locks still block until broken.
    await expectCode(store.workspaces.lock('prod', { operation: 'apply' }), 'LOCKED');
    await expectCode(store.workspaces.writeState('prod', { v: 1 }), 'LOCKED');

    expect(await store.workspaces.forceUnlock('prod', held.id)).toMatchObject({ id: held.id, stale: true });
    expect(await store.locks.list()).toEqual([]);
    const mine = await store.workspaces.lock('prod', { operation: 'apply' });
    expect((await store.workspaces.writeState('prod', { v: 1 }, { lockId: mine.id })).serial).toBe(1);
  });

  it('a zombie holder that wakes up after a force-unlock cannot overwrite the next holder (LOCK_LOST)', async () => {
    const store = await sqliteFactory.open();
    await store.workspaces.create('prod');
    await store.workspaces.writeState('prod', { owner: 'initial' });
    const [a, b] = await Promise.all([startStoreWorker(store.location), startStoreWorker(store.location)]);

    // A locks, reads, and then pauses (it waits for its next command on stdin).
    const lockA = await a.ok<LockInfo>({ op: 'lock', name: 'prod', operation: 'apply' });
    const readByA = await a.ok<WorkspaceState>({ op: 'readState', name: 'prod' });

    // The operator decides A is stuck and force-unlocks; B locks and writes.
    await store.workspaces.forceUnlock('prod', lockA.id);
    const lockB = await b.ok<LockInfo>({ op: 'lock', name: 'prod', operation: 'apply' });
    const written = await b.ok<WorkspaceState>({
      op: 'writeState',
      name: 'prod',
      state: { owner: 'B' },
      lockId: lockB.id,
    });

    // A wakes up and writes with its old lock id.
    const zombie = await a.call({
      op: 'writeState',
      name: 'prod',
      state: { owner: 'A' },
      lockId: lockA.id,
      expectedSerial: readByA.serial,
    });
    expect(zombie).toMatchObject({ ok: false, code: 'LOCK_LOST' });
    expect(await store.workspaces.readState('prod')).toEqual(written);

    // Still fenced after B released: the old id never holds again.
    await b.ok({ op: 'unlock', name: 'prod', lockId: lockB.id });
    expect(await a.call({ op: 'writeState', name: 'prod', state: { owner: 'A' }, lockId: lockA.id })).toMatchObject({
      ok: false,
      code: 'LOCK_LOST',
    });
    expect(await store.workspaces.readState('prod')).toMatchObject({ serial: written.serial, state: { owner: 'B' } });
    expect((await store.workspaces.history('prod')).map((v) => v.serial)).toEqual([2, 1]);
  });
});
