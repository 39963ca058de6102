import type { IncomingMessage, ServerResponse } from 'node:http';

/*
 * What `berth serve` hands each family of routes (berth's own /v1, and the protocol
 * adapters to come): the exchange, the parsed target, and the server's limits.
 */

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
}

/**
 * A family of routes: answers the request and resolves true, or resolves false when
 * the path is not one of its own. A thrown error is answered as a JSON error.
 */
export type RouteHandler = (ctx: RequestContext) => Promise<boolean>;
