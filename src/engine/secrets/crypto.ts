import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { gcmsiv as GcmSiv } from '@noble/ciphers/aes.js';
import { BerthError } from '../../errors.js';
import { canonicalJson } from '../canonical-json.js';

/*
 * Secret values (Pulumi's per-stack crypter): each workspace has a random 256-bit data
 * key, stored only wrapped by the operator's secrets key. A value is encrypted with
 * AES-256-GCM-SIV (RFC 8452, @noble/ciphers) under a key derived from its workspace's
 * data key, with a fixed nonce: deterministic encryption, which GCM-SIV is built to
 * survive (a repeated nonce reveals only that two plaintexts are equal). The same value
 * always encrypts to the same text, so plans compare secrets without seeing them and
 * re-applying a manifest is a no-op.
 *
 * Ciphertext versions: `v2` is GCM-SIV and the only one written. `v1`, the first format
 * (AES-256-GCM with a home-made synthetic IV, an HMAC of the value), is still read;
 * sealing rewrites it as v2 when the key is at hand (sealing.ts).
 *
 * Data keys are wrapped with AES-256-GCM and a random 96-bit IV (node:crypto): each
 * wrap is a fresh encryption of random bytes, where a random IV is the standard
 * construction and nothing needs to be deterministic.
 *
 * Where secrets appear:
 * - a state document marks a value `{ "$secret": value }`; it is stored as
 *   `{ "$encrypted": "berth:secret:v2:<key id>:<payload>" }`;
 * - a manifest's env entry `NAME: { secret: value }` becomes the bare ciphertext string
 *   in the container's env.
 */

/** The marker a caller writes around a value to have it stored encrypted. */
export const SECRET_MARKER = '$secret';
/** The stored form of a secret value in a state document. */
export const ENCRYPTED_MARKER = '$encrypted';
/** What redacted output shows in place of a secret. */
export const REDACTED = '[secret]';

/** What every ciphertext starts with, of any version. */
const CIPHERTEXT_PREFIX = 'berth:secret:';
const V1_PREFIX = 'berth:secret:v1:';
const V2_PREFIX = 'berth:secret:v2:';
const CIPHERTEXT_PATTERN = /^berth:secret:(v1|v2):([0-9a-f]{16}):([A-Za-z0-9_-]+)$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** GCM-SIV's nonce, fixed: the encryption is meant to be deterministic (see above). */
const V2_NONCE = new Uint8Array(12);

/** An unwrapped 256-bit key with its id. */
export interface DataKey {
  id: string;
  key: Buffer;
}

/** The operator's secrets key, which wraps every data key. */
export interface SecretsKey {
  key: Buffer;
  /** A short fingerprint naming the key in errors and in the store (never the key). */
  fingerprint: string;
}

/** The key text a user gives: 32 bytes as base64 (44 characters) or hex (64). */
export function parseSecretsKey(text: string, source: string): SecretsKey {
  const trimmed = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  if (key === undefined || key.length !== 32) {
    throw new BerthError(
      'SECRETS_KEY_INVALID',
      `the secrets key from ${source} is not 32 bytes in base64 or hex; create one with \`berth secrets keygen\` (or \`openssl rand -base64 32\`)`,
      { details: { source } },
    );
  }
  return { key, fingerprint: fingerprintOf(key) };
}

/**
 * The secrets key from explicit options, else from BERTH_SECRETS_KEY, else from the file
 * BERTH_SECRETS_KEY_FILE names; undefined when none is given.
 * @throws SECRETS_KEY_INVALID
 */
export function loadSecretsKey(
  opts: { secretsKey?: string | Buffer; secretsKeyFile?: string },
  env: NodeJS.ProcessEnv = process.env,
): SecretsKey | undefined {
  if (opts.secretsKey !== undefined) {
    if (Buffer.isBuffer(opts.secretsKey)) {
      if (opts.secretsKey.length !== 32) {
        throw new BerthError('SECRETS_KEY_INVALID', 'the secretsKey option must be 32 bytes', {
          details: { source: 'secretsKey' },
        });
      }
      return { key: Buffer.from(opts.secretsKey), fingerprint: fingerprintOf(opts.secretsKey) };
    }
    return parseSecretsKey(String(opts.secretsKey), 'the secretsKey option');
  }
  const file = opts.secretsKeyFile ?? (env.BERTH_SECRETS_KEY ? undefined : env.BERTH_SECRETS_KEY_FILE);
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new BerthError(
        'SECRETS_KEY_INVALID',
        `cannot read the secrets key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the path and its permissions`,
        { details: { source: file }, cause: err },
      );
    }
    return parseSecretsKey(text, file);
  }
  if (env.BERTH_SECRETS_KEY) return parseSecretsKey(env.BERTH_SECRETS_KEY, 'BERTH_SECRETS_KEY');
  return undefined;
}

/**
 * A new random secrets key (32 bytes), as base64: what `berth secrets keygen` prints.
 * @throws nothing
 */
export function generateSecretsKey(): string {
  return randomBytes(32).toString('base64');
}

function fingerprintOf(key: Buffer): string {
  return createHmac('sha256', key).update('berth secrets key fingerprint v1').digest('hex').slice(0, 16);
}

/** A new data key id: 16 hex digits. */
export function newKeyId(): string {
  return randomBytes(8).toString('hex');
}

/** Wraps a data key with the secrets key (random IV; the key id is bound as associated data). */
export function wrapDataKey(secrets: SecretsKey, dk: DataKey): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secrets.key, iv);
  cipher.setAAD(Buffer.from(`berth:data-key:v1:${dk.id}`));
  const ct = Buffer.concat([cipher.update(dk.key), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64');
}

/** Unwraps a data key; undefined when the secrets key is not the one that wrapped it. */
export function unwrapDataKey(secrets: SecretsKey, id: string, wrapped: string): Buffer | undefined {
  const raw = Buffer.from(wrapped, 'base64');
  if (raw.length !== IV_BYTES + 32 + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', secrets.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(`berth:data-key:v1:${id}`));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** v1's encryption key: an HMAC-SHA256 of the data key (kept to read v1 ciphertext). */
function v1Key(dk: DataKey): Buffer {
  return createHmac('sha256', dk.key).update('berth:enc:v1').digest();
}

let gcmsivImpl: typeof GcmSiv | undefined;

/**
 * Loads the GCM-SIV implementation; call it before encryptValue or decryptValue. Loaded
 * on first use: building its tables takes tens of milliseconds, which commands that
 * never touch a secret (`berth ps`) should not pay at start-up.
 */
export async function loadCipher(): Promise<void> {
  gcmsivImpl ??= (await import('@noble/ciphers/aes.js')).gcmsiv;
}

function gcmsiv(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): ReturnType<typeof GcmSiv> {
  if (!gcmsivImpl) throw new BerthError('INTERNAL', 'the secret cipher was used before loadCipher()');
  return gcmsivImpl(key, nonce, aad);
}

const v2Keys = new WeakMap<DataKey, Uint8Array>();

/** v2's GCM-SIV key: HKDF-SHA256 of the data key, so no key serves two constructions. */
function v2Key(dk: DataKey): Uint8Array {
  let key = v2Keys.get(dk);
  if (!key) {
    key = new Uint8Array(hkdfSync('sha256', dk.key, new Uint8Array(0), 'berth:secret:v2:aes-256-gcm-siv', 32));
    v2Keys.set(dk, key);
  }
  return key;
}

/** Encrypts a JSON value (as v2); equal values under one data key give equal text. Needs loadCipher(). */
export function encryptValue(dk: DataKey, value: unknown): string {
  const plain = Buffer.from(canonicalJson(value), 'utf8');
  // The version and key id are authenticated: a payload moved under another id or
  // version fails to decrypt instead of being read with the wrong key or construction.
  const aad = Buffer.from(V2_PREFIX + dk.id);
  const sealed = gcmsiv(v2Key(dk), V2_NONCE, aad).encrypt(plain);
  return `${V2_PREFIX}${dk.id}:${Buffer.from(sealed).toString('base64url')}`;
}

/** The data key id of a ciphertext (any version), or undefined when `text` is not one. */
export function ciphertextKeyId(text: unknown): string | undefined {
  if (typeof text !== 'string' || !text.startsWith(CIPHERTEXT_PREFIX)) return undefined;
  return CIPHERTEXT_PATTERN.exec(text)?.[2];
}

/** True for ciphertext of an older version, which the next write of its document re-encrypts. */
export function isOutdatedCiphertext(text: string): boolean {
  return text.startsWith(V1_PREFIX);
}

/**
 * Decrypts a ciphertext (v1 or v2) with its data key. Needs loadCipher().
 * @throws SECRET_UNREADABLE when the text was altered or is not berth's
 */
export function decryptValue(dk: DataKey, text: string): unknown {
  const m = CIPHERTEXT_PATTERN.exec(text);
  const raw = m ? Buffer.from(m[3]!, 'base64url') : Buffer.alloc(0);
  const ivBytes = m?.[1] === 'v1' ? IV_BYTES : 0;
  if (!m || m[2] !== dk.id || raw.length < ivBytes + TAG_BYTES + 1) throw unreadable(text, 'it is malformed');
  let plain: Uint8Array;
  try {
    plain =
      m[1] === 'v1' ? decryptV1(dk, raw) : gcmsiv(v2Key(dk), V2_NONCE, Buffer.from(V2_PREFIX + dk.id)).decrypt(raw);
  } catch {
    throw unreadable(text, 'it was altered or damaged (authentication failed)');
  }
  try {
    return JSON.parse(Buffer.from(plain).toString('utf8')) as unknown;
  } catch {
    throw unreadable(text, 'it does not hold a JSON value');
  }
}

/** v1: AES-256-GCM, `iv || ciphertext || tag`, the prefix and key id as associated data. */
function decryptV1(dk: DataKey, raw: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', v1Key(dk), raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(V1_PREFIX + dk.id));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
}

function unreadable(text: string, why: string): BerthError {
  const keyId = CIPHERTEXT_PATTERN.exec(text)?.[2];
  return new BerthError('SECRET_UNREADABLE', `a secret value cannot be decrypted: ${why}`, {
    details: keyId ? { keyId } : {},
  });
}

/** What a document walk does with each secret it meets. */
export interface SecretVisitor {
  /** A `{ "$secret": value }` marker. */
  marker(value: unknown): unknown;
  /** A `{ "$encrypted": text }` node. */
  encrypted(text: string): unknown;
  /** A ciphertext string anywhere else (a container's env in a stack state). */
  bare(text: string): unknown;
}

/** True when a document's JSON may hold secrets; documents without them are not walked. */
export function mayHoldSecrets(json: string): boolean {
  return (
    json.includes(`"${SECRET_MARKER}"`) || json.includes(`"${ENCRYPTED_MARKER}"`) || json.includes(CIPHERTEXT_PREFIX)
  );
}

/**
 * A copy of `doc` with every secret replaced by what `visit` returns. A marker object
 * must have the marker as its only key.
 * @throws INVALID_ARGUMENT for a malformed marker
 */
export function mapSecrets(doc: unknown, visit: SecretVisitor, what: string): unknown {
  const walk = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') return ciphertextKeyId(value) !== undefined ? visit.bare(value) : value;
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`));
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    for (const marker of [SECRET_MARKER, ENCRYPTED_MARKER]) {
      if (!Object.hasOwn(obj, marker)) continue;
      if (keys.length !== 1) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `${what} at ${path} has "${marker}" beside other keys; a secret is written as { "${SECRET_MARKER}": value } alone`,
          { details: { path } },
        );
      }
      if (marker === SECRET_MARKER) return visit.marker(obj[marker]);
      const text = obj[marker];
      if (typeof text !== 'string' || ciphertextKeyId(text) === undefined) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `${what} at ${path} has an "${ENCRYPTED_MARKER}" value that is not berth ciphertext; write new secrets as { "${SECRET_MARKER}": value }`,
          { details: { path } },
        );
      }
      return visit.encrypted(text);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      Object.defineProperty(out, k, {
        value: walk(obj[k], `${path}.${k}`),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  try {
    return walk(doc, '$');
  } catch (err) {
    if (err instanceof RangeError) {
      throw new BerthError('INVALID_ARGUMENT', `${what} is nested too deeply to be stored`, { cause: err });
    }
    throw err;
  }
}

/** `doc` with every secret shown as "[secret]"; needs no key. */
export function redactSecrets(doc: unknown): unknown {
  if (doc === null || !mayHoldSecrets(JSON.stringify(doc))) return doc;
  return mapSecrets(doc, { marker: () => REDACTED, encrypted: () => REDACTED, bare: () => REDACTED }, 'document');
}

/** The data key ids a stored document's secrets were encrypted with. */
export function secretKeyIds(doc: unknown): Set<string> {
  const ids = new Set<string>();
  if (doc === null || !mayHoldSecrets(JSON.stringify(doc))) return ids;
  const note = (text: string): string => {
    ids.add(ciphertextKeyId(text)!);
    return text;
  };
  mapSecrets(doc, { marker: (v) => v, encrypted: note, bare: note }, 'document');
  return ids;
}
