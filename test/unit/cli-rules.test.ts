import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliContext, readSavedSelection, resolveStackNamespace } from '../../src/cli/cli-context.js';
import { manifestNamespace } from '../../src/cli/manifest-namespace.js';
import { buildProgram, terraformSpellings } from '../../src/cli/main.js';

/*
 * The CLI's two rules that need no store: the namespace of a stack command, and the
 * rewriting of Terraform's single-dash long options.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rules-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('resolveStackNamespace: --namespace > manifest > saved selection > ""', () => {
  it('takes the first that is given, and says where it came from', () => {
    expect(resolveStackNamespace({ flag: 'a', manifest: 'b', saved: 'c' })).toEqual({ namespace: 'a', source: 'flag' });
    expect(resolveStackNamespace({ manifest: 'b', saved: 'c' })).toEqual({ namespace: 'b', source: 'manifest' });
    expect(resolveStackNamespace({ saved: 'c' })).toEqual({ namespace: 'c', source: 'selection' });
    expect(resolveStackNamespace({})).toEqual({ namespace: '', source: 'default' });
    // An explicit '' is a choice too (the '' namespace), not "not given".
    expect(resolveStackNamespace({ flag: '', manifest: 'b' })).toEqual({ namespace: '', source: 'flag' });
  });

  it('CliContext reads the manifest in use (-f, else ./berth.yaml) and .berth/workspace', async () => {
    const cwd = folder({
      'berth.yaml': 'version: 1\nnamespace: shop\n',
      'other.yaml': 'version: 1\nnamespace: ci\n',
      'plain.yaml': 'version: 1\n',
      '.berth/workspace': 'staging\nnamespace=saved\n',
    });
    const ctx = (namespace?: string): CliContext =>
      new CliContext({ format: 'table', ...(namespace !== undefined ? { namespace } : {}) }, {}, cwd);
    expect(await ctx().stackNamespace()).toMatchObject({ namespace: 'shop', source: 'manifest' });
    expect(await ctx().stackNamespace('other.yaml')).toMatchObject({ namespace: 'ci', source: 'manifest' });
    expect(await ctx().stackNamespace('plain.yaml')).toMatchObject({ namespace: 'saved', source: 'selection' });
    expect(await ctx('x').stackNamespace('other.yaml')).toMatchObject({ namespace: 'x', source: 'flag' });
    expect(ctx().selectedWorkspace()).toEqual({ name: 'staging', source: 'file' });
    const bare = folder();
    expect(await new CliContext({ format: 'table' }, {}, bare).stackNamespace()).toEqual({
      namespace: '',
      source: 'default',
    });
  });

  it('a selection file of older berths (the name alone) still reads', () => {
    const cwd = folder({ '.berth/workspace': 'prod\n' });
    expect(readSavedSelection(cwd)).toEqual({ name: 'prod' });
    expect(readSavedSelection(folder())).toBeUndefined();
  });

  it('a manifest that is not YAML is MANIFEST_INVALID, naming --namespace as the way around it', () => {
    const cwd = folder({ 'berth.yaml': 'version: [1\n' });
    expect(() => manifestNamespace(join(cwd, 'berth.yaml'))).toThrow(/not valid YAML.*--namespace NS/);
    expect(() => manifestNamespace(join(cwd, 'nosuch.yaml'))).toThrow(/it does not exist/);
  });
});

describe("terraformSpellings: Terraform's single-dash long options", () => {
  const rewrite = (...argv: string[]): string[] => terraformSpellings(buildProgram(), argv);

  it("rewrites a word that is the command's own long option, or a global one", () => {
    expect(rewrite('apply', '-auto-approve')).toEqual(['apply', '--auto-approve']);
    expect(rewrite('plan', '-out=p.json')).toEqual(['plan', '--out=p.json']);
    expect(rewrite('plan', '-out', 'p.json')).toEqual(['plan', '--out', 'p.json']);
    expect(rewrite('workspace', 'select', '-or-create', 'qa')).toEqual(['workspace', 'select', '--or-create', 'qa']);
    expect(rewrite('force-unlock', 'ID', '-force')).toEqual(['force-unlock', 'ID', '--force']);
    expect(rewrite('-lock-timeout=10s', 'apply')).toEqual(['--lock-timeout=10s', 'apply']);
    expect(rewrite('apply', '-lock-timeout=10s')).toEqual(['apply', '--lock-timeout=10s']);
    expect(rewrite('apply', '-refresh-only')).toEqual(['apply', '--refresh-only']);
  });

  it("leaves podman's short clusters, other commands' words, values and what follows -- alone", () => {
    expect(rewrite('ps', '-aq')).toEqual(['ps', '-aq']);
    expect(rewrite('ps', '-a', '--filter', 'status=exited')).toEqual(['ps', '-a', '--filter', 'status=exited']);
    expect(rewrite('ps', '-auto-approve')).toEqual(['ps', '-auto-approve']);
    expect(rewrite('plan', '-or-create')).toEqual(['plan', '-or-create']);
    expect(rewrite('pod', 'create', '--label', '-force')).toEqual(['pod', 'create', '--label', '-force']);
    expect(rewrite('apply', '--', '-auto-approve')).toEqual(['apply', '--', '-auto-approve']);
    // Words after the image of `container create` belong to the container's command.
    expect(rewrite('container', 'create', 'busybox', 'sh', '-name')).toEqual([
      'container',
      'create',
      'busybox',
      'sh',
      '-name',
    ]);
    expect(rewrite('container', 'create', '-name', 'x', 'busybox')).toEqual([
      'container',
      'create',
      '--name',
      'x',
      'busybox',
    ]);
  });
});
