import { randomBytes } from 'node:crypto';
import type { SecretKeyRow } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { loadSecretsKey, newKeyId, unwrapDataKey, wrapDataKey, type DataKey, type SecretsKey } from './crypto.js';
import * as q from './queries.js';
import type { SecretsStatus, WrappedKeys } from '../types.js';

/*
 * Per-workspace data keys, wrapped by the operator's secrets key (Pulumi's per-stack
 * crypter): created on first use, unwrapped on demand (and kept for the life of the
 * store handle), re-wrapped by a key rotation.
 */

/** Whether a key is configured, and which keys the store's data keys need. */
export async function secretsStatus(tx: Tx): Promise<SecretsStatus> {
  const rows = await tx.q.all(q.allSecretKeys, {});
  const key = tx.ctx.secrets.key;
  const wrappedWith = [...new Set(rows.map((r) => r.key_check))].sort();
  return {
    keyConfigured: key !== undefined,
    ...(key ? { fingerprint: key.fingerprint } : {}),
    dataKeys: rows.length,
    wrappedWith,
    opens: rows.length === 0 || (key !== undefined && wrappedWith.every((f) => f === key.fingerprint)),
  };
}

/** The secrets key, or SECRETS_KEY_MISSING saying why it is needed. */
export function requireSecretsKey(
  tx: Tx,
  why: string,
  next = 'create a new one with `berth secrets keygen`',
): SecretsKey {
  const key = tx.ctx.secrets.key;
  if (key) return key;
  throw new BerthError(
    'SECRETS_KEY_MISSING',
    `${why}, but no secrets key is set; set BERTH_SECRETS_KEY (or BERTH_SECRETS_KEY_FILE) to the store's secrets key${next ? `, or ${next}` : ''}. Nothing was changed`,
  );
}

function mismatch(tx: Tx, row: SecretKeyRow, purpose: string): BerthError {
  const given = tx.ctx.secrets.key?.fingerprint ?? '';
  return new BerthError(
    'SECRETS_KEY_MISMATCH',
    `cannot ${purpose}: the secrets key given (fingerprint ${given}) is not the one this store's secrets are wrapped with (fingerprint ${row.key_check}); set BERTH_SECRETS_KEY or BERTH_SECRETS_KEY_FILE to that key. Nothing was changed`,
    { details: { fingerprint: given, expected: row.key_check, workspace: row.workspace, namespace: row.namespace } },
  );
}

/** Unwraps a stored data key (for a handle that may see its namespace). */
async function unwrapRow(tx: Tx, row: SecretKeyRow, purpose: string): Promise<DataKey> {
  // A handle confined to a namespace opens only that namespace's secrets.
  if (tx.ns !== '' && row.namespace !== tx.ns) {
    throw new BerthError(
      'SECRET_UNREADABLE',
      `cannot ${purpose}: the value was encrypted for namespace ${JSON.stringify(row.namespace)}, and this handle is confined to ${JSON.stringify(tx.ns)}`,
      { details: { keyId: row.id, namespace: row.namespace } },
    );
  }
  const cached = tx.ctx.dataKeys.get(row.id);
  if (cached) return cached;
  // The store's secrets exist: a new key would not open them, so no keygen hint.
  const secrets = requireSecretsKey(tx, `workspace ${row.workspace} holds secrets`, '');
  const key = row.key_check === secrets.fingerprint ? unwrapDataKey(secrets, row.id, row.wrapped) : undefined;
  if (!key) throw mismatch(tx, row, purpose);
  const dk = { id: row.id, key };
  tx.ctx.dataKeys.set(row.id, dk);
  return dk;
}

/**
 * The data key with this id: the store's own, else one an import carries (wrapped by the
 * same secrets key).
 * @throws SECRET_UNREADABLE, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
 */
export async function keyById(tx: Tx, id: string, carried: WrappedKeys = {}): Promise<DataKey> {
  const cached = tx.ctx.dataKeys.get(id);
  if (cached) return cached;
  const row = await tx.q.get(q.getSecretKey, { id });
  if (row) return unwrapRow(tx, row, 'decrypt a secret');
  const wrapped = Object.hasOwn(carried, id) ? carried[id] : undefined;
  if (typeof wrapped !== 'string') {
    throw new BerthError(
      'SECRET_UNREADABLE',
      `a secret value was encrypted with data key ${id}, which this store does not have; export the state again with its secrets shown (\`berth state export --show-secrets\`) where it came from`,
      { details: { keyId: id } },
    );
  }
  const secrets = requireSecretsKey(tx, 'the import holds secrets', '');
  const key = unwrapDataKey(secrets, id, wrapped);
  if (!key) {
    throw new BerthError(
      'SECRETS_KEY_MISMATCH',
      `the secrets key (fingerprint ${secrets.fingerprint}) cannot open the data key ${id} the import carries: it was exported from a store with another secrets key; export it again with \`--show-secrets\`, or use that store's key. Nothing was changed`,
      { details: { keyId: id, fingerprint: secrets.fingerprint } },
    );
  }
  // Not cached: the key is not the store's, and must be carried again next time.
  return { id, key };
}

/** The current data key of workspace `ns/name`, if it has one. */
export async function currentDataKey(tx: Tx, ns: string, name: string, what: string): Promise<DataKey | undefined> {
  const row = await tx.q.get(q.currentSecretKey, { ns, name });
  return row ? unwrapRow(tx, row, `encrypt the secrets of ${what}`) : undefined;
}

/**
 * The workspace's data key for new secrets, created (wrapped) on first use.
 * @throws SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
 */
export async function dataKeyFor(tx: Tx, ns: string, name: string, what: string): Promise<DataKey> {
  const current = await currentDataKey(tx, ns, name, what);
  if (current) return current;
  // A new key helps only a store that holds no secrets yet: it would not open those there are.
  const holdsSecrets = (await tx.q.get(q.otherSecretKey, { check: '' })) !== undefined;
  const secrets = requireSecretsKey(tx, `${what} holds secrets`, holdsSecrets ? '' : undefined);
  const other = await tx.q.get(q.otherSecretKey, { check: secrets.fingerprint });
  if (other) throw mismatch(tx, other, `encrypt the secrets of ${what}`);
  const dk: DataKey = { id: newKeyId(), key: randomBytes(32) };
  await tx.q.run(q.insertSecretKey, {
    id: dk.id,
    ns,
    name,
    wrapped: wrapDataKey(secrets, dk),
    keyCheck: secrets.fingerprint,
    now: tx.now,
  });
  tx.ctx.dataKeys.set(dk.id, dk);
  return dk;
}

/** The wrapped form of the data keys `ids`, for an export. */
export async function wrappedKeys(tx: Tx, ids: Iterable<string>): Promise<WrappedKeys> {
  const out: WrappedKeys = {};
  for (const id of [...ids].sort()) {
    const row = await tx.q.get(q.getSecretKey, { id });
    if (row) out[id] = row.wrapped;
  }
  return out;
}

/** The new key of a rotation: never taken from the environment, even when absent. */
export function parseNewKey(newKey: string | Buffer): SecretsKey {
  if (newKey === undefined || newKey === null) {
    throw new BerthError('SECRETS_KEY_INVALID', 'rotateKey needs the new secrets key (32 bytes, or base64/hex text)');
  }
  return loadSecretsKey({ secretsKey: newKey }, {})!;
}

/**
 * Re-wraps every data key with `next`, in the caller's transaction; the current key must
 * open them all. Returns how many it re-wrapped.
 * @throws SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
 */
export async function rotateKey(tx: Tx, next: SecretsKey): Promise<number> {
  const rows = await tx.q.all(q.allSecretKeys, {});
  const keys: DataKey[] = [];
  for (const row of rows) keys.push(await unwrapRow(tx, row, 'rotate the secrets key'));
  for (const dk of keys) {
    await tx.q.run(q.rewrapSecretKey, { id: dk.id, wrapped: wrapDataKey(next, dk), keyCheck: next.fingerprint });
  }
  await appendEvent(tx, {
    namespace: '',
    type: 'secrets.rotate',
    subject: { kind: 'store' },
    data: { dataKeys: rows.length, from: tx.ctx.secrets.key?.fingerprint ?? null, to: next.fingerprint },
  });
  return rows.length;
}

export type { SecretsStatus, WrappedKeys };
