/**
 * An in-memory reference model of berth's object store rules (DESIGN.md §3), used by the
 * property-based test in object-store.model.test.ts. It is deliberately naive: plain maps
 * and linear scans, no SQL, so that it is obviously right by reading DESIGN.md.
 *
 * Every method mirrors a Store method and returns an {@link Expectation}: the error codes
 * the store may fail with (every rule the call breaks; DESIGN.md fixes no precedence
 * between two broken rules), whether it may succeed, the value it must return, and how
 * the model changes once the store has succeeded.
 */
import type { ErrorCode } from '../../src/errors.js';
import type {
  Container,
  ContainerConfig,
  ContainerState,
  ExecSession,
  NetworkOptions,
  Pod,
  PodConfig,
  Volume,
} from '../../src/engine/types.js';

export interface Expectation<T> {
  /** Codes the store may fail with (empty: it must succeed). */
  readonly codes: readonly ErrorCode[];
  /** Whether the call may succeed. */
  readonly mayPass: boolean;
  /** The value a successful call must return, given the actual one (which carries generated ids). */
  readonly expected?: (actual: T) => unknown;
  /** Applies the call to the model; run only after the store succeeded. */
  readonly commit?: (actual: T) => void;
}

/** Names of containers, pods and volumes (DESIGN.md §3). */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** How long exit codes of removed containers are kept (DESIGN.md §3). */
export const EXIT_CODE_RETENTION_MS = 5 * 60 * 1000;

const REFRESHED_STATUS: Record<string, string> = {
  running: 'exited',
  paused: 'exited',
  stopping: 'exited',
  stopped: 'exited',
  created: 'configured',
  unknown: 'configured',
};

/** Collects the rules a call breaks. */
class Broken {
  readonly codes = new Set<ErrorCode>();
  add(code: ErrorCode): void {
    this.codes.add(code);
  }
  get any(): boolean {
    return this.codes.size > 0;
  }
  fail<T>(): Expectation<T> {
    return { codes: [...this.codes], mayPass: false };
  }
}

function ok<T>(expected?: (actual: T) => unknown, commit?: (actual: T) => void): Expectation<T> {
  return { codes: [], mayPass: true, ...(expected && { expected }), ...(commit && { commit }) };
}

const clone = <T>(value: T): T => structuredClone(value);

/** Same members, any order (dependency lists are sets). */
function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

function volumeNames(config: ContainerConfig): string[] {
  return [...new Set((config.namedVolumes ?? []).map((v) => v.name))];
}

export interface ExitCodeRecord {
  code: number;
  at: number;
}

export class ObjectStoreModel {
  /** The handle's namespace ('' sees everything). */
  namespace = '';
  /** Insertion order is the listing order ("oldest first"). */
  readonly containers = new Map<string, Container>();
  readonly pods = new Map<string, Pod>();
  readonly volumes = new Map<string, Volume>();
  /** Exec session id -> container id. */
  readonly execSessions = new Map<string, string>();
  readonly exitCodes = new Map<string, ExitCodeRecord>();

  constructor(public now: number) {}

  // ------------------------------------------------------------ helpers

  private visible(namespace: string | undefined): boolean {
    return this.namespace === '' || namespace === this.namespace;
  }

  /** An object argument that claims another namespace than the handle's. */
  private checkArgNamespace(obj: { config: { namespace?: string } }, broken: Broken): void {
    const ns = obj.config.namespace;
    if (this.namespace !== '' && ns !== undefined && ns !== this.namespace) broken.add('NAMESPACE_MISMATCH');
  }

  /** The namespace a new object gets (absent: the handle's; another one is refused). */
  private resolveNamespace(declared: string | undefined, broken: Broken): string {
    if (declared === undefined) return this.namespace;
    if (this.namespace !== '' && declared !== this.namespace) broken.add('NAMESPACE_MISMATCH');
    return declared;
  }

  private checkName(name: string, broken: Broken): void {
    if (name === '') broken.add('EMPTY_ID');
    else if (!NAME_PATTERN.test(name)) broken.add('INVALID_NAME');
  }

  /** Who owns an id among containers and pods. */
  private idOwner(id: string): ErrorCode | undefined {
    if (this.containers.has(id)) return 'CONTAINER_EXISTS';
    if (this.pods.has(id)) return 'POD_EXISTS';
    return undefined;
  }

  /** Who owns a name among containers and pods, other than the object `except`. */
  private nameOwner(name: string, except?: string): ErrorCode | undefined {
    for (const c of this.containers.values()) {
      if (c.config.name === name && c.config.id !== except) return 'CONTAINER_EXISTS';
    }
    for (const p of this.pods.values()) {
      if (p.config.name === name && p.config.id !== except) return 'POD_EXISTS';
    }
    return undefined;
  }

  private loadContainer(id: string, broken: Broken): Container | undefined {
    const c = this.containers.get(id);
    if (!c) broken.add('NO_SUCH_CONTAINER');
    else if (!this.visible(c.config.namespace)) broken.add('NAMESPACE_MISMATCH');
    else return c;
    return undefined;
  }

  private loadPod(id: string, broken: Broken): Pod | undefined {
    const p = this.pods.get(id);
    if (!p) broken.add('NO_SUCH_POD');
    else if (!this.visible(p.config.namespace)) broken.add('NAMESPACE_MISMATCH');
    else return p;
    return undefined;
  }

  private loadVolume(name: string, broken: Broken): Volume | undefined {
    const v = this.volumes.get(name);
    if (!v) broken.add('NO_SUCH_VOLUME');
    else if (!this.visible(v.config.namespace)) broken.add('NAMESPACE_MISMATCH');
    else return v;
    return undefined;
  }

  private dependents(id: string): string[] {
    return [...this.containers.values()]
      .filter((c) => (c.config.dependencies ?? []).includes(id))
      .map((c) => c.config.id)
      .sort();
  }

  private sessionsOf(id: string): string[] {
    return [...this.execSessions.entries()]
      .filter(([, ctr]) => ctr === id)
      .map(([s]) => s)
      .sort();
  }

  private volumeUsers(name: string): string[] {
    return [...this.containers.values()]
      .filter((c) => volumeNames(c.config).includes(name))
      .map((c) => c.config.id)
      .sort();
  }

  private podMembers(id: string): Container[] {
    return [...this.containers.values()].filter((c) => c.config.pod === id);
  }

  /** Rules on a container's dependencies and named volumes, for a container in `pod` and `namespace`. */
  private checkReferences(config: ContainerConfig, namespace: string, pod: string | undefined, broken: Broken): void {
    for (const dep of config.dependencies ?? []) {
      const d = this.containers.get(dep);
      if (!d) broken.add('NO_SUCH_CONTAINER');
      else if (d.config.namespace !== namespace) broken.add('NAMESPACE_MISMATCH');
      else if (d.config.pod !== pod) broken.add('INVALID_ARGUMENT');
    }
    this.checkVolumes(config, namespace, broken);
  }

  /** An empty volume name is EMPTY_ID, as everywhere. */
  private checkVolumeNames(config: ContainerConfig, broken: Broken): void {
    if ((config.namedVolumes ?? []).some((v) => v.name === '')) broken.add('EMPTY_ID');
  }

  private checkVolumes(config: ContainerConfig, namespace: string, broken: Broken): void {
    for (const name of volumeNames(config)) {
      const v = this.volumes.get(name);
      if (!v) broken.add('NO_SUCH_VOLUME');
      else if (v.config.namespace !== namespace) broken.add('NAMESPACE_MISMATCH');
    }
  }

  /** Validation shared by addContainer and addContainerToPod; returns the resolved namespace. */
  private checkNewContainer(input: Container, broken: Broken): string {
    const { config } = input;
    if (config.id === '') broken.add('EMPTY_ID');
    this.checkName(config.name, broken);
    const namespace = this.resolveNamespace(config.namespace, broken);
    const deps = config.dependencies ?? [];
    if (new Set(deps).size !== deps.length) broken.add('INVALID_ARGUMENT');
    this.checkVolumeNames(config, broken);
    if (config.id !== undefined && deps.includes(config.id)) broken.add('INVALID_ARGUMENT');
    if (config.id !== undefined && config.id !== '') {
      const owner = this.idOwner(config.id);
      if (owner) broken.add(owner);
    }
    const nameOwner = this.nameOwner(config.name);
    if (nameOwner) broken.add(nameOwner);
    return namespace;
  }

  private storedContainer(input: Container, namespace: string, pod: string | undefined, id: string): Container {
    const config: ContainerConfig = { ...clone(input.config), id, namespace };
    if (pod !== undefined) config.pod = pod;
    if (config.createdAt === undefined) config.createdAt = new Date(this.now).toISOString();
    return { config, state: clone(input.state ?? { status: 'configured' }) };
  }

  // ------------------------------------------------------------ namespace and clock

  setNamespace(ns: string): void {
    this.namespace = ns;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  // ------------------------------------------------------------ containers

  addContainer(input: Container): Expectation<Container> {
    const broken = new Broken();
    const namespace = this.checkNewContainer(input, broken);
    if (input.config.pod !== undefined) broken.add('INVALID_ARGUMENT');
    this.checkReferences(input.config, namespace, undefined, broken);
    if (broken.any) return broken.fail();
    return ok(
      (actual) => this.storedContainer(input, namespace, undefined, input.config.id ?? actual.config.id),
      (actual) => {
        const stored = this.storedContainer(input, namespace, undefined, actual.config.id);
        this.containers.set(stored.config.id, stored);
      },
    );
  }

  addContainerToPod(podArg: Pod, input: Container): Expectation<Container> {
    const broken = new Broken();
    const podId = podArg.config.id;
    if (podId === '') broken.add('EMPTY_ID');
    this.checkArgNamespace(podArg, broken);
    const namespace = this.checkNewContainer(input, broken);
    if (input.config.pod !== undefined && input.config.pod !== podId) broken.add('INVALID_ARGUMENT');
    const pod = podId === '' ? undefined : this.loadPod(podId, broken);
    if (pod && pod.config.namespace !== namespace) broken.add('NAMESPACE_MISMATCH');
    this.checkReferences(input.config, namespace, podId, broken);
    if (broken.any) return broken.fail();
    return ok(
      (actual) => this.storedContainer(input, namespace, podId, input.config.id ?? actual.config.id),
      (actual) => {
        const stored = this.storedContainer(input, namespace, podId, actual.config.id);
        this.containers.set(stored.config.id, stored);
      },
    );
  }

  /** Rules on removing one container (no dependents left behind, no exec sessions). */
  private checkRemovable(c: Container, alsoRemoved: ReadonlySet<string>, broken: Broken): void {
    if (this.dependents(c.config.id).some((d) => !alsoRemoved.has(d))) broken.add('DEPENDENCY_EXISTS');
    if (this.sessionsOf(c.config.id).length > 0) broken.add('EXEC_SESSION_EXISTS');
  }

  removeContainer(arg: Container): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    const c = this.loadContainer(id, broken);
    if (c) {
      if (c.config.pod !== undefined) broken.add('INVALID_ARGUMENT');
      this.checkRemovable(c, new Set(), broken);
    }
    if (broken.any) return broken.fail();
    return ok(undefined, () => this.containers.delete(id));
  }

  removeContainerFromPod(podArg: Pod, arg: Container): Expectation<void> {
    const broken = new Broken();
    const podId = podArg.config.id;
    const id = arg.config.id;
    if (podId === '' || id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(podArg, broken);
    this.checkArgNamespace(arg, broken);
    if (arg.config.pod !== undefined && arg.config.pod !== podId) broken.add('INVALID_ARGUMENT');
    this.loadPod(podId, broken);
    const c = this.loadContainer(id, broken);
    if (c) {
      if (c.config.pod === undefined) {
        // DESIGN.md is silent on a container in no pod (podman: "not part of a pod", ErrNoSuchPod).
        broken.add('INVALID_ARGUMENT');
        broken.add('NO_SUCH_CONTAINER');
        broken.add('NO_SUCH_POD');
      } else if (c.config.pod !== podId) {
        // "the pod calls refuse a container whose `pod` is another pod (INVALID_ARGUMENT)"
        broken.add('INVALID_ARGUMENT');
      }
      this.checkRemovable(c, new Set(), broken);
    }
    if (broken.any) return broken.fail();
    return ok(undefined, () => this.containers.delete(id));
  }

  container(id: string): Expectation<Container> {
    if (id === '') return fail('EMPTY_ID');
    const broken = new Broken();
    const c = this.loadContainer(id, broken);
    if (!c) return broken.fail();
    return ok(() => c);
  }

  hasContainer(id: string): Expectation<boolean> {
    if (id === '') return fail('EMPTY_ID');
    const c = this.containers.get(id);
    return ok(() => c !== undefined && this.visible(c.config.namespace));
  }

  /** Full id, then exact name, then a unique literal id prefix, among visible objects. */
  private resolve<T extends { config: { id: string; name: string; namespace?: string } }>(
    objects: Iterable<T>,
    x: string,
    missing: ErrorCode,
  ): Expectation<T> {
    if (x === '') return fail('EMPTY_ID');
    const seen = [...objects].filter((o) => this.visible(o.config.namespace));
    const byId = seen.find((o) => o.config.id === x);
    if (byId) return ok(() => byId);
    const byName = seen.find((o) => o.config.name === x);
    if (byName) return ok(() => byName);
    const prefixed = seen.filter((o) => o.config.id.startsWith(x));
    if (prefixed.length === 1) return ok(() => prefixed[0]);
    return fail(prefixed.length > 1 ? 'AMBIGUOUS_ID' : missing);
  }

  lookupContainer(idOrName: string): Expectation<Container> {
    return this.resolve(this.containers.values(), idOrName, 'NO_SUCH_CONTAINER');
  }

  lookupContainerID(idOrName: string): Expectation<string> {
    const e = this.lookupContainer(idOrName);
    if (!e.mayPass) return e as unknown as Expectation<string>;
    const expected = e.expected!(undefined as unknown as Container) as Container;
    return ok(() => expected.config.id);
  }

  getName(id: string): Expectation<string> {
    if (id === '') return fail('EMPTY_ID');
    const obj = this.containers.get(id) ?? this.pods.get(id);
    // DESIGN.md does not say which NO_SUCH_* a missing id of either kind is.
    if (!obj) return fail('NO_SUCH_CONTAINER', 'NO_SUCH_POD');
    if (!this.visible(obj.config.namespace)) return fail('NAMESPACE_MISMATCH');
    return ok(() => obj.config.name);
  }

  /**
   * Replaces a container's config, renaming it when `newName` is given (`oldName` must
   * then be its current name and `newConfig.name` must be `newName`).
   */
  safeRewriteContainerConfig(
    arg: Container,
    oldName: string,
    newName: string,
    newConfig: ContainerConfig,
  ): Expectation<void> {
    return this.rewriteContainer(arg, newConfig, { oldName, newName });
  }

  /** Replaces a container's config; the name may change too. */
  rewriteContainerConfig(arg: Container, newConfig: ContainerConfig): Expectation<void> {
    return this.rewriteContainer(arg, newConfig, 'any');
  }

  private rewriteContainer(
    arg: Container,
    newConfig: ContainerConfig,
    rename: { oldName: string; newName: string } | 'any',
  ): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    if (newConfig.id !== id) broken.add('INVALID_ARGUMENT');
    this.checkName(newConfig.name, broken);
    if (rename !== 'any' && rename.newName !== '') {
      // DESIGN: an empty name argument is EMPTY_ID, everywhere.
      if (rename.oldName === '') broken.add('EMPTY_ID');
      this.checkName(rename.newName, broken);
      if (newConfig.name !== rename.newName) broken.add('INVALID_ARGUMENT');
    }
    const deps = newConfig.dependencies ?? [];
    if (new Set(deps).size !== deps.length || deps.includes(id)) broken.add('INVALID_ARGUMENT');
    this.checkVolumeNames(newConfig, broken);
    const c = this.loadContainer(id, broken);
    let next: ContainerConfig | undefined;
    if (c) {
      const namespace = c.config.namespace ?? '';
      next = { ...clone(newConfig), namespace: newConfig.namespace ?? namespace };
      // "Rewrites may change the config but never the id, pod or dependencies"; nor the namespace.
      if (next.namespace !== namespace) broken.add('INVALID_ARGUMENT');
      if (next.pod !== c.config.pod) broken.add('INVALID_ARGUMENT');
      if (!sameSet(c.config.dependencies ?? [], deps)) broken.add('INVALID_ARGUMENT');
      if (rename !== 'any') {
        if (rename.newName !== '' && rename.oldName !== c.config.name) broken.add('INVALID_ARGUMENT');
        if (rename.newName === '' && newConfig.name !== c.config.name) broken.add('INVALID_ARGUMENT');
      }
      if (newConfig.name !== c.config.name) {
        const owner = this.nameOwner(newConfig.name, id);
        if (owner) broken.add(owner);
      }
      if (!sameSet(volumeNames(c.config), volumeNames(newConfig))) this.checkVolumes(newConfig, namespace, broken);
    }
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      c!.config = next!;
    });
  }

  saveContainer(arg: Container): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    const c = this.loadContainer(id, broken);
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      c!.state = clone(arg.state);
    });
  }

  containerInUse(arg: Container): Expectation<string[]> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    this.loadContainer(arg.config.id, broken);
    if (broken.any) return broken.fail();
    return ok(() => this.dependents(arg.config.id));
  }

  /** Visible containers, oldest first. */
  allContainers(): Container[] {
    return [...this.containers.values()].filter((c) => this.visible(c.config.namespace));
  }

  // ------------------------------------------------------------ networks

  getNetworks(arg: Container): Expectation<Record<string, NetworkOptions>> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    const c = this.loadContainer(arg.config.id, broken);
    if (broken.any) return broken.fail();
    return ok(() => c!.config.networks ?? {});
  }

  networkConnect(arg: Container, network: string, opts: NetworkOptions): Expectation<void> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    if (network === '') broken.add('INVALID_ARGUMENT');
    const c = this.loadContainer(arg.config.id, broken);
    if (c && network !== '' && Object.hasOwn(c.config.networks ?? {}, network)) broken.add('NETWORK_CONNECTED');
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      c!.config.networks = { ...(c!.config.networks ?? {}), [network]: clone(opts) };
    });
  }

  networkDisconnect(arg: Container, network: string): Expectation<void> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    if (network === '') broken.add('INVALID_ARGUMENT');
    const c = this.loadContainer(arg.config.id, broken);
    if (c && network !== '' && !Object.hasOwn(c.config.networks ?? {}, network)) broken.add('NO_SUCH_NETWORK');
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      const rest = { ...c!.config.networks };
      delete rest[network];
      c!.config.networks = rest;
    });
  }

  // ------------------------------------------------------------ exec sessions

  addExecSession(arg: Container, session: ExecSession): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    if (session.id === '') broken.add('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    if (session.containerId !== undefined && session.containerId !== id) broken.add('INVALID_ARGUMENT');
    this.loadContainer(id, broken);
    if (session.id !== '' && this.execSessions.has(session.id)) broken.add('EXEC_SESSION_EXISTS');
    if (broken.any) return broken.fail();
    return ok(undefined, () => this.execSessions.set(session.id, id));
  }

  getExecSession(id: string): Expectation<string> {
    if (id === '') return fail('EMPTY_ID');
    const ctr = this.execSessions.get(id);
    if (ctr === undefined) return fail('NO_SUCH_EXEC_SESSION');
    if (!this.visible(this.containers.get(ctr)?.config.namespace)) {
      // A session of a container in another namespace: DESIGN.md allows hiding it or refusing it.
      return { codes: ['NAMESPACE_MISMATCH', 'NO_SUCH_EXEC_SESSION'], mayPass: true, expected: () => ctr };
    }
    return ok(() => ctr);
  }

  removeExecSession(session: ExecSession): Expectation<void> {
    if (session.id === '') return fail('EMPTY_ID');
    const ctr = this.execSessions.get(session.id);
    if (ctr === undefined) return fail('NO_SUCH_EXEC_SESSION');
    if (!this.visible(this.containers.get(ctr)?.config.namespace)) return fail('NAMESPACE_MISMATCH');
    return ok(undefined, () => this.execSessions.delete(session.id));
  }

  getContainerExecSessions(arg: Container): Expectation<string[]> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    this.loadContainer(arg.config.id, broken);
    if (broken.any) return broken.fail();
    return ok(() => this.sessionsOf(arg.config.id));
  }

  removeContainerExecSessions(arg: Container): Expectation<void> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    this.loadContainer(arg.config.id, broken);
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      for (const s of this.sessionsOf(arg.config.id)) this.execSessions.delete(s);
    });
  }

  // ------------------------------------------------------------ exit codes

  addContainerExitCode(id: string, code: number): Expectation<void> {
    if (id === '') return fail('EMPTY_ID');
    if (!Number.isInteger(code) || code < -1 || code > 255) return fail('INVALID_ARGUMENT');
    return ok(undefined, () => this.exitCodes.set(id, { code, at: this.now }));
  }

  getContainerExitCode(id: string): Expectation<number> {
    if (id === '') return fail('EMPTY_ID');
    const rec = this.exitCodes.get(id);
    if (!rec) return fail('NO_SUCH_EXIT_CODE');
    return ok(() => rec.code);
  }

  pruneContainerExitCodes(): Expectation<void> {
    return ok(undefined, () => {
      for (const [id, rec] of this.exitCodes) {
        if (rec.at < this.now - EXIT_CODE_RETENTION_MS && !this.containers.has(id)) this.exitCodes.delete(id);
      }
    });
  }

  // ------------------------------------------------------------ refresh

  refresh(): Expectation<void> {
    return ok(undefined, () => {
      for (const c of this.containers.values()) {
        const state: ContainerState = { ...c.state };
        const status = state.status;
        if (typeof status === 'string' && REFRESHED_STATUS[status] !== undefined)
          state.status = REFRESHED_STATUS[status];
        // It was running when the machine went down: there is no exit code to keep.
        if (status === 'running' || status === 'paused' || status === 'stopping') delete state.exitCode;
        delete state.pid;
        delete state.mounted;
        delete state.mountpoint;
        delete state.execSessions;
        c.state = state;
      }
      for (const p of this.pods.values()) {
        const state = { ...p.state };
        delete state.cgroupPath;
        p.state = state;
      }
      for (const v of this.volumes.values()) {
        if (v.state.mountCount !== undefined) v.state = { ...v.state, mountCount: 0 };
      }
      this.execSessions.clear();
      this.exitCodes.clear();
    });
  }

  // ------------------------------------------------------------ pods

  addPod(input: Pod): Expectation<Pod> {
    const broken = new Broken();
    const { config } = input;
    if (config.id === '') broken.add('EMPTY_ID');
    this.checkName(config.name, broken);
    const namespace = this.resolveNamespace(config.namespace, broken);
    if (config.id !== undefined && config.id !== '') {
      const owner = this.idOwner(config.id);
      if (owner) broken.add(owner);
    }
    const nameOwner = this.nameOwner(config.name);
    if (nameOwner) broken.add(nameOwner);
    if (broken.any) return broken.fail();
    const stored = (id: string): Pod => {
      const c: PodConfig = { ...clone(config), id, namespace };
      if (c.createdAt === undefined) c.createdAt = new Date(this.now).toISOString();
      return { config: c, state: clone(input.state ?? {}) };
    };
    return ok(
      (actual) => stored(config.id ?? actual.config.id),
      (actual) => this.pods.set(actual.config.id, stored(actual.config.id)),
    );
  }

  removePod(arg: Pod): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    const p = this.loadPod(id, broken);
    if (p && this.podMembers(id).length > 0) broken.add('POD_NOT_EMPTY');
    if (broken.any) return broken.fail();
    return ok(undefined, () => this.pods.delete(id));
  }

  removePodContainers(arg: Pod): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    const p = this.loadPod(id, broken);
    const members = p ? this.podMembers(id) : [];
    const ids = new Set(members.map((m) => m.config.id));
    for (const m of members) this.checkRemovable(m, ids, broken);
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      for (const m of ids) this.containers.delete(m);
    });
  }

  pod(id: string): Expectation<Pod> {
    if (id === '') return fail('EMPTY_ID');
    const broken = new Broken();
    const p = this.loadPod(id, broken);
    if (!p) return broken.fail();
    return ok(() => p);
  }

  hasPod(id: string): Expectation<boolean> {
    if (id === '') return fail('EMPTY_ID');
    const p = this.pods.get(id);
    return ok(() => p !== undefined && this.visible(p.config.namespace));
  }

  lookupPod(idOrName: string): Expectation<Pod> {
    return this.resolve(this.pods.values(), idOrName, 'NO_SUCH_POD');
  }

  podContainersByID(arg: Pod): Expectation<string[]> {
    const broken = new Broken();
    if (arg.config.id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    this.loadPod(arg.config.id, broken);
    if (broken.any) return broken.fail();
    return ok(() => this.podMembers(arg.config.id).map((c) => c.config.id));
  }

  podHasContainer(arg: Pod, ctrId: string): Expectation<boolean> {
    const broken = new Broken();
    if (arg.config.id === '' || ctrId === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    this.loadPod(arg.config.id, broken);
    if (broken.any) return broken.fail();
    return ok(() => this.containers.get(ctrId)?.config.pod === arg.config.id);
  }

  rewritePodConfig(arg: Pod, newConfig: PodConfig): Expectation<void> {
    const broken = new Broken();
    const id = arg.config.id;
    if (id === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    if (newConfig.id !== id) broken.add('INVALID_ARGUMENT');
    this.checkName(newConfig.name, broken);
    const p = this.loadPod(id, broken);
    let next: PodConfig | undefined;
    if (p) {
      const namespace = p.config.namespace ?? '';
      next = { ...clone(newConfig), namespace: newConfig.namespace ?? namespace };
      if (next.namespace !== namespace) broken.add('INVALID_ARGUMENT');
      if (newConfig.name !== p.config.name) {
        const owner = this.nameOwner(newConfig.name, id);
        if (owner) broken.add(owner);
      }
    }
    if (broken.any) return broken.fail();
    return ok(undefined, () => {
      p!.config = next!;
    });
  }

  /** Visible pods, oldest first. */
  allPods(): Pod[] {
    return [...this.pods.values()].filter((p) => this.visible(p.config.namespace));
  }

  // ------------------------------------------------------------ volumes

  addVolume(input: Volume): Expectation<Volume> {
    const broken = new Broken();
    const { config } = input;
    this.checkName(config.name, broken);
    const namespace = this.resolveNamespace(config.namespace, broken);
    if (this.volumes.has(config.name)) broken.add('VOLUME_EXISTS');
    if (broken.any) return broken.fail();
    const stored: Volume = {
      config: { ...clone(config), namespace, createdAt: config.createdAt ?? new Date(this.now).toISOString() },
      state: clone(input.state ?? {}),
    };
    return ok(
      () => stored,
      () => this.volumes.set(config.name, clone(stored)),
    );
  }

  removeVolume(arg: Volume): Expectation<void> {
    const broken = new Broken();
    const name = arg.config.name;
    if (name === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    const v = this.loadVolume(name, broken);
    if (v && this.volumeUsers(name).length > 0) broken.add('VOLUME_IN_USE');
    if (broken.any) return broken.fail();
    return ok(undefined, () => this.volumes.delete(name));
  }

  volume(name: string): Expectation<Volume> {
    if (name === '') return fail('EMPTY_ID');
    const broken = new Broken();
    const v = this.loadVolume(name, broken);
    if (!v) return broken.fail();
    return ok(() => v);
  }

  hasVolume(name: string): Expectation<boolean> {
    if (name === '') return fail('EMPTY_ID');
    const v = this.volumes.get(name);
    return ok(() => v !== undefined && this.visible(v.config.namespace));
  }

  /** Exact name, then a unique name prefix, among visible volumes. */
  lookupVolume(nameOrPrefix: string): Expectation<Volume> {
    if (nameOrPrefix === '') return fail('EMPTY_ID');
    const seen = [...this.volumes.values()].filter((v) => this.visible(v.config.namespace));
    const exact = seen.find((v) => v.config.name === nameOrPrefix);
    if (exact) return ok(() => exact);
    const prefixed = seen.filter((v) => v.config.name.startsWith(nameOrPrefix));
    if (prefixed.length === 1) return ok(() => prefixed[0]);
    return fail(prefixed.length > 1 ? 'AMBIGUOUS_ID' : 'NO_SUCH_VOLUME');
  }

  volumeInUse(arg: Volume): Expectation<string[]> {
    const broken = new Broken();
    if (arg.config.name === '') return fail('EMPTY_ID');
    this.checkArgNamespace(arg, broken);
    this.loadVolume(arg.config.name, broken);
    if (broken.any) return broken.fail();
    return ok(() => this.volumeUsers(arg.config.name));
  }

  /** Visible volumes, oldest first. */
  allVolumes(): Volume[] {
    return [...this.volumes.values()].filter((v) => this.visible(v.config.namespace));
  }
}

function fail<T>(...codes: ErrorCode[]): Expectation<T> {
  return { codes, mayPass: false };
}
