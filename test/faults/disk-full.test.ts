import { copyFileSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { loadManifest, openStore, restoreStore, type Store } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { cliWorld, requireBuiltCli, show } from '../cli/helpers.js';
import { expectFailure, populate, readContent, withRawDb } from '../reliability/helpers.js';
import { exhaustInodes, integrity, mountTmpfs, scratch, timed, type Tmpfs } from './helpers.js';

/*
 * A full disk, by bytes or by inodes (DESIGN.md §8, §9): every write it stops is
 * STORE_UNAVAILABLE naming the file system at fault, never INTERNAL or STORE_BUSY;
 * nothing acknowledged is lost; once space is freed the store is intact and the same
 * handle goes on. Each case owns a tiny tmpfs, unmounted when it ends.
 */

requireBuiltCli();

/** A container with a config of about `kib` KiB, so a few of them fill a tiny disk. */
function bulky(name: string, kib = 16) {
  return {
    config: { id: hexId(), name, image: 'busybox', env: { FILL: 'x'.repeat(kib * 1024) } },
    state: { status: 'configured' as const },
  };
}

/** Opens a store on the tmpfs, closed when the test ends. */
async function storeOn(t: TestContext, fs: Tmpfs, name = 'store/berth.db'): Promise<Store> {
  const store = await openStore({ path: join(fs.dir, name) });
  t.onTestFinished(() => store.close());
  return store;
}

/**
 * Asserts the full-disk answer: STORE_UNAVAILABLE that names the file system at fault
 * (and whether bytes or inodes ran out, unless SQLite gave the room back before it could
 * be looked at, as its backup does).
 */
async function expectFull(run: Promise<unknown> | (() => Promise<unknown>), where: string): Promise<void> {
  const err = await expectFailure(
    run,
    'STORE_UNAVAILABLE',
    /is full \((no space left|no inodes left|no space or no inodes left)/,
  );
  expect(err.message).toContain(where);
  expect(err.message).toMatch(/free space there/);
}

describe.concurrent('a disk full by bytes', () => {
  it('refuses writes with STORE_UNAVAILABLE, loses nothing acknowledged, and the same handle goes on once space is freed', async (t) => {
    const fs = mountTmpfs(t, { sizeKiB: 2048 });
    const store = await storeOn(t, fs);
    const acknowledged: string[] = [];
    for (let i = 0; i < 5; i++) acknowledged.push((await store.addContainer(bulky(`before-${i}`))).config.name);
    const ballast = fs.fill();
    // The WAL may still have room from earlier frames: write until the disk says no.
    let refused: unknown;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      try {
        acknowledged.push((await store.addContainer(bulky(`during-${i}`))).config.name);
      } catch (err) {
        refused = err;
      }
    }
    await expectFull(Promise.reject(refused), join(fs.dir, 'store'));
    // Other kinds of writes get the same answer; reads go on.
    await expectFull(store.workspaces.writeState('default', { big: 'y'.repeat(256 * 1024) }), join(fs.dir, 'store'));
    expect((await store.allContainers()).map((c) => c.config.name).sort()).toEqual([...acknowledged].sort());

    rmSync(ballast);
    expect(integrity(store.location)).toEqual(['ok']);
    acknowledged.push((await store.addContainer(bulky('after'))).config.name);
    await store.workspaces.writeState('default', { after: true });
    expect((await store.allContainers()).map((c) => c.config.name).sort()).toEqual([...acknowledged].sort());
    const other = await openStore({ path: store.location });
    try {
      expect(await other.allContainers()).toHaveLength(acknowledged.length);
      expect((await other.workspaces.readState('default')).state).toEqual({ after: true });
    } finally {
      await other.close();
    }
  });

  it('an apply that does not fit changes nothing, releases its lock, and applies once space is freed', async (t) => {
    const fs = mountTmpfs(t, { sizeKiB: 2048 });
    const store = await storeOn(t, fs);
    await store.addContainer(bulky('bystander'));
    const containers = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [
        `app-${i}`,
        { image: 'shop/app:2.3', env: { BLOB: 'z'.repeat(8 * 1024) } },
      ]),
    );
    const manifest = loadManifest(JSON.stringify({ version: 1, containers }) + '\n');
    const plan = await store.plan('default', manifest);
    // Room for the lock and a few small writes, not for the apply (about 1 MB of rows and state).
    const ballast = fs.fill(160);

    await expectFull(store.apply(plan), join(fs.dir, 'store'));
    expect(await store.workspaces.readState('default')).toMatchObject({ serial: 0 });
    expect((await store.allContainers()).map((c) => c.config.name)).toEqual(['bystander']);
    expect(await store.locks.list(), 'the failed apply released the workspace lock').toEqual([]);

    rmSync(ballast);
    expect(integrity(store.location)).toEqual(['ok']);
    const result = await store.apply(await store.plan('default', manifest));
    expect(result).toMatchObject({ serial: 1 });
    expect(await store.allContainers()).toHaveLength(61);
  });

  it('a backup into a full file system names the target, leaves no partial file, and the store goes on', async (t) => {
    const target = mountTmpfs(t, { sizeKiB: 256 });
    const store = await openStore({ path: join(scratch(t), 'berth.db') });
    t.onTestFinished(() => store.close());
    for (let i = 0; i < 30; i++) await store.addContainer(bulky(`c${i}`));
    const file = join(target.dir, 'backups', 'b.db');
    await expectFull(store.backup(file), join(target.dir, 'backups'));
    const err = await expectFailure(store.backup(join(target.dir, 'b2.db')), 'STORE_UNAVAILABLE');
    expect(err.message, 'names the backup, not the store').toMatch(/^backup /);
    expect(err.message).not.toContain(store.location);
    expect(readdirSync(target.dir).filter((f) => f.endsWith('.db') || f.includes('.db-'))).toEqual([]);
    expect(existsSync(file)).toBe(false);
    await store.addContainer(bulky('after'));
    expect(await store.allContainers()).toHaveLength(31);
    expect(integrity(store.location)).toEqual(['ok']);
  });

  it('a restore whose kept copy does not fit changes nothing and leaves no copy behind, retry after retry', async (t) => {
    const fs = mountTmpfs(t, { sizeKiB: 4096 });
    const store = await storeOn(t, fs);
    const made = await populate(store);
    for (let i = 0; i < 20; i++) await store.addContainer(bulky(`c${i}`));
    const backup = join(scratch(t), 'backup.db');
    await store.backup(backup);
    await store.addContainer(bulky('after-backup'));
    const before = await readContent(store, made.exitCodeIds);
    const ballast = fs.fill();
    for (let attempt = 0; attempt < 3; attempt++) {
      await expectFull(restoreStore(store, backup), join(fs.dir, 'store'));
      expect(readdirSync(join(fs.dir, 'store')).filter((f) => f.includes('before-restore'))).toEqual([]);
    }
    expect(await readContent(store, made.exitCodeIds)).toEqual(before);
    rmSync(ballast);
    expect(integrity(store.location)).toEqual(['ok']);
    const { keptAs } = await restoreStore(store, backup);
    expect(existsSync(keptAs)).toBe(true);
    expect((await store.allContainers()).map((c) => c.config.name)).not.toContain('after-backup');
  });

  it('a restore whose rows do not fit (the kept copy did) removes its kept copy and changes nothing', async (t) => {
    const fs = mountTmpfs(t, { sizeKiB: 16384 });
    let store = await storeOn(t, fs);
    const backup = join(scratch(t), 'backup.db');
    for (let i = 0; i < 60; i++) await store.addContainer(bulky(`c${i}`));
    await store.backup(backup);
    for (let i = 0; i < 60; i++) await store.removeContainer(await store.lookupContainer(`c${i}`));
    await store.addContainer(bulky('current'));
    // Closed and opened again, the store starts with an empty WAL: the restore's rows need new room.
    await store.close();
    store = await storeOn(t, fs);
    // Room for the kept copy of the (small) current store, not for the backup's rows.
    const size = statSync(store.location).size + statSync(store.location + '-wal').size;
    const ballast = fs.fill(Math.ceil(size / 1024) + 96);
    await expectFull(restoreStore(store, backup), join(fs.dir, 'store'));
    expect(readdirSync(join(fs.dir, 'store')).filter((f) => f.includes('before-restore'))).toEqual([]);
    expect((await store.allContainers()).map((c) => c.config.name)).toEqual(['current']);
    rmSync(ballast);
    expect(integrity(store.location)).toEqual(['ok']);
    await restoreStore(store, backup);
    expect(await store.allContainers()).toHaveLength(60);
  });
});

describe.concurrent('a disk out of inodes', () => {
  it('a new store: STORE_UNAVAILABLE within 2 s naming the folder, and a store once inodes are freed', async (t) => {
    const fs = mountTmpfs(t, { inodes: 16 });
    const fillers = exhaustInodes(fs.dir);
    const path = join(fs.dir, 'store', 'berth.db');
    const run = await timed(() => openStore({ path }));
    expect(run.ms).toBeLessThan(2_000);
    const err = await expectFailure(Promise.reject(run.error), 'STORE_UNAVAILABLE', /is full \(no inodes left/);
    expect(err.message).toContain(join(fs.dir, 'store'));
    for (const f of fillers.slice(0, 6)) rmSync(f);
    const store = await openStore({ path });
    await store.addContainer(bulky('first', 1));
    await store.close();
    expect(integrity(path)).toEqual(['ok']);
  });

  it('an existing store that needs its -wal and -shm: STORE_UNAVAILABLE, untouched', async (t) => {
    const fs = mountTmpfs(t, { inodes: 16 });
    const path = join(fs.dir, 'berth.db');
    const first = await openStore({ path });
    await first.addContainer(bulky('kept', 1));
    await first.close();
    const fillers = exhaustInodes(fs.dir);
    await expectFailure(openStore({ path }), 'STORE_UNAVAILABLE', /no inodes left/);
    for (const f of fillers.slice(0, 4)) rmSync(f);
    const store = await openStore({ path });
    try {
      expect((await store.allContainers()).map((c) => c.config.name)).toEqual(['kept']);
    } finally {
      await store.close();
    }
  });

  it('the migration lock: fails at once (no 40 s wait for a lock nobody holds), leaves no lock folder', async (t) => {
    const fs = mountTmpfs(t, { inodes: 16 });
    const path = join(fs.dir, 'berth.db');
    // A store one migration behind (003 undone), so opening it must take the migration lock.
    const old = join(scratch(t), 'old.db');
    await (await openStore({ path: old })).close();
    withRawDb(old, (db) => db.exec('DROP TABLE secret_keys; DELETE FROM berth_migrations WHERE version = 3'));
    copyFileSync(old, path);
    const fillers = exhaustInodes(fs.dir);
    // Room for SQLite's -wal and -shm (reading needs them), none for the lock folder.
    for (const f of fillers.slice(0, 2)) rmSync(f);
    const run = await timed(() => openStore({ path }));
    expect(run.ms, 'no retrying: nobody holds the lock').toBeLessThan(2_000);
    const err = await expectFailure(Promise.reject(run.error), 'STORE_UNAVAILABLE', /no inodes left/);
    expect(err.message).toMatch(/^the migration lock of store /);
    expect(err.message).not.toMatch(/too long|stale/);
    expect(existsSync(`${path}.migrate.lock`)).toBe(false);
    for (const f of fillers.slice(2, 6)) rmSync(f);
    const store = await openStore({ path });
    try {
      expect(store.migration.applied).toEqual(['3-secrets']);
    } finally {
      await store.close();
    }
  });

  it('a backup into a file system out of inodes names the target', async (t) => {
    const target = mountTmpfs(t, { inodes: 8 });
    exhaustInodes(target.dir);
    const store = await openStore({ path: join(scratch(t), 'berth.db') });
    t.onTestFinished(() => store.close());
    await store.addContainer(bulky('c', 1));
    const err = await expectFailure(store.backup(join(target.dir, 'b.db')), 'STORE_UNAVAILABLE', /no inodes left/);
    expect(err.message).toMatch(new RegExp(`^backup ${join(target.dir, 'b.db')}`));
    await store.addContainer(bulky('d', 1));
  });
});

describe.concurrent('CLI: a full disk', () => {
  it('berth restore with a full temporary folder: exit 1, STORE_UNAVAILABLE naming it and TMPDIR, nothing changed', async (t) => {
    const tmp = mountTmpfs(t, { sizeKiB: 256 });
    const w = cliWorld(t);
    await w.seed(async (s) => {
      for (let i = 0; i < 30; i++) await s.addContainer(bulky(`c${i}`));
    });
    const backup = join(w.dir, 'backup.db');
    expect((await w.run(['backup', backup])).code).toBe(0);
    tmp.fill();
    const r = await w.run(['restore', backup, '--force', '--format', 'json'], { env: { TMPDIR: tmp.dir } });
    expect(r.code, show(r)).toBe(1);
    const { error } = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain(tmp.dir);
    expect(error.message).toMatch(/TMPDIR/);
    expect(error.message).toMatch(/nothing was changed/);
    expect(readdirSync(join(w.dir, 'store')).filter((f) => f.includes('before-restore'))).toEqual([]);
    expect(await w.containers()).toHaveLength(30);
  });

  it('berth container create on a full disk: exit 1, STORE_UNAVAILABLE naming the disk', async (t) => {
    const fs = mountTmpfs(t, { sizeKiB: 1024 });
    const w = cliWorld(t);
    const store = join(fs.dir, 'berth.db');
    expect((await w.run(['--store', store, 'init'])).code).toBe(0);
    fs.fill();
    let r = await w.run(['--store', store, '--format', 'json', 'container', 'create', '--name', 'x', 'busybox']);
    for (let i = 0; r.code === 0 && i < 50; i++) {
      r = await w.run([
        '--store',
        store,
        '--format',
        'json',
        'volume',
        'create',
        `v${i}`,
        '-o',
        `x=${'y'.repeat(60_000)}`,
      ]);
    }
    expect(r.code, show(r)).toBe(1);
    const { error } = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain(fs.dir);
  });
});
