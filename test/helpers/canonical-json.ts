import { createHash } from 'node:crypto';

/*
 * The canonical JSON and checksums the tests compare berth's with, written independently
 * of src/ so that a test checks berth's checksums rather than repeating its code.
 */

/** JSON with object keys sorted at every level (undefined members dropped, as JSON does). */
export function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        const member = (v as Record<string, unknown>)[key];
        // defineProperty: a "__proto__" key is data here, as in the documents berth stores.
        if (member !== undefined) {
          Object.defineProperty(out, key, {
            value: sort(member),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

/** sha256 of a text, hex. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
