import { renderTable, usageError } from './output.js';

/*
 * The part of Go's text/template that podman's `--format` uses: `{{.Field}}`,
 * `{{.A.B}}` (a field of a field, or a key of a map such as `{{.Labels.app}}`), `{{.}}`,
 * `{{json .}}` and `{{json .Field}}`, literal text with `\t` and `\n` escapes, and the
 * `table` prefix, which prints a header row and aligns the columns. A lexer turns the
 * text into tokens, a parser into nodes; every field is checked against the fields the
 * command offers before anything is read, so a mistyped field is a usage error (exit 2).
 */

/** A value a template prints: text, a number, a flag, a list, a map or a nested object. */
export type TemplateValue =
  string | number | boolean | null | undefined | readonly TemplateValue[] | { readonly [key: string]: TemplateValue };

/** One object a template runs on, by field name. */
export type TemplateData = Readonly<Record<string, TemplateValue>>;

/** A field reference: `.` is the empty path, `.A.B` is ['A', 'B']. */
export type FieldPath = readonly string[];

/** A node of a parsed template. */
export type TemplateNode = { kind: 'text'; text: string } | { kind: 'field'; path: FieldPath; json: boolean };

/** A parsed `--format` template. */
export interface Template {
  /** Whether the template started with the `table` prefix (a header row, aligned columns). */
  table: boolean;
  nodes: readonly TemplateNode[];
}

// ------------------------------------------------------------------ lexer

type Token =
  | { type: 'text'; text: string }
  | { type: 'open' }
  | { type: 'close' }
  | { type: 'field'; path: FieldPath }
  | { type: 'ident'; name: string };

const FUNCTIONS = ['json'] as const;

/** `\t` and `\n` typed in a shell argument are a tab and a newline, as podman reads them. */
function unescape(text: string): string {
  return text.replace(/\\([tn\\])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : '\\'));
}

function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) {
      tokens.push({ type: 'text', text: unescape(source.slice(i)) });
      break;
    }
    if (open > i) tokens.push({ type: 'text', text: unescape(source.slice(i, open)) });
    const close = source.indexOf('}}', open + 2);
    if (close < 0) {
      throw usageError(`--format ${JSON.stringify(source)}: "{{" at ${open + 1} is never closed with "}}"`, {
        format: source,
      });
    }
    tokens.push({ type: 'open' });
    lexAction(source.slice(open + 2, close), source, tokens);
    tokens.push({ type: 'close' });
    i = close + 2;
  }
  return tokens;
}

function lexAction(action: string, source: string, tokens: Token[]): void {
  const words = action
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  for (const word of words) {
    if (word === '.') tokens.push({ type: 'field', path: [] });
    else if (word.startsWith('.')) {
      const path = word.slice(1).split('.');
      if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) {
        throw usageError(`--format ${JSON.stringify(source)}: ${JSON.stringify(word)} is not a field such as .Names`, {
          format: source,
        });
      }
      tokens.push({ type: 'field', path });
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(word)) tokens.push({ type: 'ident', name: word });
    else {
      throw usageError(`--format ${JSON.stringify(source)}: cannot read ${JSON.stringify(word)} in {{${action}}}`, {
        format: source,
      });
    }
  }
}

// ------------------------------------------------------------------ parser

/**
 * Parses a `--format` template.
 * @throws INVALID_ARGUMENT with details.usage (an unclosed action, an unknown function, a malformed field)
 */
export function parseTemplate(format: string): Template {
  const m = /^table(?:\s+|$)/.exec(format);
  const table = m !== null;
  const source = table ? format.slice(m[0].length) : format;
  const tokens = lex(source);
  const nodes: TemplateNode[] = [];
  const bad = (why: string): never => {
    throw usageError(`--format ${JSON.stringify(format)}: ${why}`, { format });
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'text') {
      nodes.push({ kind: 'text', text: t.text });
      continue;
    }
    // An action: open, then `FIELD` or `json FIELD`, then close.
    const inner: Token[] = [];
    for (i++; tokens[i]!.type !== 'close'; i++) inner.push(tokens[i]!);
    const [first, second, ...rest] = inner;
    if (first === undefined) return bad('an empty {{}}');
    if (first.type === 'field' && second === undefined) {
      nodes.push({ kind: 'field', path: first.path, json: false });
    } else if (first.type === 'ident') {
      if (!(FUNCTIONS as readonly string[]).includes(first.name)) {
        bad(`unknown function ${JSON.stringify(first.name)}; use ${FUNCTIONS.join(', ')} (as in {{json .}})`);
      }
      if (second?.type !== 'field' || rest.length > 0)
        return bad(`${first.name} takes one field, as in {{json .Labels}}`);
      nodes.push({ kind: 'field', path: second.path, json: true });
    } else {
      bad('an action holds a field (.Names) or json and a field ({{json .}})');
    }
  }
  return { table, nodes };
}

/** The top-level fields a template names, and whether it reads the whole object (`.`). */
export function fieldsUsed(template: Template): { fields: string[]; whole: boolean } {
  const used = new Set<string>();
  let whole = false;
  for (const n of template.nodes) {
    if (n.kind !== 'field') continue;
    if (n.path.length === 0) whole = true;
    else used.add(n.path[0]!);
  }
  return { fields: [...used], whole };
}

/**
 * Checks that every field the template names is one of `valid` (the fields of what the
 * command lists).
 * @throws INVALID_ARGUMENT with details.usage, naming the valid fields
 */
export function checkFields(template: Template, valid: readonly string[], what: string): void {
  for (const n of template.nodes) {
    if (n.kind !== 'field' || n.path.length === 0) continue;
    const name = n.path[0]!;
    if (!valid.includes(name)) {
      throw usageError(`--format: ${what} have no field .${name}; use any of ${valid.map((f) => `.${f}`).join(', ')}`, {
        field: name,
        fields: [...valid],
      });
    }
  }
}

// ------------------------------------------------------------------ execution

function lookup(data: TemplateValue, path: FieldPath): TemplateValue {
  let value: TemplateValue = data;
  for (const key of path) {
    if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = Object.hasOwn(value, key) ? (value as Record<string, TemplateValue>)[key] : undefined;
  }
  return value;
}

/**
 * How a value prints: text as is, lists joined with commas, maps as sorted `key=value`
 * pairs joined with commas (podman's `{{.Labels}}`), nothing for a missing value.
 */
export function showValue(value: TemplateValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => showValue(v as TemplateValue)).join(',');
  const entries = Object.entries(value as Record<string, TemplateValue>);
  if (entries.some(([, v]) => v !== null && typeof v === 'object')) return JSON.stringify(value);
  return entries
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${showValue(v)}`)
    .join(',');
}

function runNodes(nodes: readonly TemplateNode[], data: TemplateData, whole: TemplateValue): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else {
      const value = n.path.length === 0 ? whole : lookup(data, n.path);
      out += n.json || n.path.length === 0 ? JSON.stringify(value ?? null) : showValue(value);
    }
  }
  return out;
}

/** podman's header of a field: `ID` → `ID`, `PodName` → `POD NAME`, `Labels.app` → `APP`. */
export function headerOf(path: FieldPath, headers: Readonly<Record<string, string>> = {}): string {
  if (path.length === 0) return '';
  const joined = path.join('.');
  if (Object.hasOwn(headers, joined)) return headers[joined]!;
  const last = path[path.length - 1]!;
  return last
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toUpperCase();
}

/** The cells of a table template: split at tabs, else at the blanks between fields. */
function cellsOf(nodes: readonly TemplateNode[]): TemplateNode[][] {
  const hasTab = nodes.some((n) => n.kind === 'text' && n.text.includes('\t'));
  const cells: TemplateNode[][] = [[]];
  for (const n of nodes) {
    if (n.kind === 'text') {
      const parts = hasTab ? n.text.split('\t') : /^\s+$/.test(n.text) ? ['', ''] : [n.text];
      parts.forEach((p, i) => {
        if (i > 0) cells.push([]);
        if (p !== '') cells[cells.length - 1]!.push({ kind: 'text', text: p });
      });
    } else cells[cells.length - 1]!.push(n);
  }
  return cells.filter((c) => c.length > 0);
}

/**
 * Runs a template over rows: one line per row, or with the `table` prefix a header row
 * and aligned columns. `whole` gives what `{{.}}` and `{{json .}}` print of a row.
 */
export function renderTemplate(
  template: Template,
  rows: readonly TemplateData[],
  opts: {
    whole?: (row: TemplateData, index: number) => TemplateValue;
    headers?: Readonly<Record<string, string>>;
  } = {},
): string {
  const whole = opts.whole ?? ((row: TemplateData) => row as TemplateValue);
  if (!template.table) {
    return rows
      .map((r, i) => {
        const line = runNodes(template.nodes, r, whole(r, i));
        return line.endsWith('\n') ? line : line + '\n';
      })
      .join('');
  }
  const cells = cellsOf(template.nodes);
  const header = cells.map((c) => c.map((n) => (n.kind === 'text' ? n.text : headerOf(n.path, opts.headers))).join(''));
  const body = rows.map((r, i) => cells.map((c) => runNodes(c, r, whole(r, i)).replace(/\n+$/, '')));
  return renderTable(header, body);
}
