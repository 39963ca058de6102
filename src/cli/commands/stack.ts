import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Store } from '../../store.js';
import { BerthError } from '../../errors.js';
import { loadManifest, type Manifest } from '../../plan/manifest.js';
import { manifestContainers } from '../../plan/manifest-containers.js';
import { planIsEmpty, planToJson, type Plan } from '../../plan/planner.js';
import { renderPlan } from '../../plan/render.js';
import type { ApplyResult, LockInfo } from '../../index.js';
import { DEFAULT_MANIFEST, type CliContext } from '../cli-context.js';
import { relativeTime, usageError } from '../output.js';

/* Plan, apply, destroy and graph (Terraform's workflow over berth manifests). */

function readManifest(ctx: CliContext, file: string | undefined): Manifest {
  const path = file ?? DEFAULT_MANIFEST;
  if (!existsSync(path)) {
    throw new BerthError(
      'MANIFEST_INVALID',
      file
        ? `manifest file ${file} does not exist`
        : `no manifest: pass -f FILE, or put a ${DEFAULT_MANIFEST} in ${ctx.cwd}`,
      { details: { file: path } },
    );
  }
  return loadManifest(path);
}

export interface PlanCommandOptions {
  file?: string;
  out?: string;
  destroy?: boolean;
  prune?: boolean;
  refreshOnly?: boolean;
  detailedExitcode?: boolean;
}

/** A held workspace lock as a plan reports it: who, since when, and how to break it. */
function describeHeldLock(workspace: string, lock: LockInfo): string {
  const since = `${lock.createdAt} (${relativeTime(lock.createdAt)})`;
  const info = lock.info ? `, "${lock.info}"` : '';
  return lock.stale
    ? `Note: the workspace lock is stale (${lock.staleReason}): held by ${lock.who} (pid ${lock.pid} on ${lock.host}, operation "${lock.operation}"${info}) since ${since}. If that process is gone, break it with: berth force-unlock ${lock.id}`
    : `Note: workspace "${workspace}" is locked by ${lock.who} (pid ${lock.pid} on ${lock.host}, operation "${lock.operation}"${info}) since ${since}; an apply now waits for it or fails. If no one holds it any more, run: berth force-unlock ${lock.id}`;
}

/** Rewords "no such workspace" with the namespace and the command that creates it there. */
function withWorkspaceHint<T>(ctx: CliContext, namespace: string, source: string, work: Promise<T>): Promise<T> {
  return work.catch((err: unknown) => {
    if (err instanceof BerthError && err.code === 'NO_SUCH_WORKSPACE') {
      const name = ctx.selectedWorkspace().name;
      const flag = source === 'manifest' && namespace !== '' ? ` --namespace ${namespace}` : '';
      throw new BerthError(
        'NO_SUCH_WORKSPACE',
        `workspace ${JSON.stringify(name)} does not exist in namespace ${JSON.stringify(namespace)}${source === 'manifest' ? " (the manifest's)" : ''}; create it there with \`berth workspace new ${name}${flag}\`, or select another with \`berth workspace select NAME\``,
        { details: { ...err.details, workspace: name, namespace } },
      );
    }
    throw err;
  });
}

interface CliPlan {
  store: Store;
  plan: Plan;
  namespace: string;
  source: string;
}

/**
 * Plans in the stack namespace (the CLI's rule, `resolveStackNamespace`: --namespace >
 * manifest > saved selection > ''). A destroy or refresh-only plan reads no manifest but
 * for its namespace.
 */
async function makeCliPlan(ctx: CliContext, opts: PlanCommandOptions): Promise<CliPlan> {
  const mode = opts.destroy ? 'destroy' : opts.refreshOnly ? 'refresh-only' : 'apply';
  const { store, namespace, source } = await ctx.openStack(opts.file);
  const workspace = ctx.selectedWorkspace().name;
  const manifest = mode === 'apply' ? readManifest(ctx, opts.file) : null;
  if (manifest?.namespace !== undefined && manifest.namespace !== namespace) {
    throw new BerthError(
      'NAMESPACE_MISMATCH',
      `the manifest ${manifest.source} declares namespace ${JSON.stringify(manifest.namespace)}, but --namespace says ${JSON.stringify(namespace)}; drop --namespace or change the manifest's namespace`,
      { details: { namespace, manifestNamespace: manifest.namespace } },
    );
  }
  const plan = await withWorkspaceHint(
    ctx,
    namespace,
    source,
    store.plan(workspace, manifest, { mode, prune: opts.prune === true }),
  );
  return { store, plan, namespace, source };
}

/** `berth plan`: shows (and with --out saves) a plan; --detailed-exitcode: 0 none, 2 changes. */
export async function plan(ctx: CliContext, opts: PlanCommandOptions): Promise<number> {
  const { store, plan: p } = await makeCliPlan(ctx, opts);
  if (opts.out) writeFileSync(opts.out, planToJson(p), { mode: 0o600 });
  const lock = (await store.workspaces.get(p.workspace)).lock;
  if (ctx.json) ctx.printJson(lock ? { ...p, lock } : p);
  else {
    process.stdout.write(renderPlan(p, { colour: ctx.colour }));
    if (opts.out) ctx.out(`\nSaved the plan to ${opts.out}. Apply exactly this plan with: berth apply ${opts.out}`);
    if (lock) ctx.note(describeHeldLock(p.workspace, lock));
  }
  return opts.detailedExitcode && !planIsEmpty(p) ? 2 : 0;
}

function progress(ctx: CliContext, total: number): ((done: number, all: number, step: string) => void) | undefined {
  if (total < 100) return undefined;
  let last = 0;
  return (done, all) => {
    const now = Date.now();
    if (done === all || now - last > 1000) {
      last = now;
      ctx.note(`Applying: ${done}/${all} steps`);
    }
  };
}

/**
 * Runs `fn` holding the selected workspace's lock in the stack namespace, taken before
 * planning and held through the prompt (Terraform's order), released at the end.
 */
async function underStackLock<T>(
  ctx: CliContext,
  file: string | undefined,
  operation: string,
  fn: (lockId: string) => Promise<T>,
): Promise<T> {
  const { store, namespace, source } = await ctx.openStack(file);
  const workspace = ctx.selectedWorkspace().name;
  const lock = await withWorkspaceHint(
    ctx,
    namespace,
    source,
    store.workspaces.lock(workspace, { operation, timeoutMs: ctx.lockTimeoutMs }),
  );
  try {
    return await fn(lock.id);
  } finally {
    await store.workspaces.unlock(workspace, lock.id).catch(() => undefined);
  }
}

/**
 * After an apply from a manifest or a saved plan, later commands in this folder find the
 * workspace in its namespace (unless BERTH_WORKSPACE selects the workspace).
 */
function rememberNamespace(ctx: CliContext, workspace: string, namespace: string, source: string): void {
  const sel = ctx.selectedWorkspace();
  if (source === 'manifest' && sel.source !== 'env' && sel.name === workspace) {
    ctx.selectWorkspace(sel.name, namespace);
  }
}

export interface ApplyCommandOptions {
  file?: string;
  autoApprove?: boolean;
  allowDestroy?: boolean;
  prune?: boolean;
  refreshOnly?: boolean;
}

/** `berth apply [PLANFILE | -f FILE]`: a saved plan applies as is; a manifest is planned, shown and confirmed. */
export async function apply(ctx: CliContext, planFile: string | undefined, opts: ApplyCommandOptions): Promise<void> {
  if (planFile !== undefined) {
    if (opts.file) throw usageError('give either a saved plan file or -f FILE, not both');
    if (opts.refreshOnly) throw usageError('--refresh-only makes its own plan; give no plan file with it');
    return applySaved(ctx, planFile, opts);
  }
  const planOpts: PlanCommandOptions = {
    ...(opts.file ? { file: opts.file } : {}),
    prune: opts.prune === true,
    refreshOnly: opts.refreshOnly === true,
  };
  await underStackLock(ctx, opts.file, opts.refreshOnly ? 'refresh' : 'apply', async (lockId) => {
    const { store, plan: p, namespace, source } = await makeCliPlan(ctx, planOpts);
    if (!ctx.json) process.stdout.write(renderPlan(p, { colour: ctx.colour }));
    if (planIsEmpty(p)) {
      rememberNamespace(ctx, p.workspace, namespace, source);
      if (ctx.json) ctx.printJson({ applied: false, plan: p.digest, summary: p.summary });
      return;
    }
    // A plan apply would refuse (data loss without --allow-destroy, a name taken) is
    // refused before the question, not after the answer.
    const { assertApplicable } = await import('../../plan/applier.js');
    assertApplicable(p, { allowDestroy: opts.allowDestroy === true });
    await ctx.confirm(
      opts.refreshOnly
        ? '\nWould you like to update the workspace state to reflect these detected changes?'
        : '\nDo you want to perform these actions?',
      opts.autoApprove,
      '--auto-approve',
    );
    const result = await store.apply(p, {
      lockId,
      allowDestroy: opts.allowDestroy === true,
      ...(progress(ctx, p.steps.length) ? { onProgress: progress(ctx, p.steps.length)! } : {}),
    });
    rememberNamespace(ctx, p.workspace, namespace, source);
    printApplied(ctx, result);
  });
}

async function applySaved(ctx: CliContext, planFile: string, opts: ApplyCommandOptions): Promise<void> {
  let text: string;
  try {
    text = readFileSync(planFile, 'utf8');
  } catch (err) {
    throw new BerthError('PLAN_INVALID', `cannot read plan file ${planFile}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let p: Plan;
  try {
    p = JSON.parse(text) as Plan;
  } catch (err) {
    throw new BerthError(
      'PLAN_INVALID',
      `plan file ${planFile} is not JSON; make a new plan with \`berth plan --out FILE\``,
      {
        cause: err,
      },
    );
  }
  const store = await ctx.open();
  const result = await store.apply(p, {
    lockTimeoutMs: ctx.lockTimeoutMs,
    allowDestroy: opts.allowDestroy === true,
    ...(progress(ctx, Array.isArray(p.steps) ? p.steps.length : 0)
      ? { onProgress: progress(ctx, p.steps.length)! }
      : {}),
  });
  rememberNamespace(ctx, result.workspace, result.namespace, 'manifest');
  printApplied(ctx, result);
}

function printApplied(ctx: CliContext, result: ApplyResult): void {
  if (ctx.json) return ctx.printJson({ applied: true, ...result });
  const s = result.summary;
  ctx.out(
    `\nApply complete! ${s.create} added, ${s.update} changed, ${s.replace} replaced, ${s.delete} destroyed. Workspace "${result.workspace}" is at serial ${result.serial}.`,
  );
}

/**
 * `berth destroy [--auto-approve]`: removes what the selected workspace's last apply
 * manages, in the stack namespace; it needs no manifest (-f FILE only gives the namespace).
 */
export async function destroy(ctx: CliContext, opts: { autoApprove?: boolean; file?: string }): Promise<void> {
  await underStackLock(ctx, opts.file, 'destroy', async (lockId) => {
    const { store, plan: p } = await makeCliPlan(ctx, { destroy: true, ...(opts.file ? { file: opts.file } : {}) });
    if (!ctx.json) process.stdout.write(renderPlan(p, { colour: ctx.colour }));
    if (planIsEmpty(p)) {
      if (ctx.json) ctx.printJson({ destroyed: false, summary: p.summary });
      return;
    }
    await ctx.confirm(
      `\nDo you really want to destroy everything workspace "${p.workspace}" manages?\n  berth will remove the ${p.summary.delete} object(s) above. There is no undo.`,
      opts.autoApprove,
      '--auto-approve',
    );
    const result = await store.apply(p, { lockId, allowDestroy: true });
    if (ctx.json) return ctx.printJson({ destroyed: true, ...result });
    ctx.out(`\nDestroy complete! ${result.summary.delete} destroyed.`);
  });
}

interface GraphNode {
  key: string;
  pod: string | null;
}

/** `berth graph [-f FILE] [--mermaid]`: the dependency graph of a manifest, or of what the workspace manages. */
export async function graph(ctx: CliContext, opts: { file?: string; mermaid?: boolean }): Promise<void> {
  const nodes: GraphNode[] = [];
  const edges: [string, string, 'depends' | 'mounts'][] = [];
  if (opts.file || existsSync(DEFAULT_MANIFEST)) {
    const m = readManifest(ctx, opts.file);
    for (const v of Object.keys(m.volumes)) nodes.push({ key: `volume/${v}`, pod: null });
    for (const c of manifestContainers(m)) {
      nodes.push({ key: `container/${c.name}`, pod: c.pod });
      for (const d of c.spec.dependsOn ?? []) edges.push([`container/${c.name}`, `container/${d}`, 'depends']);
      for (const v of c.spec.volumes ?? [])
        edges.push([`container/${c.name}`, `volume/${v.slice(0, v.indexOf(':'))}`, 'mounts']);
    }
  } else {
    const { store } = await ctx.openStack();
    const managed = await store.workspaces.managed(ctx.selectedWorkspace().name);
    const pods = new Map(managed.pods.map((p) => [p.config.id, p.config.name]));
    const names = new Map(managed.containers.map((c) => [c.config.id, c.config.name]));
    for (const v of managed.volumes) nodes.push({ key: `volume/${v.config.name}`, pod: null });
    for (const c of managed.containers) {
      nodes.push({ key: `container/${c.config.name}`, pod: c.config.pod ? (pods.get(c.config.pod) ?? null) : null });
      for (const d of c.config.dependencies ?? [])
        edges.push([`container/${c.config.name}`, `container/${names.get(d) ?? d}`, 'depends']);
      for (const v of c.config.namedVolumes ?? [])
        edges.push([`container/${c.config.name}`, `volume/${v.name}`, 'mounts']);
    }
  }
  process.stdout.write(opts.mermaid ? toMermaid(nodes, edges) : toDot(nodes, edges));
}

function toDot(nodes: GraphNode[], edges: [string, string, string][]): string {
  const lines = ['digraph berth {', '  rankdir=LR;'];
  const pods = [...new Set(nodes.map((n) => n.pod).filter((p): p is string => p !== null))].sort();
  for (const n of nodes.filter((n) => n.pod === null))
    lines.push(`  "${n.key}"${n.key.startsWith('volume/') ? ' [shape=cylinder]' : ''};`);
  for (const pod of pods) {
    lines.push(`  subgraph "cluster_${pod}" {`, `    label="pod ${pod}";`);
    for (const n of nodes.filter((n) => n.pod === pod)) lines.push(`    "${n.key}";`);
    lines.push('  }');
  }
  for (const [from, to, kind] of edges)
    lines.push(`  "${from}" -> "${to}"${kind === 'mounts' ? ' [style=dashed]' : ''};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

function toMermaid(nodes: GraphNode[], edges: [string, string, string][]): string {
  const id = (key: string): string => key.replace(/[^A-Za-z0-9_]/g, '_');
  const lines = ['graph LR'];
  const pods = [...new Set(nodes.map((n) => n.pod).filter((p): p is string => p !== null))].sort();
  for (const n of nodes.filter((n) => n.pod === null))
    lines.push(`  ${id(n.key)}${n.key.startsWith('volume/') ? `[(${n.key})]` : `[${n.key}]`}`);
  for (const pod of pods) {
    lines.push(`  subgraph pod_${id(pod)}[pod ${pod}]`);
    for (const n of nodes.filter((n) => n.pod === pod)) lines.push(`    ${id(n.key)}[${n.key}]`);
    lines.push('  end');
  }
  for (const [from, to, kind] of edges) lines.push(`  ${id(from)} ${kind === 'mounts' ? '-.->' : '-->'} ${id(to)}`);
  return lines.join('\n') + '\n';
}
