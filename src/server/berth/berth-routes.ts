import type { Static } from '@sinclair/typebox';
import type { Store } from '../../store.js';
import { BerthError } from '../../errors.js';
import { HttpError } from '../http-error.js';
import { sendJson } from '../http-response.js';
import { readJsonBody } from '../request-body.js';
import type { RouteHandler } from '../request-context.js';
import { streamEvents, type EventStreamOptions } from './event-stream.js';

/*
 * berth's own API under /v1: the state snapshot, object listings, workspaces, locks,
 * health, the event stream, and force-unlock. Every answer is a store call's result.
 */

const ROUTES =
  'GET /v1/state, /v1/events, /v1/containers, /v1/pods, /v1/volumes, /v1/workspaces, /v1/locks, /v1/health, POST /v1/locks/{key}/force-unlock';

/** The GET routes that answer one store read as JSON. */
const READS = new Map<string, (store: Store) => Promise<unknown>>([
  ['/v1/state', (store) => store.snapshot()],
  ['/v1/containers', (store) => store.allContainers()],
  ['/v1/pods', (store) => store.allPods()],
  ['/v1/volumes', (store) => store.allVolumes()],
  ['/v1/workspaces', (store) => store.workspaces.list()],
  ['/v1/locks', (store) => store.locks.list()],
  ['/v1/health', async (store) => ({ ok: true, seq: await store.events.lastSeq() })],
]);

/** The /v1 routes over `store`; every other /v1 path is a 404 that lists them. */
export function berthRoutes(store: Store, opts: EventStreamOptions): RouteHandler {
  return async (ctx) => {
    const { req, res, path } = ctx;
    if (path !== '/v1' && !path.startsWith('/v1/')) return false;
    const read = req.method === 'GET' ? READS.get(path) : undefined;
    if (read) {
      sendJson(res, 200, await read(store));
      return true;
    }
    if (req.method === 'GET' && path === '/v1/events') {
      await streamEvents(store, ctx, opts);
      return true;
    }
    const unlock = /^\/v1\/locks\/(.+)\/force-unlock$/.exec(path);
    if (unlock && req.method === 'POST') {
      const body = await readJsonBody(ctx, '{"lockId": "..."}');
      // Loaded here, not with the routes: requests without a body never load the schema library.
      const [{ ForceUnlockBodySchema }, { schemaProblem, describeProblem }] = await Promise.all([
        import('../../schemas/force-unlock-body-schema.js'),
        import('../../schemas/schema-check.js'),
      ]);
      const problem = schemaProblem(ForceUnlockBodySchema, body);
      if (problem) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `send the exact id of the lock to break: {"lockId": "..."} (the body is ${body === undefined ? 'empty' : `wrong ${describeProblem(problem)}`})`,
          { details: { path: problem.path } },
        );
      }
      const { lockId } = body as Static<typeof ForceUnlockBodySchema>;
      let key: string;
      try {
        key = decodeURIComponent(unlock[1]!);
      } catch {
        throw new BerthError('INVALID_ARGUMENT', 'the lock key in the path is not valid percent-encoding');
      }
      sendJson(res, 200, { removed: await store.locks.forceUnlock(key, lockId) });
      return true;
    }
    throw new HttpError(404, 'NOT_FOUND', `no ${req.method} ${path}; see ${ROUTES}`);
  };
}
