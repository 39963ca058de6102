import { describe, expect, it } from 'vitest';
import { paint, renderTable, terminalWidth } from '../../src/cli/output.js';

describe('renderTable', () => {
  it('aligns columns by their widest cell, ANSI colours not counted', () => {
    const out = renderTable(
      ['ID', 'STATE'],
      [
        ['a', paint(true, 'green', 'ok')],
        ['bbbb', 'failed'],
      ],
    );
    expect(out.split('\n')).toEqual(['ID    STATE', `a     ${paint(true, 'green', 'ok')}`, 'bbbb  failed', '']);
  });

  it('cuts only the columns it may shrink, and only to fit a width', () => {
    const rows = [['1', 'a long command line', 'x']];
    expect(renderTable(['A', 'COMMAND', 'B'], rows)).toContain('a long command line');
    // A shrunk column keeps at least 10 characters.
    const fitted = renderTable(['A', 'COMMAND', 'B'], rows, { width: 18, shrink: [1] });
    expect(fitted.split('\n')[1]).toBe('1  a long comm…  x');
  });

  it('renders 200,000 rows without overflowing the call stack', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [String(i), 'c']);
    const out = renderTable(['N', 'C'], rows);
    expect(out.split('\n')[200_000]).toBe('199999  c');
  });

  it('fits COLUMNS on a terminal and no width at all otherwise', () => {
    expect(terminalWidth({ COLUMNS: '40' })).toBe(process.stdout.isTTY ? 40 : undefined);
  });
});
