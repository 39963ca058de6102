import { canonicalJson, compareCodeUnits, documentChecksum } from '../engine/canonical-json.js';
import { WORKSPACE_LABEL } from '../engine/objects/input.js';
import type { Store, Transaction } from '../store.js';
import type { Container, Pod, Volume } from '../engine/types.js';
import { BerthError } from '../errors.js';
import type { Manifest } from './manifest.js';
import { manifestContainers } from './manifest-containers.js';
import {
  changedFields,
  desiredObjects,
  manifestHasSecrets,
  objectKey,
  observedContainer,
  observedPod,
  observedVolume,
  recordedDigest,
  REPLACE_FIELDS,
  type ContainerSpecC,
  type StackKind,
  type StackObject,
} from './stack-objects.js';
import type {
  PlanMode,
  ChangeAction,
  BlockReason,
  PlanChange,
  DriftEntry,
  PlanStep,
  Plan,
  StackState,
  PlanOptions,
} from './types.js';

export const PLAN_FORMAT: Plan['format'] = 'plan/v1';
export const STACK_STATE_KIND: StackState['kind'] = 'berth.stack/v1';

/** What the store holds in a namespace, in canonical form, with ids and managers. */
export interface Observed {
  objects: Map<string, { object: StackObject; id: string; workspace: string | null }>;
}

/** Reads the namespace's objects in one snapshot. */
export async function observe(store: Pick<Transaction, 'snapshot' | 'namespace'>): Promise<Observed> {
  const snap = await store.snapshot();
  // A handle on '' sees every namespace; a stack is one namespace only.
  const ns = store.namespace;
  const mine = <T extends { config: { namespace?: string } }>(o: T): boolean => (o.config.namespace ?? '') === ns;
  return observeSnapshot(snap.containers.filter(mine), snap.pods.filter(mine), snap.volumes.filter(mine));
}

export function observeSnapshot(containers: Container[], pods: Pod[], volumes: Volume[]): Observed {
  const podNames = new Map(pods.map((p) => [p.config.id, p.config.name]));
  const ctrNames = new Map(containers.map((c) => [c.config.id, c.config.name]));
  const objects: Observed['objects'] = new Map();
  for (const v of volumes) {
    const o = observedVolume(v);
    objects.set(o.key, { object: o, id: v.config.name, workspace: v.config.labels?.[WORKSPACE_LABEL] ?? null });
  }
  for (const p of pods) {
    const o = observedPod(p);
    objects.set(o.key, { object: o, id: p.config.id, workspace: p.config.labels?.[WORKSPACE_LABEL] ?? null });
  }
  for (const c of containers) {
    const o = observedContainer(c, podNames, ctrNames);
    objects.set(o.key, { object: o, id: c.config.id, workspace: c.config.labels?.[WORKSPACE_LABEL] ?? null });
  }
  return { objects };
}

/**
 * Containers and pods of the last apply that the store now holds under another name (the
 * same id, still managed by `workspace`): the recorded key → the key they have now.
 */
export function findRenames(previous: StackState | null, observed: Observed, workspace: string): Map<string, string> {
  const renames = new Map<string, string>();
  if (!previous) return renames;
  const byId = new Map<string, string>();
  for (const [key, o] of observed.objects) if (o.object.kind !== 'volume') byId.set(`${o.object.kind}:${o.id}`, key);
  for (const [key, recorded] of Object.entries(previous.objects)) {
    const kind = key.slice(0, key.indexOf('/'));
    if (kind === 'volume' || observed.objects.get(key)?.id === recorded.id) continue;
    const now = byId.get(`${kind}:${recorded.id}`);
    if (now !== undefined && now !== key && observed.objects.get(now)!.workspace === workspace) renames.set(key, now);
  }
  return renames;
}

/**
 * The store seen as if the renamed objects had their manifest names again (`back`: the
 * manifest key → the key they have now): re-keyed, and containers' pod and dependsOn
 * names mapped, so that only the name itself differs. Apply sees the store the same way.
 */
export function withNamesRestored(observed: Observed, back: Map<string, string>): Observed {
  if (back.size === 0) return observed;
  const newName = new Map<string, string>();
  for (const [want, now] of back) newName.set(now, want.slice(want.indexOf('/') + 1));
  const map = (kind: string, name: string): string => newName.get(`${kind}/${name}`) ?? name;
  const current = new Map([...back].map(([want, now]) => [now, want]));
  const objects: Observed['objects'] = new Map();
  for (const [key, o] of observed.objects) {
    let object = o.object;
    if (object.kind === 'container') {
      const spec = object.spec as ContainerSpecC;
      const mapped: ContainerSpecC = {
        ...spec,
        pod: spec.pod === null ? null : map('pod', spec.pod),
        dependsOn: spec.dependsOn.map((d) => map('container', d)).sort(),
      };
      if (canonicalJson(mapped) !== canonicalJson(spec)) {
        object = { ...object, spec: mapped, digest: documentChecksum(mapped) };
      }
    }
    objects.set(current.get(key) ?? key, { ...o, object });
  }
  return { objects };
}

/** Reads a workspace's state as a stack state (null before the first apply). */
export function asStackState(state: unknown): StackState | null {
  if (state && typeof state === 'object' && (state as { kind?: unknown }).kind === STACK_STATE_KIND) {
    return state as StackState;
  }
  return null;
}

/**
 * The digest of a plan: sha256 of its canonical JSON without the digest itself, where
 * each spec stands for itself by its own digest (apply checks specs against them), so
 * hashing a 10,000-object plan does not serialise every spec twice.
 */
export function planDigest(plan: Omit<Plan, 'digest'> & { digest?: string }): string {
  const { digest: _digest, ...content } = plan;
  return documentChecksum({
    ...content,
    changes: content.changes.map((c) => ({
      ...c,
      before: c.before && { id: c.before.id, digest: c.before.digest },
      after: c.after && { digest: c.after.digest },
    })),
  });
}

const EMPTY_SUMMARY = (): Plan['summary'] => ({ create: 0, update: 0, replace: 0, delete: 0, noop: 0, blocked: 0 });

/**
 * Compares a manifest with the store and the workspace's last apply. Reads only (but for
 * creating the workspace's data key when the manifest holds its first secret); takes no
 * lock. `store` must be confined to the stack's namespace.
 */
export async function makePlan(
  store: Store,
  workspace: string,
  manifest: Manifest | null,
  opts: PlanOptions = {},
): Promise<Plan> {
  const mode = opts.mode ?? 'apply';
  if (!['apply', 'destroy', 'refresh-only'].includes(mode)) {
    throw new BerthError('INVALID_ARGUMENT', `plan mode ${JSON.stringify(mode)} is not apply, destroy or refresh-only`);
  }
  const pruneLimit = opts.pruneLimit ?? 20;
  const current = await store.workspaces.readState(workspace);
  const previous = asStackState(current.state);
  const seen = await observe(store);
  // Renamed through berth since the last apply, and declared under the old name: an
  // update that renames it back, not a destroy and a create.
  const renames = findRenames(previous, seen, workspace);
  const back = new Map<string, string>();
  if (mode === 'apply' && manifest) {
    const declared = new Set([
      ...Object.keys(manifest.volumes).map((n) => objectKey('volume', n)),
      ...Object.keys(manifest.pods).map((n) => objectKey('pod', n)),
      ...manifestContainers(manifest).map((c) => objectKey('container', c.name)),
    ]);
    for (const [was, now] of renames) {
      if (declared.has(was) && !declared.has(now) && !seen.objects.has(was)) back.set(was, now);
    }
  }
  const observed = withNamesRestored(seen, back);
  const seal =
    mode === 'apply' && manifest && manifestHasSecrets(manifest) ? await store.secrets.sealer(workspace) : undefined;
  const storedEnv = (name: string): Record<string, string> | undefined =>
    (observed.objects.get(objectKey('container', name))?.object.spec as ContainerSpecC | undefined)?.env;
  const desired =
    mode === 'apply' && manifest ? desiredObjects(manifest, seal, storedEnv) : new Map<string, StackObject>();

  const managed = new Map([...observed.objects].filter(([, o]) => o.workspace === workspace));
  const changes: PlanChange[] = [];
  const change = (
    key: string,
    kind: StackKind,
    name: string,
    action: ChangeAction,
    before: PlanChange['before'],
    after: StackObject | null,
    extra: Partial<PlanChange> = {},
  ): PlanChange => {
    const fields = before && after && before.digest !== after.digest ? changedFields(before.spec, after.spec) : [];
    const c: PlanChange = {
      key,
      kind,
      name,
      requested: action,
      effective: action,
      fields,
      replaceFields: fields.filter((f) => REPLACE_FIELDS[kind].includes(f)),
      destructive: kind === 'volume' && (action === 'delete' || action === 'replace'),
      orphan: false,
      before,
      after: after ? { digest: after.digest, spec: after.spec } : null,
      ...extra,
    };
    changes.push(c);
    return c;
  };

  if (mode !== 'refresh-only') {
    for (const [key, want] of desired) {
      const have = observed.objects.get(key);
      const clash = nameClash(observed, want, workspace, desired);
      if (have && have.workspace === workspace) {
        const before = { id: have.id, digest: have.object.digest, spec: have.object.spec };
        const renamedFrom = back.has(key) ? have.object.name : undefined;
        if (have.object.digest === want.digest && renamedFrom === undefined) {
          change(key, want.kind, want.name, 'noop', before, want);
        } else {
          const fields = changedFields(have.object.spec, want.spec);
          const replace = fields.some((f) => REPLACE_FIELDS[want.kind].includes(f));
          change(
            key,
            want.kind,
            want.name,
            replace ? 'replace' : 'update',
            before,
            want,
            renamedFrom === undefined ? {} : { fields: [...fields, 'name'].sort(), renamedFrom },
          );
        }
      } else if (clash) {
        change(key, want.kind, want.name, 'create', null, want, {
          effective: 'noop',
          blocked: {
            reason: 'name_conflict',
            message: `the name ${want.name} is taken by ${clash.object.kind} ${clash.id}, which ${clash.workspace ? `workspace ${clash.workspace} manages` : 'no workspace manages'}`,
            owner: { kind: clash.object.kind, id: clash.id },
          },
        });
      } else {
        change(key, want.kind, want.name, 'create', null, want);
      }
    }
    for (const [key, have] of managed) {
      if (desired.has(key)) continue;
      change(
        key,
        have.object.kind,
        have.object.name,
        'delete',
        { id: have.id, digest: have.object.digest, spec: have.object.spec },
        null,
      );
    }
  }

  // Names are unique store-wide: a create whose name an object of another namespace
  // holds would be refused at apply, so the plan shows it blocked now.
  const creates = changes.filter((c) => c.effective === 'create');
  for (const held of await store.namesHeldElsewhere(creates.map((c) => ({ kind: c.kind, name: c.name })))) {
    const c = creates.find((x) => x.kind === held.kind && x.name === held.name)!;
    const h = held.holder;
    c.effective = 'noop';
    c.blocked = {
      reason: 'name_conflict',
      message: `the name ${c.name} is taken by ${h.kind} ${h.id} in namespace ${JSON.stringify(h.namespace)} (names are unique across namespaces)`,
      owner: { kind: h.kind, id: h.id },
    };
  }

  if (mode === 'refresh-only') {
    // Nothing changes, but apply checks these against the store: what it records must be
    // what this plan showed.
    for (const [key, have] of managed) {
      const seen = { id: have.id, digest: have.object.digest, spec: have.object.spec };
      change(key, have.object.kind, have.object.name, 'noop', seen, have.object);
    }
  }

  // Orphans: in the namespace, managed by no workspace.
  const orphans = [...observed.objects.values()].filter((o) => o.workspace === null && !desired.has(o.object.key));
  if (opts.prune && mode === 'apply') {
    const trusted = manifest !== null && manifest.namespace !== undefined;
    const reason: BlockReason | undefined = !trusted
      ? 'untrusted_manifest'
      : orphans.length > pruneLimit
        ? 'too_many_orphans'
        : undefined;
    for (const o of orphans) {
      change(
        o.object.key,
        o.object.kind,
        o.object.name,
        'delete',
        { id: o.id, digest: o.object.digest, spec: o.object.spec },
        null,
        {
          orphan: true,
          ...(reason
            ? {
                effective: 'noop' as const,
                blocked: {
                  reason,
                  message:
                    reason === 'untrusted_manifest'
                      ? 'prune needs a trusted manifest: one that declares its namespace explicitly'
                      : `${orphans.length} orphans exceed the prune limit of ${pruneLimit}; remove them by hand or raise pruneLimit`,
                },
              }
            : {}),
        },
      );
    }
  }

  cascadeReplacements(changes, observed, desired);

  const drift: DriftEntry[] = [];
  if (previous) {
    for (const [key, recorded] of Object.entries(previous.objects)) {
      const moved = renames.get(key);
      const have = back.has(key)
        ? observed.objects.get(key)
        : moved
          ? seen.objects.get(moved)
          : observed.objects.get(key);
      if (!have || have.workspace !== workspace) drift.push({ key, fields: [], missing: true });
      else {
        const fields =
          have.object.digest !== recordedDigest(have.object.kind, recorded.spec)
            ? changedFields(recorded.spec, have.object.spec)
            : [];
        if (moved) drift.push({ key, fields: [...fields, 'name'].sort(), missing: false, renamedTo: have.object.name });
        else if (fields.length > 0) drift.push({ key, fields, missing: false });
      }
    }
  }

  changes.sort((a, b) => compareCodeUnits(a.key, b.key));
  const summary = EMPTY_SUMMARY();
  for (const c of changes) {
    summary[c.effective]++;
    if (c.blocked) summary.blocked++;
  }
  const content: Omit<Plan, 'digest'> = {
    format: PLAN_FORMAT,
    workspace,
    namespace: store.namespace,
    mode,
    prune: opts.prune === true,
    basis: { lineage: current.lineage, serial: current.serial },
    manifestDigest:
      manifest && mode === 'apply' ? documentChecksum([...desired.values()].map((o) => [o.key, o.digest])) : null,
    changes,
    drift,
    orphans: orphans.map((o) => ({ key: o.object.key, id: o.id })).sort((a, b) => compareCodeUnits(a.key, b.key)),
    steps: orderSteps(changes),
    summary,
  };
  return { ...content, digest: planDigest(content) };
}

/**
 * The object that holds the name a new object wants, unless it goes away in this same
 * plan (managed by this workspace and no longer declared: deleted before the create).
 */
function nameClash(
  observed: Observed,
  want: StackObject,
  workspace: string,
  desired: Map<string, StackObject>,
): { object: StackObject; id: string; workspace: string | null } | undefined {
  // Containers and pods share one name space; volumes have their own.
  const keys = want.kind === 'volume' ? [want.key] : [`container/${want.name}`, `pod/${want.name}`];
  for (const key of keys) {
    const holder = observed.objects.get(key);
    if (!holder) continue;
    if (holder.workspace === workspace && !desired.has(key)) continue;
    return holder;
  }
  return undefined;
}

/**
 * A container whose dependency is replaced or removed must be replaced too (its
 * dependency ids change), as must a container using a volume that is replaced.
 */
function cascadeReplacements(changes: PlanChange[], observed: Observed, desired: Map<string, StackObject>): void {
  const byKey = new Map(changes.map((c) => [c.key, c]));
  let changed = true;
  while (changed) {
    changed = false;
    const gone = new Set(
      changes.filter((c) => c.effective === 'replace' || c.effective === 'delete').map((c) => c.key),
    );
    for (const c of changes) {
      if (
        c.kind !== 'container' ||
        c.effective === 'delete' ||
        c.effective === 'replace' ||
        c.effective === 'create' ||
        !c.before
      )
        continue;
      const spec = c.before.spec as ContainerSpecC;
      const cause =
        spec.dependsOn.map((d) => `container/${d}`).find((k) => gone.has(k)) ??
        spec.volumes.map((v) => `volume/${v.name}`).find((k) => byKey.get(k)?.effective === 'replace');
      if (cause) {
        c.effective = 'replace';
        if (c.requested === 'noop' || c.requested === 'update') c.requested = 'replace';
        c.cascadeFrom = cause;
        if (!c.after) {
          const want = desired.get(c.key) ?? observed.objects.get(c.key)?.object;
          if (want) c.after = { digest: want.digest, spec: want.spec };
        }
        changed = true;
      }
    }
  }
}

/**
 * Orders the work so that every step finds what it needs: containers go before the
 * pods and volumes they use, dependents before their dependencies, and the reverse for
 * creation.
 */
function orderSteps(changes: PlanChange[]): PlanStep[] {
  const live = changes.filter((c) => c.effective !== 'noop');
  const of = (kind: StackKind, actions: ChangeAction[]): PlanChange[] =>
    live.filter((c) => c.kind === kind && actions.includes(c.effective));
  const containersToRemove = of('container', ['delete', 'replace']);
  const containersToCreate = of('container', ['create', 'replace']);
  const steps: PlanStep[] = [];
  for (const c of topo(containersToRemove, (c) => (c.before?.spec as ContainerSpecC).dependsOn).reverse()) {
    steps.push({ op: 'delete', key: c.key });
  }
  // Pods go as soon as their containers are gone, so a container may take a deleted pod's name.
  for (const c of of('pod', ['delete'])) steps.push({ op: 'delete', key: c.key });
  for (const c of of('volume', ['replace'])) steps.push({ op: 'delete', key: c.key });
  for (const kind of ['volume', 'pod'] as const) {
    for (const c of of(kind, ['create', 'replace'])) steps.push({ op: 'create', key: c.key });
    for (const c of of(kind, ['update'])) steps.push({ op: 'update', key: c.key });
  }
  for (const c of of('container', ['update'])) steps.push({ op: 'update', key: c.key });
  for (const c of topo(containersToCreate, (c) => (c.after?.spec as ContainerSpecC).dependsOn)) {
    steps.push({ op: 'create', key: c.key });
  }
  // Volumes last: containers updated above may have just stopped using them.
  for (const c of of('volume', ['delete'])) steps.push({ op: 'delete', key: c.key });
  return steps;
}

/** Dependencies first; ties broken by key so the order is deterministic. */
function topo(items: PlanChange[], deps: (c: PlanChange) => string[]): PlanChange[] {
  const byName = new Map(items.map((c) => [c.name, c]));
  const out: PlanChange[] = [];
  const seen = new Set<string>();
  // Depth-first without recursion: a dependency chain of any length fits.
  for (const root of [...items].sort((a, b) => compareCodeUnits(a.key, b.key))) {
    if (seen.has(root.key)) continue;
    seen.add(root.key);
    const stack: { change: PlanChange; pending: PlanChange[] }[] = [];
    const open = (c: PlanChange): void => {
      const pending = [...(deps(c) ?? [])]
        .sort()
        .map((d) => byName.get(d))
        .filter((d): d is PlanChange => d !== undefined)
        .reverse();
      stack.push({ change: c, pending });
    };
    open(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const dep = top.pending.pop();
      if (dep === undefined) {
        out.push(top.change);
        stack.pop();
      } else if (!seen.has(dep.key)) {
        seen.add(dep.key);
        open(dep);
      }
    }
  }
  return out;
}

/** True when a plan has nothing to do. */
export function planIsEmpty(plan: Plan): boolean {
  return plan.steps.length === 0 && plan.mode !== 'refresh-only';
}

/** Stable JSON text of a plan, for saved plan files. */
export function planToJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

export type { PlanMode, ChangeAction, BlockReason, PlanChange, DriftEntry, PlanStep, Plan, StackState, PlanOptions };
