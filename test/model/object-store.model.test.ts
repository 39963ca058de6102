/**
 * Property-based model test of the object store (DESIGN.md §3): random sequences of
 * operations run against a real SQLite store and against the in-memory reference model
 * (reference-model.ts); after every operation both must agree on the outcome (the same
 * value, or an error code the model allows) and on the listings, and at the end on
 * everything that can be read back.
 *
 * Ids come from a small pool of short hex strings that are prefixes of each other, names
 * from a small pool that overlaps the ids, so clashes, prefix ambiguity, name-before-prefix
 * precedence and dependency conflicts happen often. Most operations name an object that
 * exists at that point (an index into the model's objects), the rest a pool value.
 *
 * Reproduce a failure with the seed and path fast-check prints:
 *   BERTH_MODEL_SEED=<seed> BERTH_MODEL_PATH=<path> npx vitest run test/model
 * BERTH_MODEL_RUNS overrides the number of runs; BERTH_MODEL_STATS=1 prints how often
 * each operation succeeded or failed with each code (the generators' coverage).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBerthError, openStore } from '../../src/index.js';
import type { Store } from '../../src/index.js';
import type {
  Container,
  ContainerConfig,
  ContainerState,
  NetworkOptions,
  Pod,
  PodConfig,
  Volume,
} from '../../src/engine/types.js';
import { sqliteFactory, tempDir } from '../helpers/store-factory.js';
import { ObjectStoreModel, type Expectation } from './reference-model.js';

// ---------------------------------------------------------------- pools

/** Short ids, many of them prefixes of others. */
const IDS = ['a1', 'a1b', 'a1b2', 'a1b3', 'a2', 'b', 'b7', 'b7c', 'c3', 'c3d', 'c3d4', 'ff', 'ff00', 'ff01'] as const;
/** Valid names; some equal ids or id prefixes of other objects. */
const NAMES = [
  'web',
  'web1',
  'db',
  'a1',
  'b7',
  'c3d',
  'ff0',
  'cache',
  'x.y',
  'w_1-2',
  'api',
  'Queue',
  'proxy',
  'log-1',
] as const;
const BAD_NAMES = ['_bad', '-x', 'a b', 'x/y', ''] as const;
const VOLUMES = ['data', 'dat', 'd1', 'logs', 'log'] as const;
const NETWORKS = ['front', 'back', ''] as const;
const SESSIONS = ['e1', 'e2', 'e3', ''] as const;
const NAMESPACES = ['', 'n1', 'n2'] as const;
const STATUSES = [
  'configured',
  'created',
  'running',
  'paused',
  'stopping',
  'stopped',
  'exited',
  'removing',
  'unknown',
] as const;
/** Lookup inputs: pool values, prefixes, other cases (lookups are case-sensitive) and LIKE/glob wildcards (literal). */
const LOOKUPS = [
  ...IDS,
  ...NAMES,
  ...VOLUMES,
  ...['a', 'f', 'w', 'c', 'd', 'lo', 'zz', ''],
  ...['A1', 'FF', 'WEB', 'queue', 'DAT'],
  ...['%', '_', 'a%', 'a_', 'a1_', 'f_', 'd%', 'lo_', '*', 'a*', '?', '[a]*', '.'],
] as const;

const START = Date.UTC(2025, 0, 1);
/** Clock steps are whole minutes plus 7 ms, so no age is ever exactly the 5-minute retention. */
const STEP_EXTRA_MS = 7;

// ---------------------------------------------------------------- arbitraries

type Form = 'model' | 'stub';
/** An object named by an operation: the n-th existing one (modulo their number), or a pool value. */
type Ref = { readonly e: number } | { readonly p: string };

const refArb = (pool: readonly string[]): fc.Arbitrary<Ref> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.nat(15).map((e): Ref => ({ e })) },
    { weight: 1, arbitrary: fc.constantFrom(...pool).map((p): Ref => ({ p })) },
  );
const ctrRef = refArb(IDS);
const podRef = refArb(IDS);
const volRef = refArb([...VOLUMES, ...VOLUMES, '.v', '']);
const sessionRef = refArb(SESSIONS);

const newIdArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...IDS) },
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant('') },
);
const nameArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_NAMES) },
);
const volumeNameArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...VOLUMES) },
  { weight: 1, arbitrary: fc.constantFrom('.v', '') },
);
const nsFieldArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom(...NAMESPACES) },
);
const formArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Form>('model') },
  { weight: 1, arbitrary: fc.constant<Form>('stub') },
);
const stateArb: fc.Arbitrary<ContainerState> = fc.record(
  {
    status: fc.constantFrom(...STATUSES),
    pid: fc.integer({ min: 1, max: 99999 }),
    mounted: fc.boolean(),
    mountpoint: fc.constant('/run/m'),
    exitCode: fc.integer({ min: 0, max: 3 }),
  },
  { requiredKeys: ['status'] },
);
/** What a lookup is given: a pool string, or the id, name or an id prefix of an existing object. */
const lookupArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...LOOKUPS).map((s) => ({ s })) },
  {
    weight: 3,
    arbitrary: fc.record({
      e: fc.nat(15),
      part: fc.constantFrom('id', 'name', 'prefix1', 'prefix2', 'prefix3'),
      otherKind: fc.boolean(),
    }),
  },
);

const newContainerFields = {
  id: newIdArb,
  name: nameArb,
  ns: nsFieldArb,
  deps: fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 3, arbitrary: fc.array(ctrRef, { minLength: 1, maxLength: 2 }) },
  ),
  vols: fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.array(volRef, { minLength: 1, maxLength: 2 }) },
  ),
  nets: fc.subarray(['front', 'back']),
  state: fc.option(stateArb, { nil: undefined }),
};

const addContainerArb = fc.record({
  op: fc.constant('addContainer' as const),
  ...newContainerFields,
  podField: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: podRef }),
});
const addContainerToPodArb = fc.record({
  op: fc.constant('addContainerToPod' as const),
  pod: podRef,
  podForm: formArb,
  ...newContainerFields,
  podField: fc.constantFrom('none', 'same', 'same', 'other'),
  otherPod: podRef,
});
/** Creations for the setup phase: valid names, no explicit namespace, into existing pods. */
const cleanContainerFields = {
  ...newContainerFields,
  id: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...IDS) }, { weight: 1, arbitrary: fc.constant(undefined) }),
  name: fc.constantFrom(...NAMES),
  ns: fc.constant(undefined),
};
const setupContainerArb = fc.oneof(
  fc.record({
    op: fc.constant('addContainer' as const),
    ...cleanContainerFields,
    podField: fc.constant(undefined),
  }),
  fc.record({
    op: fc.constant('addContainerToPod' as const),
    pod: fc.nat(15).map((e): Ref => ({ e })),
    podForm: fc.constant<Form>('model'),
    ...cleanContainerFields,
    podField: fc.constantFrom('none', 'same'),
    otherPod: podRef,
  }),
);
const addPodArb = fc.record({
  op: fc.constant('addPod' as const),
  id: newIdArb,
  name: nameArb,
  ns: nsFieldArb,
  cgroup: fc.boolean(),
});
const addVolumeArb = fc.record({
  op: fc.constant('addVolume' as const),
  name: volumeNameArb,
  ns: nsFieldArb,
  mountCount: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});

const opArb = fc.oneof(
  { weight: 10, arbitrary: addContainerArb },
  { weight: 8, arbitrary: addContainerToPodArb },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('removeContainer' as const), ctr: ctrRef, form: formArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('removeContainerFromPod' as const),
      pod: podRef,
      ownPod: fc.boolean(),
      ctr: ctrRef,
      form: formArb,
    }),
  },
  { weight: 4, arbitrary: addPodArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('removePod' as const), pod: podRef, form: formArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('removePodContainers' as const), pod: podRef, form: formArb }) },
  { weight: 3, arbitrary: addVolumeArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('removeVolume' as const), vol: volRef, form: formArb }) },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('lookup' as const),
      kind: fc.constantFrom('container', 'containerID', 'pod', 'volume'),
      x: lookupArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('get' as const),
      kind: fc.constantFrom('container', 'pod', 'hasContainer', 'hasPod', 'getName', 'volume', 'hasVolume'),
      x: refArb([...IDS, ...VOLUMES, '']),
      otherKind: fc.boolean(),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('rename' as const),
      api: fc.constantFrom('safe', 'safe', 'plain'),
      ctr: ctrRef,
      form: formArb,
      oldName: fc.oneof({ weight: 5, arbitrary: fc.constant('current') }, { weight: 1, arbitrary: nameArb }),
      newName: fc.oneof({ weight: 5, arbitrary: nameArb }, { weight: 1, arbitrary: fc.constant('') }),
      configName: fc.oneof(
        { weight: 6, arbitrary: fc.constant('newName') },
        { weight: 1, arbitrary: fc.constant('current') },
        { weight: 1, arbitrary: nameArb },
      ),
      mutate: fc.constantFrom('none', 'none', 'none', 'image', 'deps', 'volumes', 'volumes', 'pod', 'id'),
      extraCtr: ctrRef,
      extraVol: volRef,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('renamePod' as const),
      pod: podRef,
      form: formArb,
      newName: nameArb,
      changeId: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: podRef }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('connect' as const),
      ctr: ctrRef,
      form: formArb,
      net: fc.constantFrom(...NETWORKS),
      aliases: fc.subarray(['x', 'y']),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('disconnect' as const),
      ctr: ctrRef,
      form: formArb,
      net: fc.constantFrom(...NETWORKS),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('getNetworks' as const), ctr: ctrRef, form: formArb }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('addExec' as const),
      ctr: ctrRef,
      form: formArb,
      session: fc.constantFrom(...SESSIONS),
      sessionCtr: fc.constantFrom('same', 'same', 'same', 'absent', 'other'),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('removeExec' as const), session: sessionRef }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('getExec' as const), session: sessionRef }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('execs' as const),
      kind: fc.constantFrom('list', 'removeAll'),
      ctr: ctrRef,
      form: formArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('inUse' as const),
      kind: fc.constantFrom('container', 'volume', 'podMembers', 'podHas'),
      ctr: ctrRef,
      pod: podRef,
      vol: volRef,
      form: formArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('exitCode' as const),
      id: refArb([...IDS, '']),
      code: fc.integer({ min: -2, max: 256 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('getExitCode' as const), id: refArb([...IDS, '']) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('prune' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), minutes: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('refresh' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('save' as const), ctr: ctrRef, form: formArb, state: stateArb }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('setNamespace' as const), ns: fc.constantFrom(...NAMESPACES) }) },
);

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * A run: volumes, pods and containers that populate the store, then any operations
 * (at most 40 in all).
 */
const runArb = fc
  .tuple(
    fc.array(addVolumeArb, { maxLength: 3, size: 'max' }),
    fc.array(addPodArb, { maxLength: 3, size: 'max' }),
    fc.array(setupContainerArb, { minLength: 2, maxLength: 8, size: 'max' }),
    fc.array(opArb, { minLength: 5, maxLength: 26, size: 'max' }),
  )
  .map(([volumes, pods, containers, ops]): Op[] => [...volumes, ...pods, ...containers, ...ops]);

// ---------------------------------------------------------------- arguments

/** The object `ref` names; with nothing to pick from, a pool value (or undefined with `orNone`). */
function pick(keys: Iterable<string>, ref: Ref, pool: readonly string[]): string;
function pick(keys: Iterable<string>, ref: Ref, pool: readonly string[], orNone: true): string | undefined;
function pick(keys: Iterable<string>, ref: Ref, pool: readonly string[], orNone = false): string | undefined {
  if ('p' in ref) return ref.p;
  const existing = [...keys];
  if (existing.length > 0) return existing[ref.e % existing.length]!;
  return orNone ? undefined : pool[ref.e % pool.length]!;
}

const ctrId = (m: ObjectStoreModel, ref: Ref): string => pick(m.containers.keys(), ref, IDS);
const podId = (m: ObjectStoreModel, ref: Ref): string => pick(m.pods.keys(), ref, IDS);
const volName = (m: ObjectStoreModel, ref: Ref): string => pick(m.volumes.keys(), ref, VOLUMES);
const sessionId = (m: ObjectStoreModel, ref: Ref): string => pick(m.execSessions.keys(), ref, SESSIONS);

/** The container handed to a call: the model's copy (what a caller got from the store) or a bare stub. */
function containerArg(model: ObjectStoreModel, id: string, form: Form): Container {
  const known = model.containers.get(id);
  if (form === 'model' && known) return structuredClone(known);
  return { config: { id, name: known?.config.name ?? 'ghost' }, state: { status: 'configured' } };
}

function podArg(model: ObjectStoreModel, id: string, form: Form): Pod {
  const known = model.pods.get(id);
  if (form === 'model' && known) return structuredClone(known);
  return { config: { id, name: known?.config.name ?? 'ghost' }, state: {} };
}

function volumeArg(model: ObjectStoreModel, name: string, form: Form): Volume {
  const known = model.volumes.get(name);
  if (form === 'model' && known) return structuredClone(known);
  return { config: { name }, state: {} };
}

function newContainer(
  model: ObjectStoreModel,
  op: {
    id: string | undefined;
    name: string;
    ns: string | undefined;
    deps: readonly Ref[];
    vols: readonly Ref[];
    nets: readonly string[];
    state: ContainerState | undefined;
  },
): Container {
  const config = { name: op.name, image: 'busybox' } as ContainerConfig;
  if (op.id !== undefined) config.id = op.id;
  if (op.ns !== undefined) config.namespace = op.ns;
  // A reference to "an existing one" when there is none is left out, so that early adds mostly succeed.
  const deps = [
    ...new Set(op.deps.map((r) => pick(model.containers.keys(), r, IDS, true)).filter((d) => d !== undefined)),
  ];
  const vols = op.vols.map((r) => pick(model.volumes.keys(), r, VOLUMES, true)).filter((v) => v !== undefined);
  if (deps.length > 0) config.dependencies = deps;
  if (vols.length > 0) config.namedVolumes = vols.map((name, i) => ({ name, dest: `/mnt/${i}` }));
  if (op.nets.length > 0) config.networks = Object.fromEntries(op.nets.map((n) => [n, { aliases: [n + '-a'] }]));
  const ctr = { config } as Container;
  if (op.state !== undefined) ctr.state = op.state;
  return ctr;
}

/** The string a lookup is given. */
function lookupInput(
  model: ObjectStoreModel,
  kind: 'container' | 'pod' | 'volume',
  x: { s: string } | { e: number; part: string; otherKind: boolean },
): string {
  if ('s' in x) return x.s;
  const maps = { container: model.containers, pod: model.pods, volume: model.volumes };
  const from = x.otherKind ? (kind === 'container' ? maps.pod : maps.container) : maps[kind];
  const objects = [...from.values()] as Array<{ config: { id?: string; name: string } }>;
  if (objects.length === 0) return LOOKUPS[x.e % LOOKUPS.length]!;
  const obj = objects[x.e % objects.length]!;
  const id = obj.config.id ?? obj.config.name;
  if (x.part === 'id') return id;
  if (x.part === 'name') return obj.config.name;
  return id.slice(0, Number(x.part.slice(-1)));
}

// ---------------------------------------------------------------- running

/** Outcome counts per operation, printed when BERTH_MODEL_STATS is set (to check the generators' coverage). */
const stats = process.env.BERTH_MODEL_STATS ? new Map<string, number>() : undefined;

type Outcome<T> = { ok: true; value: T } | { ok: false; err: unknown };

async function settle<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    return { ok: false, err };
  }
}

/**
 * Runs one call against the store and checks it against the model's expectation; on
 * success the model takes the change. `args` are shown when they disagree.
 */
async function step<T>(
  label: string,
  args: readonly unknown[],
  exp: Expectation<T>,
  call: () => Promise<T>,
): Promise<void> {
  const got = await settle(call);
  if (stats) {
    const key = `${label.split(' ')[0]} ${got.ok ? 'ok' : isBerthError(got.err) ? got.err.code : 'raw'}`;
    stats.set(key, (stats.get(key) ?? 0) + 1);
  }
  const where = `${label} with ${JSON.stringify(args)}`;
  if (got.ok) {
    if (!exp.mayPass) {
      throw new Error(`${where}: succeeded (${JSON.stringify(got.value)}), model expected ${exp.codes.join(' | ')}`);
    }
    if (exp.expected) expect(got.value, `${where}: result`).toEqual(exp.expected(got.value));
    exp.commit?.(got.value);
    return;
  }
  if (!isBerthError(got.err)) {
    throw new Error(`${where}: threw a non-BerthError: ${String(got.err)}`, { cause: got.err });
  }
  if (!exp.codes.includes(got.err.code)) {
    const wanted = exp.mayPass ? ['success', ...exp.codes] : exp.codes;
    throw new Error(`${where}: failed with ${got.err.code} (${got.err.message}), model expected ${wanted.join(' | ')}`);
  }
}

/** Each side gets its own copy of every argument, so neither sees the other's mutations. */
const c = <T>(x: T): T => structuredClone(x);

async function apply(store: Store, model: ObjectStoreModel, op: Op): Promise<void> {
  const L = op.op;
  switch (op.op) {
    case 'addContainer': {
      const ctr = newContainer(model, op);
      if (op.podField !== undefined) ctr.config.pod = podId(model, op.podField);
      return step(L, [ctr], model.addContainer(c(ctr)), async () => {
        const added = await store.addContainer(c(ctr));
        if (op.id === undefined) expect(added.config.id).toMatch(/^[0-9a-f]{64}$/);
        return added;
      });
    }
    case 'addContainerToPod': {
      const pod = podArg(model, podId(model, op.pod), op.podForm);
      const ctr = newContainer(model, op);
      if (op.podField === 'same') ctr.config.pod = pod.config.id;
      if (op.podField === 'other') ctr.config.pod = podId(model, op.otherPod);
      return step(L, [pod, ctr], model.addContainerToPod(c(pod), c(ctr)), () =>
        store.addContainerToPod(c(pod), c(ctr)),
      );
    }
    case 'removeContainer': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      return step(L, [arg], model.removeContainer(c(arg)), () => store.removeContainer(c(arg)));
    }
    case 'removeContainerFromPod': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      // The container's own pod, or any pod.
      const own = model.containers.get(arg.config.id)?.config.pod;
      const pod = podArg(model, own !== undefined && op.ownPod ? own : podId(model, op.pod), op.form);
      return step(L, [pod, arg], model.removeContainerFromPod(c(pod), c(arg)), () =>
        store.removeContainerFromPod(c(pod), c(arg)),
      );
    }
    case 'addPod': {
      const config = { name: op.name } as PodConfig;
      if (op.id !== undefined) config.id = op.id;
      if (op.ns !== undefined) config.namespace = op.ns;
      const pod: Pod = { config, state: op.cgroup ? { cgroupPath: '/sys/fs/cgroup/p', infraContainerId: 'i' } : {} };
      return step(L, [pod], model.addPod(c(pod)), async () => {
        const added = await store.addPod(c(pod));
        if (op.id === undefined) expect(added.config.id).toMatch(/^[0-9a-f]{64}$/);
        return added;
      });
    }
    case 'removePod': {
      const pod = podArg(model, podId(model, op.pod), op.form);
      return step(L, [pod], model.removePod(c(pod)), () => store.removePod(c(pod)));
    }
    case 'removePodContainers': {
      const pod = podArg(model, podId(model, op.pod), op.form);
      return step(L, [pod], model.removePodContainers(c(pod)), () => store.removePodContainers(c(pod)));
    }
    case 'addVolume': {
      const vol: Volume = { config: { name: op.name, driver: 'local' }, state: {} };
      if (op.ns !== undefined) vol.config.namespace = op.ns;
      if (op.mountCount !== undefined) vol.state.mountCount = op.mountCount;
      return step(L, [vol], model.addVolume(c(vol)), () => store.addVolume(c(vol)));
    }
    case 'removeVolume': {
      const vol = volumeArg(model, volName(model, op.vol), op.form);
      return step(L, [vol], model.removeVolume(c(vol)), () => store.removeVolume(c(vol)));
    }
    case 'lookup': {
      const label = `${L}.${op.kind}`;
      switch (op.kind) {
        case 'container': {
          const x = lookupInput(model, 'container', op.x);
          return step(label, [x], model.lookupContainer(x), () => store.lookupContainer(x));
        }
        case 'containerID': {
          const x = lookupInput(model, 'container', op.x);
          return step(label, [x], model.lookupContainerID(x), () => store.lookupContainerID(x));
        }
        case 'pod': {
          const x = lookupInput(model, 'pod', op.x);
          return step(label, [x], model.lookupPod(x), () => store.lookupPod(x));
        }
        case 'volume': {
          const x = lookupInput(model, 'volume', op.x);
          return step(label, [x], model.lookupVolume(x), () => store.lookupVolume(x));
        }
      }
      return;
    }
    case 'get': {
      const label = `${L}.${op.kind}`;
      const ctr = op.otherKind ? podId(model, op.x) : ctrId(model, op.x);
      const pod = op.otherKind ? ctrId(model, op.x) : podId(model, op.x);
      const vol = volName(model, op.x);
      switch (op.kind) {
        case 'container':
          return step(label, [ctr], model.container(ctr), () => store.container(ctr));
        case 'hasContainer':
          return step(label, [ctr], model.hasContainer(ctr), () => store.hasContainer(ctr));
        case 'getName':
          return step(label, [ctr], model.getName(ctr), () => store.getName(ctr));
        case 'pod':
          return step(label, [pod], model.pod(pod), () => store.pod(pod));
        case 'hasPod':
          return step(label, [pod], model.hasPod(pod), () => store.hasPod(pod));
        case 'volume':
          return step(label, [vol], model.volume(vol), () => store.volume(vol));
        case 'hasVolume':
          return step(label, [vol], model.hasVolume(vol), () => store.hasVolume(vol));
      }
      return;
    }
    case 'rename': {
      const id = ctrId(model, op.ctr);
      const known = model.containers.get(id);
      const current = known?.config.name ?? 'ghost';
      const arg = containerArg(model, id, op.form);
      const newConfig: ContainerConfig = op.form === 'model' && known ? c(known.config) : { id, name: current };
      const oldName = op.oldName === 'current' ? current : op.oldName;
      if (op.configName === 'newName') newConfig.name = op.newName === '' ? current : op.newName;
      else newConfig.name = op.configName === 'current' ? current : op.configName;
      switch (op.mutate) {
        case 'image':
          newConfig.image = 'busybox:2';
          break;
        case 'deps': {
          const deps = newConfig.dependencies ?? [];
          newConfig.dependencies = deps.length > 0 ? deps.slice(1) : [ctrId(model, op.extraCtr)];
          break;
        }
        case 'volumes':
          newConfig.namedVolumes = [{ name: volName(model, op.extraVol), dest: '/v' }];
          break;
        case 'pod':
          if (newConfig.pod === undefined) newConfig.pod = podId(model, op.extraCtr);
          else delete newConfig.pod;
          break;
        case 'id':
          newConfig.id = ctrId(model, op.extraCtr);
          break;
      }
      if (op.api === 'plain') {
        return step(
          'rewriteContainerConfig',
          [arg, newConfig],
          model.rewriteContainerConfig(c(arg), c(newConfig)),
          () => store.rewriteContainerConfig(c(arg), c(newConfig)),
        );
      }
      return step(
        'safeRewriteContainerConfig',
        [arg, oldName, op.newName, newConfig],
        model.safeRewriteContainerConfig(c(arg), oldName, op.newName, c(newConfig)),
        () => store.safeRewriteContainerConfig(c(arg), oldName, op.newName, c(newConfig)),
      );
    }
    case 'renamePod': {
      const id = podId(model, op.pod);
      const known = model.pods.get(id);
      const arg = podArg(model, id, op.form);
      const newConfig: PodConfig = op.form === 'model' && known ? c(known.config) : { id, name: 'ghost' };
      newConfig.name = op.newName;
      if (op.changeId !== undefined) newConfig.id = podId(model, op.changeId);
      return step('rewritePodConfig', [arg, newConfig], model.rewritePodConfig(c(arg), c(newConfig)), () =>
        store.rewritePodConfig(c(arg), c(newConfig)),
      );
    }
    case 'connect': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      const opts: NetworkOptions = op.aliases.length > 0 ? { aliases: [...op.aliases] } : {};
      return step(L, [arg, op.net, opts], model.networkConnect(c(arg), op.net, c(opts)), () =>
        store.networkConnect(c(arg), op.net, c(opts)),
      );
    }
    case 'disconnect': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      return step(L, [arg, op.net], model.networkDisconnect(c(arg), op.net), () =>
        store.networkDisconnect(c(arg), op.net),
      );
    }
    case 'getNetworks': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      return step(L, [arg], model.getNetworks(c(arg)), () => store.getNetworks(c(arg)));
    }
    case 'addExec': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      const session = { id: op.session } as { id: string; containerId: string };
      if (op.sessionCtr === 'same') session.containerId = arg.config.id;
      if (op.sessionCtr === 'other') session.containerId = arg.config.id === 'b' ? 'b7' : 'b';
      return step(L, [arg, session], model.addExecSession(c(arg), c(session)), () =>
        store.addExecSession(c(arg), c(session)),
      );
    }
    case 'removeExec': {
      const id = sessionId(model, op.session);
      const session = { id, containerId: model.execSessions.get(id) ?? 'x' };
      return step(L, [session], model.removeExecSession(c(session)), () => store.removeExecSession(c(session)));
    }
    case 'getExec': {
      const id = sessionId(model, op.session);
      return step(L, [id], model.getExecSession(id), () => store.getExecSession(id));
    }
    case 'execs': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      if (op.kind === 'list') {
        return step('getContainerExecSessions', [arg], model.getContainerExecSessions(c(arg)), async () =>
          (await store.getContainerExecSessions(c(arg))).sort(),
        );
      }
      return step('removeContainerExecSessions', [arg], model.removeContainerExecSessions(c(arg)), () =>
        store.removeContainerExecSessions(c(arg)),
      );
    }
    case 'inUse':
      switch (op.kind) {
        case 'container': {
          const arg = containerArg(model, ctrId(model, op.ctr), op.form);
          return step('containerInUse', [arg], model.containerInUse(c(arg)), async () =>
            (await store.containerInUse(c(arg))).sort(),
          );
        }
        case 'volume': {
          const arg = volumeArg(model, volName(model, op.vol), op.form);
          return step('volumeInUse', [arg], model.volumeInUse(c(arg)), async () =>
            (await store.volumeInUse(c(arg))).sort(),
          );
        }
        case 'podMembers': {
          const arg = podArg(model, podId(model, op.pod), op.form);
          // DESIGN.md fixes no order for pod members: compare in the model's (creation) order.
          const order = [...model.containers.keys()];
          return step('podContainersByID', [arg], model.podContainersByID(c(arg)), async () =>
            (await store.podContainersByID(c(arg))).sort((a, b) => order.indexOf(a) - order.indexOf(b)),
          );
        }
        case 'podHas': {
          const arg = podArg(model, podId(model, op.pod), op.form);
          const id = ctrId(model, op.ctr);
          return step('podHasContainer', [arg, id], model.podHasContainer(c(arg), id), () =>
            store.podHasContainer(c(arg), id),
          );
        }
      }
      return;
    case 'exitCode': {
      const id = ctrId(model, op.id);
      return step('addContainerExitCode', [id, op.code], model.addContainerExitCode(id, op.code), () =>
        store.addContainerExitCode(id, op.code),
      );
    }
    case 'getExitCode': {
      const id = ctrId(model, op.id);
      return step('getContainerExitCode', [id], model.getContainerExitCode(id), () => store.getContainerExitCode(id));
    }
    case 'prune':
      return step('pruneContainerExitCodes', [], model.pruneContainerExitCodes(), () =>
        store.pruneContainerExitCodes(),
      );
    case 'advance':
      model.advance(op.minutes * 60_000 + STEP_EXTRA_MS);
      return;
    case 'refresh':
      return step(L, [], model.refresh(), () => store.refresh());
    case 'save': {
      const arg = containerArg(model, ctrId(model, op.ctr), op.form);
      arg.state = c(op.state);
      return step('saveContainer', [arg], model.saveContainer(c(arg)), () => store.saveContainer(c(arg)));
    }
    case 'setNamespace':
      model.setNamespace(op.ns);
      store.setNamespace(op.ns);
      return;
  }
}

/** The listings of the handle's namespace agree, in order ("oldest first"). */
async function compareListings(store: Store, model: ObjectStoreModel, label: string): Promise<void> {
  expect(await store.allContainers(), `${label}: allContainers`).toEqual(model.allContainers());
  expect(await store.allPods(), `${label}: allPods`).toEqual(model.allPods());
  expect(await store.allVolumes(), `${label}: allVolumes`).toEqual(model.allVolumes());
}

/**
 * Every lookup agrees: each pool string, and every prefix, id and name of every object
 * (of either kind: a pod never resolves as a container, nor the reverse).
 */
async function compareLookups(store: Store, model: ObjectStoreModel): Promise<void> {
  const inputs = new Set<string>(LOOKUPS);
  for (const obj of [...model.containers.values(), ...model.pods.values()]) {
    inputs.add(obj.config.name);
    for (let n = 1; n <= Math.min(obj.config.id.length, 6); n++) inputs.add(obj.config.id.slice(0, n));
    inputs.add(obj.config.id);
  }
  for (const name of model.volumes.keys()) {
    for (let n = 1; n <= name.length; n++) inputs.add(name.slice(0, n));
  }
  for (const x of inputs) {
    await step('sweep.lookupContainer', [x], model.lookupContainer(x), () => store.lookupContainer(x));
    await step('sweep.lookupPod', [x], model.lookupPod(x), () => store.lookupPod(x));
    await step('sweep.lookupVolume', [x], model.lookupVolume(x), () => store.lookupVolume(x));
  }
}

/** Everything readable agrees: lookups in the handle's namespace, then everything from ''. */
async function compareEverything(store: Store, model: ObjectStoreModel): Promise<void> {
  await compareLookups(store, model);
  model.setNamespace('');
  store.setNamespace('');
  await compareLookups(store, model);
  await compareListings(store, model, 'final');
  for (const ctr of model.containers.values()) {
    const id = ctr.config.id;
    await step('final.execSessions', [id], model.getContainerExecSessions(c(ctr)), async () =>
      (await store.getContainerExecSessions(c(ctr))).sort(),
    );
    await step('final.dependents', [id], model.containerInUse(c(ctr)), async () =>
      (await store.containerInUse(c(ctr))).sort(),
    );
    await step('final.networks', [id], model.getNetworks(c(ctr)), () => store.getNetworks(c(ctr)));
    await step('final.lookup', [id], model.lookupContainerID(id), () => store.lookupContainerID(id));
  }
  for (const vol of model.volumes.values()) {
    await step('final.volumeUsers', [vol.config.name], model.volumeInUse(c(vol)), async () =>
      (await store.volumeInUse(c(vol))).sort(),
    );
  }
  for (const pod of model.pods.values()) {
    const order = [...model.containers.keys()];
    await step('final.podMembers', [pod.config.id], model.podContainersByID(c(pod)), async () =>
      (await store.podContainersByID(c(pod))).sort((a, b) => order.indexOf(a) - order.indexOf(b)),
    );
  }
  for (const session of SESSIONS) {
    await step('final.execSession', [session], model.getExecSession(session), () => store.getExecSession(session));
  }
  const exitCodeIds = new Set<string>([...IDS, ...model.exitCodes.keys(), ...model.containers.keys()]);
  for (const id of exitCodeIds) {
    await step('final.exitCode', [id], model.getContainerExitCode(id), () => store.getContainerExitCode(id));
  }
  // Past the retention, pruning drops exactly the exit codes of containers that are gone.
  model.advance(5 * 60_000 + STEP_EXTRA_MS);
  await step('final.prune', [], model.pruneContainerExitCodes(), () => store.pruneContainerExitCodes());
  for (const id of exitCodeIds) {
    await step('final.exitCode', [id], model.getContainerExitCode(id), () => store.getContainerExitCode(id));
  }
}

// ---------------------------------------------------------------- the property

const envInt = (name: string): number | undefined => {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : Number(raw);
};

describe('object store vs reference model', () => {
  it('agrees with the model on random operation sequences', async () => {
    // Durability is not under test here: a RAM disk, where there is one, keeps fsync cheap.
    const dir = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/berth-model-') : tempDir('berth-model-');
    let run = 0;
    const seed = envInt('BERTH_MODEL_SEED');
    const path = process.env.BERTH_MODEL_PATH;
    try {
      await fc.assert(
        fc.asyncProperty(runArb, async (ops) => {
          const file = join(dir, `run-${run++}.db`);
          const model = new ObjectStoreModel(START);
          const store = await openStore({ path: file, clock: () => model.now, bootId: 'model-boot', actor: 'model' });
          try {
            for (const [i, op] of ops.entries()) {
              const label = `op ${i} [ns=${JSON.stringify(model.namespace)}]`;
              try {
                await apply(store, model, op);
                await compareListings(store, model, op.op);
              } catch (err) {
                throw new Error(`${label}: ${(err as Error).message}`, { cause: err });
              }
            }
            await compareEverything(store, model);
            if (stats) {
              for (const [what, n] of [
                ['final containers', model.containers.size],
                ['final pods', model.pods.size],
                ['final volumes', model.volumes.size],
                ['runs', 1],
                ['ops', ops.length],
              ] as const) {
                stats.set(`${what} (sum)`, (stats.get(`${what} (sum)`) ?? 0) + n);
              }
            }
          } finally {
            await store.close();
            for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
          }
        }),
        {
          numRuns: envInt('BERTH_MODEL_RUNS') ?? 100,
          ...(seed !== undefined && { seed }),
          ...(path !== undefined && { path }),
          // Shrinking a failure can be slow: report the smallest case found by then rather than time out.
          interruptAfterTimeLimit: 100_000,
        },
      );
    } finally {
      // Each run deletes its own file; a RAM-disk folder goes even after a failure.
      if (dir.startsWith('/dev/shm/')) rmSync(dir, { recursive: true, force: true });
    }
    if (stats)
      console.log(
        [...stats.entries()]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join('\n'),
      );
  }, 120_000);

  // The shrunk counterexamples of findings, kept as plain examples (see /tmp/berth-model-findings.md).
  it('refuses to remove a container of another pod from a pod with INVALID_ARGUMENT', async () => {
    const store = await sqliteFactory.open();
    const web = await store.addPod({ config: { id: 'a1', name: 'web' }, state: {} });
    const db = await store.addPod({ config: { id: 'b7', name: 'db' }, state: {} });
    const ctr = await store.addContainerToPod(db, { config: { id: 'c3', name: 'pg' }, state: { status: 'running' } });
    // DESIGN.md §3: "the pod calls refuse a container whose `pod` is another pod (INVALID_ARGUMENT)",
    // whether or not the argument carries config.pod.
    await expect(store.removeContainerFromPod(web, ctr)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      store.removeContainerFromPod(web, { config: { id: 'c3', name: 'pg' }, state: { status: 'running' } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await store.podContainersByID(db)).toEqual(['c3']);
  });
});
