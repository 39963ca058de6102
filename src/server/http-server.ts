import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions } from 'node:https';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Store } from '../store.js';
import { BerthError } from '../errors.js';
import { berthRoutes } from './berth/berth-routes.js';
import { formatByteSize, MAX_BYTE_SIZE } from './byte-size.js';
import { HttpError, type HttpErrorCode } from './http-error.js';
import { sendError, type ErrorShape } from './http-response.js';
import { formatListenAddress, isReachableFromOtherMachines, type ListenAddress } from './listen-address.js';
import { bodyTooLarge, shuttingDown } from './request-body.js';
import type { RequestClient, RequestContext, RouteHandler } from './request-context.js';
import { dockerErrorShape, dockerRoutes } from './docker/docker-routes.js';
import { libpodErrorShape, libpodRoutes } from './libpod/libpod-routes.js';
import { terraformRoutes } from './terraform/terraform-routes.js';
import { secureServerOptions, type ServeTls } from './tls-options.js';
import { AUTH_CHALLENGES, isUsableToken, presentedToken, presentedUser, tokenMatches } from './token-auth.js';
import { claimSocketPath, listenOnSocket, removeSocket } from './unix-socket.js';

/*
 * `berth serve`'s transport (Node's own http and https): its listeners (TCP, TLS, unix
 * sockets), the token check, the body limit, a shutdown that drains what is in flight,
 * and the dispatch of each request to a family of routes. The routes themselves live in
 * one folder per protocol (`berth/` for berth's own /v1, `terraform/` for Terraform's
 * http state backend, `docker/` and `libpod/` for the Docker Engine and libpod APIs' reads).
 */

/** Where berth serve listens unless told otherwise. */
export const DEFAULT_LISTEN: ListenAddress & { kind: 'tcp' } = { kind: 'tcp', host: '127.0.0.1', port: 7483 };

/** The default `--max-body`: a Terraform state of thousands of resources fits. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 ** 2;

/**
 * The error shape of the protocol a request path belongs to, so that every refusal — the
 * token check, the body limit and a shutdown included — reaches its client in the words
 * it reads. berth's own shape otherwise.
 */
function errorShapeOf(target: string | undefined): ErrorShape | undefined {
  const path = (target ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
  return libpodErrorShape(path) ?? dockerErrorShape(path);
}

/** How long a shutdown waits for requests in flight before it cuts their connections. */
const DRAIN_MS = 5000;

/**
 * After answering a request whose body was not read to its end, what still arrives is
 * discarded for up to this long, or this much, before the connection is dropped: enough
 * for a client to read the answer (a reset would destroy it unread), little enough to
 * bound what a client can make the server take in vain.
 */
const CUT_OFF_GRACE_MS = 5000;
const CUT_OFF_MAX_BYTES = 64 * 1024 ** 2;

export interface ServeOptions {
  /** Addresses to listen on (default: 127.0.0.1:7483). */
  listen?: readonly ListenAddress[];
  /** One TCP host, when `listen` is not given (with `port`, 7483 by default). */
  host?: string;
  port?: number;
  /** The token every request must present; required when listening off loopback. */
  token?: string;
  /** Serve TLS on every TCP listener; required off loopback unless `insecureHttp`. */
  tls?: ServeTls;
  /** Allow plain HTTP off loopback (a TLS-terminating proxy in front of berth). */
  insecureHttp?: boolean;
  /** The largest request body accepted (default 64 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Interval of keep-alive heartbeats on event streams (default 15 s). */
  heartbeatMs?: number;
  /** How often a stream polls the journal for new events (default 100 ms). */
  pollMs?: number;
  /** How long a shutdown waits for requests in flight (default 5 s). */
  drainMs?: number;
  /**
   * The lease of a lock Terraform takes (`--terraform-lock-ttl`): past it without a state
   * write, the lock is shown stale. Default none: Terraform's locks never go stale.
   */
  terraformLockTtlMs?: number;
  /** Told about errors that are berth's own bugs (answered 500 INTERNAL), to log them. */
  onInternalError?: (err: unknown, req: IncomingMessage) => void;
}

/** A running server; `close()` ends streams, drains requests and releases every address. */
export interface RunningServer {
  /** The first listener. */
  server: NetServer;
  servers: NetServer[];
  /** The first listener's URL (`http://127.0.0.1:7483`, `https://…`, `unix:///…`). */
  url: string;
  urls: string[];
  /** Stops; `force` cuts the connections still draining at once. */
  close(opts?: { force?: boolean }): Promise<void>;
}

interface ServePlan {
  addresses: readonly ListenAddress[];
  token: string | undefined;
  secure: ServerOptions | undefined;
  maxBodyBytes: number;
}

function planServe(opts: ServeOptions): ServePlan {
  const addresses = opts.listen ?? [
    { kind: 'tcp', host: opts.host ?? DEFAULT_LISTEN.host, port: opts.port ?? DEFAULT_LISTEN.port },
  ];
  if (addresses.length === 0) throw new BerthError('INVALID_ARGUMENT', 'berth serve needs an address to listen on');
  const token = opts.token || undefined;
  if (token !== undefined && !isUsableToken(token)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      'the token holds a space, a control or a non-ASCII character, which an HTTP header cannot carry; use visible ASCII only (e.g. openssl rand -hex 32)',
    );
  }
  const ttl = opts.terraformLockTtlMs;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl < 1)) {
    throw new BerthError('INVALID_ARGUMENT', 'the Terraform lock lease must be a positive number of milliseconds');
  }
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > MAX_BYTE_SIZE) {
    throw new BerthError('INVALID_ARGUMENT', `the body limit must be 1 byte to ${formatByteSize(MAX_BYTE_SIZE)}`);
  }
  const exposed = addresses.filter(isReachableFromOtherMachines);
  const missing = [
    ...(token === undefined ? ['a token (BERTH_TOKEN or --token-file FILE)'] : []),
    ...(opts.tls === undefined && !opts.insecureHttp
      ? ['TLS (--tls-cert FILE --tls-key FILE; or --insecure-http if a TLS proxy in front of it terminates TLS)']
      : []),
  ];
  if (exposed.length > 0 && missing.length > 0) {
    // Off loopback a token in clear could be read on the wire, and the state with it.
    throw new BerthError(
      'INVALID_ARGUMENT',
      `--listen ${exposed.map(formatListenAddress).join(' --listen ')} opens the store to other machines, so berth serve needs ${missing.join(' and ')}`,
      { details: { listen: exposed.map(formatListenAddress) } },
    );
  }
  const secure = opts.tls === undefined ? undefined : secureServerOptions(opts.tls);
  return { addresses, token, secure, maxBodyBytes };
}

/**
 * Checks options as {@link startServer} would, without binding anything (so the CLI can
 * refuse before it opens a store).
 * @throws INVALID_ARGUMENT as {@link startServer}
 */
export function checkServeOptions(opts: ServeOptions): void {
  planServe(opts);
}

/** Who sent `req` on a listener of `address`; `tokenChecked` when the server required the token. */
function requestClient(req: IncomingMessage, address: ListenAddress, tokenChecked: boolean): RequestClient {
  const socket = req.socket as Partial<TLSSocket>;
  // True only for a client certificate the server asked for (--tls-client-ca) and verified.
  const certified = socket.authorized === true;
  const cn = certified ? socket.getPeerCertificate?.().subject?.CN : undefined;
  const user = (typeof cn === 'string' && cn) || (tokenChecked ? presentedUser(req.headers.authorization) : undefined);
  const from =
    address.kind === 'unix'
      ? `unix:${address.path}`
      : (req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return {
    address: from,
    ...(user ? { user } : {}),
    authenticated: tokenChecked || certified || address.kind === 'unix',
  };
}

function listenTcp(server: NetServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The URL of a listener once bound (port 0 resolved). */
function listenerUrl(server: NetServer, address: ListenAddress, secure: boolean): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return `${secure ? 'https' : 'http'}://${host}:${bound.port}`;
}

/**
 * Answers a request the HTTP parser refused (malformed, headers too large, too slow) with
 * berth's JSON error, as Node's default handler would answer with an empty body.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const pending = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message]: [number, HttpErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`];
  const body = JSON.stringify({ error: new HttpError(status, code, message).toJSON() });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * After answering a request whose body was not read to its end, discards what still
 * arrives until the body ends, or the grace time or byte budget runs out, and then drops
 * the connection. (No early FIN: Node's own client fails a request whose connection
 * half-closes while it is still sending, sometimes before it has read the answer.)
 */
function cutOff(req: IncomingMessage): void {
  const socket = req.socket;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > CUT_OFF_MAX_BYTES) socket.destroy();
  });
  req.resume();
  const timer = setTimeout(() => socket.destroy(), CUT_OFF_GRACE_MS).unref();
  req.once('end', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Starts berth's HTTP API on every address of `opts.listen` (nothing stays bound if one
 * of them fails).
 * @throws INVALID_ARGUMENT for an address off loopback without a token or TLS, a bad
 * token, certificate, key or limit, or an address that cannot be bound
 */
export async function startServer(store: Store, opts: ServeOptions): Promise<RunningServer> {
  const { addresses, token, secure, maxBodyBytes } = planServe(opts);
  const shutdown = new AbortController();
  const routes: RouteHandler[] = [
    terraformRoutes(store, { ...(opts.terraformLockTtlMs ? { lockTtlMs: opts.terraformLockTtlMs } : {}) }),
    berthRoutes(store, { heartbeatMs: opts.heartbeatMs ?? 15_000, pollMs: opts.pollMs ?? 100 }),
    libpodRoutes(store, { pollMs: opts.pollMs ?? 100 }),
    dockerRoutes(store, { pollMs: opts.pollMs ?? 100 }),
  ];
  const inFlight = new Set<ServerResponse>();
  const drainWaiters: (() => void)[] = [];
  // Every connection (cut at the end of a shutdown), and those speaking HTTP, after TLS if
  // any (closed at its start unless a response is under way on them).
  const sockets = new Set<Socket>();
  const httpSockets = new Set<Socket>();
  const track =
    (set: Set<Socket>) =>
    (socket: Socket): void => {
      set.add(socket);
      socket.once('close', () => set.delete(socket));
    };

  async function handle(req: IncomingMessage, res: ServerResponse, address: ListenAddress): Promise<void> {
    // A request on a kept-alive connection after shutdown began.
    if (shutdown.signal.aborted) throw shuttingDown();
    if (token !== undefined && !tokenMatches(presentedToken(req.headers.authorization), token)) {
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        'missing or wrong token; send Authorization: Bearer <token>, or the token as the password of basic auth',
        { headers: { 'www-authenticate': AUTH_CHALLENGES } },
      );
    }
    // Refused before reading: the client is told at once, and nothing is received in vain.
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://berth');
    } catch {
      throw new BerthError('INVALID_ARGUMENT', `the request path ${JSON.stringify(req.url)} is not a valid URL path`);
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const client = requestClient(req, address, token !== undefined);
    const ctx: RequestContext = { req, res, url, path, maxBodyBytes, signal: shutdown.signal, client };
    for (const route of routes) if (await route(ctx)) return;
    throw new HttpError(404, 'NOT_FOUND', `no ${req.method} ${path}; berth's API is under /v1 (GET /v1/health)`);
  }

  const onRequest =
    (address: ListenAddress) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      inFlight.add(res);
      res.once('close', () => {
        inFlight.delete(res);
        if (inFlight.size === 0) for (const wake of drainWaiters.splice(0)) wake();
      });
      res.once('finish', () => {
        if (!req.complete) cutOff(req);
      });
      handle(req, res, address).catch((err: unknown) => {
        if (sendError(res, err, errorShapeOf(req.url)).internal) opts.onInternalError?.(err, req);
      });
    };

  const listeners: { server: HttpServer | HttpsServer; url: string; socket?: { path: string; ino: number } }[] = [];
  // net.Server's own close stops listening and nothing more: http.Server's would also drop
  // every connection whose response was ended but not yet read by its client.
  const stopListening = (): Promise<unknown> =>
    Promise.all(
      listeners.map((l) => new Promise<void>((resolve) => NetServer.prototype.close.call(l.server, () => resolve()))),
    );
  try {
    for (const address of addresses) {
      const tls = secure !== undefined && address.kind === 'tcp';
      const answer = onRequest(address);
      const server = tls ? createHttpsServer(secure, answer) : createHttpServer(answer);
      // Handled like any request: the body is asked for (100 Continue) only when a route reads it.
      server.on('checkContinue', answer);
      server.on('clientError', answerClientError);
      server.on('connection', track(sockets));
      server.on(tls ? 'secureConnection' : 'connection', track(httpSockets));
      try {
        if (address.kind === 'unix') {
          await claimSocketPath(address.path);
          const ino = await listenOnSocket(server, address.path);
          listeners.push({ server, url: listenerUrl(server, address, false), socket: { path: address.path, ino } });
        } else {
          await listenTcp(server, address.host, address.port);
          listeners.push({ server, url: listenerUrl(server, address, tls) });
        }
      } catch (err) {
        if (err instanceof BerthError) throw err;
        throw new BerthError(
          'INVALID_ARGUMENT',
          `cannot listen on ${formatListenAddress(address)}: ${(err as Error).message}; choose another --listen address`,
          { cause: err },
        );
      }
      // Accept errors after this point (EMFILE) are passing: the listener keeps listening.
      server.on('error', () => undefined);
    }
  } catch (err) {
    await stopListening();
    throw err;
  }

  let closing: Promise<void> | undefined;
  let endDrain: (() => void) | undefined;
  const close = async ({ force = false } = {}): Promise<void> => {
    if (force) endDrain?.();
    closing ??= (async () => {
      shutdown.abort(); // streams end, uploads are cut off
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const stopped = stopListening();
      // Idle keep-alive connections and requests still arriving are closed now; the rest drain.
      const busy = new Set([...inFlight].map((res) => res.socket));
      for (const socket of httpSockets) if (!busy.has(socket)) socket.destroy();
      if (inFlight.size > 0) {
        // A ref'd timer bounds the wait and keeps the process alive until it is over.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, force ? 0 : (opts.drainMs ?? DRAIN_MS));
          endDrain = () => {
            clearTimeout(timer);
            resolve();
          };
          drainWaiters.push(endDrain);
        });
      }
      // Whatever is left (a client still uploading, a TLS handshake, a stalled reader) is cut.
      for (const socket of [...sockets, ...httpSockets]) socket.destroy();
      await stopped;
      for (const l of listeners) l.server.close(); // http's own clean-up (its timeout checks)
      for (const l of listeners) if (l.socket) removeSocket(l.socket.path, l.socket.ino);
    })();
    return closing;
  };

  return {
    server: listeners[0]!.server,
    servers: listeners.map((l) => l.server),
    url: listeners[0]!.url,
    urls: listeners.map((l) => l.url),
    close,
  };
}
