import type { BerthEvent } from '../../engine/types.js';
import { BerthError } from '../../errors.js';
import type { Store } from '../../store.js';
import type { RequestContext } from '../request-context.js';
import { drained } from '../http-response.js';
import { parseFilters } from './engine-api.js';

/*
 * `GET /events` (Docker) and `GET /libpod/events`: berth's journal as the JSON stream of
 * Docker's events messages, which podman's client reads too. `since` and `until` are
 * times (Unix seconds, with a fraction, or RFC 3339), as the clients send them; they are
 * turned into journal seqs through the store. Without `until` the stream follows the
 * journal until the client leaves.
 */

/** One message of Docker's event stream (`events.Message`). */
export interface DockerEventMessage {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

/** An API's type and action of a berth event, and attributes of its own. */
export interface EventName {
  type: string;
  action: string;
  attributes?: Record<string, string>;
  /** The actor, when it is not the event's subject (an exec session's container). */
  actorId?: string;
  /** Send the legacy `status` field (Docker does for containers only; podman's client reads it on every event). */
  status?: boolean;
}

/** How an API names a berth event, or undefined to leave the event out. */
export type EventNaming = (ev: BerthEvent) => EventName | undefined;

/**
 * An exec session's event as its container's (both APIs report exec sessions on the
 * container, with the session's id as `execID`), or undefined for another event.
 */
export function execEventName(ev: BerthEvent, action: string): EventName | undefined {
  if (ev.subject.kind !== 'exec' || typeof ev.data.container !== 'string') return undefined;
  return { type: 'container', action, actorId: ev.data.container, attributes: { execID: ev.subject.id ?? '' } };
}

/** A journal event as a Docker events message. */
export function toEventMessage(ev: BerthEvent, naming: EventName): DockerEventMessage {
  const ms = Date.parse(ev.ts);
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(ev.data ?? {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[k] = String(v);
  }
  if (ev.subject.name !== undefined) attributes.name = ev.subject.name;
  if (ev.namespace !== '') attributes['berth.namespace'] = ev.namespace;
  attributes['berth.seq'] = String(ev.seq);
  attributes['berth.actor'] = ev.actor;
  Object.assign(attributes, naming.attributes);
  const id = naming.actorId ?? ev.subject.id ?? ev.subject.name ?? '';
  return {
    ...((naming.status ?? naming.type === 'container') ? { status: naming.action } : {}),
    ...(naming.type === 'container' ? { id } : {}),
    Type: naming.type,
    Action: naming.action,
    Actor: { ID: id, Attributes: attributes },
    scope: 'local',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1_000_000,
  };
}

/** Milliseconds of each unit of a Go duration. */
const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A time parameter in milliseconds since the epoch: Unix seconds (`1700000000`,
 * `1700000000.123456789`), as the docker CLI sends them; a Go duration back from now
 * (`10m`, `1h30m`), as podman's client passes the user's words on; or an RFC 3339 time.
 * @throws INVALID_ARGUMENT for anything else
 */
export function parseEventTime(value: string | null, name: string, now = Date.now()): number | undefined {
  if (value === null || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.floor(Number(value) * 1000);
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
      ms += Number(n) * DURATION_UNITS[unit!]!;
    return Math.floor(now - ms);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `${name}=${value} is not a time; send Unix seconds (e.g. ${Math.floor(now / 1000)}), a duration back from now (10m) or an RFC 3339 time`,
    );
  }
  return ms;
}

/** The event filters both APIs take: by type, action, object and label. */
const FILTER_KEYS = ['type', 'event', 'action', 'container', 'pod', 'volume', 'network', 'label'] as const;

/** Does a message pass the `filters` (each key: any of its values)? */
function passes(msg: DockerEventMessage, filters: Record<string, string[]>): boolean {
  const attr = msg.Actor.Attributes;
  const names = [msg.Actor.ID, attr.name ?? ''];
  const object = (type: string, values: string[]): boolean =>
    msg.Type === type && values.some((v) => names.includes(v) || (v.length >= 3 && msg.Actor.ID.startsWith(v)));
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const ok =
      key === 'type'
        ? values.includes(msg.Type)
        : key === 'event' || key === 'action'
          ? values.includes(msg.Action)
          : key === 'label'
            ? values.some((v) => {
                const at = v.indexOf('=');
                return at < 0 ? v in attr : attr[v.slice(0, at)] === v.slice(at + 1);
              })
            : object(key, values);
    if (!ok) return false;
  }
  return true;
}

/**
 * Streams the journal as Docker events messages, one JSON document a line.
 * @throws INVALID_ARGUMENT for a malformed since, until or filter; the store's faults before the stream opens
 */
export async function streamDockerEvents(
  store: Store,
  ctx: RequestContext,
  naming: EventNaming,
  headers: Record<string, string>,
  opts: { pollMs: number; follow?: boolean },
): Promise<void> {
  const { req, res, url } = ctx;
  const asked = Date.now();
  const sinceMs = parseEventTime(url.searchParams.get('since'), 'since', asked);
  const untilMs = parseEventTime(url.searchParams.get('until'), 'until', asked);
  const filters = parseFilters(url.searchParams.get('filters'));
  for (const key of Object.keys(filters)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      throw new BerthError('INVALID_ARGUMENT', `invalid filter '${key}'; events filter on ${FILTER_KEYS.join(', ')}`);
    }
  }
  // The journal's seq just before a time: events at or after it come after this seq.
  const seqBefore = async (ms: number): Promise<number> => {
    const first = await store.events.firstSeqAt(ms);
    return first === undefined ? await store.events.lastSeq() : first - 1;
  };
  let since = sinceMs === undefined ? await store.events.lastSeq() : await seqBefore(sinceMs);
  const now = Date.now();
  const backlog =
    sinceMs === undefined
      ? []
      : await store.events.list({
          since,
          ...(untilMs !== undefined && untilMs < now ? { until: await seqBefore(untilMs + 1) } : {}),
        });
  res.writeHead(200, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.flushHeaders();
  const send = (ev: BerthEvent): boolean => {
    if (untilMs !== undefined && Date.parse(ev.ts) > untilMs) return true;
    const named = naming(ev);
    if (named === undefined) return true;
    const msg = toEventMessage(ev, named);
    return passes(msg, filters) ? res.write(JSON.stringify(msg) + '\n') : true;
  };
  for (const ev of backlog) {
    send(ev);
    since = ev.seq;
  }
  const follow = (opts.follow ?? true) && (untilMs === undefined || untilMs >= now);
  if (!follow) {
    res.end();
    return;
  }
  const ctl = new AbortController();
  const stop = (): void => ctl.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  req.on('close', stop);
  res.on('close', stop);
  // With `until` ahead, the stream ends when that time comes, as Docker's does.
  const timer = untilMs === undefined ? undefined : setTimeout(stop, untilMs - now + 1);
  try {
    for await (const ev of store.events.follow({ since, signal: ctl.signal, pollMs: opts.pollMs })) {
      if (untilMs !== undefined && Date.parse(ev.ts) > untilMs) break;
      if (!send(ev)) {
        // A slow reader: wait for its socket to drain instead of buffering without bound.
        await drained(res, ctl.signal);
      }
    }
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', stop);
    res.end();
  }
}
