import { documentChecksum } from '../engine/canonical-json.js';
import { WORKSPACE_LABEL } from '../engine/objects/input.js';
import type { Store, Transaction } from '../store.js';
import type { ContainerConfig } from '../engine/types.js';
import { BerthError } from '../errors.js';
import {
  asStackState,
  observe,
  planDigest,
  withNamesRestored,
  PLAN_FORMAT,
  STACK_STATE_KIND,
  type Plan,
  type PlanChange,
  type StackState,
} from './planner.js';
import type { ContainerSpecC, PodSpecC, StackSpec, VolumeSpecC } from './stack-objects.js';
import type { ApplyOptions, ApplyResult } from './types.js';
import { PlanSchema } from '../schemas/plan-schema.js';
import { describeProblem, schemaProblem } from '../schemas/schema-check.js';

/**
 * Checks the shape of a plan read from a file with the `plan/v1` schema
 * (src/schemas/plan-schema.ts), then what a schema cannot say: every step names a change,
 * and a create, update or replace carries its object. Anything else is PLAN_INVALID,
 * naming where the plan is broken, never a crash.
 */
function assertPlanShape(plan: unknown): asserts plan is Plan {
  const bad = (why: string, path: string): BerthError =>
    new BerthError(
      'PLAN_INVALID',
      `this is not a valid ${PLAN_FORMAT} plan (${why}); make a new plan with \`berth plan --out FILE\``,
      { details: { why, path } },
    );
  const problem = schemaProblem(PlanSchema, plan);
  if (problem) throw bad(describeProblem(problem), problem.path);
  const p = plan as Plan;
  const keys = new Set<string>();
  p.changes.forEach((c, i) => {
    if (c.after === null && (c.effective === 'create' || c.effective === 'update' || c.effective === 'replace')) {
      throw bad(`at /changes/${i}/after: ${c.key} is a ${c.effective} without the object`, `/changes/${i}/after`);
    }
    keys.add(c.key);
  });
  p.steps.forEach((step, i) => {
    if (!keys.has(step.key)) throw bad(`at /steps/${i}/key: no change has key ${step.key}`, `/steps/${i}/key`);
  });
}

/**
 * Checks that a plan is intact and allowed, before any lock or change.
 * @throws PLAN_INVALID, INVALID_ARGUMENT, CONTAINER_EXISTS, POD_EXISTS, VOLUME_EXISTS
 */
export function assertApplicable(plan: Plan, opts: ApplyOptions): void {
  assertPlanShape(plan);
  if (planDigest(plan) !== plan.digest) {
    throw new BerthError(
      'PLAN_INVALID',
      'the plan was altered after it was made: its digest does not match its content; make a new plan',
      {
        details: { digest: plan.digest },
      },
    );
  }
  for (const c of plan.changes) {
    for (const side of [c.before, c.after]) {
      if (side && documentChecksum(side.spec) !== side.digest) {
        throw new BerthError(
          'PLAN_INVALID',
          `the plan was altered after it was made: ${c.key} does not match its digest; make a new plan`,
          {
            details: { key: c.key },
          },
        );
      }
    }
  }
  const blocked = plan.changes.find((c) => c.blocked?.reason === 'name_conflict');
  if (blocked) {
    // Reported by the kind that owns the existing object (DESIGN.md §3).
    const owner = blocked.blocked!.owner?.kind ?? blocked.kind;
    const code = owner === 'volume' ? 'VOLUME_EXISTS' : owner === 'pod' ? 'POD_EXISTS' : 'CONTAINER_EXISTS';
    throw new BerthError(
      code,
      `cannot apply: ${blocked.blocked!.message}; rename it in the manifest or remove the other object`,
      {
        details: { key: blocked.key },
      },
    );
  }
  if (!opts.allowDestroy) {
    const destructive =
      plan.mode === 'destroy'
        ? plan.changes.find((c) => c.effective === 'delete')
        : plan.changes.find((c) => c.destructive && c.effective !== 'noop');
    if (destructive) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        plan.mode === 'destroy'
          ? `this destroy plan removes everything workspace ${plan.workspace} manages; run \`berth destroy\`, or apply the plan file with \`berth apply --allow-destroy FILE\` (allowDestroy in the library)`
          : `this plan would ${destructive.effective} ${destructive.key}, losing its data; apply it with \`--allow-destroy\` (allowDestroy in the library) if that is intended`,
        { details: { key: destructive.key } },
      );
    }
  }
}

/**
 * Applies a plan under the workspace lock: checks every precondition, then writes the
 * objects, the new workspace state and the events in one transaction. `store` must be
 * confined to the plan's namespace.
 * @throws PLAN_INVALID, PLAN_STALE, PLAN_ALREADY_APPLIED, LOCKED, INVALID_ARGUMENT, and
 *   any object error (then nothing was changed)
 */
export async function applyPlan(handle: Store, plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  assertApplicable(plan, opts);
  const store = handle.withNamespace(plan.namespace);
  // A caller that took the lock before planning (the CLI, through its prompt) keeps it.
  if (opts.lockId !== undefined) {
    const lockId = opts.lockId;
    return store.transaction((tx) => applyInTransaction(tx, plan, lockId, opts));
  }
  const lock = await store.workspaces.lock(plan.workspace, {
    operation: plan.mode === 'destroy' ? 'destroy' : 'apply',
    info: `plan ${plan.digest.slice(0, 12)}`,
    timeoutMs: opts.lockTimeoutMs ?? 0,
  });
  try {
    return await store.transaction((tx) => applyInTransaction(tx, plan, lock.id, opts));
  } finally {
    await store.workspaces.unlock(plan.workspace, lock.id).catch(() => undefined);
  }
}

async function applyInTransaction(
  store: Transaction,
  plan: Plan,
  lockId: string,
  opts: ApplyOptions,
): Promise<ApplyResult> {
  const ws = plan.workspace;
  const current = await store.workspaces.readState(ws);
  const previous = asStackState(current.state);
  if (previous?.planDigest === plan.digest) {
    throw new BerthError(
      'PLAN_ALREADY_APPLIED',
      `this plan was already applied to workspace ${ws} (serial ${current.serial}); make a new plan`,
      {
        details: { digest: plan.digest, serial: current.serial },
      },
    );
  }
  if (current.lineage !== plan.basis.lineage || current.serial !== plan.basis.serial) {
    throw new BerthError(
      'PLAN_STALE',
      `workspace ${ws} changed since the plan was made (plan basis: serial ${plan.basis.serial}, now: serial ${current.serial}); make a new plan`,
      { details: { basis: plan.basis, current: { lineage: current.lineage, serial: current.serial } } },
    );
  }
  const back = new Map(
    plan.changes.filter((c) => c.renamedFrom !== undefined).map((c) => [c.key, `${c.kind}/${c.renamedFrom}`]),
  );
  const observed = withNamesRestored(await observe(store), back);
  for (const c of plan.changes) {
    const have = observed.objects.get(c.key);
    const expected = c.before?.digest;
    const unchanged = c.before
      ? have !== undefined && have.object.digest === expected && have.id === c.before.id
      : have === undefined || c.effective === 'noop';
    if (!unchanged) {
      throw new BerthError('PLAN_STALE', `${c.key} changed in the store since the plan was made; make a new plan`, {
        details: { key: c.key },
      });
    }
  }

  await store.events.append({
    namespace: store.namespace,
    type: 'apply.start',
    subject: { kind: 'workspace', name: ws },
    data: { plan: plan.digest, mode: plan.mode, summary: plan.summary },
  });
  const byKey = new Map(plan.changes.map((c) => [c.key, c]));
  const ids = new Map<string, string>();
  for (const [key, o] of observed.objects) ids.set(key, o.id);
  let done = 0;
  for (const step of plan.steps) {
    opts.onProgress?.(done, plan.steps.length, `${step.op} ${step.key}`);
    const change = byKey.get(step.key);
    if (!change) throw new BerthError('PLAN_INVALID', `plan step ${step.op} ${step.key} has no change`);
    if (step.op === 'delete') {
      await deleteObject(store, change, ids);
      ids.delete(change.key);
    } else if (step.op === 'create') {
      ids.set(change.key, await createObject(store, change, ws, ids));
    } else {
      await updateObject(store, change, ws, ids);
    }
    done++;
  }
  opts.onProgress?.(done, plan.steps.length, 'done');

  const after = plan.mode === 'refresh-only' ? await observe(store) : undefined;
  const objects: StackState['objects'] = {};
  if (plan.mode === 'refresh-only') {
    for (const [key, o] of after!.objects) {
      if (o.workspace === ws) objects[key] = { id: o.id, digest: o.object.digest, spec: o.object.spec };
    }
  } else if (plan.mode === 'apply') {
    for (const c of plan.changes) {
      if (c.orphan) continue;
      const final = c.effective === 'noop' ? (c.blocked ? null : c.before) : c.after;
      if (final && c.effective !== 'delete' && ids.has(c.key)) {
        objects[c.key] = { id: ids.get(c.key)!, digest: final.digest, spec: final.spec };
      }
    }
  }
  const state: StackState = {
    kind: STACK_STATE_KIND,
    namespace: store.namespace,
    manifestDigest: plan.mode === 'refresh-only' ? (previous?.manifestDigest ?? null) : plan.manifestDigest,
    planDigest: plan.digest,
    objects,
  };
  const written = await store.workspaces.writeState(ws, state, {
    lockId,
    expectedSerial: plan.basis.serial,
    lineage: plan.basis.lineage,
    operation: plan.mode === 'apply' ? 'apply' : plan.mode,
  });
  await store.events.append({
    namespace: store.namespace,
    type: 'apply.finish',
    subject: { kind: 'workspace', name: ws },
    data: { plan: plan.digest, serial: written.serial, summary: plan.summary },
  });
  return {
    workspace: ws,
    namespace: store.namespace,
    serial: written.serial,
    lineage: written.lineage,
    summary: plan.summary,
    steps: plan.steps.length,
  };
}

function managedLabels(labels: Record<string, string>, ws: string): Record<string, string> {
  return { ...labels, [WORKSPACE_LABEL]: ws };
}

function idOf(ids: Map<string, string>, key: string): string {
  const id = ids.get(key);
  if (id === undefined)
    throw new BerthError('PLAN_STALE', `${key} is not in the store any more; make a new plan`, { details: { key } });
  return id;
}

function containerConfig(spec: ContainerSpecC, name: string, ws: string, ids: Map<string, string>): ContainerConfig {
  const config: ContainerConfig = { name, labels: managedLabels(spec.labels, ws) } as ContainerConfig;
  if (spec.image !== null) config.image = spec.image;
  if (spec.command.length > 0) config.command = spec.command;
  if (Object.keys(spec.env).length > 0) config.env = spec.env;
  if (spec.dependsOn.length > 0) config.dependencies = spec.dependsOn.map((d) => idOf(ids, `container/${d}`));
  if (spec.volumes.length > 0) config.namedVolumes = spec.volumes;
  if (Object.keys(spec.networks).length > 0) config.networks = spec.networks;
  return config;
}

async function createObject(store: Transaction, c: PlanChange, ws: string, ids: Map<string, string>): Promise<string> {
  const spec = c.after!.spec as StackSpec;
  if (c.kind === 'volume') {
    const v = spec as VolumeSpecC;
    const config = {
      name: c.name,
      labels: managedLabels(v.labels, ws),
      ...(v.driver !== null ? { driver: v.driver } : {}),
    };
    await store.addVolume({
      config: Object.keys(v.options).length ? { ...config, options: v.options } : config,
      state: {},
    });
    return c.name;
  }
  if (c.kind === 'pod') {
    const added = await store.addPod({
      config: { name: c.name, labels: managedLabels((spec as PodSpecC).labels, ws) } as never,
      state: {},
    });
    return added.config.id;
  }
  const cs = spec as ContainerSpecC;
  const config = containerConfig(cs, c.name, ws, ids);
  const ctr = { config, state: { status: 'configured' } };
  const added =
    cs.pod === null
      ? await store.addContainer(ctr)
      : await store.addContainerToPod(await store.pod(idOf(ids, `pod/${cs.pod}`)), ctr);
  return added.config.id;
}

async function updateObject(store: Transaction, c: PlanChange, ws: string, ids: Map<string, string>): Promise<void> {
  const spec = c.after!.spec;
  if (c.kind === 'volume') {
    const vol = await store.volume(c.name);
    await store.rewriteVolumeConfig(vol, { ...vol.config, labels: managedLabels((spec as VolumeSpecC).labels, ws) });
  } else if (c.kind === 'pod') {
    const pod = await store.pod(idOf(ids, c.key));
    await store.rewritePodConfig(pod, {
      ...pod.config,
      name: c.name,
      labels: managedLabels((spec as PodSpecC).labels, ws),
    });
  } else {
    const ctr = await store.container(idOf(ids, c.key));
    const want = containerConfig(spec as ContainerSpecC, c.name, ws, ids);
    const next: ContainerConfig = { ...ctr.config, name: c.name, labels: want.labels };
    delete next.namedVolumes;
    delete next.networks;
    if (want.namedVolumes) next.namedVolumes = want.namedVolumes;
    if (want.networks) next.networks = want.networks;
    await store.rewriteContainerConfig(ctr, next);
  }
}

async function deleteObject(store: Transaction, c: PlanChange, ids: Map<string, string>): Promise<void> {
  if (c.kind === 'volume') {
    await store.removeVolume(await store.volume(c.name));
  } else if (c.kind === 'pod') {
    await store.removePod(await store.pod(idOf(ids, c.key)));
  } else {
    const ctr = await store.container(idOf(ids, c.key));
    if (ctr.config.pod) await store.removeContainerFromPod(await store.pod(ctr.config.pod), ctr);
    else await store.removeContainer(ctr);
  }
}

export type { ApplyOptions, ApplyResult };
