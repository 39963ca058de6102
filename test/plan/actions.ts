import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadManifest, type Store, type Manifest } from '../../src/index.js';
import { REPLACE_FIELDS } from '../../src/plan/stack-objects.js';
import {
  actions,
  change,
  declared,
  EXAMPLES,
  managedObjects,
  openBerth,
  planApply,
  rejectsWith,
  storeObjects,
} from './helpers.js';

/** The suite, on the backend chosen with useFactory (SQLite unless set). */
export function actionSuite(): void {
  /*
   * Every action kind of a plan (create, update, replace, delete, noop), which fields
   * force a replace, cascades, step order, drift, refresh-only, destroy and idempotency
   * (DESIGN.md §7).
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
      volumes: { data: { driver: 'local', labels: { tier: 'db' } }, scratch: {} },
      pods: {
        web: {
          labels: { app: 'web' },
          containers: {
            front: { image: 'nginx:1', dependsOn: ['back'] },
            back: { image: 'app:1', env: { PORT: '8080' }, networks: { net: { aliases: ['back'] } } },
          },
        },
      },
      containers: {
        db: { image: 'pg:16', command: ['postgres'], volumes: ['data:/var/lib/pg'], labels: { tier: 'db' } },
        cache: { image: 'redis:7' },
      },
    };
  }

  function load(doc: Doc): Manifest {
    return loadManifest(stringify(doc));
  }

  async function applied(doc: Doc = baseDoc()): Promise<{ store: Store; ids: Record<string, string> }> {
    const store = await openBerth();
    await planApply(store, 'default', load(doc));
    return { store, ids: await idsOf(store) };
  }

  async function idsOf(store: Store): Promise<Record<string, string>> {
    return Object.fromEntries(Object.entries(await storeObjects(store, 'app')).map(([k, o]) => [k, o.id]));
  }

  describe('create', () => {
    it('a fresh workspace plans a create for every declared object, in dependency order', async () => {
      const store = await openBerth();
      const m = load(baseDoc());
      const plan = await store.plan('default', m);
      expect(plan).toMatchObject({ format: 'plan/v1', workspace: 'default', namespace: 'app', mode: 'apply' });
      expect(plan.basis.serial).toBe(0);
      expect(actions(plan)).toEqual({
        'container/back': 'create',
        'container/cache': 'create',
        'container/db': 'create',
        'container/front': 'create',
        'pod/web': 'create',
        'volume/data': 'create',
        'volume/scratch': 'create',
      });
      expect(plan.summary).toMatchObject({ create: 7, update: 0, replace: 0, delete: 0, noop: 0, blocked: 0 });
      for (const c of plan.changes) expect(c.before).toBeNull();

      const order = plan.steps.map((s) => `${s.op} ${s.key}`);
      expect(order).toHaveLength(7);
      const at = (s: string): number => order.indexOf(s);
      expect(at('create volume/data')).toBeLessThan(at('create container/db'));
      expect(at('create pod/web')).toBeLessThan(at('create container/back'));
      expect(at('create container/back')).toBeLessThan(at('create container/front'));

      const result = await store.apply(plan);
      expect(result).toMatchObject({ workspace: 'default', namespace: 'app', serial: 1, steps: 7 });
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(m));
      // Objects carry the workspace label: that is what "managed" means.
      const db = await store.withNamespace('app').lookupContainer('db');
      expect(db.config.labels).toEqual({ tier: 'db', 'berth.workspace': 'default' });
      expect(db.config.namespace).toBe('app');
    });

    it('adding one object to an applied stack creates only it', async () => {
      const { store, ids } = await applied();
      const doc = baseDoc();
      doc.containers!.worker = { image: 'app:1', dependsOn: ['cache'] };
      const plan = await store.plan('default', load(doc));
      expect(Object.entries(actions(plan)).filter(([, a]) => a !== 'noop')).toEqual([['container/worker', 'create']]);
      expect(plan.steps).toEqual([{ op: 'create', key: 'container/worker' }]);
      await store.apply(plan);
      const after = await idsOf(store);
      for (const [k, id] of Object.entries(ids)) expect(after[k]).toBe(id);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });
  });

  describe('which fields force a replace', () => {
    it('is documented by REPLACE_FIELDS: containers pod/image/command/env/dependsOn, volumes driver/options, pods none', () => {
      expect([...REPLACE_FIELDS.container].sort()).toEqual(['command', 'dependsOn', 'env', 'image', 'pod']);
      expect([...REPLACE_FIELDS.volume].sort()).toEqual(['driver', 'options']);
      expect([...REPLACE_FIELDS.pod]).toEqual([]);
    });

    const containerCases: [string, string, 'update' | 'replace', (d: Doc) => void][] = [
      ['image', 'container/cache', 'replace', (d) => void (d.containers!.cache!.image = 'redis:8')],
      [
        'command',
        'container/cache',
        'replace',
        (d) => void (d.containers!.cache!.command = ['redis-server', '--save']),
      ],
      ['env', 'container/back', 'replace', (d) => void (d.pods!.web!.containers.back!.env = { PORT: '9090' })],
      ['dependsOn', 'container/cache', 'replace', (d) => void (d.containers!.cache!.dependsOn = ['db'])],
      [
        'pod',
        'container/cache',
        'replace',
        (d) => {
          d.pods!.web!.containers.cache = d.containers!.cache!;
          delete d.containers!.cache;
        },
      ],
      ['labels', 'container/db', 'update', (d) => void (d.containers!.db!.labels = { tier: 'db', backup: 'daily' })],
      ['volumes', 'container/cache', 'update', (d) => void (d.containers!.cache!.volumes = ['scratch:/data'])],
      [
        'networks',
        'container/back',
        'update',
        (d) => void (d.pods!.web!.containers.back!.networks = { net: { aliases: ['api'] }, mgmt: {} }),
      ],
    ];

    it.each(containerCases)('container %s (%s) is planned as %s', async (field, key, expected, edit) => {
      const { store, ids } = await applied();
      const doc = baseDoc();
      edit(doc);
      const plan = await store.plan('default', load(doc));
      const c = change(plan, key);
      expect(c.effective).toBe(expected);
      expect(c.requested).toBe(expected);
      expect(c.fields).toEqual([field]);
      expect(c.replaceFields).toEqual(expected === 'replace' ? [field] : []);
      expect(c.destructive).toBe(false);
      expect(c.before?.id).toBe(ids[key]);
      await store.apply(plan);
      const after = await idsOf(store);
      if (expected === 'update') expect(after[key]).toBe(ids[key]);
      else expect(after[key]).not.toBe(ids[key]);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
      expect(actions(await store.plan('default', load(doc)))).toEqual(
        Object.fromEntries(Object.keys(actions(plan)).map((k) => [k, 'noop'])),
      );
    });

    it('an updated container keeps its id and the store sees its new volume use', async () => {
      const { store, ids } = await applied();
      const doc = baseDoc();
      doc.containers!.db!.volumes = ['scratch:/tmp/pg'];
      delete doc.volumes!.data;
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'container/db')).toMatchObject({ effective: 'update', fields: ['volumes'] });
      expect(change(plan, 'volume/data')).toMatchObject({ effective: 'delete', destructive: true });
      // The container stops using the volume before the volume goes.
      const order = plan.steps.map((s) => `${s.op} ${s.key}`);
      expect(order.indexOf('update container/db')).toBeLessThan(order.indexOf('delete volume/data'));
      await store.apply(plan, { allowDestroy: true });
      const ns = store.withNamespace('app');
      expect((await ns.lookupContainer('db')).config.id).toBe(ids['container/db']);
      expect(await ns.hasVolume('data')).toBe(false);
      expect(await ns.volumeInUse(await ns.volume('scratch'))).toEqual([ids['container/db']]);
    });

    it('pod labels: update in place', async () => {
      const { store, ids } = await applied();
      const doc = baseDoc();
      doc.pods!.web!.labels = { app: 'web', tier: 'front' };
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'pod/web')).toMatchObject({ effective: 'update', fields: ['labels'], replaceFields: [] });
      expect(plan.steps).toEqual([{ op: 'update', key: 'pod/web' }]);
      await store.apply(plan);
      expect((await idsOf(store))['pod/web']).toBe(ids['pod/web']);
      expect((await managedObjects(store, 'app', 'default'))['pod/web']).toEqual({
        kind: 'pod',
        labels: { app: 'web', tier: 'front' },
      });
    });

    it('volume labels: update in place, no allowDestroy needed', async () => {
      const { store } = await applied();
      const doc = baseDoc();
      doc.volumes!.data!.labels = { tier: 'db', backup: 'weekly' };
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'volume/data')).toMatchObject({
        effective: 'update',
        fields: ['labels'],
        destructive: false,
      });
      await store.apply(plan);
      expect((await managedObjects(store, 'app', 'default'))['volume/data']).toMatchObject({
        labels: { tier: 'db', backup: 'weekly' },
      });
    });

    const volumeCases: [string, (d: Doc) => void][] = [
      ['driver', (d) => void (d.volumes!.data!.driver = 'nfs')],
      ['options', (d) => void (d.volumes!.data!.options = { size: '10G' })],
    ];
    it.each(volumeCases)(
      'volume %s: replace, destructive, refused without allowDestroy; its users are replaced too',
      async (field, edit) => {
        const { store, ids } = await applied();
        const doc = baseDoc();
        edit(doc);
        const plan = await store.plan('default', load(doc));
        expect(change(plan, 'volume/data')).toMatchObject({
          effective: 'replace',
          fields: [field],
          replaceFields: [field],
          destructive: true,
        });
        // db mounts the volume, so it is re-created with it.
        expect(change(plan, 'container/db')).toMatchObject({ effective: 'replace', cascadeFrom: 'volume/data' });
        const before = await storeObjects(store, 'app');
        const err = await rejectsWith(store.apply(plan), 'INVALID_ARGUMENT');
        expect(err.details).toMatchObject({ key: 'volume/data' });
        expect(await storeObjects(store, 'app')).toEqual(before);
        expect((await store.withNamespace('app').workspaces.get('default')).serial).toBe(1);

        await store.apply(plan, { allowDestroy: true });
        expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
        expect((await idsOf(store))['container/db']).not.toBe(ids['container/db']);
      },
    );
  });

  describe('a name that changes kind', () => {
    // Pods and containers share one name space: a manifest may turn container "cache"
    // into pod "cache". The old object is managed by this workspace and goes in the same
    // apply, so (as in Terraform, which destroys before it creates a replacement) this is
    // a delete plus a create, not a name conflict.
    it('container -> pod of the same name in one apply', async () => {
      const { store } = await applied();
      const doc = baseDoc();
      delete doc.containers!.cache;
      doc.pods!.cache = { containers: {} };
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'container/cache').effective).toBe('delete');
      expect(change(plan, 'pod/cache')).toMatchObject({ effective: 'create' });
      expect(change(plan, 'pod/cache').blocked).toBeUndefined();
      await store.apply(plan);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });

    it('pod -> container of the same name in one apply', async () => {
      const { store } = await applied();
      const doc = baseDoc();
      const members = doc.pods!.web!.containers;
      delete doc.pods;
      doc.containers = { ...doc.containers, ...members, web: { image: 'web:1' } };
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'pod/web').effective).toBe('delete');
      expect(change(plan, 'container/web').blocked).toBeUndefined();
      await store.apply(plan);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });
  });

  describe('cascading replacements and step order', () => {
    it('a container whose dependency is replaced is replaced too, dependents removed first and created last', async () => {
      const { store, ids } = await applied();
      const doc = baseDoc();
      doc.pods!.web!.containers.back!.image = 'app:2';
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'container/back')).toMatchObject({ effective: 'replace', replaceFields: ['image'] });
      expect(change(plan, 'container/front')).toMatchObject({
        requested: 'replace',
        effective: 'replace',
        cascadeFrom: 'container/back',
        fields: [],
      });
      expect(plan.steps.map((s) => `${s.op} ${s.key}`)).toEqual([
        'delete container/front',
        'delete container/back',
        'create container/back',
        'create container/front',
      ]);
      await store.apply(plan);
      const after = await idsOf(store);
      expect(after['container/front']).not.toBe(ids['container/front']);
      expect(after['pod/web']).toBe(ids['pod/web']);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });

    it('a chain replaces transitively', async () => {
      const doc = baseDoc();
      doc.containers = { a: { image: 'x:1' }, b: { dependsOn: ['a'] }, c: { dependsOn: ['b'] }, d: {} };
      const { store } = await applied(doc);
      doc.containers.a!.image = 'x:2';
      const plan = await store.plan('default', load(doc));
      expect(actions(plan)).toMatchObject({
        'container/a': 'replace',
        'container/b': 'replace',
        'container/c': 'replace',
        'container/d': 'noop',
      });
      expect(change(plan, 'container/c').cascadeFrom).toBe('container/b');
      expect(plan.steps.map((s) => `${s.op} ${s.key}`)).toEqual([
        'delete container/c',
        'delete container/b',
        'delete container/a',
        'create container/a',
        'create container/b',
        'create container/c',
      ]);
      await store.apply(plan);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });
  });

  describe('delete', () => {
    it('an object the manifest no longer declares is deleted without any flag', async () => {
      const { store } = await applied();
      const doc = baseDoc();
      delete doc.containers!.cache;
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'container/cache')).toMatchObject({
        requested: 'delete',
        effective: 'delete',
        after: null,
        destructive: false,
        orphan: false,
      });
      expect(plan.steps).toEqual([{ op: 'delete', key: 'container/cache' }]);
      await store.apply(plan);
      expect((await storeObjects(store, 'app'))['container/cache']).toBeUndefined();
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });

    it('a whole pod goes: its containers first (dependents before dependencies), the pod last', async () => {
      const { store } = await applied();
      const doc = baseDoc();
      delete doc.pods;
      const plan = await store.plan('default', load(doc));
      expect(plan.steps.map((s) => `${s.op} ${s.key}`)).toEqual([
        'delete container/front',
        'delete container/back',
        'delete pod/web',
      ]);
      await store.apply(plan);
      expect(await managedObjects(store, 'app', 'default')).toEqual(declared(load(doc)));
    });

    it('deleting a volume loses data: refused without allowDestroy, nothing changed', async () => {
      const { store } = await applied();
      const doc = baseDoc();
      delete doc.volumes!.scratch;
      const plan = await store.plan('default', load(doc));
      expect(change(plan, 'volume/scratch')).toMatchObject({ effective: 'delete', destructive: true });
      const err = await rejectsWith(store.apply(plan), 'INVALID_ARGUMENT');
      expect(err.details).toMatchObject({ key: 'volume/scratch' });
      expect(await store.withNamespace('app').hasVolume('scratch')).toBe(true);
      expect(await store.locks.list()).toEqual([]);
      await store.apply(plan, { allowDestroy: true });
      expect(await store.withNamespace('app').hasVolume('scratch')).toBe(false);
    });
  });

  describe('drift', () => {
    it('reports each managed object changed out of band since the last apply, with the fields that changed', async () => {
      const { store } = await applied();
      const ns = store.withNamespace('app');
      const db = await ns.lookupContainer('db');
      await ns.rewriteContainerConfig(db, {
        ...db.config,
        image: 'pg:17',
        labels: { ...db.config.labels, hotfix: 'yes' },
      });
      const pod = await ns.lookupPod('web');
      await ns.rewritePodConfig(pod, { ...pod.config, labels: { ...pod.config.labels, app: 'shop' } });
      await ns.removeContainer(await ns.lookupContainer('cache'));
      const vol = await ns.volume('data');
      await ns.rewriteVolumeConfig(vol, { ...vol.config, labels: { 'berth.workspace': 'default' } });

      const plan = await store.plan('default', load(baseDoc()));
      const drift = Object.fromEntries(plan.drift.map((d) => [d.key, d]));
      expect(Object.keys(drift).sort()).toEqual(['container/cache', 'container/db', 'pod/web', 'volume/data']);
      expect(drift['container/db']).toEqual({ key: 'container/db', fields: ['image', 'labels'], missing: false });
      expect(drift['pod/web']).toEqual({ key: 'pod/web', fields: ['labels'], missing: false });
      expect(drift['volume/data']).toEqual({ key: 'volume/data', fields: ['labels'], missing: false });
      expect(drift['container/cache']).toMatchObject({ key: 'container/cache', missing: true });
      // The plan brings the store back to the manifest.
      expect(actions(plan)).toMatchObject({
        'container/db': 'replace',
        'pod/web': 'update',
        'volume/data': 'update',
        'container/cache': 'create',
        'container/front': 'noop',
      });
      await store.apply(plan);
      const again = await store.plan('default', load(baseDoc()));
      expect(again.drift).toEqual([]);
      expect(again.steps).toEqual([]);
    });

    it('runtime state (status, pid, exit codes) is not drift', async () => {
      const { store } = await applied();
      const ns = store.withNamespace('app');
      const db = await ns.lookupContainer('db');
      await ns.saveContainer({ ...db, state: { ...db.state, status: 'running', pid: 4242 } });
      const plan = await store.plan('default', load(baseDoc()));
      expect(plan.drift).toEqual([]);
      expect(plan.steps).toEqual([]);
    });

    it('is not reported for objects that no workspace manages, nor before the first apply', async () => {
      const store = await openBerth();
      const ns = store.withNamespace('app');
      await ns.addContainer({ config: { name: 'stray', image: 'x' } as never, state: { status: 'configured' } });
      const first = await store.plan('default', load(baseDoc()));
      expect(first.drift).toEqual([]);
      await store.apply(first);
      const stray = await ns.lookupContainer('stray');
      await ns.rewriteContainerConfig(stray, { ...stray.config, image: 'y' });
      expect((await store.plan('default', load(baseDoc()))).drift).toEqual([]);
    });
  });

  describe('refresh-only', () => {
    it('adopts out-of-band changes into the workspace state without changing objects; afterwards drift is gone', async () => {
      const { store } = await applied();
      const ns = store.withNamespace('app');
      const db = await ns.lookupContainer('db');
      await ns.rewriteContainerConfig(db, { ...db.config, labels: { ...db.config.labels, hotfix: 'yes' } });
      await ns.removeContainer(await ns.lookupContainer('cache'));

      const plan = await store.plan('default', load(baseDoc()), { mode: 'refresh-only' });
      expect(plan.mode).toBe('refresh-only');
      expect(plan.steps).toEqual([]);
      expect(plan.changes.filter((c) => c.effective !== 'noop')).toEqual([]);
      expect(plan.drift.map((d) => d.key).sort()).toEqual(['container/cache', 'container/db']);

      const before = await storeObjects(store, 'app');
      const result = await store.apply(plan);
      expect(result.serial).toBe(2);
      expect(await storeObjects(store, 'app')).toEqual(before);

      expect((await store.plan('default', load(baseDoc()), { mode: 'refresh-only' })).drift).toEqual([]);
      // The manifest still differs from the store: a normal plan now shows it as changes, not drift.
      const next = await store.plan('default', load(baseDoc()));
      expect(next.drift).toEqual([]);
      expect(actions(next)).toMatchObject({ 'container/db': 'update', 'container/cache': 'create' });
    });
  });

  describe('destroy', () => {
    it('a destroy plan deletes everything the workspace manages, needs allowDestroy, and leaves the rest', async () => {
      const { store } = await applied();
      const ns = store.withNamespace('app');
      await ns.addContainer({ config: { name: 'stray' } as never, state: { status: 'configured' } });
      await ns.workspaces.create('other');
      await planApply(
        store,
        'other',
        loadManifest('version: 1\nnamespace: app\ncontainers:\n  theirs: { image: x }\n'),
      );

      const plan = await store.plan('default', load(baseDoc()), { mode: 'destroy' });
      expect(plan.mode).toBe('destroy');
      expect(new Set(Object.values(actions(plan)))).toEqual(new Set(['delete']));
      expect(Object.keys(actions(plan)).sort()).toEqual(Object.keys(declared(load(baseDoc()))));
      const order = plan.steps.map((s) => `${s.op} ${s.key}`);
      expect(order.indexOf('delete container/front')).toBeLessThan(order.indexOf('delete container/back'));
      expect(order.indexOf('delete container/back')).toBeLessThan(order.indexOf('delete pod/web'));
      expect(order.indexOf('delete container/db')).toBeLessThan(order.indexOf('delete volume/data'));

      await rejectsWith(store.apply(plan), 'INVALID_ARGUMENT');
      expect(Object.keys(await managedObjects(store, 'app', 'default'))).toHaveLength(7);

      await store.apply(plan, { allowDestroy: true });
      expect(await managedObjects(store, 'app', 'default')).toEqual({});
      const left = await storeObjects(store, 'app');
      expect(Object.keys(left).sort()).toEqual(['container/stray', 'container/theirs']);
      // The state records that nothing is managed any more (DESIGN.md §4 counts only a null or {} state as empty).
      expect((await ns.workspaces.readState('default')).state).toMatchObject({ objects: {} });
      // Planning the manifest again creates everything.
      expect(new Set(Object.values(actions(await store.plan('default', load(baseDoc())))))).toEqual(
        new Set(['create']),
      );
    });

    it('destroying an empty workspace plans nothing', async () => {
      const store = await openBerth();
      const plan = await store.plan('default', null, { mode: 'destroy' });
      expect(plan.changes).toEqual([]);
      expect(plan.steps).toEqual([]);
    });
  });

  describe('idempotency', () => {
    it.each(['shop', 'ci-runners', 'monitoring'])(
      '%s: a second plan of the same manifest has only noops and no steps',
      async (name) => {
        const store = await openBerth();
        const m = loadManifest(join(EXAMPLES, `${name}.yaml`));
        const first = await planApply(store, 'default', m);
        expect(first.summary.create).toBe(Object.keys(declared(m)).length);
        expect(await managedObjects(store, m.namespace!, 'default')).toEqual(declared(m));
        const second = await store.plan('default', m);
        expect(new Set(second.changes.map((c) => c.effective))).toEqual(new Set(['noop']));
        expect(second.changes.every((c) => c.requested === 'noop' && c.fields.length === 0)).toBe(true);
        expect(second.steps).toEqual([]);
        expect(second.drift).toEqual([]);
        expect(second.summary).toMatchObject({ create: 0, update: 0, replace: 0, delete: 0 });
      },
    );

    it('plans are deterministic: the same manifest against the same store gives the same digest', async () => {
      const store = await openBerth();
      const m = load(baseDoc());
      const a = await store.plan('default', m);
      const b = await store.plan('default', load(baseDoc()));
      expect(b.digest).toBe(a.digest);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    });
  });
}
