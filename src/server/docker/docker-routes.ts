import type { BerthEvent } from '../../engine/types.js';
import { BerthError, isBerthError } from '../../errors.js';
import type { Store } from '../../store.js';
import { BERTH_VERSION } from '../../version.js';
import { HttpError } from '../http-error.js';
import type { ErrorShape } from '../http-response.js';
import type { RequestContext, RouteHandler } from '../request-context.js';
import { execEventName, streamDockerEvents, type EventName } from './docker-events.js';
import {
  countContainers,
  dockerInfo,
  dockerVersion,
  STATUS_OF_DOCKER_STATE,
  toDockerContainer,
  toDockerContainerSummary,
  toDockerVolume,
} from './docker-shapes.js';
import {
  booleanParam,
  DOCKER_API_VERSION,
  limitParam,
  listedVolumes,
  parseFilters,
  pathSegment,
  readOnlyRefusal,
  sendPing,
  sendApiJson,
  withoutVersion,
} from './engine-api.js';

/*
 * The Docker Engine API's read subset (v1.41), so that `docker ps -a`, `docker inspect`,
 * `docker volume ls` and `docker events` read the store:
 *
 *   HEAD|GET /_ping            OK, with Api-Version
 *   GET /version, /info
 *   GET /containers/json       all, limit, filters (id, name, label, status, ancestor, before, since, volume, pod, …)
 *   GET /containers/{ref}/json by id, name or unique id prefix
 *   GET /volumes, /volumes/{name}
 *   GET /events                since, until (times), filters
 *
 * each with or without a /vX.Y prefix. Every other path is a 404 (so `docker inspect`
 * goes on to the next object kind) and every write a 405, in Docker's {"message"} shape.
 */

/** The first path segments of Docker's API: paths under them are Docker's, even without a version prefix. */
const DOCKER_ROOTS = new Set([
  '_ping',
  'version',
  'info',
  'containers',
  'images',
  'volumes',
  'networks',
  'events',
  'system',
  'plugins',
  'exec',
  'build',
  'auth',
  'swarm',
  'services',
  'tasks',
  'nodes',
  'secrets',
  'configs',
  'distribution',
  'session',
  'grpc',
  'commit',
]);

/** Headers of every Docker answer: the API version the docker CLI negotiates down to. */
const HEADERS: Record<string, string> = {
  'api-version': DOCKER_API_VERSION,
  'docker-experimental': 'false',
  ostype: 'linux',
  server: `berth/${BERTH_VERSION}`,
};

/**
 * The Docker API path of a request path without its version prefix, or undefined when the
 * path is not Docker's: a `/vX.Y` prefix, or a first segment of Docker's API (libpod's
 * paths are libpod's).
 */
function dockerPath(path: string): string | undefined {
  const rest = withoutVersion(path);
  if (rest === '/libpod' || rest.startsWith('/libpod/')) return undefined;
  if (rest === path && !DOCKER_ROOTS.has(path.split('/')[1] ?? '')) return undefined;
  return rest;
}

/** Docker's error shape (`{"message"}`) for a path of the Docker API, else undefined. */
export function dockerErrorShape(path: string): ErrorShape | undefined {
  return dockerPath(path) === undefined ? undefined : DOCKER_ERRORS;
}

const DOCKER_ERRORS: ErrorShape = { body: ({ message }) => ({ message }), headers: HEADERS };

/** Docker's type and action of a journal event (Docker's words where it has one). */
export function dockerEventNaming(ev: BerthEvent): EventName {
  const at = ev.type.indexOf('.');
  const kind = at < 0 ? ev.type : ev.type.slice(0, at);
  const verb = at < 0 ? '' : ev.type.slice(at + 1);
  if ((kind === 'container' || kind === 'volume' || kind === 'pod') && verb === 'remove')
    return { type: kind, action: 'destroy' };
  if (kind === 'container' && verb === 'exit') return { type: kind, action: 'die' };
  if (kind === 'exec') {
    const exec = execEventName(ev, verb === 'create' ? 'exec_create' : 'exec_die');
    if (exec) return exec;
  }
  return { type: kind, action: verb };
}

/** The container filters of a Docker request, in the listing's vocabulary; undefined when nothing can match. */
function containerFilters(url: URL): Record<string, string[]> | undefined {
  const filters = parseFilters(url.searchParams.get('filters'));
  if (filters.name) filters.name = filters.name.map((n) => n.replace(/^\//, ''));
  if (filters.status) {
    const words: string[] = [];
    for (const word of filters.status) {
      const mapped = Object.hasOwn(STATUS_OF_DOCKER_STATE, word) ? STATUS_OF_DOCKER_STATE[word] : undefined;
      if (mapped === undefined) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `invalid filter 'status=${word}'; the statuses are ${Object.keys(STATUS_OF_DOCKER_STATE).join(', ')}`,
        );
      }
      words.push(...mapped);
    }
    if (words.length === 0) return undefined;
    filters.status = words;
  }
  return filters;
}

/** The listing's status words of the containers Docker counts as running (`State.Running`). */
const RUNNING_STATUSES = ['running', 'stopping', 'paused'] as const;

/** `docker`'s own wording for a missing object: the CLI matches on the 404, people on the words. */
function notFound(err: unknown, kind: string, ref: string): unknown {
  if (isBerthError(err, 'NO_SUCH_CONTAINER') || isBerthError(err, 'NO_SUCH_VOLUME')) {
    return new HttpError(404, 'NOT_FOUND', `No such ${kind}: ${ref}`);
  }
  return err;
}

/** Options of the Docker routes. */
export interface DockerRouteOptions {
  /** How often a followed event stream polls the journal. */
  pollMs: number;
}

/** The Docker Engine API routes over `store`; paths that are not Docker's are left to the next family. */
export function dockerRoutes(store: Store, opts: DockerRouteOptions): RouteHandler {
  const reads: [RegExp, (ctx: RequestContext, m: RegExpExecArray) => Promise<unknown>][] = [
    [/^\/version$/, async () => dockerVersion()],
    [
      /^\/info$/,
      async () => dockerInfo(countContainers(await store.listContainers({ fields: ['status'] })), store.location),
    ],
    [
      /^\/containers\/json$/,
      async ({ url }) => {
        const filters = containerFilters(url);
        if (filters === undefined) return [];
        const limit = limitParam(url);
        // As Docker's: a limit or a status filter lists stopped containers too, and without
        // `all` the running ones are those Docker calls running, paused ones included.
        const all = booleanParam(url, 'all') || limit !== undefined || filters.status !== undefined;
        const list = await store.listContainers({
          all: true,
          filters: all ? filters : { ...filters, status: [...RUNNING_STATUSES] },
          ...(limit !== undefined ? { limit } : {}),
        });
        const now = Date.now();
        // berth keeps no sizes: asked for them (`ps --size`), they are 0.
        const size = booleanParam(url, 'size') ? { SizeRw: 0, SizeRootFs: 0 } : {};
        return list.map((c) => ({ ...toDockerContainerSummary(c, now), ...size }));
      },
    ],
    [
      /^\/containers\/([^/]+)\/json$/,
      async (_ctx, m) => {
        const ref = pathSegment(m[1]!).replace(/^\//, '');
        try {
          const ctr = await store.lookupContainer(ref);
          return toDockerContainer(ctr, await store.getContainerExecSessions(ctr));
        } catch (err) {
          throw notFound(err, 'container', ref);
        }
      },
    ],
    [
      /^\/volumes$/,
      async ({ url }) => ({
        Volumes: (await listedVolumes(store, parseFilters(url.searchParams.get('filters')))).map(toDockerVolume),
        Warnings: null,
      }),
    ],
    [
      /^\/volumes\/([^/]+)$/,
      async (_ctx, m) => {
        const ref = pathSegment(m[1]!);
        try {
          return toDockerVolume(await store.lookupVolume(ref));
        } catch (err) {
          throw notFound(err, 'volume', ref);
        }
      },
    ],
  ];

  return async (ctx) => {
    const { req, res } = ctx;
    const rest = dockerPath(ctx.path);
    if (rest === undefined) return false;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') throw readOnlyRefusal(method, rest, 'Docker Engine');
    if (rest === '/_ping') {
      sendPing(res, method, HEADERS);
      return true;
    }
    if (rest === '/events') {
      await streamDockerEvents(store, ctx, dockerEventNaming, HEADERS, opts);
      return true;
    }
    for (const [pattern, read] of reads) {
      const m = pattern.exec(rest);
      if (m) {
        sendApiJson(res, await read(ctx, m), HEADERS);
        return true;
      }
    }
    throw new HttpError(
      404,
      'NOT_FOUND',
      `page not found: berth serves the Docker Engine API's reads of containers, volumes and events only (GET ${rest})`,
    );
  };
}
