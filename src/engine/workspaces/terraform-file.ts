import { parseStored } from '../objects/rows.js';
import { ENCRYPTED_MARKER, SECRET_MARKER } from '../secrets/crypto.js';
import { setOwn } from '../validate.js';

/*
 * Terraform's state file format as berth reads it (DESIGN.md §10), in one place: how a
 * state file is recognised, the form berth seals it in (all but the fields that
 * identify it), and the serial a rollback gives it. Pure functions of documents; the
 * operations on workspaces are in terraform-state.ts and state.ts.
 */

/** What identifies a Terraform state file: the lineage it belongs to and its serial in it. */
export interface TerraformHeader {
  lineage: string;
  serial: number;
}

/** The fields that identify a state file: they stay readable when berth seals the rest. */
const HEADER_FIELDS: ReadonlySet<string> = new Set(['version', 'terraform_version', 'serial', 'lineage']);

function isObject(doc: unknown): doc is Record<string, unknown> {
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc);
}

/** A `{ "$secret": … }` or `{ "$encrypted": … }` node. */
function isSecretNode(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === SECRET_MARKER || keys[0] === ENCRYPTED_MARKER);
}

/**
 * The lineage and serial of a Terraform or OpenTofu state file — an object with an
 * integer `version`, a non-empty string `lineage` and a non-negative integer `serial`,
 * as every state file format since Terraform 0.7 has — or undefined for anything else.
 */
export function terraformHeader(doc: unknown): TerraformHeader | undefined {
  if (!isObject(doc)) return undefined;
  const { version, lineage, serial } = doc;
  if (!Number.isInteger(version) || typeof lineage !== 'string' || lineage === '') return undefined;
  if (typeof serial !== 'number' || !Number.isInteger(serial) || serial < 0) return undefined;
  return { lineage, serial };
}

/**
 * OpenTofu's client-side encrypted state (`{ meta, encrypted_data, encryption_version }`):
 * its lineage and serial are inside the ciphertext, so berth stores it as given.
 */
export function isClientEncrypted(doc: unknown): boolean {
  return isObject(doc) && typeof doc.encrypted_data === 'string' && typeof doc.encryption_version === 'string';
}

/** Whether a stored state file is sealed: a field beside its header is encrypted. */
export function isSealed(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  return Object.entries(doc).some(([k, v]) => !HEADER_FIELDS.has(k) && isSecretNode(v) && ENCRYPTED_MARKER in v);
}

/**
 * The state file with every field but its header marked secret, one `{ "$secret": … }`
 * each, to be sealed; a field that already is a secret (a state read back with its
 * secrets shown) stays as it is.
 */
export function sealable(doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    setOwn(out, k, HEADER_FIELDS.has(k) || isSecretNode(v) ? v : { [SECRET_MARKER]: v });
  }
  return out;
}

/** The state file again from its sealed form with its secrets shown. */
export function unsealed(doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    setOwn(out, k, !HEADER_FIELDS.has(k) && isSecretNode(v) && SECRET_MARKER in v ? v[SECRET_MARKER] : v);
  }
  return out;
}

/**
 * What a rollback writes for a Terraform state file: the old version with a serial above
 * both its own and the current one's, so a client still holding the rolled-back-from
 * state is refused rather than silently undoing the rollback. Undefined for other states.
 */
export function rolledBackTerraformState(doc: unknown, currentText: string | null): unknown {
  const header = terraformHeader(doc);
  if (header === undefined) return undefined;
  const current = currentText === null ? undefined : terraformHeader(parseStored(currentText, 'workspace state'));
  const out = { ...(doc as Record<string, unknown>) };
  out.serial = Math.max(header.serial, current?.serial ?? 0) + 1;
  return out;
}
