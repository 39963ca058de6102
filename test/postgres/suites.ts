import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadManifest, type Store, type Manifest, type Plan } from '../../src/index.js';
import { ctr, expectCode, pod, vol } from '../conformance/builders.js';
import type { StoreFactory } from '../helpers/store-factory.js';

/*
 * Compact plan/apply (DESIGN.md §7) and event journal (§6) suites written against a
 * StoreFactory, so that the very same functions run on SQLite and on PostgreSQL
 * (test/postgres/plan-events.test.ts calls them for both).
 */

type Doc = {
  version: 1;
  namespace?: string;
  volumes?: Record<string, Record<string, unknown>>;
  pods?: Record<string, { labels?: Record<string, string>; containers: Record<string, Record<string, unknown>> }>;
  containers?: Record<string, Record<string, unknown>>;
};

/** A stack with every kind of object: a volume, a pod of two, two standalone containers. */
function baseDoc(): Doc {
  return {
    version: 1,
    namespace: 'app',
    volumes: { data: { driver: 'local', labels: { tier: 'db' } } },
    pods: {
      web: {
        labels: { app: 'web' },
        containers: {
          front: { image: 'nginx:1', dependsOn: ['back'] },
          back: { image: 'app:1', env: { PORT: '8080' } },
        },
      },
    },
    containers: {
      db: { image: 'pg:16', command: ['postgres'], volumes: ['data:/var/lib/pg'], labels: { tier: 'db' } },
      cache: { image: 'redis:7' },
    },
  };
}

const load = (doc: Doc): Manifest => loadManifest(stringify(doc));

/** `{ key: effective action }` of a plan. */
function actions(plan: Plan): Record<string, string> {
  return Object.fromEntries(plan.changes.map((c) => [c.key, c.effective]));
}

/** The stack objects of namespace 'app': `kind/name -> id`, sorted. */
async function stack(store: Store): Promise<Record<string, string>> {
  const app = store.withNamespace('app');
  const out: Record<string, string> = {};
  for (const v of await app.allVolumes()) out[`volume/${v.config.name}`] = v.config.name;
  for (const p of await app.allPods()) out[`pod/${p.config.name}`] = p.config.id;
  for (const c of await app.allContainers()) out[`container/${c.config.name}`] = c.config.id;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function planApply(store: Store, doc: Doc): Promise<Plan> {
  const plan = await store.plan('default', load(doc));
  await store.apply(plan);
  return plan;
}

/** Plan and apply: create, update, replace, delete, noop, PLAN_STALE, PLAN_ALREADY_APPLIED, idempotency, destroy. */
export function planSuite(factory: StoreFactory): void {
  describe(`plan and apply (${factory.backend})`, () => {
    it('creates every declared object, labelled with its workspace, in one new serial', async () => {
      const store = await factory.open();
      const plan = await store.plan('default', load(baseDoc()));
      expect(plan).toMatchObject({ format: 'plan/v1', workspace: 'default', namespace: 'app', mode: 'apply' });
      expect(plan.basis.serial).toBe(0);
      expect(actions(plan)).toEqual({
        'volume/data': 'create',
        'pod/web': 'create',
        'container/back': 'create',
        'container/front': 'create',
        'container/db': 'create',
        'container/cache': 'create',
      });
      // Dependencies first: back before front, the volume before db.
      const order = plan.steps.map((s) => s.key);
      expect(order.indexOf('container/back')).toBeLessThan(order.indexOf('container/front'));
      expect(order.indexOf('volume/data')).toBeLessThan(order.indexOf('container/db'));

      const result = await store.apply(plan);
      expect(result).toMatchObject({ workspace: 'default', namespace: 'app', serial: 1 });
      expect(Object.keys(await stack(store))).toEqual([
        'container/back',
        'container/cache',
        'container/db',
        'container/front',
        'pod/web',
        'volume/data',
      ]);
      const app = store.withNamespace('app');
      const db = await app.lookupContainer('db');
      expect(db.config).toMatchObject({ image: 'pg:16', labels: { tier: 'db', 'berth.workspace': 'default' } });
      const front = await app.lookupContainer('front');
      expect(front.config.dependencies).toEqual([(await app.lookupContainer('back')).config.id]);
      expect((await app.workspaces.readState('default')).serial).toBe(1);
      expect(await app.workspaces.get('default')).not.toHaveProperty('lock');
    });

    it('plans update, replace, delete and noop in one plan; then the same manifest plans no change', async () => {
      const store = await factory.open();
      await planApply(store, baseDoc());
      const before = await stack(store);
      const doc = baseDoc();
      doc.containers!.cache!.labels = { role: 'cache' }; // in place
      doc.containers!.db!.image = 'pg:17'; // re-created
      delete doc.pods!.web!.containers.front; // removed
      const plan = await store.plan('default', load(doc));
      expect(actions(plan)).toEqual({
        'volume/data': 'noop',
        'pod/web': 'noop',
        'container/back': 'noop',
        'container/front': 'delete',
        'container/db': 'replace',
        'container/cache': 'update',
      });
      await store.apply(plan);
      const after = await stack(store);
      expect(Object.keys(after)).toEqual([
        'container/back',
        'container/cache',
        'container/db',
        'pod/web',
        'volume/data',
      ]);
      expect(after['container/cache']).toBe(before['container/cache']);
      expect(after['container/back']).toBe(before['container/back']);
      expect(after['container/db']).not.toBe(before['container/db']);
      const app = store.withNamespace('app');
      expect((await app.lookupContainer('db')).config.image).toBe('pg:17');
      expect((await app.lookupContainer('cache')).config.labels).toMatchObject({ role: 'cache' });

      // Idempotent: the same manifest again plans nothing, and applying that changes nothing.
      const again = await store.plan('default', load(doc));
      expect(new Set(Object.values(actions(again)))).toEqual(new Set(['noop']));
      expect(again.steps).toEqual([]);
      await store.apply(again);
      expect(await stack(store)).toEqual(after);
    });

    it('refuses a plan made before the workspace changed with PLAN_STALE, changing nothing', async () => {
      const store = await factory.open();
      const other = await factory.reopen(store);
      const early = await store.plan('default', load(baseDoc()));
      const smaller = baseDoc();
      delete smaller.containers!.cache;
      await planApply(other, smaller);
      const before = await stack(store);
      const serial = (await store.withNamespace('app').workspaces.readState('default')).serial;
      const err = await expectCode(store.apply(early), 'PLAN_STALE');
      expect(err.details).toMatchObject({ basis: { serial: 0 }, current: { serial } });
      expect(await stack(store)).toEqual(before);
      expect((await store.withNamespace('app').workspaces.readState('default')).serial).toBe(serial);
      expect(await store.withNamespace('app').workspaces.get('default')).not.toHaveProperty('lock');
    });

    it('refuses a second apply of the same plan with PLAN_ALREADY_APPLIED', async () => {
      const store = await factory.open();
      const plan = await planApply(store, baseDoc());
      const before = await stack(store);
      await expectCode(store.apply(plan), 'PLAN_ALREADY_APPLIED');
      // Also from another handle, with the plan as saved JSON.
      const other = await factory.reopen(store);
      await expectCode(other.apply(JSON.parse(JSON.stringify(plan)) as Plan), 'PLAN_ALREADY_APPLIED');
      expect(await stack(store)).toEqual(before);
    });

    it('destroy: needs allowDestroy, then removes everything the workspace manages', async () => {
      const store = await factory.open();
      await planApply(store, baseDoc());
      const unmanaged = await store.withNamespace('app').addContainer(ctr({ name: 'by-hand' }));
      const plan = await store.plan('default', load(baseDoc()), { mode: 'destroy' });
      expect(plan.mode).toBe('destroy');
      expect(new Set(Object.values(actions(plan)))).toEqual(new Set(['delete']));
      const before = await stack(store);
      await expectCode(store.apply(plan), 'INVALID_ARGUMENT');
      expect(await stack(store)).toEqual(before);
      await store.apply(plan, { allowDestroy: true });
      expect(await stack(store)).toEqual({ 'container/by-hand': unmanaged.config.id });
    });
  });
}

/** The event journal: one event per mutation in commit order, list filters, snapshot + since without a gap. */
export function eventSuite(factory: StoreFactory): void {
  describe(`event journal (${factory.backend})`, () => {
    it('appends exactly one event per change, in commit order; a failed call appends none', async () => {
      const store = await factory.open();
      // The default workspace comes into being on first use (with its own event).
      await store.workspaces.readState('default');
      const since = await store.events.lastSeq();
      const v = await store.addVolume(vol({ name: 'ev-vol' }));
      const p = await store.addPod(pod({ name: 'ev-pod' }));
      const c = await store.addContainer(ctr({ name: 'ev-ctr', namedVolumes: [{ name: 'ev-vol', dest: '/d' }] }));
      await expectCode(store.addContainer(ctr({ name: 'ev-ctr' })), 'CONTAINER_EXISTS');
      await store.networkConnect(c, 'net1');
      await store.addExecSession(c, { id: 'ev-exec', containerId: c.config.id });
      await store.removeExecSession({ id: 'ev-exec', containerId: c.config.id });
      await store.networkDisconnect(c, 'net1');
      await store.workspaces.create('ev-ws');
      const lock = await store.workspaces.lock('ev-ws', { operation: 'test' });
      await store.workspaces.writeState('ev-ws', { a: 1 }, { lockId: lock.id });
      await expectCode(store.workspaces.writeState('ev-ws', { a: 2 }), 'LOCKED');
      await store.workspaces.unlock('ev-ws', lock.id);
      await store.removeContainer(c);
      await store.removePod(p);
      await store.removeVolume(v);

      const events = await store.events.list({ since });
      expect(events.map((e) => e.type)).toEqual([
        'volume.create',
        'pod.create',
        'container.create',
        'network.connect',
        'exec.create',
        'exec.remove',
        'network.disconnect',
        'workspace.create',
        'lock.acquire',
        'workspace.state.write',
        'lock.release',
        'container.remove',
        'pod.remove',
        'volume.remove',
      ]);
      expect(events[2]).toMatchObject({
        namespace: '',
        subject: { kind: 'container', id: c.config.id, name: 'ev-ctr' },
      });
      for (let i = 1; i < events.length; i++) {
        expect(events[i]!.seq).toBeGreaterThan(events[i - 1]!.seq);
        expect(Date.parse(events[i]!.ts)).toBeGreaterThanOrEqual(Date.parse(events[i - 1]!.ts));
      }
      expect(await store.events.lastSeq()).toBe(events[events.length - 1]!.seq);
    });

    it('lists with since (exclusive), until (inclusive), types and kinds, and limit', async () => {
      const store = await factory.open();
      const since = await store.events.lastSeq();
      for (const name of ['l-a', 'l-b', 'l-c']) await store.addContainer(ctr({ name }));
      await store.addVolume(vol({ name: 'l-v' }));
      const all = await store.events.list({ since });
      expect(all).toHaveLength(4);
      const seqs = all.map((e) => e.seq);
      expect((await store.events.list({ since: seqs[0]! })).map((e) => e.seq)).toEqual(seqs.slice(1));
      expect((await store.events.list({ since: seqs[0]!, until: seqs[2]! })).map((e) => e.seq)).toEqual(
        seqs.slice(1, 3),
      );
      expect((await store.events.list({ until: seqs[0]!, since })).map((e) => e.seq)).toEqual([seqs[0]]);
      expect((await store.events.list({ since, types: ['volume.create'] })).map((e) => e.subject.name)).toEqual([
        'l-v',
      ]);
      expect((await store.events.list({ since, types: ['container.*'] })).map((e) => e.subject.name)).toEqual([
        'l-a',
        'l-b',
        'l-c',
      ]);
      expect((await store.events.list({ since, limit: 2 })).map((e) => e.seq)).toEqual(seqs.slice(0, 2));
      expect(await store.events.list({ since: seqs[3]! })).toEqual([]);
      await expectCode(store.events.list({ since: -1 }), 'INVALID_ARGUMENT');
    });

    it('snapshot seq + since: every change is in the snapshot or after its seq, never both, with a concurrent writer', async () => {
      const store = await factory.open();
      const other = await factory.reopen(store);
      for (let i = 0; i < 5; i++) await store.addContainer(ctr({ name: `snap-${i}` }));
      const writing = (async () => {
        for (let i = 5; i < 20; i++) await other.addContainer(ctr({ name: `snap-${i}` }));
      })();
      const snapshot = await store.snapshot();
      await writing;
      const inSnapshot = snapshot.containers.map((c) => c.config.name);
      const after = (await store.events.list({ since: snapshot.seq, types: ['container.create'] })).map(
        (e) => e.subject.name!,
      );
      expect(inSnapshot.filter((n) => after.includes(n))).toEqual([]);
      expect([...inSnapshot, ...after].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `snap-${i}`).sort());
      expect(snapshot.seq).toBeLessThanOrEqual(await store.events.lastSeq());
      const upTo = await store.events.list({ until: snapshot.seq, types: ['container.create'] });
      expect(upTo.map((e) => e.subject.name).sort()).toEqual([...inSnapshot].sort());
    });
  });
}
