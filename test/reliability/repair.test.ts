import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type DiagnosisReport } from '../../src/index.js';
import { hexId } from '../conformance/builders.js';
import { cliWorld, requireBuiltCli, show } from '../cli/helpers.js';
import { tempDir } from '../helpers/store-factory.js';
import { dumpTables, listing, openForTest, startWorker, withRawDb } from './helpers.js';

/*
 * berth doctor and repair (README "Repair"): dangling references (only possible when
 * someone edited the file with foreign keys off) and stale locks are reported; repair
 * removes exactly those rows, breaks exactly the stale locks (each with an event),
 * touches nothing else, and berth doctor --repair takes a backup first.
 */

requireBuiltCli();

interface Broken {
  victim: string;
  staleLock: string;
  liveLock: string;
}

/**
 * A store with a container `victim` (depending on `dep`, mounting `data`, with an exec
 * session) whose row was deleted by hand with foreign keys off, so its link rows
 * dangle; a lock whose holder process has exited; a live lock of this
 * process; and bystanders that share `dep` and `data` and must survive the repair.
 */
async function breakStore(path: string): Promise<Broken> {
  const store = await openStore({ path });
  let victim: string;
  let liveLock: string;
  try {
    await store.addVolume({ config: { name: 'data', driver: 'local' }, state: {} });
    const dep = await store.addContainer({
      config: { id: hexId(), name: 'dep', image: 'postgres:16' },
      state: { status: 'configured' },
    });
    const mounts = [{ name: 'data', dest: '/data' }];
    const v = await store.addContainer({
      config: { id: hexId(), name: 'victim', image: 'app', dependencies: [dep.config.id], namedVolumes: mounts },
      state: { status: 'running' },
    });
    victim = v.config.id;
    await store.addExecSession(v, { id: 'victim-exec', containerId: victim });
    const bystander = await store.addContainer({
      config: { id: hexId(), name: 'bystander', image: 'app', dependencies: [dep.config.id], namedVolumes: mounts },
      state: { status: 'running' },
    });
    await store.addExecSession(bystander, { id: 'bystander-exec', containerId: bystander.config.id });
    await store.addContainerExitCode('long-gone', 1);
    await store.workspaces.create('live');
    await store.workspaces.writeState('live', { ok: true });
    liveLock = (await store.workspaces.lock('live', { operation: 'apply' })).id;
  } finally {
    await store.close();
  }

  const holder = startWorker('take-lock-and-exit.ts', [path, 'gone']);
  const { lock } = (await holder.next((m) => typeof m.lock === 'string')) as { lock: string };
  const exit = await holder.exited;
  expect(exit.code, exit.stderr).toBe(0);

  withRawDb(path, (db) => {
    db.pragma('foreign_keys = OFF');
    expect(db.prepare('DELETE FROM containers WHERE id = ?').run(victim).changes).toBe(1);
  });
  return { victim, staleLock: lock, liveLock };
}

/** Asserts that `after` is `before` minus exactly the victim's rows and the stale lock, plus one event. */
function expectOnlyRepaired(
  before: Record<string, Record<string, unknown>[]>,
  after: Record<string, Record<string, unknown>[]>,
  broken: Broken,
): void {
  const without = (table: string, keep: (r: Record<string, unknown>) => boolean) => before[table]!.filter(keep);
  const expected: Record<string, Record<string, unknown>[]> = {
    ...before,
    container_dependencies: without(
      'container_dependencies',
      (r) => r.container_id !== broken.victim && r.dependency_id !== broken.victim,
    ),
    container_volumes: without('container_volumes', (r) => r.container_id !== broken.victim),
    exec_sessions: without('exec_sessions', (r) => r.container_id !== broken.victim),
    locks: without('locks', (r) => r.id !== broken.staleLock),
  };
  // The rows to remove were really there.
  for (const t of ['container_dependencies', 'container_volumes', 'exec_sessions', 'locks']) {
    expect(before[t]!.length - expected[t]!.length, t).toBe(1);
  }
  const { events: afterEvents, ...afterRest } = after;
  const { events: beforeEvents, ...expectedRest } = expected;
  expect(afterRest).toEqual(expectedRest);
  const byseq = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => (a.seq as number) - (b.seq as number));
  const newEvents = byseq(afterEvents!).slice(beforeEvents!.length);
  expect(byseq(afterEvents!).slice(0, beforeEvents!.length)).toEqual(byseq(beforeEvents!));
  expect(newEvents).toHaveLength(1);
  expect(newEvents[0]).toMatchObject({ type: 'lock.break_stale', subject_id: broken.staleLock });
  expect(JSON.parse(newEvents[0]!.data_json as string)).toMatchObject({ by: 'repair', lock: { id: broken.staleLock } });
}

describe('store.diagnose() and store.repair()', () => {
  it('diagnose reports the dangling rows and the stale lock; repair removes exactly those', async () => {
    const path = join(tempDir('berth-reliability-'), 'berth.db');
    const broken = await breakStore(path);
    const before = dumpTables(path);
    const store = await openForTest(path);

    const sick = await store.diagnose();
    expect(sick.integrity).toEqual(['ok']);
    expect(sick.danglingReferences).toHaveLength(3);
    for (const table of ['container_dependencies', 'container_volumes', 'exec_sessions']) {
      expect(sick.danglingReferences.join('\n')).toContain(table);
    }
    expect(sick.staleLocks.map((l) => l.id)).toEqual([broken.staleLock]);
    expect(sick.staleLocks[0]!.staleReason).toMatch(/gone/);
    expect(sick.locks).toBe(2);
    // diagnose changes nothing.
    expect(dumpTables(path)).toEqual(before);

    expect(await store.repair()).toEqual({
      dependencies: 1,
      containerVolumes: 1,
      execSessions: 1,
      staleLocks: [broken.staleLock],
    });
    expectOnlyRepaired(before, dumpTables(path), broken);

    const healthy = await store.diagnose();
    expect(healthy).toMatchObject({ integrity: ['ok'], danglingReferences: [], staleLocks: [], locks: 1 });
    expect((await store.locks.list()).map((l) => l.id)).toEqual([broken.liveLock]);
    // The victim's name is free again.
    await store.addContainer({
      config: { id: hexId(), name: 'victim', image: 'app' },
      state: { status: 'configured' },
    });

    // A second repair finds nothing and records nothing.
    const seq = await store.events.lastSeq();
    expect(await store.repair()).toEqual({
      dependencies: 0,
      containerVolumes: 0,
      execSessions: 0,
      staleLocks: [],
    });
    expect(await store.events.lastSeq()).toBe(seq);
  });
});

describe.concurrent('CLI: berth doctor [--repair]', () => {
  it('doctor exits 1 and reports them; doctor --repair backs up, removes exactly them, and doctor is then happy', async (t) => {
    const w = cliWorld(t);
    const broken = await breakStore(w.store);
    const before = dumpTables(w.store);

    const sick = await w.run(['doctor']);
    expect(sick.code, show(sick)).toBe(1);
    expect(sick.stdout).toMatch(/FAIL {2}references: 3 dangling/);
    expect(sick.stdout).toMatch(/FAIL {2}locks: 2 held, 1 stale/);
    expect(sick.stdout).toContain(`stale lock ${broken.staleLock} on workspace:/gone`);
    expect(sick.stdout).toContain(`berth force-unlock ${broken.staleLock}`);
    expect(sick.stdout).toMatch(/ok {4}integrity check: ok/);
    expect(sick.stderr).toMatch(/found problems/);
    const json = await w.run(['doctor', '--format', 'json']);
    expect(json.code, show(json)).toBe(1);
    const report = JSON.parse(json.stdout) as DiagnosisReport & { healthy: boolean };
    expect(report.healthy).toBe(false);
    expect(report.danglingReferences).toHaveLength(3);
    expect(report.staleLocks.map((l) => l.id)).toEqual([broken.staleLock]);
    expect(dumpTables(w.store), 'doctor without --repair changes nothing').toEqual(before);

    const filesBefore = listing(dirname(w.store));
    const repaired = await w.run(['doctor', '--repair', '--force']);
    expect(repaired.code, show(repaired)).toBe(0);
    expect(repaired.stderr).toMatch(
      /removed 1 dangling dependency row\(s\), 1 volume link\(s\), 1 exec session\(s\), and broke 1 stale lock\(s\)/,
    );
    const created = listing(dirname(w.store)).filter((f) => !filesBefore.includes(f));
    const backups = created.filter((f) => /^berth\.db\.before-repair-.+\.db$/.test(f));
    expect(backups, `new files: ${created.join(', ')}`).toHaveLength(1);
    const backup = join(dirname(w.store), backups[0]!);
    expect(repaired.stderr).toContain(backup);
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    expect(dumpTables(backup), 'the backup holds the store as it was before the repair').toEqual(before);
    expectOnlyRepaired(before, dumpTables(w.store), broken);

    const well = await w.run(['doctor']);
    expect(well.code, show(well)).toBe(0);
    expect(well.stdout).toMatch(/ok {4}references: 0 dangling/);
    expect(well.stdout).toMatch(/ok {4}locks: 1 held, 0 stale/);
    const events = await w.seed((s) => s.events.list({ types: ['lock.break_stale'] }));
    expect(events.map((e) => e.subject.id)).toEqual([broken.staleLock]);
  });
});
