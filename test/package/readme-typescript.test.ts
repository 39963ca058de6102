import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSecretsKey } from '../../src/index.js';
import { jsonSchemaText, SHIPPED_SCHEMAS } from '../../src/schemas/json-schemas.js';
import { newestMtime } from '../cli/helpers.js';
import { auditPublishedDocs } from './published-docs.js';

/*
 * The published surface, as a strict TypeScript consumer meets it (issue 15): the
 * package is packed (`npm pack`, from the build in dist/) and installed into a fresh
 * project with `--ignore-scripts` (better-sqlite3's native module is copied from this
 * repository's build, so nothing compiles). Every ```ts block of the README is compiled
 * in ONE `tsc --strict` run — no skipLibCheck, and no @types/better-sqlite3 or @types/pg
 * in the project, so a driver type leaking into berth's declarations fails it — and then
 * each block runs in a working directory of its own (the quick start's `./state/…`
 * paths land there), with BERTH_SECRETS_KEY set. A block fenced as ```ts compile-only
 * (one that needs a PostgreSQL server) is compiled but not run.
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const README = join(REPO, 'README.md');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

interface Block {
  /** `block-03`: its file name in the consumer project. */
  name: string;
  /** The README line of its first code line. */
  line: number;
  code: string;
  run: boolean;
}

/** Every ```ts block of the README, in order. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(README, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```ts(?:\s+(.*))?$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README.md:${i + 1}: a \`\`\`ts block is not closed`);
    const name = `block-${String(blocks.length + 1).padStart(2, '0')}`;
    blocks.push({ name, line: i + 2, code: lines.slice(i + 1, end).join('\n'), run: open[1] !== 'compile-only' });
    i = end;
  }
  return blocks;
}

const blocks = readmeBlocks();
let project: string;
let tscOutput = '';
let tscFailed = false;
let keep = false;

describe('the packed package, as a strict TypeScript consumer uses it', () => {
  beforeAll(async () => {
    if (!existsSync(join(REPO, 'dist', 'index.d.ts'))) {
      throw new Error('the package test packs dist/: run `npm run build` first (`npm install` builds it too)');
    }
    if (newestMtime(join(REPO, 'src')) > newestMtime(join(REPO, 'dist'))) {
      console.warn('berth package test: src/ is newer than dist/; run `npm run build` to test the current code');
    }
    project = mkdtempSync(join(tmpdir(), 'berth-consumer-'));
    // Packs the build as it is: `npm pack` would otherwise rebuild dist/ under the feet
    // of the CLI tests running beside this one.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], {
      cwd: REPO,
    });
    const tarball = join(project, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    const repoPackage = (name: string) =>
      JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'berth-consumer',
        private: true,
        type: 'module',
        // The native module copied below must be the version it was built for.
        overrides: { 'better-sqlite3': repoPackage('better-sqlite3').version },
      }),
    );
    await run(
      'npm',
      [
        'install',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--no-package-lock',
        '--loglevel=error',
        tarball,
        `@types/node@${repoPackage('@types/node').version}`,
      ],
      { cwd: project },
    );
    const release = join(project, 'node_modules', 'better-sqlite3', 'build', 'Release');
    mkdirSync(release, { recursive: true });
    copyFileSync(
      join(REPO, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'),
      join(release, 'better_sqlite3.node'),
    );

    mkdirSync(join(project, 'blocks'));
    for (const b of blocks) writeFileSync(join(project, 'blocks', `${b.name}.ts`), `${b.code}\nexport {};\n`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          types: ['node'],
          rootDir: 'blocks',
          outDir: 'out',
        },
        include: ['blocks'],
      }),
    );
    try {
      await run(process.execPath, [TSC, '-p', project], { cwd: project });
    } catch (err) {
      tscFailed = true;
      tscOutput = String((err as { stdout?: string }).stdout ?? err);
    }
  }, 120_000);

  // The consumer project stays as evidence when anything failed.
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') keep = true;
  });
  afterAll(() => {
    if (project && !keep) rmSync(project, { recursive: true, force: true });
  });

  it('the README has ```ts blocks, the quick start and transactions among them', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks.map((b) => b.code).join('\n')).toMatch(/store\.transaction\(/);
  });

  it('the consumer project has no driver types: berth declarations must not need them', () => {
    for (const types of ['better-sqlite3', 'pg']) {
      expect(existsSync(join(project, 'node_modules', '@types', types)), `@types/${types}`).toBe(false);
    }
  });

  it('every ```ts block of the README compiles in one tsc --strict run, without skipLibCheck', () => {
    // tsc reports `blocks/block-NN.ts(line,col)`: name the README line instead.
    const located = tscOutput.replace(/blocks\/(block-\d+)\.ts\((\d+),(\d+)\)/g, (_m, name: string, l: string, c) => {
      const block = blocks.find((b) => b.name === name)!;
      return `README.md:${block.line + Number(l) - 1}:${String(c)}`;
    });
    expect(tscFailed, located).toBe(false);
  });

  it.concurrent.each(blocks.filter((b) => b.run).map((b) => [`README.md:${b.line}`, b] as const))(
    'the block at %s runs in a working directory of its own',
    async (_where, block) => {
      const script = join(project, 'out', `${block.name}.js`);
      expect(existsSync(script), 'tsc emitted no JavaScript for the block').toBe(true);
      const cwd = join(project, 'run', block.name);
      mkdirSync(cwd, { recursive: true });
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, NO_COLOR: '1', HOME: cwd };
      env.XDG_DATA_HOME = join(cwd, 'xdg');
      env.BERTH_SECRETS_KEY = generateSecretsKey();
      const result = await run(process.execPath, [script], {
        cwd,
        env,
        timeout: 30_000,
      }).catch((err: { code?: number; stdout?: string; stderr?: string }) => err);
      expect((result as { code?: number }).code ?? 0, `${result.stdout ?? ''}\n${result.stderr ?? ''}`).toBe(0);
    },
  );

  it('the shipped JSON Schema files are the schemas berth checks with', () => {
    const shipped = join(project, 'node_modules', 'berth', 'dist', 'schemas');
    for (const [file, schema] of Object.entries(SHIPPED_SCHEMAS)) {
      const path = join(shipped, file);
      expect(existsSync(path), `${file} is not in the package: is dist/ built?`).toBe(true);
      expect(readFileSync(path, 'utf8'), `${file} differs from src/schemas: run \`npm run build\``).toBe(
        jsonSchemaText(schema),
      );
    }
    // Resolvable by package name, as documented.
    const exportsMap = (
      JSON.parse(readFileSync(join(project, 'node_modules', 'berth', 'package.json'), 'utf8')) as {
        exports: Record<string, unknown>;
      }
    ).exports;
    expect(Object.keys(exportsMap)).toEqual(
      expect.arrayContaining(Object.keys(SHIPPED_SCHEMAS).map((f) => `./schemas/${f}`)),
    );
  });

  it('the shipped declarations document every public method and function with @throws', () => {
    const { checked, gaps } = auditPublishedDocs(join(project, 'node_modules', 'berth', 'dist', 'index.d.ts'));
    expect(checked).toEqual(expect.arrayContaining(['Store.hasContainer', 'Events.append', 'openStore']));
    expect(gaps).toEqual([]);
  });
});
