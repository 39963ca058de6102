import { describe, expect, it } from 'vitest';
import type { Container, Pod, Store, Volume } from '../../src/index.js';
import type { StoreFactory } from '../helpers/store-factory.js';
import { ctr, expectCode, hexId, pod, sorted, unknownFields, vol } from './builders.js';

/** One object of each kind, for tables of calls (EMPTY_ID, STORE_CLOSED). */
interface World {
  c: Container;
  p: Pod;
  m: Container;
  v: Volume;
}

async function seedWorld(s: Store): Promise<World> {
  const v = await s.addVolume(vol());
  const c = await s.addContainer(ctr({ networks: { net0: { aliases: ['a0'] } } }));
  const p = await s.addPod(pod());
  const m = await s.addContainerToPod(p, ctr());
  await s.addExecSession(c, { id: 'sess-world', containerId: c.config.id });
  return { c, p, m, v };
}

const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const MINUTE = 60_000;

/** Conformance of the object store (DESIGN.md §3, API.md "Store — objects"). */
export function objectConformance(factory: StoreFactory): void {
  describe(`object store conformance (${factory.backend})`, () => {
    containerBasics(factory);
    containerLookup(factory);
    containerRemoval(factory);
    dependencies(factory);
    execSessions(factory);
    exitCodes(factory);
    networks(factory);
    volumes(factory);
    pods(factory);
    rewrites(factory);
    updateAndSave(factory);
    unknownFieldRoundTrips(factory);
    names(factory);
    dbConfig(factory);
    refresh(factory);
    emptyIds(factory);
    closedStore(factory);
  });
}

// ---------------------------------------------------------------- containers

function containerBasics(factory: StoreFactory): void {
  describe('containers: add and get', () => {
    it('adds a container and gets it back by full id', async () => {
      const s = await factory.open();
      const input = ctr({ labels: { app: 'web' }, command: ['sh', '-c', 'true'], env: { A: '1' } });
      const added = await s.addContainer(input);
      const got = await s.container(input.config.id);
      expect(got.config).toMatchObject(input.config);
      expect(got.state).toEqual(input.state);
      expect(got).toEqual(added);
    });

    it('gets the right container out of several', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      expect((await s.container(a.config.id)).config.name).toBe(a.config.name);
      expect((await s.container(b.config.id)).config.name).toBe(b.config.name);
    });

    it("a container without namespace gets namespace ''", async () => {
      const s = await factory.open();
      const added = await s.addContainer(ctr());
      expect(added.config.namespace).toBe('');
      expect((await s.container(added.config.id)).config.namespace).toBe('');
    });

    it('generates a 64-character lowercase hex id when none is given', async () => {
      const s = await factory.open();
      const input = ctr();
      delete (input.config as { id?: string }).id;
      const added = await s.addContainer(input);
      expect(added.config.id).toMatch(/^[0-9a-f]{64}$/);
      expect((await s.container(added.config.id)).config.name).toBe(input.config.name);
    });

    it('records createdAt when none is given', async () => {
      const s = await factory.open();
      const added = await s.addContainer(ctr());
      expect(typeof added.config.createdAt).toBe('string');
      expect((await s.container(added.config.id)).config.createdAt).toBe(added.config.createdAt);
    });

    it('keeps a given createdAt', async () => {
      const s = await factory.open();
      const added = await s.addContainer(ctr({ createdAt: '2020-02-02T02:02:02.000Z' }));
      expect((await s.container(added.config.id)).config.createdAt).toBe('2020-02-02T02:02:02.000Z');
    });

    it('container() of a missing id is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.container(hexId()), 'NO_SUCH_CONTAINER');
    });

    it('container() does not resolve a name', async () => {
      const s = await factory.open();
      const added = await s.addContainer(ctr());
      await expectCode(s.container(added.config.name), 'NO_SUCH_CONTAINER');
    });

    it('container() does not resolve an id prefix', async () => {
      const s = await factory.open();
      const added = await s.addContainer(ctr());
      await expectCode(s.container(added.config.id.slice(0, 12)), 'NO_SUCH_CONTAINER');
    });

    it('container() of a pod id is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.container(p.config.id), 'NO_SUCH_CONTAINER');
    });

    it('getContainerConfig returns the config', async () => {
      const s = await factory.open();
      const added = await s.addContainer(ctr({ image: 'quay.io/x/y:1' }));
      expect(await s.getContainerConfig(added.config.id)).toEqual(added.config);
    });

    it('getContainerConfig of a missing id is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.getContainerConfig(hexId()), 'NO_SUCH_CONTAINER');
    });

    it('a duplicate container id is CONTAINER_EXISTS and adds nothing', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const dup = ctr({ id: a.config.id });
      await expectCode(s.addContainer(dup), 'CONTAINER_EXISTS');
      expect(await s.allContainers()).toHaveLength(1);
      await expectCode(s.lookupContainer(dup.config.name), 'NO_SUCH_CONTAINER');
    });

    it('a duplicate container name is CONTAINER_EXISTS and adds nothing', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const dup = ctr({ name: a.config.name });
      await expectCode(s.addContainer(dup), 'CONTAINER_EXISTS');
      expect(await s.hasContainer(dup.config.id)).toBe(false);
      expect(await s.allContainers()).toHaveLength(1);
    });

    it('a container with the id of a pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.addContainer(ctr({ id: p.config.id })), 'POD_EXISTS');
      expect(await s.allContainers()).toEqual([]);
    });

    it('a container with the name of a pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.addContainer(ctr({ name: p.config.name })), 'POD_EXISTS');
      expect(await s.allContainers()).toEqual([]);
    });

    it('a pod with the id of a container is CONTAINER_EXISTS', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.addPod(pod({ id: c.config.id })), 'CONTAINER_EXISTS');
      expect(await s.allPods()).toEqual([]);
    });

    it('a pod with the name of a container is CONTAINER_EXISTS', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.addPod(pod({ name: c.config.name })), 'CONTAINER_EXISTS');
      expect(await s.allPods()).toEqual([]);
    });

    it('a pod member with the name of a container is CONTAINER_EXISTS', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const p = await s.addPod(pod());
      await expectCode(s.addContainerToPod(p, ctr({ name: c.config.name })), 'CONTAINER_EXISTS');
      expect(await s.podContainersByID(p)).toEqual([]);
    });

    it('a pod member with the name of a pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.addContainerToPod(p, ctr({ name: p.config.name })), 'POD_EXISTS');
      expect(await s.podContainersByID(p)).toEqual([]);
    });

    it('a container may share its name with a volume', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const c = await s.addContainer(ctr({ name: v.config.name }));
      expect((await s.lookupContainer(v.config.name)).config.id).toBe(c.config.id);
    });

    it('the name and id of a removed container can be used again', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await s.removeContainer(a);
      const again = await s.addContainer(ctr({ id: a.config.id, name: a.config.name, image: 'other' }));
      expect((await s.container(a.config.id)).config.image).toBe('other');
      expect(again.config.name).toBe(a.config.name);
    });

    for (const name of ['-lead', '.lead', '_lead', 'has space', 'sl/ash', 'co:lon', 'ümlaut', 'new\nline']) {
      it(`container name ${JSON.stringify(name)} is INVALID_NAME`, async () => {
        const s = await factory.open();
        await expectCode(s.addContainer(ctr({ name })), 'INVALID_NAME');
        expect(await s.allContainers()).toEqual([]);
      });
    }

    for (const name of ['a', '7', 'A.b-c_d', 'web.1', 'x'.repeat(200)]) {
      it(`container name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 5)}…` : name)} is accepted`, async () => {
        const s = await factory.open();
        const c = await s.addContainer(ctr({ name }));
        expect((await s.lookupContainer(name)).config.id).toBe(c.config.id);
      });
    }

    it('hasContainer is true for an added container', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.hasContainer(c.config.id)).toBe(true);
    });

    it('hasContainer is false for a missing id', async () => {
      const s = await factory.open();
      expect(await s.hasContainer(hexId())).toBe(false);
    });

    it('hasContainer is false for a pod id', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.hasContainer(p.config.id)).toBe(false);
    });

    it('hasContainer is false for a name', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.hasContainer(c.config.name)).toBe(false);
    });

    it('allContainers of an empty store is empty', async () => {
      const s = await factory.open();
      expect(await s.allContainers()).toEqual([]);
    });

    it('allContainers lists standalone containers and pod members', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      const ids = (await s.allContainers()).map((c) => c.config.id);
      expect(sorted(ids)).toEqual(sorted([a.config.id, b.config.id, m.config.id]));
    });

    it('allContainers returns full objects', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr({ labels: { k: 'v' } }, { status: 'running', pid: 42 }));
      expect(await s.allContainers()).toEqual([a]);
    });

    it('a container survives closing and reopening the store', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const other = await factory.reopen(s);
      await s.close();
      expect(await other.container(a.config.id)).toEqual(a);
    });
  });
}

function containerLookup(factory: StoreFactory): void {
  describe('containers: lookup', () => {
    it('lookupContainer resolves a full id', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.lookupContainer(c.config.id)).toEqual(c);
    });

    it('lookupContainer resolves a name', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.lookupContainer(c.config.name)).toEqual(c);
    });

    it('lookupContainer resolves a unique id prefix', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addContainer(ctr({ id: hexId('f0f0f0f0') }));
      expect((await s.lookupContainer(c.config.id.slice(0, 12))).config.id).toBe(c.config.id);
    });

    it('lookupContainer resolves a one-character unique prefix', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ id: hexId('7') }));
      expect((await s.lookupContainer('7')).config.id).toBe(c.config.id);
    });

    it('a prefix shared by two containers is AMBIGUOUS_ID', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('abcdef01') }));
      await s.addContainer(ctr({ id: hexId('abcdef02') }));
      await expectCode(s.lookupContainer('abcdef0'), 'AMBIGUOUS_ID');
    });

    it('a longer prefix disambiguates', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('abcdef01') }));
      const b = await s.addContainer(ctr({ id: hexId('abcdef02') }));
      expect((await s.lookupContainer('abcdef02')).config.id).toBe(b.config.id);
    });

    it('lookupContainerID returns the id for a name', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.lookupContainerID(c.config.name)).toBe(c.config.id);
    });

    it('lookupContainerID returns the id for a unique prefix', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.lookupContainerID(c.config.id.slice(0, 10))).toBe(c.config.id);
    });

    it('lookupContainerID returns the id for a full id', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.lookupContainerID(c.config.id)).toBe(c.config.id);
    });

    it('lookupContainerID of an ambiguous prefix is AMBIGUOUS_ID', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('12345601') }));
      await s.addContainer(ctr({ id: hexId('12345602') }));
      await expectCode(s.lookupContainerID('123456'), 'AMBIGUOUS_ID');
    });

    it('lookupContainer of an unknown input is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await s.addContainer(ctr());
      await expectCode(s.lookupContainer('does-not-exist'), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainerID of an unknown input is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.lookupContainerID('does-not-exist'), 'NO_SUCH_CONTAINER');
    });

    it('an exact name wins over an id prefix', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('beef') }));
      const named = await s.addContainer(ctr({ name: 'beef' }));
      expect((await s.lookupContainer('beef')).config.id).toBe(named.config.id);
    });

    it('an exact name wins over an ambiguous id prefix', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('cafe01') }));
      await s.addContainer(ctr({ id: hexId('cafe02') }));
      const named = await s.addContainer(ctr({ name: 'cafe' }));
      expect(await s.lookupContainerID('cafe')).toBe(named.config.id);
    });

    it('a full id wins over a name equal to it', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await s.addContainer(ctr({ name: a.config.id }));
      expect(await s.lookupContainerID(a.config.id)).toBe(a.config.id);
    });

    it('lookupContainer does not resolve a pod name', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.lookupContainer(p.config.name), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainer does not resolve a pod id', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.lookupContainer(p.config.id), 'NO_SUCH_CONTAINER');
    });

    it('lookupContainer does not resolve a pod id prefix', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.lookupContainer(p.config.id.slice(0, 12)), 'NO_SUCH_CONTAINER');
    });

    it('a prefix shared with a pod resolves the container (pods do not count)', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ id: hexId('d00d01') }));
      await s.addPod(pod({ id: hexId('d00d02') }));
      expect(await s.lookupContainerID('d00d')).toBe(c.config.id);
    });

    it('an input longer than a full id matches nothing', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.lookupContainer(`${c.config.id}0`), 'NO_SUCH_CONTAINER');
    });

    it('name lookup is case-sensitive', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ name: 'web' }));
      await expectCode(s.lookupContainer('WEB'), 'NO_SUCH_CONTAINER');
    });

    it('names differing only in case are different names', async () => {
      const s = await factory.open();
      const lower = await s.addContainer(ctr({ name: 'web' }));
      const upper = await s.addContainer(ctr({ name: 'Web' }));
      expect(await s.lookupContainerID('web')).toBe(lower.config.id);
      expect(await s.lookupContainerID('Web')).toBe(upper.config.id);
    });

    it('lookupContainer is case-sensitive', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('abcabc') }));
      await expectCode(s.lookupContainer('ABCABC'), 'NO_SUCH_CONTAINER');
    });

    for (const input of [
      '%',
      '_',
      '*',
      '?',
      '[',
      'ab%',
      'a_c',
      'ab*',
      'a?c',
      '[a]b',
      'w_b',
      'we%',
      'w?b',
      'w*',
      'w.b',
    ]) {
      it(`lookupContainer(${JSON.stringify(input)}) is literal and matches nothing`, async () => {
        const s = await factory.open();
        await s.addContainer(ctr({ id: hexId('abcd'), name: 'web' }));
        await s.addContainer(ctr({ id: hexId('abce'), name: 'wxb' }));
        await expectCode(s.lookupContainer(input), 'NO_SUCH_CONTAINER');
      });
    }
  });
}

function containerRemoval(factory: StoreFactory): void {
  describe('containers: remove', () => {
    it('removeContainer removes it from get, lookup and listings', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.removeContainer(c);
      await expectCode(s.container(c.config.id), 'NO_SUCH_CONTAINER');
      await expectCode(s.lookupContainer(c.config.name), 'NO_SUCH_CONTAINER');
      expect(await s.hasContainer(c.config.id)).toBe(false);
      expect(await s.allContainers()).toEqual([]);
    });

    it('removeContainer leaves other containers alone', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await s.removeContainer(a);
      expect(await s.allContainers()).toEqual([b]);
    });

    it('removeContainer of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.removeContainer(ctr()), 'NO_SUCH_CONTAINER');
    });

    it('removing a container twice is NO_SUCH_CONTAINER the second time', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.removeContainer(c);
      await expectCode(s.removeContainer(c), 'NO_SUCH_CONTAINER');
    });

    it('removeContainer refuses a pod member with INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      await expectCode(s.removeContainer(m), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(m.config.id)).toBe(true);
      expect(await s.podContainersByID(p)).toEqual([m.config.id]);
    });

    it('addContainer refuses a container with pod set with INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const c = ctr({ pod: p.config.id });
      await expectCode(s.addContainer(c), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(c.config.id)).toBe(false);
      expect(await s.podContainersByID(p)).toEqual([]);
    });
  });
}

// ---------------------------------------------------------------- dependencies

function dependencies(factory: StoreFactory): void {
  describe('containers: dependencies', () => {
    it('a container may depend on an existing container', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      expect((await s.container(b.config.id)).config.dependencies).toEqual([a.config.id]);
    });

    it('a container may depend on several containers', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      const c = await s.addContainer(ctr({ dependencies: [a.config.id, b.config.id] }));
      expect(await s.containerInUse(a)).toEqual([c.config.id]);
      expect(await s.containerInUse(b)).toEqual([c.config.id]);
    });

    it('a missing dependency is NO_SUCH_CONTAINER and adds nothing', async () => {
      const s = await factory.open();
      const c = ctr({ dependencies: [hexId()] });
      await expectCode(s.addContainer(c), 'NO_SUCH_CONTAINER');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('the name of a container refused for a missing dependency stays free', async () => {
      const s = await factory.open();
      const c = ctr({ dependencies: [hexId()] });
      await expectCode(s.addContainer(c), 'NO_SUCH_CONTAINER');
      const again = await s.addContainer(ctr({ name: c.config.name }));
      expect(await s.lookupContainerID(c.config.name)).toBe(again.config.id);
    });

    it('a pod id as dependency is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.addContainer(ctr({ dependencies: [p.config.id] })), 'NO_SUCH_CONTAINER');
    });

    it('a dependency on itself is INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const id = hexId();
      await expectCode(s.addContainer(ctr({ id, dependencies: [id] })), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(id)).toBe(false);
    });

    it('a container in no pod cannot depend on a pod member (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      const c = ctr({ dependencies: [m.config.id] });
      await expectCode(s.addContainer(c), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('a pod member cannot depend on a container in no pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const p = await s.addPod(pod());
      await expectCode(s.addContainerToPod(p, ctr({ dependencies: [a.config.id] })), 'INVALID_ARGUMENT');
      expect(await s.podContainersByID(p)).toEqual([]);
    });

    it('a pod member cannot depend on a member of another pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p1 = await s.addPod(pod());
      const p2 = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p1, ctr());
      await expectCode(s.addContainerToPod(p2, ctr({ dependencies: [m1.config.id] })), 'INVALID_ARGUMENT');
      expect(await s.podContainersByID(p2)).toEqual([]);
    });

    it('a pod member may depend on a member of the same pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr({ dependencies: [m1.config.id] }));
      expect(await s.containerInUse(m1)).toEqual([m2.config.id]);
    });

    it('a dependency in another namespace is NAMESPACE_MISMATCH', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr({ namespace: 'ns1' }));
      const b = ctr({ namespace: 'ns2', dependencies: [a.config.id] });
      await expectCode(s.addContainer(b), 'NAMESPACE_MISMATCH');
      expect(await s.hasContainer(b.config.id)).toBe(false);
    });

    it('a dependency in the same namespace is accepted', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr({ namespace: 'ns1' }));
      const b = await s.addContainer(ctr({ namespace: 'ns1', dependencies: [a.config.id] }));
      expect(await s.containerInUse(a)).toEqual([b.config.id]);
    });

    it('containerInUse lists every dependent', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      const c = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      expect(sorted(await s.containerInUse(a))).toEqual(sorted([b.config.id, c.config.id]));
    });

    it('containerInUse of a container nobody depends on is empty', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      expect(await s.containerInUse(a)).toEqual([]);
    });

    it('containerInUse does not list transitive dependents', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      await s.addContainer(ctr({ dependencies: [b.config.id] }));
      expect(await s.containerInUse(a)).toEqual([b.config.id]);
    });

    it('containerInUse of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.containerInUse(ctr()), 'NO_SUCH_CONTAINER');
    });

    it('removing a container others depend on is DEPENDENCY_EXISTS listing them', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      const c = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      const err = await expectCode(s.removeContainer(a), 'DEPENDENCY_EXISTS');
      expect(sorted(err.details.dependents as string[])).toEqual(sorted([b.config.id, c.config.id]));
      expect(await s.hasContainer(a.config.id)).toBe(true);
    });

    it('a dependency can be removed once its dependents are gone', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      await s.removeContainer(b);
      expect(await s.containerInUse(a)).toEqual([]);
      await s.removeContainer(a);
      expect(await s.allContainers()).toEqual([]);
    });

    it('removeContainerFromPod of a member others depend on is DEPENDENCY_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr({ dependencies: [m1.config.id] }));
      const err = await expectCode(s.removeContainerFromPod(p, m1), 'DEPENDENCY_EXISTS');
      expect(err.details.dependents).toEqual([m2.config.id]);
      expect(sorted(await s.podContainersByID(p))).toEqual(sorted([m1.config.id, m2.config.id]));
    });
  });
}

// ---------------------------------------------------------------- exec sessions

function execSessions(factory: StoreFactory): void {
  describe('exec sessions', () => {
    it('getExecSession returns the container id of an added session', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      expect(await s.getExecSession('e1')).toBe(c.config.id);
    });

    it('getContainerExecSessions lists the sessions of a container', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await s.addExecSession(c, { id: 'e2', containerId: c.config.id });
      expect(sorted(await s.getContainerExecSessions(c))).toEqual(['e1', 'e2']);
    });

    it('getContainerExecSessions of a container without sessions is empty', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.getContainerExecSessions(c)).toEqual([]);
    });

    it('getContainerExecSessions only lists that container', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await s.addExecSession(a, { id: 'ea', containerId: a.config.id });
      await s.addExecSession(b, { id: 'eb', containerId: b.config.id });
      expect(await s.getContainerExecSessions(b)).toEqual(['eb']);
    });

    it('a duplicate session id on the same container is EXEC_SESSION_EXISTS', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await expectCode(s.addExecSession(c, { id: 'e1', containerId: c.config.id }), 'EXEC_SESSION_EXISTS');
      expect(await s.getContainerExecSessions(c)).toEqual(['e1']);
    });

    it('a duplicate session id on another container is EXEC_SESSION_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await s.addExecSession(a, { id: 'e1', containerId: a.config.id });
      await expectCode(s.addExecSession(b, { id: 'e1', containerId: b.config.id }), 'EXEC_SESSION_EXISTS');
      expect(await s.getExecSession('e1')).toBe(a.config.id);
      expect(await s.getContainerExecSessions(b)).toEqual([]);
    });

    it('a session whose containerId names another container is INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await expectCode(s.addExecSession(a, { id: 'e1', containerId: b.config.id }), 'INVALID_ARGUMENT');
      await expectCode(s.getExecSession('e1'), 'NO_SUCH_EXEC_SESSION');
    });

    it('addExecSession to a missing container is NO_SUCH_CONTAINER and records nothing', async () => {
      const s = await factory.open();
      const c = ctr();
      await expectCode(s.addExecSession(c, { id: 'e1', containerId: c.config.id }), 'NO_SUCH_CONTAINER');
      await expectCode(s.getExecSession('e1'), 'NO_SUCH_EXEC_SESSION');
    });

    it('getExecSession of a missing session is NO_SUCH_EXEC_SESSION', async () => {
      const s = await factory.open();
      await expectCode(s.getExecSession('nope'), 'NO_SUCH_EXEC_SESSION');
    });

    it('removeExecSession removes the session', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await s.addExecSession(c, { id: 'e2', containerId: c.config.id });
      await s.removeExecSession({ id: 'e1', containerId: c.config.id });
      await expectCode(s.getExecSession('e1'), 'NO_SUCH_EXEC_SESSION');
      expect(await s.getContainerExecSessions(c)).toEqual(['e2']);
    });

    it('removeExecSession of a missing session is NO_SUCH_EXEC_SESSION', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.removeExecSession({ id: 'nope', containerId: c.config.id }), 'NO_SUCH_EXEC_SESSION');
    });

    it('removing a session twice is NO_SUCH_EXEC_SESSION the second time', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await s.removeExecSession({ id: 'e1', containerId: c.config.id });
      await expectCode(s.removeExecSession({ id: 'e1', containerId: c.config.id }), 'NO_SUCH_EXEC_SESSION');
    });

    it('a removed session id can be used again', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await s.addExecSession(a, { id: 'e1', containerId: a.config.id });
      await s.removeExecSession({ id: 'e1', containerId: a.config.id });
      await s.addExecSession(b, { id: 'e1', containerId: b.config.id });
      expect(await s.getExecSession('e1')).toBe(b.config.id);
    });

    it('getContainerExecSessions of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.getContainerExecSessions(ctr()), 'NO_SUCH_CONTAINER');
    });

    it("removeContainerExecSessions removes that container's sessions only", async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await s.addExecSession(a, { id: 'a1', containerId: a.config.id });
      await s.addExecSession(a, { id: 'a2', containerId: a.config.id });
      await s.addExecSession(b, { id: 'b1', containerId: b.config.id });
      await s.removeContainerExecSessions(a);
      expect(await s.getContainerExecSessions(a)).toEqual([]);
      await expectCode(s.getExecSession('a1'), 'NO_SUCH_EXEC_SESSION');
      expect(await s.getExecSession('b1')).toBe(b.config.id);
    });

    it('removeContainerExecSessions of a container without sessions succeeds', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.removeContainerExecSessions(c);
      expect(await s.getContainerExecSessions(c)).toEqual([]);
    });

    it('removeContainerExecSessions of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.removeContainerExecSessions(ctr()), 'NO_SUCH_CONTAINER');
    });

    it('removing a container with exec sessions is EXEC_SESSION_EXISTS and changes nothing', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await expectCode(s.removeContainer(c), 'EXEC_SESSION_EXISTS');
      expect(await s.hasContainer(c.config.id)).toBe(true);
      expect(await s.getExecSession('e1')).toBe(c.config.id);
    });

    it('a container can be removed once its sessions are removed', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await s.removeContainerExecSessions(c);
      await s.removeContainer(c);
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('removeContainerFromPod of a member with exec sessions is EXEC_SESSION_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      await s.addExecSession(m, { id: 'e1', containerId: m.config.id });
      await expectCode(s.removeContainerFromPod(p, m), 'EXEC_SESSION_EXISTS');
      expect(await s.podHasContainer(p, m.config.id)).toBe(true);
    });
  });
}

// ---------------------------------------------------------------- exit codes

function exitCodes(factory: StoreFactory): void {
  describe('exit codes', () => {
    it('getContainerExitCode returns the recorded code', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 137);
      expect(await s.getContainerExitCode(c.config.id)).toBe(137);
    });

    it('getContainerExitCode without a recorded code is NO_SUCH_EXIT_CODE', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.getContainerExitCode(c.config.id), 'NO_SUCH_EXIT_CODE');
    });

    for (const code of [-1, 0, 1, 255]) {
      it(`exit code ${code} is accepted`, async () => {
        const s = await factory.open();
        const c = await s.addContainer(ctr());
        await s.addContainerExitCode(c.config.id, code);
        expect(await s.getContainerExitCode(c.config.id)).toBe(code);
      });
    }

    for (const code of [-2, 256, 1000, 1.5, Number.NaN]) {
      it(`exit code ${code} is INVALID_ARGUMENT and records nothing`, async () => {
        const s = await factory.open();
        const c = await s.addContainer(ctr());
        await expectCode(s.addContainerExitCode(c.config.id, code), 'INVALID_ARGUMENT');
        await expectCode(s.getContainerExitCode(c.config.id), 'NO_SUCH_EXIT_CODE');
      });
    }

    it('a later exit code replaces the earlier one', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 1);
      await s.addContainerExitCode(c.config.id, 2);
      expect(await s.getContainerExitCode(c.config.id)).toBe(2);
    });

    it('an exit code outlives its container', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 3);
      await s.removeContainer(c);
      expect(await s.getContainerExitCode(c.config.id)).toBe(3);
    });

    it('exit codes of different containers are independent', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await s.addContainerExitCode(a.config.id, 10);
      await s.addContainerExitCode(b.config.id, 20);
      expect(await s.getContainerExitCode(a.config.id)).toBe(10);
      expect(await s.getContainerExitCode(b.config.id)).toBe(20);
    });

    it('prune deletes a code older than 5 minutes whose container is gone', async () => {
      let now = T0;
      const s = await factory.open({ clock: () => now });
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 1);
      await s.removeContainer(c);
      now = T0 + 5 * MINUTE + 1;
      await s.pruneContainerExitCodes();
      await expectCode(s.getContainerExitCode(c.config.id), 'NO_SUCH_EXIT_CODE');
    });

    it('prune keeps a code younger than 5 minutes whose container is gone', async () => {
      let now = T0;
      const s = await factory.open({ clock: () => now });
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 1);
      await s.removeContainer(c);
      now = T0 + 4 * MINUTE;
      await s.pruneContainerExitCodes();
      expect(await s.getContainerExitCode(c.config.id)).toBe(1);
    });

    it('prune keeps a code exactly 5 minutes old', async () => {
      let now = T0;
      const s = await factory.open({ clock: () => now });
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 1);
      await s.removeContainer(c);
      now = T0 + 5 * MINUTE;
      await s.pruneContainerExitCodes();
      expect(await s.getContainerExitCode(c.config.id)).toBe(1);
    });

    it('prune keeps an old code whose container still exists', async () => {
      let now = T0;
      const s = await factory.open({ clock: () => now });
      const c = await s.addContainer(ctr());
      await s.addContainerExitCode(c.config.id, 1);
      now = T0 + 60 * MINUTE;
      await s.pruneContainerExitCodes();
      expect(await s.getContainerExitCode(c.config.id)).toBe(1);
    });

    it('prune deletes only the old codes', async () => {
      let now = T0;
      const s = await factory.open({ clock: () => now });
      const oldId = hexId();
      const newId = hexId();
      await s.addContainerExitCode(oldId, 1);
      now = T0 + 4 * MINUTE;
      await s.addContainerExitCode(newId, 2);
      now = T0 + 6 * MINUTE;
      await s.pruneContainerExitCodes();
      await expectCode(s.getContainerExitCode(oldId), 'NO_SUCH_EXIT_CODE');
      expect(await s.getContainerExitCode(newId)).toBe(2);
    });

    it('prune of a store without exit codes succeeds', async () => {
      const s = await factory.open();
      await s.pruneContainerExitCodes();
      expect(await s.allContainers()).toEqual([]);
    });
  });
}

// ---------------------------------------------------------------- networks

function networks(factory: StoreFactory): void {
  describe('networks', () => {
    it('getNetworks of a container without networks is empty', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.getNetworks(c)).toEqual({});
    });

    it('getNetworks returns the networks of the config with their options', async () => {
      const s = await factory.open();
      const nets = { front: { aliases: ['web', 'www'], interfaceName: 'eth0' }, back: {} };
      const c = await s.addContainer(ctr({ networks: nets }));
      expect(await s.getNetworks(c)).toEqual(nets);
    });

    it('networkConnect adds a network with its aliases', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.networkConnect(c, 'front', { aliases: ['web'], staticIps: ['10.0.0.2'] });
      expect(await s.getNetworks(c)).toEqual({ front: { aliases: ['web'], staticIps: ['10.0.0.2'] } });
    });

    it('networkConnect keeps the other networks', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ networks: { back: { aliases: ['db'] } } }));
      await s.networkConnect(c, 'front', { aliases: ['web'] });
      expect(await s.getNetworks(c)).toEqual({ back: { aliases: ['db'] }, front: { aliases: ['web'] } });
    });

    it('a connected network shows in the container config', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.networkConnect(c, 'front', { aliases: ['web'] });
      expect((await s.container(c.config.id)).config.networks).toEqual({ front: { aliases: ['web'] } });
    });

    it('connecting twice is NETWORK_CONNECTED and keeps the first options', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.networkConnect(c, 'front', { aliases: ['one'] });
      await expectCode(s.networkConnect(c, 'front', { aliases: ['two'] }), 'NETWORK_CONNECTED');
      expect(await s.getNetworks(c)).toEqual({ front: { aliases: ['one'] } });
    });

    it('connecting to a network of the initial config is NETWORK_CONNECTED', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ networks: { front: {} } }));
      await expectCode(s.networkConnect(c, 'front', {}), 'NETWORK_CONNECTED');
    });

    it('networkDisconnect removes the network and its aliases, keeping others', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ networks: { front: { aliases: ['web'] }, back: { aliases: ['db'] } } }));
      await s.networkDisconnect(c, 'front');
      expect(await s.getNetworks(c)).toEqual({ back: { aliases: ['db'] } });
    });

    it('disconnecting an unconnected network is NO_SUCH_NETWORK', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ networks: { back: {} } }));
      await expectCode(s.networkDisconnect(c, 'front'), 'NO_SUCH_NETWORK');
      expect(await s.getNetworks(c)).toEqual({ back: {} });
    });

    it('disconnecting twice is NO_SUCH_NETWORK the second time', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ networks: { front: {} } }));
      await s.networkDisconnect(c, 'front');
      await expectCode(s.networkDisconnect(c, 'front'), 'NO_SUCH_NETWORK');
    });

    it('a network can be connected again after a disconnect, with new aliases', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ networks: { front: { aliases: ['old'] } } }));
      await s.networkDisconnect(c, 'front');
      await s.networkConnect(c, 'front', { aliases: ['new'] });
      expect(await s.getNetworks(c)).toEqual({ front: { aliases: ['new'] } });
    });

    it('networkConnect with an empty network name is INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.networkConnect(c, '', {}), 'INVALID_ARGUMENT');
      expect(await s.getNetworks(c)).toEqual({});
    });

    it('networkDisconnect with an empty network name is INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.networkDisconnect(c, ''), 'INVALID_ARGUMENT');
    });

    it('a config network with an empty name is INVALID_ARGUMENT', async () => {
      const s = await factory.open();
      const c = ctr({ networks: { '': {} } });
      await expectCode(s.addContainer(c), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('networkConnect of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.networkConnect(ctr(), 'front', {}), 'NO_SUCH_CONTAINER');
    });

    it('networkDisconnect of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.networkDisconnect(ctr(), 'front'), 'NO_SUCH_CONTAINER');
    });

    it('getNetworks of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.getNetworks(ctr()), 'NO_SUCH_CONTAINER');
    });

    it('unknown network option fields round-trip', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const opts = { aliases: ['a'], staticMac: '02:42:ac:11:00:02', ...unknownFields('net') };
      await s.networkConnect(c, 'front', opts);
      expect(await s.getNetworks(c)).toEqual({ front: opts });
    });
  });
}

// ---------------------------------------------------------------- volumes

function volumes(factory: StoreFactory): void {
  describe('volumes', () => {
    it('adds a volume and gets it back by name', async () => {
      const s = await factory.open();
      const input = vol({ labels: { tier: 'db' }, options: { o: 'bind' } }, { mountPoint: '/m' });
      const added = await s.addVolume(input);
      const got = await s.volume(input.config.name);
      expect(got.config).toMatchObject(input.config);
      expect(got.state).toEqual(input.state);
      expect(got).toEqual(added);
    });

    it("a volume without namespace gets namespace ''", async () => {
      const s = await factory.open();
      const added = await s.addVolume(vol());
      expect((await s.volume(added.config.name)).config.namespace).toBe('');
    });

    it('volume() of a missing name is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      await expectCode(s.volume('missing'), 'NO_SUCH_VOLUME');
    });

    it('volume() does not resolve a prefix', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'database' }));
      await expectCode(s.volume('data'), 'NO_SUCH_VOLUME');
    });

    it('a duplicate volume name is VOLUME_EXISTS and keeps the first', async () => {
      const s = await factory.open();
      const a = await s.addVolume(vol({ driver: 'local' }));
      await expectCode(s.addVolume(vol({ name: a.config.name, driver: 'other' })), 'VOLUME_EXISTS');
      expect((await s.volume(a.config.name)).config.driver).toBe('local');
      expect(await s.allVolumes()).toHaveLength(1);
    });

    it('a volume may share its name with a pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.addVolume(vol({ name: p.config.name }));
      expect(await s.hasVolume(p.config.name)).toBe(true);
    });

    for (const name of ['-v', '.v', 'with space', 'a/b']) {
      it(`volume name ${JSON.stringify(name)} is INVALID_NAME`, async () => {
        const s = await factory.open();
        await expectCode(s.addVolume(vol({ name })), 'INVALID_NAME');
        expect(await s.allVolumes()).toEqual([]);
      });
    }

    it('hasVolume is true for an added volume', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      expect(await s.hasVolume(v.config.name)).toBe(true);
    });

    it('hasVolume is false for a missing volume', async () => {
      const s = await factory.open();
      expect(await s.hasVolume('missing')).toBe(false);
    });

    it('lookupVolume resolves an exact name', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol({ name: 'pgdata' }));
      expect(await s.lookupVolume('pgdata')).toEqual(v);
    });

    it('lookupVolume resolves a unique name prefix', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'pgdata' }));
      await s.addVolume(vol({ name: 'cache' }));
      expect((await s.lookupVolume('pg')).config.name).toBe('pgdata');
    });

    it('a prefix shared by two volumes is AMBIGUOUS_ID', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'data1' }));
      await s.addVolume(vol({ name: 'data2' }));
      await expectCode(s.lookupVolume('data'), 'AMBIGUOUS_ID');
    });

    it('an exact volume name wins over a prefix match', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'data' }));
      await s.addVolume(vol({ name: 'data2' }));
      expect((await s.lookupVolume('data')).config.name).toBe('data');
    });

    it('lookupVolume of an unknown name is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'data' }));
      await expectCode(s.lookupVolume('other'), 'NO_SUCH_VOLUME');
    });

    it('lookupVolume is case-sensitive', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'data' }));
      await expectCode(s.lookupVolume('DA'), 'NO_SUCH_VOLUME');
    });

    for (const input of ['%', '_', '*', '?', '[', 'd%', 'dat_', 'da*', 'd?ta', '[d]ata', 'd.ta']) {
      it(`lookupVolume(${JSON.stringify(input)}) is literal and matches nothing`, async () => {
        const s = await factory.open();
        await s.addVolume(vol({ name: 'data' }));
        await s.addVolume(vol({ name: 'dxta' }));
        await expectCode(s.lookupVolume(input), 'NO_SUCH_VOLUME');
      });
    }

    it('allVolumes lists every volume', async () => {
      const s = await factory.open();
      const a = await s.addVolume(vol());
      const b = await s.addVolume(vol());
      expect(sorted((await s.allVolumes()).map((v) => v.config.name))).toEqual(sorted([a.config.name, b.config.name]));
    });

    it('removeVolume removes it', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      await s.removeVolume(v);
      expect(await s.hasVolume(v.config.name)).toBe(false);
      await expectCode(s.volume(v.config.name), 'NO_SUCH_VOLUME');
      expect(await s.allVolumes()).toEqual([]);
    });

    it('removeVolume of a missing volume is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      await expectCode(s.removeVolume(vol()), 'NO_SUCH_VOLUME');
    });

    it('a container may use an existing volume', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const c = await s.addContainer(ctr({ namedVolumes: [{ name: v.config.name, dest: '/data' }] }));
      expect((await s.container(c.config.id)).config.namedVolumes).toEqual([{ name: v.config.name, dest: '/data' }]);
    });

    it('a named volume that does not exist is NO_SUCH_VOLUME and adds nothing', async () => {
      const s = await factory.open();
      const c = ctr({ namedVolumes: [{ name: 'missing', dest: '/data' }] });
      await expectCode(s.addContainer(c), 'NO_SUCH_VOLUME');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('volumeInUse lists the containers that use it', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const a = await s.addContainer(ctr({ namedVolumes: [{ name: v.config.name, dest: '/a' }] }));
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr({ namedVolumes: [{ name: v.config.name, dest: '/m' }] }));
      await s.addContainer(ctr());
      expect(sorted(await s.volumeInUse(v))).toEqual(sorted([a.config.id, m.config.id]));
    });

    it('volumeInUse of an unused volume is empty', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      expect(await s.volumeInUse(v)).toEqual([]);
    });

    it('volumeInUse of a missing volume is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      await expectCode(s.volumeInUse(vol()), 'NO_SUCH_VOLUME');
    });

    it('removing a volume in use is VOLUME_IN_USE and keeps it', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      await s.addContainer(ctr({ namedVolumes: [{ name: v.config.name, dest: '/a' }] }));
      await expectCode(s.removeVolume(v), 'VOLUME_IN_USE');
      expect(await s.hasVolume(v.config.name)).toBe(true);
    });

    it('a volume can be removed once its users are gone', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const c = await s.addContainer(ctr({ namedVolumes: [{ name: v.config.name, dest: '/a' }] }));
      await s.removeContainer(c);
      expect(await s.volumeInUse(v)).toEqual([]);
      await s.removeVolume(v);
      expect(await s.hasVolume(v.config.name)).toBe(false);
    });

    it('volume names differing only in case are different volumes', async () => {
      const s = await factory.open();
      await s.addVolume(vol({ name: 'data' }));
      await s.addVolume(vol({ name: 'Data' }));
      expect((await s.lookupVolume('Data')).config.name).toBe('Data');
      expect(await s.allVolumes()).toHaveLength(2);
    });

    it('removePodContainers frees the volumes its members used', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const p = await s.addPod(pod());
      await s.addContainerToPod(p, ctr({ namedVolumes: [{ name: v.config.name, dest: '/d' }] }));
      await s.removePodContainers(p);
      expect(await s.volumeInUse(v)).toEqual([]);
      await s.removeVolume(v);
    });

    it('updateVolume returns the stored volume', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      await s.saveVolume({ ...v, state: { mountCount: 2, mountPoint: '/mnt/x' } });
      expect((await s.updateVolume(v)).state).toEqual({ mountCount: 2, mountPoint: '/mnt/x' });
    });

    it('saveVolume writes the state but not the config', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol({ driver: 'local' }));
      await s.saveVolume({ config: { ...v.config, driver: 'changed' }, state: { mountCount: 1 } });
      const got = await s.volume(v.config.name);
      expect(got.state).toEqual({ mountCount: 1 });
      expect(got.config.driver).toBe('local');
    });

    it('updateVolume of a missing volume is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      await expectCode(s.updateVolume(vol()), 'NO_SUCH_VOLUME');
    });

    it('saveVolume of a missing volume is NO_SUCH_VOLUME and creates nothing', async () => {
      const s = await factory.open();
      const v = vol();
      await expectCode(s.saveVolume(v), 'NO_SUCH_VOLUME');
      expect(await s.hasVolume(v.config.name)).toBe(false);
    });

    it('rewriteVolumeConfig replaces the config', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol({ labels: { a: '1' } }));
      await s.rewriteVolumeConfig(v, { ...v.config, driver: 'nfs', labels: { b: '2' } });
      const got = await s.volume(v.config.name);
      expect(got.config.driver).toBe('nfs');
      expect(got.config.labels).toEqual({ b: '2' });
    });

    it('rewriteVolumeConfig keeps the state', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol({}, { mountCount: 3 }));
      await s.rewriteVolumeConfig(v, { ...v.config, driver: 'nfs' });
      expect((await s.volume(v.config.name)).state).toEqual({ mountCount: 3 });
    });

    it('rewriteVolumeConfig cannot rename (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      await expectCode(s.rewriteVolumeConfig(v, { ...v.config, name: 'renamed' }), 'INVALID_ARGUMENT');
      expect(await s.hasVolume('renamed')).toBe(false);
      expect(await s.volume(v.config.name)).toEqual(v);
    });

    it('rewriteVolumeConfig of a missing volume is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      const v = vol();
      await expectCode(s.rewriteVolumeConfig(v, v.config), 'NO_SUCH_VOLUME');
    });
  });
}

// ---------------------------------------------------------------- pods

function pods(factory: StoreFactory): void {
  describe('pods', () => {
    it('adds a pod and gets it back by full id', async () => {
      const s = await factory.open();
      const input = pod({ labels: { app: 'web' } }, { infraContainerId: hexId() });
      const added = await s.addPod(input);
      const got = await s.pod(input.config.id);
      expect(got.config).toMatchObject(input.config);
      expect(got.state).toEqual(input.state);
      expect(got).toEqual(added);
    });

    it("a pod without namespace gets namespace ''", async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect((await s.pod(p.config.id)).config.namespace).toBe('');
    });

    it('generates a 64-character lowercase hex pod id when none is given', async () => {
      const s = await factory.open();
      const input = pod();
      delete (input.config as { id?: string }).id;
      const added = await s.addPod(input);
      expect(added.config.id).toMatch(/^[0-9a-f]{64}$/);
      expect((await s.pod(added.config.id)).config.name).toBe(input.config.name);
    });

    it('pod() of a missing id is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.pod(hexId()), 'NO_SUCH_POD');
    });

    it('pod() does not resolve a name', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.pod(p.config.name), 'NO_SUCH_POD');
    });

    it('pod() of a container id is NO_SUCH_POD', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.pod(c.config.id), 'NO_SUCH_POD');
    });

    it('a duplicate pod id is POD_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.addPod(pod({ id: p.config.id })), 'POD_EXISTS');
      expect(await s.allPods()).toHaveLength(1);
    });

    it('a duplicate pod name is POD_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const dup = pod({ name: p.config.name });
      await expectCode(s.addPod(dup), 'POD_EXISTS');
      expect(await s.hasPod(dup.config.id)).toBe(false);
    });

    for (const name of ['-p', '_p', 'p p', 'p@q']) {
      it(`pod name ${JSON.stringify(name)} is INVALID_NAME`, async () => {
        const s = await factory.open();
        await expectCode(s.addPod(pod({ name })), 'INVALID_NAME');
        expect(await s.allPods()).toEqual([]);
      });
    }

    it('lookupPod resolves a full id', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.lookupPod(p.config.id)).toEqual(p);
    });

    it('lookupPod resolves a name', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.lookupPod(p.config.name)).toEqual(p);
    });

    it('lookupPod resolves a unique id prefix', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod({ id: hexId('9a9a') }));
      await s.addPod(pod({ id: hexId('8b8b') }));
      expect((await s.lookupPod('9a9')).config.id).toBe(p.config.id);
    });

    it('a prefix shared by two pods is AMBIGUOUS_ID', async () => {
      const s = await factory.open();
      await s.addPod(pod({ id: hexId('feed01') }));
      await s.addPod(pod({ id: hexId('feed02') }));
      await expectCode(s.lookupPod('feed'), 'AMBIGUOUS_ID');
    });

    it('an exact pod name wins over an id prefix', async () => {
      const s = await factory.open();
      await s.addPod(pod({ id: hexId('aced') }));
      const named = await s.addPod(pod({ name: 'aced' }));
      expect((await s.lookupPod('aced')).config.id).toBe(named.config.id);
    });

    it('lookupPod of an unknown input is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await s.addPod(pod());
      await expectCode(s.lookupPod('no-such-pod'), 'NO_SUCH_POD');
    });

    it('lookupPod does not resolve a container name', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.lookupPod(c.config.name), 'NO_SUCH_POD');
    });

    it('lookupPod does not resolve a container id', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.lookupPod(c.config.id), 'NO_SUCH_POD');
    });

    it('lookupPod does not resolve a container id prefix', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.lookupPod(c.config.id.slice(0, 12)), 'NO_SUCH_POD');
    });

    it('a prefix shared with a container resolves the pod (containers do not count)', async () => {
      const s = await factory.open();
      await s.addContainer(ctr({ id: hexId('e0e001') }));
      const p = await s.addPod(pod({ id: hexId('e0e002') }));
      expect((await s.lookupPod('e0e0')).config.id).toBe(p.config.id);
    });

    for (const input of ['%', '_', '*', 'ab%', 'a_c', 'w?b', '[a]b']) {
      it(`lookupPod(${JSON.stringify(input)}) is literal and matches nothing`, async () => {
        const s = await factory.open();
        await s.addPod(pod({ id: hexId('abcd'), name: 'web' }));
        await expectCode(s.lookupPod(input), 'NO_SUCH_POD');
      });
    }

    it('hasPod is true for an added pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.hasPod(p.config.id)).toBe(true);
    });

    it('hasPod is false for a missing id', async () => {
      const s = await factory.open();
      expect(await s.hasPod(hexId())).toBe(false);
    });

    it('hasPod is false for a container id', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.hasPod(c.config.id)).toBe(false);
    });

    it('allPods lists every pod', async () => {
      const s = await factory.open();
      const a = await s.addPod(pod());
      const b = await s.addPod(pod());
      expect(sorted((await s.allPods()).map((p) => p.config.id))).toEqual(sorted([a.config.id, b.config.id]));
    });

    it('allPods of an empty store is empty', async () => {
      const s = await factory.open();
      expect(await s.allPods()).toEqual([]);
    });

    it('addContainerToPod sets the pod of a container without one', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      expect(m.config.pod).toBe(p.config.id);
      expect((await s.container(m.config.id)).config.pod).toBe(p.config.id);
    });

    it('addContainerToPod accepts a container whose pod is this pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr({ pod: p.config.id }));
      expect(await s.podHasContainer(p, m.config.id)).toBe(true);
    });

    it('addContainerToPod refuses a container of another pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p1 = await s.addPod(pod());
      const p2 = await s.addPod(pod());
      const c = ctr({ pod: p2.config.id });
      await expectCode(s.addContainerToPod(p1, c), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(c.config.id)).toBe(false);
      expect(await s.podContainersByID(p1)).toEqual([]);
      expect(await s.podContainersByID(p2)).toEqual([]);
    });

    it('addContainerToPod of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      const c = ctr();
      await expectCode(s.addContainerToPod(pod(), c), 'NO_SUCH_POD');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('podHasContainer is true for a member', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      expect(await s.podHasContainer(p, m.config.id)).toBe(true);
    });

    it('podHasContainer is false for a container in no pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const c = await s.addContainer(ctr());
      expect(await s.podHasContainer(p, c.config.id)).toBe(false);
    });

    it('podHasContainer is false for a member of another pod', async () => {
      const s = await factory.open();
      const p1 = await s.addPod(pod());
      const p2 = await s.addPod(pod());
      const m = await s.addContainerToPod(p2, ctr());
      expect(await s.podHasContainer(p1, m.config.id)).toBe(false);
    });

    it('podHasContainer is false for a missing container', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.podHasContainer(p, hexId())).toBe(false);
    });

    it('podHasContainer of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.podHasContainer(pod(), hexId()), 'NO_SUCH_POD');
    });

    it('podContainersByID lists the ids of the members only', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const other = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr());
      await s.addContainerToPod(other, ctr());
      await s.addContainer(ctr());
      expect(sorted(await s.podContainersByID(p))).toEqual(sorted([m1.config.id, m2.config.id]));
    });

    it('podContainers returns the member objects', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr({ labels: { n: '1' } }));
      const m2 = await s.addContainerToPod(p, ctr({ labels: { n: '2' } }, { status: 'running' }));
      const got = await s.podContainers(p);
      const byId = new Map(got.map((c) => [c.config.id, c]));
      expect(got).toHaveLength(2);
      expect(byId.get(m1.config.id)).toEqual(m1);
      expect(byId.get(m2.config.id)).toEqual(m2);
    });

    it('podContainers and podContainersByID of an empty pod are empty', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.podContainers(p)).toEqual([]);
      expect(await s.podContainersByID(p)).toEqual([]);
    });

    it('podContainers of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.podContainers(pod()), 'NO_SUCH_POD');
    });

    it('podContainersByID of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.podContainersByID(pod()), 'NO_SUCH_POD');
    });

    it('removeContainerFromPod removes the member from the pod and the store', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr());
      await s.removeContainerFromPod(p, m1);
      expect(await s.podContainersByID(p)).toEqual([m2.config.id]);
      expect(await s.hasContainer(m1.config.id)).toBe(false);
      await expectCode(s.lookupContainer(m1.config.name), 'NO_SUCH_CONTAINER');
    });

    it('removeContainerFromPod frees the dependency of the removed member', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr({ dependencies: [m1.config.id] }));
      await s.removeContainerFromPod(p, m2);
      expect(await s.containerInUse(m1)).toEqual([]);
      await s.removeContainerFromPod(p, m1);
      expect(await s.podContainersByID(p)).toEqual([]);
    });

    it('a pod member with the id of a pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.addContainerToPod(p, ctr({ id: p.config.id })), 'POD_EXISTS');
      expect(await s.allContainers()).toEqual([]);
    });

    it('removeContainerFromPod refuses a member of another pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p1 = await s.addPod(pod());
      const p2 = await s.addPod(pod());
      const m = await s.addContainerToPod(p2, ctr());
      await expectCode(s.removeContainerFromPod(p1, m), 'INVALID_ARGUMENT');
      expect(await s.podContainersByID(p2)).toEqual([m.config.id]);
    });

    it('removeContainerFromPod of a container in no pod is NO_SUCH_POD (podman)', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const c = await s.addContainer(ctr());
      await expectCode(s.removeContainerFromPod(p, c), 'NO_SUCH_POD');
      expect(await s.hasContainer(c.config.id)).toBe(true);
    });

    it('removeContainerFromPod of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await expectCode(s.removeContainerFromPod(p, ctr({ pod: p.config.id })), 'NO_SUCH_CONTAINER');
    });

    it('removeContainerFromPod of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      const p = pod();
      await expectCode(s.removeContainerFromPod(p, ctr({ pod: p.config.id })), 'NO_SUCH_POD');
    });

    it('removePod removes an empty pod and frees its name and id', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.removePod(p);
      expect(await s.hasPod(p.config.id)).toBe(false);
      await expectCode(s.lookupPod(p.config.name), 'NO_SUCH_POD');
      await s.addContainer(ctr({ id: p.config.id, name: p.config.name }));
      expect(await s.lookupContainerID(p.config.name)).toBe(p.config.id);
    });

    it('removing a pod with containers is POD_NOT_EMPTY and changes nothing', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      await expectCode(s.removePod(p), 'POD_NOT_EMPTY');
      expect(await s.hasPod(p.config.id)).toBe(true);
      expect(await s.podContainersByID(p)).toEqual([m.config.id]);
    });

    it('removePod of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.removePod(pod()), 'NO_SUCH_POD');
    });

    it('removing a pod twice is NO_SUCH_POD the second time', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.removePod(p);
      await expectCode(s.removePod(p), 'NO_SUCH_POD');
    });

    it('removePodContainers removes every member and nothing else', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const other = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr());
      const om = await s.addContainerToPod(other, ctr());
      const c = await s.addContainer(ctr());
      await s.removePodContainers(p);
      expect(await s.podContainersByID(p)).toEqual([]);
      expect(await s.hasContainer(m1.config.id)).toBe(false);
      expect(await s.hasContainer(m2.config.id)).toBe(false);
      expect(await s.hasPod(p.config.id)).toBe(true);
      expect(sorted((await s.allContainers()).map((x) => x.config.id))).toEqual(sorted([om.config.id, c.config.id]));
    });

    it('removePodContainers removes members that depend on each other', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr({ dependencies: [m1.config.id] }));
      await s.addContainerToPod(p, ctr({ dependencies: [m1.config.id, m2.config.id] }));
      await s.removePodContainers(p);
      expect(await s.podContainersByID(p)).toEqual([]);
    });

    it('removePodContainers is all-or-nothing: EXEC_SESSION_EXISTS removes nothing', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m1 = await s.addContainerToPod(p, ctr());
      const m2 = await s.addContainerToPod(p, ctr());
      const m3 = await s.addContainerToPod(p, ctr());
      await s.addExecSession(m3, { id: 'e3', containerId: m3.config.id });
      await expectCode(s.removePodContainers(p), 'EXEC_SESSION_EXISTS');
      expect(sorted(await s.podContainersByID(p))).toEqual(sorted([m1.config.id, m2.config.id, m3.config.id]));
      expect(await s.getExecSession('e3')).toBe(m3.config.id);
    });

    it('removePodContainers of an empty pod succeeds', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.removePodContainers(p);
      expect(await s.hasPod(p.config.id)).toBe(true);
    });

    it('removePodContainers of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.removePodContainers(pod()), 'NO_SUCH_POD');
    });

    it('a pod can be removed after removePodContainers', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.addContainerToPod(p, ctr());
      await s.removePodContainers(p);
      await s.removePod(p);
      expect(await s.allPods()).toEqual([]);
      expect(await s.allContainers()).toEqual([]);
    });

    it('updatePod returns the stored pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.savePod({ ...p, state: { cgroupPath: '/sys/fs/cgroup/x', infraContainerId: 'i' } });
      expect((await s.updatePod(p)).state).toEqual({ cgroupPath: '/sys/fs/cgroup/x', infraContainerId: 'i' });
    });

    it('savePod writes the state but not the config', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod({ labels: { a: '1' } }));
      await s.savePod({ config: { ...p.config, labels: { a: 'changed' } }, state: { cgroupPath: '/c' } });
      const got = await s.pod(p.config.id);
      expect(got.state).toEqual({ cgroupPath: '/c' });
      expect(got.config.labels).toEqual({ a: '1' });
    });

    it('updatePod of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      await expectCode(s.updatePod(pod()), 'NO_SUCH_POD');
    });

    it('savePod of a missing pod is NO_SUCH_POD and creates nothing', async () => {
      const s = await factory.open();
      const p = pod();
      await expectCode(s.savePod(p), 'NO_SUCH_POD');
      expect(await s.hasPod(p.config.id)).toBe(false);
    });

    it('rewritePodConfig replaces the config and keeps the state', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod({ labels: { a: '1' } }, { cgroupPath: '/c' }));
      await s.rewritePodConfig(p, { ...p.config, labels: { b: '2' } });
      const got = await s.pod(p.config.id);
      expect(got.config.labels).toEqual({ b: '2' });
      expect(got.state).toEqual({ cgroupPath: '/c' });
    });

    it('rewritePodConfig cannot change the id (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const newId = hexId();
      await expectCode(s.rewritePodConfig(p, { ...p.config, id: newId }), 'INVALID_ARGUMENT');
      expect(await s.hasPod(newId)).toBe(false);
      expect(await s.pod(p.config.id)).toEqual(p);
    });

    it('rewritePodConfig of a missing pod is NO_SUCH_POD', async () => {
      const s = await factory.open();
      const p = pod();
      await expectCode(s.rewritePodConfig(p, p.config), 'NO_SUCH_POD');
    });

    it('rewritePodConfig may rename: the new name resolves, the old one is free', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      await s.rewritePodConfig(p, { ...p.config, name: 'renamed-pod' });
      expect((await s.lookupPod('renamed-pod')).config.id).toBe(p.config.id);
      await expectCode(s.lookupPod(p.config.name), 'NO_SUCH_POD');
      expect(await s.podContainersByID(p)).toEqual([m.config.id]);
      await s.addPod(pod({ name: p.config.name }));
    });

    it('rewritePodConfig to the name of another pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addPod(pod());
      const b = await s.addPod(pod());
      await expectCode(s.rewritePodConfig(a, { ...a.config, name: b.config.name }), 'POD_EXISTS');
      expect((await s.pod(a.config.id)).config.name).toBe(a.config.name);
    });

    it('rewritePodConfig to the name of a container is CONTAINER_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addPod(pod());
      const c = await s.addContainer(ctr());
      await expectCode(s.rewritePodConfig(a, { ...a.config, name: c.config.name }), 'CONTAINER_EXISTS');
      expect((await s.pod(a.config.id)).config.name).toBe(a.config.name);
    });

    it('rewritePodConfig to an invalid name is INVALID_NAME', async () => {
      const s = await factory.open();
      const a = await s.addPod(pod());
      await expectCode(s.rewritePodConfig(a, { ...a.config, name: 'bad name' }), 'INVALID_NAME');
      expect(await s.pod(a.config.id)).toEqual(a);
    });
  });
}

// ---------------------------------------------------------------- rewrites

function rewrites(factory: StoreFactory): void {
  describe('containers: rewriteContainerConfig and safeRewriteContainerConfig', () => {
    it('rewriteContainerConfig replaces the config and keeps the state', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ image: 'a:1' }, { status: 'running', pid: 7 }));
      await s.rewriteContainerConfig(c, { ...c.config, image: 'a:2', labels: { x: 'y' } });
      const got = await s.container(c.config.id);
      expect(got.config.image).toBe('a:2');
      expect(got.config.labels).toEqual({ x: 'y' });
      expect(got.state).toEqual(c.state);
    });

    it('rewriteContainerConfig cannot change the id (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const newId = hexId();
      await expectCode(s.rewriteContainerConfig(c, { ...c.config, id: newId, image: 'x' }), 'INVALID_ARGUMENT');
      expect(await s.hasContainer(newId)).toBe(false);
      expect(await s.container(c.config.id)).toEqual(c);
    });

    it('rewriteContainerConfig cannot put a container into a pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const c = await s.addContainer(ctr());
      await expectCode(s.rewriteContainerConfig(c, { ...c.config, pod: p.config.id }), 'INVALID_ARGUMENT');
      expect(await s.podContainersByID(p)).toEqual([]);
      expect(await s.container(c.config.id)).toEqual(c);
    });

    it('rewriteContainerConfig cannot take a member out of its pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      const { pod: _pod, ...withoutPod } = m.config;
      await expectCode(s.rewriteContainerConfig(m, withoutPod), 'INVALID_ARGUMENT');
      expect(await s.container(m.config.id)).toEqual(m);
    });

    it('rewriteContainerConfig cannot move a member to another pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p1 = await s.addPod(pod());
      const p2 = await s.addPod(pod());
      const m = await s.addContainerToPod(p1, ctr());
      await expectCode(s.rewriteContainerConfig(m, { ...m.config, pod: p2.config.id }), 'INVALID_ARGUMENT');
      expect(await s.podContainersByID(p1)).toEqual([m.config.id]);
      expect(await s.podContainersByID(p2)).toEqual([]);
    });

    it('rewriteContainerConfig cannot add a dependency (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const c = await s.addContainer(ctr());
      await expectCode(s.rewriteContainerConfig(c, { ...c.config, dependencies: [a.config.id] }), 'INVALID_ARGUMENT');
      expect(await s.containerInUse(a)).toEqual([]);
    });

    it('rewriteContainerConfig cannot drop a dependency (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const c = await s.addContainer(ctr({ dependencies: [a.config.id] }));
      await expectCode(s.rewriteContainerConfig(c, { ...c.config, dependencies: [] }), 'INVALID_ARGUMENT');
      expect(await s.containerInUse(a)).toEqual([c.config.id]);
    });

    it('rewriteContainerConfig of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const c = ctr();
      await expectCode(s.rewriteContainerConfig(c, c.config), 'NO_SUCH_CONTAINER');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('rewriteContainerConfig may rename: the new name resolves, the old one is free', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.rewriteContainerConfig(c, { ...c.config, name: 'renamed' });
      expect(await s.lookupContainerID('renamed')).toBe(c.config.id);
      await expectCode(s.lookupContainer(c.config.name), 'NO_SUCH_CONTAINER');
      const reuse = await s.addContainer(ctr({ name: c.config.name }));
      expect(await s.lookupContainerID(c.config.name)).toBe(reuse.config.id);
    });

    it('rewriteContainerConfig to the name of another container is CONTAINER_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await expectCode(s.rewriteContainerConfig(a, { ...a.config, name: b.config.name }), 'CONTAINER_EXISTS');
      expect(await s.lookupContainerID(a.config.name)).toBe(a.config.id);
      expect(await s.lookupContainerID(b.config.name)).toBe(b.config.id);
    });

    it('rewriteContainerConfig to the name of a pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const p = await s.addPod(pod());
      await expectCode(s.rewriteContainerConfig(a, { ...a.config, name: p.config.name }), 'POD_EXISTS');
      expect(await s.lookupContainerID(a.config.name)).toBe(a.config.id);
    });

    it('rewriteContainerConfig to an invalid name is INVALID_NAME', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(s.rewriteContainerConfig(a, { ...a.config, name: '/bad' }), 'INVALID_NAME');
      expect(await s.container(a.config.id)).toEqual(a);
    });

    it('rewriteContainerConfig to an empty name is EMPTY_ID', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(s.rewriteContainerConfig(a, { ...a.config, name: '' }), 'EMPTY_ID');
      expect(await s.container(a.config.id)).toEqual(a);
    });

    it('rewriteContainerConfig with a missing named volume is NO_SUCH_VOLUME', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(
        s.rewriteContainerConfig(a, { ...a.config, namedVolumes: [{ name: 'missing', dest: '/d' }] }),
        'NO_SUCH_VOLUME',
      );
      expect(await s.container(a.config.id)).toEqual(a);
    });

    it('safeRewriteContainerConfig renames and keeps id, pod and dependencies', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const dep = await s.addContainerToPod(p, ctr());
      const m = await s.addContainerToPod(p, ctr({ dependencies: [dep.config.id] }));
      await s.safeRewriteContainerConfig(m, m.config.name, 'new-name', { ...m.config, name: 'new-name' });
      const got = await s.container(m.config.id);
      expect(got.config.name).toBe('new-name');
      expect(got.config.pod).toBe(p.config.id);
      expect(got.config.dependencies).toEqual([dep.config.id]);
      expect(await s.podHasContainer(p, m.config.id)).toBe(true);
      expect(await s.containerInUse(dep)).toEqual([m.config.id]);
    });

    it('after safeRewriteContainerConfig the new name resolves and the old one is free', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.safeRewriteContainerConfig(c, c.config.name, 'fresh', { ...c.config, name: 'fresh' });
      expect(await s.lookupContainerID('fresh')).toBe(c.config.id);
      await expectCode(s.lookupContainerID(c.config.name), 'NO_SUCH_CONTAINER');
      await s.addPod(pod({ name: c.config.name }));
    });

    it('safeRewriteContainerConfig to the name of another container is CONTAINER_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const b = await s.addContainer(ctr());
      await expectCode(
        s.safeRewriteContainerConfig(a, a.config.name, b.config.name, { ...a.config, name: b.config.name }),
        'CONTAINER_EXISTS',
      );
      expect((await s.container(a.config.id)).config.name).toBe(a.config.name);
    });

    it('safeRewriteContainerConfig to the name of a pod is POD_EXISTS', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const p = await s.addPod(pod());
      await expectCode(
        s.safeRewriteContainerConfig(a, a.config.name, p.config.name, { ...a.config, name: p.config.name }),
        'POD_EXISTS',
      );
      expect((await s.container(a.config.id)).config.name).toBe(a.config.name);
    });

    it('safeRewriteContainerConfig to an invalid name is INVALID_NAME', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(
        s.safeRewriteContainerConfig(a, a.config.name, 'bad name', { ...a.config, name: 'bad name' }),
        'INVALID_NAME',
      );
      expect(await s.container(a.config.id)).toEqual(a);
    });

    it('safeRewriteContainerConfig cannot change the id (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(
        s.safeRewriteContainerConfig(a, a.config.name, 'x1', { ...a.config, id: hexId(), name: 'x1' }),
        'INVALID_ARGUMENT',
      );
      expect(await s.container(a.config.id)).toEqual(a);
    });

    it('safeRewriteContainerConfig cannot change the pod (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const p1 = await s.addPod(pod());
      const p2 = await s.addPod(pod());
      const m = await s.addContainerToPod(p1, ctr());
      await expectCode(
        s.safeRewriteContainerConfig(m, m.config.name, 'x2', { ...m.config, name: 'x2', pod: p2.config.id }),
        'INVALID_ARGUMENT',
      );
      expect(await s.container(m.config.id)).toEqual(m);
    });

    it('safeRewriteContainerConfig cannot change the dependencies (INVALID_ARGUMENT)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      const c = await s.addContainer(ctr());
      await expectCode(
        s.safeRewriteContainerConfig(c, c.config.name, 'x3', { ...c.config, name: 'x3', dependencies: [a.config.id] }),
        'INVALID_ARGUMENT',
      );
      expect(await s.container(c.config.id)).toEqual(c);
    });

    it('safeRewriteContainerConfig of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const c = ctr();
      await expectCode(
        s.safeRewriteContainerConfig(c, c.config.name, 'x4', { ...c.config, name: 'x4' }),
        'NO_SUCH_CONTAINER',
      );
    });

    it('safeRewriteContainerConfig with a config name other than newName is INVALID_ARGUMENT (podman)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(
        s.safeRewriteContainerConfig(a, a.config.name, 'one', { ...a.config, name: 'two' }),
        'INVALID_ARGUMENT',
      );
      expect(await s.container(a.config.id)).toEqual(a);
      expect(await s.hasContainer(a.config.id)).toBe(true);
    });

    it('safeRewriteContainerConfig with a new name but an empty old name is EMPTY_ID (DESIGN §3: an empty name argument)', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await expectCode(s.safeRewriteContainerConfig(a, '', 'three', { ...a.config, name: 'three' }), 'EMPTY_ID');
      expect(await s.container(a.config.id)).toEqual(a);
    });

    it('safeRewriteContainerConfig without a new name rewrites the config in place', async () => {
      const s = await factory.open();
      const a = await s.addContainer(ctr());
      await s.safeRewriteContainerConfig(a, '', '', { ...a.config, image: 'in-place:1' });
      const got = await s.container(a.config.id);
      expect(got.config.image).toBe('in-place:1');
      expect(got.config.name).toBe(a.config.name);
    });

    it('getName returns the new name after a rename', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.safeRewriteContainerConfig(c, c.config.name, 'after', { ...c.config, name: 'after' });
      expect(await s.getName(c.config.id)).toBe('after');
    });
  });
}

// ---------------------------------------------------------------- update / save

function updateAndSave(factory: StoreFactory): void {
  describe('containers: updateContainer and saveContainer', () => {
    it('saveContainer writes the state', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.saveContainer({ ...c, state: { status: 'running', pid: 1234, startedAt: '2024-01-01T00:00:00Z' } });
      expect((await s.container(c.config.id)).state).toEqual({
        status: 'running',
        pid: 1234,
        startedAt: '2024-01-01T00:00:00Z',
      });
    });

    it('saveContainer does not write the config', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ image: 'keep:1' }));
      await s.saveContainer({ config: { ...c.config, image: 'changed:2' }, state: { status: 'exited' } });
      const got = await s.container(c.config.id);
      expect(got.config.image).toBe('keep:1');
      expect(got.state.status).toBe('exited');
    });

    it('updateContainer returns the stored container for a stale copy', async () => {
      const s = await factory.open();
      const stale = await s.addContainer(ctr());
      await s.saveContainer({ ...stale, state: { status: 'paused', pid: 9 } });
      const fresh = await s.updateContainer(stale);
      expect(fresh.state).toEqual({ status: 'paused', pid: 9 });
      expect(fresh.config).toEqual(stale.config);
    });

    it('updateContainer sees a rewritten config', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.rewriteContainerConfig(c, { ...c.config, image: 'new:1' });
      expect((await s.updateContainer(c)).config.image).toBe('new:1');
    });

    it('updateContainer of a missing container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.updateContainer(ctr()), 'NO_SUCH_CONTAINER');
    });

    it('saveContainer of a missing container is NO_SUCH_CONTAINER and creates nothing', async () => {
      const s = await factory.open();
      const c = ctr();
      await expectCode(s.saveContainer(c), 'NO_SUCH_CONTAINER');
      expect(await s.hasContainer(c.config.id)).toBe(false);
    });

    it('a saved state is seen by another handle on the same store', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const other = await factory.reopen(s);
      await s.saveContainer({ ...c, state: { status: 'stopped' } });
      expect((await other.updateContainer(c)).state.status).toBe('stopped');
    });
  });
}

// ---------------------------------------------------------------- unknown fields

function unknownFieldRoundTrips(factory: StoreFactory): void {
  describe('unknown fields round-trip unchanged', () => {
    it('container config and state through container()', async () => {
      const s = await factory.open();
      const c = ctr({ ...unknownFields('cfg') }, { status: 'running', ...unknownFields('st') });
      await s.addContainer(c);
      const got = await s.container(c.config.id);
      expect(got.config).toMatchObject(c.config);
      expect(got.state).toEqual(c.state);
    });

    it('container config and state through lookupContainer and allContainers', async () => {
      const s = await factory.open();
      const c = ctr({ ...unknownFields('cfg') }, { status: 'running', ...unknownFields('st') });
      const added = await s.addContainer(c);
      expect(await s.lookupContainer(c.config.name)).toEqual(added);
      expect(await s.allContainers()).toEqual([added]);
    });

    it('container fields through podContainers', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(
        p,
        ctr({ ...unknownFields('m') }, { status: 'created', ...unknownFields('ms') }),
      );
      expect(await s.podContainers(p)).toEqual([m]);
    });

    it('known optional container fields round-trip', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const c = ctr(
        {
          command: ['/bin/sh', '-c', 'echo "hi" && exit 0'],
          env: { PATH: '/usr/bin', EMPTY: '' },
          labels: { 'io.x/y': 'z=1', unicode: 'ß😀' },
          namedVolumes: [{ name: v.config.name, dest: '/data', options: ['ro'] }],
          networks: { n1: { aliases: ['a'], interfaceName: 'eth1', staticIps: ['10.1.0.3'], staticMac: 'aa:bb' } },
        },
        { status: 'running', pid: 1, exitCode: 0, startedAt: 's', finishedAt: 'f', mounted: true, mountpoint: '/m' },
      );
      await s.addContainer(c);
      const got = await s.container(c.config.id);
      expect(got.config).toMatchObject(c.config);
      expect(got.state).toEqual(c.state);
    });

    it('saveContainer stores unknown state fields', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const state = { status: 'running', ...unknownFields('saved') };
      await s.saveContainer({ ...c, state });
      expect((await s.updateContainer(c)).state).toEqual(state);
    });

    it('rewriteContainerConfig stores unknown config fields', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const config = { ...c.config, ...unknownFields('rw') };
      await s.rewriteContainerConfig(c, config);
      expect(await s.getContainerConfig(c.config.id)).toEqual(config);
    });

    it('rewriteContainerConfig keeps unknown state fields', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({}, { status: 'running', ...unknownFields('keep') }));
      await s.rewriteContainerConfig(c, { ...c.config, image: 'x' });
      expect((await s.container(c.config.id)).state).toEqual(c.state);
    });

    it('pod config and state', async () => {
      const s = await factory.open();
      const p = pod({ ...unknownFields('pc') }, { cgroupPath: '/c', ...unknownFields('ps') });
      const added = await s.addPod(p);
      const got = await s.pod(p.config.id);
      expect(got.config).toMatchObject(p.config);
      expect(got.state).toEqual(p.state);
      expect(await s.lookupPod(p.config.name)).toEqual(added);
      expect(await s.allPods()).toEqual([added]);
    });

    it('savePod and rewritePodConfig store unknown fields', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const state = { ...unknownFields('ps2') };
      const config = { ...p.config, ...unknownFields('pc2') };
      await s.savePod({ ...p, state });
      await s.rewritePodConfig(p, config);
      expect(await s.pod(p.config.id)).toEqual({ config, state });
    });

    it('volume config and state', async () => {
      const s = await factory.open();
      const v = vol({ ...unknownFields('vc') }, { mountCount: 0, ...unknownFields('vs') });
      const added = await s.addVolume(v);
      const got = await s.volume(v.config.name);
      expect(got.config).toMatchObject(v.config);
      expect(got.state).toEqual(v.state);
      expect(await s.lookupVolume(v.config.name)).toEqual(added);
      expect(await s.allVolumes()).toEqual([added]);
    });

    it('saveVolume and rewriteVolumeConfig store unknown fields', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol());
      const state = { mountCount: 1, ...unknownFields('vs2') };
      const config = { ...v.config, ...unknownFields('vc2') };
      await s.saveVolume({ ...v, state });
      await s.rewriteVolumeConfig(v, config);
      expect(await s.volume(v.config.name)).toEqual({ config, state });
    });
  });
}

// ---------------------------------------------------------------- getName

function names(factory: StoreFactory): void {
  describe('getName', () => {
    it('returns the name of a container', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      expect(await s.getName(c.config.id)).toBe(c.config.name);
    });

    it('returns the name of a pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      expect(await s.getName(p.config.id)).toBe(p.config.name);
    });

    it('returns the name of a pod member', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr());
      expect(await s.getName(m.config.id)).toBe(m.config.name);
    });

    it('of a missing id is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      await expectCode(s.getName(hexId()), 'NO_SUCH_CONTAINER');
    });

    it('does not resolve a name', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.getName(c.config.name), 'NO_SUCH_CONTAINER');
    });

    it('does not resolve an id prefix', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await expectCode(s.getName(c.config.id.slice(0, 12)), 'NO_SUCH_CONTAINER');
    });

    it('of a removed container is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      await s.removeContainer(c);
      await expectCode(s.getName(c.config.id), 'NO_SUCH_CONTAINER');
    });

    it('of a removed pod is NO_SUCH_CONTAINER', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.removePod(p);
      await expectCode(s.getName(p.config.id), 'NO_SUCH_CONTAINER');
    });

    it('returns the new name of a renamed pod', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      await s.rewritePodConfig(p, { ...p.config, name: 'pod-renamed' });
      expect(await s.getName(p.config.id)).toBe('pod-renamed');
    });
  });
}

// ---------------------------------------------------------------- DB config

const DB_FIELDS = ['os', 'staticDir', 'tmpDir', 'graphRoot', 'runRoot', 'graphDriver', 'volumePath'] as const;

function fullDBConfig(tag: string) {
  return {
    os: `linux${tag}`,
    staticDir: `/var/lib/static${tag}`,
    tmpDir: `/run/tmp${tag}`,
    graphRoot: `/var/lib/graph${tag}`,
    runRoot: `/run/root${tag}`,
    graphDriver: `overlay${tag}`,
    volumePath: `/var/lib/volumes${tag}`,
  };
}

function dbConfig(factory: StoreFactory): void {
  describe('getDBConfig and validateDBConfig', () => {
    it('a fresh store has every field empty', async () => {
      const s = await factory.open();
      expect(await s.getDBConfig()).toEqual({
        os: '',
        staticDir: '',
        tmpDir: '',
        graphRoot: '',
        runRoot: '',
        graphDriver: '',
        volumePath: '',
      });
    });

    it('the first caller records its values', async () => {
      const s = await factory.open();
      await s.validateDBConfig(fullDBConfig(''));
      expect(await s.getDBConfig()).toEqual(fullDBConfig(''));
    });

    it('the recorded values are seen by another handle', async () => {
      const s = await factory.open();
      await s.validateDBConfig(fullDBConfig(''));
      const other = await factory.reopen(s);
      expect(await other.getDBConfig()).toEqual(fullDBConfig(''));
    });

    it('the same values validate again', async () => {
      const s = await factory.open();
      await s.validateDBConfig(fullDBConfig(''));
      await s.validateDBConfig(fullDBConfig(''));
      expect(await s.getDBConfig()).toEqual(fullDBConfig(''));
    });

    for (const field of DB_FIELDS) {
      it(`a differing ${field} is DB_CONFIG_MISMATCH naming the field`, async () => {
        const s = await factory.open();
        await s.validateDBConfig(fullDBConfig(''));
        const err = await expectCode(
          s.validateDBConfig({ ...fullDBConfig(''), [field]: 'something-else' }),
          'DB_CONFIG_MISMATCH',
        );
        expect(err.details.field).toBe(field);
      });
    }

    it('a mismatch changes nothing', async () => {
      const s = await factory.open();
      await s.validateDBConfig({ ...fullDBConfig(''), tmpDir: '' });
      await expectCode(s.validateDBConfig({ ...fullDBConfig('-2'), tmpDir: '/new/tmp' }), 'DB_CONFIG_MISMATCH');
      expect(await s.getDBConfig()).toEqual({ ...fullDBConfig(''), tmpDir: '' });
    });

    it('a mismatch is found from another handle on the same store', async () => {
      const s = await factory.open();
      await s.validateDBConfig(fullDBConfig(''));
      const other = await factory.reopen(s);
      const err = await expectCode(other.validateDBConfig({ graphRoot: '/elsewhere' }), 'DB_CONFIG_MISMATCH');
      expect(err.details.field).toBe('graphRoot');
    });

    it('empty values of a later caller never conflict', async () => {
      const s = await factory.open();
      await s.validateDBConfig(fullDBConfig(''));
      await s.validateDBConfig({
        os: '',
        staticDir: '',
        tmpDir: '',
        graphRoot: '',
        runRoot: '',
        graphDriver: '',
        volumePath: '',
      });
      expect(await s.getDBConfig()).toEqual(fullDBConfig(''));
    });

    it('absent values of a later caller never conflict', async () => {
      const s = await factory.open();
      await s.validateDBConfig(fullDBConfig(''));
      await s.validateDBConfig({ graphRoot: fullDBConfig('').graphRoot });
      expect(await s.getDBConfig()).toEqual(fullDBConfig(''));
    });

    it('an empty recorded value never conflicts with a later non-empty one', async () => {
      const s = await factory.open();
      await s.validateDBConfig({ ...fullDBConfig(''), volumePath: '' });
      await s.validateDBConfig({ ...fullDBConfig(''), volumePath: '/later/volumes' });
    });

    it('a later caller fills in nothing the first caller left empty (the first caller records its values)', async () => {
      const s = await factory.open();
      await s.validateDBConfig({ ...fullDBConfig(''), volumePath: '' });
      await s.validateDBConfig({ ...fullDBConfig(''), volumePath: '/later/volumes' });
      expect((await s.getDBConfig()).volumePath).toBe('');
      // So a third caller with yet another value is no mismatch either.
      await s.validateDBConfig({ volumePath: '/third/volumes' });
      expect(await s.getDBConfig()).toEqual({ ...fullDBConfig(''), volumePath: '' });
    });

    it('diagnose reports the boot id this host recorded', async () => {
      const s = await factory.open({ bootId: 'boot-of-this-host' });
      const report = await s.diagnose();
      expect(report.bootId).toEqual({ current: 'boot-of-this-host', recorded: 'boot-of-this-host' });
    });

    it('a first caller with some empty fields records the others', async () => {
      const s = await factory.open();
      await s.validateDBConfig({ os: 'linux', graphDriver: 'overlay' });
      const got = await s.getDBConfig();
      expect(got.os).toBe('linux');
      expect(got.graphDriver).toBe('overlay');
      expect(got.graphRoot).toBe('');
    });
  });
}

// ---------------------------------------------------------------- refresh

function refresh(factory: StoreFactory): void {
  describe('refresh', () => {
    const transitions: [string, string][] = [
      ['running', 'exited'],
      ['paused', 'exited'],
      ['stopping', 'exited'],
      ['stopped', 'exited'],
      ['created', 'configured'],
      ['unknown', 'configured'],
      ['removing', 'removing'],
      ['configured', 'configured'],
      ['exited', 'exited'],
    ];
    for (const [from, to] of transitions) {
      it(`turns status ${from} into ${to}`, async () => {
        const s = await factory.open();
        const c = await s.addContainer(ctr({}, { status: from }));
        await s.refresh();
        expect((await s.container(c.config.id)).state.status).toBe(to);
      });
    }

    it('also resets pod members', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod());
      const m = await s.addContainerToPod(p, ctr({}, { status: 'running' }));
      await s.refresh();
      expect((await s.container(m.config.id)).state.status).toBe('exited');
    });

    it('clears pid, mounted, mountpoint and execSessions and keeps other state fields', async () => {
      const s = await factory.open();
      const c = await s.addContainer(
        ctr(
          {},
          {
            status: 'running',
            pid: 4242,
            mounted: true,
            mountpoint: '/var/lib/x/merged',
            execSessions: { e1: { pid: 5 } },
            startedAt: '2024-01-01T00:00:00Z',
            'x-custom': { keep: true },
          },
        ),
      );
      await s.refresh();
      const state = (await s.container(c.config.id)).state;
      expect(state.pid).toBeUndefined();
      expect(state.mounted).toBeUndefined();
      expect(state.mountpoint).toBeUndefined();
      expect(state.execSessions).toBeUndefined();
      expect(state.startedAt).toBe('2024-01-01T00:00:00Z');
      expect(state['x-custom']).toEqual({ keep: true });
    });

    it('leaves the config unchanged', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({ labels: { a: 'b' }, ...unknownFields('r') }, { status: 'running' }));
      await s.refresh();
      expect((await s.container(c.config.id)).config).toEqual(c.config);
    });

    it('drops exec sessions', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({}, { status: 'running' }));
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await s.refresh();
      await expectCode(s.getExecSession('e1'), 'NO_SUCH_EXEC_SESSION');
      expect(await s.getContainerExecSessions(c)).toEqual([]);
    });

    it('drops exit codes', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr({}, { status: 'exited', exitCode: 1 }));
      await s.addContainerExitCode(c.config.id, 1);
      await s.addContainerExitCode(hexId(), 2);
      await s.refresh();
      await expectCode(s.getContainerExitCode(c.config.id), 'NO_SUCH_EXIT_CODE');
    });

    it('a container that was running has no exit code afterwards; an exited one keeps its own', async () => {
      const s = await factory.open();
      const running = await s.addContainer(ctr({}, { status: 'running', exitCode: 0 }));
      const exited = await s.addContainer(ctr({}, { status: 'exited', exitCode: 3 }));
      await s.refresh();
      expect((await s.container(running.config.id)).state).not.toHaveProperty('exitCode');
      expect((await s.container(running.config.id)).state.status).toBe('exited');
      expect((await s.container(exited.config.id)).state.exitCode).toBe(3);
    });

    it('clears the cgroupPath of pods and keeps other pod state', async () => {
      const s = await factory.open();
      const p = await s.addPod(pod({}, { cgroupPath: '/sys/fs/cgroup/pod', infraContainerId: 'infra', 'x-k': 1 }));
      await s.refresh();
      const state = (await s.pod(p.config.id)).state;
      expect(state.cgroupPath).toBeUndefined();
      expect(state.infraContainerId).toBe('infra');
      expect(state['x-k']).toBe(1);
    });

    it('zeroes volume mount counts', async () => {
      const s = await factory.open();
      const v = await s.addVolume(vol({}, { mountCount: 3, 'x-v': 'keep' }));
      await s.refresh();
      const state = (await s.volume(v.config.name)).state;
      expect(state.mountCount ?? 0).toBe(0);
      expect(state['x-v']).toBe('keep');
    });

    it('keeps every object', async () => {
      const s = await factory.open();
      const w = await seedWorld(s);
      await s.refresh();
      expect(await s.hasContainer(w.c.config.id)).toBe(true);
      expect(await s.hasContainer(w.m.config.id)).toBe(true);
      expect(await s.hasPod(w.p.config.id)).toBe(true);
      expect(await s.hasVolume(w.v.config.name)).toBe(true);
    });

    it('runs by itself when the boot id changed', async () => {
      const s = await factory.open({ bootId: 'a' });
      const c = await s.addContainer(ctr({}, { status: 'running', pid: 77 }));
      const after = await factory.reopen(s, { bootId: 'b' });
      const state = (await after.container(c.config.id)).state;
      expect(state.status).toBe('exited');
      expect(state.pid).toBeUndefined();
    });

    it('does not run when the boot id is the same', async () => {
      const s = await factory.open({ bootId: 'a' });
      const c = await s.addContainer(ctr({}, { status: 'running', pid: 77 }));
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      const again = await factory.reopen(s, { bootId: 'a' });
      expect((await again.container(c.config.id)).state).toEqual({ status: 'running', pid: 77 });
      expect(await again.getExecSession('e1')).toBe(c.config.id);
    });

    it('a reboot drops exec sessions and exit codes', async () => {
      const s = await factory.open({ bootId: 'a' });
      const c = await s.addContainer(ctr({}, { status: 'running' }));
      await s.addExecSession(c, { id: 'e1', containerId: c.config.id });
      await s.addContainerExitCode(c.config.id, 5);
      const after = await factory.reopen(s, { bootId: 'b' });
      await expectCode(after.getExecSession('e1'), 'NO_SUCH_EXEC_SESSION');
      await expectCode(after.getContainerExitCode(c.config.id), 'NO_SUCH_EXIT_CODE');
    });

    it('runs only once per boot', async () => {
      const s = await factory.open({ bootId: 'a' });
      const c = await s.addContainer(ctr({}, { status: 'running' }));
      const first = await factory.reopen(s, { bootId: 'b' });
      await first.saveContainer({ ...c, state: { status: 'running', pid: 9 } });
      const second = await factory.reopen(s, { bootId: 'b' });
      expect((await second.container(c.config.id)).state).toEqual({ status: 'running', pid: 9 });
    });
  });
}

// ---------------------------------------------------------------- EMPTY_ID

type Call = (s: Store, w: World) => unknown;

function emptyContainer(): Container {
  return { config: { id: '', name: 'x' }, state: { status: 'configured' } };
}

function emptyPod(): Pod {
  return { config: { id: '', name: 'x' }, state: {} };
}

function emptyVolume(): Volume {
  return { config: { name: '' }, state: {} };
}

function emptyIds(factory: StoreFactory): void {
  const calls: [string, Call][] = [
    ['getName', (s) => s.getName('')],
    ['container', (s) => s.container('')],
    ['lookupContainer', (s) => s.lookupContainer('')],
    ['lookupContainerID', (s) => s.lookupContainerID('')],
    ['hasContainer', (s) => s.hasContainer('')],
    ['getContainerConfig', (s) => s.getContainerConfig('')],
    ['addContainer (empty id)', (s) => s.addContainer(ctr({ id: '' }))],
    ['addContainer (empty name)', (s) => s.addContainer(ctr({ name: '' }))],
    ['removeContainer', (s) => s.removeContainer(emptyContainer())],
    ['updateContainer', (s) => s.updateContainer(emptyContainer())],
    ['saveContainer', (s) => s.saveContainer(emptyContainer())],
    ['containerInUse', (s) => s.containerInUse(emptyContainer())],
    ['rewriteContainerConfig', (s) => s.rewriteContainerConfig(emptyContainer(), emptyContainer().config)],
    [
      'safeRewriteContainerConfig',
      (s) => s.safeRewriteContainerConfig(emptyContainer(), 'x', 'y', { ...emptyContainer().config, name: 'y' }),
    ],
    ['getNetworks', (s) => s.getNetworks(emptyContainer())],
    ['networkConnect', (s) => s.networkConnect(emptyContainer(), 'net', {})],
    ['networkDisconnect', (s) => s.networkDisconnect(emptyContainer(), 'net')],
    ['addContainerExitCode', (s) => s.addContainerExitCode('', 0)],
    ['getContainerExitCode', (s) => s.getContainerExitCode('')],
    ['addExecSession (empty container id)', (s) => s.addExecSession(emptyContainer(), { id: 'e', containerId: '' })],
    ['addExecSession (empty session id)', (s, w) => s.addExecSession(w.c, { id: '', containerId: w.c.config.id })],
    ['getExecSession', (s) => s.getExecSession('')],
    ['removeExecSession', (s, w) => s.removeExecSession({ id: '', containerId: w.c.config.id })],
    ['getContainerExecSessions', (s) => s.getContainerExecSessions(emptyContainer())],
    ['removeContainerExecSessions', (s) => s.removeContainerExecSessions(emptyContainer())],
    ['pod', (s) => s.pod('')],
    ['lookupPod', (s) => s.lookupPod('')],
    ['hasPod', (s) => s.hasPod('')],
    ['podHasContainer (empty pod id)', (s, w) => s.podHasContainer(emptyPod(), w.m.config.id)],
    ['podHasContainer (empty container id)', (s, w) => s.podHasContainer(w.p, '')],
    ['podContainersByID', (s) => s.podContainersByID(emptyPod())],
    ['podContainers', (s) => s.podContainers(emptyPod())],
    ['addPod (empty id)', (s) => s.addPod(pod({ id: '' }))],
    ['addPod (empty name)', (s) => s.addPod(pod({ name: '' }))],
    ['removePod', (s) => s.removePod(emptyPod())],
    ['removePodContainers', (s) => s.removePodContainers(emptyPod())],
    ['addContainerToPod (empty pod id)', (s) => s.addContainerToPod(emptyPod(), ctr())],
    ['addContainerToPod (empty container id)', (s, w) => s.addContainerToPod(w.p, ctr({ id: '' }))],
    ['addContainerToPod (empty container name)', (s, w) => s.addContainerToPod(w.p, ctr({ name: '' }))],
    ['removeContainerFromPod (empty pod id)', (s, w) => s.removeContainerFromPod(emptyPod(), w.m)],
    ['removeContainerFromPod (empty container id)', (s, w) => s.removeContainerFromPod(w.p, emptyContainer())],
    ['updatePod', (s) => s.updatePod(emptyPod())],
    ['savePod', (s) => s.savePod(emptyPod())],
    ['rewritePodConfig', (s) => s.rewritePodConfig(emptyPod(), emptyPod().config)],
    ['volume', (s) => s.volume('')],
    ['lookupVolume', (s) => s.lookupVolume('')],
    ['hasVolume', (s) => s.hasVolume('')],
    ['volumeInUse', (s) => s.volumeInUse(emptyVolume())],
    ['addVolume', (s) => s.addVolume(vol({ name: '' }))],
    ['removeVolume', (s) => s.removeVolume(emptyVolume())],
    ['updateVolume', (s) => s.updateVolume(emptyVolume())],
    ['saveVolume', (s) => s.saveVolume(emptyVolume())],
    ['rewriteVolumeConfig', (s) => s.rewriteVolumeConfig(emptyVolume(), emptyVolume().config)],
  ];

  describe('EMPTY_ID', () => {
    for (const [name, call] of calls) {
      it(`${name} with an empty id or name is EMPTY_ID and changes nothing`, async () => {
        const s = await factory.open();
        const w = await seedWorld(s);
        const before = await snapshotObjects(s);
        await expectCode(() => call(s, w), 'EMPTY_ID');
        expect(await snapshotObjects(s)).toEqual(before);
      });
    }
  });
}

async function snapshotObjects(s: Store): Promise<unknown> {
  return { containers: await s.allContainers(), pods: await s.allPods(), volumes: await s.allVolumes() };
}

// ---------------------------------------------------------------- STORE_CLOSED

function closedStore(factory: StoreFactory): void {
  const calls: [string, Call][] = [
    ['setNamespace', (s) => s.setNamespace('ns1')],
    ['refresh', (s) => s.refresh()],
    ['getDBConfig', (s) => s.getDBConfig()],
    ['validateDBConfig', (s) => s.validateDBConfig({ os: 'linux' })],
    ['getName', (s, w) => s.getName(w.c.config.id)],
    ['container', (s, w) => s.container(w.c.config.id)],
    ['lookupContainer', (s, w) => s.lookupContainer(w.c.config.name)],
    ['lookupContainerID', (s, w) => s.lookupContainerID(w.c.config.name)],
    ['hasContainer', (s, w) => s.hasContainer(w.c.config.id)],
    ['addContainer', (s) => s.addContainer(ctr())],
    ['removeContainer', (s, w) => s.removeContainer(w.c)],
    ['updateContainer', (s, w) => s.updateContainer(w.c)],
    ['saveContainer', (s, w) => s.saveContainer(w.c)],
    ['containerInUse', (s, w) => s.containerInUse(w.c)],
    ['allContainers', (s) => s.allContainers()],
    ['getContainerConfig', (s, w) => s.getContainerConfig(w.c.config.id)],
    ['rewriteContainerConfig', (s, w) => s.rewriteContainerConfig(w.c, w.c.config)],
    [
      'safeRewriteContainerConfig',
      (s, w) => s.safeRewriteContainerConfig(w.c, w.c.config.name, 'z', { ...w.c.config, name: 'z' }),
    ],
    ['getNetworks', (s, w) => s.getNetworks(w.c)],
    ['networkConnect', (s, w) => s.networkConnect(w.c, 'other', {})],
    ['networkDisconnect', (s, w) => s.networkDisconnect(w.c, 'net0')],
    ['addContainerExitCode', (s, w) => s.addContainerExitCode(w.c.config.id, 0)],
    ['getContainerExitCode', (s, w) => s.getContainerExitCode(w.c.config.id)],
    ['pruneContainerExitCodes', (s) => s.pruneContainerExitCodes()],
    ['addExecSession', (s, w) => s.addExecSession(w.c, { id: 'new', containerId: w.c.config.id })],
    ['getExecSession', (s) => s.getExecSession('sess-world')],
    ['removeExecSession', (s, w) => s.removeExecSession({ id: 'sess-world', containerId: w.c.config.id })],
    ['getContainerExecSessions', (s, w) => s.getContainerExecSessions(w.c)],
    ['removeContainerExecSessions', (s, w) => s.removeContainerExecSessions(w.c)],
    ['pod', (s, w) => s.pod(w.p.config.id)],
    ['lookupPod', (s, w) => s.lookupPod(w.p.config.name)],
    ['hasPod', (s, w) => s.hasPod(w.p.config.id)],
    ['podHasContainer', (s, w) => s.podHasContainer(w.p, w.m.config.id)],
    ['podContainersByID', (s, w) => s.podContainersByID(w.p)],
    ['podContainers', (s, w) => s.podContainers(w.p)],
    ['addPod', (s) => s.addPod(pod())],
    ['removePod', (s, w) => s.removePod(w.p)],
    ['removePodContainers', (s, w) => s.removePodContainers(w.p)],
    ['addContainerToPod', (s, w) => s.addContainerToPod(w.p, ctr())],
    ['removeContainerFromPod', (s, w) => s.removeContainerFromPod(w.p, w.m)],
    ['updatePod', (s, w) => s.updatePod(w.p)],
    ['savePod', (s, w) => s.savePod(w.p)],
    ['allPods', (s) => s.allPods()],
    ['rewritePodConfig', (s, w) => s.rewritePodConfig(w.p, w.p.config)],
    ['volume', (s, w) => s.volume(w.v.config.name)],
    ['lookupVolume', (s, w) => s.lookupVolume(w.v.config.name)],
    ['hasVolume', (s, w) => s.hasVolume(w.v.config.name)],
    ['volumeInUse', (s, w) => s.volumeInUse(w.v)],
    ['addVolume', (s) => s.addVolume(vol())],
    ['removeVolume', (s, w) => s.removeVolume(w.v)],
    ['updateVolume', (s, w) => s.updateVolume(w.v)],
    ['saveVolume', (s, w) => s.saveVolume(w.v)],
    ['allVolumes', (s) => s.allVolumes()],
    ['rewriteVolumeConfig', (s, w) => s.rewriteVolumeConfig(w.v, w.v.config)],
  ];

  describe('close', () => {
    for (const [name, call] of calls) {
      it(`${name} after close is STORE_CLOSED`, async () => {
        const s = await factory.open();
        const w = await seedWorld(s);
        await s.close();
        await expectCode(() => call(s, w), 'STORE_CLOSED');
      });
    }

    it('closing twice is harmless', async () => {
      const s = await factory.open();
      await s.close();
      await s.close();
      await expectCode(s.allContainers(), 'STORE_CLOSED');
    });

    it('closing one handle leaves another handle on the same store working', async () => {
      const s = await factory.open();
      const c = await s.addContainer(ctr());
      const other = await factory.reopen(s);
      await s.close();
      expect(await other.container(c.config.id)).toEqual(c);
      await other.addContainer(ctr());
      expect(await other.allContainers()).toHaveLength(2);
    });

    it('calls that fail on a closed store change nothing', async () => {
      const s = await factory.open();
      const w = await seedWorld(s);
      const other = await factory.reopen(s);
      await s.close();
      await expectCode(s.removeVolume(w.v), 'STORE_CLOSED');
      await expectCode(s.addPod(pod()), 'STORE_CLOSED');
      expect(await other.hasVolume(w.v.config.name)).toBe(true);
      expect(await other.allPods()).toHaveLength(1);
    });
  });
}
