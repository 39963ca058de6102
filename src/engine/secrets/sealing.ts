import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { getWorkspace, stateVersionTexts } from '../workspaces/queries.js';
import { canonicalJson } from '../canonical-json.js';
import {
  ciphertextKeyId,
  decryptValue,
  encryptValue,
  ENCRYPTED_MARKER,
  isOutdatedCiphertext,
  loadCipher,
  mapSecrets,
  SECRET_MARKER,
  type DataKey,
} from './crypto.js';
import { dataKeyFor, keyById, type WrappedKeys } from './keys.js';
import * as q from './queries.js';

/*
 * Secret sealing (DESIGN.md §4, README "Secrets"), in one place: what a document becomes
 * when it is stored for a workspace, and what revealing it gives back.
 */

/**
 * `doc` as it is stored for workspace `ns/name`: `{ "$secret": v }` markers encrypted
 * with the workspace's data key (created on first use), and `{ "$encrypted": … }`
 * nodes of another workspace's key re-encrypted with it. Nodes already under this
 * workspace's key are kept as they are, so a document read without its secrets can be
 * written back without the secrets key — but for ciphertext of an older version (v1),
 * which is re-encrypted as the current one when the key is at hand. `carried` are the
 * wrapped keys of an import.
 * @throws INVALID_ARGUMENT, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function seal(
  tx: Tx,
  ns: string,
  name: string,
  doc: unknown,
  what: string,
  carried: WrappedKeys = {},
): Promise<unknown> {
  await loadCipher();
  const own = (await tx.q.get(q.currentSecretKey, { ns, name }))?.id;
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
    if (id !== own && !reencrypt.has(id) && !(await tx.q.get(q.getSecretKey, { id }))) reencrypt.set(id, undefined);
  }
  // Secrets already under this workspace's key are checked with the key when it is at
  // hand. Without it, they must be ones the workspace holds (a document read without its
  // secrets, written back): a keyless writer cannot slip in altered ciphertext.
  let upgrade: DataKey | undefined;
  if (own !== undefined && ownTexts.length > 0) {
    if (tx.ctx.secrets.key) {
      const ownKey = await keyById(tx, own);
      for (const text of ownTexts) decryptValue(ownKey, text);
      if (ownTexts.some(isOutdatedCiphertext)) upgrade = ownKey;
    } else {
      await assertHeld(tx, ns, name, ownTexts, what);
    }
  }
  if (!needsKey && reencrypt.size === 0 && !upgrade) return doc;
  for (const id of reencrypt.keys()) reencrypt.set(id, await keyById(tx, id, carried));
  const target = await dataKeyFor(tx, ns, name, what);
  return mapSecrets(
    doc,
    {
      marker: (v) => ({ [ENCRYPTED_MARKER]: encryptValue(target, v) }),
      encrypted: (text) => {
        const from = reencrypt.get(ciphertextKeyId(text)!) ?? (isOutdatedCiphertext(text) ? upgrade : undefined);
        return { [ENCRYPTED_MARKER]: from ? encryptValue(target, decryptValue(from, text)) : text };
      },
      // A stack's env values stay as they are under this store's keys, v1 included: they
      // must stay equal to the env of the containers they describe.
      bare: (text) => {
        const from = reencrypt.get(ciphertextKeyId(text)!);
        return from ? encryptValue(target, decryptValue(from, text)) : text;
      },
    },
    what,
  );
}

/** Throws unless every ciphertext of `texts` is in the workspace's current state or history. */
async function assertHeld(tx: Tx, ns: string, name: string, texts: string[], what: string): Promise<void> {
  // Quoted: a whole JSON string equal to the ciphertext, not a piece of a longer one
  // (ciphertext characters are never escaped in JSON).
  const holds = (json: string | null | undefined, t: string): boolean => (json ?? '').includes(`"${t}"`);
  const current = (await tx.q.get(getWorkspace, { ns, name }))?.state_json;
  let missing = texts.filter((t) => !holds(current, t));
  if (missing.length === 0) return;
  for (const v of await tx.q.all(stateVersionTexts, { ns, name })) {
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
 * A copy of `doc` with its secrets decrypted: `{ "$encrypted": … }` nodes become
 * `{ "$secret": value }` again; with `bare`, encrypted strings (a container's env from
 * a manifest) become their plain text, otherwise they stay encrypted — a state shown with
 * its secrets keeps a stack's env values encrypted, so exporting and importing it never
 * stores them in plain text.
 * @throws SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function reveal(tx: Tx, doc: unknown, opts: { bare: boolean }): Promise<unknown> {
  await loadCipher();
  const ids = new Set<string>();
  const note = (text: string): string => (ids.add(ciphertextKeyId(text)!), text);
  mapSecrets(doc, { marker: (v) => v, encrypted: note, bare: opts.bare ? note : (t) => t }, 'the document');
  const keys = new Map<string, DataKey>();
  for (const id of ids) keys.set(id, await keyById(tx, id));
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

/** Encrypts a plan's secret env value; `stored` is the value the container holds now, if any. */
export type EnvSealer = (value: unknown, stored?: string) => string;

/**
 * Encrypts a manifest's secret env values with the workspace's data key `dk`. A value
 * equal to what the container holds now as older ciphertext (`stored`: v1, under the
 * same data key) keeps the stored text, so that a plan over existing objects shows no
 * change when only the cipher changed; current ciphertext needs no check, as encrypting
 * an equal value gives the same text. A stored value that does not decrypt is replaced.
 */
export async function envSealer(dk: DataKey): Promise<EnvSealer> {
  await loadCipher();
  const holds = (stored: string, value: unknown): boolean => {
    try {
      return canonicalJson(decryptValue(dk, stored)) === canonicalJson(value);
    } catch {
      return false;
    }
  };
  return (value, stored) =>
    stored !== undefined && isOutdatedCiphertext(stored) && ciphertextKeyId(stored) === dk.id && holds(stored, value)
      ? stored
      : encryptValue(dk, value);
}
