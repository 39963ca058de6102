import { sql, type Kysely } from 'kysely';
import { defineQuery, param, type QueryDef } from '../../db/query.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import {
  containerColumns,
  podColumns,
  volumeColumns,
  type ContainerRecord,
  type PodRecord,
  type VolumeRecord,
} from '../objects/queries.js';
import { noSuchContainer, noSuchPod, noSuchVolume } from '../objects/not-found.js';
import { assertNonEmpty } from '../validate.js';
import { inNamespace } from './namespaces.js';

/*
 * Lookup precedence (DESIGN.md §3), in one place: a container or pod by full id, then
 * exact name, then a unique literal id prefix; a volume by exact name, then a unique
 * literal name prefix. Several prefix matches are AMBIGUOUS_ID, listing them. A pod never
 * resolves as a container, nor the reverse.
 */

/** Prefix matches read at most: enough to tell unique from ambiguous and to list a few. */
const PREFIX_MATCHES = 6;

/** The exclusive upper bound of the ids or names that start with `prefix`. */
function prefixUpperBound(prefix: string): string {
  return prefix + '\u{10FFFF}';
}

/**
 * The whole precedence in one statement, so it reads one snapshot: rank 0 is the full id
 * (or a volume's exact name), rank 1 the exact name, rank 2 literal prefix matches (LIMIT
 * a literal: a bound LIMIT makes SQLite re-plan every call).
 */
function rankedLookup<R>(
  name: string,
  table: 'containers' | 'pods' | 'volumes',
  key: 'id' | 'name',
  columns: readonly string[],
): QueryDef<R & { rank: number }> {
  return defineQuery(name, (typed) => {
    // The tables share these columns; kysely cannot type a query over any of them.
    const db = typed as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const ranked = (rank: number) =>
      db
        .selectFrom(table)
        .select([sql<number>`${sql.lit(rank)}`.as('rank'), ...columns])
        .where(inNamespace);
    const exact = ranked(0).where(key, '=', param('x'));
    const byName = key === 'id' ? exact.unionAll(ranked(1).where('name', '=', param('x'))) : exact;
    return byName.unionAll(
      db
        .selectFrom(
          ranked(2)
            .where(key, '>', param('x'))
            .where(key, '<', param('hi'))
            .orderBy(key)
            .limit(sql.lit(PREFIX_MATCHES))
            .as('prefixed'),
        )
        .selectAll() as never,
    ) as never;
  });
}

const lookupContainerQuery = rankedLookup<ContainerRecord>('lookupContainer', 'containers', 'id', containerColumns);
const lookupPodQuery = rankedLookup<PodRecord>('lookupPod', 'pods', 'id', podColumns);
const lookupVolumeQuery = rankedLookup<VolumeRecord>('lookupVolume', 'volumes', 'name', volumeColumns);

/** Applies the precedence to the ranked rows of a lookup. */
function pick<R extends { rank: number; name: string }>(
  rows: R[],
  input: string,
  kind: string,
  key: (r: R) => string,
  missing: (x: string) => BerthError,
): R {
  const exact = rows.find((r) => r.rank === 0) ?? rows.find((r) => r.rank === 1);
  if (exact) return exact;
  const prefixed = rows.filter((r) => r.rank === 2);
  if (prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1) {
    const shown = prefixed.slice(0, PREFIX_MATCHES - 1);
    const list = shown.map((r) => (key(r) === r.name ? r.name : `${key(r).slice(0, 12)} (${r.name})`)).join(', ');
    const more = prefixed.length > shown.length ? ', and more' : '';
    throw new BerthError(
      'AMBIGUOUS_ID',
      `more than one ${kind} matches ${JSON.stringify(input)}: ${list}${more}; give more characters of the ${kind === 'volume' ? 'name' : 'id'}, or the full name`,
      { details: { input, matches: shown.map(key) } },
    );
  }
  throw missing(input);
}

/**
 * The container `idOrName` resolves to, among those the handle sees.
 * @throws EMPTY_ID, NO_SUCH_CONTAINER, AMBIGUOUS_ID
 */
export async function lookupContainerRow(tx: Tx, idOrName: string): Promise<ContainerRecord> {
  assertNonEmpty(idOrName, 'container id or name');
  const rows = await tx.q.all(lookupContainerQuery, { x: idOrName, hi: prefixUpperBound(idOrName), ns: tx.ns });
  return pick(rows, idOrName, 'container', (r) => r.id, noSuchContainer);
}

/**
 * The pod `idOrName` resolves to, among those the handle sees.
 * @throws EMPTY_ID, NO_SUCH_POD, AMBIGUOUS_ID
 */
export async function lookupPodRow(tx: Tx, idOrName: string): Promise<PodRecord> {
  assertNonEmpty(idOrName, 'pod id or name');
  const rows = await tx.q.all(lookupPodQuery, { x: idOrName, hi: prefixUpperBound(idOrName), ns: tx.ns });
  return pick(rows, idOrName, 'pod', (r) => r.id, noSuchPod);
}

/**
 * The volume `nameOrPrefix` resolves to, among those the handle sees.
 * @throws EMPTY_ID, NO_SUCH_VOLUME, AMBIGUOUS_ID
 */
export async function lookupVolumeRow(tx: Tx, nameOrPrefix: string): Promise<VolumeRecord> {
  assertNonEmpty(nameOrPrefix, 'volume name');
  const rows = await tx.q.all(lookupVolumeQuery, { x: nameOrPrefix, hi: prefixUpperBound(nameOrPrefix), ns: tx.ns });
  return pick(rows, nameOrPrefix, 'volume', (r) => r.name, noSuchVolume);
}
