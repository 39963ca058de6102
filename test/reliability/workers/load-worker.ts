/**
 * One process of the load test (test/reliability/load.test.ts), which bundles it with
 * src/ and runs `node BUNDLE STORE INDEX SEED SECONDS THINK_MS` (by hand:
 * `node --import tsx load-worker.ts ...` works too).
 *
 * Opens STORE with the default busy timeout, prints `{ ready }`, waits for a line `go AT`
 * on stdin (AT: the epoch millisecond all workers start at), then runs a seeded mix of
 * scenarios for SECONDS, sleeping up to 2 x THINK_MS between them. Every store call is
 * timed and counted under an op name (`addContainer`, `lookupContainer:race`, ...);
 * every error is counted by op and code — the test decides which codes are allowed.
 *
 * Objects named `w<INDEX>-...` belong to this worker alone: only it changes them, so it
 * keeps a model of them and checks what the store lists against it (`mismatches`).
 * Shared objects are raced for on purpose: container names `race-<r>`, volumes
 * `race-vol-<r>`, workspaces `race-ws-<r>`, lock keys `custom:race-<r>`, the workspaces
 * `shared-0`/`shared-1` (locked and compare-and-set writes of a counter), the pod
 * `shared-pod` and the volume `shared-vol`, which the test creates beforehand.
 *
 * Ends with one line `{ done, stats, samples, mismatches, owned, wsWrites, ... }` and exit 0.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { isBerthError, openStore, type Container, type Pod, type Volume } from '../../../src/index.js';
import { prng } from '../../helpers/prng.js';

const [path, indexArg, seedArg, secondsArg, thinkArg] = process.argv.slice(2);
if (path === undefined || thinkArg === undefined) {
  process.stderr.write('usage: load-worker STORE INDEX SEED SECONDS THINK_MS\n');
  process.exit(2);
}
const index = Number(indexArg);
const seconds = Number(secondsArg);
const thinkMs = Number(thinkArg);
const me = `w${index}`;
const send = (msg: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(msg) + '\n');

const random = prng(Number(seedArg));
const chance = (p: number): boolean => random() < p;
const below = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[below(items.length)]);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ measurement

interface OpStats {
  n: number;
  errors: Record<string, number>;
  /** Latency of every call, ms, failed calls included. */
  ms: number[];
}
const stats: Record<string, OpStats> = {};
/** The first error of each op and code, with its message (and stack for non-BerthErrors). */
const samples: { op: string; code: string; message: string }[] = [];
/** Differences between what the store listed and this worker's model of its own objects. */
const mismatches: string[] = [];

type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

/** Runs one store call as op `op`: timed, counted, and its error (if any) recorded by code. */
async function call<T>(op: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  const s = (stats[op] ??= { n: 0, errors: {}, ms: [] });
  const started = performance.now();
  try {
    const value = await fn();
    s.n++;
    s.ms.push(Math.round((performance.now() - started) * 1000) / 1000);
    return { ok: true, value };
  } catch (err) {
    s.n++;
    s.ms.push(Math.round((performance.now() - started) * 1000) / 1000);
    const code = isBerthError(err) ? err.code : `RAW:${err instanceof Error ? err.name : typeof err}`;
    if (s.errors[code] === undefined) {
      const message = isBerthError(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      samples.push({ op, code, message });
    }
    s.errors[code] = (s.errors[code] ?? 0) + 1;
    return { ok: false, code };
  }
}

function mismatch(what: string, stored: readonly string[], modelled: readonly string[]): void {
  const a = [...stored].sort();
  const b = [...modelled].sort();
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    mismatches.push(`${what}: store has ${JSON.stringify(a)}, model has ${JSON.stringify(b)}`);
  }
}

// ------------------------------------------------------------------ this worker's own objects

interface OwnContainer {
  ctr: Container;
  /** Own containers this one depends on. */
  deps: string[];
  /** How many own containers depend on this one. */
  dependents: number;
  execs: string[];
  volumes: string[];
}
const containers = new Map<string, OwnContainer>();
const pods = new Map<string, Pod>();
const volumes = new Map<string, { vol: Volume; users: number }>();
let serialNo = 0;
const nextName = (kind: string): string => `${me}-${kind}${++serialNo}`;
const hexId = (): string => randomBytes(32).toString('hex');
/** Successful state writes per workspace, to check afterwards that none was lost. */
const wsWrites: Record<string, number> = {};
/** Own containers that have an exit code recorded. */
const exitCodes = new Set<string>();
const labels = { worker: me };

const ownIn = (pod: string | undefined): OwnContainer[] =>
  [...containers.values()].filter((c) => c.ctr.config.pod === pod);
const anyOwn = (): OwnContainer | undefined => pick([...containers.values()]);
/** Own containers nothing depends on, in `pod` (undefined: standalone). */
const removable = (pod: string | undefined): OwnContainer[] => ownIn(pod).filter((c) => c.dependents === 0);

const store = await openStore({ path, actor: `load-${me}@test` });
const sharedPod = await store.lookupPod('shared-pod');
send({ ready: true, pid: process.pid });

// ------------------------------------------------------------------ writes to own objects

async function addOwnContainer(pod?: Pod): Promise<void> {
  const podId = pod?.config.id;
  const siblings = ownIn(podId);
  const dep = chance(0.3) ? pick(siblings) : undefined;
  const vol = chance(0.3) ? pick([...volumes.keys()]) : undefined;
  const namedVolumes = [
    ...(vol ? [{ name: vol, dest: '/data' }] : []),
    ...(chance(0.2) ? [{ name: 'shared-vol', dest: '/shared' }] : []),
  ];
  const ctr: Container = {
    config: {
      id: hexId(),
      name: nextName(pod ? 'pc' : 'c'),
      image: 'docker.io/library/busybox:latest',
      command: ['sh', '-c', 'sleep 1000'],
      env: { WORKER: me, N: String(serialNo) },
      labels,
      ...(dep ? { dependencies: [dep.ctr.config.id] } : {}),
      ...(namedVolumes.length > 0 ? { namedVolumes } : {}),
    },
    state: { status: 'configured' },
  };
  const done = pod
    ? await call(pod === sharedPod ? 'addContainerToPod:shared' : 'addContainerToPod', () =>
        store.addContainerToPod(pod, ctr),
      )
    : await call('addContainer', () => store.addContainer(ctr));
  if (!done.ok) return;
  containers.set(ctr.config.id, {
    ctr: done.value,
    deps: dep ? [dep.ctr.config.id] : [],
    dependents: 0,
    execs: [],
    volumes: vol ? [vol] : [],
  });
  if (dep) dep.dependents++;
  if (vol) volumes.get(vol)!.users++;
}

/** Removes an own container nothing depends on (its exec sessions first). */
async function removeOwnContainer(pod?: Pod): Promise<void> {
  const podId = pod?.config.id;
  const victim = pick(removable(podId));
  if (!victim) return;
  if (victim.execs.length > 0) {
    const cleared = await call('removeContainerExecSessions', () => store.removeContainerExecSessions(victim.ctr));
    if (!cleared.ok) return;
    victim.execs = [];
  }
  const done = pod
    ? await call(pod === sharedPod ? 'removeContainerFromPod:shared' : 'removeContainerFromPod', () =>
        store.removeContainerFromPod(pod, victim.ctr),
      )
    : await call('removeContainer', () => store.removeContainer(victim.ctr));
  if (done.ok) forget(victim);
}

function forget(c: OwnContainer): void {
  containers.delete(c.ctr.config.id);
  for (const d of c.deps) {
    const dep = containers.get(d);
    if (dep) dep.dependents--;
  }
  for (const v of c.volumes) {
    const vol = volumes.get(v);
    if (vol) vol.users--;
  }
  exitCodes.delete(c.ctr.config.id);
}

async function saveOwnContainer(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  const status = pick(['created', 'running', 'paused', 'stopped', 'exited'] as const)!;
  const ctr: Container = {
    config: c.ctr.config,
    state: {
      status,
      ...(status === 'running' ? { pid: 1000 + below(60000) } : {}),
      startedAt: new Date().toISOString(),
    },
  };
  if ((await call('saveContainer', () => store.saveContainer(ctr))).ok) c.ctr = ctr;
}

async function renameOwnContainer(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  const oldName = c.ctr.config.name;
  const config = { ...c.ctr.config, name: nextName('r') };
  const done = await call('safeRewriteContainerConfig', () =>
    store.safeRewriteContainerConfig(c.ctr, oldName, config.name, config),
  );
  if (done.ok) c.ctr = { ...c.ctr, config };
}

async function ownPodChurn(): Promise<void> {
  if (pods.size < 3 || (pods.size < 5 && chance(0.3))) {
    const pod: Pod = { config: { id: hexId(), name: nextName('p'), labels }, state: { cgroupPath: `/berth/${me}` } };
    const done = await call('addPod', () => store.addPod(pod));
    if (done.ok) pods.set(pod.config.id, done.value);
    return;
  }
  // Empty a pod at once: exec sessions first, then all members in one transaction, then the pod.
  const pod = pick([...pods.values()])!;
  for (const c of ownIn(pod.config.id).filter((m) => m.execs.length > 0)) {
    if (!(await call('removeContainerExecSessions', () => store.removeContainerExecSessions(c.ctr))).ok) return;
    c.execs = [];
  }
  if (!(await call('removePodContainers', () => store.removePodContainers(pod))).ok) return;
  for (const c of ownIn(pod.config.id)) forget(c);
  if ((await call('removePod', () => store.removePod(pod))).ok) pods.delete(pod.config.id);
}

async function podMembers(): Promise<void> {
  const pod = chance(0.25) ? sharedPod : pick([...pods.values()]);
  if (!pod) return;
  const members = ownIn(pod.config.id);
  if (members.length < 3 || (members.length < 8 && chance(0.55))) await addOwnContainer(pod);
  else await removeOwnContainer(pod);
}

async function volumeChurn(): Promise<void> {
  const unused = [...volumes.values()].filter((v) => v.users === 0);
  if (volumes.size < 3 || (volumes.size < 8 && chance(0.5)) || unused.length === 0) {
    const vol: Volume = { config: { name: nextName('v'), driver: 'local', labels }, state: {} };
    const done = await call('addVolume', () => store.addVolume(vol));
    if (done.ok) volumes.set(vol.config.name, { vol: done.value, users: 0 });
    return;
  }
  const victim = pick(unused)!;
  if ((await call('removeVolume', () => store.removeVolume(victim.vol))).ok) volumes.delete(victim.vol.config.name);
}

async function execChurn(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  if (c.execs.length > 0 && chance(0.4)) {
    const id = c.execs[below(c.execs.length)]!;
    const done = await call('removeExecSession', () => store.removeExecSession({ id, containerId: c.ctr.config.id }));
    if (done.ok) c.execs = c.execs.filter((e) => e !== id);
    return;
  }
  const id = nextName('e');
  const done = await call('addExecSession', () => store.addExecSession(c.ctr, { id, containerId: c.ctr.config.id }));
  if (done.ok) c.execs.push(id);
}

async function networkChurn(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  const network = `net-${1 + below(3)}`;
  // Networks live in the config: the model keeps it current, so a later rewrite keeps them.
  const { [network]: connected, ...others } = c.ctr.config.networks ?? {};
  if (connected) {
    const done = await call('networkDisconnect', () => store.networkDisconnect(c.ctr, network));
    if (done.ok) c.ctr = { ...c.ctr, config: { ...c.ctr.config, networks: others } };
  } else {
    const options = { aliases: [c.ctr.config.name] };
    const done = await call('networkConnect', () => store.networkConnect(c.ctr, network, options));
    if (done.ok) c.ctr = { ...c.ctr, config: { ...c.ctr.config, networks: { ...others, [network]: options } } };
  }
}

async function exitCode(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  if ((await call('addContainerExitCode', () => store.addContainerExitCode(c.ctr.config.id, below(256)))).ok) {
    exitCodes.add(c.ctr.config.id);
  }
}

// ------------------------------------------------------------------ workspaces and locks

/** lock -> readState -> writeState(counter + 1, { lockId, expectedSerial, lineage }) -> unlock. */
async function lockedWrite(workspace: string, kind: 'own' | 'shared'): Promise<void> {
  // Half the shared attempts wait for the lock (with backoff), the others fail at once.
  const timeoutMs = kind === 'shared' && chance(0.5) ? 100 + below(200) : 0;
  const lock = await call(`workspaces.lock:${timeoutMs > 0 ? 'wait' : kind}`, () =>
    store.workspaces.lock(workspace, { operation: 'load', info: me, timeoutMs }),
  );
  if (!lock.ok) return;
  try {
    const read = await call(`workspaces.readState:${kind}`, () => store.workspaces.readState(workspace));
    if (!read.ok) return;
    const counter = ((read.value.state as { counter?: number } | null)?.counter ?? 0) + 1;
    const doc = {
      counter,
      by: me,
      at: Date.now(),
      items: Array.from({ length: 8 }, (_, i) => `${me}-${counter}-${i}`),
    };
    const written = await call(`workspaces.writeState:${kind}`, () =>
      store.workspaces.writeState(workspace, doc, {
        lockId: lock.value.id,
        expectedSerial: read.value.serial,
        lineage: read.value.lineage,
        operation: 'load',
      }),
    );
    if (written.ok) wsWrites[workspace] = (wsWrites[workspace] ?? 0) + 1;
  } finally {
    await call(`workspaces.unlock:${kind}`, () => store.workspaces.unlock(workspace, lock.value.id));
  }
}

/** readState -> writeState(counter + 1, { expectedSerial, lineage }) without the lock: a compare-and-set race. */
async function casWrite(workspace: string): Promise<void> {
  const read = await call('workspaces.readState:shared', () => store.workspaces.readState(workspace));
  if (!read.ok) return;
  const counter = ((read.value.state as { counter?: number } | null)?.counter ?? 0) + 1;
  const written = await call('workspaces.writeState:cas', () =>
    store.workspaces.writeState(
      workspace,
      { counter, by: me, at: Date.now() },
      { expectedSerial: read.value.serial, lineage: read.value.lineage, operation: 'cas' },
    ),
  );
  if (written.ok) wsWrites[workspace] = (wsWrites[workspace] ?? 0) + 1;
}

async function raceLock(): Promise<void> {
  const key = `custom:race-${below(3)}`;
  const lock = await call('locks.acquire:race', () =>
    store.locks.acquire(key, { operation: 'load', info: me, ttlMs: 60_000 }),
  );
  if (!lock.ok) return;
  try {
    // Hold it for a moment of "work", so that others really meet it held.
    await sleep(1 + random() * 3);
    await call('locks.heartbeat', () => store.locks.heartbeat(key, lock.value.id));
  } finally {
    await call('locks.release', () => store.locks.release(key, lock.value.id));
  }
}

// ------------------------------------------------------------------ races for shared names

const raceName = (): string => `race-${below(6)}`;

async function raceAdd(): Promise<void> {
  await call('addContainer:race', () =>
    store.addContainer({
      config: { id: hexId(), name: raceName(), image: 'busybox', labels: { race: 'yes' } },
      state: { status: 'configured' },
    }),
  );
}

async function raceRemove(): Promise<void> {
  const found = await call('lookupContainer:race', () => store.lookupContainer(raceName()));
  if (!found.ok) return;
  if (chance(0.5)) {
    // Another process may add an exec session between these two calls: EXEC_SESSION_EXISTS.
    const cleared = await call('removeContainerExecSessions:race', () =>
      store.removeContainerExecSessions(found.value),
    );
    if (!cleared.ok) return;
  }
  await call('removeContainer:race', () => store.removeContainer(found.value));
}

async function raceExec(): Promise<void> {
  const found = await call('lookupContainer:race', () => store.lookupContainer(raceName()));
  if (!found.ok) return;
  const id = nextName('re');
  await call('addExecSession:race', () =>
    store.addExecSession(found.value, { id, containerId: found.value.config.id }),
  );
}

async function raceVolume(): Promise<void> {
  const name = `race-vol-${below(4)}`;
  if (chance(0.5)) await call('addVolume:race', () => store.addVolume({ config: { name }, state: {} }));
  else await call('removeVolume:race', () => store.removeVolume({ config: { name }, state: {} }));
}

async function raceWorkspace(): Promise<void> {
  const name = `race-ws-${below(3)}`;
  if (chance(0.5)) await call('workspaces.create:race', () => store.workspaces.create(name));
  else await call('workspaces.delete:race', () => store.workspaces.delete(name, { force: true }));
}

// ------------------------------------------------------------------ reads

async function lookupOwn(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  const { id, name } = c.ctr.config;
  const how = below(5);
  const got =
    how === 0
      ? await call('lookupContainer:name', () => store.lookupContainer(name))
      : how === 1
        ? await call('lookupContainer:id', () => store.lookupContainer(id))
        : how === 2
          ? await call('lookupContainer:prefix', () => store.lookupContainer(id.slice(0, 12)))
          : how === 3
            ? await call('container', () => store.container(id))
            : await call('updateContainer', () => store.updateContainer(c.ctr));
  if (got.ok && (got.value.config.id !== id || got.value.config.name !== name)) {
    mismatches.push(`lookup of ${id} (${name}) returned ${got.value.config.id} (${got.value.config.name})`);
  }
}

async function listOwn(): Promise<void> {
  const all = await call('allContainers', () => store.allContainers());
  if (all.ok) {
    const mine = all.value.filter((c) => c.config.labels?.worker === me).map((c) => c.config.id);
    mismatch('own containers', mine, [...containers.keys()]);
  }
}

async function readPods(): Promise<void> {
  const pod = chance(0.3) ? sharedPod : pick([...pods.values()]);
  if (!pod) return;
  const found = await call('lookupPod', () =>
    store.lookupPod(pod === sharedPod ? 'shared-pod' : chance(0.5) ? pod.config.name : pod.config.id.slice(0, 12)),
  );
  if (!found.ok) return;
  const members = await call('podContainers', () => store.podContainers(found.value));
  if (members.ok) {
    const mine = members.value.filter((c) => c.config.labels?.worker === me).map((c) => c.config.id);
    mismatch(
      `members of pod ${pod.config.name}`,
      mine,
      ownIn(pod.config.id).map((c) => c.ctr.config.id),
    );
  }
}

async function readVolumes(): Promise<void> {
  if (chance(0.5)) {
    const all = await call('allVolumes', () => store.allVolumes());
    if (all.ok) {
      const mine = all.value.filter((v) => v.config.labels?.worker === me).map((v) => v.config.name);
      mismatch('own volumes', mine, [...volumes.keys()]);
    }
    return;
  }
  const name = pick([...volumes.keys()]) ?? 'shared-vol';
  await call('lookupVolume', () => store.lookupVolume(name));
  await call('volumeInUse', () => store.volumeInUse({ config: { name }, state: {} }));
}

async function readExecs(): Promise<void> {
  const c = anyOwn();
  if (!c) return;
  const got = await call('getContainerExecSessions', () => store.getContainerExecSessions(c.ctr));
  if (got.ok) mismatch(`exec sessions of ${c.ctr.config.name}`, got.value, c.execs);
  const networks = await call('getNetworks', () => store.getNetworks(c.ctr));
  if (networks.ok) {
    mismatch(`networks of ${c.ctr.config.name}`, Object.keys(networks.value), Object.keys(c.ctr.config.networks ?? {}));
  }
  const withCode = pick([...exitCodes]);
  if (withCode) await call('getContainerExitCode', () => store.getContainerExitCode(withCode));
}

async function readWorkspaces(): Promise<void> {
  const what = below(4);
  if (what === 0) await call('workspaces.list', () => store.workspaces.list());
  else if (what === 1) await call('workspaces.history', () => store.workspaces.history(me, { limit: 10 }));
  else await call('workspaces.readState:shared', () => store.workspaces.readState(`shared-${below(2)}`));
}

async function readEvents(): Promise<void> {
  const last = await call('events.lastSeq', () => store.events.lastSeq());
  if (!last.ok) return;
  const since = Math.max(0, last.value - 100);
  if (chance(0.5)) await call('events.list', () => store.events.list({ since, limit: 100 }));
  else {
    await call('events.list:types', () =>
      store.events.list({ since, types: ['container.create', 'lock.acquire'], limit: 50 }),
    );
  }
}

// ------------------------------------------------------------------ the mix

/** Scenarios and their weights: about half of the store calls write. */
const mix: [number, () => Promise<void>][] = [
  // Own objects.
  [
    9,
    () => (containers.size > 40 || (containers.size > 12 && chance(0.45)) ? removeOwnContainer() : addOwnContainer()),
  ],
  [5, saveOwnContainer],
  [1, renameOwnContainer],
  [1.5, ownPodChurn],
  [3, podMembers],
  [2, volumeChurn],
  [3, execChurn],
  [1.5, networkChurn],
  [1, exitCode],
  // Workspaces and locks, partly contended.
  [2.5, () => lockedWrite(me, 'own')],
  [4, () => lockedWrite(`shared-${below(2)}`, 'shared')],
  [1.5, () => casWrite(`shared-${below(2)}`)],
  [1.5, raceLock],
  // Races for shared names.
  [2.5, raceAdd],
  [2.5, raceRemove],
  [1, raceExec],
  [1.5, raceVolume],
  [1, raceWorkspace],
  // Reads.
  [16, lookupOwn],
  [1.5, listOwn],
  [3, readPods],
  [2, readVolumes],
  [2.5, readExecs],
  [4, readWorkspaces],
  [3, readEvents],
  [2, () => call('locks.list', () => store.locks.list()).then(() => undefined)],
  [0.4, () => call('snapshot', () => store.snapshot()).then(() => undefined)],
];
const totalWeight = mix.reduce((sum, [w]) => sum + w, 0);
function nextScenario(): () => Promise<void> {
  let r = random() * totalWeight;
  for (const [w, run] of mix) {
    r -= w;
    if (r < 0) return run;
  }
  return mix[mix.length - 1]![1];
}

// ------------------------------------------------------------------ run

const lines = createInterface({ input: process.stdin });
let startAt = Date.now();
for await (const line of lines) {
  const [word, at] = line.trim().split(' ');
  if (word === 'go') {
    startAt = Number(at);
    break;
  }
}
lines.close();
process.stdin.destroy();
await sleep(Math.max(0, startAt - Date.now()));

const began = performance.now();
const deadline = began + seconds * 1000;
let scenarios = 0;
while (performance.now() < deadline) {
  await nextScenario()();
  scenarios++;
  if (thinkMs > 0) await sleep(random() * 2 * thinkMs);
}
const elapsedMs = performance.now() - began;

// Nothing is left held: every scenario releases its locks before it returns.
send({
  done: true,
  index,
  pid: process.pid,
  elapsedMs,
  scenarios,
  stats,
  samples,
  mismatches,
  wsWrites,
  owned: {
    containers: [...containers.keys()].sort(),
    pods: [...pods.keys()].sort(),
    volumes: [...volumes.keys()].sort(),
  },
});
await store.close();
