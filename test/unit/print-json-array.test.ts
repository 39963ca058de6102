import { describe, expect, it, vi } from 'vitest';
import { CliContext } from '../../src/cli/cli-context.js';

/** What `fn` writes to stdout. */
function stdoutOf(fn: () => void): string {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('CliContext.printJsonArray', () => {
  const ctx = new CliContext({ format: 'json' });

  it('prints the text printJson prints, for empty, flat, nested and multi-chunk arrays', () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => ({
      id: `c${i}`,
      Names: [`n${i}`],
      Labels: i % 2 ? { app: 'a', tier: 'x'.repeat(50) } : {},
      Command: [],
      ExitCode: i,
      Pod: null,
    }));
    for (const items of [[], [{ a: 1 }], [1, 'two', null], rows]) {
      const streamed = stdoutOf(() => ctx.printJsonArray(items as unknown[], (x) => x));
      expect(streamed).toBe(JSON.stringify(items, null, 2) + '\n');
    }
  });

  it('maps each item with its index', () => {
    const streamed = stdoutOf(() => ctx.printJsonArray(['a', 'b'], (x, i) => ({ x, i })));
    expect(JSON.parse(streamed)).toEqual([
      { x: 'a', i: 0 },
      { x: 'b', i: 1 },
    ]);
  });

  it('pushed one at a time, prints the text of the whole array, values JSON turns to null included', () => {
    const items: unknown[] = [{ a: [1, { b: 'c' }] }, undefined, 'x', [], {}, 0];
    const streamed = stdoutOf(() => {
      const writer = ctx.jsonArrayWriter();
      for (const item of items) writer.push(item);
      writer.end();
    });
    expect(streamed).toBe(JSON.stringify(items, null, 2) + '\n');
    const empty = stdoutOf(() => ctx.jsonArrayWriter().end());
    expect(empty).toBe('[]\n');
  });
});
