import { Store } from './engine/store.js';
import type { ApplyOptions, ApplyResult } from './plan/applier.js';
import type { Manifest } from './plan/manifest.js';
import type { Plan, PlanOptions } from './plan/planner.js';

/**
 * The store users get from `openStore()`: the engine's Store plus the plan/apply layer
 * (DESIGN.md §7), which works only through the engine's public calls.
 */
export class BerthStore extends Store {
  /**
   * Compares a manifest with the store and the workspace's last apply; reads only (a
   * first secret creates the workspace's data key). The stack's namespace is the
   * manifest's, else the handle's.
   * @throws NO_SUCH_WORKSPACE, NAMESPACE_MISMATCH, INVALID_ARGUMENT, SECRETS_KEY_MISSING,
   *   SECRETS_KEY_MISMATCH
   */
  async plan(workspace: string, manifest: Manifest | null, opts: PlanOptions = {}): Promise<Plan> {
    const scoped = this.withNamespace(manifest?.namespace ?? this.namespace);
    // Loaded on first use: commands that never plan do not pay for it at start-up.
    const { makePlan } = await import('./plan/planner.js');
    return makePlan(scoped, workspace, opts.mode === 'apply' || opts.mode === undefined ? manifest : null, opts);
  }

  /**
   * Applies a plan under the workspace lock, all in one transaction.
   * @throws PLAN_INVALID, PLAN_STALE, PLAN_ALREADY_APPLIED, LOCKED, INVALID_ARGUMENT
   */
  async apply(plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const ns = typeof plan?.namespace === 'string' ? plan.namespace : this.namespace;
    const { applyPlan } = await import('./plan/applier.js');
    return applyPlan(this.withNamespace(ns), plan, opts);
  }
}
