import type { WorkspaceRow } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import { canonicalJson } from '../canonical-json.js';
import type { Tx } from '../context.js';
import { heartbeat } from '../locks/locks.js';
import { parseStored } from '../objects/rows.js';
import { ENCRYPTED_MARKER, mayHoldSecrets, SECRET_MARKER } from '../secrets/crypto.js';
import { reveal } from '../secrets/sealing.js';
import type { ReadStateOptions, TerraformStateFile, WorkspaceState, WriteTerraformStateOptions } from '../types.js';
import { assertStateDepth, encodeDoc, putVersion, sealTerraformFile, type EncodedState } from './state.js';
import { isClientEncrypted, isSealed, terraformHeader, unsealed, type TerraformHeader } from './terraform-file.js';
import { assertWritable, ensureWorkspace, isEmptyState, loadWorkspace } from './workspaces.js';

/*
 * Terraform's state files in workspaces (DESIGN.md §10): reading one as a client does,
 * and writing one with the compare-and-set Terraform's own `state push` makes (lineage
 * and serial), done on the server. The file format is terraform-file.ts's. `berth
 * serve`'s Terraform backend reaches these through the Store facade.
 */

/** A Terraform state file checked before its write. */
export interface TerraformUpload {
  doc: Record<string, unknown>;
  /** Its lineage and serial; undefined for OpenTofu's client-side encrypted state. */
  header: TerraformHeader | undefined;
  /**
   * Its stored form when it is stored as it is (no secrets key). A sealed one is
   * canonicalised only field by field, as it is encrypted.
   */
  encoded: EncodedState | undefined;
}

/**
 * Checks a state file as a client sent it (JSON text), before any transaction; `sealed`
 * when it will be stored sealed (a secrets key is set).
 * @throws INVALID_ARGUMENT when it is not JSON, or not a Terraform or OpenTofu state file
 */
export function parseTerraformState(json: string, sealed: boolean): TerraformUpload {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new BerthError(
      'INVALID_ARGUMENT',
      'the Terraform state is not JSON; send the state file as Terraform wrote it',
    );
  }
  const header = terraformHeader(doc);
  if (header === undefined && !isClientEncrypted(doc)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      'the document is not a Terraform state: a state file is an object with an integer "version", a "lineage" and a "serial" (or OpenTofu\'s encrypted state with "encrypted_data"); send the state file as Terraform wrote it',
    );
  }
  assertStateDepth(doc);
  const record = doc as Record<string, unknown>;
  return { doc: record, header, encoded: sealed && header !== undefined ? undefined : encodeDoc(doc) };
}

/** Whether an upload is stored sealed: a secrets key is set, or the stored state is sealed. */
function sealsUpload(tx: Tx, upload: TerraformUpload, current: unknown): boolean {
  return upload.header !== undefined && (tx.ctx.secrets.key !== undefined || isSealed(current));
}

/** The client's view of a sealed stored state file (its fields decrypted). */
async function unsealedText(tx: Tx, doc: unknown): Promise<string> {
  // Each field was canonical JSON when it was encrypted: the whole needs no sorting again.
  return JSON.stringify(unsealed((await reveal(tx, doc, { bare: false })) as Record<string, unknown>));
}

/** Throws unless a stored state is a Terraform state file (sealed or not) or OpenTofu's encrypted one. */
function assertTerraform(doc: unknown, name: string): void {
  if (terraformHeader(doc) !== undefined || isClientEncrypted(doc)) return;
  throw new BerthError(
    'LINEAGE_MISMATCH',
    `workspace ${name} holds a state that is not a Terraform state (a berth stack's, or a library's document), so Terraform must not read or replace it; point Terraform at another workspace's address, or replace the state deliberately with \`berth state import --force\``,
    { details: { name, kind: 'not-terraform' } },
  );
}

/**
 * The workspace's Terraform state file as clients read it. A sealed one comes decrypted
 * only with `showSecrets` (`json` is null otherwise).
 * @throws NO_SUCH_WORKSPACE, LINEAGE_MISMATCH (not a Terraform state); with showSecrets
 *   SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function readTerraformState(tx: Tx, name: string, opts: ReadStateOptions): Promise<TerraformStateFile> {
  const row = await loadWorkspace(tx, name);
  if (isEmptyState(row.state_json)) return { json: null, serial: row.serial, sealed: false };
  const doc = parseStored<unknown>(row.state_json!, 'workspace state');
  assertTerraform(doc, name);
  if (!isSealed(doc)) return { json: row.state_json, serial: row.serial, sealed: false };
  if (opts.showSecrets !== true) return { json: null, serial: row.serial, sealed: true };
  return { json: await unsealedText(tx, doc), serial: row.serial, sealed: true };
}

/** The current version as a write that changed nothing returns it. */
function unchanged(row: WorkspaceRow, doc: unknown): WorkspaceState {
  return {
    lineage: row.lineage,
    serial: row.serial,
    state: doc ?? null,
    checksum: row.checksum,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * Terraform's own import check (its `state push`), made where no stale client can skip
 * it: another lineage, a lower serial, or the same serial with other content is refused.
 * Returns true when the upload is the stored state itself (nothing to write).
 * @throws LINEAGE_MISMATCH, STALE_SERIAL
 */
async function compareAndSet(
  tx: Tx,
  name: string,
  stored: TerraformHeader,
  storedDoc: unknown,
  upload: TerraformUpload & { header: TerraformHeader },
): Promise<boolean> {
  const { lineage, serial } = upload.header;
  if (lineage !== stored.lineage) {
    throw new BerthError(
      'LINEAGE_MISMATCH',
      `workspace ${name} holds Terraform state of lineage ${stored.lineage}, and this state is of lineage ${lineage}: it belongs to another configuration or was re-created; nothing was written. Point this configuration at its own address, or replace the state deliberately with \`berth state import --force\``,
      { details: { name, lineage: stored.lineage, pushedLineage: lineage } },
    );
  }
  const stale = (why: string): BerthError =>
    new BerthError(
      'STALE_SERIAL',
      `workspace ${name} holds Terraform state serial ${stored.serial}, and this state has serial ${serial}${why}: it was made from an older state; nothing was written. Run terraform again to work from the current state (terraform refresh, or state pull)`,
      { details: { name, serial: stored.serial, pushedSerial: serial } },
    );
  if (serial < stored.serial) throw stale('');
  if (serial > stored.serial) return false;
  const storedText = isSealed(storedDoc) ? await unsealedText(tx, storedDoc) : canonicalJson(storedDoc);
  if (storedText === (upload.encoded?.text ?? canonicalJson(upload.doc))) return true;
  throw stale(' with other content');
}

/**
 * Writes a Terraform state file as a new version, with Terraform's compare-and-set
 * against the stored one (OpenTofu's encrypted state is stored as given, unchecked). With
 * a secrets key set (or a sealed state stored), all but its version, lineage and serial
 * is stored encrypted. `null` empties the workspace's state. A write under a lock renews
 * its lease. The stored state itself again changes nothing.
 * @throws NO_SUCH_WORKSPACE, LOCKED, LOCK_LOST, LINEAGE_MISMATCH, STALE_SERIAL,
 *   INVALID_ARGUMENT, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function writeTerraformState(
  tx: Tx,
  name: string,
  upload: TerraformUpload | null,
  opts: WriteTerraformStateOptions,
): Promise<WorkspaceState> {
  const row = opts.create === true ? await ensureWorkspace(tx, name) : await loadWorkspace(tx, name);
  const lock = await assertWritable(tx, name, opts.lockId);
  // Terraform never renews a lock: its writes are the only sign of life a lease can see.
  if (lock !== undefined && lock.ttl_ms !== null) await heartbeat(tx, lock.key, lock.id);
  const current = isEmptyState(row.state_json) ? undefined : parseStored<unknown>(row.state_json!, 'workspace state');
  const version = {
    lineage: row.lineage,
    serial: row.serial + 1,
    operation: opts.operation ?? lock?.operation ?? 'write',
    who: opts.who ?? lock?.who ?? tx.ctx.actor,
    eventType: 'workspace.state.write',
  };
  if (upload === null) {
    if (current === undefined) return unchanged(row, null);
    return putVersion(tx, row, { ...version, text: null, checksum: null, doc: null });
  }
  if (current !== undefined) {
    assertTerraform(current, name);
    const stored = terraformHeader(current);
    if (stored !== undefined && upload.header !== undefined) {
      if (await compareAndSet(tx, name, stored, current, { ...upload, header: upload.header })) {
        return unchanged(row, current);
      }
    }
  }
  let encoded: EncodedState;
  if (sealsUpload(tx, upload, current)) {
    encoded = await sealTerraformFile(tx, name, upload.doc);
  } else {
    encoded = upload.encoded ?? encodeDoc(upload.doc);
    if (mayHoldSecrets(encoded.text!)) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `the Terraform state holds a "${SECRET_MARKER}" or "${ENCRYPTED_MARKER}" key, which berth reserves for its secrets; start berth serve with a secrets key (BERTH_SECRETS_KEY or BERTH_SECRETS_KEY_FILE) so that the state is stored encrypted as a whole`,
      );
    }
  }
  return putVersion(tx, row, { ...version, text: encoded.text, checksum: encoded.checksum, doc: encoded.doc });
}
