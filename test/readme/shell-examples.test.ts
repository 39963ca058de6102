import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT, requireBuiltCli } from '../cli/helpers.js';

requireBuiltCli();

/*
 * The README's shell examples run as written: every ```sh block whose first line is
 * `# exit N` runs, in README order, in one temp folder, with the built CLI as `berth` on
 * the PATH, and must exit N. A ```yaml block whose first line is `# FILE` is written to
 * FILE in that folder first (the manifest the examples use).
 */

interface Block {
  lang: string;
  line: number;
  body: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\w*)[^\n]*\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    out.push({ lang: m[1]!, line: markdown.slice(0, m.index).split('\n').length, body: m[2]! });
  }
  return out;
}

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const all = blocks(README);
const files = all.filter((b) => b.lang === 'yaml' && /^# [\w.-]+\.ya?ml\n/.test(b.body));
const runnable = all.filter((b) => b.lang === 'sh' && /^# exit \d+\n/.test(b.body));

describe('README shell examples', () => {
  it('marks at least the walkthrough, plan and apply, and backups blocks as runnable', () => {
    const text = runnable.map((b) => b.body).join('\n');
    expect(text).toMatch(/berth workspace new staging/);
    expect(text).toMatch(/berth apply plan\.json/);
    expect(text).toMatch(/berth destroy --auto-approve/);
    expect(text).toMatch(/berth backup /);
    expect(text, 'serve, --follow and npm test are not run').not.toMatch(/berth serve|--follow|npm test/);
    expect(files.map((b) => b.body.split('\n')[0])).toContain('# shop.yaml');
  });

  it('every runnable block exits as its first line says, in order, in one folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-readme-'));
    try {
      const bin = join(dir, 'bin');
      const work = join(dir, 'work');
      mkdirSync(bin);
      mkdirSync(work);
      const shim = join(bin, 'berth');
      writeFileSync(shim, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
      chmodSync(shim, 0o755);
      for (const f of files) writeFileSync(join(work, f.body.split('\n')[0]!.slice(2)), f.body);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        BERTH_STORE: join(work, 'demo.db'),
        XDG_DATA_HOME: join(dir, 'xdg'),
        NO_COLOR: '1',
      };
      for (const name of ['BERTH_WORKSPACE', 'BERTH_DEBUG', 'BERTH_SECRETS_KEY', 'BERTH_SECRETS_KEY_FILE']) {
        delete env[name];
      }
      for (const b of runnable) {
        const expected = Number(/^# exit (\d+)/.exec(b.body)![1]);
        const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', b.body], { cwd: work, env, encoding: 'utf8' });
        expect(
          r.status,
          `README.md:${b.line}: the block exited ${r.status}, not ${expected}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`,
        ).toBe(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
