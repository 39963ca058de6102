import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCode } from '../../src/index.js';
import { auditPublishedDocs } from './published-docs.js';

/*
 * The published surface documents itself (STYLE.md 10, issue 15): every symbol src/index.ts
 * exports has a doc comment, and every exported function and every public method of the
 * facade's classes says what it throws, by codes that exist. The same audit runs on the
 * shipped declarations in readme-typescript.test.ts.
 */

const INDEX = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const FACADES = ['Store', 'Workspaces', 'Locks', 'Events', 'Secrets'];

describe.concurrent('TSDoc of the published surface', () => {
  const audit = auditPublishedDocs(INDEX);

  it('every public method of Store, Workspaces, Locks, Events and Secrets, and every exported function, has @throws', () => {
    for (const facade of FACADES) {
      expect(audit.checked.filter((n) => n.startsWith(`${facade}.`)).length, facade).toBeGreaterThan(2);
    }
    expect(audit.checked).toEqual(
      expect.arrayContaining(['openStore', 'restoreStore', 'loadManifest', 'isBerthError']),
    );
    expect(audit.gaps).toEqual([]);
  });

  it('@throws names only codes that exist', () => {
    const codes = new Set<string>(Object.values(ErrorCode));
    const unknown = [...audit.throws].flatMap(([name, text]) =>
      [...text.matchAll(/\b[A-Z][A-Z0-9_]*_[A-Z0-9_]+\b|\bLOCKED\b|\bINTERNAL\b/g)]
        .map((m) => m[0])
        .filter((code) => !codes.has(code))
        .map((code) => `${name}: ${code}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has* say EMPTY_ID and events.append says INVALID_ARGUMENT', () => {
    for (const name of ['Store.hasContainer', 'Store.hasPod', 'Store.hasVolume']) {
      expect(audit.throws.get(name), name).toMatch(/\bEMPTY_ID\b/);
    }
    expect(audit.throws.get('Events.append')).toMatch(/\bINVALID_ARGUMENT\b/);
  });

  it('the audit notices a method or function without @throws, and a type without a doc comment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tsdoc-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.ts'), "export { Thing, make, type Shape } from './thing.js';\n");
    writeFileSync(
      join(dir, 'thing.ts'),
      [
        '/** A thing. */',
        'export class Thing {',
        '  /** Documented, but says nothing of what it throws. */',
        '  run(): void {}',
        '  /**',
        '   * Fine.',
        '   * @throws EMPTY_ID',
        '   */',
        '  ok(): void {}',
        '  private hidden(): void {}',
        '}',
        '/** Makes one. */',
        'export function make(): Thing { return new Thing(); }',
        'export interface Shape { x: number }',
        '',
      ].join('\n'),
    );
    const { gaps } = auditPublishedDocs(join(dir, 'index.ts'));
    expect(gaps.map((g) => [g.name, g.missing])).toEqual([
      ['Thing.run', '@throws'],
      ['make', '@throws'],
      ['Shape', 'doc comment'],
    ]);
  });
});
