import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Container, ContainerQuery, ContainerSummary, ContainerSummaryField, Store } from '../../src/index.js';
import type { StoreFactory } from '../helpers/store-factory.js';
import { expectCode } from './builders.js';

/*
 * The listing query (store.listContainers) against a reference: the same selection, order
 * and fields computed in plain TypeScript from allContainers(), on random stores and
 * random queries, per backend. Seeded: BERTH_LISTING_SEED repeats a run.
 */

const SEED = Number(process.env.BERTH_LISTING_SEED ?? 20261204);
const STATUSES = ['configured', 'created', 'running', 'paused', 'stopping', 'stopped', 'exited', 'unknown', 'odd'];
const IMAGES = [
  'nginx',
  'nginx:1.27',
  'docker.io/library/nginx:1.27',
  'docker.io/library/nginx@sha256:ab',
  'redis:7',
  'quay.io/x/redis',
  undefined,
];
const LABEL_KEYS = ['app', 'tier', 'x.y', 'q"k', 'ünï'];
const LABEL_VALUES = ['web', 'db', '', 'a=b', 'v"1'];
const NAMESPACES = ['', 'ns1', 'ns2'];
const WORDS: Record<string, string[]> = {
  created: ['configured', 'created'],
  configured: ['configured'],
  running: ['running'],
  paused: ['paused'],
  stopping: ['stopping'],
  exited: ['exited', 'stopped'],
  stopped: ['exited', 'stopped'],
  removing: ['removing'],
  unknown: ['unknown'],
};
const STATE: Record<string, string> = {
  configured: 'created',
  created: 'created',
  running: 'running',
  paused: 'paused',
  stopping: 'stopping',
  stopped: 'exited',
  exited: 'exited',
  removing: 'removing',
  unknown: 'unknown',
};

interface Spec {
  status: string;
  image: string | undefined;
  labels: Record<string, string>;
  ns: string;
  pod: number | undefined;
  volume: number | undefined;
  exitCode: number | undefined;
  created: number;
  command: string[] | undefined;
  networks: string[];
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  status: fc.constantFrom(...STATUSES),
  image: fc.constantFrom(...IMAGES),
  labels: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 }),
  ns: fc.constantFrom(...NAMESPACES),
  pod: fc.option(fc.nat(2), { nil: undefined }),
  volume: fc.option(fc.nat(2), { nil: undefined }),
  exitCode: fc.option(fc.constantFrom(0, 1, 137), { nil: undefined }),
  created: fc.nat(20),
  command: fc.option(fc.array(fc.constantFrom('sh', '-c', 'run', 'x y'), { maxLength: 3 }), { nil: undefined }),
  networks: fc.uniqueArray(fc.constantFrom('front', 'back'), { maxLength: 2 }),
});

type QuerySpec = {
  all: boolean;
  filters: Record<string, string[]>;
  sort: NonNullable<ContainerQuery['sort']>;
  limit: number | undefined;
  fields: ContainerSummaryField[] | undefined;
};

const FIELDS: ContainerSummaryField[] = [
  'id',
  'name',
  'namespace',
  'pod',
  'podName',
  'image',
  'command',
  'status',
  'state',
  'exitCode',
  'startedAt',
  'finishedAt',
  'createdAt',
  'labels',
  'mounts',
  'networks',
];

/** A summary with only `fields` (and the id), as the engine must give it. */
function project(s: ContainerSummary, fields: readonly ContainerSummaryField[] | undefined): Partial<ContainerSummary> {
  if (fields === undefined) return s;
  return Object.fromEntries(FIELDS.filter((f) => f === 'id' || fields.includes(f)).map((f) => [f, s[f]]));
}

function queryArb(refs: {
  ids: string[];
  names: string[];
  pods: string[];
  volumes: string[];
}): fc.Arbitrary<QuerySpec> {
  const pick = <T>(xs: readonly T[]): fc.Arbitrary<T[]> =>
    xs.length === 0 ? fc.constant([]) : fc.uniqueArray(fc.constantFrom(...xs), { minLength: 1, maxLength: 2 });
  const labelFilter = fc.oneof(
    fc.constantFrom(...LABEL_KEYS),
    fc.tuple(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES)).map(([k, v]) => `${k}=${v}`),
  );
  const byKey: Record<string, fc.Arbitrary<string[]>> = {
    id: pick(refs.ids.map((id) => id.slice(0, 1 + (id.charCodeAt(0) % 3)))),
    name: pick([...refs.names.map((n) => n.slice(2, 5)), 'zz']),
    label: fc.uniqueArray(labelFilter, { minLength: 1, maxLength: 2 }),
    'label!': fc.uniqueArray(labelFilter, { minLength: 1, maxLength: 2 }),
    status: pick(Object.keys(WORDS)),
    ancestor: pick(['nginx', 'redis', 'docker.io/library/nginx', 'nginx:1.27', 'x/redis']),
    pod: pick(refs.pods),
    volume: pick(refs.volumes),
    namespace: pick(NAMESPACES),
    before: pick(refs.names),
    since: pick(refs.names),
    exited: pick(['0', '1', '137']),
  };
  // At most two keys at once: more would almost always select nothing.
  const filters = fc
    .subarray(Object.keys(byKey), { maxLength: 2 })
    .chain((keys) => fc.tuple(...keys.map((k) => byKey[k]!.map((v): [string, string[]] => [k, v]))))
    .map((entries) => Object.fromEntries(entries.filter(([, v]) => v.length > 0)));
  return fc.record({
    all: fc.boolean(),
    filters,
    sort: fc.constantFrom('created', 'id', 'image', 'names', 'status', 'pod', 'runningfor', 'command'),
    limit: fc.option(fc.nat(6), { nil: undefined }),
    fields: fc.option(fc.subarray(FIELDS), { nil: undefined }),
  });
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Missing values first, then byte order (code units for these ASCII-free-of-surrogate values). */
const nullsFirst = (a: string | null, b: string | null): number =>
  a === null ? (b === null ? 0 : -1) : b === null ? 1 : cmp(a, b);

function hasLabel(labels: Record<string, string>, f: string): boolean {
  const at = f.indexOf('=');
  if (at < 0) return Object.hasOwn(labels, f);
  const k = f.slice(0, at);
  return Object.hasOwn(labels, k) && labels[k] === f.slice(at + 1);
}

function ancestor(image: string | null, x: string): boolean {
  if (image === null) return false;
  return (
    image === x ||
    image.startsWith(`${x}:`) ||
    image.startsWith(`${x}@`) ||
    image.endsWith(`/${x}`) ||
    image.includes(`/${x}:`)
  );
}

/** The summary the engine must give of a container. */
function summaryOf(c: Container, podNames: Map<string, string>): ContainerSummary {
  const status = typeof c.state.status === 'string' ? c.state.status : 'unknown';
  return {
    id: c.config.id,
    name: c.config.name,
    namespace: c.config.namespace ?? '',
    pod: c.config.pod ?? null,
    podName: c.config.pod ? (podNames.get(c.config.pod) ?? null) : null,
    image: typeof c.config.image === 'string' ? c.config.image : null,
    command: c.config.command ?? [],
    status,
    state: (STATE[status] ?? 'unknown') as ContainerSummary['state'],
    exitCode: typeof c.state.exitCode === 'number' ? c.state.exitCode : null,
    startedAt: typeof c.state.startedAt === 'string' ? c.state.startedAt : null,
    finishedAt: typeof c.state.finishedAt === 'string' ? c.state.finishedAt : null,
    createdAt: c.config.createdAt ?? null,
    labels: c.config.labels ?? {},
    mounts: (c.config.namedVolumes ?? []).map((m) => ({ name: m.name, dest: m.dest })),
    networks: Object.keys(c.config.networks ?? {}).sort(),
  };
}

/** The reference: the selection, order and limit of `q`, in plain TypeScript. */
function reference(
  all: Container[],
  podNames: Map<string, string>,
  podIds: Map<string, string>,
  q: QuerySpec,
): ContainerSummary[] {
  const f = q.filters;
  const byName = new Map(all.map((c) => [c.config.name, c]));
  const created = (c: Container): string => c.config.createdAt ?? '';
  const before = f.before?.map((n) => created(byName.get(n)!)).reduce((a, b) => (a > b ? a : b));
  const since = f.since?.map((n) => created(byName.get(n)!)).reduce((a, b) => (a < b ? a : b));
  let rows = all
    .map((c) => ({ c, s: summaryOf(c, podNames) }))
    .filter(({ c, s }) => {
      if (!q.all && s.status !== 'running') return false;
      if (f.id && !f.id.some((p) => s.id.startsWith(p))) return false;
      if (f.name && !f.name.some((n) => s.name.includes(n))) return false;
      if (f.label && !f.label.every((l) => hasLabel(s.labels, l))) return false;
      if (f['label!'] && f['label!'].some((l) => hasLabel(s.labels, l))) return false;
      if (f.status && !f.status.some((w) => WORDS[w]!.includes(s.status))) return false;
      if (f.ancestor && !f.ancestor.some((x) => ancestor(s.image, x))) return false;
      if (f.pod && !f.pod.some((p) => podIds.get(p) === s.pod)) return false;
      if (f.volume && !f.volume.some((v) => s.mounts.some((m) => m.name === v))) return false;
      if (f.namespace && !f.namespace.includes(s.namespace)) return false;
      if (before !== undefined && !(created(c) < before)) return false;
      if (since !== undefined && !(created(c) > since)) return false;
      if (f.exited && !(['exited', 'stopped'].includes(s.status) && f.exited.map(Number).includes(s.exitCode ?? NaN)))
        return false;
      return true;
    })
    .map(({ s }) => s);
  const by: Record<QuerySpec['sort'], (a: ContainerSummary, b: ContainerSummary) => number> = {
    created: (a, b) => cmp(b.createdAt ?? '', a.createdAt ?? '') || cmp(b.id, a.id),
    runningfor: (a, b) =>
      (a.startedAt === null ? 1 : 0) - (b.startedAt === null ? 1 : 0) ||
      cmp(b.startedAt ?? '', a.startedAt ?? '') ||
      cmp(a.id, b.id),
    id: (a, b) => cmp(a.id, b.id),
    image: (a, b) => nullsFirst(a.image, b.image) || cmp(a.id, b.id),
    names: (a, b) => cmp(a.name, b.name),
    status: (a, b) => cmp(a.status, b.status) || cmp(a.id, b.id),
    pod: (a, b) => nullsFirst(a.pod, b.pod) || cmp(a.id, b.id),
    command: () => 0,
  };
  rows = rows.sort(by[q.sort]);
  return q.limit === undefined ? rows : rows.slice(0, q.limit);
}

async function fill(store: Store, specs: Spec[]): Promise<void> {
  const pods = [];
  const vols = [];
  for (let i = 0; i < 3; i++) {
    pods.push(await store.addPod({ config: { name: `pod-${i}`, namespace: NAMESPACES[i]! } }));
    vols.push(await store.addVolume({ config: { name: `vol-${i}`, namespace: NAMESPACES[i]! } }));
  }
  for (const [i, s] of specs.entries()) {
    // A pod or volume of another namespace is dropped: the rules forbid it.
    const pod = s.pod !== undefined && NAMESPACES[s.pod] === s.ns ? pods[s.pod] : undefined;
    const volume = s.volume !== undefined && NAMESPACES[s.volume] === s.ns ? vols[s.volume] : undefined;
    const state: Record<string, unknown> = { status: s.status };
    if (s.exitCode !== undefined) state.exitCode = s.exitCode;
    if (s.status === 'running') state.startedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, s.created)).toISOString();
    const config = {
      name: `c-${i}-${s.status}`,
      namespace: s.ns,
      labels: s.labels,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, s.created)).toISOString(),
      ...(s.image !== undefined ? { image: s.image } : {}),
      ...(s.command !== undefined ? { command: s.command } : {}),
      ...(volume ? { namedVolumes: [{ name: volume.config.name, dest: `/d${i}` }] } : {}),
      networks: Object.fromEntries(s.networks.map((n) => [n, {}])),
    };
    if (pod) await store.addContainerToPod(pod, { config, state: state as never });
    else await store.addContainer({ config, state: state as never });
  }
}

export function listingConformance(factory: StoreFactory): void {
  describe(`store.listContainers (${factory.backend})`, () => {
    it('selects, orders and limits exactly as a reference filter over allContainers() does', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(specArb, { minLength: 1, maxLength: 14 }), fc.nat(), async (specs, qseed) => {
          const store = await factory.open();
          await fill(store, specs);
          const all = await store.allContainers();
          const pods = await store.allPods();
          const podNames = new Map(pods.map((p) => [p.config.id, p.config.name]));
          const podIds = new Map(pods.map((p) => [p.config.name, p.config.id]));
          const refs = {
            ids: all.map((c) => c.config.id),
            names: all.map((c) => c.config.name),
            pods: pods.map((p) => p.config.name),
            volumes: (await store.allVolumes()).map((v) => v.config.name),
          };
          const queries = fc.sample(queryArb(refs), { numRuns: 12, seed: qseed });
          for (const q of queries) {
            const got = await store.listContainers(q);
            // A summary at a time: the same summaries, in the same order, and their count.
            const visited: unknown[] = [];
            expect(await store.eachContainer(q, (c) => void visited.push(c))).toBe(got.length);
            expect(visited).toEqual(got);
            const want = reference(all, podNames, podIds, q).map((s) => project(s, q.fields));
            const context = JSON.stringify(q);
            if (q.sort === 'command') {
              // Command order is the JSON text of the command: compare as sets.
              expect(new Set(got.map((s) => s.id)), context).toEqual(new Set(want.map((s) => s.id)));
            } else {
              expect(got, context).toEqual(want);
              // Exactly the fields asked for, in summary order.
              for (const s of got) expect(Object.keys(s), context).toEqual(Object.keys(want[0]!));
            }
            // Each namespace's handle sees exactly its namespace's share.
            const ns = store.withNamespace('ns1');
            const scoped = await ns
              .listContainers({ ...q, fields: ['namespace'], filters: { ...q.filters, namespace: [] } as never })
              .catch(() => null);
            if (scoped)
              expect(
                scoped.every((s) => s.namespace === 'ns1'),
                context,
              ).toBe(true);
          }
        }),
        { numRuns: 12, seed: SEED },
      );
    });

    it('a listing reflects every write: state saves, renames, pod moves of names, removals', async () => {
      const store = await factory.open();
      const a = await store.addContainer({
        config: { name: 'a', image: 'one', labels: { k: 'v' } },
        state: { status: 'configured' },
      });
      await store.saveContainer({
        ...a,
        state: { status: 'exited', exitCode: 3, finishedAt: '2026-01-01T00:00:00.000Z' },
      });
      await store.safeRewriteContainerConfig(a, 'a', 'a2', {
        ...a.config,
        name: 'a2',
        image: 'two',
        labels: { k: 'w' },
      });
      await store.networkConnect(a, 'front', {});
      const [s] = await store.listContainers();
      expect(s).toMatchObject({
        name: 'a2',
        image: 'two',
        status: 'exited',
        state: 'exited',
        exitCode: 3,
        labels: { k: 'w' },
        networks: ['front'],
      });
      // Label filters follow relabels, and state saves (rows updated in place) keep them.
      const ids = async (label: string): Promise<string[]> =>
        (await store.listContainers({ filters: { label: [label] }, fields: [] })).map((s) => s.id);
      expect(await ids('k=w')).toEqual([a.config.id]);
      expect(await ids('k=v')).toEqual([]);
      expect(await ids('k')).toEqual([a.config.id]);
      await store.saveContainer({ ...(await store.lookupContainer('a2')), state: { status: 'running' } });
      expect(await ids('k=w')).toEqual([a.config.id]);
      await store.refresh();
      expect((await store.listContainers())[0]).toMatchObject({ status: 'exited' });
      await store.removeContainer(a);
      expect(await store.listContainers()).toEqual([]);
      expect(await ids('k')).toEqual([]);
    });

    it('eachContainer stops at an error of its visitor, which comes back unchanged, and the store goes on', async () => {
      const store = await factory.open();
      for (let i = 0; i < 5; i++) await store.addContainer({ config: { name: `c${i}` }, state: { status: 'running' } });
      const boom = new Error('visitor failed');
      let seen = 0;
      await expect(
        store.eachContainer({}, () => {
          if (++seen === 2) throw boom;
        }),
      ).rejects.toBe(boom);
      expect(seen).toBe(2);
      // The read ended: writes and listings go on.
      await store.addContainer({ config: { name: 'after' } });
      expect(await store.eachContainer({ all: true, fields: [] }, () => undefined)).toBe(6);
      await expectCode(store.eachContainer({}, 'nope' as never), 'INVALID_ARGUMENT');
      await expectCode(
        store.eachContainer({ filters: { colour: ['red'] } as never }, () => undefined),
        'INVALID_ARGUMENT',
      );
    });

    it('refuses an unknown filter, status word or sort field with INVALID_ARGUMENT marked as usage', async () => {
      const store = await factory.open();
      for (const q of [
        { filters: { nokey: ['x'] } },
        { filters: { status: ['bogus'] } },
        { filters: { exited: ['x'] } },
        { sort: 'nosuchfield' },
        { limit: -1 },
        { fields: ['name', 'nosuchfield'] },
        { fields: 'name' },
      ]) {
        const err = await expectCode(store.listContainers(q as never), 'INVALID_ARGUMENT');
        expect(err.details.usage).toBe(true);
      }
      await expectCode(store.listContainers({ filters: { before: ['nobody'] } }), 'NO_SUCH_CONTAINER');
      await expectCode(store.listPods({ filters: { status: ['sideways'] } }), 'INVALID_ARGUMENT');
      await expectCode(store.listVolumes({ filters: { dangling: ['maybe'] } }), 'INVALID_ARGUMENT');
    });

    it('selects pods and volumes exactly as a reference filter over allPods()/allVolumes() does', async () => {
      const podSpec = fc.record({
        labels: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 }),
        ns: fc.constantFrom(...NAMESPACES),
        members: fc.array(fc.constantFrom(...STATUSES), { maxLength: 3 }),
      });
      const volumeSpec = fc.record({
        labels: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 }),
        ns: fc.constantFrom(...NAMESPACES),
        driver: fc.constantFrom(undefined, 'local', 'nfs'),
        used: fc.boolean(),
      });
      const labelFilter = fc.oneof(
        fc.constantFrom(...LABEL_KEYS),
        fc.tuple(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES)).map(([k, v]) => `${k}=${v}`),
      );
      const podStatus = (states: string[]): string => {
        const all = (x: string): boolean => states.every((s) => s === x);
        if (states.length === 0) return 'Created';
        if (all('running')) return 'Running';
        if (states.includes('running')) return 'Degraded';
        if (all('paused')) return 'Paused';
        if (all('created')) return 'Created';
        return 'Exited';
      };
      await fc.assert(
        fc.asyncProperty(
          fc.array(podSpec, { maxLength: 5 }),
          fc.array(volumeSpec, { maxLength: 5 }),
          fc.nat(),
          async (podSpecs, volumeSpecs, qseed) => {
            const store = await factory.open();
            const members = new Map<string, { ids: string[]; states: string[] }>();
            for (const [i, p] of podSpecs.entries()) {
              const pod = await store.addPod({ config: { name: `p${i}x`, namespace: p.ns, labels: p.labels } });
              const m = { ids: [] as string[], states: [] as string[] };
              for (const [j, status] of p.members.entries()) {
                const c = await store.addContainerToPod(pod, {
                  config: { name: `p${i}c${j}`, namespace: p.ns },
                  state: { status } as never,
                });
                m.ids.push(c.config.id);
                m.states.push(STATE[status] ?? 'unknown');
              }
              members.set(pod.config.id, m);
            }
            for (const [i, v] of volumeSpecs.entries()) {
              await store.addVolume({
                config: {
                  name: `v${i}x`,
                  namespace: v.ns,
                  labels: v.labels,
                  ...(v.driver ? { driver: v.driver } : {}),
                },
              });
              if (v.used) {
                await store.addContainer({
                  config: { name: `v${i}user`, namespace: v.ns, namedVolumes: [{ name: `v${i}x`, dest: '/d' }] },
                });
              }
            }
            const pods = await store.allPods();
            const volumes = await store.allVolumes();
            // A pod lists its containers oldest first (creation time, then id).
            const created = new Map((await store.allContainers()).map((c) => [c.config.id, c.config.createdAt ?? '']));
            for (const m of members.values()) {
              m.ids.sort((a, b) => cmp(created.get(a)!, created.get(b)!) || cmp(a, b));
            }
            const pick = <T>(xs: readonly T[]): fc.Arbitrary<T[]> =>
              xs.length === 0
                ? fc.constant([])
                : fc.uniqueArray(fc.constantFrom(...xs), { minLength: 1, maxLength: 2 });
            const podQuery = fc.record(
              {
                id: pick(pods.map((p) => p.config.id.slice(0, 1))),
                name: pick(['p1', 'x', 'zz']),
                label: fc.uniqueArray(labelFilter, { minLength: 1, maxLength: 2 }),
                status: pick(['created', 'running', 'degraded', 'paused', 'exited']),
                namespace: pick(NAMESPACES),
              },
              { requiredKeys: [] },
            );
            const volumeQuery = fc.record(
              {
                name: pick(['v1', 'x', 'zz']),
                label: fc.uniqueArray(labelFilter, { minLength: 1, maxLength: 2 }),
                driver: pick(['local', 'nfs']),
                namespace: pick(NAMESPACES),
                dangling: pick(['true', 'false']),
              },
              { requiredKeys: [] },
            );
            for (const filters of fc.sample(podQuery, { numRuns: 8, seed: qseed })) {
              const want = pods
                .map((p) => ({ p, m: members.get(p.config.id)! }))
                .filter(({ p, m }) => {
                  const labels = p.config.labels ?? {};
                  return (
                    (!filters.id?.length || filters.id.some((x) => p.config.id.startsWith(x))) &&
                    (!filters.name?.length || filters.name.some((x) => p.config.name.includes(x))) &&
                    (filters.label ?? []).every((l) => hasLabel(labels, l)) &&
                    (!filters.status?.length || filters.status.includes(podStatus(m.states).toLowerCase())) &&
                    (!filters.namespace?.length || filters.namespace.includes(p.config.namespace ?? ''))
                  );
                })
                .map(({ p, m }) => ({ id: p.config.id, status: podStatus(m.states), containers: m.ids }));
              const got = (await store.listPods({ filters })).map((p) => ({
                id: p.id,
                status: p.status,
                containers: p.containers,
              }));
              expect(got, JSON.stringify(filters)).toEqual(want);
            }
            const users = new Map<string, number>();
            for (const c of await store.allContainers()) {
              for (const m of c.config.namedVolumes ?? []) users.set(m.name, (users.get(m.name) ?? 0) + 1);
            }
            for (const filters of fc.sample(volumeQuery, { numRuns: 8, seed: qseed })) {
              const want = volumes
                .filter((v) => {
                  const labels = v.config.labels ?? {};
                  const used = users.get(v.config.name) ?? 0;
                  return (
                    (!filters.name?.length || filters.name.some((x) => v.config.name.includes(x))) &&
                    (filters.label ?? []).every((l) => hasLabel(labels, l)) &&
                    (!filters.driver?.length || filters.driver.includes(v.config.driver ?? 'local')) &&
                    (!filters.namespace?.length || filters.namespace.includes(v.config.namespace ?? '')) &&
                    (filters.dangling ?? []).every((d) => (d === 'true') === (used === 0))
                  );
                })
                .map((v) => [v.config.name, users.get(v.config.name) ?? 0]);
              const got = (await store.listVolumes({ filters })).map((v) => [v.name, v.users]);
              expect(got, JSON.stringify(filters)).toEqual(want);
            }
          },
        ),
        { numRuns: 10, seed: SEED },
      );
    });

    it('lists pods with podman’s status and volumes with their users', async () => {
      const store = await factory.open();
      const empty = await store.addPod({ config: { name: 'empty', labels: { t: '1' } } });
      const web = await store.addPod({ config: { name: 'web' } });
      await store.addContainerToPod(web, { config: { name: 'w1' }, state: { status: 'running' } });
      await store.addContainerToPod(web, { config: { name: 'w2' }, state: { status: 'exited' } });
      const data = await store.addVolume({ config: { name: 'data', driver: 'nfs' } });
      await store.addVolume({ config: { name: 'spare' } });
      await store.addContainer({ config: { name: 'db', namedVolumes: [{ name: 'data', dest: '/d' }] } });
      const pods = await store.listPods();
      expect(pods.map((p) => [p.name, p.status, p.containers.length])).toEqual([
        ['empty', 'Created', 0],
        ['web', 'Degraded', 2],
      ]);
      expect((await store.listPods({ filters: { status: ['degraded'] } })).map((p) => p.id)).toEqual([web.config.id]);
      expect((await store.listPods({ filters: { label: ['t=1'] } })).map((p) => p.id)).toEqual([empty.config.id]);
      const vols = await store.listVolumes();
      expect(vols.map((v) => [v.name, v.driver, v.users])).toEqual([
        ['data', 'nfs', 1],
        ['spare', 'local', 0],
      ]);
      expect((await store.listVolumes({ filters: { dangling: ['true'] } })).map((v) => v.name)).toEqual(['spare']);
      expect(data.config.name).toBe('data');
    });
  });
}
