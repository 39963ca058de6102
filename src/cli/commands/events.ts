import { eventTypeMatcher } from '../../engine/events/events.js';
import type { BerthEvent } from '../../engine/types.js';
import { BerthError } from '../../errors.js';
import type { CliContext } from '../cli-context.js';
import { paint, parseDuration, parseKeyValue, usageError } from '../output.js';

/* `berth events` (podman events). */

type Point = { seq: number } | { ts: number };

/** Parses `--since`/`--until` before the store is opened (a malformed one is a usage error). */
function parsePoint(text: string, what: string): Point {
  if (/^\d+$/.test(text)) return { seq: Number(text) };
  const ts = Date.parse(text);
  if (!Number.isNaN(ts)) return { ts };
  try {
    return { ts: Date.now() - parseDuration(text) };
  } catch {
    throw usageError(
      `${what} ${JSON.stringify(text)} is not a seq, a time (2026-11-23T10:00:00Z) or a duration (10m)`,
      { value: text },
    );
  }
}

/**
 * A point in the journal: a seq, an RFC 3339 time, or a duration before now (`10m`).
 * Returns the seq to read after (exclusive), or undefined when nothing is there yet.
 */
async function resolvePoint(ctx: CliContext, point: Point): Promise<number> {
  if ('seq' in point) return point.seq;
  const store = await ctx.open();
  const first = await store.events.firstSeqAt(point.ts);
  return first === undefined ? await store.events.lastSeq() : first - 1;
}

function eventFilter(filters: readonly string[]): (e: BerthEvent) => boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const [key, value] = parseKeyValue(f, 'filter');
    if (!['type', 'namespace', 'subject'].includes(key)) {
      throw usageError(`unknown event filter ${JSON.stringify(key)}; use type, namespace or subject`, {
        filter: f,
      });
    }
    byKey.set(key, [...(byKey.get(key) ?? []), value]);
  }
  const tests: Record<string, (e: BerthEvent, v: string) => boolean> = {
    type: (e, v) => eventTypeMatcher([v])(e.type),
    namespace: (e, v) => e.namespace === v,
    subject: (e, v) => e.subject.name === v || e.subject.id === v || (e.subject.id?.startsWith(v) ?? false),
  };
  return (e) => [...byKey].every(([k, values]) => values.some((v) => tests[k]!(e, v)));
}

function eventLine(ctx: CliContext, e: BerthEvent): string {
  // Lock ids are printed whole: force-unlock and state unlock take only the exact id.
  const id = e.subject.id && e.subject.kind !== 'lock' ? e.subject.id.slice(0, 12) : e.subject.id;
  const subject = [e.subject.name, e.subject.id && e.subject.id !== e.subject.name ? `(${id})` : '']
    .filter(Boolean)
    .join(' ');
  const ns = e.namespace ? ` ns=${e.namespace}` : '';
  let extra = '';
  if (e.type === 'lock.force_unlock') {
    const lock = e.data.lock as { who?: string; operation?: string; staleReason?: string } | undefined;
    const holder = (e.data.holder as string | undefined) ?? lock?.who ?? 'unknown';
    extra = ` (broke ${holder}'s ${lock?.operation ? `"${lock.operation}" ` : ''}lock, ${e.data.stale ? `stale: ${lock?.staleReason ?? 'yes'}` : 'not stale'})`;
  }
  return `${paint(ctx.colour, 'dim', `${e.seq}`)} ${e.ts} ${paint(ctx.colour, 'bold', e.type)} ${subject}${ns}${extra} by ${e.actor}`;
}

export interface EventsOptions {
  since?: string;
  until?: string;
  filter?: string[];
  follow?: boolean;
}

/** `berth events`: the journal, optionally followed (one JSON object per line with --format json). */
export async function events(ctx: CliContext, opts: EventsOptions): Promise<void> {
  const matches = eventFilter(opts.filter ?? []);
  const sincePoint = opts.since !== undefined ? parsePoint(opts.since, '--since') : undefined;
  const untilPoint = opts.until !== undefined ? parsePoint(opts.until, '--until') : undefined;
  const store = await ctx.open();
  const since = sincePoint !== undefined ? await resolvePoint(ctx, sincePoint) : opts.follow ? undefined : 0;
  const until = untilPoint !== undefined ? await resolvePoint(ctx, untilPoint) : undefined;
  if (opts.follow && until === undefined) {
    const ctl = new AbortController();
    const stop = (): void => ctl.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // An outage of the store (a restarted PostgreSQL server) is waited out, as `podman
    // events` waits: one note per outage on stderr, and the stream resumes after the last
    // event printed, so nothing is skipped or printed twice.
    let waiting = false;
    const onRetry = (err: BerthError, attempt: number): void => {
      if (attempt !== 1) return;
      waiting = true;
      ctx.note(`berth: ${err.message}; waiting for the store to come back (Ctrl-C to stop)`);
    };
    try {
      for await (const e of store.events.follow({
        ...(since !== undefined ? { since } : {}),
        signal: ctl.signal,
        onRetry,
      })) {
        if (waiting) {
          waiting = false;
          ctx.note('berth: the store is back; resuming');
        }
        if (!matches(e)) continue;
        ctx.out(ctx.json ? JSON.stringify(e) : eventLine(ctx, e));
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return;
  }
  const list = (await store.events.list({ since: since ?? 0, ...(until !== undefined ? { until } : {}) })).filter(
    matches,
  );
  if (ctx.json) return ctx.printJson(list);
  for (const e of list) ctx.out(eventLine(ctx, e));
}
