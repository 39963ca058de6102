import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Store } from '../../store.js';
import { BerthError } from '../../errors.js';
import { loadManifest, type Manifest } from '../../plan/manifest.js';
import { manifestContainers } from '../../plan/manifest-containers.js';
import { planIsEmpty, planToJson, type Plan, type PlanChange } from '../../plan/planner.js';
import type { CliContext } from '../cli-context.js';
import { paint } from '../output.js';

/* Plan, apply, destroy and graph (Terraform's workflow over berth manifests). */

const DEFAULT_MANIFEST = 'berth.yaml';

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

const SYMBOL: Record<string, [string, 'green' | 'yellow' | 'red' | 'dim']> = {
  create: ['+', 'green'],
  update: ['~', 'yellow'],
  replace: ['-/+', 'yellow'],
  delete: ['-', 'red'],
  noop: [' ', 'dim'],
};

function describeChange(ctx: CliContext, c: PlanChange): string {
  const [sym, colour] = SYMBOL[c.effective]!;
  let why = '';
  if (c.blocked) why = ` — blocked (${c.blocked.reason}): ${c.blocked.message}`;
  else if (c.effective === 'update') why = ` (${c.fields.join(', ')})`;
  else if (c.effective === 'replace') {
    why = c.cascadeFrom
      ? ` (because ${c.cascadeFrom} is replaced)`
      : ` (${c.replaceFields.join(', ')} ${c.replaceFields.length === 1 ? 'forces' : 'force'} replacement)`;
  } else if (c.effective === 'delete' && c.orphan) why = ' (orphan: no workspace manages it)';
  const destructive = c.destructive && c.effective !== 'noop' ? paint(ctx.colour, 'red', '  [data loss]') : '';
  const blocked = c.blocked ? '!' : sym;
  return `  ${paint(ctx.colour, c.blocked ? 'red' : colour, blocked.padStart(3))} ${c.key}${why}${destructive}`;
}

/** The human form of a plan: Terraform-like symbols, drift, orphans and a summary line. */
export function renderPlan(ctx: CliContext, plan: Plan): string {
  const lines: string[] = [];
  const shown = plan.changes.filter((c) => c.effective !== 'noop' || c.blocked);
  if (shown.length === 0) {
    lines.push(
      plan.mode === 'refresh-only'
        ? `No changes to objects. Applying will record the store as it is in workspace "${plan.workspace}".`
        : `No changes. The store matches the manifest (workspace "${plan.workspace}", namespace ${JSON.stringify(plan.namespace)}).`,
    );
  } else {
    lines.push(
      `berth will perform these actions in workspace "${plan.workspace}" (namespace ${JSON.stringify(plan.namespace)}):`,
      '',
    );
    for (const c of shown) lines.push(describeChange(ctx, c));
  }
  if (plan.drift.length > 0) {
    lines.push('', 'Drift: changed outside berth since the last apply:');
    for (const d of plan.drift)
      lines.push(`  ${d.key}: ${d.missing ? 'missing from the store' : `${d.fields.join(', ')} changed`}`);
  }
  const unpruned = plan.orphans.filter(
    (o) => !plan.changes.some((c) => c.key === o.key && c.orphan && c.effective === 'delete'),
  );
  if (unpruned.length > 0) {
    lines.push(
      '',
      `Orphans (managed by no workspace; delete them with --prune and a manifest that declares its namespace):`,
    );
    for (const o of unpruned) lines.push(`  ${o.key}`);
  }
  const s = plan.summary;
  lines.push(
    '',
    `Plan: ${s.create} to add, ${s.update} to change, ${s.replace} to replace, ${s.delete} to destroy${s.blocked ? `, ${s.blocked} blocked` : ''}.`,
  );
  return lines.join('\n') + '\n';
}

export interface PlanCommandOptions {
  file?: string;
  out?: string;
  destroy?: boolean;
  prune?: boolean;
  refreshOnly?: boolean;
  detailedExitcode?: boolean;
}

async function makeCliPlan(ctx: CliContext, opts: PlanCommandOptions): Promise<{ store: Store; plan: Plan }> {
  const store = await ctx.open();
  const workspace = ctx.selectedWorkspace().name;
  const mode = opts.destroy ? 'destroy' : opts.refreshOnly ? 'refresh-only' : 'apply';
  // Without changes to make, a manifest still tells the stack's namespace.
  const manifest = mode === 'apply' || opts.file || existsSync(DEFAULT_MANIFEST) ? readManifest(ctx, opts.file) : null;
  const plan = await store.plan(workspace, manifest, { mode, prune: opts.prune === true });
  return { store, plan };
}

/** `berth plan`: shows (and with --out saves) a plan; --detailed-exitcode: 0 none, 2 changes. */
export async function plan(ctx: CliContext, opts: PlanCommandOptions): Promise<number> {
  const { plan: p } = await makeCliPlan(ctx, opts);
  if (opts.out) writeFileSync(opts.out, planToJson(p), { mode: 0o600 });
  if (ctx.json) ctx.printJson(p);
  else {
    process.stdout.write(renderPlan(ctx, p));
    if (opts.out) ctx.out(`\nSaved the plan to ${opts.out}. Apply exactly this plan with: berth apply ${opts.out}`);
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

/** `berth apply [PLANFILE | -f FILE]`: a saved plan applies as is; a manifest is planned, shown and confirmed. */
export async function apply(
  ctx: CliContext,
  planFile: string | undefined,
  opts: { file?: string; autoApprove?: boolean; allowDestroy?: boolean; prune?: boolean },
): Promise<void> {
  let store: Store;
  let p: Plan;
  if (planFile !== undefined) {
    if (opts.file) throw new BerthError('INVALID_ARGUMENT', 'give either a saved plan file or -f FILE, not both');
    let text: string;
    try {
      text = readFileSync(planFile, 'utf8');
    } catch (err) {
      throw new BerthError('PLAN_INVALID', `cannot read plan file ${planFile}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      p = JSON.parse(text) as Plan;
    } catch (err) {
      throw new BerthError(
        'PLAN_INVALID',
        `plan file ${planFile} is not JSON; make a new plan with \`berth plan --out FILE\``,
        { cause: err },
      );
    }
    store = await ctx.open();
  } else {
    ({ store, plan: p } = await makeCliPlan(ctx, {
      ...(opts.file ? { file: opts.file } : {}),
      prune: opts.prune === true,
    }));
    if (!ctx.json) process.stdout.write(renderPlan(ctx, p));
    if (planIsEmpty(p)) {
      if (ctx.json) ctx.printJson({ applied: false, plan: p.digest, summary: p.summary });
      return;
    }
    await ctx.confirm('\nDo you want to perform these actions?', opts.autoApprove, '--auto-approve');
  }
  const result = await store.apply(p, {
    lockTimeoutMs: ctx.lockTimeoutMs,
    allowDestroy: opts.allowDestroy === true,
    ...(progress(ctx, Array.isArray(p.steps) ? p.steps.length : 0)
      ? { onProgress: progress(ctx, p.steps.length)! }
      : {}),
  });
  if (ctx.json) return ctx.printJson({ applied: true, ...result });
  const s = result.summary;
  ctx.out(
    `\nApply complete! ${s.create} added, ${s.update} changed, ${s.replace} replaced, ${s.delete} destroyed. Workspace "${result.workspace}" is at serial ${result.serial}.`,
  );
}

/** `berth destroy [--auto-approve]`: removes everything the selected workspace manages. */
export async function destroy(ctx: CliContext, opts: { autoApprove?: boolean; file?: string }): Promise<void> {
  const { store, plan: p } = await makeCliPlan(ctx, { destroy: true, ...(opts.file ? { file: opts.file } : {}) });
  if (!ctx.json) process.stdout.write(renderPlan(ctx, p));
  if (planIsEmpty(p)) {
    if (ctx.json) ctx.printJson({ destroyed: false, summary: p.summary });
    return;
  }
  await ctx.confirm(
    `\nDo you really want to destroy everything workspace "${p.workspace}" manages?`,
    opts.autoApprove,
    '--auto-approve',
  );
  const result = await store.apply(p, { lockTimeoutMs: ctx.lockTimeoutMs, allowDestroy: true });
  if (ctx.json) return ctx.printJson({ destroyed: true, ...result });
  ctx.out(`\nDestroy complete! ${result.summary.delete} destroyed.`);
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
    const store = await ctx.open();
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
