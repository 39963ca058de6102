import { copyFileSync, existsSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, restoreStore, type Store, type ErrorCode } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { cliWorld, fails, failsJson, ok, okJson, requireBuiltCli } from '../cli/helpers.js';
import { tempDir } from '../helpers/store-factory.js';
import {
  expectFailure,
  fingerprint,
  listing,
  openForTest,
  populate,
  readContent,
  startWorker,
  withRawDb,
} from './helpers.js';

/*
 * Backups and restores (DESIGN.md §2, README "Backups"): a backup is a consistent 0600
 * copy even while another process writes; a restore checks the backup first, keeps the
 * replaced store, and never lets event seqs go back; a bad backup changes nothing.
 */

requireBuiltCli();

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Checks a backup file with a raw connection: SQLite's integrity and foreign-key checks,
 * unique names across containers and pods, the link tables against each container's config, and the journal
 * against the objects (a container is present exactly when its last create/remove event
 * is a create). Returns the number of containers and the last seq.
 */
function checkConsistent(file: string): { containers: number; lastSeq: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('integrity_check'), file).toEqual([{ integrity_check: 'ok' }]);
    expect(db.pragma('foreign_key_check'), file).toEqual([]);
    const containers = db.prepare('SELECT id, name, config_json FROM containers').all() as {
      id: string;
      name: string;
      config_json: string;
    }[];
    const podNames = new Set((db.prepare('SELECT name FROM pods').all() as { name: string }[]).map((r) => r.name));
    const links = (table: string, column: string): Map<string, string[]> => {
      const out = new Map<string, string[]>();
      for (const r of db.prepare(`SELECT container_id AS c, ${column} AS v FROM ${table}`).all() as {
        c: string;
        v: string;
      }[]) {
        out.set(r.c, [...(out.get(r.c) ?? []), r.v].sort());
      }
      return out;
    };
    const deps = links('container_dependencies', 'dependency_id');
    const vols = links('container_volumes', 'volume_name');
    for (const c of containers) {
      expect(podNames.has(c.name), `container ${c.name} shares its name with a pod`).toBe(false);
      const config = JSON.parse(c.config_json) as {
        dependencies?: string[];
        namedVolumes?: { name: string }[];
      };
      expect(deps.get(c.id) ?? [], `dependency rows of ${c.name}`).toEqual([...(config.dependencies ?? [])].sort());
      expect(vols.get(c.id) ?? [], `volume rows of ${c.name}`).toEqual(
        [...new Set((config.namedVolumes ?? []).map((v) => v.name))].sort(),
      );
    }
    const lastOf = (types: string[]): Map<string, string> => {
      const out = new Map<string, string>();
      const rows = db
        .prepare(`SELECT type, subject_id FROM events WHERE type IN (${types.map(() => '?').join(', ')}) ORDER BY seq`)
        .all(...types) as { type: string; subject_id: string }[];
      for (const r of rows) out.set(r.subject_id, r.type);
      return out;
    };
    const present = (m: Map<string, string>, create: string): string[] =>
      [...m].filter(([, type]) => type === create).map(([id]) => id);
    const ctrEvents = lastOf(['container.create', 'container.remove']);
    expect(present(ctrEvents, 'container.create').sort(), 'containers match the journal').toEqual(
      containers.map((c) => c.id).sort(),
    );
    const execEvents = lastOf(['exec.create', 'exec.remove']);
    const sessions = (db.prepare('SELECT id FROM exec_sessions').all() as { id: string }[]).map((r) => r.id);
    expect(present(execEvents, 'exec.create').sort(), 'exec sessions match the journal').toEqual(sessions.sort());
    const lastSeq = (db.prepare('SELECT max(seq) AS s FROM events').get() as { s: number }).s;
    return { containers: containers.length, lastSeq };
  } finally {
    db.close();
  }
}

describe('store.backup', () => {
  it('makes a 0600 file (in a new 0700 folder) that opens as an identical store', async () => {
    const dir = tempDir('berth-reliability-');
    const store = await openForTest(join(dir, 'berth.db'));
    const made = await populate(store);
    const before = await readContent(store, made.exitCodeIds);
    expect(before.locks).toHaveLength(2);
    expect(before.states['p-staging']).toMatchObject({ current: { serial: 3 } });

    const target = join(dir, 'backups', 'copy.db');
    const result = await store.backup(target);
    expect(result).toEqual({ file: target, bytes: statSync(target).size });
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(target)).mode & 0o777).toBe(0o700);
    expect(await readContent(store, made.exitCodeIds), 'a backup changes nothing in the store').toEqual(before);

    const copy = await openForTest(target);
    expect(await readContent(copy, made.exitCodeIds)).toEqual(before);
    expect((await copy.diagnose()).integrity).toEqual(['ok']);
  });

  it('refuses to back up into a file that exists (INVALID_ARGUMENT), leaving that file as it was', async () => {
    const dir = tempDir('berth-reliability-');
    const store = await openForTest(join(dir, 'berth.db'));
    await populate(store);
    const other = join(dir, 'precious.txt');
    writeFileSync(other, 'do not overwrite me\n');
    const earlier = join(dir, 'earlier.db');
    await store.backup(earlier);
    await store.addContainer({
      config: { id: hexId(), name: 'later', image: 'busybox' },
      state: { status: 'configured' },
    });
    for (const file of [other, earlier]) {
      const before = fingerprint(file);
      await expectFailure(store.backup(file), 'INVALID_ARGUMENT', /already exists/);
      expect(fingerprint(file)).toEqual(before);
    }
    const events = await store.events.lastSeq();
    await expectFailure(store.backup(store.location), 'INVALID_ARGUMENT', /already exists/);
    expect(await store.events.lastSeq()).toBe(events);
    expect((await store.lookupContainer('later')).config.name).toBe('later');
  });

  it('a backup taken while another process writes continuously is consistent', async () => {
    const dir = tempDir('berth-reliability-');
    const path = join(dir, 'berth.db');
    const store = await openForTest(path);
    const writer = startWorker('writer.ts', [path, '500']);
    await writer.next((m) => m.ready === true);
    let finished = false;
    const done = writer
      .next((m) => m.done === true, 40_000)
      .then((m) => {
        finished = true;
        return m as { done: true; added: number; removed: number; lastSeq: number };
      });
    writer.send('go');
    const backups: string[] = [];
    while (!finished && backups.length < 60) {
      const file = join(dir, `backup-${backups.length}.db`);
      await store.backup(file);
      backups.push(file);
      await new Promise((r) => setTimeout(r, 10));
    }
    const final = await done;
    expect((await writer.exited).code).toBe(0);
    const last = join(dir, 'backup-final.db');
    await store.backup(last);
    backups.push(last);

    const results = backups.map((file) => ({ file, ...checkConsistent(file) }));
    const expectedAtEnd = 500 - final.removed;
    expect(results.at(-1)).toMatchObject({ containers: expectedAtEnd, lastSeq: final.lastSeq });
    const midway = results.filter((r) => r.containers > 0 && r.containers < expectedAtEnd);
    expect(midway.length, 'at least one backup was taken while the writer was writing').toBeGreaterThan(0);

    // A mid-stream backup is a working store: berth opens it, finds nothing wrong, and
    // sees exactly the containers the file holds.
    const sample = midway[Math.floor(midway.length / 2)]!;
    const copy = await openForTest(sample.file);
    const report = await copy.diagnose();
    expect(report.integrity).toEqual(['ok']);
    expect(report.danglingReferences).toEqual([]);
    expect(await copy.allContainers()).toHaveLength(sample.containers);
    expect(await copy.events.lastSeq()).toBe(sample.lastSeq);
  });
});

describe('restoreStore', () => {
  it('brings back exactly the backed-up content, keeps the replaced store, and moves seqs forward', async () => {
    const dir = tempDir('berth-reliability-');
    const store = await openForTest(join(dir, 'berth.db'));
    const made = await populate(store);
    const backedUp = await readContent(store, made.exitCodeIds);
    const backup = join(dir, 'backup.db');
    await store.backup(backup);

    // Changes after the backup: all of them must be gone after the restore.
    const added = await store.addContainer({
      config: { id: hexId(), name: 'after', image: 'busybox' },
      state: { status: 'running' },
    });
    await store.addExecSession(added, { id: 'after-exec', containerId: added.config.id });
    await store.removeContainer(await store.lookupContainer('p-worker'));
    await store.workspaces.writeState('p-staging', { serial: 4 }, { lockId: made.lockIds[0]! });
    await store.locks.release('custom:p', made.lockIds[1]!);
    await store.workspaces.create('after-ws');
    await store.addContainerExitCode('after-exit', 3);
    const replaced = await readContent(store, [...made.exitCodeIds, 'after-exit']);
    const oldLastSeq = await store.events.lastSeq();
    const followerSeq = backedUp.events.at(-1)!.seq;
    expect(oldLastSeq).toBeGreaterThan(followerSeq);

    const { keptAs } = await restoreStore(store, backup);

    expect(keptAs).toMatch(new RegExp(`^${escapeRe(store.location)}\\.before-restore-.+\\.db$`));
    expect(statSync(keptAs).mode & 0o777).toBe(0o600);
    const after = await readContent(store, [...made.exitCodeIds, 'after-exit']);
    const restoreEvent = after.events.at(-1)!;
    expect(restoreEvent).toMatchObject({ type: 'store.restore', data: { from: resolve(backup) } });
    expect(restoreEvent.seq, 'seqs never go back').toBeGreaterThan(oldLastSeq);
    expect({ ...after, events: after.events.slice(0, -1) }).toEqual({
      ...backedUp,
      exitCodes: { ...backedUp.exitCodes, 'after-exit': 'NO_SUCH_EXIT_CODE' },
    });

    // A follower that had read up to any seq before the restore is told to resync.
    expect(await store.events.prunedThrough()).toBeGreaterThanOrEqual(oldLastSeq);
    expect(await store.events.prunedThrough()).toBeGreaterThan(followerSeq);
    const next = await store.addContainer({
      config: { id: hexId(), name: 'post-restore', image: 'busybox' },
      state: { status: 'configured' },
    });
    const [created] = await store.events.list({ since: restoreEvent.seq, types: ['container.create'] });
    expect(created).toMatchObject({ subject: { id: next.config.id } });
    expect(created!.seq).toBeGreaterThan(restoreEvent.seq);

    // The replaced store was kept, and it holds exactly what was replaced.
    const kept = await openForTest(keptAs);
    expect(await readContent(kept, [...made.exitCodeIds, 'after-exit'])).toEqual(replaced);
  });

  /** Bad backups, each made next to the store. */
  const refusals: {
    name: string;
    code: ErrorCode;
    nextStep: RegExp;
    make(dir: string, store: Store): Promise<string>;
  }[] = [
    {
      name: 'a corrupt backup (a real backup cut in half)',
      code: 'STORE_CORRUPT',
      nextStep: /nothing was changed/,
      async make(dir, store) {
        const file = join(dir, 'cut.db');
        await store.backup(file);
        truncateSync(file, Math.floor(statSync(file).size / 2));
        return file;
      },
    },
    {
      name: 'a text file',
      code: 'STORE_CORRUPT',
      nextStep: /nothing was changed/,
      async make(dir) {
        const file = join(dir, 'notes.txt');
        writeFileSync(file, 'not a backup\n'.repeat(100));
        return file;
      },
    },
    {
      name: 'a SQLite file that is not a berth store',
      code: 'STORE_CORRUPT',
      nextStep: /not a berth store.*nothing was changed/,
      async make(dir) {
        const file = join(dir, 'other-app.db');
        withRawDb(file, (db) => db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x')"), {
          create: true,
        });
        return file;
      },
    },
    {
      name: 'a SQLite file that is not a berth store but has a `containers` table',
      code: 'STORE_CORRUPT',
      nextStep: /not a berth store.*nothing was changed/,
      async make(dir) {
        const file = join(dir, 'other-app.db');
        withRawDb(file, (db) => db.exec("CREATE TABLE containers (name TEXT); INSERT INTO containers VALUES ('web')"), {
          create: true,
        });
        return file;
      },
    },
    {
      name: 'a backup from a newer berth',
      code: 'SCHEMA_TOO_NEW',
      nextStep: /upgrade berth.*nothing was changed/,
      async make(dir, store) {
        const file = join(dir, 'future.db');
        await store.backup(file);
        withRawDb(file, (db) =>
          db
            .prepare('INSERT INTO berth_migrations (version, name, checksum, applied_at) VALUES (999, ?, ?, ?)')
            .run('future', 'f'.repeat(64), Date.now()),
        );
        return file;
      },
    },
    {
      name: 'a missing file',
      code: 'INVALID_ARGUMENT',
      nextStep: /does not exist/,
      async make(dir) {
        return join(dir, 'no-such-backup.db');
      },
    },
  ];

  for (const r of refusals) {
    it(`refuses ${r.name} with ${r.code} and leaves the store byte-identical`, async () => {
      const dir = tempDir('berth-reliability-');
      const path = join(dir, 'store', 'berth.db');
      const first = await openStore({ path });
      const made = await populate(first);
      const file = await r.make(dir, first);
      await first.close();
      const storeBefore = fingerprint(path);
      const filesBefore = listing(dirname(path));
      const backupBefore = existsSync(file) ? fingerprint(file) : undefined;

      const store = await openStore({ path });
      try {
        const content = await readContent(store, made.exitCodeIds);
        const err = await expectFailure(restoreStore(store, file), r.code, r.nextStep);
        expect(err.message).toContain(basename(file));
        expect(await readContent(store, made.exitCodeIds)).toEqual(content);
      } finally {
        await store.close();
      }
      expect(fingerprint(path)).toEqual(storeBefore);
      expect(listing(dirname(path)), 'no before-restore copy is made for a refused backup').toEqual(filesBefore);
      if (backupBefore) expect(fingerprint(file), 'the backup itself is left as it was').toEqual(backupBefore);
    });
  }
});

describe.concurrent('CLI: berth backup and berth restore', () => {
  it('berth backup FILE writes a 0600 copy, says how to restore it, and refuses an existing file', async (t) => {
    const w = cliWorld(t);
    await w.seed((s) => populate(s));
    const file = join(w.dir, 'backups', 'b1.db');
    const out = ok(await w.run(['backup', file]));
    expect(out).toContain(file);
    expect(out).toContain(`berth restore ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = fingerprint(file);
    expect(fails(await w.run(['backup', file]))).toMatch(/already exists/);
    expect(failsJson(await w.run(['backup', file, '--format', 'json']), 'INVALID_ARGUMENT').message).toMatch(
      /already exists/,
    );
    expect(fingerprint(file)).toEqual(before);
    const json = okJson<{ file: string; bytes: number }>(
      await w.run(['backup', join(w.dir, 'b2.db'), '--format', 'json']),
    );
    expect(json).toEqual({ file: join(w.dir, 'b2.db'), bytes: statSync(join(w.dir, 'b2.db')).size });
    await w.seed(async (s) => {
      const copy = await openStore({ path: file });
      try {
        expect(await readContent(copy)).toEqual(await readContent(s));
      } finally {
        await copy.close();
      }
    });
  });

  it('berth restore FILE --force restores and keeps the old store; without a TTY it needs --force', async (t) => {
    const w = cliWorld(t);
    const made = await w.seed((s) => populate(s));
    const backup = join(w.dir, 'backup.db');
    ok(await w.run(['backup', backup]));
    const backedUp = await w.seed((s) => readContent(s, made.exitCodeIds));
    ok(await w.run(['container', 'create', '--name', 'later', 'busybox']));
    const storeBefore = fingerprint(w.store);
    const filesBefore = listing(dirname(w.store));

    // No terminal: berth cannot ask, so it refuses and changes nothing.
    expect(fails(await w.run(['restore', backup]))).toMatch(/--force/);
    expect(fingerprint(w.store)).toEqual(storeBefore);
    expect(listing(dirname(w.store))).toEqual(filesBefore);

    const out = ok(await w.run(['restore', backup, '--force']));
    const keptAs = /kept as (\S+?)\.?$/m.exec(out)?.[1];
    expect(keptAs, out).toMatch(new RegExp(`^${escapeRe(w.store)}\\.before-restore-.+\\.db$`));
    expect((await w.containers()).map((c) => c.config.name)).not.toContain('later');
    const after = await w.seed((s) => readContent(s, made.exitCodeIds));
    expect(after.events.at(-1)).toMatchObject({ type: 'store.restore' });
    expect({ ...after, events: after.events.slice(0, -1) }).toEqual(backedUp);
    const kept = await openStore({ path: keptAs! });
    try {
      expect((await kept.allContainers()).map((c) => c.config.name)).toContain('later');
    } finally {
      await kept.close();
    }
  });

  it('berth restore refuses a bad backup with Error: ... and exit 1, changing nothing', async (t) => {
    const w = cliWorld(t);
    await w.seed((s) => populate(s));
    const good = join(w.dir, 'good.db');
    ok(await w.run(['backup', good]));
    const cut = join(w.dir, 'cut.db');
    copyFileSync(good, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const storeBefore = fingerprint(w.store);
    const filesBefore = listing(dirname(w.store));
    expect(fails(await w.run(['restore', cut, '--force']))).toMatch(/damaged|not a berth store/);
    failsJson(await w.run(['restore', cut, '--force', '--format', 'json']), 'STORE_CORRUPT');
    failsJson(await w.run(['restore', join(w.dir, 'missing.db'), '--force', '--format', 'json']), 'INVALID_ARGUMENT');
    expect(fingerprint(w.store)).toEqual(storeBefore);
    expect(listing(dirname(w.store))).toEqual(filesBefore);
  });
});
