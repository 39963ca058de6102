/**
 * Crash safety (issue 8): worker processes do seeded random mixes of object writes,
 * workspace state writes under locks, and plan/apply against one SQLite store, and are
 * killed with SIGKILL at random moments — hundreds of kills per run — then the store is
 * checked: PRAGMA integrity_check and foreign_key_check, berth's own diagnosis, every
 * rule of DESIGN.md §3–5 on the raw rows, events and changes agreeing both ways, every
 * acknowledged write present (and every failed one absent), an interrupted call wholly
 * in or wholly out, and every applied workspace re-planning to no-ops.
 *
 * Seeded: BERTH_CRASH_SEED (default below) fixes every worker's sequence of calls and
 * every kill delay; BERTH_CRASH_KILLS sets how many workers are killed (default 200).
 * Four workers run at once, so the interleaving is the scheduler's: a failure names the
 * seed and the worker (and its own seed); rerun with them. BERTH_CRASH_CONCURRENCY=1
 * runs one worker at a time: then only where the parent's timed kills land varies.
 * See crash-harness.ts for how, and workers/crash-worker.ts for what the workers do.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { CHECK_ACTOR, checkRun, runCrash, type CrashRun } from './crash-harness.js';
import { isIntent, isOutcome, tagOfName, type Intent, type LogLine, type Outcome } from './crash-model.js';

const SEED = Number(process.env.BERTH_CRASH_SEED ?? 20261123);
const KILLS = Number(process.env.BERTH_CRASH_KILLS ?? 200);
const CONCURRENCY = Number(process.env.BERTH_CRASH_CONCURRENCY ?? 4);
const MAX_DELAY_MS = 100;
const CONTEXT = `BERTH_CRASH_SEED=${SEED} BERTH_CRASH_KILLS=${KILLS} (rerun: BERTH_CRASH_SEED=${SEED} BERTH_CRASH_KILLS=${KILLS} npx vitest run test/reliability/crash.test.ts)`;

let shared: Promise<CrashRun> | undefined;

/** The run of this file, made once: the main test checks it, the checker's own tests break copies of it. */
function crashRun(dir: string): Promise<CrashRun> {
  shared ??= runCrash({ dir, seed: SEED, kills: KILLS, concurrency: CONCURRENCY, maxDelayMs: MAX_DELAY_MS });
  return shared;
}

/** A copy of the run's store (one file, WAL folded in) to break by hand. */
function copyStore(run: CrashRun, dir: string, name: string): string {
  const copy = join(dir, `${name}.db`);
  const db = new Database(run.store, { readonly: true });
  try {
    db.exec(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
  } finally {
    db.close();
  }
  return copy;
}

/** Edits a copy with foreign keys off, as a bug (or a hand edit) would leave it. */
function breakCopy(file: string, edit: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = OFF');
    edit(db);
  } finally {
    db.close();
  }
}

/** The rows `sql` finds in `file`, read with a raw read-only connection. */
function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Every logged call of the run: worker, intent and (unless a kill cut it short) outcome. */
function calls(run: CrashRun): Array<{ k: number; intent: Intent; outcome?: Outcome }> {
  return run.workers.flatMap((w) => {
    const raw = readFileSync(w.log, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    // A kill can cut the very last line short (as the harness's own reader allows): it was never acknowledged.
    const lines = raw.flatMap((l, i) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch (err) {
        if (i === raw.length - 1) return [];
        throw err;
      }
    });
    const outcomes = new Map(lines.filter(isOutcome).map((o) => [o.n, o]));
    return lines.filter(isIntent).map((intent) => ({ k: w.k, intent, outcome: outcomes.get(intent.n) }));
  });
}

describe('crash safety under SIGKILL', () => {
  // One folder for the run and the copies; kept as evidence when a test fails.
  const dir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
  let failed = false;
  beforeEach((ctx) => ctx.onTestFailed(() => void (failed = true)));
  afterAll(() => {
    if (!failed) rmSync(dir, { recursive: true, force: true });
    else console.log(`crash run kept in ${dir}`);
  });

  it(`survives ${KILLS} kills of workers writing objects, locked state and applies`, async () => {
    const run = await crashRun(dir);
    const kills = run.workers.length;
    expect(kills, CONTEXT).toBe(KILLS);

    const { problems, stats } = await checkRun(run.store, run.workers);
    console.log(
      `crash run ${CONTEXT}: ${kills} kills (${stats.selfKilledInTransaction} inside a transaction by the worker itself) in ${run.wallMs} ms; ` +
        `checked ${stats.acknowledged} acknowledged calls ${JSON.stringify(stats.acknowledgedByOp)}, ${stats.failedAsAllowed} refused as allowed, ` +
        `${stats.inFlightAtKill} interrupted ${JSON.stringify(stats.inFlightByOp)} (${stats.inFlightCommitted} of them committed, ` +
        `${stats.appliesKilledHoldingLock} applies killed by the parent holding their lock); ${stats.events} events, ` +
        `${stats.containers} containers, ${stats.stateVersions} state versions, ${stats.staleLocks} stale locks`,
    );
    expect(problems, CONTEXT).toEqual([]);
    if (kills >= 100) {
      // Not vacuous: the run did every kind of work, and kills cut work short.
      expect(stats.acknowledgedByOp.objects ?? 0, CONTEXT).toBeGreaterThan(kills);
      expect(stats.acknowledgedByOp.write ?? 0, CONTEXT).toBeGreaterThan(kills / 10);
      expect(stats.acknowledgedByOp.apply ?? 0, CONTEXT).toBeGreaterThan(kills / 20);
      expect(stats.selfKilledInTransaction, CONTEXT).toBeGreaterThan(kills / 10);
      expect(stats.inFlightAtKill, CONTEXT).toBeGreaterThan(kills / 3);
    }

    // After the crashes the store is usable: berth opens it, and every stale lock a killed
    // worker left is taken over (breakStale) and released.
    const store = await openStore({ path: run.store, actor: CHECK_ACTOR });
    try {
      for (const lock of await store.locks.list()) {
        const taken = await store.locks.acquire(lock.key, { operation: 'check', breakStale: true });
        await store.locks.release(lock.key, taken.id);
      }
      expect(await store.locks.list(), CONTEXT).toEqual([]);
    } finally {
      await store.close();
    }
    // ... and is still consistent after that.
    expect((await checkRun(run.store, run.workers)).problems, CONTEXT).toEqual([]);
  }, 120_000);

  // The checker is shown not to be vacuous: on copies of the run's store, each broken by
  // hand, it reports what was broken.
  describe('the checker', { timeout: 120_000 }, () => {
    it('notices a missing event', async () => {
      const run = await crashRun(dir);
      const copy = copyStore(run, dir, 'missing-event');
      const target = query<{ seq: number; name: string }>(
        copy,
        "SELECT e.seq, c.name FROM events e JOIN containers c ON c.id = e.subject_id WHERE e.type = 'container.create' ORDER BY e.seq DESC LIMIT 1",
      )[0]!;
      breakCopy(copy, (db) => db.prepare('DELETE FROM events WHERE seq = ?').run(target.seq));
      const { problems } = await checkRun(copy, run.workers);
      expect(problems.join('\n'), CONTEXT).toContain(`container ${target.name}`);
      expect(problems.join('\n'), CONTEXT).toMatch(/has no container\.create event/);
      expect(problems.join('\n'), CONTEXT).toMatch(/event seqs .* are not contiguous/);
    });

    it('notices a dangling reference', async () => {
      const run = await crashRun(dir);
      const copy = copyStore(run, dir, 'dangling');
      const pod = query<{ id: string; name: string }>(
        copy,
        'SELECT p.id, p.name FROM pods p JOIN containers c ON c.pod_id = p.id LIMIT 1',
      )[0]!;
      breakCopy(copy, (db) => {
        db.prepare('DELETE FROM pods WHERE id = ?').run(pod.id);
      });
      const { problems } = await checkRun(copy, run.workers);
      const text = problems.join('\n');
      expect(text, CONTEXT).toContain('PRAGMA foreign_key_check');
      expect(text, CONTEXT).toContain(`points at missing pod ${pod.id}`);
      expect(text, CONTEXT).toMatch(/berth diagnose: containers row \d+ points at a missing pods row/);
    });

    it('notices a lost acknowledged write', async () => {
      const run = await crashRun(dir);
      // The newest version of a state workspace, acknowledged by the worker that wrote it:
      // it disappears whole (version, event, workspace back at the serial before), as if
      // the commit had been lost.
      const copy = copyStore(run, dir, 'lost-write');
      const workspaces = query<{ namespace: string; name: string; serial: number }>(
        copy,
        'SELECT namespace, name, serial FROM workspaces WHERE serial > 1',
      );
      const acked = calls(run).filter((c) => c.outcome?.ok && (c.intent.op === 'write' || c.intent.op === 'rollback'));
      const lost = workspaces
        .map((w) => {
          const call = acked.find(
            ({ intent, outcome }) =>
              'ws' in intent && intent.ns === w.namespace && intent.ws === w.name && outcome!.serial === w.serial,
          );
          return call && { ...w, worker: call.k, op: call.intent.op };
        })
        .find((x) => x !== undefined);
      expect(lost, `${CONTEXT}: no state workspace ends on an acknowledged write`).toBeDefined();
      breakCopy(copy, (raw) => {
        const key = { ns: lost!.namespace, name: lost!.name, serial: lost!.serial };
        const before = raw
          .prepare(
            'SELECT state_json, checksum FROM state_versions WHERE namespace = :ns AND workspace = :name AND serial = :serial - 1',
          )
          .get(key) as { state_json: string; checksum: string };
        raw
          .prepare('DELETE FROM state_versions WHERE namespace = :ns AND workspace = :name AND serial = :serial')
          .run(key);
        raw
          .prepare(
            "DELETE FROM events WHERE type LIKE 'workspace.state.%' AND namespace = :ns AND subject_name = :name AND json_extract(data_json, '$.serial') = :serial",
          )
          .run(key);
        raw
          .prepare(
            'UPDATE workspaces SET serial = :serial - 1, state_json = :state, checksum = :checksum WHERE namespace = :ns AND name = :name',
          )
          .run({ ...key, state: before.state_json, checksum: before.checksum });
      });
      const { problems } = await checkRun(copy, run.workers);
      expect(problems.join('\n'), CONTEXT).toMatch(
        new RegExp(
          `w${lost!.worker} \\(seed \\d+\\) op \\d+ ${lost!.op} ${lost!.namespace}/${lost!.name}: acknowledged serial ${lost!.serial}\\b`,
        ),
      );
    });

    it('notices an acknowledged object change that is not in the store', async () => {
      const run = await crashRun(dir);
      const copy = copyStore(run, dir, 'lost-object');
      // A container of a worker that was not killed in the middle of an object call, whose
      // objects must therefore be exactly what it acknowledged.
      const logged = calls(run);
      const settled = new Set(
        run.workers
          .filter((w) => {
            const last = logged.filter((c) => c.k === w.k).at(-1);
            return last === undefined || last.intent.op !== 'objects' || last.outcome !== undefined;
          })
          .map((w) => w.k),
      );
      const containers = query<{ id: string; name: string }>(
        copy,
        "SELECT id, name FROM containers WHERE workspace IS NULL AND state_json NOT LIKE '%unknown%'",
      );
      const victim = containers.find((c) => settled.has(tagOfName(c.name) ?? -1))!;
      breakCopy(copy, (db) =>
        db
          .prepare(`UPDATE containers SET state_json = json_set(state_json, '$.status', 'unknown') WHERE id = ?`)
          .run(victim.id),
      );
      const { problems } = await checkRun(copy, run.workers);
      expect(problems.join('\n'), CONTEXT).toContain(`container:${victim.id} is {`);
      expect(problems.join('\n'), CONTEXT).toContain(`container ${victim.name}: status unknown`);
    });
  });
});
