import { describe, expect, it } from 'vitest';
import type { Store as Store, Container, Pod, Volume } from '../../src/index.js';
import type { StoreFactory } from '../helpers/store-factory.js';
import { ctr, expectCode, hexId, pod, sorted, vol } from './builders.js';

/**
 * A store with objects in namespace `ns2` (added through the '' handle `root`) and a
 * handle `h` confined to `ns1`.
 */
interface NsWorld {
  root: Store;
  h: Store;
  c2: Container;
  p2: Pod;
  m2: Container;
  v2: Volume;
  /** A container of ns2 in no pod, without dependents, sessions or volumes. */
  x2: Container;
  /** An empty pod of ns2. */
  q2: Pod;
  /** An unused volume of ns2. */
  u2: Volume;
}

async function nsWorld(factory: StoreFactory, how: 'reopen' | 'open' | 'setNamespace' = 'reopen'): Promise<NsWorld> {
  const root = await factory.open();
  const v2 = await root.addVolume(vol({ namespace: 'ns2' }));
  const c2 = await root.addContainer(
    ctr({
      namespace: 'ns2',
      networks: { net0: { aliases: ['a0'] } },
      namedVolumes: [{ name: v2.config.name, dest: '/d' }],
    }),
  );
  const p2 = await root.addPod(pod({ namespace: 'ns2' }));
  const m2 = await root.addContainerToPod(p2, ctr({ namespace: 'ns2' }));
  await root.addExecSession(c2, { id: 'e2', containerId: c2.config.id });
  const x2 = await root.addContainer(ctr({ namespace: 'ns2' }));
  const q2 = await root.addPod(pod({ namespace: 'ns2' }));
  const u2 = await root.addVolume(vol({ namespace: 'ns2' }));
  let h: Store;
  if (how === 'setNamespace') {
    h = await factory.reopen(root);
    h.setNamespace('ns1');
  } else {
    h = await factory.reopen(root, { namespace: 'ns1' });
  }
  return { root, h, c2, p2, m2, v2, x2, q2, u2 };
}

/** Everything a failed call must leave unchanged, read through the '' handle. */
async function everything(root: Store, w: NsWorld): Promise<unknown> {
  return {
    containers: await root.allContainers(),
    pods: await root.allPods(),
    volumes: await root.allVolumes(),
    sessions: await root.getContainerExecSessions(w.c2),
  };
}

function strip<T extends { config: { namespace?: string } }>(obj: T): T {
  const { namespace: _ns, ...config } = obj.config;
  return { ...obj, config } as T;
}

type Call = (h: Store, w: NsWorld) => unknown;

/** Conformance of namespaces (DESIGN.md §3, podman 4.4 semantics). */
export function namespaceConformance(factory: StoreFactory): void {
  describe(`namespace conformance (${factory.backend})`, () => {
    handles(factory);
    newObjects(factory);
    visibility(factory);
    lookups(factory);
    mismatches(factory);
    crossNamespaceReferences(factory);
  });
}

function handles(factory: StoreFactory): void {
  describe('handles', () => {
    it("a store opened without namespace has namespace ''", async () => {
      const s = await factory.open();
      expect(s.namespace).toBe('');
    });

    it('a store opened with a namespace reports it', async () => {
      const s = await factory.open({ namespace: 'ns1' });
      expect(s.namespace).toBe('ns1');
    });

    it('setNamespace changes the namespace of the handle', async () => {
      const s = await factory.open();
      s.setNamespace('ns1');
      expect(s.namespace).toBe('ns1');
      s.setNamespace('');
      expect(s.namespace).toBe('');
    });

    it('setNamespace on one handle does not affect another handle', async () => {
      const s = await factory.open();
      const other = await factory.reopen(s);
      s.setNamespace('ns1');
      expect(other.namespace).toBe('');
    });

    it("setNamespace('') restores the view of every namespace", async () => {
      const w = await nsWorld(factory, 'setNamespace');
      expect(await w.h.allContainers()).toEqual([]);
      w.h.setNamespace('');
      expect(await w.h.allContainers()).toHaveLength(3);
    });

    it('switching namespaces switches what a handle sees', async () => {
      const w = await nsWorld(factory, 'setNamespace');
      const own = await w.h.addContainer(ctr());
      w.h.setNamespace('ns2');
      expect(sorted((await w.h.allContainers()).map((c) => c.config.id))).toEqual(
        sorted([w.c2.config.id, w.m2.config.id, w.x2.config.id]),
      );
      await expectCode(w.h.container(own.config.id), 'NAMESPACE_MISMATCH');
      w.h.setNamespace('ns1');
      expect(await w.h.allContainers()).toEqual([own]);
    });

    it('two handles in different namespaces see different objects at the same time', async () => {
      const w = await nsWorld(factory);
      const h2 = await factory.reopen(w.root, { namespace: 'ns2' });
      const own = await w.h.addContainer(ctr());
      expect(await w.h.allContainers()).toEqual([own]);
      expect(await h2.allContainers()).toHaveLength(3);
      expect(await h2.hasContainer(own.config.id)).toBe(false);
    });

    it('a handle reopened with a namespace sees only that namespace', async () => {
      const root = await factory.open();
      const a = await root.addContainer(ctr({ namespace: 'ns1' }));
      await root.addContainer(ctr({ namespace: 'ns2' }));
      await root.addContainer(ctr());
      const same = await factory.reopen(root, { namespace: 'ns1' });
      expect(await same.allContainers()).toEqual([a]);
    });
  });
}

function newObjects(factory: StoreFactory): void {
  describe('new objects', () => {
    it("a container without namespace takes the handle's", async () => {
      const s = await factory.open({ namespace: 'ns1' });
      const c = await s.addContainer(ctr());
      expect(c.config.namespace).toBe('ns1');
      expect((await s.container(c.config.id)).config.namespace).toBe('ns1');
    });

    it("a pod without namespace takes the handle's", async () => {
      const s = await factory.open({ namespace: 'ns1' });
      const p = await s.addPod(pod());
      expect((await s.pod(p.config.id)).config.namespace).toBe('ns1');
    });

    it("a volume without namespace takes the handle's", async () => {
      const s = await factory.open({ namespace: 'ns1' });
      const v = await s.addVolume(vol());
      expect((await s.volume(v.config.name)).config.namespace).toBe('ns1');
    });

    it("a pod member without namespace takes the handle's", async () => {
      const s = await factory.open({ namespace: 'ns1' });
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      expect((await s.container(m.config.id)).config.namespace).toBe('ns1');
    });

    it("a container that names the handle's namespace is accepted", async () => {
      const s = await factory.open({ namespace: 'ns1' });
      const c = await s.addContainer(ctr({ namespace: 'ns1' }));
      expect(await s.hasContainer(c.config.id)).toBe(true);
    });

    it('the namespace set by setNamespace applies to new objects', async () => {
      const s = await factory.open();
      s.setNamespace('ns3');
      const c = await s.addContainer(ctr());
      expect(c.config.namespace).toBe('ns3');
    });

    it("the '' handle keeps an explicit namespace", async () => {
      const root = await factory.open();
      const c = await root.addContainer(ctr({ namespace: 'ns7' }));
      const p = await root.addPod(pod({ namespace: 'ns8' }));
      const v = await root.addVolume(vol({ namespace: 'ns9' }));
      expect((await root.container(c.config.id)).config.namespace).toBe('ns7');
      expect((await root.pod(p.config.id)).config.namespace).toBe('ns8');
      expect((await root.volume(v.config.name)).config.namespace).toBe('ns9');
    });

    const refusals: [string, Call, (root: Store) => Promise<unknown>][] = [
      ['a container in another namespace', (h) => h.addContainer(ctr({ namespace: 'ns2' })), (r) => r.allContainers()],
      [
        "a container with explicit namespace ''",
        (h) => h.addContainer(ctr({ namespace: '' })),
        (r) => r.allContainers(),
      ],
      ['a pod in another namespace', (h) => h.addPod(pod({ namespace: 'ns2' })), (r) => r.allPods()],
      ["a pod with explicit namespace ''", (h) => h.addPod(pod({ namespace: '' })), (r) => r.allPods()],
      ['a volume in another namespace', (h) => h.addVolume(vol({ namespace: 'ns2' })), (r) => r.allVolumes()],
      ["a volume with explicit namespace ''", (h) => h.addVolume(vol({ namespace: '' })), (r) => r.allVolumes()],
    ];
    for (const [what, call, list] of refusals) {
      it(`${what} is NAMESPACE_MISMATCH and not added`, async () => {
        const root = await factory.open();
        const h = await factory.reopen(root, { namespace: 'ns1' });
        await expectCode(() => call(h, undefined as unknown as NsWorld), 'NAMESPACE_MISMATCH');
        expect(await list(root)).toEqual([]);
      });
    }

    it('a pod member in another namespace is NAMESPACE_MISMATCH and not added', async () => {
      const root = await factory.open();
      const h = await factory.reopen(root, { namespace: 'ns1' });
      const p = await h.addPod(pod());
      await expectCode(h.addContainerToPod(p, ctr({ namespace: 'ns2' })), 'NAMESPACE_MISMATCH');
      expect(await root.allContainers()).toEqual([]);
    });

    it("a pod member with explicit namespace '' is NAMESPACE_MISMATCH", async () => {
      const root = await factory.open();
      const h = await factory.reopen(root, { namespace: 'ns1' });
      const p = await h.addPod(pod());
      await expectCode(h.addContainerToPod(p, ctr({ namespace: '' })), 'NAMESPACE_MISMATCH');
      expect(await h.podContainersByID(p)).toEqual([]);
    });

    it('container names are unique across namespaces (CONTAINER_EXISTS)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.addContainer(ctr({ name: w.c2.config.name })), 'CONTAINER_EXISTS');
      expect(await w.h.allContainers()).toEqual([]);
    });

    it('container ids are unique across namespaces (CONTAINER_EXISTS)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.addContainer(ctr({ id: w.c2.config.id })), 'CONTAINER_EXISTS');
      expect(await w.h.allContainers()).toEqual([]);
    });

    it('a container named like a pod of another namespace is POD_EXISTS', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.addContainer(ctr({ name: w.p2.config.name })), 'POD_EXISTS');
    });

    it('pod names are unique across namespaces (POD_EXISTS)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.addPod(pod({ name: w.p2.config.name })), 'POD_EXISTS');
      expect(await w.h.allPods()).toEqual([]);
    });

    it('volume names are unique across namespaces (VOLUME_EXISTS)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.addVolume(vol({ name: w.v2.config.name })), 'VOLUME_EXISTS');
      expect(await w.h.allVolumes()).toEqual([]);
    });
  });
}

function visibility(factory: StoreFactory): void {
  describe('listings and has*', () => {
    it('allContainers lists only the handle namespace', async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addContainer(ctr());
      expect(await w.h.allContainers()).toEqual([own]);
    });

    it('allPods lists only the handle namespace', async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addPod(pod());
      expect(await w.h.allPods()).toEqual([own]);
    });

    it('allVolumes lists only the handle namespace', async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addVolume(vol());
      expect(await w.h.allVolumes()).toEqual([own]);
    });

    it("objects of namespace '' are not visible to a namespaced handle", async () => {
      const root = await factory.open();
      const c = await root.addContainer(ctr());
      await root.addPod(pod());
      await root.addVolume(vol());
      const h = await factory.reopen(root, { namespace: 'ns1' });
      expect(await h.allContainers()).toEqual([]);
      expect(await h.allPods()).toEqual([]);
      expect(await h.allVolumes()).toEqual([]);
      expect(await h.hasContainer(c.config.id)).toBe(false);
    });

    it("the '' handle lists containers of every namespace", async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addContainer(ctr());
      const ids = (await w.root.allContainers()).map((c) => c.config.id);
      expect(sorted(ids)).toEqual(sorted([w.c2.config.id, w.m2.config.id, w.x2.config.id, own.config.id]));
    });

    it("the '' handle lists pods of every namespace", async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addPod(pod());
      expect(sorted((await w.root.allPods()).map((p) => p.config.id))).toEqual(
        sorted([w.p2.config.id, w.q2.config.id, own.config.id]),
      );
    });

    it("the '' handle lists volumes of every namespace", async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addVolume(vol());
      expect(sorted((await w.root.allVolumes()).map((v) => v.config.name))).toEqual(
        sorted([w.v2.config.name, w.u2.config.name, own.config.name]),
      );
    });

    it("the '' handle gets objects of any namespace", async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addContainer(ctr());
      expect(await w.root.container(own.config.id)).toEqual(own);
      expect(await w.root.lookupContainer(w.c2.config.name)).toEqual(w.c2);
      expect((await w.root.pod(w.p2.config.id)).config.name).toBe(w.p2.config.name);
      expect((await w.root.volume(w.v2.config.name)).config.namespace).toBe('ns2');
    });

    it('hasContainer is false for a container of another namespace', async () => {
      const w = await nsWorld(factory);
      expect(await w.h.hasContainer(w.c2.config.id)).toBe(false);
    });

    it('hasContainer is true for a container of the handle namespace', async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addContainer(ctr());
      expect(await w.h.hasContainer(own.config.id)).toBe(true);
    });

    it('hasPod is false for a pod of another namespace', async () => {
      const w = await nsWorld(factory);
      expect(await w.h.hasPod(w.p2.config.id)).toBe(false);
    });

    it('hasVolume is false for a volume of another namespace', async () => {
      const w = await nsWorld(factory);
      expect(await w.h.hasVolume(w.v2.config.name)).toBe(false);
    });

    it('podHasContainer of an own pod is false for a container of another namespace', async () => {
      const w = await nsWorld(factory);
      const p = await w.h.addPod(pod());
      expect(await w.h.podHasContainer(p, w.m2.config.id)).toBe(false);
    });

    it('refresh from a namespaced handle resets objects of every namespace (podman)', async () => {
      const w = await nsWorld(factory);
      await w.root.saveContainer({ ...w.x2, state: { status: 'running', pid: 3 } });
      await w.h.refresh();
      expect((await w.root.container(w.x2.config.id)).state).toEqual({ status: 'exited' });
      await expectCode(w.root.getExecSession('e2'), 'NO_SUCH_EXEC_SESSION');
    });

    it('podContainers of an own pod lists its members', async () => {
      const w = await nsWorld(factory);
      const p = await w.h.addPod(pod());
      const m = await w.h.addContainerToPod(p, ctr());
      expect(await w.h.podContainers(p)).toEqual([m]);
    });

    it('a namespaced handle manages its own objects end to end', async () => {
      const w = await nsWorld(factory);
      const v = await w.h.addVolume(vol());
      const c = await w.h.addContainer(ctr({ namedVolumes: [{ name: v.config.name, dest: '/v' }] }));
      await w.h.saveContainer({ ...c, state: { status: 'running' } });
      await w.h.rewriteContainerConfig(c, { ...c.config, image: 'x:2' });
      expect((await w.h.updateContainer(c)).config.image).toBe('x:2');
      await w.h.removeContainer(c);
      await w.h.removeVolume(v);
      expect(await w.h.allContainers()).toEqual([]);
      expect(await w.root.allContainers()).toHaveLength(3);
    });
  });
}

function lookups(factory: StoreFactory): void {
  describe('lookups', () => {
    it('lookupContainer by name does not see another namespace (NO_SUCH_CONTAINER)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupContainer(w.c2.config.name), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainer by full id does not see another namespace (NO_SUCH_CONTAINER)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupContainer(w.c2.config.id), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainer by prefix does not see another namespace (NO_SUCH_CONTAINER)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupContainer(w.c2.config.id.slice(0, 12)), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainerID does not see another namespace (NO_SUCH_CONTAINER)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupContainerID(w.c2.config.name), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainer finds a container of the handle namespace', async () => {
      const w = await nsWorld(factory);
      const own = await w.h.addContainer(ctr());
      expect(await w.h.lookupContainer(own.config.name)).toEqual(own);
    });

    it('lookupPod by name does not see another namespace (NO_SUCH_POD)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupPod(w.p2.config.name), 'NO_SUCH_POD');
    });

    it('lookupPod by full id does not see another namespace (NO_SUCH_POD)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupPod(w.p2.config.id), 'NO_SUCH_POD');
    });

    it('lookupPod by prefix does not see another namespace (NO_SUCH_POD)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupPod(w.p2.config.id.slice(0, 12)), 'NO_SUCH_POD');
    });

    it('lookupVolume by name does not see another namespace (NO_SUCH_VOLUME)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupVolume(w.v2.config.name), 'NO_SUCH_VOLUME');
    });

    it('lookupVolume by prefix does not see another namespace (NO_SUCH_VOLUME)', async () => {
      const w = await nsWorld(factory);
      await expectCode(w.h.lookupVolume(w.v2.config.name.slice(0, 4)), 'NO_SUCH_VOLUME');
    });

    it('a container prefix ambiguous only across namespaces resolves uniquely', async () => {
      const root = await factory.open();
      await root.addContainer(ctr({ id: hexId('0000aa'), namespace: 'ns2' }));
      const mine = await root.addContainer(ctr({ id: hexId('0000ab'), namespace: 'ns1' }));
      const h = await factory.reopen(root, { namespace: 'ns1' });
      await expectCode(root.lookupContainer('0000a'), 'AMBIGUOUS_ID');
      expect(await h.lookupContainerID('0000a')).toBe(mine.config.id);
    });

    it('a pod prefix ambiguous only across namespaces resolves uniquely', async () => {
      const root = await factory.open();
      await root.addPod(pod({ id: hexId('1111aa'), namespace: 'ns2' }));
      const mine = await root.addPod(pod({ id: hexId('1111ab'), namespace: 'ns1' }));
      const h = await factory.reopen(root, { namespace: 'ns1' });
      await expectCode(root.lookupPod('1111a'), 'AMBIGUOUS_ID');
      expect((await h.lookupPod('1111a')).config.id).toBe(mine.config.id);
    });

    it('a volume prefix ambiguous only across namespaces resolves uniquely', async () => {
      const root = await factory.open();
      await root.addVolume(vol({ name: 'shared-a', namespace: 'ns2' }));
      await root.addVolume(vol({ name: 'shared-b', namespace: 'ns1' }));
      const h = await factory.reopen(root, { namespace: 'ns1' });
      await expectCode(root.lookupVolume('shared'), 'AMBIGUOUS_ID');
      expect((await h.lookupVolume('shared')).config.name).toBe('shared-b');
    });

    it('a prefix ambiguous within the handle namespace is still AMBIGUOUS_ID', async () => {
      const root = await factory.open();
      await root.addContainer(ctr({ id: hexId('2222aa'), namespace: 'ns1' }));
      await root.addContainer(ctr({ id: hexId('2222ab'), namespace: 'ns1' }));
      await root.addContainer(ctr({ id: hexId('2222ac'), namespace: 'ns2' }));
      const h = await factory.reopen(root, { namespace: 'ns1' });
      await expectCode(h.lookupContainer('2222a'), 'AMBIGUOUS_ID');
    });

    it('a name in another namespace does not shadow an id prefix in the handle namespace', async () => {
      const root = await factory.open();
      await root.addContainer(ctr({ name: 'abab', namespace: 'ns2' }));
      const mine = await root.addContainer(ctr({ id: hexId('abab'), namespace: 'ns1' }));
      const h = await factory.reopen(root, { namespace: 'ns1' });
      expect(await h.lookupContainerID('abab')).toBe(mine.config.id);
    });
  });
}

function mismatches(factory: StoreFactory): void {
  describe('objects of another namespace: NAMESPACE_MISMATCH', () => {
    const calls: [string, Call][] = [
      ['container(id)', (h, w) => h.container(w.c2.config.id)],
      ['getContainerConfig(id)', (h, w) => h.getContainerConfig(w.c2.config.id)],
      ['pod(id)', (h, w) => h.pod(w.p2.config.id)],
      ['volume(name)', (h, w) => h.volume(w.v2.config.name)],
      ['getName of a container', (h, w) => h.getName(w.c2.config.id)],
      ['getName of a pod', (h, w) => h.getName(w.p2.config.id)],
      ['removeContainer', (h, w) => h.removeContainer(w.x2)],
      ['updateContainer', (h, w) => h.updateContainer(w.c2)],
      ['saveContainer', (h, w) => h.saveContainer({ ...w.c2, state: { status: 'running' } })],
      ['containerInUse', (h, w) => h.containerInUse(w.c2)],
      ['rewriteContainerConfig', (h, w) => h.rewriteContainerConfig(w.c2, { ...w.c2.config, image: 'changed' })],
      [
        'safeRewriteContainerConfig',
        (h, w) => h.safeRewriteContainerConfig(w.c2, w.c2.config.name, 'renamed', { ...w.c2.config, name: 'renamed' }),
      ],
      ['getNetworks', (h, w) => h.getNetworks(w.c2)],
      ['networkConnect', (h, w) => h.networkConnect(w.c2, 'net1', { aliases: ['x'] })],
      ['networkDisconnect', (h, w) => h.networkDisconnect(w.c2, 'net0')],
      ['addExecSession', (h, w) => h.addExecSession(w.c2, { id: 'e-new', containerId: w.c2.config.id })],
      ['removeExecSession', (h, w) => h.removeExecSession({ id: 'e2', containerId: w.c2.config.id })],
      ['getContainerExecSessions', (h, w) => h.getContainerExecSessions(w.c2)],
      ['removeContainerExecSessions', (h, w) => h.removeContainerExecSessions(w.c2)],
      ['removePod', (h, w) => h.removePod(w.q2)],
      ['removePodContainers', (h, w) => h.removePodContainers(w.p2)],
      ['addContainerToPod', (h, w) => h.addContainerToPod(w.p2, ctr())],
      ['removeContainerFromPod', (h, w) => h.removeContainerFromPod(w.p2, w.m2)],
      ['updatePod', (h, w) => h.updatePod(w.p2)],
      ['savePod', (h, w) => h.savePod({ ...w.p2, state: { cgroupPath: '/x' } })],
      ['podHasContainer', (h, w) => h.podHasContainer(w.p2, w.m2.config.id)],
      ['podContainers', (h, w) => h.podContainers(w.p2)],
      ['podContainersByID', (h, w) => h.podContainersByID(w.p2)],
      ['rewritePodConfig', (h, w) => h.rewritePodConfig(w.p2, { ...w.p2.config, labels: { x: 'y' } })],
      ['volumeInUse', (h, w) => h.volumeInUse(w.v2)],
      ['removeVolume', (h, w) => h.removeVolume(w.u2)],
      ['updateVolume', (h, w) => h.updateVolume(w.v2)],
      ['saveVolume', (h, w) => h.saveVolume({ ...w.v2, state: { mountCount: 9 } })],
      ['rewriteVolumeConfig', (h, w) => h.rewriteVolumeConfig(w.v2, { ...w.v2.config, driver: 'nfs' })],
      // The argument no longer names its namespace: the stored one decides.
      ['removeContainer (argument without namespace)', (h, w) => h.removeContainer(strip(w.x2))],
      [
        'saveContainer (argument without namespace)',
        (h, w) => h.saveContainer(strip({ ...w.c2, state: { status: 'x' } })),
      ],
      ['updateContainer (argument without namespace)', (h, w) => h.updateContainer(strip(w.c2))],
      ['removePod (argument without namespace)', (h, w) => h.removePod(strip(w.q2))],
      ['savePod (argument without namespace)', (h, w) => h.savePod(strip({ ...w.p2, state: { cgroupPath: '/y' } }))],
      ['removeVolume (argument without namespace)', (h, w) => h.removeVolume(strip(w.u2))],
      ['saveVolume (argument without namespace)', (h, w) => h.saveVolume(strip({ ...w.v2, state: { mountCount: 4 } }))],
    ];

    for (const [name, call] of calls) {
      it(`${name} is NAMESPACE_MISMATCH and changes nothing`, async () => {
        const w = await nsWorld(factory);
        const before = await everything(w.root, w);
        await expectCode(() => call(w.h, w), 'NAMESPACE_MISMATCH');
        expect(await everything(w.root, w)).toEqual(before);
      });
    }

    it('a handle set through setNamespace gets NAMESPACE_MISMATCH too', async () => {
      const w = await nsWorld(factory, 'setNamespace');
      await expectCode(w.h.container(w.c2.config.id), 'NAMESPACE_MISMATCH');
      await expectCode(w.h.removePod(w.q2), 'NAMESPACE_MISMATCH');
    });

    it("the '' handle may operate on objects of any namespace", async () => {
      const w = await nsWorld(factory);
      await w.root.saveContainer({ ...w.c2, state: { status: 'running' } });
      await w.root.removeContainerExecSessions(w.c2);
      await w.root.removePodContainers(w.p2);
      await w.root.removePod(w.p2);
      expect((await w.root.container(w.c2.config.id)).state.status).toBe('running');
      expect(await w.root.allPods()).toEqual([w.q2]);
    });
  });
}

function crossNamespaceReferences(factory: StoreFactory): void {
  describe('references across namespaces', () => {
    it("a pod member must share the pod's namespace (NAMESPACE_MISMATCH via the '' handle)", async () => {
      const root = await factory.open();
      const p = await root.addPod(pod({ namespace: 'ns1' }));
      const c = ctr({ namespace: 'ns2' });
      await expectCode(root.addContainerToPod(p, c), 'NAMESPACE_MISMATCH');
      expect(await root.hasContainer(c.config.id)).toBe(false);
      expect(await root.podContainersByID(p)).toEqual([]);
    });

    it("a container of namespace '' cannot join a pod of another namespace", async () => {
      const root = await factory.open();
      const p = await root.addPod(pod({ namespace: 'ns1' }));
      await expectCode(root.addContainerToPod(p, ctr()), 'NAMESPACE_MISMATCH');
      expect(await root.podContainersByID(p)).toEqual([]);
    });

    it("a pod member in the pod's namespace is accepted through the '' handle", async () => {
      const root = await factory.open();
      const p = await root.addPod(pod({ namespace: 'ns1' }));
      const m = await root.addContainerToPod(p, ctr({ namespace: 'ns1' }));
      expect(await root.podContainersByID(p)).toEqual([m.config.id]);
    });

    it('a dependency in another namespace is NAMESPACE_MISMATCH from a namespaced handle', async () => {
      const w = await nsWorld(factory);
      const c = ctr({ dependencies: [w.c2.config.id] });
      await expectCode(w.h.addContainer(c), 'NAMESPACE_MISMATCH');
      expect(await w.root.hasContainer(c.config.id)).toBe(false);
      expect(await w.root.containerInUse(w.c2)).toEqual([]);
    });

    it("a dependency in another namespace is NAMESPACE_MISMATCH from the '' handle", async () => {
      const root = await factory.open();
      const a = await root.addContainer(ctr({ namespace: 'ns1' }));
      const b = ctr({ namespace: 'ns2', dependencies: [a.config.id] });
      await expectCode(root.addContainer(b), 'NAMESPACE_MISMATCH');
      expect(await root.containerInUse(a)).toEqual([]);
    });

    it("a dependency in namespace '' is NAMESPACE_MISMATCH for a container of ns1", async () => {
      const root = await factory.open();
      const a = await root.addContainer(ctr());
      await expectCode(root.addContainer(ctr({ namespace: 'ns1', dependencies: [a.config.id] })), 'NAMESPACE_MISMATCH');
    });

    it('a dependency in the same namespace is accepted from a namespaced handle', async () => {
      const w = await nsWorld(factory);
      const a = await w.h.addContainer(ctr());
      const b = await w.h.addContainer(ctr({ dependencies: [a.config.id] }));
      expect(await w.h.containerInUse(a)).toEqual([b.config.id]);
    });

    it('a named volume in another namespace is NAMESPACE_MISMATCH from a namespaced handle', async () => {
      const w = await nsWorld(factory);
      const c = ctr({ namedVolumes: [{ name: w.v2.config.name, dest: '/d' }] });
      await expectCode(w.h.addContainer(c), 'NAMESPACE_MISMATCH');
      expect(await w.root.volumeInUse(w.v2)).toEqual([w.c2.config.id]);
    });

    it("a named volume in another namespace is NAMESPACE_MISMATCH from the '' handle", async () => {
      const root = await factory.open();
      const v = await root.addVolume(vol({ namespace: 'ns1' }));
      const c = ctr({ namespace: 'ns2', namedVolumes: [{ name: v.config.name, dest: '/d' }] });
      await expectCode(root.addContainer(c), 'NAMESPACE_MISMATCH');
      expect(await root.volumeInUse(v)).toEqual([]);
      expect(await root.hasContainer(c.config.id)).toBe(false);
    });

    it('a named volume in the same namespace is accepted from a namespaced handle', async () => {
      const w = await nsWorld(factory);
      const v = await w.h.addVolume(vol());
      const c = await w.h.addContainer(ctr({ namedVolumes: [{ name: v.config.name, dest: '/d' }] }));
      expect(await w.h.volumeInUse(v)).toEqual([c.config.id]);
    });

    it('a pod member with a named volume of another namespace is NAMESPACE_MISMATCH', async () => {
      const w = await nsWorld(factory);
      const p = await w.h.addPod(pod());
      await expectCode(
        w.h.addContainerToPod(p, ctr({ namedVolumes: [{ name: w.v2.config.name, dest: '/d' }] })),
        'NAMESPACE_MISMATCH',
      );
      expect(await w.h.podContainersByID(p)).toEqual([]);
    });

    it('a handle in the namespace of a volume in use gets VOLUME_IN_USE', async () => {
      const w = await nsWorld(factory);
      const h2 = await factory.reopen(w.root, { namespace: 'ns2' });
      await expectCode(h2.removeVolume(w.v2), 'VOLUME_IN_USE');
    });
  });
}
