import { hash } from 'node:crypto';

/** JSON with object keys sorted at every level: equal documents give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      // defineProperty, not assignment: a "__proto__" key is data here.
      if (v !== undefined)
        Object.defineProperty(out, key, { value: sortKeys(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/**
 * The canonical JSON of a document that is JSON data already (what `JSON.parse` returns):
 * the same text as {@link canonicalJson}, from one native `JSON.stringify` of its
 * {@link plainCanonicalCopy}. Throws a RangeError naming `maxDepth` when an object or
 * array lies deeper than `maxDepth` levels (the document itself is level 1).
 */
export function canonicalJsonOfData(doc: unknown, maxDepth = Number.POSITIVE_INFINITY): string {
  const copy = plainCanonicalCopy(doc, maxDepth);
  // Parsed JSON is always plain: only its depth can refuse it.
  if (copy === undefined && doc !== undefined) throw new RangeError(`nests deeper than ${maxDepth} levels`);
  return JSON.stringify(copy);
}

const NOT_PLAIN = Symbol('not plain JSON data');

/**
 * A copy of `value` with every object's keys in canonical order, when `value` is plain
 * JSON data already (plain objects and arrays, strings, finite numbers, booleans, null;
 * no undefined array slot, no toJSON, nothing deeper than `maxDepth`): then
 * `JSON.stringify` of the copy is its canonical JSON, and the copy is what a JSON round
 * trip of `value` would give. Undefined for anything else, which the caller sends through
 * `JSON.stringify` and `JSON.parse` instead (dates, class instances, NaN, cycles…).
 */
export function plainCanonicalCopy(value: unknown, maxDepth = Number.POSITIVE_INFINITY): unknown {
  const copy = (v: unknown, depth: number): unknown => {
    if (v === null) return null;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        // -0 becomes 0, as through JSON.
        return Number.isFinite(v) ? (v === 0 ? 0 : v) : NOT_PLAIN;
      case 'object':
        break;
      default:
        return NOT_PLAIN;
    }
    if (depth > maxDepth) return NOT_PLAIN;
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) return NOT_PLAIN;
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) return NOT_PLAIN;
        const member = copy(v[i], depth + 1);
        if (member === NOT_PLAIN) return NOT_PLAIN;
        out[i] = member;
      }
      return out;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if ((proto !== Object.prototype && proto !== null) || 'toJSON' in (v as object)) return NOT_PLAIN;
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record);
    let inOrder = true;
    for (let i = 1; i < keys.length && inOrder; i++) inOrder = keys[i - 1]! < keys[i]!;
    if (!inOrder) keys.sort();
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const raw = record[key];
      // JSON leaves out a member whose value is undefined.
      if (raw === undefined) continue;
      const member = copy(raw, depth + 1);
      if (member === NOT_PLAIN) return NOT_PLAIN;
      if (key === '__proto__')
        Object.defineProperty(out, key, { value: member, enumerable: true, writable: true, configurable: true });
      else out[key] = member;
    }
    return out;
  };
  const result = copy(value, 1);
  return result === NOT_PLAIN ? undefined : result;
}

/** sha256 of a document's canonical JSON, hex. */
export function documentChecksum(value: unknown): string {
  return sha256(canonicalJson(value));
}

/** sha256 of a text, hex. */
export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * Orders strings by UTF-16 code units, never by locale: an order that is hashed, stored
 * or compared must be the same on every machine sharing a store (STYLE.md 16).
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
