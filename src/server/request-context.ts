import type { IncomingMessage, ServerResponse } from 'node:http';

/*
 * What `berth serve` hands each family of routes (berth's own /v1, and the protocol
 * adapters to come): the exchange, the parsed target, and the server's limits.
 */

/** Who sent a request, as far as the transport can tell. */
export interface RequestClient {
  /** The client's address: an IP for TCP and TLS, `unix:PATH` for the unix socket. */
  readonly address: string;
  /**
   * Its name, when the server checked it: the common name of a verified client
   * certificate, else the basic-auth user name sent with the right token.
   */
  readonly user?: string;
  /**
   * The server checked who may send it: a token, a client certificate, or the unix socket
   * (0600: only berth serve's own user can connect).
   */
  readonly authenticated: boolean;
}

/** One request as the route families see it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The path without trailing slashes (`/` for the root). */
  readonly path: string;
  /** The largest request body the server accepts (`--max-body`). */
  readonly maxBodyBytes: number;
  /** Aborted when the server shuts down: streams end, uploads are cut off. */
  readonly signal: AbortSignal;
  readonly client: RequestClient;
}

/**
 * A family of routes: answers the request and resolves true, or resolves false when
 * the path is not one of its own. A thrown error is answered as a JSON error.
 */
export type RouteHandler = (ctx: RequestContext) => Promise<boolean>;
