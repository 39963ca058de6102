import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../store.js';
import type { BerthEvent } from '../engine/types.js';
import { BerthError, type ErrorCode } from '../errors.js';

/*
 * berth's HTTP API (Node's own http): the state snapshot, the event stream (NDJSON or
 * Server-Sent Events, resumable by seq), object listings, and force-unlock.
 */

export interface ServeOptions {
  host: string;
  port: number;
  /** Bearer token; required when listening off loopback. */
  token?: string;
  /** Interval of keep-alive heartbeats on event streams (default 15 s). */
  heartbeatMs?: number;
  /** How often a stream polls the journal for new events (default 100 ms). */
  pollMs?: number;
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  NO_SUCH_CONTAINER: 404,
  NO_SUCH_POD: 404,
  NO_SUCH_VOLUME: 404,
  NO_SUCH_WORKSPACE: 404,
  NOT_LOCKED: 404,
  LOCK_ID_MISMATCH: 409,
  LOCKED: 409,
  INVALID_ARGUMENT: 400,
  EMPTY_ID: 400,
  STORE_BUSY: 503,
  STORE_CLOSED: 503,
};

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Constant-time token comparison (over digests, so lengths leak nothing either). */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e =
    err instanceof BerthError
      ? err
      : new BerthError('INTERNAL', `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
  const status = HTTP_STATUS[e.code] ?? (e.code === 'INTERNAL' ? 500 : 400);
  if (!res.headersSent) sendJson(res, status, { error: e.toJSON() });
  else res.destroy();
}

function parseSeq(value: string | null | undefined, what: string): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw new BerthError('INVALID_ARGUMENT', `${what} must be an event sequence number, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BerthError('INVALID_ARGUMENT', `request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BerthError('INVALID_ARGUMENT', 'request body is not JSON; send {"lockId": "..."}');
  }
}

/** A running server; `close()` stops streams and waits for requests to finish. */
export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the HTTP API on `host:port`.
 * @throws INVALID_ARGUMENT when listening off loopback without a token
 */
export async function startServer(store: Store, opts: ServeOptions): Promise<RunningServer> {
  if (!isLoopback(opts.host) && !opts.token) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `listening on ${opts.host} exposes the store beyond this machine; set a bearer token with --token or BERTH_TOKEN`,
    );
  }
  const streams = new Set<AbortController>();
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const pollMs = opts.pollMs ?? 100;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (opts.token) {
      const auth = req.headers.authorization ?? '';
      const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!tokenMatches(given, opts.token)) {
        res.setHeader('www-authenticate', 'Bearer');
        sendJson(res, 401, {
          error: {
            code: 'UNAUTHORIZED',
            message: 'missing or wrong bearer token; send Authorization: Bearer <token>',
            details: {},
          },
        });
        return;
      }
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://berth');
    } catch {
      throw new BerthError('INVALID_ARGUMENT', `the request path ${JSON.stringify(req.url)} is not a valid URL path`);
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method === 'GET') {
      switch (path) {
        case '/v1/state':
          return sendJson(res, 200, await store.snapshot());
        case '/v1/containers':
          return sendJson(res, 200, await store.allContainers());
        case '/v1/pods':
          return sendJson(res, 200, await store.allPods());
        case '/v1/volumes':
          return sendJson(res, 200, await store.allVolumes());
        case '/v1/workspaces':
          return sendJson(res, 200, await store.workspaces.list());
        case '/v1/locks':
          return sendJson(res, 200, await store.locks.list());
        case '/v1/events':
          return streamEvents(req, res, url);
        case '/v1/health':
          return sendJson(res, 200, { ok: true, seq: await store.events.lastSeq() });
      }
    }
    const unlock = /^\/v1\/locks\/(.+)\/force-unlock$/.exec(path);
    if (unlock && req.method === 'POST') {
      const body = (await readBody(req)) as { lockId?: unknown } | null;
      if (typeof body !== 'object' || body === null || typeof body.lockId !== 'string' || body.lockId === '') {
        throw new BerthError('INVALID_ARGUMENT', 'send the exact id of the lock to break: {"lockId": "..."}');
      }
      let key: string;
      try {
        key = decodeURIComponent(unlock[1]!);
      } catch {
        throw new BerthError('INVALID_ARGUMENT', 'the lock key in the path is not valid percent-encoding');
      }
      const removed = await store.locks.forceUnlock(key, body.lockId);
      return sendJson(res, 200, { removed });
    }
    sendJson(res, path.startsWith('/v1/') ? 404 : 404, {
      error: {
        code: 'NOT_FOUND',
        message: `no ${req.method} ${path}; see GET /v1/state, /v1/events, /v1/containers, /v1/pods, /v1/volumes, /v1/workspaces, /v1/locks, POST /v1/locks/{key}/force-unlock`,
        details: {},
      },
    });
  }

  async function streamEvents(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
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

    res.writeHead(200, {
      'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // Send the headers now: a client must see the stream open before the first event.
    res.flushHeaders();
    if (since < (await store.events.prunedThrough())) {
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
      for (const ev of await store.events.list({ since, ...(until !== undefined ? { until } : {}), types }))
        write(ev, ev.seq);
      res.end();
      return;
    }
    const ctl = new AbortController();
    streams.add(ctl);
    const stop = (): void => ctl.abort();
    req.on('close', stop);
    res.on('close', stop);
    const heartbeat = setInterval(() => {
      res.write(sse ? ': heartbeat\n\n' : '\n');
    }, heartbeatMs);
    try {
      for await (const ev of store.events.follow({ since, signal: ctl.signal, pollMs, types })) {
        if (!write(ev, ev.seq)) {
          // A slow reader: wait for its socket to drain instead of buffering without bound.
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done);
              ctl.signal.removeEventListener('abort', done);
              resolve();
            };
            res.once('drain', done);
            ctl.signal.addEventListener('abort', done, { once: true });
          });
        }
      }
    } finally {
      clearInterval(heartbeat);
      streams.delete(ctl);
      res.end();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new BerthError(
          'INVALID_ARGUMENT',
          `cannot listen on ${opts.host}:${opts.port}: ${err.message}; choose another --listen address`,
          {
            cause: err,
          },
        ),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}`,
    close: async () => {
      for (const s of streams) s.abort();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
