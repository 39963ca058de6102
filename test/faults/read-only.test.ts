import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { openStore } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { requireBuiltCli, show } from '../cli/helpers.js';
import { expectFailure, fingerprint } from '../reliability/helpers.js';
import { IS_ROOT, NOBODY, integrity, jsonError, mountTmpfs, openFolder, runAs, scratch, timed } from './helpers.js';

/*
 * Read-only disks and paths this user may not write (DESIGN.md §8): STORE_UNAVAILABLE
 * naming the file system or the path at fault and what to do — never "check free disk
 * space", never "open it without readonly" for a handle that was not opened read-only,
 * never a healthy doctor report. Permission cases run the CLI as `nobody`, since root
 * passes every permission check.
 */

requireBuiltCli();

const container = (name: string) => ({
  config: { id: hexId(), name, image: 'busybox' },
  state: { status: 'configured' as const },
});

describe.concurrent('a read-only file system', () => {
  it('at first open of a new store: STORE_UNAVAILABLE within 2 s naming it, nothing created', async (t) => {
    const fs = mountTmpfs(t, { readonly: true });
    const run = await timed(() => openStore({ path: join(fs.dir, 'store', 'berth.db') }));
    expect(run.ms).toBeLessThan(2_000);
    const err = await expectFailure(
      Promise.reject(run.error),
      'STORE_UNAVAILABLE',
      /read-only file system; remount it/,
    );
    expect(err.message).toContain(fs.dir);
    expect(err.message).not.toMatch(/disk space|without readonly/);
    expect(readdirSync(fs.dir)).toEqual([]);
  });

  it('at first open of an existing store: STORE_UNAVAILABLE, the file untouched, and it opens once writable', async (t) => {
    const fs = mountTmpfs(t);
    const path = join(fs.dir, 'berth.db');
    const first = await openStore({ path });
    await first.addContainer(container('kept'));
    await first.close();
    const before = fingerprint(path);
    expect(fs.remount('ro')).toBe(true);
    for (const readonly of [false, true]) {
      const err = await expectFailure(openStore({ path, readonly }), 'STORE_UNAVAILABLE', /read-only file system/);
      expect(err.message).toContain(path);
      expect(err.message).not.toMatch(/disk space|without readonly/);
    }
    expect(fingerprint(path)).toEqual(before);
    expect(fs.remount('rw')).toBe(true);
    const store = await openStore({ path });
    try {
      expect((await store.allContainers()).map((c) => c.config.name)).toEqual(['kept']);
    } finally {
      await store.close();
    }
  });

  it('remounted read-only under a running process: writes are STORE_UNAVAILABLE, the same handle goes on once writable', async (t) => {
    const fs = mountTmpfs(t);
    const path = join(fs.dir, 'berth.db');
    const store = await openStore({ path });
    t.onTestFinished(() => store.close());
    await store.addContainer(container('before'));
    // Linux refuses to remount a file system read-only while files on it are open for writing.
    t.skip(!fs.remount('ro'), 'the kernel refuses to remount read-only while the store is open (EBUSY)');
    await expectFailure(store.addContainer(container('during')), 'STORE_UNAVAILABLE', /read-only file system/);
    expect((await store.allContainers()).map((c) => c.config.name)).toEqual(['before']);
    expect(fs.remount('rw')).toBe(true);
    await store.addContainer(container('after'));
    expect((await store.allContainers()).map((c) => c.config.name).sort()).toEqual(['after', 'before']);
    expect(integrity(path)).toEqual(['ok']);
  });

  it('a backup into it: STORE_UNAVAILABLE naming the target, and the store goes on', async (t) => {
    const target = mountTmpfs(t, { readonly: true });
    const store = await openStore({ path: join(scratch(t), 'berth.db') });
    t.onTestFinished(() => store.close());
    await store.addContainer(container('c'));
    const file = join(target.dir, 'b.db');
    const err = await expectFailure(store.backup(file), 'STORE_UNAVAILABLE', /read-only file system/);
    expect(err.message).toMatch(new RegExp(`^backup ${file}`));
    expect(err.message).not.toContain(store.location);
    await store.addContainer(container('d'));
  });
});

describe.concurrent('paths this user may not write (CLI as nobody)', () => {
  /** A folder only root may write (0755, owned by root). */
  function rootOnlyFolder(t: TestContext): string {
    const dir = join(openFolder(t), 'root-only');
    mkdirSync(dir, { mode: 0o755 });
    return dir;
  }

  /** A folder of nobody's own (0700). */
  function nobodysFolder(t: TestContext): string {
    const dir = join(openFolder(t), 'mine');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, NOBODY, NOBODY);
    return dir;
  }

  it('an unwritable store folder: STORE_UNAVAILABLE naming the folder, for a new store and an existing one', async (t) => {
    t.skip(!IS_ROOT, 'needs root to run berth as another user');
    const dir = rootOnlyFolder(t);
    const fresh = await runAs(t, ['--store', join(dir, 'new.db'), '--format', 'json', 'init'], { cwd: '/' });
    expect(fresh.code, show(fresh)).toBe(1);
    let err = jsonError(fresh);
    expect(err.code).toBe('STORE_UNAVAILABLE');
    expect(err.message).toContain(`permission denied on ${dir} (mode 0755, owner uid 0) for uid ${NOBODY}`);
    expect(existsSync(join(dir, 'new.db'))).toBe(false);

    // The file itself is writable, but SQLite's -wal and -shm could not be created beside it.
    const path = join(dir, 'berth.db');
    await (await openStore({ path })).close();
    chownSync(path, NOBODY, NOBODY);
    const existing = await runAs(t, ['--store', path, '--format', 'json', 'ps', '-a'], { cwd: '/' });
    expect(existing.code, show(existing)).toBe(1);
    err = jsonError(existing);
    expect(err.code).toBe('STORE_UNAVAILABLE');
    expect(err.message).toContain(`permission denied on ${dir}`);
    expect(err.message).toMatch(/-wal and -shm/);
  });

  it('a 0400 store file: STORE_UNAVAILABLE naming its mode (not "open it without readonly"); doctor is not healthy', async (t) => {
    t.skip(!IS_ROOT, 'needs root to run berth as another user');
    const path = join(nobodysFolder(t), 'berth.db');
    const store = await openStore({ path });
    await store.addContainer(container('c'));
    await store.close();
    chownSync(path, NOBODY, NOBODY);
    chmodSync(path, 0o400);
    for (const args of [['ps', '-a'], ['doctor'], ['container', 'create', 'busybox']]) {
      const r = await runAs(t, ['--store', path, '--format', 'json', ...args], { cwd: '/' });
      expect(r.code, show(r)).toBe(1);
      const err = jsonError(r);
      expect(err.code, show(r)).toBe('STORE_UNAVAILABLE');
      expect(err.message).toContain(`permission denied on ${path} (mode 0400, owner uid ${NOBODY})`);
      expect(err.message).not.toMatch(/without readonly|disk space/);
    }
  });

  it('a backup into a folder nobody may write, or below a file: STORE_UNAVAILABLE naming the target', async (t) => {
    t.skip(!IS_ROOT, 'needs root to run berth as another user');
    const mine = nobodysFolder(t);
    const store = join(mine, 'berth.db');
    const env = { BERTH_STORE: store };
    expect((await runAs(t, ['init'], { cwd: '/', env })).code).toBe(0);
    const dir = rootOnlyFolder(t);
    const denied = await runAs(t, ['--format', 'json', 'backup', join(dir, 'b.db')], { cwd: '/', env });
    expect(jsonError(denied)).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(jsonError(denied).message).toMatch(new RegExp(`^backup ${join(dir, 'b.db')}: permission denied on ${dir}`));
    writeFileSync(join(mine, 'notes.txt'), 'a file\n');
    const below = await runAs(t, ['--format', 'json', 'backup', join(mine, 'notes.txt', 'b.db')], { cwd: '/', env });
    expect(jsonError(below)).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(jsonError(below).message).toContain(`${join(mine, 'notes.txt')} is a file, not a folder`);
  });
});
