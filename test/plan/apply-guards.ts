import { describe, expect, it } from 'vitest';
import { loadManifest, type Store, type Plan } from '../../src/index.js';
import {
  actions,
  change,
  counts,
  declared,
  manifest,
  managedObjects,
  openBerth,
  planApply,
  rejectsWith,
  reopenBerth,
  storeObjects,
} from './helpers.js';

/** The suite, on the backend chosen with useFactory (SQLite unless set). */
export function applyGuardSuite(): void {
  /*
   * What apply refuses and why (DESIGN.md §7): stale, already-applied and altered plans,
   * name conflicts, orphans and prune, the workspace lock, events, and namespaces.
   */

  const SHOP = `
  version: 1
  namespace: shop
  volumes:
    pgdata: { labels: { tier: db } }
  pods:
    web:
      containers:
        nginx: { image: "nginx:1.27", dependsOn: [app] }
        app: { image: "shop/app:2.3" }
  containers:
    db: { image: "postgres:16", volumes: ["pgdata:/data"] }
  `;

  const SHOP_V2 = SHOP.replace('shop/app:2.3', 'shop/app:2.4');

  async function world(): Promise<{ store: Store; shop: Store }> {
    const store = await openBerth();
    return { store, shop: store.withNamespace('shop') };
  }

  /** Everything a failed apply must leave as it was. */
  async function fingerprint(store: Store, ns = 'shop'): Promise<unknown> {
    const scoped = store.withNamespace(ns);
    const ws = await scoped.workspaces.readState('default');
    return {
      objects: await storeObjects(store, ns),
      serial: ws.serial,
      lineage: ws.lineage,
      state: ws.state,
      locks: (await store.locks.list()).map((l) => l.key),
      applyEvents: (await store.events.list({ types: ['apply.*'] })).length,
    };
  }

  function copy(plan: Plan): Plan {
    return JSON.parse(JSON.stringify(plan)) as Plan;
  }

  describe('PLAN_ALREADY_APPLIED', () => {
    it('against a never-written workspace (Terraform #24078): the second apply of the same plan is refused, nothing is created twice', async () => {
      const { store, shop } = await world();
      expect((await shop.workspaces.get('default')).serial).toBe(0);
      const plan = await store.plan('default', manifest(SHOP));
      expect(plan.basis.serial).toBe(0);
      const saved = copy(plan);
      await store.apply(plan);
      const after = await fingerprint(store);

      const err = await rejectsWith(store.apply(saved), 'PLAN_ALREADY_APPLIED');
      expect(err.details).toMatchObject({ digest: plan.digest, serial: 1 });
      expect(await fingerprint(store)).toEqual(after);
      expect(await counts(store)).toEqual({ containers: 3, pods: 1, volumes: 1 });
    });

    it('from another process-like handle too, and in a freshly created workspace', async () => {
      const { store, shop } = await world();
      await shop.workspaces.create('staging');
      const plan = await store.plan('staging', manifest(SHOP));
      await store.apply(plan);
      const other = await reopenBerth(store);
      await rejectsWith(other.apply(copy(plan)), 'PLAN_ALREADY_APPLIED');
      expect((await shop.workspaces.get('staging')).serial).toBe(1);
    });

    it('a plan with no changes, once applied, is not applied again', async () => {
      const { store } = await world();
      await planApply(store, 'default', manifest(SHOP));
      const noop = await store.plan('default', manifest(SHOP));
      expect(noop.steps).toEqual([]);
      await store.apply(noop);
      await rejectsWith(store.apply(copy(noop)), 'PLAN_ALREADY_APPLIED');
    });
  });

  describe('PLAN_STALE', () => {
    it('when the workspace was applied since the plan was made', async () => {
      const { store } = await world();
      const a = await store.plan('default', manifest(SHOP));
      const b = await store.plan('default', manifest(SHOP_V2));
      await store.apply(a);
      const before = await fingerprint(store);
      const err = await rejectsWith(store.apply(b), 'PLAN_STALE');
      expect(err.details).toMatchObject({ basis: { serial: 0 }, current: { serial: 1 } });
      expect(await fingerprint(store)).toEqual(before);
    });

    it('when the workspace state was written by other means', async () => {
      const { store, shop } = await world();
      const plan = await store.plan('default', manifest(SHOP));
      await shop.workspaces.writeState('default', { note: 'hand-written' });
      await rejectsWith(store.apply(plan), 'PLAN_STALE');
      expect(await counts(store)).toEqual({ containers: 0, pods: 0, volumes: 0 });
    });

    it('when the workspace was deleted and re-created (another lineage, same serial)', async () => {
      const { store, shop } = await world();
      await shop.workspaces.create('tmp');
      const plan = await store.plan('tmp', manifest(SHOP));
      await shop.workspaces.delete('tmp');
      await shop.workspaces.create('tmp');
      expect((await shop.workspaces.get('tmp')).serial).toBe(plan.basis.serial);
      await rejectsWith(store.apply(plan), 'PLAN_STALE');
    });

    it('when a managed object was changed out of band after planning (serial unchanged)', async () => {
      const { store, shop } = await world();
      await planApply(store, 'default', manifest(SHOP));
      const plan = await store.plan('default', manifest(SHOP_V2));
      // Out of band: an object the plan leaves alone (a noop) changes.
      const db = await shop.lookupContainer('db');
      await shop.rewriteContainerConfig(db, { ...db.config, labels: { ...db.config.labels, oob: '1' } });
      const before = await fingerprint(store);
      const err = await rejectsWith(store.apply(plan), 'PLAN_STALE');
      expect(err.details).toMatchObject({ key: 'container/db' });
      expect(await fingerprint(store)).toEqual(before);
      expect(await store.locks.list()).toEqual([]);
    });

    it('when an object the plan changes was removed out of band', async () => {
      const { store, shop } = await world();
      await planApply(store, 'default', manifest(SHOP));
      const plan = await store.plan('default', manifest(SHOP.replace('postgres:16', 'postgres:17')));
      expect(change(plan, 'container/db').effective).toBe('replace');
      await shop.removeContainer(await shop.lookupContainer('db'));
      await rejectsWith(store.apply(plan), 'PLAN_STALE');
    });

    it('when an object the plan creates was created out of band meanwhile', async () => {
      const { store, shop } = await world();
      const plan = await store.plan('default', manifest(SHOP));
      await shop.addVolume({ config: { name: 'pgdata' } as never, state: {} });
      const before = await fingerprint(store);
      await rejectsWith(store.apply(plan), 'PLAN_STALE');
      expect(await fingerprint(store)).toEqual(before);
    });
  });

  describe('PLAN_STALE for refresh-only plans', () => {
    it('a refresh-only plan whose store changed again after planning is refused, not applied with unreviewed changes', async () => {
      const { store, shop } = await world();
      await planApply(store, 'default', manifest(SHOP));
      const db = await shop.lookupContainer('db');
      await shop.rewriteContainerConfig(db, { ...db.config, labels: { ...db.config.labels, oob: '1' } });
      const plan = await store.plan('default', manifest(SHOP), { mode: 'refresh-only' });
      expect(plan.drift.map((d) => d.key)).toEqual(['container/db']);
      // After the plan was reviewed, another object changes out of band.
      const app = await shop.lookupContainer('app');
      await shop.rewriteContainerConfig(app, { ...app.config, image: 'shop/app:9' });
      const before = await fingerprint(store);
      await rejectsWith(store.apply(plan), 'PLAN_STALE');
      expect(await fingerprint(store)).toEqual(before);
    });
  });

  describe('PLAN_INVALID: an altered plan', () => {
    const alterations: [string, (p: Plan) => void][] = [
      ['an image in a change', (p) => void ((p.changes[0]!.after!.spec as { image?: string }).image = 'evil:1')],
      ['a dropped step', (p) => void p.steps.pop()],
      ['the basis serial', (p) => void (p.basis.serial = 7)],
      ['an effective action', (p) => void (p.changes[1]!.effective = 'noop')],
      ['the digest itself', (p) => void (p.digest = p.digest.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')))],
      ['a missing digest', (p) => void delete (p as Partial<Plan>).digest],
      ['the format', (p) => void ((p as { format: string }).format = 'plan/v0')],
    ];

    it.each(alterations)('%s', async (_what, alter) => {
      const { store } = await world();
      const plan = copy(await store.plan('default', manifest(SHOP)));
      alter(plan);
      const before = await fingerprint(store);
      await rejectsWith(store.apply(plan), 'PLAN_INVALID');
      expect(await fingerprint(store)).toEqual(before);
    });

    it('something that is not a plan at all', async () => {
      const { store } = await world();
      await rejectsWith(store.apply({ hello: 'world' } as unknown as Plan), 'PLAN_INVALID');
    });

    it('re-serialising an untouched plan keeps it valid (key order does not matter)', async () => {
      const { store } = await world();
      const plan = await store.plan('default', manifest(SHOP));
      const reordered = Object.fromEntries(Object.entries(copy(plan)).reverse()) as unknown as Plan;
      await store.apply(reordered);
      expect(await managedObjects(store, 'shop', 'default')).toEqual(declared(manifest(SHOP)));
    });
  });

  describe('name conflicts', () => {
    it('a name taken by an object another workspace manages: the plan marks it blocked; apply fails with *_EXISTS and changes nothing', async () => {
      const { store, shop } = await world();
      await shop.workspaces.create('other');
      await planApply(
        store,
        'other',
        manifest('version: 1\nnamespace: shop\ncontainers:\n  db: { image: "mysql:8" }\n'),
      );
      const plan = await store.plan('default', manifest(SHOP));
      expect(change(plan, 'container/db')).toMatchObject({
        requested: 'create',
        effective: 'noop',
        blocked: { reason: 'name_conflict' },
      });
      expect(plan.summary.blocked).toBe(1);
      const before = await fingerprint(store);
      await rejectsWith(store.apply(plan), 'CONTAINER_EXISTS');
      expect(await fingerprint(store)).toEqual(before);
    });

    it('a pod name taken by a container, and a volume name taken by an unmanaged volume', async () => {
      const { store, shop } = await world();
      await shop.addContainer({ config: { name: 'web' } as never, state: { status: 'configured' } });
      const plan = await store.plan('default', manifest(SHOP));
      expect(change(plan, 'pod/web').blocked?.reason).toBe('name_conflict');
      await rejectsWith(store.apply(plan), 'CONTAINER_EXISTS');

      const { store: s2, shop: shop2 } = await world();
      await shop2.addVolume({ config: { name: 'pgdata' } as never, state: {} });
      const plan2 = await s2.plan('default', manifest(SHOP));
      expect(change(plan2, 'volume/pgdata').blocked?.reason).toBe('name_conflict');
      await rejectsWith(s2.apply(plan2), 'VOLUME_EXISTS');
    });

    it('a container name taken in another namespace (names are store-wide): CONTAINER_EXISTS, nothing changed', async () => {
      const { store } = await world();
      await store
        .withNamespace('elsewhere')
        .addContainer({ config: { name: 'db' } as never, state: { status: 'configured' } });
      const plan = await store.plan('default', manifest(SHOP));
      const before = await fingerprint(store);
      await rejectsWith(store.apply(plan), 'CONTAINER_EXISTS');
      expect(await fingerprint(store)).toEqual(before);
    });
  });

  describe('orphans and prune', () => {
    async function withOrphans(n: number): Promise<{ store: Store; shop: Store }> {
      const w = await world();
      for (let i = 0; i < n; i++) {
        await w.shop.addContainer({ config: { name: `stray-${i}` } as never, state: { status: 'configured' } });
      }
      return w;
    }

    it('are reported, not deleted, without prune', async () => {
      const { store } = await withOrphans(2);
      await store.withNamespace('other').addContainer({ config: { name: 'far' } as never, state: {} as never });
      const plan = await store.plan('default', manifest(SHOP));
      expect(plan.orphans.map((o) => o.key)).toEqual(['container/stray-0', 'container/stray-1']);
      expect(plan.changes.filter((c) => c.orphan)).toEqual([]);
      await store.apply(plan);
      expect(Object.keys(await storeObjects(store, 'shop'))).toContain('container/stray-0');
    });

    it('objects another workspace manages are not orphans', async () => {
      const { store, shop } = await world();
      await shop.workspaces.create('other');
      await planApply(store, 'other', manifest('version: 1\nnamespace: shop\ncontainers:\n  theirs: {}\n'));
      const plan = await store.plan('default', manifest(SHOP), { prune: true });
      expect(plan.orphans).toEqual([]);
      expect(actions(plan)['container/theirs']).toBeUndefined();
    });

    it('blocked with an untrusted manifest (no explicit namespace)', async () => {
      const store = await openBerth();
      await store.addContainer({ config: { name: 'stray' } as never, state: { status: 'configured' } });
      const m = loadManifest('version: 1\ncontainers:\n  app: { image: x }\n');
      const plan = await store.plan('default', m, { prune: true });
      expect(change(plan, 'container/stray')).toMatchObject({
        orphan: true,
        requested: 'delete',
        effective: 'noop',
        blocked: { reason: 'untrusted_manifest' },
      });
      await store.apply(plan);
      expect(await store.hasContainer((await store.lookupContainer('stray')).config.id)).toBe(true);
    });

    it('blocked when there are more than pruneLimit of them', async () => {
      const { store } = await withOrphans(4);
      const plan = await store.plan('default', manifest(SHOP), { prune: true, pruneLimit: 3 });
      const orphans = plan.changes.filter((c) => c.orphan);
      expect(orphans).toHaveLength(4);
      for (const c of orphans) expect(c).toMatchObject({ effective: 'noop', blocked: { reason: 'too_many_orphans' } });
      await store.apply(plan);
      expect((await counts(store)).containers).toBe(4 + 3);
    });

    it('the default prune limit is 20', async () => {
      const { store } = await withOrphans(21);
      const plan = await store.plan('default', manifest(SHOP), { prune: true });
      expect(plan.changes.filter((c) => c.orphan && c.blocked?.reason === 'too_many_orphans')).toHaveLength(21);
    });

    it('deleted with prune, a trusted manifest and at most pruneLimit of them (volumes still need allowDestroy)', async () => {
      const { store, shop } = await withOrphans(3);
      await shop.addVolume({ config: { name: 'old-vol' } as never, state: {} });
      const plan = await store.plan('default', manifest(SHOP), { prune: true, pruneLimit: 4 });
      const orphans = plan.changes.filter((c) => c.orphan);
      expect(orphans.map((c) => [c.key, c.effective])).toEqual([
        ['container/stray-0', 'delete'],
        ['container/stray-1', 'delete'],
        ['container/stray-2', 'delete'],
        ['volume/old-vol', 'delete'],
      ]);
      await rejectsWith(store.apply(plan), 'INVALID_ARGUMENT');
      await store.apply(plan, { allowDestroy: true });
      expect(Object.keys(await storeObjects(store, 'shop')).sort()).toEqual(Object.keys(declared(manifest(SHOP))));
      // Pruned orphans do not become managed, and the next plan is clean.
      const next = await store.plan('default', manifest(SHOP), { prune: true });
      expect(next.orphans).toEqual([]);
      expect(next.steps).toEqual([]);
    });
  });

  describe('the workspace lock', () => {
    it('LOCKED while another holder has it, with the holder in the error; nothing changed', async () => {
      const { store } = await world();
      const other = await reopenBerth(store, { namespace: 'shop' });
      const held = await other.workspaces.lock('default', { operation: 'manual', who: 'alice@host' });
      const plan = await store.plan('default', manifest(SHOP));
      const before = await fingerprint(store);
      const err = await rejectsWith(store.apply(plan), 'LOCKED');
      expect((err.details.lock as { id: string }).id).toBe(held.id);
      const after = (await fingerprint(store)) as { locks: string[] };
      expect(after).toEqual(before);
      await other.workspaces.unlock('default', held.id);
      await store.apply(plan);
    });

    it('lockTimeoutMs waits for the holder to let go', async () => {
      const { store } = await world();
      const other = await reopenBerth(store, { namespace: 'shop' });
      const held = await other.workspaces.lock('default', { operation: 'manual' });
      const plan = await store.plan('default', manifest(SHOP));
      const started = Date.now();
      setTimeout(() => void other.workspaces.unlock('default', held.id), 300);
      const result = await store.apply(plan, { lockTimeoutMs: 5_000 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(result.serial).toBe(1);
    });

    it('lockTimeoutMs gives up with LOCKED when the holder keeps it', async () => {
      const { store } = await world();
      const other = await reopenBerth(store, { namespace: 'shop' });
      await other.workspaces.lock('default', { operation: 'manual' });
      const plan = await store.plan('default', manifest(SHOP));
      const started = Date.now();
      await rejectsWith(store.apply(plan, { lockTimeoutMs: 300 }), 'LOCKED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('two clients applying plans made from the same basis at once: one wins, the other is PLAN_STALE', async () => {
      const { store } = await world();
      const other = await reopenBerth(store);
      const mine = await store.plan('default', manifest(SHOP));
      const theirs = await other.plan('default', manifest(SHOP_V2));
      const results = await Promise.allSettled([
        store.apply(mine, { lockTimeoutMs: 5_000 }),
        other.apply(theirs, { lockTimeoutMs: 5_000 }),
      ]);
      const outcomes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
      expect(outcomes.sort()).toEqual(['PLAN_STALE', 'ok']);
      const winner = results[0]!.status === 'fulfilled' ? SHOP : SHOP_V2;
      expect(await managedObjects(store, 'shop', 'default')).toEqual(declared(manifest(winner)));
      expect((await store.withNamespace('shop').workspaces.get('default')).serial).toBe(1);
    });

    it('plan takes no lock: planning works while the workspace is locked', async () => {
      const { store, shop } = await world();
      await shop.workspaces.lock('default', { operation: 'manual' });
      const plan = await store.plan('default', manifest(SHOP));
      expect(plan.summary.create).toBe(5);
    });

    it('apply releases the lock when it succeeds and when it fails', async () => {
      const { store } = await world();
      await planApply(store, 'default', manifest(SHOP));
      expect(await store.locks.list()).toEqual([]);
      const stale = await store.plan('default', manifest(SHOP_V2));
      await planApply(store, 'default', manifest(SHOP.replace('postgres:16', 'postgres:17')));
      await rejectsWith(store.apply(stale), 'PLAN_STALE');
      expect(await store.locks.list()).toEqual([]);
    });
  });

  describe('events and progress', () => {
    it('apply.start and apply.finish bracket the object events of one apply', async () => {
      const { store } = await world();
      const from = await store.events.lastSeq();
      const plan = await store.plan('default', manifest(SHOP));
      const progress: [number, number, string][] = [];
      const result = await store.apply(plan, { onProgress: (d, t, s) => void progress.push([d, t, s]) });
      const applyEvents = await store.events.list({ since: from, types: ['apply.*'] });
      expect(applyEvents.map((e) => e.type)).toEqual(['apply.start', 'apply.finish']);
      const [start, finish] = applyEvents;
      expect(start).toMatchObject({ namespace: 'shop', subject: { kind: 'workspace', name: 'default' } });
      expect(start!.data).toMatchObject({ plan: plan.digest, mode: 'apply' });
      expect(finish!.data).toMatchObject({ plan: plan.digest, serial: result.serial });
      const all = await store.events.list({ since: from });
      const objectEvents = all.filter((e) => e.seq > start!.seq && e.seq < finish!.seq).map((e) => e.type);
      expect(objectEvents.filter((t) => t.endsWith('.create')).sort()).toEqual([
        'container.create',
        'container.create',
        'container.create',
        'pod.create',
        'volume.create',
      ]);
      expect(progress[0]).toEqual([0, 5, expect.stringMatching(/^create /)]);
      expect(progress[progress.length - 1]).toEqual([5, 5, 'done']);
    });

    it('a refused apply writes no apply events', async () => {
      const { store } = await world();
      const plan = await store.plan('default', manifest(SHOP));
      await store.apply(copy(plan));
      await rejectsWith(store.apply(plan), 'PLAN_ALREADY_APPLIED');
      expect((await store.events.list({ types: ['apply.*'] })).map((e) => e.type)).toEqual([
        'apply.start',
        'apply.finish',
      ]);
    });
  });

  describe('namespaces', () => {
    it("the manifest's namespace holds the objects and the workspace, not the handle's", async () => {
      const store = await openBerth();
      const plan = await store.plan('default', manifest(SHOP));
      expect(plan.namespace).toBe('shop');
      await store.apply(plan);
      expect((await store.withNamespace('shop').workspaces.get('default')).serial).toBe(1);
      expect((await store.workspaces.get('default')).serial).toBe(0);
      for (const c of await store.allContainers()) expect(c.config.namespace).toBe('shop');
    });

    it('a manifest without a namespace uses the handle’s', async () => {
      const store = await openBerth({ namespace: 'team' });
      const m = loadManifest('version: 1\ncontainers:\n  app: { image: x }\n');
      const plan = await store.plan('default', m);
      expect(plan.namespace).toBe('team');
      await store.apply(plan);
      expect((await store.lookupContainer('app')).config.namespace).toBe('team');
    });

    it('a handle confined to the same namespace as the manifest works', async () => {
      const store = await openBerth({ namespace: 'shop' });
      await planApply(store, 'default', manifest(SHOP));
      expect(await managedObjects(store, 'shop', 'default')).toEqual(declared(manifest(SHOP)));
    });

    it('NAMESPACE_MISMATCH when the handle is confined to another namespace: plan and apply', async () => {
      const unconfined = await openBerth();
      const plan = await unconfined.plan('default', manifest(SHOP));
      const confined = await reopenBerth(unconfined, { namespace: 'billing' });
      await rejectsWith(confined.plan('default', manifest(SHOP)), 'NAMESPACE_MISMATCH');
      await rejectsWith(confined.apply(plan), 'NAMESPACE_MISMATCH');
      expect(await counts(unconfined)).toEqual({ containers: 0, pods: 0, volumes: 0 });
    });

    it('the same workspace name in two namespaces is two independent stacks', async () => {
      const store = await openBerth();
      await planApply(store, 'default', manifest(SHOP));
      const other = manifest('version: 1\nnamespace: ops\ncontainers:\n  probe: { image: x }\n');
      const plan = await store.plan('default', other);
      expect(actions(plan)).toEqual({ 'container/probe': 'create' });
      expect(plan.orphans).toEqual([]);
      await store.apply(plan);
      expect(await managedObjects(store, 'shop', 'default')).toEqual(declared(manifest(SHOP)));
      expect(await managedObjects(store, 'ops', 'default')).toEqual(declared(other));
    });

    it('planning an unknown workspace is NO_SUCH_WORKSPACE', async () => {
      const store = await openBerth();
      await rejectsWith(store.plan('nope', manifest(SHOP)), 'NO_SUCH_WORKSPACE');
    });
  });
}
