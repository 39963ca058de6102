import { BerthError } from '../../errors.js';
import type {
  ContainerFilters,
  ContainerQuery,
  ContainerSortKey,
  ContainerSummaryField,
  PodmanState,
  PodFilters,
  PodQuery,
  VolumeFilters,
  VolumeQuery,
} from '../types.js';

/*
 * The vocabulary of listings (podman's `ps`, `pod ps`, `volume ls`): filter keys, status
 * words, sort fields, and the check of a query. Pure, with no store behind it, so a CLI
 * can refuse a malformed command line before it opens anything (details.usage marks such
 * errors).
 */

/** podman's state word of each berth status: what `ps` shows and `status=` filters on. */
export const STATE_OF_STATUS: Readonly<Record<string, PodmanState>> = {
  configured: 'created',
  created: 'created',
  running: 'running',
  paused: 'paused',
  stopping: 'stopping',
  stopped: 'exited',
  exited: 'exited',
  removing: 'removing',
  unknown: 'unknown',
};

/** podman's state of a berth status (a status berth does not know is `unknown`). */
export function stateOf(status: string | null | undefined): PodmanState {
  return (
    status !== null && status !== undefined && Object.hasOwn(STATE_OF_STATUS, status)
      ? STATE_OF_STATUS[status]
      : 'unknown'
  )!;
}

/**
 * The berth statuses each `status=` word matches: podman's words (`created` covers berth's
 * `configured`; `stopped` is `exited`), and berth's own status words.
 */
export const STATUS_WORDS: Readonly<Record<string, readonly string[]>> = {
  created: ['configured', 'created'],
  configured: ['configured'],
  running: ['running'],
  paused: ['paused'],
  stopping: ['stopping'],
  exited: ['exited', 'stopped'],
  stopped: ['exited', 'stopped'],
  removing: ['removing'],
  unknown: ['unknown'],
};

/** Container filter keys (podman's `ps --filter`). */
export const CONTAINER_FILTER_KEYS = [
  'id',
  'name',
  'label',
  'label!',
  'status',
  'ancestor',
  'pod',
  'volume',
  'namespace',
  'before',
  'since',
  'exited',
] as const satisfies readonly (keyof ContainerFilters)[];

/** Container sort fields (podman's `ps --sort`). */
export const CONTAINER_SORT_KEYS = [
  'command',
  'created',
  'id',
  'image',
  'names',
  'runningfor',
  'status',
  'pod',
] as const satisfies readonly ContainerSortKey[];

/** The fields of a container summary, in the order a summary lists them. */
export const CONTAINER_SUMMARY_FIELDS = [
  'id',
  'name',
  'namespace',
  'pod',
  'podName',
  'image',
  'command',
  'status',
  'state',
  'exitCode',
  'startedAt',
  'finishedAt',
  'createdAt',
  'labels',
  'mounts',
  'networks',
] as const satisfies readonly ContainerSummaryField[];

/** Pod filter keys (podman's `pod ps --filter`). */
export const POD_FILTER_KEYS = [
  'id',
  'name',
  'label',
  'status',
  'namespace',
] as const satisfies readonly (keyof PodFilters)[];

/** podman's pod status words. */
export const POD_STATUS_WORDS = ['created', 'running', 'degraded', 'paused', 'exited'] as const;

/** Volume filter keys (podman's `volume ls --filter`). */
export const VOLUME_FILTER_KEYS = [
  'name',
  'label',
  'driver',
  'namespace',
  'dangling',
] as const satisfies readonly (keyof VolumeFilters)[];

function usage(message: string, details: Record<string, unknown>): BerthError {
  return new BerthError('INVALID_ARGUMENT', message, { details: { ...details, usage: true } });
}

function checkFilters(
  filters: Record<string, unknown> | undefined,
  keys: readonly string[],
  what: string,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (filters === undefined) return out;
  if (typeof filters !== 'object' || filters === null || Array.isArray(filters)) {
    throw usage(`${what} filters must be an object of key → values`, {});
  }
  for (const [key, values] of Object.entries(filters)) {
    if (!keys.includes(key)) {
      throw usage(`unknown ${what} filter ${JSON.stringify(key)}; use one of ${keys.join(', ')}`, { filter: key });
    }
    const list = Array.isArray(values) ? values : [values];
    out[key] = list.map((v) => {
      if (typeof v !== 'string' && typeof v !== 'number') {
        throw usage(`${what} filter ${key} takes text values`, { filter: key });
      }
      return String(v);
    });
  }
  return out;
}

function checkLimit(limit: unknown): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > 2_147_483_647) {
    throw usage(`a listing limit must be a non-negative whole number, not ${JSON.stringify(limit)}`, { limit });
  }
  return limit;
}

/** A container query, checked and with its filters as lists of text. */
export interface CheckedContainerQuery {
  all: boolean;
  filters: Partial<Record<(typeof CONTAINER_FILTER_KEYS)[number], string[]>>;
  sort: ContainerSortKey;
  limit: number | undefined;
  /** The fields wanted, in summary order, the id first. */
  fields: readonly ContainerSummaryField[];
}

function checkFields(fields: unknown): readonly ContainerSummaryField[] {
  if (fields === undefined) return CONTAINER_SUMMARY_FIELDS;
  if (!Array.isArray(fields)) throw usage('listing fields must be a list of field names', { fields });
  for (const f of fields) {
    if (!(CONTAINER_SUMMARY_FIELDS as readonly unknown[]).includes(f)) {
      throw usage(`unknown container field ${JSON.stringify(f)}; use any of ${CONTAINER_SUMMARY_FIELDS.join(', ')}`, {
        field: f,
      });
    }
  }
  return CONTAINER_SUMMARY_FIELDS.filter((f) => f === 'id' || fields.includes(f));
}

/**
 * Checks a container query: known filter keys, status words, exit codes and sort field.
 * @throws INVALID_ARGUMENT with details.usage
 */
export function checkContainerQuery(query: ContainerQuery | undefined): CheckedContainerQuery {
  const q = query ?? {};
  if (typeof q !== 'object' || q === null) throw usage('a container query must be an object', {});
  const filters = checkFilters(q.filters as Record<string, unknown> | undefined, CONTAINER_FILTER_KEYS, 'container');
  for (const word of filters.status ?? []) {
    if (!Object.hasOwn(STATUS_WORDS, word)) {
      throw usage(`unknown status ${JSON.stringify(word)}; use one of ${Object.keys(STATUS_WORDS).join(', ')}`, {
        filter: 'status',
        value: word,
      });
    }
  }
  for (const code of filters.exited ?? []) {
    if (!/^-?\d{1,3}$/.test(code)) {
      throw usage(`exited=${JSON.stringify(code)} is not an exit code; use a number from -1 to 255`, {
        filter: 'exited',
        value: code,
      });
    }
  }
  for (const [key, values] of Object.entries(filters)) {
    if (values.some((v) => v === '' && key !== 'namespace')) {
      throw usage(`filter ${key} needs a value (${key}=…)`, { filter: key });
    }
  }
  const sort = q.sort ?? 'created';
  if (!(CONTAINER_SORT_KEYS as readonly string[]).includes(sort)) {
    throw usage(`cannot sort by ${JSON.stringify(sort)}; use one of ${CONTAINER_SORT_KEYS.join(', ')}`, { sort });
  }
  return { all: q.all !== false, filters, sort, limit: checkLimit(q.limit), fields: checkFields(q.fields) };
}

/**
 * Checks a pod query.
 * @throws INVALID_ARGUMENT with details.usage
 */
export function checkPodQuery(query: PodQuery | undefined): {
  filters: Partial<Record<(typeof POD_FILTER_KEYS)[number], string[]>>;
} {
  const filters = checkFilters(query?.filters as Record<string, unknown> | undefined, POD_FILTER_KEYS, 'pod');
  for (const word of filters.status ?? []) {
    if (!(POD_STATUS_WORDS as readonly string[]).includes(word)) {
      throw usage(`unknown pod status ${JSON.stringify(word)}; use one of ${POD_STATUS_WORDS.join(', ')}`, {
        filter: 'status',
        value: word,
      });
    }
  }
  return { filters };
}

/**
 * Checks a volume query.
 * @throws INVALID_ARGUMENT with details.usage
 */
export function checkVolumeQuery(query: VolumeQuery | undefined): {
  filters: Partial<Record<(typeof VOLUME_FILTER_KEYS)[number], string[]>>;
} {
  const filters = checkFilters(query?.filters as Record<string, unknown> | undefined, VOLUME_FILTER_KEYS, 'volume');
  for (const v of filters.dangling ?? []) {
    if (v !== 'true' && v !== 'false') throw usage('dangling takes true or false', { filter: 'dangling', value: v });
  }
  return { filters };
}
