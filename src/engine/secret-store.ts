import { randomBytes } from 'node:crypto';
import type { QueryRunner } from '../db/executor.js';
import type { SecretKeyRow } from '../db/schema.js';
import { BerthError } from '../errors.js';
import { EngineBase } from './engine-base.js';
import { toJson } from './validate.js';
import {
  ciphertextKeyId,
  decryptValue,
  encryptValue,
  ENCRYPTED_MARKER,
  loadSecretsKey,
  mapSecrets,
  mayHoldSecrets,
  newKeyId,
  SECRET_MARKER,
  unwrapDataKey,
  wrapDataKey,
  type DataKey,
  type SecretsKey,
} from './secrets.js';
import * as q from './workspace-queries.js';

/** What `secrets.status()` reports. */
export interface SecretsStatus {
  /** Whether this handle was given a secrets key. */
  keyConfigured: boolean;
  /** The given key's fingerprint. */
  fingerprint?: string;
  /** Data keys in the store (one per workspace that ever held a secret, more after a delete). */
  dataKeys: number;
  /** Fingerprints of the secrets keys the data keys are wrapped with (one, normally). */
  wrappedWith: string[];
  /** Whether the given key opens every data key (true when there are none). */
  opens: boolean;
}

/** Data keys an export carries (wrapped), by id, so another store with the same key can read it. */
export type WrappedKeys = Record<string, string>;

/**
 * Per-workspace data keys, wrapped by the operator's secrets key, and the walks that
 * encrypt, re-encrypt and reveal the secrets of a document (see secrets.ts).
 */
export class SecretsStore extends EngineBase {
  /** Unwrapped data keys by id, for the life of the handle. */
  private readonly unwrapped = new Map<string, DataKey>();

  /** Whether a key is configured, and which keys the store's data keys need. */
  async status(): Promise<SecretsStatus> {
    this.assertOpen();
    const rows = await this.read(async (tx) => tx.all(q.allSecretKeys, {}));
    const key = this.ctx.secrets.key;
    const wrappedWith = [...new Set(rows.map((r) => r.key_check))].sort();
    return {
      keyConfigured: key !== undefined,
      ...(key ? { fingerprint: key.fingerprint } : {}),
      dataKeys: rows.length,
      wrappedWith,
      opens: rows.length === 0 || (key !== undefined && wrappedWith.every((f) => f === key.fingerprint)),
    };
  }

  /**
   * A copy of `value` with its secrets decrypted: `{ "$encrypted": … }` nodes of a state
   * document become `{ "$secret": value }` again, and encrypted strings (a container's
   * env from a manifest) become their plain text.
   * @throws SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async reveal<T>(value: T): Promise<T> {
    this.assertOpen();
    if (value === null || value === undefined || !mayHoldSecrets(toJson(value, 'the value to reveal'))) return value;
    return this.read((tx) => this.revealIn(tx, value, { bare: true })) as Promise<T>;
  }

  /**
   * Re-wraps every data key with a new secrets key, in one transaction; this handle uses
   * the new key afterwards. Secret values are not re-encrypted (their data keys stay).
   * Changes nothing unless the current key opens every data key.
   * @throws SECRETS_KEY_INVALID, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async rotateKey(newKey: string | Buffer): Promise<{ rewrapped: number; fingerprint: string }> {
    this.assertOpen();
    const next = parseNewKey(newKey);
    const rewrapped = await this.write(async (tx, now) => {
      const rows = await tx.all(q.allSecretKeys, {});
      const keys: DataKey[] = [];
      for (const row of rows) keys.push(await this.unwrapRow(row, 'rotate the secrets key'));
      for (const dk of keys) {
        await tx.run(q.rewrapSecretKey, { id: dk.id, wrapped: wrapDataKey(next, dk), keyCheck: next.fingerprint });
      }
      await this.event(tx, now, {
        namespace: '',
        type: 'secrets.rotate',
        subject: { kind: 'store' },
        data: { dataKeys: rows.length, from: this.ctx.secrets.key?.fingerprint ?? null, to: next.fingerprint },
      });
      return rows.length;
    });
    this.ctx.secrets.key = next;
    return { rewrapped, fingerprint: next.fingerprint };
  }

  /**
   * `doc` as it is stored for workspace `ns/name`: `{ "$secret": v }` markers encrypted
   * with the workspace's data key (created on first use), and `{ "$encrypted": … }`
   * nodes of another workspace's key re-encrypted with it. Nodes already under this
   * workspace's keys are kept as they are, so a document read without its secrets can be
   * written back without the secrets key. `carried` are the wrapped keys of an import.
   */
  async sealIn(
    tx: QueryRunner,
    now: number,
    ns: string,
    name: string,
    doc: unknown,
    what: string,
    carried: WrappedKeys = {},
  ): Promise<unknown> {
    const own = (await tx.get(q.currentSecretKey, { ns, name }))?.id;
    const reencrypt = new Map<string, DataKey | undefined>();
    const ownTexts: string[] = [];
    const bareIds = new Set<string>();
    let needsKey = false;
    // First pass: what the document needs, so that keys are loaded before the walk.
    mapSecrets(
      doc,
      {
        marker: (v) => ((needsKey = true), v),
        encrypted: (text) => {
          const id = ciphertextKeyId(text)!;
          if (id !== own) reencrypt.set(id, undefined);
          else ownTexts.push(text);
          return text;
        },
        bare: (text) => {
          bareIds.add(ciphertextKeyId(text)!);
          return text;
        },
      },
      what,
    );
    // Encrypted strings (a stack's env values) stay as they are while this store has their
    // key; brought from another store, they are re-encrypted like the nodes.
    for (const id of bareIds) {
      if (id !== own && !reencrypt.has(id) && !(await tx.get(q.getSecretKey, { id }))) reencrypt.set(id, undefined);
    }
    // Secrets already under this workspace's key are checked with the key when it is at
    // hand. Without it, they must be ones the workspace holds (a document read without its
    // secrets, written back): a keyless writer cannot slip in altered ciphertext.
    if (own !== undefined && ownTexts.length > 0) {
      if (this.ctx.secrets.key) {
        const ownKey = await this.keyById(tx, own);
        for (const text of ownTexts) decryptValue(ownKey, text);
      } else {
        await this.assertHeld(tx, ns, name, ownTexts, what);
      }
    }
    if (!needsKey && reencrypt.size === 0) return doc;
    for (const id of reencrypt.keys()) reencrypt.set(id, await this.keyById(tx, id, carried));
    const target = await this.dataKeyFor(tx, now, ns, name, what);
    return mapSecrets(
      doc,
      {
        marker: (v) => ({ [ENCRYPTED_MARKER]: encryptValue(target, v) }),
        encrypted: (text) => {
          const from = reencrypt.get(ciphertextKeyId(text)!);
          return { [ENCRYPTED_MARKER]: from ? encryptValue(target, decryptValue(from, text)) : text };
        },
        bare: (text) => {
          const from = reencrypt.get(ciphertextKeyId(text)!);
          return from ? encryptValue(target, decryptValue(from, text)) : text;
        },
      },
      what,
    );
  }

  /** Throws unless every ciphertext of `texts` is in the workspace's current state or history. */
  private async assertHeld(tx: QueryRunner, ns: string, name: string, texts: string[], what: string): Promise<void> {
    // Quoted: a whole JSON string equal to the ciphertext, not a piece of a longer one
    // (ciphertext characters are never escaped in JSON).
    const holds = (json: string | null | undefined, t: string): boolean => (json ?? '').includes(`"${t}"`);
    const current = (await tx.get(q.getWorkspace, { ns, name }))?.state_json;
    let missing = texts.filter((t) => !holds(current, t));
    if (missing.length === 0) return;
    for (const v of await tx.all(q.stateVersionTexts, { ns, name })) {
      missing = missing.filter((t) => !holds(v.state_json, t));
      if (missing.length === 0) return;
    }
    throw new BerthError(
      'SECRETS_KEY_MISSING',
      `${what} has an encrypted value the workspace never held, and without the secrets key it cannot be checked; set BERTH_SECRETS_KEY (or BERTH_SECRETS_KEY_FILE), or write new secrets as { "$secret": value }. Nothing was changed`,
      { details: { keyId: ciphertextKeyId(missing[0]) } },
    );
  }

  /**
   * Encrypts values for workspace `name` of the handle's namespace (a plan's secret env
   * values); creates the workspace's data key if it has none yet.
   * @throws SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async sealer(name: string): Promise<(value: unknown) => string> {
    this.assertOpen();
    const ns = this.ctx.namespace;
    const what = `the manifest for workspace ${name}`;
    const row = await this.read(async (tx) => tx.get(q.currentSecretKey, { ns, name }));
    const dk = row
      ? await this.unwrapRow(row, `encrypt the secrets of ${what}`)
      : await this.write((tx, now) => this.dataKeyFor(tx, now, ns, name, what));
    return (value) => encryptValue(dk, value);
  }

  /** The workspace's data key for new secrets, created (wrapped) on first use. */
  async dataKeyFor(tx: QueryRunner, now: number, ns: string, name: string, what: string): Promise<DataKey> {
    const row = await tx.get(q.currentSecretKey, { ns, name });
    if (row) return this.unwrapRow(row, `encrypt the secrets of ${what}`);
    const secrets = this.requireKey(`${what} holds secrets`);
    const other = await tx.get(q.otherSecretKey, { check: secrets.fingerprint });
    if (other) throw this.mismatch(other, `encrypt the secrets of ${what}`);
    const dk: DataKey = { id: newKeyId(), key: randomBytes(32) };
    await tx.run(q.insertSecretKey, {
      id: dk.id,
      ns,
      name,
      wrapped: wrapDataKey(secrets, dk),
      keyCheck: secrets.fingerprint,
      now,
    });
    this.unwrapped.set(dk.id, dk);
    return dk;
  }

  /**
   * Decrypts the secrets of `doc` (see {@link reveal}). With `bare: false` encrypted
   * strings stay as they are: a state shown with its secrets keeps a stack's env values
   * encrypted, so that exporting and importing it never stores them in plain text.
   */
  async revealIn(tx: QueryRunner, doc: unknown, opts: { bare: boolean }): Promise<unknown> {
    const ids = new Set<string>();
    const note = (text: string): string => (ids.add(ciphertextKeyId(text)!), text);
    mapSecrets(doc, { marker: (v) => v, encrypted: note, bare: opts.bare ? note : (t) => t }, 'the document');
    const keys = new Map<string, DataKey>();
    for (const id of ids) keys.set(id, await this.keyById(tx, id));
    const open = (text: string): unknown => decryptValue(keys.get(ciphertextKeyId(text)!)!, text);
    return mapSecrets(
      doc,
      {
        marker: (v) => ({ [SECRET_MARKER]: v }),
        encrypted: (text) => ({ [SECRET_MARKER]: open(text) }),
        bare: (text) => {
          if (!opts.bare) return text;
          const v = open(text);
          return typeof v === 'string' ? v : text;
        },
      },
      'the document',
    );
  }

  /** The wrapped form of the data keys `ids`, for an export. */
  async wrappedKeys(tx: QueryRunner, ids: Iterable<string>): Promise<WrappedKeys> {
    const out: WrappedKeys = {};
    for (const id of [...ids].sort()) {
      const row = await tx.get(q.getSecretKey, { id });
      if (row) out[id] = row.wrapped;
    }
    return out;
  }

  private async keyById(tx: QueryRunner, id: string, carried: WrappedKeys = {}): Promise<DataKey> {
    const cached = this.unwrapped.get(id);
    if (cached) return cached;
    const row = await tx.get(q.getSecretKey, { id });
    if (row) return this.unwrapRow(row, 'decrypt a secret');
    const wrapped = Object.hasOwn(carried, id) ? carried[id] : undefined;
    if (typeof wrapped !== 'string') {
      throw new BerthError(
        'SECRET_UNREADABLE',
        `a secret value was encrypted with data key ${id}, which this store does not have; export the state again with its secrets shown (\`berth state export --show-secrets\`) where it came from`,
        { details: { keyId: id } },
      );
    }
    const secrets = this.requireKey('the import holds secrets');
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

  private async unwrapRow(row: SecretKeyRow, purpose: string): Promise<DataKey> {
    // A handle confined to a namespace opens only that namespace's secrets.
    if (this.ctx.namespace !== '' && row.namespace !== this.ctx.namespace) {
      throw new BerthError(
        'SECRET_UNREADABLE',
        `cannot ${purpose}: the value was encrypted for namespace ${JSON.stringify(row.namespace)}, and this handle is confined to ${JSON.stringify(this.ctx.namespace)}`,
        { details: { keyId: row.id, namespace: row.namespace } },
      );
    }
    const cached = this.unwrapped.get(row.id);
    if (cached) return cached;
    const secrets = this.requireKey(`workspace ${row.workspace} holds secrets`);
    const key = row.key_check === secrets.fingerprint ? unwrapDataKey(secrets, row.id, row.wrapped) : undefined;
    if (!key) throw this.mismatch(row, purpose);
    const dk = { id: row.id, key };
    this.unwrapped.set(row.id, dk);
    return dk;
  }

  private requireKey(why: string): SecretsKey {
    const key = this.ctx.secrets.key;
    if (key) return key;
    throw new BerthError(
      'SECRETS_KEY_MISSING',
      `${why}, but no secrets key is set; set BERTH_SECRETS_KEY (or BERTH_SECRETS_KEY_FILE) to the store's secrets key, or create a new one with \`berth secrets keygen\`. Nothing was changed`,
    );
  }

  private mismatch(row: SecretKeyRow, purpose: string): BerthError {
    const given = this.ctx.secrets.key?.fingerprint ?? '';
    return new BerthError(
      'SECRETS_KEY_MISMATCH',
      `cannot ${purpose}: the secrets key given (fingerprint ${given}) is not the one this store's secrets are wrapped with (fingerprint ${row.key_check}); set BERTH_SECRETS_KEY or BERTH_SECRETS_KEY_FILE to that key. Nothing was changed`,
      { details: { fingerprint: given, expected: row.key_check, workspace: row.workspace, namespace: row.namespace } },
    );
  }
}

/** The new key of a rotation: never taken from the environment, even when absent. */
function parseNewKey(newKey: string | Buffer): SecretsKey {
  if (newKey === undefined || newKey === null) {
    throw new BerthError('SECRETS_KEY_INVALID', 'rotateKey needs the new secrets key (32 bytes, or base64/hex text)');
  }
  return loadSecretsKey({ secretsKey: newKey }, {})!;
}
