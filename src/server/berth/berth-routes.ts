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

/**
 * `GET /v1/containers`: every container as stored; with `filter=KEY=VALUE` (repeatable,
 * podman's keys), `sort`, `limit` or `running=true` the engine's listing selects them, and
 * `view=summary` answers its narrow summaries instead of the whole objects (`fields=a,b`
 * names the summary fields wanted; the id always comes).
 */
async function containers(store: Store, url: URL): Promise<unknown> {
  const p = url.searchParams;
  const view = p.get('view') ?? 'full';
  if (view !== 'full' && view !== 'summary') {
    throw new BerthError('INVALID_ARGUMENT', `view=${view} is not full or summary`, { details: { view } });
  }
  const fields = p.get('fields');
  if (fields !== null && view !== 'summary') {
    throw new BerthError('INVALID_ARGUMENT', 'fields= needs view=summary (whole objects have every field)', {
      details: { fields },
    });
  }
  const listed = p.has('filter') || p.has('sort') || p.has('limit') || p.has('running') || view === 'summary';
  if (!listed) return store.allContainers();
  const filters: Record<string, string[]> = {};
  for (const f of p.getAll('filter')) {
    const at = f.indexOf('=');
    if (at <= 0)
      throw new BerthError('INVALID_ARGUMENT', `filter ${JSON.stringify(f)} is not KEY=VALUE`, {
        details: { filter: f },
      });
    (filters[f.slice(0, at)] ??= []).push(f.slice(at + 1));
  }
  const limit = p.get('limit');
  if (limit !== null && !/^\d+$/.test(limit)) {
    throw new BerthError('INVALID_ARGUMENT', `limit=${limit} is not a whole number`, { details: { limit } });
  }
  const summaries = await store.listContainers({
    all: p.get('running') !== 'true',
    filters,
    ...(p.has('sort') ? { sort: p.get('sort') as never } : {}),
    ...(limit !== null ? { limit: Number(limit) } : {}),
    ...(fields !== null ? { fields: fields.split(',').filter((f) => f !== '') as never } : {}),
  });
  if (view === 'summary') return summaries;
  const all = new Map((await store.allContainers()).map((c) => [c.config.id, c]));
  return summaries.map((s) => all.get(s.id)).filter((c) => c !== undefined);
}

/** The GET routes that answer one store read as JSON. */
const READS = new Map<string, (store: Store, url: URL) => Promise<unknown>>([
  ['/v1/state', (store) => store.snapshot()],
  ['/v1/containers', containers],
  ['/v1/pods', (store) => store.allPods()],
  ['/v1/volumes', (store) => store.allVolumes()],
  ['/v1/workspaces', (store) => store.workspaces.list()],
  ['/v1/locks', (store) => store.locks.list()],
  ['/v1/health', async (store) => ({ ok: true, seq: await store.events.lastSeq() })],
]);

/** The handle a request reads through: `?namespace=NS` confines it (the server's own namespace bounds it). */
function scoped(store: Store, url: URL): Store {
  const ns = url.searchParams.get('namespace');
  return ns === null ? store : store.withNamespace(ns);
}

/** The /v1 routes over `store`; every other /v1 path is a 404 that lists them. */
export function berthRoutes(store: Store, opts: EventStreamOptions): RouteHandler {
  return async (ctx) => {
    const { req, res, path } = ctx;
    if (path !== '/v1' && !path.startsWith('/v1/')) return false;
    const read = req.method === 'GET' ? READS.get(path) : undefined;
    if (read) {
      sendJson(res, 200, await read(scoped(store, ctx.url), ctx.url));
      return true;
    }
    if (req.method === 'GET' && path === '/v1/events') {
      await streamEvents(scoped(store, ctx.url), ctx, opts);
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
