import { describe, expect, it } from 'vitest';
import { loadManifest, type BerthEvent, type Store, type Container, type Pod } from '../../src/index.js';
import { ctr, expectCode, pod, vol } from '../conformance/builders.js';
import { openEvents, reopenEvents, seqRange } from './helpers.js';

/** The suite, on the backend chosen with useFactory (SQLite unless set). */
export function journalSuite(): void {
  /*
   * The journal's contract (DESIGN.md §6, API.md "Store — events"): every change appends
   * one event per thing changed, in the same transaction, in commit order, with subject,
   * actor, namespace and data; a failed call appends nothing; list() pages with
   * since (exclusive), until (inclusive), types (exact or `kind.*`) and limit.
   */

  const ACTOR = 'tester@events';

  /** A store whose clock the test moves; every event's ts must be the clock's time. */
  async function clockedStore(): Promise<{ store: Store; clock: { now: number } }> {
    const clock = { now: Date.UTC(2026, 0, 15, 12, 0, 0) };
    const store = await openEvents({ clock: () => clock.now });
    return { store, clock };
  }

  /**
   * Runs `fn` and asserts the events it appended, in order: consecutive seqs right after
   * what was there before, the given fields, the store's actor and the clock's time.
   */
  async function expectEvents(
    store: Store,
    clock: { now: number },
    fn: () => Promise<unknown>,
    expected: Partial<BerthEvent>[],
  ): Promise<BerthEvent[]> {
    clock.now += 1000;
    const before = await store.events.lastSeq();
    await fn();
    const got = await store.events.list({ since: before });
    expect(got.map((e) => e.type)).toEqual(expected.map((e) => e.type));
    expect(got.map((e) => e.seq)).toEqual(seqRange(before, before + expected.length));
    expected.forEach((want, i) => expect(got[i]).toMatchObject(want));
    for (const e of got) {
      expect(e.actor).toBe(ACTOR);
      expect(e.ts).toBe(new Date(clock.now).toISOString());
      expect(Object.keys(e).sort()).toEqual(['actor', 'data', 'namespace', 'seq', 'subject', 'ts', 'type']);
      expect(typeof e.data).toBe('object');
    }
    expect(await store.events.lastSeq()).toBe(before + expected.length);
    return got;
  }

  /** Every event type DESIGN.md §6 names. */
  const ALL_TYPES = [
    'container.create',
    'container.update',
    'container.rename',
    'container.remove',
    'pod.create',
    'pod.update',
    'pod.rename',
    'pod.remove',
    'volume.create',
    'volume.update',
    'volume.remove',
    'exec.create',
    'exec.remove',
    'network.connect',
    'network.disconnect',
    'workspace.create',
    'workspace.delete',
    'workspace.state.write',
    'workspace.state.import',
    'workspace.state.rollback',
    'lock.acquire',
    'lock.release',
    'lock.force_unlock',
    'lock.break_stale',
    'store.refresh',
    'store.migrate',
    'apply.start',
    'apply.finish',
  ].sort();

  describe('event journal: one event per change, in commit order', () => {
    it('a new store starts with its migrations journaled as store.migrate', async () => {
      const { store, clock } = await clockedStore();
      const events = await store.events.list();
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => e.type === 'store.migrate')).toBe(true);
      expect(events.map((e) => e.seq)).toEqual(seqRange(0, events.length));
      for (const e of events) {
        expect(e).toMatchObject({ namespace: '', subject: { kind: 'store' }, actor: ACTOR });
        expect(e.subject.name).toMatch(/^\d+-[a-z0-9-]+$/);
        expect(e.data).toMatchObject({
          version: expect.any(Number),
          checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expect(e.ts).toBe(new Date(clock.now).toISOString());
      }
      expect(await store.events.lastSeq()).toBe(events.length);
    });

    it('containers, pods, volumes, exec sessions and networks', async () => {
      const { store, clock } = await clockedStore();
      const v = vol({ name: 'data' });
      await expectEvents(store, clock, () => store.addVolume(v), [
        { type: 'volume.create', namespace: '', subject: { kind: 'volume', name: 'data' }, data: {} },
      ]);
      await expectEvents(store, clock, () => store.saveVolume({ ...v, state: { mountCount: 1 } }), [
        { type: 'volume.update', subject: { kind: 'volume', name: 'data' } },
      ]);
      await expectEvents(store, clock, () => store.rewriteVolumeConfig(v, { ...v.config, labels: { tier: 'db' } }), [
        { type: 'volume.update', subject: { kind: 'volume', name: 'data' } },
      ]);

      const p: Pod = pod({ name: 'web' });
      await expectEvents(store, clock, () => store.addPod(p), [
        { type: 'pod.create', namespace: '', subject: { kind: 'pod', id: p.config.id, name: 'web' } },
      ]);
      await expectEvents(store, clock, () => store.savePod({ ...p, state: { cgroupPath: '/x' } }), [
        { type: 'pod.update', subject: { kind: 'pod', id: p.config.id, name: 'web' } },
      ]);
      await expectEvents(store, clock, () => store.rewritePodConfig(p, { ...p.config, labels: { a: 'b' } }), [
        { type: 'pod.update', subject: { kind: 'pod', id: p.config.id, name: 'web' } },
      ]);
      await expectEvents(store, clock, () => store.rewritePodConfig(p, { ...p.config, name: 'frontend' }), [
        { type: 'pod.rename', subject: { kind: 'pod', id: p.config.id, name: 'frontend' } },
      ]);

      const app: Container = ctr({ name: 'app', namedVolumes: [{ name: 'data', dest: '/data' }] });
      await expectEvents(store, clock, () => store.addContainer(app), [
        { type: 'container.create', subject: { kind: 'container', id: app.config.id, name: 'app' }, data: {} },
      ]);
      const member = ctr({ name: 'sidecar' });
      await expectEvents(store, clock, () => store.addContainerToPod(p, member), [
        {
          type: 'container.create',
          subject: { kind: 'container', id: member.config.id, name: 'sidecar' },
          data: { pod: p.config.id },
        },
      ]);
      await expectEvents(store, clock, () => store.saveContainer({ ...app, state: { status: 'running', pid: 42 } }), [
        { type: 'container.update', subject: { kind: 'container', id: app.config.id, name: 'app' } },
      ]);
      await expectEvents(store, clock, () => store.rewriteContainerConfig(app, { ...app.config, env: { A: '1' } }), [
        { type: 'container.update', subject: { kind: 'container', id: app.config.id, name: 'app' } },
      ]);
      await expectEvents(
        store,
        clock,
        () => store.safeRewriteContainerConfig(app, 'app', 'api', { ...app.config, name: 'api', env: { A: '1' } }),
        [
          {
            type: 'container.rename',
            subject: { kind: 'container', id: app.config.id, name: 'api' },
            data: { oldName: 'app', newName: 'api' },
          },
        ],
      );
      await expectEvents(store, clock, () => store.networkConnect(app, 'front', { aliases: ['api'] }), [
        { type: 'network.connect', subject: { kind: 'container', id: app.config.id }, data: { network: 'front' } },
      ]);
      await expectEvents(store, clock, () => store.networkDisconnect(app, 'front'), [
        { type: 'network.disconnect', subject: { kind: 'container', id: app.config.id }, data: { network: 'front' } },
      ]);
      await expectEvents(store, clock, () => store.addExecSession(app, { id: 'exec-1', containerId: app.config.id }), [
        { type: 'exec.create', subject: { kind: 'exec', id: 'exec-1' }, data: { container: app.config.id } },
      ]);
      await expectEvents(store, clock, () => store.removeExecSession({ id: 'exec-1', containerId: app.config.id }), [
        { type: 'exec.remove', subject: { kind: 'exec', id: 'exec-1' }, data: { container: app.config.id } },
      ]);
      await store.addExecSession(app, { id: 'exec-2', containerId: app.config.id });
      await store.addExecSession(app, { id: 'exec-3', containerId: app.config.id });
      const removed = await expectEvents(store, clock, () => store.removeContainerExecSessions(app), [
        { type: 'exec.remove', data: { container: app.config.id } },
        { type: 'exec.remove', data: { container: app.config.id } },
      ]);
      expect(removed.map((e) => e.subject.id).sort()).toEqual(['exec-2', 'exec-3']);

      await expectEvents(store, clock, () => store.removeContainerFromPod(p, member), [
        {
          type: 'container.remove',
          subject: { kind: 'container', id: member.config.id, name: 'sidecar' },
          data: { pod: p.config.id },
        },
      ]);
      await expectEvents(store, clock, () => store.removeContainer(app), [
        { type: 'container.remove', subject: { kind: 'container', id: app.config.id, name: 'api' } },
      ]);
      await expectEvents(store, clock, () => store.removePod(p), [
        { type: 'pod.remove', subject: { kind: 'pod', id: p.config.id, name: 'frontend' } },
      ]);
      await expectEvents(store, clock, () => store.removeVolume(v), [
        { type: 'volume.remove', subject: { kind: 'volume', name: 'data' } },
      ]);

      // One transaction that removes several things appends one event per thing, together.
      const p2 = pod();
      await store.addPod(p2);
      const [m1, m2] = [ctr(), ctr()];
      await store.addContainerToPod(p2, m1);
      await store.addContainerToPod(p2, m2);
      await expectEvents(store, clock, () => store.removePodContainers(p2), [
        { type: 'container.remove', data: { pod: p2.config.id } },
        { type: 'container.remove', data: { pod: p2.config.id } },
      ]);
    });

    it('workspaces, workspace state and locks', async () => {
      const { store, clock } = await clockedStore();
      await expectEvents(store, clock, () => store.workspaces.list(), [
        { type: 'workspace.create', namespace: '', subject: { kind: 'workspace', name: 'default' } },
      ]);
      await expectEvents(store, clock, () => store.workspaces.create('staging'), [
        { type: 'workspace.create', namespace: '', subject: { kind: 'workspace', name: 'staging' } },
      ]);
      const { lineage } = await store.workspaces.readState('staging');
      const [w1] = await expectEvents(store, clock, () => store.workspaces.writeState('staging', { v: 1 }), [
        {
          type: 'workspace.state.write',
          subject: { kind: 'workspace', name: 'staging' },
          data: { lineage, serial: 1 },
        },
      ]);
      expect(w1!.data.checksum).toMatch(/^[0-9a-f]{64}$/);
      await expectEvents(store, clock, () => store.workspaces.writeState('staging', { v: 2 }, { expectedSerial: 1 }), [
        { type: 'workspace.state.write', data: { lineage, serial: 2 } },
      ]);
      await expectEvents(store, clock, () => store.workspaces.rollback('staging', 1), [
        { type: 'workspace.state.rollback', subject: { kind: 'workspace', name: 'staging' }, data: { serial: 3 } },
      ]);
      const envelope = await store.workspaces.exportState('staging');
      await store.workspaces.create('copy');
      await expectEvents(store, clock, () => store.workspaces.importState('copy', envelope), [
        { type: 'workspace.state.import', subject: { kind: 'workspace', name: 'copy' }, data: { lineage, serial: 3 } },
      ]);

      const held = await expectEvents(store, clock, () => store.workspaces.lock('staging', { operation: 'apply' }), [
        {
          type: 'lock.acquire',
          namespace: '',
          subject: { kind: 'lock', name: 'workspace:/staging' },
          data: { operation: 'apply', who: ACTOR },
        },
      ]);
      const lock = await store.locks.get('workspace:/staging');
      expect(held[0]!.subject.id).toBe(lock!.id);
      expect(held[0]!.data.fencingToken).toBe(lock!.fencingToken);
      await expectEvents(store, clock, () => store.workspaces.unlock('staging', lock!.id), [
        { type: 'lock.release', subject: { kind: 'lock', id: lock!.id, name: 'workspace:/staging' } },
      ]);

      const deploy = await store.locks.acquire('deploy', { operation: 'deploy', who: 'someone@else' });
      await expectEvents(store, clock, () => store.locks.forceUnlock('deploy', deploy.id), [
        {
          type: 'lock.force_unlock',
          subject: { kind: 'lock', id: deploy.id, name: 'deploy' },
          data: { lock: { id: deploy.id, who: 'someone@else' }, brokenBy: ACTOR },
        },
      ]);

      // A leased lock whose lease ran out is broken by breakStale, recorded before the new acquire.
      const leased = await store.locks.acquire('lease', { operation: 'job', ttlMs: 1000 });
      clock.now += 5000;
      const broke = await expectEvents(
        store,
        clock,
        () => store.locks.acquire('lease', { operation: 'job', breakStale: true }),
        [
          { type: 'lock.break_stale', subject: { kind: 'lock', id: leased.id, name: 'lease' } },
          { type: 'lock.acquire', subject: { kind: 'lock', name: 'lease' } },
        ],
      );
      expect(broke[0]!.data.lock).toMatchObject({ id: leased.id });
      expect(typeof broke[0]!.data.reason).toBe('string');

      await expectEvents(store, clock, () => store.workspaces.delete('staging', { force: true }), [
        { type: 'workspace.delete', subject: { kind: 'workspace', name: 'staging' }, data: { lineage, force: true } },
      ]);
      await expectEvents(store, clock, () => store.refresh(), [
        { type: 'store.refresh', namespace: '', subject: { kind: 'store' }, data: { reason: 'manual' } },
      ]);
    });

    it('apply journals apply.start, its changes and apply.finish in one commit, inside its lock', async () => {
      const { store, clock } = await clockedStore();
      await store.workspaces.list(); // creates `default` (and its event) before we count
      const manifest = loadManifest(
        [
          'version: 1',
          'volumes:',
          '  appdata: { labels: { tier: db } }',
          'containers:',
          '  app: { image: "busybox:1.36", volumes: ["appdata:/data"] }',
          '',
        ].join('\n'),
      );
      const plan = await store.plan('default', manifest);
      clock.now += 1000;
      const before = await store.events.lastSeq();
      const result = await store.apply(plan);
      const got = await store.events.list({ since: before });
      expect(got.map((e) => e.type)).toEqual([
        'lock.acquire',
        'apply.start',
        'volume.create',
        'container.create',
        'workspace.state.write',
        'apply.finish',
        'lock.release',
      ]);
      expect(got.map((e) => e.seq)).toEqual(seqRange(before, before + got.length));
      const ws = { kind: 'workspace', name: 'default' };
      expect(got[1]).toMatchObject({ subject: ws, data: { plan: plan.digest, mode: 'apply' } });
      expect(got[5]).toMatchObject({ subject: ws, data: { plan: plan.digest, serial: result.serial } });
      expect(got[2]).toMatchObject({ subject: { kind: 'volume', name: 'appdata' } });
      expect(got[3]).toMatchObject({ subject: { kind: 'container', name: 'app' } });
      expect(got[0]!.subject.name).toBe('workspace:/default');
      for (const e of got) expect(e.actor).toBe(ACTOR);

      // A second apply of the same manifest changes nothing, so journals no object change.
      const again = await store.plan('default', manifest);
      const before2 = await store.events.lastSeq();
      await store.apply(again);
      const types2 = (await store.events.list({ since: before2 })).map((e) => e.type);
      expect(types2.filter((t) => /^(container|pod|volume)\./.test(t))).toEqual([]);
    });

    it('the journal covers every event type DESIGN.md §6 names', async () => {
      const { store, clock } = await clockedStore();
      const v = vol();
      await store.addVolume(v);
      await store.saveVolume(v);
      const p = pod();
      await store.addPod(p);
      await store.savePod(p);
      await store.rewritePodConfig(p, { ...p.config, name: 'renamed-pod' });
      const c = ctr({ namedVolumes: [{ name: v.config.name, dest: '/v' }] });
      await store.addContainer(c);
      await store.saveContainer(c);
      await store.safeRewriteContainerConfig(c, c.config.name, 'renamed-ctr', { ...c.config, name: 'renamed-ctr' });
      await store.networkConnect(c, 'n1');
      await store.networkDisconnect(c, 'n1');
      await store.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await store.removeExecSession({ id: 'e1', containerId: c.config.id });
      await store.removeContainer(c);
      await store.removeVolume(v);
      await store.removePod(p);
      await store.workspaces.create('w');
      await store.workspaces.writeState('w', { a: 1 });
      await store.workspaces.writeState('w', { a: 2 });
      await store.workspaces.rollback('w', 1);
      await store.workspaces.create('w2');
      await store.workspaces.importState('w2', await store.workspaces.exportState('w'));
      const l = await store.workspaces.lock('w', { operation: 'x' });
      await store.workspaces.unlock('w', l.id);
      const l2 = await store.locks.acquire('k', { operation: 'x' });
      await store.locks.forceUnlock('k', l2.id);
      await store.locks.acquire('k2', { operation: 'x', ttlMs: 10 });
      clock.now += 1000;
      await store.locks.acquire('k2', { operation: 'x', breakStale: true });
      await store.workspaces.delete('w', { force: true });
      await store.refresh();
      await store.apply(await store.plan('default', loadManifest('version: 1\ncontainers:\n  m: { image: "x:1" }\n')));
      const types = new Set((await store.events.list()).map((e) => e.type));
      expect([...types].sort()).toEqual(ALL_TYPES);
    });
  });

  describe('event journal: a failed call appends no event', () => {
    it('rule violations leave the journal as it was', async () => {
      const { store } = await clockedStore();
      const v = vol();
      await store.addVolume(v);
      const a = ctr({ namedVolumes: [{ name: v.config.name, dest: '/d' }] });
      await store.addContainer(a);
      await store.networkConnect(a, 'front');
      await store.workspaces.create('w');
      await store.workspaces.writeState('w', { v: 1 });
      const held = await store.locks.acquire('busy', { operation: 'x' });
      const last = await store.events.lastSeq();

      await expectCode(store.addContainer(ctr({ name: a.config.name })), 'CONTAINER_EXISTS');
      await expectCode(store.addVolume(vol({ name: v.config.name })), 'VOLUME_EXISTS');
      await expectCode(store.removeVolume(v), 'VOLUME_IN_USE');
      await expectCode(store.networkConnect(a, 'front'), 'NETWORK_CONNECTED');
      await expectCode(store.networkDisconnect(a, 'back'), 'NO_SUCH_NETWORK');
      await expectCode(store.saveContainer(ctr()), 'NO_SUCH_CONTAINER');
      await expectCode(store.removePod(pod()), 'NO_SUCH_POD');
      await expectCode(store.workspaces.create('w'), 'WORKSPACE_EXISTS');
      await expectCode(store.workspaces.writeState('w', { v: 2 }, { expectedSerial: 7 }), 'STALE_SERIAL');
      await expectCode(store.workspaces.rollback('w', 99), 'INVALID_ARGUMENT');
      await expectCode(store.workspaces.delete('w'), 'WORKSPACE_NOT_EMPTY');
      await expectCode(store.locks.acquire('busy', { operation: 'y' }), 'LOCKED');
      await expectCode(store.locks.release('busy', 'wrong'), 'LOCK_ID_MISMATCH');
      await expectCode(store.locks.forceUnlock('free', 'any'), 'NOT_LOCKED');
      await expectCode(store.locks.acquire('busy', { operation: 'y', breakStale: true }), 'LOCKED');
      // A multi-call transaction whose second call fails rolls back the first call's event too.
      await expectCode(
        store.transaction(async (tx) => {
          await tx.addContainer(ctr({ name: 'rolled-back' }));
          await tx.addContainer(ctr({ name: a.config.name }));
        }),
        'CONTAINER_EXISTS',
      );
      expect(await store.hasContainer('rolled-back')).toBe(false);
      expect(await store.events.lastSeq()).toBe(last);
      expect(await store.events.list({ since: last })).toEqual([]);
      await store.locks.release('busy', held.id);
    });

    it('a stale apply journals no apply or object event (only its lock taken and given back)', async () => {
      const { store } = await clockedStore();
      await store.workspaces.list();
      const m = loadManifest('version: 1\ncontainers:\n  one: { image: "x:1" }\n');
      const plan = await store.plan('default', m);
      await store.workspaces.writeState('default', { moved: true }); // the plan's basis is gone
      const last = await store.events.lastSeq();
      await expectCode(store.apply(plan), 'PLAN_STALE');
      const types = (await store.events.list({ since: last })).map((e) => e.type);
      expect(types.filter((t) => !t.startsWith('lock.'))).toEqual([]);
      expect(await store.hasContainer('one')).toBe(false);
    });
  });

  describe('events.list: since, until, types, limit', () => {
    async function seeded(): Promise<{ store: Store; all: BerthEvent[] }> {
      const { store } = await clockedStore();
      const p = pod();
      await store.addPod(p);
      for (let i = 0; i < 5; i++) await store.addContainer(ctr({ name: `c${i}` }));
      await store.addVolume(vol());
      await store.workspaces.create('w');
      await store.workspaces.writeState('w', { a: 1 });
      await store.addContainerToPod(p, ctr());
      return { store, all: await store.events.list() };
    }

    it('since is exclusive and until inclusive; both are seqs', async () => {
      const { store, all } = await seeded();
      const last = all[all.length - 1]!.seq;
      expect(all.map((e) => e.seq)).toEqual(seqRange(0, last));
      expect(await store.events.lastSeq()).toBe(last);
      expect((await store.events.list({ since: 3 })).map((e) => e.seq)).toEqual(seqRange(3, last));
      expect((await store.events.list({ until: 4 })).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect((await store.events.list({ since: 3, until: 6 })).map((e) => e.seq)).toEqual([4, 5, 6]);
      expect(await store.events.list({ since: 5, until: 5 })).toEqual([]);
      expect(await store.events.list({ since: 6, until: 5 })).toEqual([]);
      expect(await store.events.list({ since: last })).toEqual([]);
      expect(await store.events.list({ since: last + 100 })).toEqual([]);
      expect(await store.events.list({ since: 0 })).toEqual(all);
      for (const bad of [-1, 1.5, Number.NaN]) {
        await expectCode(store.events.list({ since: bad }), 'INVALID_ARGUMENT');
        await expectCode(store.events.list({ until: bad }), 'INVALID_ARGUMENT');
      }
    });

    it('types match exactly or by kind with `kind.*`', async () => {
      const { store, all } = await seeded();
      const of = (pred: (t: string) => boolean) => all.filter((e) => pred(e.type));
      expect(await store.events.list({ types: ['container.create'] })).toEqual(of((t) => t === 'container.create'));
      expect((await store.events.list({ types: ['container.create'] })).length).toBe(6);
      expect(await store.events.list({ types: ['container.*'] })).toEqual(of((t) => t.startsWith('container.')));
      expect(await store.events.list({ types: ['workspace.*'] })).toEqual(of((t) => t.startsWith('workspace.')));
      expect((await store.events.list({ types: ['workspace.*'] })).map((e) => e.type)).toContain(
        'workspace.state.write',
      );
      expect(await store.events.list({ types: ['workspace.state.*'] })).toEqual(
        of((t) => t === 'workspace.state.write'),
      );
      expect(await store.events.list({ types: ['pod.create', 'volume.*'] })).toEqual(
        of((t) => t === 'pod.create' || t.startsWith('volume.')),
      );
      // A kind alone means the kind (as on the CLI and over HTTP); a partial word matches nothing.
      expect(await store.events.list({ types: ['container'] })).toEqual(of((t) => t.startsWith('container.')));
      expect(await store.events.list({ types: ['container.cre'] })).toEqual([]);
      expect(await store.events.list({ types: ['cont*'] })).toEqual([]);
      expect(await store.events.list({ types: [] })).toEqual(all);
    });

    it('limit keeps the oldest matching events, combined with since and types', async () => {
      const { store, all } = await seeded();
      expect(await store.events.list({ limit: 3 })).toEqual(all.slice(0, 3));
      expect(await store.events.list({ since: 4, limit: 2 })).toEqual(all.slice(4, 6));
      const creates = all.filter((e) => e.type === 'container.create');
      expect(await store.events.list({ types: ['container.create'], limit: 2 })).toEqual(creates.slice(0, 2));
      expect(await store.events.list({ types: ['container.create'], since: creates[3]!.seq, limit: 10 })).toEqual(
        creates.slice(4),
      );
      expect(await store.events.list({ limit: 1000 })).toEqual(all);
      await expectCode(store.events.list({ limit: -1 }), 'INVALID_ARGUMENT');
    });

    it('limit 0 returns no event (or is refused), never one', async () => {
      const { store } = await seeded();
      let result: BerthEvent[] | undefined;
      try {
        result = await store.events.list({ limit: 0 });
      } catch (err) {
        expect((err as { code?: string }).code).toBe('INVALID_ARGUMENT');
        return;
      }
      expect(result).toEqual([]);
    });

    it('pages through more events than one query batch without gaps', async () => {
      const { store } = await clockedStore();
      await store.transaction(async (tx) => {
        for (let i = 0; i < 1234; i++) {
          await tx.events.append({ namespace: '', type: 'test.tick', subject: { kind: 'test', name: `t${i}` } });
        }
      });
      const all = await store.events.list();
      expect(all.map((e) => e.seq)).toEqual(seqRange(0, all.length));
      const ticks = await store.events.list({ types: ['test.tick'] });
      expect(ticks.length).toBe(1234);
      expect(ticks.map((e) => e.subject.name)).toEqual(Array.from({ length: 1234 }, (_, i) => `t${i}`));
      expect((await store.events.list({ types: ['test.*'], since: ticks[600]!.seq, limit: 700 })).length).toBe(633);
    });

    it('an exit code is journaled as container.exit, also for a container that is gone', async () => {
      const { store } = await clockedStore();
      const c = await store.addContainer(ctr());
      const since = await store.events.lastSeq();
      await store.addContainerExitCode(c.config.id, 3);
      await store.addContainerExitCode('f'.repeat(64), 137);
      const events = await store.events.list({ since });
      expect(events.map((e) => [e.type, e.subject, e.data])).toEqual([
        ['container.exit', { kind: 'container', id: c.config.id, name: c.config.name }, { code: 3 }],
        ['container.exit', { kind: 'container', id: 'f'.repeat(64) }, { code: 137 }],
      ]);
    });

    it('append refuses a type that is not <kind>.<verb>', async () => {
      const { store } = await clockedStore();
      const last = await store.events.lastSeq();
      for (const type of ['', 'tick', 'Test.Tick', 'test.', '.tick', 'test tick']) {
        await expectCode(store.events.append({ namespace: '', type, subject: { kind: 'test' } }), 'INVALID_ARGUMENT');
      }
      expect(await store.events.lastSeq()).toBe(last);
    });
  });

  describe('namespaces', () => {
    it("a namespaced handle lists only its namespace's events; '' sees all", async () => {
      const { store } = await clockedStore();
      const a = store.withNamespace('team-a');
      const b = store.withNamespace('team-b');
      const ca = ctr();
      await a.addContainer(ca);
      await b.addContainer(ctr());
      await a.addVolume(vol());
      await a.workspaces.create('wa');
      await b.workspaces.create('wb');
      const la = await a.workspaces.lock('wa', { operation: 'x' });
      await a.workspaces.unlock('wa', la.id);
      await a.saveContainer({ ...ca, state: { status: 'running' } });

      const all = await store.events.list();
      const seenA = await a.events.list();
      const seenB = await b.events.list();
      expect(seenA.length).toBeGreaterThanOrEqual(6);
      expect(seenA).toEqual(all.filter((e) => e.namespace === 'team-a'));
      expect(seenB).toEqual(all.filter((e) => e.namespace === 'team-b'));
      expect(seenA.map((e) => e.type)).toEqual([
        'container.create',
        'volume.create',
        'workspace.create',
        'workspace.create',
        'lock.acquire',
        'lock.release',
        'container.update',
      ]);
      expect(seenA.filter((e) => e.type.startsWith('lock.')).map((e) => e.subject.name)).toEqual([
        'workspace:team-a/wa',
        'workspace:team-a/wa',
      ]);
      expect(all.some((e) => e.namespace === '')).toBe(true);
      // The filters combine with the namespace.
      expect(await a.events.list({ types: ['container.*'] })).toEqual(
        all.filter((e) => e.namespace === 'team-a' && e.type.startsWith('container.')),
      );

      // A store opened in a namespace sees the same.
      const opened = await reopenEvents(store, { namespace: 'team-b' });
      expect(await opened.events.list()).toEqual(seenB);
    });

    it('a namespaced snapshot holds only its objects, at the journal seq', async () => {
      const { store } = await clockedStore();
      const a = store.withNamespace('team-a');
      await a.addContainer(ctr({ name: 'in-a' }));
      await store.withNamespace('team-b').addContainer(ctr({ name: 'in-b' }));
      const snap = await a.snapshot();
      expect(snap.seq).toBe(await store.events.lastSeq());
      expect(snap.containers.map((c) => c.config.name)).toEqual(['in-a']);
      expect(Object.keys(snap).sort()).toEqual(['containers', 'locks', 'pods', 'seq', 'volumes', 'workspaces']);
    });
  });
}
