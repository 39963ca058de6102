import { sql } from 'kysely';
import { param } from '../../db/query.js';
import { BerthError } from '../../errors.js';
import { assertObjectName } from '../validate.js';

/*
 * Namespace visibility (podman 4.4 semantics, DESIGN.md §3), in one place: a handle on
 * '' sees every namespace; a handle set to a namespace sees only that one.
 */

/** SQL: the row is visible to the handle whose namespace is the parameter `ns`. */
export const inNamespace = () => sql<boolean>`(CAST(${param('ns')} AS TEXT) = '' OR namespace = ${param('ns')})`;

/** Whether an object of namespace `namespace` is visible to a handle on `handleNs`. */
export function isVisible(handleNs: string, namespace: string): boolean {
  return handleNs === '' || namespace === handleNs;
}

/**
 * Throws NAMESPACE_MISMATCH when a stored object is outside the handle's namespace.
 * @throws NAMESPACE_MISMATCH
 */
export function assertVisible(handleNs: string, namespace: string, what: string): void {
  if (!isVisible(handleNs, namespace)) {
    throw new BerthError(
      'NAMESPACE_MISMATCH',
      `${what} is in namespace ${JSON.stringify(namespace)}, not in the store's namespace ${JSON.stringify(handleNs)}`,
      { details: { namespace, storeNamespace: handleNs } },
    );
  }
}

/**
 * A namespace is '' or follows the name rule (DESIGN.md §3).
 * @throws INVALID_ARGUMENT (not a string), INVALID_NAME
 */
export function assertNamespace(ns: unknown): asserts ns is string {
  if (typeof ns !== 'string') throw new BerthError('INVALID_ARGUMENT', 'namespace must be a string');
  if (ns !== '') assertObjectName(ns, 'namespace');
}

/**
 * The namespace of a new object: an absent field takes the handle's; with a namespace
 * set on the handle, any other value (an explicit '' included) is refused.
 * @throws INVALID_ARGUMENT, INVALID_NAME, NAMESPACE_MISMATCH
 */
export function resolveNamespace(declared: unknown, handleNs: string, what: string): string {
  if (declared === undefined) return handleNs;
  assertNamespace(declared);
  if (handleNs !== '' && declared !== handleNs) {
    throw new BerthError(
      'NAMESPACE_MISMATCH',
      `${what} is in namespace ${JSON.stringify(declared)} but the store is set to namespace ${JSON.stringify(handleNs)}; add it from a handle in its namespace`,
      { details: { namespace: declared, storeNamespace: handleNs } },
    );
  }
  return declared;
}

/**
 * Throws NAMESPACE_MISMATCH when an object argument claims a namespace other than the
 * handle's. The stored namespace is checked again inside the transaction.
 * @throws NAMESPACE_MISMATCH
 */
export function assertArgumentNamespace(
  obj: { config: { namespace?: unknown } },
  handleNs: string,
  what: string,
): void {
  const ns = obj.config.namespace;
  if (handleNs !== '' && ns !== undefined && ns !== handleNs) {
    throw new BerthError(
      'NAMESPACE_MISMATCH',
      `${what} is in namespace ${JSON.stringify(ns)}, not in the store's namespace ${JSON.stringify(handleNs)}`,
      { details: { namespace: ns, storeNamespace: handleNs } },
    );
  }
}
