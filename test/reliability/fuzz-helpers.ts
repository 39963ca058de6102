import { spawn } from 'node:child_process';
import net from 'node:net';
import fc from 'fast-check';
import { ErrorCode, isBerthError, type BerthError } from '../../src/index.js';
import { canonical, sha256 } from '../helpers/canonical-json.js';

/*
 * Helpers of the fuzz suite (fuzz.test.ts): outcome capture and error-contract checks,
 * a JSON mutation engine (applied to valid manifests, exports and plans), junk values,
 * an independent canonical-JSON checksum, a raw HTTP/1.1 client and a CLI runner.
 */

/** Every code DESIGN.md §8 documents. */
export const DOCUMENTED_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs `fn` (which may throw synchronously or reject) and captures what happened. */
export async function outcome<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

export function outcomeSync<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A short description of a thrown value, with the top of its stack for raw errors. */
export function describeError(err: unknown): string {
  if (isBerthError(err)) return `BerthError ${err.code}: ${err.message.slice(0, 300)}`;
  if (err instanceof Error) {
    const where = (err.stack ?? '').split('\n').slice(1, 4).join(' | ');
    return `raw ${err.name}: ${err.message.slice(0, 300)} @ ${where}`;
  }
  return `thrown non-error: ${String(err).slice(0, 200)}`;
}

/**
 * Asserts that `err` is a BerthError with a documented code. With `allowed`, the code
 * must be one of them; without, any documented code but INTERNAL (an error a caller can
 * cause must be named, not "unexpected").
 */
export function expectTypedError(
  err: unknown,
  context: string,
  allowed?: readonly string[],
): asserts err is BerthError {
  if (!isBerthError(err)) throw new Error(`${context}: expected a BerthError, got ${describeError(err)}`);
  if (!DOCUMENTED_CODES.has(err.code)) throw new Error(`${context}: undocumented code: ${describeError(err)}`);
  if (allowed ? !allowed.includes(err.code) : err.code === 'INTERNAL') {
    throw new Error(
      `${context}: code ${err.code} is not among ${allowed ? allowed.join('/') : 'the non-INTERNAL codes'}: ${describeError(err)}`,
    );
  }
}

/** Short, printable form of a value for failure messages. */
export function show(value: unknown, max = 300): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

// ---------------------------------------------------------------- JSON documents

/** An object nested `depth` levels deep: {a: {a: ... 1}}. */
export function deepObject(depth: number): unknown {
  let x: unknown = 1;
  for (let i = 0; i < depth; i++) x = { a: x };
  return x;
}

/** An array nested `depth` levels deep: [[[... 1]]]. */
export function deepArray(depth: number): unknown {
  let x: unknown = 1;
  for (let i = 0; i < depth; i++) x = [x];
  return x;
}

export { canonical as canonicalJsonOf, sha256 as sha256Hex };

/** The checksum an export carries: sha256 of the state's canonical JSON (DESIGN.md §4). */
export function stateChecksum(state: unknown): string | undefined {
  try {
    return sha256(canonical(state));
  } catch {
    return undefined;
  }
}

/** The same value with JSON's view of it (undefined members dropped, NaN -> null). */
export function asJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

// ---------------------------------------------------------------- mutations

export type PathKey = string | number;

/** Every path into a JSON document (root first), breadth-first, at most `max`. */
export function pathsOf(doc: unknown, max = 4000): PathKey[][] {
  const out: PathKey[][] = [[]];
  const queue: { value: unknown; path: PathKey[] }[] = [{ value: doc, path: [] }];
  while (queue.length > 0 && out.length < max) {
    const { value, path } = queue.shift()!;
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        out.push([...path, i]);
        queue.push({ value: v, path: [...path, i] });
      });
    } else if (value !== null && typeof value === 'object') {
      for (const k of Object.keys(value)) {
        out.push([...path, k]);
        queue.push({ value: (value as Record<string, unknown>)[k], path: [...path, k] });
      }
    }
  }
  return out;
}

export const MUTATION_KINDS = [
  'delete',
  'replace',
  'retype',
  'string',
  'number',
  'duplicate',
  'reverse',
  'renameKey',
  'wrapDeep',
  'nullify',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

/** One edit of a document: `at` picks a path (modulo the number of paths). */
export interface Mutation {
  at: number;
  kind: MutationKind;
  value: unknown;
}

function retype(v: unknown): unknown {
  if (typeof v === 'string') return v === '' ? 0 : Number.isNaN(Number(v)) ? [v] : Number(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 0;
  if (v === null) return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  if (typeof v === 'object') return Object.values(v as object);
  return null;
}

function applyOne(doc: unknown, original: Mutation): unknown {
  // The value goes into the document, which later edits change in place: never share it.
  const m = { ...original, value: structuredClone(original.value) };
  const paths = pathsOf(doc);
  const path = paths[m.at % paths.length]!;
  if (path.length === 0) {
    // The root itself.
    if (m.kind === 'replace') return m.value;
    if (m.kind === 'retype') return retype(doc);
    if (m.kind === 'nullify') return null;
    if (m.kind === 'wrapDeep') return deepWrap(doc, 64);
    return doc;
  }
  let parent: unknown = doc;
  for (const k of path.slice(0, -1)) parent = (parent as Record<PathKey, unknown>)[k];
  const key = path[path.length - 1]!;
  const holder = parent as Record<PathKey, unknown>;
  const current = holder[key];
  switch (m.kind) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete holder[key];
      break;
    case 'replace':
      holder[key] = m.value;
      break;
    case 'retype':
      holder[key] = retype(current);
      break;
    case 'string':
      holder[key] = typeof current === 'string' ? `${current}${typeof m.value === 'string' ? m.value : '%'}` : m.value;
      break;
    case 'number':
      holder[key] = typeof current === 'number' ? current + (typeof m.value === 'number' ? m.value : 1) : m.value;
      break;
    case 'duplicate':
      if (Array.isArray(current) && current.length > 0) current.push(structuredClone(current[0]));
      else if (Array.isArray(parent)) parent.push(structuredClone(current));
      else holder[`${String(key)}2`] = structuredClone(current);
      break;
    case 'reverse':
      if (Array.isArray(current)) current.reverse();
      else if (typeof current === 'string') holder[key] = [...current].reverse().join('');
      break;
    case 'renameKey':
      if (!Array.isArray(parent)) {
        delete holder[key];
        holder[typeof m.value === 'string' && m.value !== String(key) ? m.value : `${String(key)}_`] = current;
      }
      break;
    case 'wrapDeep':
      holder[key] = deepWrap(current, 64);
      break;
    case 'nullify':
      holder[key] = null;
      break;
  }
  return doc;
}

function deepWrap(v: unknown, depth: number): unknown {
  let x = v;
  for (let i = 0; i < depth; i++) x = i % 2 ? [x] : { x };
  return x;
}

/** A mutated deep copy of `doc` (the original is left alone). */
export function mutate(doc: unknown, mutations: readonly Mutation[]): unknown {
  let out: unknown = structuredClone(doc);
  for (const m of mutations) out = applyOne(out, m);
  return out;
}

// ---------------------------------------------------------------- arbitraries

/** Characters that are wildcards in LIKE, GLOB or shells, and friends. */
export const WILDCARDS = ['%', '_', '*', '?', '[', ']', '[a-z]', '\\', "'", '"', ';', ' ', '%%', '_%'];

/** Short strings made of wildcard characters and a few letters that seeded objects use. */
export const wildString: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constantFrom(...WILDCARDS), fc.constantFrom('w', 'a', 'x', '1', 'p', 'v', '-', '.', 'é', '🚢')), {
    minLength: 1,
    maxLength: 8,
  })
  .map((parts) => parts.join(''));

const HUGE_STRING = 'x'.repeat(200_000);
const DEEP_OBJECT = deepObject(400);

/** Values of every JSON type and a few that JSON cannot carry, edge numbers included. */
export const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(null, undefined, 0, -1, 1.5, -0, true, false, '', [], {}) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(NaN, Infinity, -Infinity, 2 ** 53 + 2, 2 ** 63, 1e300, -(2 ** 31), 0.1),
  },
  { weight: 3, arbitrary: wildString },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(HUGE_STRING, DEEP_OBJECT, [[[[[[[[]]]]]]]]) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

export const mutationArb = (value: fc.Arbitrary<unknown> = junkValue): fc.Arbitrary<Mutation> =>
  fc.record({ at: fc.nat({ max: 100_000 }), kind: fc.constantFrom(...MUTATION_KINDS), value });

// ---------------------------------------------------------------- raw HTTP

export type RawResult =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string; raw: string }
  | { kind: 'timeout'; partial: string }
  | { kind: 'error'; error: string; partial: string };

/**
 * Sends one raw HTTP/1.1 request (so methods, targets and headers reach the server
 * exactly as written) and reads the response until the server closes the connection.
 */
export function rawHttp(port: number, request: string | Buffer, timeoutMs: number): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (r: RawResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const text = (): string => Buffer.concat(chunks).toString('utf8');
    const timer = setTimeout(() => finish({ kind: 'timeout', partial: text().slice(0, 300) }), timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e) => {
      const got = text();
      // A reset after a complete response still counts as that response.
      if (got.includes('\r\n\r\n')) finish(parseResponse(got));
      else finish({ kind: 'error', error: String(e), partial: got.slice(0, 300) });
    });
    socket.on('close', () => finish(parseResponse(text())));
    socket.write(request);
  });
}

function parseResponse(raw: string): RawResult {
  const end = raw.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  if (end < 0 || !m) return { kind: 'error', error: 'no complete response', partial: raw.slice(0, 300) };
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { kind: 'response', status: Number(m[1]), headers, body: raw.slice(end + 4), raw: raw.slice(0, 600) };
}

// ---------------------------------------------------------------- CLI

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `node BIN ...args` with no stdin (not a terminal), killing it after `timeoutMs`. */
export function runCli(
  bin: string,
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 200_000) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 200_000) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
