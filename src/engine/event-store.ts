import type { Selectable } from 'kysely';
import type { QueryRunner } from '../db/executor.js';
import type { EventRow } from '../db/schema.js';
import { BerthError } from '../errors.js';
import { EngineBase } from './engine-base.js';
import type { NewEvent } from './journal.js';
import * as q from './object-queries.js';
import { parseStored } from './row-mappers.js';
import type { BerthEvent } from './types.js';

/** Options of {@link EventStore.list}. */
export interface ListEventsOptions {
  /** Events after this seq (exclusive). */
  since?: number;
  /** Events up to this seq (inclusive). */
  until?: number;
  /** Exact types (`container.create`) or kinds (`container.*`). */
  types?: string[];
  limit?: number;
}

const PAGE = 500;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

function toEvent(row: Selectable<EventRow>): BerthEvent {
  const subject: BerthEvent['subject'] = { kind: row.subject_kind };
  if (row.subject_id !== null) subject.id = row.subject_id;
  if (row.subject_name !== null) subject.name = row.subject_name;
  return {
    seq: row.seq,
    ts: new Date(row.ts).toISOString(),
    namespace: row.namespace,
    type: row.type,
    subject,
    actor: row.actor,
    data: parseStored(row.data_json, 'event data'),
  };
}

function typeMatcher(types: readonly string[] | undefined): (type: string) => boolean {
  if (!types || types.length === 0) return () => true;
  return (type) => types.some((t) => (t.endsWith('.*') ? type.startsWith(t.slice(0, -1)) : type === t));
}

function assertSeq(value: unknown, what: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
    throw new BerthError('INVALID_ARGUMENT', `${what} must be a non-negative integer sequence number`, {
      details: { [what]: value },
    });
  }
}

/**
 * The event journal (DESIGN.md §6): every change appends an event in its own
 * transaction; `seq` is the commit order, so readers resume with `since`.
 */
export class EventStore extends EngineBase {
  /**
   * Events in commit order, of the handle's namespace ('' sees all).
   * @throws INVALID_ARGUMENT
   */
  async list(options: ListEventsOptions = {}): Promise<BerthEvent[]> {
    this.assertOpen();
    const opts = options ?? {};
    if (typeof opts !== 'object') throw new BerthError('INVALID_ARGUMENT', 'list options must be an object');
    if (opts.types !== undefined && (!Array.isArray(opts.types) || opts.types.some((t) => typeof t !== 'string'))) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        'types must be a list of event types, e.g. ["container.create", "lock.*"]',
      );
    }
    assertSeq(opts.since, 'since');
    assertSeq(opts.until, 'until');
    assertSeq(opts.limit, 'limit');
    const matches = typeMatcher(opts.types);
    const limit = opts.limit ?? MAX_SEQ;
    if (limit === 0) return [];
    const out: BerthEvent[] = [];
    let since = opts.since ?? 0;
    for (;;) {
      const rows = await this.direct.all(q.listEvents, {
        since,
        until: opts.until ?? MAX_SEQ,
        ns: this.ctx.namespace,
        limit: PAGE,
      });
      for (const row of rows) {
        if (matches(row.type)) out.push(toEvent(row));
        if (out.length >= limit) return out;
      }
      if (rows.length < PAGE) return out;
      since = rows[rows.length - 1]!.seq;
    }
  }

  /** The seq of the newest event (0 when there is none). */
  async lastSeq(): Promise<number> {
    this.assertOpen();
    return this.read((tx) => lastSeqIn(tx));
  }

  /**
   * Follows the journal from `since` on, including writes by other processes, until
   * `signal` aborts. Polls the store; a slow reader never holds up a writer.
   */
  async *follow(
    opts: { since?: number; signal?: AbortSignal; pollMs?: number; types?: string[] } = {},
  ): AsyncIterable<BerthEvent> {
    assertSeq(opts.since, 'since');
    let since = opts.since ?? (await this.lastSeq());
    const pollMs = opts.pollMs ?? 100;
    while (!opts.signal?.aborted && !this.ctx.closed) {
      const seen = this.ctx.exec.notificationsSeen?.();
      const batch = await this.list({ since, limit: PAGE, ...(opts.types ? { types: opts.types } : {}) });
      for (const event of batch) {
        if (opts.signal?.aborted) return;
        yield event;
        since = event.seq;
      }
      if (batch.length === 0) {
        const exec = this.ctx.exec;
        await (exec.waitForEvents ? exec.waitForEvents(pollMs * 10, opts.signal, seen) : sleep(pollMs, opts.signal));
      }
    }
  }

  /** The first seq at or after a time (ms since the epoch), or undefined when none is. */
  async firstSeqAt(ts: number): Promise<number | undefined> {
    this.assertOpen();
    const row = await this.direct.get(q.firstSeqAtOrAfter, { ts });
    return row?.seq === null || row?.seq === undefined ? undefined : Number(row.seq);
  }

  /**
   * The newest seq retention has dropped: a reader resuming at or after it misses
   * nothing; one resuming before it must re-read a snapshot first.
   */
  async prunedThrough(): Promise<number> {
    this.assertOpen();
    const row = await this.direct.get(q.getMeta, { key: 'events_pruned_through' });
    return row ? Number(row.value) : 0;
  }

  /**
   * Drops events beyond the retention (older than maxAgeMs, or beyond the newest
   * maxEvents), in batches of short transactions so writers wait at most one batch.
   * Returns how many it dropped.
   */
  async prune(): Promise<number> {
    this.assertOpen();
    const { maxAgeMs, maxEvents } = this.ctx.eventRetention;
    let dropped = 0;
    for (;;) {
      const n = await this.write(async (tx, now) => {
        const last = Number((await tx.get(q.lastEventSeq, {}))?.seq ?? 0);
        const upTo = await tx.get(q.pruneEventsUpTo, { through: last - maxEvents, before: now - maxAgeMs });
        if (upTo?.seq === null || upTo?.seq === undefined) return 0;
        const through = Number(upTo.seq);
        const removed = await tx.run(q.deleteEventsThrough, { through });
        await tx.run(q.putMeta, { key: 'events_pruned_through', value: String(through) });
        return removed;
      });
      dropped += n;
      if (n === 0) return dropped;
      // Let queued writers in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Appends an event for a higher layer (plan/apply); type is `<kind>.<verb>`. */
  async append(event: NewEvent): Promise<void> {
    if (!/^[a-z_]+(\.[a-z_]+)+$/.test(event.type)) {
      throw new BerthError('INVALID_ARGUMENT', `event type ${JSON.stringify(event.type)} is not <kind>.<verb>`);
    }
    await this.write((tx, now) => this.event(tx, now, event));
  }
}

/**
 * The newest seq the journal has reached, inside a transaction: retention may have
 * emptied the journal, so it is never below what was pruned (seqs never go back).
 */
export async function lastSeqIn(tx: QueryRunner): Promise<number> {
  const row = await tx.get(q.lastEventSeq, {});
  const pruned = await tx.get(q.getMeta, { key: 'events_pruned_through' });
  return Math.max(Number(row?.seq ?? 0), pruned ? Number(pruned.value) : 0);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
