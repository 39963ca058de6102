import { canonicalJson, compareCodeUnits } from '../engine/canonical-json.js';
import { ciphertextKeyId } from '../engine/secrets/crypto.js';
import type { ContainerSpecC, Plan, PlanChange, StackSpec } from './types.js';

/*
 * The human form of a plan, in Terraform's shape: one block per object with a value per
 * field (`~ image = "nginx:1" -> "nginx:2" # forces replacement`), `+` attributes for
 * creates, `-` for deletes, `(sensitive value)` for secrets; then drift, orphans and the
 * summary line. Every object line names the same change as the JSON plan.
 */

type Colour = 'green' | 'yellow' | 'red' | 'dim';
const CODES: Record<Colour, number> = { green: 32, yellow: 33, red: 31, dim: 2 };

const SYMBOL: Record<string, [string, Colour]> = {
  create: ['+', 'green'],
  update: ['~', 'yellow'],
  replace: ['-/+', 'yellow'],
  delete: ['-', 'red'],
  noop: [' ', 'dim'],
};

/** How a plan is rendered: colour only on a terminal. */
export interface RenderOptions {
  colour?: boolean;
}

/** One attribute line: a dotted path (`env.PORT`) and its old and new value. */
interface Attr {
  path: string;
  before?: unknown;
  after?: unknown;
  forces: boolean;
}

const SENSITIVE = '(sensitive value)';

/** A value as Terraform shows it: strings quoted, secrets hidden, lists and maps as JSON. */
function show(value: unknown): string {
  if (typeof value === 'string') return ciphertextKeyId(value) !== undefined ? SENSITIVE : JSON.stringify(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return `[${value.map((v) => show(v)).join(', ')}]`;
  }
  return JSON.stringify(value);
}

/** A spec's fields as flat attributes: maps split per key, empty values left out. */
function flatten(spec: StackSpec | undefined): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!spec) return out;
  for (const [field, raw] of Object.entries(spec as unknown as Record<string, unknown>)) {
    let value = raw;
    if (field === 'volumes' && Array.isArray(value)) {
      value = (value as ContainerSpecC['volumes']).map((v) => `${v.name}:${v.dest}`);
    }
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) out.set(field, value);
    } else if (typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      for (const [k, v] of entries.sort(([a], [b]) => compareCodeUnits(a, b))) out.set(`${field}.${k}`, v);
    } else out.set(field, value);
  }
  return out;
}

/** The attributes of a change: all of them for a create or delete, the changed ones otherwise. */
function attributes(c: PlanChange): Attr[] {
  const before = flatten(c.before?.spec);
  const after = flatten(c.after?.spec);
  const forcing = new Set(c.replaceFields);
  const top = (path: string): string => path.split('.')[0]!;
  if (c.effective === 'create' || (c.effective === 'noop' && c.blocked && !c.before)) {
    return [...after].map(([path, v]) => ({ path, after: v, forces: false }));
  }
  if (c.effective === 'delete') return [...before].map(([path, v]) => ({ path, before: v, forces: false }));
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const attrs: Attr[] = [];
  if (c.renamedFrom !== undefined) attrs.push({ path: 'name', before: c.renamedFrom, after: c.name, forces: false });
  for (const path of paths) {
    const b = before.get(path);
    const a = after.get(path);
    if (canonicalJson(b ?? null) === canonicalJson(a ?? null)) continue;
    attrs.push({
      path,
      ...(before.has(path) ? { before: b } : {}),
      ...(after.has(path) ? { after: a } : {}),
      forces: forcing.has(top(path)),
    });
  }
  return attrs;
}

function attrLine(a: Attr, width: number, paint: (c: Colour, t: string) => string): string {
  const name = a.path.padEnd(width);
  const forces = a.forces ? paint('red', ' # forces replacement') : '';
  if (!('before' in a)) return `      ${paint('green', '+')} ${name} = ${show(a.after)}${forces}`;
  if (!('after' in a)) return `      ${paint('red', '-')} ${name} = ${show(a.before)}${forces}`;
  return `      ${paint('yellow', '~')} ${name} = ${show(a.before)} -> ${show(a.after)}${forces}`;
}

function header(c: PlanChange, paint: (c: Colour, t: string) => string): string {
  const [sym, colour] = SYMBOL[c.effective]!;
  let why = '';
  if (c.blocked) why = ` — blocked (${c.blocked.reason}): ${c.blocked.message}`;
  else if (c.effective === 'replace') {
    why = c.cascadeFrom ? ` (because ${c.cascadeFrom} is replaced)` : ' (forces replacement)';
  } else if (c.effective === 'delete' && c.orphan) why = ' (orphan: no workspace manages it)';
  const dataLoss = c.destructive && c.effective !== 'noop' ? paint('red', '  [data loss]') : '';
  return `  ${paint(c.blocked ? 'red' : colour, (c.blocked ? '!' : sym).padStart(3))} ${c.key}${why}${dataLoss}`;
}

/** The changes a rendered plan shows, in its order: every change that does something or is blocked. */
export function shownChanges(plan: Plan): PlanChange[] {
  return plan.changes.filter((c) => c.effective !== 'noop' || c.blocked);
}

/** Renders a plan for people (Terraform's layout); the same changes as its JSON. */
export function renderPlan(plan: Plan, opts: RenderOptions = {}): string {
  const paint = (colour: Colour, text: string): string =>
    opts.colour ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
  const lines: string[] = [];
  const where = `workspace "${plan.workspace}", namespace ${JSON.stringify(plan.namespace)}`;
  const shown = shownChanges(plan);
  if (shown.length === 0) {
    lines.push(
      plan.mode === 'refresh-only'
        ? `No changes to objects. Applying will record the store as it is in workspace "${plan.workspace}".`
        : plan.mode === 'destroy'
          ? `No changes. Nothing to destroy: workspace "${plan.workspace}" manages no objects in namespace ${JSON.stringify(plan.namespace)}.`
          : `No changes. The store matches the manifest (${where}).`,
    );
  } else {
    lines.push(`berth will perform these actions in ${where}:`, '');
    for (const c of shown) {
      lines.push(header(c, paint));
      const attrs = c.cascadeFrom && c.fields.length === 0 ? [] : attributes(c);
      const width = Math.max(0, ...attrs.map((a) => a.path.length));
      for (const a of attrs) lines.push(attrLine(a, width, paint));
    }
  }
  if (plan.drift.length > 0) {
    lines.push('', 'Drift: changed outside berth since the last apply:');
    for (const d of plan.drift) {
      const other = d.fields.filter((f) => f !== 'name' || d.renamedTo === undefined);
      const what = d.missing
        ? ['missing from the store']
        : [
            ...(d.renamedTo !== undefined ? [`renamed to ${d.renamedTo}`] : []),
            ...(other.length > 0 ? [`${other.join(', ')} changed`] : []),
          ];
      lines.push(`  ${d.key}: ${what.join('; ')}`);
    }
  }
  const unpruned = plan.orphans.filter(
    (o) => !plan.changes.some((c) => c.key === o.key && c.orphan && c.effective === 'delete'),
  );
  if (unpruned.length > 0) {
    lines.push(
      '',
      'Orphans (managed by no workspace; delete them with --prune and a manifest that declares its namespace):',
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
