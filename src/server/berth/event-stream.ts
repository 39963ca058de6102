import type { Store } from '../../store.js';
import type { BerthEvent } from '../../engine/types.js';
import { BerthError } from '../../errors.js';
import type { RequestContext } from '../request-context.js';
import { drained } from '../http-response.js';

/*
 * GET /v1/events: the journal as NDJSON or Server-Sent Events, resumable by seq
 * (`since`, or SSE's Last-Event-ID), finite with `until` or `follow=false`.
 */

/** Timing of followed streams. */
export interface EventStreamOptions {
  /** Interval of keep-alive heartbeats. */
  heartbeatMs: number;
  /** How often a stream polls the journal for new events. */
  pollMs: number;
}

function parseSeq(value: string | null | undefined, what: string): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw new BerthError('INVALID_ARGUMENT', `${what} must be an event sequence number, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/**
 * Answers GET /v1/events; a followed stream runs until the client leaves or the server
 * shuts down (`ctx.signal`), and then ends cleanly, waiting out store outages on the way.
 * @throws INVALID_ARGUMENT for a malformed since, until or Last-Event-ID; STORE_UNAVAILABLE,
 *   STORE_BUSY before the stream opens
 */
export async function streamEvents(store: Store, ctx: RequestContext, opts: EventStreamOptions): Promise<void> {
  const { req, res, url } = ctx;
  const sse = (req.headers.accept ?? '').includes('text/event-stream') || url.searchParams.get('format') === 'sse';
  const since =
    parseSeq(url.searchParams.get('since'), 'since') ??
    parseSeq(req.headers['last-event-id'] as string | undefined, 'Last-Event-ID') ??
    (await store.events.lastSeq());
  const until = parseSeq(url.searchParams.get('until'), 'until');
  const follow = url.searchParams.get('follow') !== 'false' && until === undefined;
  const types = url.searchParams.getAll('type');
  const write = (ev: BerthEvent | Record<string, unknown>, id?: number): boolean =>
    res.write(
      sse ? `${id !== undefined ? `id: ${id}\n` : ''}data: ${JSON.stringify(ev)}\n\n` : JSON.stringify(ev) + '\n',
    );

  // Every read that can fail runs before the headers go out, so a store that cannot be
  // reached is a 503 with Retry-After, not a stream cut short.
  const pruned = since < (await store.events.prunedThrough());
  const finite =
    pruned || follow ? [] : await store.events.list({ since, ...(until !== undefined ? { until } : {}), types });
  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  // Send the headers now: a client must see the stream open before the first event.
  res.flushHeaders();
  if (pruned) {
    // The reader missed events that retention dropped: it must start from a snapshot.
    write({
      type: 'resync_required',
      since,
      message: 'events after this seq were pruned; GET /v1/state and resume from its seq',
    });
    res.end();
    return;
  }
  if (!follow) {
    for (const ev of finite) write(ev, ev.seq);
    res.end();
    return;
  }
  const ctl = new AbortController();
  const stop = (): void => ctl.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  req.on('close', stop);
  res.on('close', stop);
  const heartbeat = setInterval(() => {
    res.write(sse ? ': heartbeat\n\n' : '\n');
  }, opts.heartbeatMs);
  try {
    // A store outage is waited out inside follow (heartbeats go on); an SSE client is told
    // in a comment, which EventSource ignores. The stream resumes after the last event sent.
    const onRetry = (err: BerthError, attempt: number): void => {
      if (sse && attempt === 1) res.write(`: ${err.code}: waiting for the store to come back\n\n`);
    };
    for await (const ev of store.events.follow({ since, signal: ctl.signal, pollMs: opts.pollMs, types, onRetry })) {
      if (!write(ev, ev.seq)) {
        // A slow reader: wait for its socket to drain instead of buffering without bound.
        await drained(res, ctl.signal);
      }
    }
  } finally {
    clearInterval(heartbeat);
    ctx.signal.removeEventListener('abort', stop);
    res.end();
  }
}
