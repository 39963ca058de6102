import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonOfData } from '../../src/engine/canonical-json.js';
import { openStore } from '../../src/index.js';
import { tempDir } from '../helpers/store-factory.js';
import { join } from 'node:path';

/*
 * The one-pass canonical JSON of parsed documents (what a state write stores and hashes)
 * must be exactly the text canonicalJson gives: stored checksums, plan digests and the
 * "no change" test of a Terraform upload compare these texts across versions of berth.
 */

describe('canonicalJsonOfData', () => {
  it('gives the text canonicalJson gives, for any JSON document', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const doc: unknown = JSON.parse(JSON.stringify(value));
        expect(canonicalJsonOfData(doc)).toBe(canonicalJson(doc));
      }),
      { numRuns: 2000 },
    );
  });

  it('orders integer-like keys, "__proto__" and unsorted nested objects as canonicalJson does', () => {
    const docs = [
      '{"10":1,"2":2,"b":3,"a":4,"1":5}',
      '{"b":{"z":1,"y":[{"d":1,"c":2},3]},"a":null}',
      '{"__proto__":{"x":1},"a":1}',
      '{"a":{"__proto__":1,"b":2},"c":[]}',
      '[{"b":1,"a":2},{"a":1,"b":2},"é\\u0000\\ud800"]',
      '{"ä":1,"z":2,"A":3,"😀":4,"\\ud800":5}',
    ];
    for (const text of docs) {
      const doc: unknown = JSON.parse(text);
      expect(canonicalJsonOfData(doc)).toBe(canonicalJson(doc));
    }
  });

  it('leaves the document it reads unchanged', () => {
    const doc = JSON.parse('{"b":{"d":1,"c":[{"f":1,"e":2}]},"a":1}') as unknown;
    const before = JSON.stringify(doc);
    canonicalJsonOfData(doc);
    expect(JSON.stringify(doc)).toBe(before);
  });

  it('refuses a document deeper than the limit, and takes one at it', () => {
    const nest = (n: number): unknown => (n === 1 ? {} : { a: nest(n - 1) });
    expect(canonicalJsonOfData(nest(5), 5)).toBe(canonicalJson(nest(5)));
    expect(() => canonicalJsonOfData(nest(6), 5)).toThrow(RangeError);
    expect(() => canonicalJsonOfData([[[1]]], 2)).toThrow(RangeError);
    expect(canonicalJsonOfData([[1]], 2)).toBe('[[1]]');
  });

  it('stores the same text and checksum for a state as canonicalJson would', async () => {
    const dir = tempDir('berth-canonical-');
    const store = await openStore({ path: join(dir, 'berth.db') });
    try {
      await store.workspaces.create('w');
      const doc = { z: 1, '10': 'ten', '2': 'two', a: [{ y: 1, x: 2 }], m: { __proto__: null, k: 'v' } };
      const written = await store.workspaces.writeState('w', doc);
      const expected = canonicalJson(JSON.parse(JSON.stringify(doc)));
      const { createHash } = await import('node:crypto');
      expect(written.checksum).toBe(createHash('sha256').update(expected).digest('hex'));
      const exported = await store.workspaces.exportState('w');
      expect(exported.checksum).toBe(written.checksum);
    } finally {
      await store.close();
    }
  });
});

describe('encodeState', () => {
  it('stores what a JSON round trip then canonical JSON would, for any value', async () => {
    const { encodeState, encodeThroughJson } = await import('../../src/engine/workspaces/state.js');
    const outcome = (f: () => { text: string | null; checksum: string | null; doc: unknown }) => {
      try {
        const r = f();
        return { text: r.text, checksum: r.checksum, doc: r.doc };
      } catch (err) {
        return { code: (err as { code?: string }).code, message: (err as Error).message };
      }
    };
    fc.assert(
      fc.property(
        fc.anything({
          maxDepth: 4,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withSparseArray: true,
          withTypedArray: true,
          withBigInt: true,
        }),
        (value) => {
          fc.pre(value !== null);
          expect(outcome(() => encodeState(value))).toEqual(outcome(() => encodeThroughJson(value)));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('takes the JSON path for dates, toJSON, NaN, undefined slots, cycles and throwing getters', async () => {
    const { encodeState } = await import('../../src/engine/workspaces/state.js');
    expect(encodeState({ b: new Date(0), a: Number.NaN, c: [undefined, () => 1] }).text).toBe(
      '{"a":null,"b":"1970-01-01T00:00:00.000Z","c":[null,null]}',
    );
    expect(encodeState({ z: -0, y: { toJSON: () => 'x' } }).text).toBe('{"y":"x","z":0}');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => encodeState(cyclic)).toThrow(/cannot be stored as JSON/);
    const getter = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    expect(() => encodeState(getter)).toThrow(/cannot be stored as JSON/);
    const nest = (n: number): unknown => (n === 1 ? {} : { a: nest(n - 1) });
    expect(() => encodeState(nest(1001))).toThrow(/deeper than 1000/);
  });
});
