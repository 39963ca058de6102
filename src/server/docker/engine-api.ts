import type { ServerResponse } from 'node:http';
import type { Volume } from '../../engine/types.js';
import type { Store } from '../../store.js';
import { BerthError } from '../../errors.js';
import { HttpError } from '../http-error.js';

/*
 * What the Docker Engine API and podman's libpod API share on the wire, in one place for
 * both adapters: the versions and the optional version prefix, the `filters` parameter
 * (Docker's and podman's encodings), booleans and limits, JSON answers, the refusal of
 * writes, and the volume listing.
 */

/** The Docker Engine API version berth speaks (`Api-Version`). */
export const DOCKER_API_VERSION = '1.41';
/** The oldest Docker API version a client may ask for (`MinAPIVersion`). */
export const DOCKER_MIN_API_VERSION = '1.24';
/** The libpod API version berth speaks (`Libpod-API-Version`). */
export const LIBPOD_API_VERSION = '4.3.1';

/** A path with its `/vX.Y[.Z]` prefix taken off (`/v1.41/containers/json` → `/containers/json`). */
export function withoutVersion(path: string): string {
  const m = /^\/v\d+(?:\.\d+){1,2}(\/.*)?$/.exec(path);
  return m ? (m[1] ?? '/') : path;
}

/**
 * A `filters` parameter as lists of values per key: the docker CLI sends
 * `{"label":{"tier=db":true}}`, podman `{"label":["tier=db"]}`; both are accepted.
 * @throws INVALID_ARGUMENT for anything else
 */
export function parseFilters(text: string | null): Record<string, string[]> {
  if (text === null || text === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BerthError('INVALID_ARGUMENT', `filters=${text} is not JSON; send a map such as {"label":["tier=db"]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new BerthError('INVALID_ARGUMENT', `filters=${text} is not a JSON map of filter names to values`);
  }
  const filters: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const values = Array.isArray(value)
      ? value
      : value !== null && typeof value === 'object'
        ? Object.entries(value as Record<string, unknown>)
            .filter(([, on]) => on === true)
            .map(([v]) => v)
        : [value];
    if (!values.every((v) => typeof v === 'string' || typeof v === 'number')) {
      throw new BerthError('INVALID_ARGUMENT', `filter ${key} in filters=${text} is not a list of strings`);
    }
    filters[key] = values.map(String);
  }
  return filters;
}

/** A boolean query parameter as Go's strconv.ParseBool reads it (absent: `fallback`). */
export function booleanParam(url: URL, name: string, fallback = false): boolean {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return fallback;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new BerthError('INVALID_ARGUMENT', `${name}=${v} is not a boolean; send true or false`);
}

/**
 * A listing's limit from a whole-number query parameter (Docker's `limit`, podman's
 * `last`), or undefined when absent; `-1` and `0` mean none, as in Docker.
 * @throws INVALID_ARGUMENT for anything but a whole number
 */
export function limitParam(url: URL, name = 'limit'): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new BerthError('INVALID_ARGUMENT', `${name}=${v} is not a whole number`);
  const n = Number(v);
  return n > 0 ? n : undefined;
}

/** A path segment decoded (an object's id or name). */
export function pathSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BerthError('INVALID_ARGUMENT', `${JSON.stringify(text)} in the path is not valid percent-encoding`);
  }
}

/**
 * Answers a JSON document with the API's headers, typed exactly `application/json`: the
 * docker CLI reads an error's message only under that type.
 */
export function sendApiJson(
  res: ServerResponse,
  body: unknown,
  headers: Record<string, string | readonly string[]>,
  status = 200,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `/_ping` as both APIs answer it: `OK` as plain text, never cached, with the API's headers. */
export function sendPing(res: ServerResponse, method: string, headers: Record<string, string>): void {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-cache, no-store, must-revalidate',
    pragma: 'no-cache',
    'content-length': 2,
  });
  res.end(method === 'HEAD' ? undefined : 'OK');
}

/** The refusal of every write (`docker rm`, `podman pod rm`, …): berth serves the store read-only to these clients. */
export function readOnlyRefusal(method: string, path: string, api: string): HttpError {
  return new HttpError(
    405,
    'METHOD_NOT_ALLOWED',
    `berth serves its store read-only through the ${api} API: ${method} ${path} is refused and nothing was changed; change the store with the berth CLI (berth rm, berth pod rm, berth volume rm, berth apply)`,
    { details: { method, path }, headers: { allow: 'GET, HEAD' } },
  );
}

/**
 * The volumes a listing's `filters` select, as whole objects (both APIs show a volume's
 * runtime state, which the listing's summaries leave out; volumes are few).
 * @throws INVALID_ARGUMENT for an unknown filter
 */
export async function listedVolumes(store: Store, filters: Record<string, string[]>): Promise<Volume[]> {
  const [listed, all] = await Promise.all([store.listVolumes({ filters }), store.allVolumes()]);
  const byName = new Map(all.map((v) => [v.config.name, v]));
  return listed.map((s) => byName.get(s.name)).filter((v) => v !== undefined);
}
