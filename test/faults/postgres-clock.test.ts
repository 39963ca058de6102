import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { openStore } from '../../src/index.js';
import { scratch } from './helpers.js';
import {
  describeCluster,
  expectFault,
  libfaketime,
  schemaName,
  storeProcess,
  type PgCluster,
  type StoreProcess,
} from './postgres-helpers.js';

/*
 * Issue 13, clocks: processes whose clocks disagree, made so with libfaketime
 * (LD_PRELOAD; FAKETIME_DONT_FAKE_MONOTONIC keeps their timers honest). On PostgreSQL,
 * leases are measured on the database server's clock, so a client 2 minutes ahead or
 * behind never breaks another's live 60 s lease; on both backends, a heartbeat during a
 * backwards step of the holder's clock never shortens its lease. Skipped, with the
 * reason, where libfaketime is not installed (`apt-get install faketime`; .ci/run does).
 */

const LIB = libfaketime();
const NO_FAKETIME = 'libfaketime not installed: apt-get install faketime (.ci/run installs it)';
const TTL = 60_000;

interface Lease {
  id: string;
  expiresAt?: string | number;
  stale: boolean;
}

/** A store process whose clock is shifted by `offset` (libfaketime's syntax: +2m, -10m). */
function skewed(offset: string): NodeJS.ProcessEnv {
  return { LD_PRELOAD: LIB!, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/** A store process whose clock follows the offset written to `file` (changed at run time). */
function steppable(file: string): NodeJS.ProcessEnv {
  writeFileSync(file, '+0\n');
  return { LD_PRELOAD: LIB!, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

const ms = (v: string | number | undefined): number => (typeof v === 'number' ? v : Date.parse(String(v)));

/** The lease `key` as `p` sees it. */
async function lease(p: StoreProcess, key: string): Promise<Lease> {
  return (await p.value<Lease>('locks.get', key))!;
}

/**
 * The holder takes a 60 s lease, its clock steps 10 minutes back, it renews: the lease
 * keeps its end. When the clock is back, another process finds it live and cannot break it.
 */
async function backwardsStep(t: TestContext, open: Record<string, unknown>, dir: string): Promise<void> {
  const file = join(dir, 'faketime');
  const [holder, other] = await Promise.all([storeProcess(t, open, steppable(file)), storeProcess(t, open)]);
  const taken = await holder.value<Lease>('locks.acquire', 'renewed', { operation: 'lease', ttlMs: TTL });
  const end = ms(taken.expiresAt);
  writeFileSync(file, '-10m\n');
  const renewed = await holder.value<Lease>('locks.heartbeat', 'renewed', taken.id);
  expect(ms(renewed.expiresAt), 'a renewal during a backwards step').toBeGreaterThanOrEqual(end);
  writeFileSync(file, '+0\n');
  const seen = await lease(other, 'renewed');
  expect(seen.stale).toBe(false);
  expect(ms(seen.expiresAt)).toBeGreaterThanOrEqual(end);
  const refused = await other.call('locks.acquire', 'renewed', { operation: 'thief', breakStale: true });
  expect(refused.ok).toBe(false);
  expect(refused.error?.code).toBe('LOCKED');
  // The holder still holds it: another renewal proves it.
  expect((await holder.call('locks.heartbeat', 'renewed', taken.id)).ok).toBe(true);
}

describe.concurrent('clocks: SQLite', () => {
  it('a heartbeat during a backwards clock step never shortens the lease', async (t) => {
    t.skip(LIB === undefined, NO_FAKETIME);
    const dir = scratch(t);
    await backwardsStep(t, { path: join(dir, 'berth.db') }, dir);
  });
});

describeCluster(
  'clocks: PostgreSQL',
  (cluster) => {
    it('clients 2 minutes ahead and behind never break a live 60 s lease, and see it live', async (t) => {
      t.skip(LIB === undefined, NO_FAKETIME);
      const c: PgCluster = cluster();
      const schema = schemaName('skew');
      const open = { url: c.url, schema };
      // Created first, so that the processes below only open it.
      await (await openStore(open)).close();
      const [honest, ahead, behind] = await Promise.all([
        storeProcess(t, open),
        storeProcess(t, open, skewed('+2m')),
        storeProcess(t, open, skewed('-2m')),
      ]);
      const processes = { honest, ahead, behind };
      for (const [name, p] of Object.entries(processes)) {
        const [row] = await c.query<{ now: string }>(
          'SELECT (extract(epoch from clock_timestamp()) * 1000)::int8 AS now',
        );
        const now = Number(row!.now);
        const mine = await p.value<Lease>('locks.acquire', `lease-${name}`, { operation: 'work', ttlMs: TTL });
        // The lease ends 60 s after the server's now, whatever the client's clock says.
        expect(Math.abs(ms(mine.expiresAt) - (now + TTL)), `${name}'s lease end`).toBeLessThan(5_000);
        for (const [otherName, other] of Object.entries(processes)) {
          if (other === p) continue;
          const seen = await lease(other, `lease-${name}`);
          expect(seen.stale, `${otherName} sees ${name}'s lease`).toBe(false);
          const broken = await other.call('locks.acquire', `lease-${name}`, { operation: 'thief', breakStale: true });
          expect(broken.ok, `${otherName} breaking ${name}'s lease`).toBe(false);
          expectFault(broken.error, ['LOCKED'], c, `${otherName} breaking ${name}'s lease`);
        }
        // The holder renews and releases its own lease as usual.
        expect((await p.call('locks.heartbeat', `lease-${name}`, mine.id)).ok).toBe(true);
        expect((await p.call('locks.release', `lease-${name}`, mine.id)).ok).toBe(true);
      }
    });

    it('a heartbeat during a backwards clock step never shortens the lease', async (t) => {
      t.skip(LIB === undefined, NO_FAKETIME);
      const c = cluster();
      await backwardsStep(t, { url: c.url, schema: schemaName('step') }, scratch(t));
    });
  },
  { concurrent: true },
);
