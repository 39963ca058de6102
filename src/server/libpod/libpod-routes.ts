import type { BerthEvent } from '../../engine/types.js';
import type { Store } from '../../store.js';
import { BERTH_VERSION } from '../../version.js';
import { HttpError } from '../http-error.js';
import type { ErrorShape } from '../http-response.js';
import type { RequestContext, RouteHandler } from '../request-context.js';
import { execEventName, streamDockerEvents, type EventName } from '../docker/docker-events.js';
import { countContainers } from '../docker/docker-shapes.js';
import {
  booleanParam,
  DOCKER_API_VERSION,
  LIBPOD_API_VERSION,
  limitParam,
  listedVolumes,
  parseFilters,
  pathSegment,
  readOnlyRefusal,
  sendPing,
  sendApiJson,
  withoutVersion,
} from '../docker/engine-api.js';
import {
  libpodInfo,
  libpodVersion,
  toLibpodContainer,
  toLibpodContainerSummary,
  toLibpodPod,
  toLibpodPodSummary,
  toLibpodVolume,
} from './libpod-shapes.js';

/*
 * podman's libpod API, read subset (4.3), so that `podman --url … ps -a --pod`,
 * `pod ps`, `volume ls`, `inspect` and `events` read the store:
 *
 *   HEAD|GET /libpod/_ping                   OK, with Libpod-API-Version
 *   GET /libpod/info, /libpod/version
 *   GET /libpod/containers/json              all, limit, filters (podman's ps filters)
 *   GET /libpod/containers/{ref}/json|exists
 *   GET /libpod/pods/json, /libpod/pods/{ref}/json|exists
 *   GET /libpod/volumes/json, /libpod/volumes/{name}/json|exists
 *   GET /libpod/events                       since, until (times), filters, stream
 *
 * each with or without a /vX.Y.Z prefix. Every other path is a 404 and every write a
 * 405, as {"cause", "message", "response"}: podman reads the status from `response`.
 */

/** Headers of every libpod answer. */
const HEADERS: Record<string, string> = {
  'libpod-api-version': LIBPOD_API_VERSION,
  'api-version': DOCKER_API_VERSION,
  'libpod-buildah-version': '',
  server: `berth/${BERTH_VERSION}`,
};

/** Whether a path (without its version prefix) is libpod's. */
function isLibpodPath(path: string): boolean {
  return path === '/libpod' || path.startsWith('/libpod/');
}

/**
 * libpod's error shape for a path of the libpod API, else undefined: podman's client reads
 * the status from `response`, and goes on to the next object kind only on a 404 there.
 */
export function libpodErrorShape(path: string): ErrorShape | undefined {
  return isLibpodPath(withoutVersion(path)) ? LIBPOD_ERRORS : undefined;
}

const LIBPOD_ERRORS: ErrorShape = {
  body: ({ code, message }, status) => ({ cause: causeOf(code), message, response: status }),
  headers: HEADERS,
};

/** podman's short cause of an error code (`NO_SUCH_POD` → `no such pod`), as libpod's error table words them. */
function causeOf(code: string): string {
  return code.toLowerCase().replaceAll('_', ' ');
}

/** podman's event types, and the statuses berth's verbs become; other events are not podman's to show. */
const PODMAN_EVENTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  container: { create: 'create', remove: 'remove', rename: 'rename', exit: 'died', update: 'update' },
  pod: { create: 'create', remove: 'remove' },
  volume: { create: 'create', remove: 'remove' },
  network: { connect: 'connect', disconnect: 'disconnect' },
  store: { refresh: 'refresh' },
  exec: { create: 'exec', remove: 'exec_died' },
};

/**
 * podman's type and status of a journal event, or undefined when podman has no such event
 * (its client drops, and 4.3's crashes on, a type or status it does not know).
 */
export function libpodEventNaming(ev: BerthEvent): EventName | undefined {
  const at = ev.type.indexOf('.');
  const kind = ev.type.slice(0, at);
  const action = PODMAN_EVENTS[kind]?.[ev.type.slice(at + 1)];
  if (at < 0 || action === undefined) return undefined;
  // podman's client requires the exit code on every event, as its server always sends one.
  const code = typeof ev.data.code === 'number' ? ev.data.code : 0;
  if (kind === 'exec') {
    const exec = execEventName(ev, action);
    return exec && { ...exec, attributes: { ...exec.attributes, containerExitCode: '0' }, status: true };
  }
  return {
    type: kind === 'store' ? 'system' : kind,
    action,
    attributes: { containerExitCode: String(code) },
    status: true,
  };
}

/** The ids, names and podman states of containers, by id. */
async function containerStates(
  store: Store,
  filters: Record<string, string[]>,
): Promise<Map<string, { name: string; state: string }>> {
  const list = await store.listContainers({ filters, fields: ['name', 'state'] });
  return new Map(list.map((c) => [c.id, { name: c.name, state: c.state }]));
}

/** Options of the libpod routes. */
export interface LibpodRouteOptions {
  /** How often a followed event stream polls the journal. */
  pollMs: number;
}

/** The libpod API routes over `store`; paths outside /libpod are left to the next family. */
export function libpodRoutes(store: Store, opts: LibpodRouteOptions): RouteHandler {
  const inspectContainer = async (ref: string): Promise<unknown> => {
    const ctr = await store.lookupContainer(ref);
    const [listed] = await store.listContainers({ filters: { id: [ctr.config.id] }, fields: ['state'] });
    return toLibpodContainer(ctr, listed?.state ?? 'unknown', await store.getContainerExecSessions(ctr));
  };
  const inspectPod = async (ref: string): Promise<unknown> => {
    const pod = await store.lookupPod(ref);
    const [listed] = await store.listPods({ filters: { id: [pod.config.id] } });
    const states = await containerStates(store, { pod: [pod.config.id] });
    const members = (listed?.containers ?? [...states.keys()]).map((id) => ({
      id,
      name: states.get(id)?.name ?? '',
      state: states.get(id)?.state ?? 'unknown',
    }));
    return toLibpodPod(pod, listed?.status ?? 'Created', members);
  };
  const reads: [RegExp, (ctx: RequestContext, ref: string) => Promise<unknown>][] = [
    [
      /^\/info$/,
      async () => {
        const [summaries, pods, volumes] = await Promise.all([
          store.listContainers({ fields: ['status'] }),
          store.listPods(),
          store.listVolumes(),
        ]);
        return libpodInfo(countContainers(summaries), pods.length, volumes.length, store.location);
      },
    ],
    [/^\/version$/, async () => libpodVersion()],
    [
      /^\/containers\/json$/,
      async ({ url }) => {
        // `namespace`, `pod`, `sync` and `external` are podman's own switches: `namespace` asks
        // for podman's kernel namespaces, never a berth namespace; the rest change nothing here.
        // podman's client sends its --last N as `last`; other clients of libpod send `limit`.
        const limit = limitParam(url, 'last') ?? limitParam(url);
        const list = await store.listContainers({
          all: booleanParam(url, 'all') || limit !== undefined,
          filters: parseFilters(url.searchParams.get('filters')),
          ...(limit !== undefined ? { limit } : {}),
        });
        // berth keeps no sizes: asked for them (`ps --size`), podman's client still needs the field.
        const size = booleanParam(url, 'size') ? { rootFsSize: 0, rwSize: 0 } : null;
        return list.map((c) => ({ ...toLibpodContainerSummary(c), Size: size }));
      },
    ],
    [/^\/containers\/([^/]+)\/json$/, (_ctx, ref) => inspectContainer(ref)],
    [
      /^\/pods\/json$/,
      async ({ url }) => {
        const pods = await store.listPods({ filters: parseFilters(url.searchParams.get('filters')) });
        if (pods.length === 0) return [];
        const states = await containerStates(store, { pod: pods.map((p) => p.id) });
        return pods.map((p) => toLibpodPodSummary(p, states));
      },
    ],
    [/^\/pods\/([^/]+)\/json$/, (_ctx, ref) => inspectPod(ref)],
    [
      /^\/volumes\/json$/,
      async ({ url }) =>
        (await listedVolumes(store, parseFilters(url.searchParams.get('filters')))).map(toLibpodVolume),
    ],
    [/^\/volumes\/([^/]+)\/json$/, async (_ctx, ref) => toLibpodVolume(await store.lookupVolume(ref))],
  ];
  const exists: [RegExp, (ref: string) => Promise<unknown>][] = [
    [/^\/containers\/([^/]+)\/exists$/, (ref) => store.lookupContainer(ref)],
    [/^\/pods\/([^/]+)\/exists$/, (ref) => store.lookupPod(ref)],
    [/^\/volumes\/([^/]+)\/exists$/, (ref) => store.lookupVolume(ref)],
  ];

  return async (ctx) => {
    const { req, res } = ctx;
    const path = withoutVersion(ctx.path);
    if (!isLibpodPath(path)) return false;
    const rest = path.slice('/libpod'.length) || '/';
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') throw readOnlyRefusal(method, path, 'libpod');
    if (rest === '/_ping') {
      sendPing(res, method, HEADERS);
      return true;
    }
    if (rest === '/events') {
      const follow = booleanParam(ctx.url, 'stream', true);
      await streamDockerEvents(store, ctx, libpodEventNaming, HEADERS, { pollMs: opts.pollMs, follow });
      return true;
    }
    for (const [pattern, check] of exists) {
      const m = pattern.exec(rest);
      if (m) {
        await check(pathSegment(m[1]!));
        res.writeHead(204, HEADERS);
        res.end();
        return true;
      }
    }
    for (const [pattern, read] of reads) {
      const m = pattern.exec(rest);
      if (m) {
        sendApiJson(res, await read(ctx, m[1] === undefined ? '' : pathSegment(m[1])), HEADERS);
        return true;
      }
    }
    throw new HttpError(
      404,
      'NOT_FOUND',
      `page not found: berth serves the libpod API's reads of containers, pods, volumes and events only (GET ${path})`,
    );
  };
}
