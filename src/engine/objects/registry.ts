import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import type { ForeignName } from '../types.js';
import { findIdOrName, getVolume } from './queries.js';

/*
 * Ids and names are unique across containers and pods together (DESIGN.md §3). Writes are
 * serialised (BEGIN IMMEDIATE on SQLite, the write-lock row on PostgreSQL), so a check
 * inside the write transaction enforces it without a registry table of its own; a clash
 * is reported by the kind that owns the existing object.
 */

/**
 * Refuses an id or name already taken by a container or a pod (`except`: the object
 * being renamed).
 * @throws CONTAINER_EXISTS, POD_EXISTS
 */
export async function assertIdAndNameFree(tx: Tx, id: string, name: string, except?: string): Promise<void> {
  for (const row of await tx.q.all(findIdOrName, { id, name })) {
    if (row.id === except) continue;
    const code = row.kind === 'pod' ? 'POD_EXISTS' : 'CONTAINER_EXISTS';
    const byId = row.id === id;
    throw new BerthError(
      code,
      byId
        ? `a ${row.kind} with id ${id} already exists; choose another id`
        : `the name ${name} is already used by ${row.kind} ${row.id}; choose another name`,
      { details: { id: row.id, name: row.name, kind: row.kind } },
    );
  }
}

/**
 * Refuses a name already taken by another container or pod (a rename).
 * @throws CONTAINER_EXISTS, POD_EXISTS
 */
export function assertNameFree(tx: Tx, name: string, except: string): Promise<void> {
  // An id is never empty, so '' matches no id: only the name is looked up.
  return assertIdAndNameFree(tx, '', name, except);
}

/**
 * The kind and name of the container or pod with this full id, if any.
 */
export async function findObject(
  tx: Tx,
  id: string,
): Promise<{ kind: 'container' | 'pod'; name: string; namespace: string } | undefined> {
  return (await tx.q.all(findIdOrName, { id, name: '' })).find((r) => r.id === id);
}

/**
 * The names of `wanted` that an object outside the transaction's namespace holds: names
 * are unique store-wide (containers and pods together, volumes apart), so a create of
 * such a name would be refused.
 */
export async function namesHeldElsewhere(
  tx: Tx,
  wanted: readonly { kind: 'container' | 'pod' | 'volume'; name: string }[],
): Promise<ForeignName[]> {
  const out: ForeignName[] = [];
  for (const w of wanted) {
    if (w.kind === 'volume') {
      const row = await tx.q.get(getVolume, { name: w.name });
      if (row && row.namespace !== tx.ns) {
        out.push({ ...w, holder: { kind: 'volume', id: row.name, namespace: row.namespace } });
      }
      continue;
    }
    const row = (await tx.q.all(findIdOrName, { id: '', name: w.name })).find((r) => r.namespace !== tx.ns);
    if (row) out.push({ ...w, holder: { kind: row.kind, id: row.id, namespace: row.namespace } });
  }
  return out;
}
