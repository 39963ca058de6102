import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore, type ErrorCode } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { cliWorld, requireBuiltCli, show, type CliWorld, type RunResult } from '../cli/helpers.js';
import { pgUrl } from '../helpers/store-factory.js';
import { freshSchema, schemaExists } from '../postgres/helpers.js';
import { expectFailure } from '../reliability/helpers.js';
import { scratch, timed } from './helpers.js';

/*
 * Paths berth cannot use (DESIGN.md §2, §8): each is a typed error naming the path at
 * fault, within 2 s — never a hang (a recursive mkdir under /proc loops forever), never
 * INTERNAL — and creates nothing. A store reached through a symbolic link shares the
 * process's one connection with the store's own name.
 */

requireBuiltCli();

/** A bad store path, made in `dir`; `culprit` is what the message must name. */
interface BadPath {
  name: string;
  make(dir: string): { path: string; culprit: string };
  code: ErrorCode;
  message: RegExp;
}

const badPaths: BadPath[] = [
  {
    name: 'a path under /proc (the file system refuses new folders)',
    make: () => ({ path: '/proc/berth/x.db', culprit: '/proc/berth' }),
    code: 'STORE_UNAVAILABLE',
    message: /cannot be created there/,
  },
  {
    name: 'a dangling symbolic link',
    make(dir) {
      const path = join(dir, 'berth.db');
      symlinkSync(join(dir, 'gone', 'real.db'), path);
      return { path, culprit: join(dir, 'gone', 'real.db') };
    },
    code: 'STORE_UNAVAILABLE',
    message: /symbolic link to .*which does not exist; restore .*or remove the link/,
  },
  {
    name: 'a path below a regular file',
    make(dir) {
      writeFileSync(join(dir, 'notes.txt'), 'a file, not a folder\n');
      return { path: join(dir, 'notes.txt', 'berth.db'), culprit: join(dir, 'notes.txt') };
    },
    code: 'STORE_UNAVAILABLE',
    message: /is a file, not a folder/,
  },
  {
    name: 'a path two folders below a regular file',
    make(dir) {
      writeFileSync(join(dir, 'notes.txt'), 'a file, not a folder\n');
      return { path: join(dir, 'notes.txt', 'a', 'b', 'berth.db'), culprit: join(dir, 'notes.txt') };
    },
    code: 'STORE_UNAVAILABLE',
    message: /is a file, not a folder/,
  },
  {
    name: 'a folder as the store',
    make(dir) {
      mkdirSync(join(dir, 'berth.db'));
      return { path: join(dir, 'berth.db'), culprit: join(dir, 'berth.db') };
    },
    code: 'STORE_UNAVAILABLE',
    message: /is a folder, not a store file; name a file inside it/,
  },
  {
    name: 'a loop of symbolic links',
    make(dir) {
      symlinkSync(join(dir, 'b.db'), join(dir, 'a.db'));
      symlinkSync(join(dir, 'a.db'), join(dir, 'b.db'));
      return { path: join(dir, 'a.db'), culprit: join(dir, 'a.db') };
    },
    code: 'STORE_UNAVAILABLE',
    message: /loop of symbolic links/,
  },
  {
    name: 'a character device (/dev/null)',
    make: () => ({ path: '/dev/null', culprit: '/dev/null' }),
    code: 'STORE_UNAVAILABLE',
    message: /not a regular file/,
  },
];

/** Everything under `dir`, to show that a refused open created nothing. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe.concurrent('library: unusable store paths are typed errors within 2 s, creating nothing', () => {
  for (const bad of badPaths) {
    it(`${bad.name}: ${bad.code}`, async (t) => {
      const dir = scratch(t);
      const { path, culprit } = bad.make(dir);
      const before = tree(dir);
      const run = await timed(() => openStore({ path }));
      expect(run.ms, 'fails fast').toBeLessThan(2_000);
      const err = await expectFailure(Promise.reject(run.error), bad.code, bad.message);
      expect(err.message).toContain(culprit);
      expect(tree(dir)).toEqual(before);
    });
  }
});

const CPU_REPORT = fileURLToPath(new URL('./cpu-report.cjs', import.meta.url));

/**
 * Runs `berth` and returns the CPU time it used; kills it after 20 s, so that a hang (a
 * recursive mkdir under /proc spun at 100% CPU forever) fails the test, not the suite.
 */
async function runWithin(w: CliWorld, args: string[]): Promise<{ cpuMs: number; r: RunResult }> {
  const cpuFile = join(w.dir, `cpu-${Math.random().toString(36).slice(2)}`);
  const child = w.start(args, { env: { NODE_OPTIONS: `--require ${CPU_REPORT}`, BERTH_TEST_CPU_FILE: cpuFile } });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const r = await child.done.finally(() => clearTimeout(timer));
  expect(r.signal, 'berth hung and was killed after 20 s').toBeNull();
  return { cpuMs: Number(readFileSync(cpuFile, 'utf8')), r };
}

describe.concurrent('CLI: unusable store paths', () => {
  for (const bad of badPaths) {
    it(`${bad.name}: exit 1 within 2 s, ${bad.code}, the culprit named`, async (t) => {
      const w = cliWorld(t);
      const { path, culprit } = bad.make(w.dir);
      // `init` creates the store (read-only commands such as `ps` create nothing: NO_SUCH_STORE).
      const { cpuMs, r } = await runWithin(w, ['--store', path, '--format', 'json', 'init']);
      expect(r.code, show(r)).toBe(1);
      // CPU time, start-up included: wall-clock time on a machine busy with other suites
      // measures the machine, not berth.
      expect(cpuMs, 'fails fast').toBeLessThan(2_000);
      const { error } = JSON.parse(r.stderr) as { error: { code: string; message: string } };
      expect(error.code).toBe(bad.code);
      expect(error.message).toContain(culprit);
      expect(error.message).toMatch(bad.message);
    });
  }
});

describe('a store reached through a symbolic link', () => {
  it('shares the connection of its real name: concurrent writes through both neither block nor fail', async (t) => {
    const dir = scratch(t);
    const real = join(dir, 'real', 'berth.db');
    const link = join(dir, 'link.db');
    const a = await openStore({ path: real, busyTimeoutMs: 1_500 });
    symlinkSync(real, link);
    const b = await openStore({ path: link, busyTimeoutMs: 1_500 });
    try {
      // Two connections in one process would each wait (blocking the event loop) for
      // the other's write lock until the busy timeout, then fail with STORE_BUSY.
      const run = await timed(() =>
        Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? a : b).addContainer({
              config: { id: hexId(), name: `c${i}`, image: 'busybox' },
              state: { status: 'configured' },
            }),
          ),
        ),
      );
      expect(run.error).toBeUndefined();
      expect(run.ms).toBeLessThan(2_000);
      expect(await a.allContainers()).toHaveLength(40);
      expect(await b.allContainers()).toHaveLength(40);
      // One handle's close leaves the other working.
      await a.close();
      expect(await b.hasContainer((await b.lookupContainer('c1')).config.id)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.concurrent(
  'library: a missing store with readonly or create: false is NO_SUCH_STORE, creating nothing',
  () => {
    const cases = [
      { name: 'readonly: true', opts: { readonly: true } },
      { name: 'create: false', opts: { create: false } },
      { name: 'readonly: true, create: false', opts: { readonly: true, create: false } },
    ];
    for (const c of cases) {
      it(`${c.name}: a missing file in a missing folder`, async (t) => {
        const dir = scratch(t);
        const path = join(dir, 'not', 'there', 'berth.db');
        const err = await expectFailure(openStore({ path, ...c.opts }), 'NO_SUCH_STORE', /does not exist/);
        expect(err.message).toContain(path);
        expect(existsSync(join(dir, 'not'))).toBe(false);
      });

      it(`${c.name}: an empty file (no berth store in it yet) stays empty`, async (t) => {
        const dir = scratch(t);
        const path = join(dir, 'berth.db');
        writeFileSync(path, '');
        await expectFailure(openStore({ path, ...c.opts }), 'NO_SUCH_STORE', /berth init/);
        expect(statSync(path).size).toBe(0);
        expect(tree(dir)).toEqual(['berth.db']);
      });

      it(`${c.name}: a dangling symbolic link`, async (t) => {
        const dir = scratch(t);
        const path = join(dir, 'berth.db');
        symlinkSync(join(dir, 'real.db'), path);
        await expectFailure(openStore({ path, ...c.opts }), 'NO_SUCH_STORE', /symbolic link/);
        expect(tree(dir)).toEqual(['berth.db']);
      });
    }

    it('create: false opens (and reads and writes) a store that exists', async (t) => {
      const path = join(scratch(t), 'berth.db');
      await (await openStore({ path })).close();
      const store = await openStore({ path, create: false });
      try {
        await store.addVolume({ config: { name: 'data' }, state: {} });
        expect(await store.hasVolume('data')).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('create must be a boolean', async (t) => {
      const path = join(scratch(t), 'berth.db');
      await expectFailure(openStore({ path, create: 'no' as unknown as boolean }), 'INVALID_ARGUMENT');
    });
  },
);

describe.skipIf(!pgUrl).concurrent('PostgreSQL: a schema with no berth store', () => {
  for (const opts of [{ readonly: true }, { create: false }]) {
    it(`${JSON.stringify(opts)}: NO_SUCH_STORE, and no schema is created`, async (t) => {
      const schema = freshSchema(pgUrl!, 'tf');
      const err = await expectFailure(openStore({ url: pgUrl!, schema, ...opts }), 'NO_SUCH_STORE');
      expect(err.message).toContain(schema);
      expect(err.message).not.toMatch(/:[^:@/]+@/); // no password
      expect(await schemaExists(pgUrl!, schema)).toBe(false);
    });
  }
});
