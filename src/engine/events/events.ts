import type { Selectable } from 'kysely';
import type { EventRow } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { readMeta, writeMeta } from '../meta.js';
import { parseStored } from '../objects/rows.js';
import type { BerthEvent } from '../types.js';
import { appendEvent, type NewEvent } from './journal.js';
import * as q from './queries.js';
import type { ListEventsOptions } from '../types.js';

/*
 * The event journal (DESIGN.md §6): listing in commit order with resumable seqs,
 * retention, and the one meaning of an event type filter.
 */

/** Events read per statement. */
export const EVENT_PAGE = 500;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** The metadata row that marks how far retention has pruned the journal. */
const PRUNED_THROUGH = 'events_pruned_through';

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

/**
 * The one meaning of an event type filter, for the library, the CLI and the HTTP API:
 * `container.create` matches that type; `container` and `container.*` match every
 * `container.…` type (and `workspace` matches `workspace.state.write` too).
 */
export function eventTypeMatcher(types: readonly string[] | undefined): (type: string) => boolean {
  if (!types || types.length === 0) return () => true;
  const kinds = types.map((t) => (t.endsWith('.*') ? t.slice(0, -2) : t));
  return (type) => kinds.some((k, i) => type === types[i] || type === k || type.startsWith(k + '.'));
}

/** Throws INVALID_ARGUMENT unless `value` is absent or a seq. */
export function assertSeq(value: unknown, what: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
    throw new BerthError('INVALID_ARGUMENT', `${what} must be a non-negative integer sequence number`, {
      details: { [what]: value },
    });
  }
}

/**
 * Checks list options before any statement runs.
 * @throws INVALID_ARGUMENT
 */
export function checkListOptions(options: ListEventsOptions | undefined): ListEventsOptions {
  const opts = options ?? {};
  if (typeof opts !== 'object') throw new BerthError('INVALID_ARGUMENT', 'list options must be an object');
  if (opts.types !== undefined && (!Array.isArray(opts.types) || opts.types.some((t) => typeof t !== 'string'))) {
    throw new BerthError('INVALID_ARGUMENT', 'types must be a list of event types, e.g. ["container.create", "lock"]');
  }
  assertSeq(opts.since, 'since');
  assertSeq(opts.until, 'until');
  assertSeq(opts.limit, 'limit');
  return opts;
}

/** Events of the handle's namespace in commit order, page by page (one statement each). */
export async function listEvents(
  page: (since: number) => Promise<Selectable<EventRow>[]>,
  opts: ListEventsOptions,
): Promise<BerthEvent[]> {
  const matches = eventTypeMatcher(opts.types);
  const limit = opts.limit ?? MAX_SEQ;
  const out: BerthEvent[] = [];
  if (limit === 0) return out;
  let since = opts.since ?? 0;
  for (;;) {
    const rows = await page(since);
    for (const row of rows) {
      if (matches(row.type)) out.push(toEvent(row));
      if (out.length >= limit) return out;
    }
    if (rows.length < EVENT_PAGE) return out;
    since = rows[rows.length - 1]!.seq;
  }
}

/** One page of events after `since`, up to `until`, of the namespace `tx.ns` sees. */
export function eventPage(tx: Tx, since: number, until: number | undefined): Promise<Selectable<EventRow>[]> {
  return Promise.resolve(tx.q.all(q.listEvents, { since, until: until ?? MAX_SEQ, ns: tx.ns, limit: EVENT_PAGE }));
}

/**
 * The newest seq the journal has reached: retention may have emptied the journal, so it
 * is never below what was pruned (seqs never go back).
 */
export async function lastSeq(tx: Tx): Promise<number> {
  const row = await tx.q.get(q.lastEventSeq, {});
  const pruned = await readMeta(tx, PRUNED_THROUGH);
  return Math.max(Number(row?.seq ?? 0), pruned ? Number(pruned) : 0);
}

/** The newest seq retention has dropped (0 when none). */
export async function prunedThrough(tx: Tx): Promise<number> {
  const value = await readMeta(tx, PRUNED_THROUGH);
  return value ? Number(value) : 0;
}

/** Marks the journal as pruned through `seq`: readers resuming before it must resync. */
export async function markPrunedThrough(tx: Tx, seq: number): Promise<void> {
  await writeMeta(tx, PRUNED_THROUGH, String(seq));
}

/** The first seq at or after a time (ms since the epoch), or undefined when none is. */
export async function firstSeqAt(tx: Tx, ts: number): Promise<number | undefined> {
  const row = await tx.q.get(q.firstSeqAtOrAfter, { ts });
  return row?.seq === null || row?.seq === undefined ? undefined : Number(row.seq);
}

/**
 * Drops one batch of events beyond the retention (older than maxAgeMs, or beyond the
 * newest maxEvents); returns how many it dropped.
 */
export async function pruneBatch(tx: Tx): Promise<number> {
  const { maxAgeMs, maxEvents } = tx.ctx.eventRetention;
  const last = Number((await tx.q.get(q.lastEventSeq, {}))?.seq ?? 0);
  const upTo = await tx.q.get(q.pruneEventsUpTo, { through: last - maxEvents, before: tx.now - maxAgeMs });
  if (upTo?.seq === null || upTo?.seq === undefined) return 0;
  const through = Number(upTo.seq);
  const removed = await tx.q.run(q.deleteEventsThrough, { through });
  await markPrunedThrough(tx, through);
  return removed;
}

/**
 * Appends an event for a higher layer (plan/apply); its type is `<kind>.<verb>`.
 * @throws INVALID_ARGUMENT
 */
export function checkNewEvent(event: NewEvent): void {
  if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
    throw new BerthError('INVALID_ARGUMENT', 'an event needs a type, a namespace and a subject');
  }
  if (!/^[a-z_]+(\.[a-z_]+)+$/.test(event.type)) {
    throw new BerthError('INVALID_ARGUMENT', `event type ${JSON.stringify(event.type)} is not <kind>.<verb>`);
  }
}

export { appendEvent };

export type { ListEventsOptions };
