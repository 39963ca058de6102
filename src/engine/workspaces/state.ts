import type { WorkspaceHead } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import { canonicalJson, canonicalJsonOfData, plainCanonicalCopy, sha256 } from '../canonical-json.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { parseStored } from '../objects/rows.js';
import { mayHoldSecrets, secretKeyIds } from '../secrets/crypto.js';
import { wrappedKeys, type WrappedKeys } from '../secrets/keys.js';
import { reveal, seal } from '../secrets/sealing.js';
import { rolledBackTerraformState, sealable, terraformHeader } from './terraform-file.js';
import { assertNonEmpty, toJson } from '../validate.js';
import * as q from './queries.js';
import { assertWritable, loadWorkspace, loadWorkspaceHead } from './workspaces.js';
import type { WorkspaceState, StateVersion, StateExport, ReadStateOptions, WriteStateOptions } from '../types.js';

/*
 * A workspace's state (DESIGN.md §4): a versioned JSON document with lineage and serial,
 * compare-and-set writes, history, rollback, export and import, all fenced by the
 * workspace lock.
 */

/** Serials and limits fit a 32-bit integer column on every backend. */
export const MAX_INT32 = 2_147_483_647;
const EXPORT_VERSION = 1;

/** A state document checked and in its stored form. */
export interface EncodedState {
  text: string | null;
  checksum: string | null;
  doc: unknown;
}

/**
 * How deeply a state document may nest. A fixed limit, far below what the stack allows,
 * so that every state a write accepts also exports and imports back.
 */
export const MAX_STATE_DEPTH = 1000;

function tooDeep(cause?: unknown): BerthError {
  return new BerthError('INVALID_ARGUMENT', `workspace state nests deeper than ${MAX_STATE_DEPTH} levels; flatten it`, {
    details: { maxDepth: MAX_STATE_DEPTH },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** Throws INVALID_ARGUMENT when a parsed JSON document nests deeper than MAX_STATE_DEPTH (no recursion). */
export function assertStateDepth(doc: unknown): void {
  const pending: [unknown, number][] = [[doc, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_STATE_DEPTH) throw tooDeep();
    for (const member of Object.values(value)) pending.push([member, depth + 1]);
  }
}

/**
 * Validates a state document and returns its stored text and checksum.
 * @throws INVALID_ARGUMENT
 */
export function encodeState(state: unknown): EncodedState {
  if (state === null) return { text: null, checksum: null, doc: null };
  // Plain data (what callers almost always pass) is copied in canonical order and
  // stringified once; anything else goes through JSON's own rules first.
  let copy: unknown;
  try {
    copy = plainCanonicalCopy(state, MAX_STATE_DEPTH);
  } catch {
    // A getter or proxy trap threw: JSON's own path reports it.
    copy = undefined;
  }
  if (copy !== undefined) {
    const text = JSON.stringify(copy);
    return { text, checksum: sha256(text), doc: copy };
  }
  return encodeThroughJson(state);
}

/**
 * {@link encodeState} of any value: a JSON round trip (toJSON, undefined, NaN… as JSON
 * has them), then the canonical text of the parsed document.
 * @throws INVALID_ARGUMENT
 */
export function encodeThroughJson(state: unknown): EncodedState {
  // Round-trip through JSON: what is stored is exactly what JSON can carry. The parsed
  // document is plain data, so its canonical text and depth check are one pass.
  const doc: unknown = JSON.parse(toJson(state, 'workspace state'));
  let text: string;
  try {
    text = canonicalJsonOfData(doc, MAX_STATE_DEPTH);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw tooDeep(err);
  }
  return { text, checksum: sha256(text), doc };
}

/** The stored text and checksum of a parsed, checked document. */
export function encodeDoc(doc: unknown): EncodedState {
  let text: string;
  try {
    text = canonicalJson(doc);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new BerthError('INVALID_ARGUMENT', 'workspace state is nested too deeply to be stored', { cause: err });
  }
  return { text, checksum: sha256(text), doc };
}

/**
 * Checks write options before any transaction.
 * @throws INVALID_ARGUMENT, EMPTY_ID
 */
export function assertWriteOptions(opts: WriteStateOptions): void {
  if (typeof opts !== 'object' || opts === null) {
    throw new BerthError('INVALID_ARGUMENT', 'write options must be an object');
  }
  if (opts.lockId !== undefined) assertNonEmpty(opts.lockId, 'lock id');
  if (
    opts.expectedSerial !== undefined &&
    (!Number.isInteger(opts.expectedSerial) || opts.expectedSerial < 0 || opts.expectedSerial > MAX_INT32)
  ) {
    throw new BerthError('INVALID_ARGUMENT', 'expectedSerial must be a non-negative integer', {
      details: { expectedSerial: opts.expectedSerial },
    });
  }
  if (opts.lineage !== undefined) assertNonEmpty(opts.lineage, 'lineage');
  for (const field of ['operation', 'who'] as const) {
    if (opts[field] !== undefined && typeof opts[field] !== 'string') {
      throw new BerthError('INVALID_ARGUMENT', `${field} must be a string`);
    }
  }
}

/** A Terraform state file as stored sealed for workspace `name`: all but its header encrypted. */
export async function sealTerraformFile(
  tx: Tx,
  name: string,
  doc: Record<string, unknown>,
  carried?: WrappedKeys,
): Promise<EncodedState> {
  return encodeDoc(await seal(tx, tx.ns, name, sealable(doc), `the Terraform state of workspace ${name}`, carried));
}

/**
 * The state as stored for workspace `name`: its secrets sealed (`carried`: keys an import
 * brings), and a Terraform state file sealed whole when a secrets key is set.
 */
export async function sealFor(
  tx: Tx,
  name: string,
  encoded: EncodedState,
  carried?: WrappedKeys,
): Promise<EncodedState> {
  if (tx.ctx.secrets.key !== undefined && terraformHeader(encoded.doc) !== undefined) {
    return sealTerraformFile(tx, name, encoded.doc as Record<string, unknown>, carried);
  }
  if (encoded.text === null || !mayHoldSecrets(encoded.text)) return encoded;
  const sealed = await seal(tx, tx.ns, name, encoded.doc, `the state of workspace ${name}`, carried);
  return sealed === encoded.doc ? encoded : encodeDoc(sealed);
}

/**
 * The current state document; secrets come encrypted unless `showSecrets`.
 * @throws NO_SUCH_WORKSPACE; with showSecrets SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function readState(tx: Tx, name: string, opts: ReadStateOptions = {}): Promise<WorkspaceState> {
  const row = await loadWorkspace(tx, name);
  let state = row.state_json === null ? null : parseStored(row.state_json, 'workspace state');
  if (opts?.showSecrets === true && row.state_json !== null && mayHoldSecrets(row.state_json)) {
    state = await reveal(tx, state, { bare: false });
  }
  return {
    lineage: row.lineage,
    serial: row.serial,
    state,
    checksum: row.checksum,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** A version about to be written. */
export interface NewVersion {
  lineage: string;
  serial: number;
  text: string | null;
  checksum: string | null;
  operation: string;
  who: string;
  eventType: string;
  data?: Record<string, unknown>;
  /** The document itself, when the caller has it parsed already. */
  doc?: unknown;
}

/** Writes a new current version, keeps it in history (pruned to the limit) and journals it. */
export async function putVersion(tx: Tx, row: WorkspaceHead, v: NewVersion): Promise<WorkspaceState> {
  // Parameters spelled out, not spread from a shared key: this is the hot path of every state write.
  const ns = row.namespace;
  const name = row.name;
  await tx.q.run(q.updateWorkspaceState, {
    ns,
    name,
    lineage: v.lineage,
    serial: v.serial,
    state: v.text,
    checksum: v.checksum,
    now: tx.now,
  });
  await tx.q.run(q.insertStateVersion, {
    ns,
    name,
    serial: v.serial,
    lineage: v.lineage,
    checksum: v.checksum,
    state: v.text,
    now: tx.now,
    who: v.who,
    operation: v.operation,
  });
  await tx.q.run(q.pruneStateVersions, { ns, name, keepMinusOne: tx.ctx.historyLimit - 1 });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: v.eventType,
    subject: { kind: 'workspace', name: row.name },
    data: { lineage: v.lineage, serial: v.serial, checksum: v.checksum, operation: v.operation, ...v.data },
  });
  return {
    lineage: v.lineage,
    serial: v.serial,
    state: v.doc !== undefined ? v.doc : v.text === null ? null : JSON.parse(v.text),
    checksum: v.checksum,
    updatedAt: new Date(tx.now).toISOString(),
  };
}

/**
 * Writes a new version (serial + 1); `{ "$secret": v }` values are stored encrypted.
 * @throws NO_SUCH_WORKSPACE, LOCKED, LOCK_LOST, STALE_SERIAL, LINEAGE_MISMATCH,
 *   INVALID_ARGUMENT, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function writeState(
  tx: Tx,
  name: string,
  encoded: EncodedState,
  opts: WriteStateOptions,
): Promise<WorkspaceState> {
  const row = await loadWorkspaceHead(tx, name);
  await assertWritable(tx, name, opts.lockId);
  if (opts.lineage !== undefined && opts.lineage !== row.lineage) {
    throw new BerthError(
      'LINEAGE_MISMATCH',
      `workspace ${name} has lineage ${row.lineage}, not ${opts.lineage}: it was deleted and re-created, or the state comes from another workspace; re-read it`,
      { details: { name, lineage: row.lineage, expected: opts.lineage } },
    );
  }
  if (opts.expectedSerial !== undefined && opts.expectedSerial !== row.serial) {
    throw new BerthError(
      'STALE_SERIAL',
      `workspace ${name} is at serial ${row.serial}, not ${opts.expectedSerial}: someone wrote it since you read it; re-read and retry`,
      { details: { name, serial: row.serial, expected: opts.expectedSerial } },
    );
  }
  const stored = await sealFor(tx, name, encoded);
  return putVersion(tx, row, {
    lineage: row.lineage,
    serial: row.serial + 1,
    text: stored.text,
    checksum: stored.checksum,
    doc: stored.doc,
    operation: opts.operation ?? 'write',
    who: opts.who ?? tx.ctx.actor,
    eventType: 'workspace.state.write',
  });
}

/**
 * The workspace's versions, newest first.
 * @throws NO_SUCH_WORKSPACE
 */
export async function history(tx: Tx, name: string, limit: number): Promise<StateVersion[]> {
  await loadWorkspace(tx, name);
  const rows = await tx.q.all(q.stateHistory, { ns: tx.ns, name, limit });
  return rows.map((r) => ({
    serial: r.serial,
    lineage: r.lineage,
    checksum: r.checksum,
    createdAt: new Date(r.created_at).toISOString(),
    who: r.who,
    operation: r.operation,
  }));
}

/**
 * The stored text of an earlier version, as kept in history.
 * @throws INVALID_ARGUMENT (not in history)
 */
export async function versionText(
  tx: Tx,
  name: string,
  serial: number,
): Promise<{ text: string | null; checksum: string | null }> {
  const version = await tx.q.get(q.getStateVersion, { ns: tx.ns, name, serial });
  if (!version) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `workspace ${name} has no serial ${serial} in its history; list it with \`berth state history\``,
      { details: { name, serial } },
    );
  }
  return { text: version.state_json, checksum: version.checksum };
}

/**
 * Writes the state of an earlier serial as a new serial (history is never rewritten). A
 * Terraform state file gets a serial above the current one's, and is sealed when a
 * secrets key is set.
 * @throws NO_SUCH_WORKSPACE, INVALID_ARGUMENT (unknown serial), LOCKED, LOCK_LOST,
 *   SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function rollback(
  tx: Tx,
  name: string,
  serial: number,
  lockId: string | undefined,
): Promise<WorkspaceState> {
  const row = await loadWorkspace(tx, name);
  await assertWritable(tx, name, lockId);
  const version = await versionText(tx, name, serial);
  let { text, checksum } = version;
  let doc: unknown;
  const rewritten = text === null ? undefined : rolledBackTerraformState(JSON.parse(text), row.state_json);
  if (rewritten !== undefined) ({ text, checksum, doc } = await sealFor(tx, name, encodeDoc(rewritten)));
  return putVersion(tx, row, {
    lineage: row.lineage,
    serial: row.serial + 1,
    text,
    checksum,
    ...(doc !== undefined ? { doc } : {}),
    operation: `rollback to ${serial}`,
    who: tx.ctx.actor,
    eventType: 'workspace.state.rollback',
    data: { from: serial },
  });
}

/**
 * The state as a versioned, checksummed envelope. Secrets stay encrypted, with their
 * data keys wrapped beside them, unless `showSecrets` decrypts them (the checksum is then
 * of the decrypted document).
 * @throws NO_SUCH_WORKSPACE; with showSecrets SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
 */
export async function exportState(tx: Tx, name: string, opts: ReadStateOptions = {}): Promise<StateExport> {
  const current = await readState(tx, name, opts);
  const shown = opts?.showSecrets === true && current.state !== null;
  const checksum = shown ? encodeDoc(current.state).checksum : current.checksum;
  // Shown, the state still holds its stack's encrypted env values: their keys go along.
  const ids = secretKeyIds(current.state);
  const secretsKeys = ids.size > 0 ? await wrappedKeys(tx, ids) : undefined;
  return {
    version: EXPORT_VERSION,
    kind: 'berth.workspace',
    namespace: tx.ns,
    workspace: name,
    lineage: current.lineage,
    serial: current.serial,
    checksum,
    state: current.state,
    ...(secretsKeys ? { secretsKeys } : {}),
  };
}

/** An import envelope, checked. */
export interface CheckedImport {
  lineage: string;
  serial: number;
  encoded: EncodedState;
  secretsKeys: WrappedKeys;
}

/**
 * Validates an import envelope: its shape (the export schema, src/schemas/), then that
 * it holds a state and that the checksum matches it.
 * @throws INVALID_IMPORT, naming the failing field by its JSON Pointer path
 */
export async function checkEnvelope(envelope: unknown): Promise<CheckedImport> {
  const invalid = (why: string, path: string): BerthError =>
    new BerthError('INVALID_IMPORT', `the import is not a valid berth workspace export: ${why}`, {
      details: { why, path },
    });
  // Loaded on first use: only an import pays for the schema library.
  const [{ WorkspaceExportSchema }, { schemaProblem, describeProblem }] = await Promise.all([
    import('../../schemas/workspace-export-schema.js'),
    import('../../schemas/schema-check.js'),
  ]);
  const problem = schemaProblem(WorkspaceExportSchema, envelope);
  if (problem) {
    // A version this berth does not read is worth saying plainly: it comes from a newer berth.
    const version = problem.path === '/version' ? (envelope as { version?: unknown }).version : undefined;
    const why =
      version !== undefined
        ? `version ${JSON.stringify(version)} is not supported (this berth reads version ${EXPORT_VERSION})`
        : describeProblem(problem);
    throw invalid(why, problem.path);
  }
  const e = envelope as StateExport;
  if (e.state === null || e.state === undefined) {
    throw invalid('it holds no state (the workspace was never written)', '/state');
  }
  let encoded: EncodedState;
  try {
    encoded = encodeState(e.state);
  } catch {
    throw invalid('state is not a JSON document', '/state');
  }
  if (e.checksum !== encoded.checksum) {
    throw invalid('checksum does not match the state (it was altered or truncated)', '/checksum');
  }
  return { lineage: e.lineage, serial: e.serial, encoded, secretsKeys: e.secretsKeys ?? {} };
}

/**
 * Imports a checked envelope. Into a never-written workspace it is taken as is;
 * otherwise another lineage or a serial not above the current one needs `force`. The new
 * serial is max(imported, current + 1). Secrets are sealed for this workspace.
 * @throws LINEAGE_MISMATCH, STALE_SERIAL, NO_SUCH_WORKSPACE, LOCKED, LOCK_LOST,
 *   SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
 */
export async function importState(
  tx: Tx,
  name: string,
  imported: CheckedImport,
  opts: { force?: boolean; lockId?: string },
): Promise<WorkspaceState> {
  const row = await loadWorkspace(tx, name);
  await assertWritable(tx, name, opts.lockId);
  const neverWritten = row.serial === 0 && row.state_json === null;
  let lineage = row.lineage;
  let serial = row.serial + 1;
  if (neverWritten) {
    lineage = imported.lineage;
    serial = Math.max(imported.serial, 1);
  } else {
    if (imported.lineage !== row.lineage && !opts.force) {
      throw new BerthError(
        'LINEAGE_MISMATCH',
        `the import has lineage ${imported.lineage} but workspace ${name} has lineage ${row.lineage}: it is another workspace's state; replace it with \`berth state import --force FILE\``,
        { details: { name, lineage: row.lineage, imported: imported.lineage } },
      );
    }
    if (imported.serial <= row.serial && !opts.force) {
      const relation = imported.serial === row.serial ? 'the same serial as' : 'older than';
      throw new BerthError(
        'STALE_SERIAL',
        `the import has serial ${imported.serial}, ${relation} workspace ${name} (serial ${row.serial}), so it is not newer; replace the current state with \`berth state import --force FILE\``,
        { details: { name, serial: row.serial, imported: imported.serial } },
      );
    }
    lineage = opts.force ? imported.lineage : row.lineage;
    serial = Math.max(imported.serial, row.serial + 1);
  }
  const stored = await sealFor(tx, name, imported.encoded, imported.secretsKeys);
  return putVersion(tx, row, {
    lineage,
    serial,
    text: stored.text,
    checksum: stored.checksum,
    doc: stored.doc,
    operation: 'import',
    who: tx.ctx.actor,
    eventType: 'workspace.state.import',
    data: { importedSerial: imported.serial, importedLineage: imported.lineage, force: opts.force === true },
  });
}

export type { WorkspaceState, StateVersion, StateExport, ReadStateOptions, WriteStateOptions };
