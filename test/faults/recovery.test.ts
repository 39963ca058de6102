import { readdirSync, statSync, truncateSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { cliWorld, fails, ok, requireBuiltCli, show, type CliWorld } from '../cli/helpers.js';
import { fingerprint, garbage, listing, overwrite, populate, readContent, withRawDb } from '../reliability/helpers.js';
import { integrity } from './helpers.js';

/*
 * The recovery berth advises must work (DESIGN.md §8): on a store whose file is damaged,
 * every command says "run `berth doctor` and restore a backup" — so `berth doctor` must
 * report the damage (exit 1) instead of failing to open the store, and `berth restore
 * BACKUP --force` must bring the store back, keeping the damaged file as evidence.
 */

requireBuiltCli();

const PAGE = 4096;

/** A populated store with a backup of it, then more writes the backup does not have. */
async function storeWithBackup(w: CliWorld) {
  const made = await w.seed((s) => populate(s));
  const backup = join(w.dir, 'good.db');
  ok(await w.run(['backup', backup]));
  const backedUp = await w.seed((s) => readContent(s, made.exitCodeIds));
  ok(await w.run(['container', 'create', '--name', 'after-backup', 'busybox']));
  const lastSeq = await w.seed((s) => s.events.lastSeq());
  return { made, backup, backedUp, lastSeq };
}

/**
 * Overwrites the leaf pages of the `volumes` table in the middle of the file with garbage:
 * the store still opens (nothing at open reads volumes), but its integrity check fails
 * and so does any statement that touches those rows.
 */
function damageVolumePages(file: string): void {
  const pages = withRawDb(file, (db) =>
    (
      db.prepare("SELECT pageno FROM dbstat WHERE name = 'volumes' AND pagetype = 'leaf' ORDER BY pageno").all() as {
        pageno: number;
      }[]
    ).map((r) => r.pageno),
  );
  expect(pages.length).toBeGreaterThan(4);
  for (const page of pages.slice(1, 4)) overwrite(file, (page - 1) * PAGE, garbage(PAGE, page));
}

/** A store with 150 volumes (many pages of them) and a backup, opened and closed so its WAL is checkpointed. */
async function volumesWithBackup(w: CliWorld) {
  await w.seed(async (s) => {
    for (let i = 0; i < 150; i++) {
      await s.addVolume({ config: { name: `v${i}`, labels: { pad: 'x'.repeat(300) } }, state: {} });
    }
  });
  return storeWithBackup(w);
}

const damages = [
  { name: 'cut in half', damage: (f: string) => truncateSync(f, Math.floor(statSync(f).size / 2)) },
  { name: 'cut to 100 bytes', damage: (f: string) => truncateSync(f, 100) },
  { name: 'with a garbage first page', damage: (f: string) => overwrite(f, 100, garbage(PAGE - 100, 5)) },
];

describe.concurrent('a damaged store that does not open', () => {
  for (const [i, d] of damages.entries()) {
    it(`${d.name}: doctor reports it (exit 1), restore --force brings the backup back and keeps the damaged file`, async (t) => {
      const w = cliWorld(t);
      const { made, backup, backedUp, lastSeq } = await storeWithBackup(w);
      d.damage(w.store);
      const damaged = fingerprint(w.store);
      const around = listing(dirname(w.store));
      // The CLI's every answer is checked on the first damage; the others take the short way.
      const full = i === 0;

      // Every other command sends the operator to doctor and restore ...
      expect(fails(await w.run(['ps', '-a']))).toMatch(/run `berth doctor` and restore a backup/);

      // ... and doctor answers with a report, not the same error.
      if (full) {
        const doctor = await w.run(['doctor']);
        expect(doctor.code, show(doctor)).toBe(1);
        expect(doctor.stdout).toMatch(/^store {8}.*berth\.db \(sqlite/m);
        expect(doctor.stdout).toMatch(/^FAIL {2}open: .*damaged/m);
        expect(doctor.stdout).toMatch(/^FAIL {2}integrity check: /m);
        expect(doctor.stderr).toMatch(/restore a backup with `berth restore BACKUP --force`/);
      }
      const json = await w.run(['doctor', '--format', 'json']);
      expect(json.code, show(json)).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        healthy: false,
        damaged: true,
        location: w.store,
        error: { code: 'STORE_CORRUPT' },
      });
      if (full) {
        const repair = await w.run(['doctor', '--repair']);
        expect(repair.code, show(repair)).toBe(1);
        expect(repair.stderr).toMatch(/not a damaged file; nothing was changed/);
      }
      expect(fingerprint(w.store), 'doctor changes nothing').toEqual(damaged);
      expect(listing(dirname(w.store)), 'doctor creates nothing beside the store').toEqual(around);

      // Without a terminal, restore needs --force, and changes nothing.
      if (full) expect(fails(await w.run(['restore', backup]))).toMatch(/--force/);
      expect(fingerprint(w.store)).toEqual(damaged);

      const restored = ok(await w.run(['restore', backup, '--force']));
      const keptAs = /kept as (\S+?)\.?$/m.exec(restored)?.[1];
      expect(keptAs, restored).toMatch(
        new RegExp(`^${w.store.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.before-restore-`),
      );
      expect(fingerprint(keptAs!).sha256, 'the damaged file is kept, byte for byte').toBe(damaged.sha256);
      expect(integrity(w.store)).toEqual(['ok']);
      expect(statSync(w.store).mode & 0o777).toBe(0o600);
      if (full) expect(ok(await w.run(['doctor']))).toMatch(/ok {4}integrity check: ok/);

      const after = await w.seed((s) => readContent(s, made.exitCodeIds));
      const restoreEvent = after.events.at(-1)!;
      expect(restoreEvent).toMatchObject({ type: 'store.restore', data: { from: backup, keptAs, damaged: true } });
      expect(restoreEvent.seq, 'seqs never go back, even past a damaged journal').toBeGreaterThan(lastSeq);
      expect({ ...after, events: after.events.slice(0, -1) }).toEqual(backedUp);
      expect(readdirSync(dirname(w.store)).filter((f) => f.includes('restoring'))).toEqual([]);
    });
  }

  it('a bad backup is refused with the store left damaged and nothing created, retry after retry', async (t) => {
    const w = cliWorld(t);
    const { backup } = await storeWithBackup(w);
    const cut = join(w.dir, 'cut.db');
    const { copyFileSync } = await import('node:fs');
    copyFileSync(backup, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    truncateSync(w.store, 100);
    const damaged = fingerprint(w.store);
    const around = listing(dirname(w.store));
    for (let i = 0; i < 2; i++) {
      expect(fails(await w.run(['restore', cut, '--force']))).toMatch(
        /backup .*cut\.db is damaged.*nothing was changed/,
      );
    }
    expect(fails(await w.run(['restore', join(w.dir, 'missing.db'), '--force']))).toMatch(/does not exist/);
    expect(fingerprint(w.store)).toEqual(damaged);
    expect(listing(dirname(w.store)), 'no .before-restore copy, no staged file').toEqual(around);
  });
});

describe.concurrent('a damaged store that still opens', () => {
  it('doctor points to restore, and restore --force replaces the file (rows cannot be refilled into it)', async (t) => {
    const w = cliWorld(t);
    const { backup, lastSeq } = await volumesWithBackup(w);
    damageVolumePages(w.store);
    const damaged = fingerprint(w.store);

    const doctor = await w.run(['doctor']);
    expect(doctor.code, show(doctor)).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL {2}integrity check/);
    expect(doctor.stderr).toMatch(/restore a backup with `berth restore BACKUP --force`/);

    const restored = ok(await w.run(['restore', backup, '--force']));
    const keptAs = /kept as (\S+?)\.?$/m.exec(restored)![1]!;
    expect(fingerprint(keptAs).sha256).toBe(damaged.sha256);
    expect(integrity(w.store)).toEqual(['ok']);
    const events = await w.seed((s) => s.events.list({ since: lastSeq }));
    expect(events.map((e) => e.type)).toEqual(['store.restore']);
    expect(ok(await w.run(['doctor']))).toMatch(/ok {4}integrity check: ok/);
    expect(readdirSync(dirname(w.store)).filter((f) => f.startsWith(basename(w.store) + '.before-'))).toEqual([
      basename(keptAs),
    ]);
  });

  it('the library refuses to refill a damaged open store, and says how to replace it', async (t) => {
    const w = cliWorld(t);
    const { backup } = await volumesWithBackup(w);
    damageVolumePages(w.store);
    const { restoreStore, isBerthError } = await import('../../src/index.js');
    const store = await openStore({ path: w.store });
    try {
      const err = await restoreStore(store, backup).catch((e: unknown) => e);
      expect(isBerthError(err, 'STORE_CORRUPT')).toBe(true);
      expect((err as Error).message).toMatch(/is damaged .*berth restore .* --force.*nothing was changed/);
    } finally {
      await store.close();
    }
    expect(readdirSync(dirname(w.store)).filter((f) => f.includes('before-restore'))).toEqual([]);
  });
});
