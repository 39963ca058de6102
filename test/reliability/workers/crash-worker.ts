/**
 * A worker of the crash harness (test/reliability/crash.test.ts): one process that opens
 * the shared store and does a seeded random mix of writes until it is killed with
 * SIGKILL — by the parent at a random moment, or by itself inside a transaction.
 *
 *   BERTH_CRASH_WORKER='{"store":…,"log":…,"k":…,"seed":…}' node --no-opt crash-loader.cjs BUNDLE
 *
 * The harness runs it as a CommonJS esbuild bundle with a V8 code cache (buildWorker in
 * ../crash-harness.ts says why), not through tsx. It prints `ready` once the store is
 * open, then loops over:
 * - its own objects (names prefixed `w<k>-`, so no other worker touches them): volumes,
 *   pods, containers in and out of pods with dependencies and named volumes, state
 *   saves, renames, config rewrites, network connects and disconnects, exec sessions,
 *   removals — alone or several in one `store.transaction`;
 * - probes of the rules that must fail and change nothing (DEPENDENCY_EXISTS, …);
 * - workspace state writes under the workspace lock (lock with breakStale and sometimes
 *   a short lease, read, write with expectedSerial, sometimes rollback, unlock), and
 *   some compare-and-set writes without the lock;
 * - plan and apply of small generated manifests (1–5 containers) to shared workspaces,
 *   force-unlocking a lock left by a killed worker.
 *
 * Every call is logged to the acknowledgement log with fsync: its intent (what it will
 * make true) before the call, its outcome after (crash-model.ts, LogLine). Anything
 * berth does that the model did not predict is logged as a `violation`; the worker
 * carries on, and the checker reports it.
 */
import { fsyncSync, openSync, writeSync } from 'node:fs';
import {
  isBerthError,
  loadManifest,
  openStore,
  type Store,
  type Transaction,
  type Container,
  type ContainerConfig,
  type ContainerState,
  type LockInfo,
  type Pod,
  type Volume,
} from '../../../src/index.js';
import {
  actorOf,
  APPLY_WORKSPACES,
  canonical,
  HISTORY_LIMIT,
  OBJECT_NAMESPACES,
  ownedId,
  prng,
  sha256,
  STATE_WORKSPACES,
  workerTag,
  type Effects,
  type Intent,
  type IntentBody,
  type LogLine,
  type Outcome,
  type Projection,
  type WorkerConfig,
} from '../crash-model.js';

type Model = {
  containers: Map<string, { config: ContainerConfig; state: ContainerState; exec: string[] }>;
  pods: Map<string, Pod>;
  volumes: Map<string, Volume>;
};

/** One object call, built against the model it leaves behind. */
interface Call {
  what: string;
  keys: string[];
  run: (on: Transaction) => Promise<unknown>;
}

const cfg = JSON.parse(process.env.BERTH_CRASH_WORKER!) as WorkerConfig;
const tag = workerTag(cfg.k);
const rnd = prng(cfg.seed);
const chance = (p: number): boolean => rnd() < p;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const STATUSES = ['created', 'running', 'paused', 'stopped', 'exited'] as const;
const NETWORKS = ['front', 'back', 'mgmt'] as const;

const log = openSync(cfg.log, 'a');
function record(line: LogLine): void {
  writeSync(log, JSON.stringify(line) + '\n');
  fsyncSync(log);
}

/** SIGKILL from inside a transaction: nothing of it may be committed. */
function die(): never {
  process.kill(process.pid, 'SIGKILL');
  // The signal is delivered before kill() returns; never run on regardless.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}

const codeOf = (err: unknown): string =>
  isBerthError(err) ? err.code : `RAW ${err instanceof Error ? err.message : String(err)}`;

let n = 0;
/** Runs `call` between its logged intent and outcome; failures with `allowed` codes are expected. */
async function step<T>(
  intent: IntentBody,
  call: () => Promise<T>,
  allowed: readonly string[],
  outcome: (result: T) => Omit<Outcome, 'n' | 'ok'> = () => ({}),
): Promise<{ ok: true; value: T } | { ok: false; code: string; err: unknown }> {
  const id = ++n;
  record({ n: id, ...intent } as Intent);
  try {
    const value = await call();
    record({ n: id, ok: true, ...outcome(value) });
    return { ok: true, value };
  } catch (err) {
    const code = codeOf(err);
    record({ n: id, ok: false, code });
    if (!allowed.includes(code))
      record({ violation: `op ${id} (${describeIntent(intent)}) failed with ${code}: ${String(err)}` });
    return { ok: false, code, err };
  }
}

function describeIntent(intent: IntentBody): string {
  return 'what' in intent ? `${intent.op} ${intent.what}` : `${intent.op} ${intent.ns}/${intent.ws}`;
}

// ------------------------------------------------------------------- objects

const ns = pick(OBJECT_NAMESPACES);
let counter = 0;
let model: Model = { containers: new Map(), pods: new Map(), volumes: new Map() };

function clone(m: Model): Model {
  return structuredClone(m);
}

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

function project(m: Model, key: string): Projection | null {
  const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
  if (kind === 'container') {
    const c = m.containers.get(id);
    if (!c) return null;
    return {
      kind: 'container',
      id,
      name: c.config.name,
      namespace: ns,
      pod: c.config.pod ?? null,
      dependencies: sorted(c.config.dependencies ?? []),
      volumes: sorted((c.config.namedVolumes ?? []).map((v) => v.name)),
      status: String(c.state.status),
      labels: c.config.labels ?? {},
      networks: sorted(Object.keys(c.config.networks ?? {})),
      execSessions: sorted(c.exec),
    };
  }
  if (kind === 'pod') {
    const p = m.pods.get(id);
    if (!p) return null;
    return { kind: 'pod', id, name: p.config.name, namespace: ns, cgroupPath: p.state.cgroupPath ?? null };
  }
  const v = m.volumes.get(id);
  if (!v) return null;
  return { kind: 'volume', name: id, namespace: ns, mountCount: v.state.mountCount ?? 0 };
}

const ctrKey = (id: string): string => `container:${id}`;
const podKey = (id: string): string => `pod:${id}`;
const volKey = (name: string): string => `volume:${name}`;

function dependentsOf(m: Model, id: string): string[] {
  return [...m.containers.values()].filter((c) => c.config.dependencies?.includes(id)).map((c) => c.config.id);
}

function volumeUsers(m: Model, name: string): string[] {
  return [...m.containers.values()]
    .filter((c) => c.config.namedVolumes?.some((v) => v.name === name))
    .map((c) => c.config.id);
}

function podMembers(m: Model, podId: string): string[] {
  return [...m.containers.values()].filter((c) => c.config.pod === podId).map((c) => c.config.id);
}

/** A snapshot of a container as a call argument (later calls must not see later model changes). */
function asContainer(m: Model, id: string): Container {
  const c = m.containers.get(id)!;
  return structuredClone({ config: c.config, state: c.state });
}

type Builder = (m: Model) => Call | undefined;

const addVolume: Builder = (m) => {
  const name = `${tag}-v${++counter}`;
  const vol: Volume = { config: { name, namespace: ns, labels: { owner: tag } }, state: {} };
  m.volumes.set(name, structuredClone(vol));
  return { what: `addVolume ${name}`, keys: [volKey(name)], run: (on) => on.addVolume(vol) };
};

const saveVolume: Builder = (m) => {
  if (m.volumes.size === 0) return undefined;
  const vol = m.volumes.get(pick([...m.volumes.keys()]))!;
  vol.state = { ...vol.state, mountCount: Math.floor(rnd() * 5) };
  const arg = structuredClone(vol);
  return { what: `saveVolume ${vol.config.name}`, keys: [volKey(vol.config.name)], run: (on) => on.saveVolume(arg) };
};

const removeVolume: Builder = (m) => {
  const free = [...m.volumes.keys()].filter((v) => volumeUsers(m, v).length === 0);
  if (free.length === 0) return undefined;
  const name = pick(free);
  const arg = structuredClone(m.volumes.get(name)!);
  m.volumes.delete(name);
  return { what: `removeVolume ${name}`, keys: [volKey(name)], run: (on) => on.removeVolume(arg) };
};

const addPod: Builder = (m) => {
  const i = ++counter;
  const pod: Pod = {
    config: { id: ownedId(tag, 'pod', i), name: `${tag}-p${i}`, namespace: ns, labels: { owner: tag } },
    state: {},
  };
  m.pods.set(pod.config.id, structuredClone(pod));
  return { what: `addPod ${pod.config.name}`, keys: [podKey(pod.config.id)], run: (on) => on.addPod(pod) };
};

const savePod: Builder = (m) => {
  if (m.pods.size === 0) return undefined;
  const pod = m.pods.get(pick([...m.pods.keys()]))!;
  pod.state = { ...pod.state, cgroupPath: `/crash/${tag}/${++counter}` };
  const arg = structuredClone(pod);
  return { what: `savePod ${pod.config.name}`, keys: [podKey(pod.config.id)], run: (on) => on.savePod(arg) };
};

const removePod: Builder = (m) => {
  const empty = [...m.pods.keys()].filter((id) => podMembers(m, id).length === 0);
  if (empty.length === 0) return undefined;
  const id = pick(empty);
  const arg = structuredClone(m.pods.get(id)!);
  m.pods.delete(id);
  return { what: `removePod ${arg.config.name}`, keys: [podKey(id)], run: (on) => on.removePod(arg) };
};

const addContainer: Builder = (m) => {
  const i = ++counter;
  const pod = m.pods.size > 0 && chance(0.4) ? m.pods.get(pick([...m.pods.keys()]))! : undefined;
  const peers = [...m.containers.values()]
    .filter((c) => (c.config.pod ?? null) === (pod?.config.id ?? null))
    .map((c) => c.config.id);
  const dependencies = sorted(
    peers.length > 0 && chance(0.6) ? [pick(peers), ...(chance(0.3) ? [pick(peers)] : [])] : [],
  );
  const config: ContainerConfig = {
    id: ownedId(tag, 'container', i),
    name: `${tag}-c${i}`,
    namespace: ns,
    image: pick(['busybox', 'nginx:1.27', 'postgres:16']),
    labels: { owner: tag, gen: '0' },
    createdAt: new Date().toISOString(),
    ...(pod && { pod: pod.config.id }),
    ...(dependencies.length > 0 && { dependencies }),
    ...(m.volumes.size > 0 && chance(0.5) && { namedVolumes: [{ name: pick([...m.volumes.keys()]), dest: '/data' }] }),
  };
  const ctr: Container = { config, state: { status: 'configured' } };
  m.containers.set(config.id, { ...structuredClone(ctr), exec: [] });
  const podArg = pod && structuredClone(pod);
  return {
    what: `addContainer ${config.name}${pod ? ` to pod ${pod.config.name}` : ''}`,
    keys: [ctrKey(config.id)],
    run: (on) => (podArg ? on.addContainerToPod(podArg, ctr) : on.addContainer(ctr)),
  };
};

const removeContainer: Builder = (m) => {
  const free = [...m.containers.values()]
    .filter((c) => c.exec.length === 0 && dependentsOf(m, c.config.id).length === 0)
    .map((c) => c.config.id);
  if (free.length === 0) return undefined;
  const id = pick(free);
  const arg = asContainer(m, id);
  const pod = arg.config.pod ? structuredClone(m.pods.get(arg.config.pod)!) : undefined;
  m.containers.delete(id);
  return {
    what: `removeContainer ${arg.config.name}`,
    keys: [ctrKey(id)],
    run: (on) => (pod ? on.removeContainerFromPod(pod, arg) : on.removeContainer(arg)),
  };
};

/** A container of the model to change, or undefined when there is none. */
function someContainer(m: Model, filter: (c: { config: ContainerConfig; exec: string[] }) => boolean = () => true) {
  const ids = [...m.containers.values()].filter(filter).map((c) => c.config.id);
  return ids.length === 0 ? undefined : m.containers.get(pick(ids))!;
}

const saveContainer: Builder = (m) => {
  const c = someContainer(m);
  if (!c) return undefined;
  const status = pick(STATUSES);
  c.state = { status, ...(status === 'running' && { pid: 1000 + Math.floor(rnd() * 30000) }), at: ++counter };
  const arg = asContainer(m, c.config.id);
  return {
    what: `saveContainer ${c.config.name} ${status}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.saveContainer(arg),
  };
};

const renameContainer: Builder = (m) => {
  const c = someContainer(m);
  if (!c) return undefined;
  const arg = asContainer(m, c.config.id);
  const oldName = c.config.name;
  const newName = `${tag}-c${++counter}`;
  c.config = { ...c.config, name: newName };
  const config = structuredClone(c.config);
  return {
    what: `rename ${oldName} ${newName}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.safeRewriteContainerConfig(arg, oldName, newName, config),
  };
};

const rewriteContainer: Builder = (m) => {
  const c = someContainer(m);
  if (!c) return undefined;
  const arg = asContainer(m, c.config.id);
  const next: ContainerConfig = { ...c.config, labels: { ...c.config.labels, gen: String(++counter) } };
  if (chance(0.3)) {
    if (m.volumes.size > 0 && chance(0.6)) next.namedVolumes = [{ name: pick([...m.volumes.keys()]), dest: '/data' }];
    else delete next.namedVolumes;
  }
  c.config = next;
  const config = structuredClone(next);
  return {
    what: `rewrite ${c.config.name}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.rewriteContainerConfig(arg, config),
  };
};

const connect: Builder = (m) => {
  const c = someContainer(m, (x) => NETWORKS.some((net) => !x.config.networks?.[net]));
  if (!c) return undefined;
  const net = pick(NETWORKS.filter((x) => !c.config.networks?.[x]));
  const arg = asContainer(m, c.config.id);
  const opts = { aliases: [c.config.name] };
  c.config = { ...c.config, networks: { ...c.config.networks, [net]: opts } };
  return {
    what: `networkConnect ${c.config.name} ${net}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.networkConnect(arg, net, opts),
  };
};

const disconnect: Builder = (m) => {
  const c = someContainer(m, (x) => Object.keys(x.config.networks ?? {}).length > 0);
  if (!c) return undefined;
  const net = pick(Object.keys(c.config.networks!));
  const arg = asContainer(m, c.config.id);
  const { [net]: _gone, ...rest } = c.config.networks!;
  c.config = { ...c.config, networks: rest };
  return {
    what: `networkDisconnect ${c.config.name} ${net}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.networkDisconnect(arg, net),
  };
};

const addExec: Builder = (m) => {
  const c = someContainer(m);
  if (!c) return undefined;
  const id = `${tag}-e${++counter}`;
  const arg = asContainer(m, c.config.id);
  c.exec.push(id);
  return {
    what: `addExecSession ${id}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.addExecSession(arg, { id, containerId: arg.config.id }),
  };
};

const removeExec: Builder = (m) => {
  const c = someContainer(m, (x) => x.exec.length > 0);
  if (!c) return undefined;
  const id = pick(c.exec);
  c.exec = c.exec.filter((e) => e !== id);
  return {
    what: `removeExecSession ${id}`,
    keys: [ctrKey(c.config.id)],
    run: (on) => on.removeExecSession({ id, containerId: c.config.id }),
  };
};

const BUILDERS: ReadonlyArray<[weight: number, build: Builder]> = [
  [25, addContainer],
  [5, addPod],
  [7, addVolume],
  [10, removeContainer],
  [3, removePod],
  [3, removeVolume],
  [10, saveContainer],
  [5, renameContainer],
  [7, rewriteContainer],
  [7, connect],
  [4, disconnect],
  [5, addExec],
  [4, removeExec],
  [3, saveVolume],
  [2, savePod],
];
const TOTAL_WEIGHT = BUILDERS.reduce((sum, [w]) => sum + w, 0);

/** The next object call against `m` (which it changes); an add when nothing else applies. */
function nextCall(m: Model): Call {
  if (m.containers.size < 3 && chance(0.5)) return addContainer(m)!;
  for (let attempt = 0; attempt < 5; attempt++) {
    let r = rnd() * TOTAL_WEIGHT;
    const build = BUILDERS.find(([w]) => (r -= w) < 0)?.[1] ?? addContainer;
    const call = build(m);
    if (call) return call;
  }
  return addContainer(m)!;
}

function effectsOf(m: Model, keys: readonly string[]): Effects {
  return sorted(keys).map((key) => [key, project(m, key)]);
}

async function objectOp(): Promise<void> {
  const next = clone(model);
  const call = nextCall(next);
  const done = await step(
    { op: 'objects', what: call.what, effects: effectsOf(next, call.keys) },
    () => call.run(objects),
    [],
  );
  if (done.ok) model = next;
}

/** Several object calls in one store.transaction: all of them commit, or none. */
async function transactionOp(selfKill: boolean): Promise<void> {
  const next = clone(model);
  const calls = Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => nextCall(next));
  const killAt = selfKill ? Math.floor(rnd() * (calls.length + 1)) : -1;
  const intent: IntentBody = {
    op: 'objects',
    what: `transaction: ${calls.map((c) => c.what).join('; ')}`,
    effects: effectsOf(
      next,
      calls.flatMap((c) => c.keys),
    ),
    ...(selfKill && { selfKill: true as const }),
  };
  const done = await step(
    intent,
    () =>
      objects.transaction(async (tx) => {
        for (const [i, call] of calls.entries()) {
          if (i === killAt) die();
          await call.run(tx);
        }
        if (killAt === calls.length) die();
      }),
    [],
  );
  if (done.ok) model = next;
}

/** A call the rules must refuse with `expect`, changing nothing. */
async function probe(): Promise<void> {
  const m = model;
  const options: Array<{ what: string; expect: string; run: () => Promise<unknown> }> = [];
  const withDependents = someContainer(m, (c) => dependentsOf(m, c.config.id).length > 0);
  if (withDependents) {
    const arg = asContainer(m, withDependents.config.id);
    const pod = arg.config.pod ? m.pods.get(arg.config.pod)! : undefined;
    options.push({
      what: `remove ${arg.config.name}, which others depend on`,
      expect: 'DEPENDENCY_EXISTS',
      run: () => (pod ? objects.removeContainerFromPod(pod, arg) : objects.removeContainer(arg)),
    });
  }
  const withExec = someContainer(m, (c) => c.exec.length > 0 && dependentsOf(m, c.config.id).length === 0);
  if (withExec) {
    const arg = asContainer(m, withExec.config.id);
    const pod = arg.config.pod ? m.pods.get(arg.config.pod)! : undefined;
    options.push({
      what: `remove ${arg.config.name}, which has exec sessions`,
      expect: 'EXEC_SESSION_EXISTS',
      run: () => (pod ? objects.removeContainerFromPod(pod, arg) : objects.removeContainer(arg)),
    });
  }
  const usedVolume = [...m.volumes.keys()].find((v) => volumeUsers(m, v).length > 0);
  if (usedVolume) {
    const arg = m.volumes.get(usedVolume)!;
    options.push({
      what: `remove volume ${usedVolume} in use`,
      expect: 'VOLUME_IN_USE',
      run: () => objects.removeVolume(arg),
    });
  }
  const busyPod = [...m.pods.keys()].find((p) => podMembers(m, p).length > 0);
  if (busyPod) {
    const arg = m.pods.get(busyPod)!;
    options.push({
      what: `remove pod ${arg.config.name} with containers`,
      expect: 'POD_NOT_EMPTY',
      run: () => objects.removePod(arg),
    });
  }
  const taken = someContainer(m);
  if (taken) {
    const config = { id: ownedId(tag, 'clash', ++counter), name: taken.config.name, namespace: ns };
    options.push({
      what: `add a container named ${taken.config.name}`,
      expect: 'CONTAINER_EXISTS',
      run: () => objects.addContainer({ config, state: { status: 'configured' } }),
    });
    const connected = Object.keys(taken.config.networks ?? {});
    if (connected.length > 0) {
      const arg = asContainer(m, taken.config.id);
      const net = pick(connected);
      options.push({
        what: `connect ${arg.config.name} to ${net} again`,
        expect: 'NETWORK_CONNECTED',
        run: () => objects.networkConnect(arg, net, {}),
      });
    }
  }
  const ghost = ownedId(tag, 'ghost', ++counter);
  options.push({
    what: `add a container depending on missing ${ghost.slice(0, 12)}`,
    expect: 'NO_SUCH_CONTAINER',
    run: () =>
      objects.addContainer({
        config: {
          id: ownedId(tag, 'orphan', counter),
          name: `${tag}-x${counter}`,
          namespace: ns,
          dependencies: [ghost],
        },
        state: { status: 'configured' },
      }),
  });
  const chosen = pick(options);
  const id = ++n;
  record({ n: id, op: 'probe', what: chosen.what, expect: chosen.expect });
  try {
    await chosen.run();
    record({ n: id, ok: true });
    record({ violation: `op ${id}: ${chosen.what} succeeded; expected ${chosen.expect}` });
  } catch (err) {
    record({ n: id, ok: false, code: codeOf(err) });
    if (codeOf(err) !== chosen.expect)
      record({ violation: `op ${id}: ${chosen.what} failed with ${codeOf(err)}, expected ${chosen.expect}` });
  }
}

// ------------------------------------------------------------------- workspace state

function stateDoc(): unknown {
  const items = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => ({
    name: pick(['web', 'db', 'cache', 'queue']),
    replicas: Math.floor(rnd() * 5),
  }));
  return { by: tag, op: n + 1, items, ...(chance(0.3) && { notes: { zeta: 'z', alpha: ['a', { b: 1 }] } }) };
}

/** lock → read → write (sometimes twice, sometimes a rollback) → unlock. */
async function lockedStateOp(): Promise<void> {
  const [wsNs, ws] = pick(STATE_WORKSPACES);
  const h = store.withNamespace(wsNs);
  const ttlMs = chance(0.3) ? 150 + Math.floor(rnd() * 600) : undefined;
  // A lock tied to no process: only its lease makes it stale.
  const pid = ttlMs !== undefined && chance(0.2) ? 0 : undefined;
  // Fencing: a lease can run out while this worker waits its turn, and the next holder breaks it.
  const leased = ttlMs === undefined ? [] : ['LOCK_LOST'];
  const lock = await step(
    { op: 'lock', ns: wsNs, ws },
    () =>
      h.workspaces.lock(ws, {
        operation: 'crash-write',
        info: tag,
        breakStale: true,
        timeoutMs: 300,
        ...(ttlMs !== undefined && { ttlMs }),
        ...(pid !== undefined && { pid }),
      }),
    ['LOCKED'],
    (l: LockInfo) => ({ lockId: l.id }),
  );
  if (!lock.ok) return;
  const lockId = lock.value.id;
  let lost = false;
  for (let w = chance(0.3) ? 2 : 1; w > 0 && !lost; w--) {
    if (chance(0.15)) {
      const history = await h.workspaces.history(ws, { limit: 8 });
      if (history.length === 0) continue;
      const to = pick(history).serial;
      const done = await step(
        { op: 'rollback', ns: wsNs, ws, to },
        () => h.workspaces.rollback(ws, to, { lockId }),
        leased,
        (s) => ({ serial: s.serial, checksum: s.checksum }),
      );
      lost = !done.ok;
    } else {
      const current = await h.workspaces.readState(ws);
      const doc = stateDoc();
      const checksum = sha256(canonical(doc));
      const done = await step(
        { op: 'write', ns: wsNs, ws, checksum, locked: true },
        () =>
          h.workspaces.writeState(ws, doc, {
            lockId,
            expectedSerial: current.serial,
            lineage: current.lineage,
            operation: 'crash',
          }),
        leased,
        (s) => ({ serial: s.serial, checksum: s.checksum }),
      );
      if (done.ok && done.value.checksum !== checksum) {
        record({ violation: `op ${n}: berth recorded checksum ${done.value.checksum}, the document's is ${checksum}` });
      }
      lost = !done.ok;
    }
  }
  await step(
    { op: 'unlock', ns: wsNs, ws, lockId },
    () => h.workspaces.unlock(ws, lockId),
    ttlMs === undefined ? [] : ['LOCK_ID_MISMATCH', 'NOT_LOCKED'],
  );
}

/** A compare-and-set write without the lock: LOCKED while someone holds it, STALE_SERIAL on a race. */
async function casStateOp(): Promise<void> {
  const [wsNs, ws] = pick(STATE_WORKSPACES);
  const h = store.withNamespace(wsNs);
  const current = await h.workspaces.readState(ws);
  const doc = stateDoc();
  const checksum = sha256(canonical(doc));
  await step(
    { op: 'write', ns: wsNs, ws, checksum, locked: false },
    () => h.workspaces.writeState(ws, doc, { expectedSerial: current.serial, lineage: current.lineage }),
    ['LOCKED', 'STALE_SERIAL'],
    (s) => ({ serial: s.serial, checksum: s.checksum }),
  );
}

// ------------------------------------------------------------------- plan and apply

type ContainerDoc = {
  image: string;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  dependsOn?: string[];
  volumes?: string[];
  networks?: Record<string, object>;
};

/**
 * A small manifest for workspace `ws` of `wsNs`: names come from the workspace's own
 * pool (`<ns>-<ws>-c1..c5`, `-p1`, `-v1..v2`), so successive manifests share objects
 * (noop, update, replace) as well as differ (create, delete), and no other workspace
 * ever declares them.
 */
function manifestText(wsNs: string, ws: string): string {
  const p = `${wsNs}-${ws}`;
  const volumes: Record<string, object> = {};
  for (const v of [`${p}-v1`, `${p}-v2`])
    if (chance(0.5)) volumes[v] = chance(0.5) ? { labels: { tier: pick(['x', 'y']) } } : {};
  const names = [1, 2, 3, 4, 5].map((i) => `${p}-c${i}`).sort(() => rnd() - 0.5);
  const count = 1 + Math.floor(rnd() * 5);
  const podContainers: Record<string, ContainerDoc> = {};
  const standalone: Record<string, ContainerDoc> = {};
  for (const name of names.slice(0, count)) {
    const group = chance(0.4) ? podContainers : standalone;
    const earlier = Object.keys(group);
    group[name] = {
      image: pick(['img:1', 'img:2']),
      ...(chance(0.5) && { labels: { tier: pick(['x', 'y']) } }),
      ...(chance(0.3) && { env: { A: pick(['1', '2']) } }),
      ...(earlier.length > 0 && chance(0.4) && { dependsOn: [pick(earlier)] }),
      ...(Object.keys(volumes).length > 0 && chance(0.4) && { volumes: [`${pick(Object.keys(volumes))}:/data`] }),
      ...(chance(0.3) && { networks: { net: {} } }),
    };
  }
  const doc = {
    version: 1,
    namespace: wsNs,
    ...(Object.keys(volumes).length > 0 && { volumes }),
    ...(Object.keys(podContainers).length > 0 && {
      pods: { [`${p}-p1`]: { ...(chance(0.5) && { labels: { app: pick(['a', 'b']) } }), containers: podContainers } },
    }),
    ...(Object.keys(standalone).length > 0 && { containers: standalone }),
  };
  return JSON.stringify(doc, null, 1);
}

/**
 * Breaks the workspace's lock when it is stale, as an operator would before applying: a
 * killed worker's apply leaves its lock behind (its pid is gone), and apply does not
 * break stale locks by itself.
 */
async function breakStaleLock(wsNs: string, ws: string, holder: LockInfo | undefined): Promise<void> {
  if (!holder?.stale) return;
  await step(
    { op: 'forceUnlock', ns: wsNs, ws, lockId: holder.id },
    () => store.withNamespace(wsNs).workspaces.forceUnlock(ws, holder.id),
    // Another worker broke it first.
    ['NOT_LOCKED', 'LOCK_ID_MISMATCH'],
  );
}

async function applyOp(selfKill: boolean): Promise<void> {
  const [wsNs, ws] = pick(APPLY_WORKSPACES);
  await breakStaleLock(wsNs, ws, await store.locks.get(`workspace:${wsNs}/${ws}`));
  const text = manifestText(wsNs, ws);
  const plan = await store.plan(ws, loadManifest(text));
  const killAt = selfKill ? Math.floor(rnd() * (plan.steps.length + 1)) : -1;
  const done = await step(
    {
      op: 'apply',
      ns: wsNs,
      ws,
      plan: plan.digest,
      basis: plan.basis.serial,
      manifest: text,
      ...(selfKill && { selfKill: true }),
    },
    () =>
      store.apply(plan, {
        allowDestroy: true,
        lockTimeoutMs: 200,
        // Called inside the apply's transaction, before each step and once at the end.
        onProgress: (d) => {
          if (d === killAt) die();
        },
      }),
    // Another worker applied first (the plan is stale, or the same plan is already in), or holds the lock.
    ['LOCKED', 'PLAN_STALE', 'PLAN_ALREADY_APPLIED'],
    (r) => ({ serial: r.serial }),
  );
  if (!done.ok && done.code === 'LOCKED') {
    await breakStaleLock(wsNs, ws, (done.err as { details?: { lock?: LockInfo } }).details?.lock);
  }
}

// ------------------------------------------------------------------- main loop

let store: Store;
/** The handle for this worker's own objects, confined to their namespace. */
let objects: Store;

async function main(): Promise<void> {
  store = await openStore({ path: cfg.store, actor: actorOf(cfg.k), historyLimit: HISTORY_LIMIT });
  objects = store.withNamespace(ns);
  process.stdout.write('ready\n');
  // Some workers kill themselves inside a transaction (an object transaction or an apply),
  // at a seeded point: those kills are sure to land mid-transaction.
  const selfKillFrom = cfg.selfKillFrom ?? Number.POSITIVE_INFINITY;
  for (let i = 0; ; i++) {
    // Warming up the code cache (crash-harness.ts): end by itself, so the loader can save it.
    if (cfg.warmupOps !== undefined && n >= cfg.warmupOps) process.exit(0);
    const r = rnd();
    // Armed: the next transaction or apply kills itself.
    const armed = i >= selfKillFrom;
    try {
      if (armed) await (r < 0.5 ? transactionOp(true) : applyOp(true));
      else if (r < 0.5) await objectOp();
      else if (r < 0.58) await transactionOp(armed);
      else if (r < 0.62) await probe();
      else if (r < 0.82) await lockedStateOp();
      else if (r < 0.85) await casStateOp();
      else await applyOp(armed);
    } catch (err) {
      // A read between the logged calls failed: nothing to attribute it to but the worker.
      record({ violation: `unexpected ${codeOf(err)} outside a logged call: ${String(err)}` });
    }
  }
}

// No top-level await: the harness runs this as a CommonJS bundle (for V8's code cache).
main().catch((err: unknown) => {
  process.stderr.write(`crash worker ${tag}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
