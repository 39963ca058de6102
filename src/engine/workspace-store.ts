import { randomUUID } from 'node:crypto';
import type { QueryRunner } from '../db/executor.js';
import type { WorkspaceRow } from '../db/schema.js';
import { BerthError } from '../errors.js';
import { canonicalJson, sha256 } from './canonical-json.js';
import { EngineBase, type EngineContext } from './engine-base.js';
import type { LockInfo, LockStore, AcquireOptions } from './lock-store.js';
import { assertAcquireOptions, LOCK_COMMIT } from './lock-store.js';
import { parseStored } from './row-mappers.js';
import type { SecretsStore, WrappedKeys } from './secret-store.js';
import { mayHoldSecrets, secretKeyIds } from './secrets.js';
import { assertNonEmpty, toJson } from './validate.js';
import * as q from './workspace-queries.js';

/** The workspace every namespace has, which cannot be deleted. */
export const DEFAULT_WORKSPACE = 'default';

/** Serials and limits fit a 32-bit integer column on every backend. */
const MAX_INT32 = 2_147_483_647;
/** The highest serial an import may bring: room is left for the writes after it. */
const MAX_IMPORTED_SERIAL = MAX_INT32 - 1_000_000;

/** Workspace names (DESIGN.md §4). */
export const WORKSPACE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

/** A workspace as `get` and `list` show it. */
export interface WorkspaceInfo {
  name: string;
  namespace: string;
  lineage: string;
  serial: number;
  createdAt: string;
  updatedAt: string;
  /** State null or {} and no object managed by the workspace. */
  isEmpty: boolean;
  lock?: LockInfo;
}

/** The current state document of a workspace. */
export interface WorkspaceState {
  lineage: string;
  serial: number;
  state: unknown;
  checksum: string | null;
  updatedAt: string;
}

/** One entry of a workspace's history. */
export interface StateVersion {
  serial: number;
  lineage: string;
  checksum: string | null;
  createdAt: string;
  who: string;
  operation: string;
}

/** A workspace's state as exported (Pulumi's stack export), version 1. */
export interface StateExport {
  version: 1;
  kind: 'berth.workspace';
  namespace: string;
  workspace: string;
  lineage: string;
  serial: number;
  checksum: string | null;
  state: unknown;
  /**
   * The data keys the state's secrets are encrypted with, wrapped by the store's secrets
   * key, so that a store with the same key can import it (absent without secrets).
   */
  secretsKeys?: WrappedKeys;
}

/** Options of reading or exporting a state. */
export interface ReadStateOptions {
  /** Decrypt secrets (`{ "$secret": value }`) instead of returning them encrypted. */
  showSecrets?: boolean;
}

/** Options of a state write. */
export interface WriteStateOptions {
  /** The id of the workspace lock the caller holds; fenced: LOCK_LOST once it no longer holds. */
  lockId?: string;
  /** Compare-and-set: the serial the caller read. */
  expectedSerial?: number;
  /** Compare-and-set: the lineage the caller read. */
  lineage?: string;
  /** What the write is for, kept in history (default "write"). */
  operation?: string;
  /** Who writes, kept in history (default the store's actor). */
  who?: string;
}

const EXPORT_VERSION = 1;

/** The lock key of a workspace. */
export function workspaceLockKey(namespace: string, name: string): string {
  return `workspace:${namespace}/${name}`;
}

/** Throws INVALID_NAME unless `name` is a valid workspace name. */
export function assertWorkspaceName(name: unknown): asserts name is string {
  assertNonEmpty(name, 'workspace name');
  if (!WORKSPACE_NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new BerthError(
      'INVALID_NAME',
      `workspace name ${JSON.stringify(name)} is invalid: use 1 to 100 letters, digits, '_', '.' or '-' (not "." or "..")`,
      { details: { name, pattern: WORKSPACE_NAME_PATTERN.source } },
    );
  }
}

function isEmptyState(stateJson: string | null): boolean {
  return stateJson === null || stateJson === '{}' || stateJson === 'null';
}

interface EncodedState {
  text: string | null;
  checksum: string | null;
  doc: unknown;
}

/**
 * How deeply a state document may nest. A fixed limit, far below what the stack allows,
 * so that every state a write accepts also exports and imports back.
 */
export const MAX_STATE_DEPTH = 1000;

/** Throws INVALID_ARGUMENT when a parsed JSON document nests deeper than MAX_STATE_DEPTH (no recursion). */
function assertStateDepth(doc: unknown): void {
  const pending: [unknown, number][] = [[doc, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_STATE_DEPTH) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `workspace state nests deeper than ${MAX_STATE_DEPTH} levels; flatten it`,
        { details: { maxDepth: MAX_STATE_DEPTH } },
      );
    }
    for (const member of Object.values(value)) pending.push([member, depth + 1]);
  }
}

/** Validates a state document and returns its stored text and checksum. */
function encodeState(state: unknown): EncodedState {
  if (state === null) return { text: null, checksum: null, doc: null };
  // Round-trip through JSON: what is stored is exactly what JSON can carry.
  const doc: unknown = JSON.parse(toJson(state, 'workspace state'));
  assertStateDepth(doc);
  return encodeDoc(doc);
}

function encodeDoc(doc: unknown): EncodedState {
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
 * Named stack states per namespace (DESIGN.md §4): versioned JSON documents with
 * lineage and serial, compare-and-set writes, history, rollback, export and import,
 * all fenced by the workspace lock.
 */
export class WorkspaceStore extends EngineBase {
  constructor(
    ctx: EngineContext,
    private readonly locks: LockStore,
    private readonly secrets: SecretsStore,
  ) {
    super(ctx);
  }

  private get ns(): string {
    return this.ctx.namespace;
  }

  /** Creates the namespace's default workspace the first time it is needed. */
  private async ensureDefault(): Promise<void> {
    // A read-only handle cannot create it; load() shows it as never written instead.
    if (this.ctx.readonly) return;
    const ns = this.ns;
    if (await this.direct.get(q.getWorkspace, { ns, name: DEFAULT_WORKSPACE })) return;
    await this.write(async (tx, now) => {
      if (await tx.get(q.getWorkspace, { ns, name: DEFAULT_WORKSPACE })) return;
      await this.insert(tx, now, ns, DEFAULT_WORKSPACE);
    });
  }

  private async insert(tx: QueryRunner, now: number, ns: string, name: string): Promise<WorkspaceRow> {
    const lineage = randomUUID();
    await tx.run(q.insertWorkspace, { ns, name, lineage, now });
    await this.event(tx, now, { namespace: ns, type: 'workspace.create', subject: { kind: 'workspace', name } });
    return {
      namespace: ns,
      name,
      lineage,
      serial: 0,
      state_json: null,
      checksum: null,
      created_at: now,
      updated_at: now,
    };
  }

  private async load(tx: QueryRunner, name: string): Promise<WorkspaceRow> {
    const row = await tx.get(q.getWorkspace, { ns: this.ns, name });
    if (!row && name === DEFAULT_WORKSPACE && this.ctx.readonly) return this.neverCreatedDefault();
    if (!row) {
      throw new BerthError(
        'NO_SUCH_WORKSPACE',
        `workspace ${name} does not exist in namespace ${JSON.stringify(this.ns)}; create it with \`berth workspace new ${name}\``,
        { details: { name, namespace: this.ns } },
      );
    }
    return row;
  }

  /** The default workspace as a read-only handle sees it before anyone used it. */
  private neverCreatedDefault(): WorkspaceRow {
    const now = this.ctx.clock();
    return {
      namespace: this.ns,
      name: DEFAULT_WORKSPACE,
      lineage: '',
      serial: 0,
      state_json: null,
      checksum: null,
      created_at: now,
      updated_at: now,
    };
  }

  private async info(tx: QueryRunner, row: WorkspaceRow, now: number): Promise<WorkspaceInfo> {
    const managed = await tx.get(q.countManaged, { ns: row.namespace, name: row.name });
    const managedCount = Number(managed?.containers ?? 0) + Number(managed?.pods ?? 0) + Number(managed?.volumes ?? 0);
    const lock = await tx.get(q.getLock, { key: workspaceLockKey(row.namespace, row.name) });
    const info: WorkspaceInfo = {
      name: row.name,
      namespace: row.namespace,
      lineage: row.lineage,
      serial: row.serial,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
      isEmpty: isEmptyState(row.state_json) && managedCount === 0,
    };
    if (lock) info.lock = this.locks.toLockInfo(lock, now);
    return info;
  }

  /**
   * Checks the workspace lock before a write: with `lockId` it must still hold the lock
   * (LOCK_LOST otherwise); without one, nobody else may hold it (LOCKED).
   */
  private async assertWritable(tx: QueryRunner, now: number, name: string, lockId: string | undefined): Promise<void> {
    const key = workspaceLockKey(this.ns, name);
    if (lockId !== undefined) {
      await this.locks.assertHolds(tx, key, lockId);
      return;
    }
    const held = await tx.get(q.getLock, { key });
    if (held) throw this.locks.lockedError(held, now, `workspace ${name}`);
  }

  /** Every workspace of the handle's namespace, `default` included, by name. */
  async list(): Promise<WorkspaceInfo[]> {
    this.assertOpen();
    await this.ensureDefault();
    return this.read(async (tx) => {
      const now = this.ctx.clock();
      const rows = await tx.all(q.listWorkspaces, { ns: this.ns });
      if (!rows.some((r) => r.name === DEFAULT_WORKSPACE)) rows.unshift(this.neverCreatedDefault());
      const out: WorkspaceInfo[] = [];
      for (const row of rows) out.push(await this.info(tx, row, now));
      return out;
    });
  }

  /**
   * Creates a workspace with a fresh lineage and serial 0.
   * @throws EMPTY_ID, INVALID_NAME, WORKSPACE_EXISTS
   */
  async create(name: string): Promise<WorkspaceInfo> {
    this.assertOpen();
    assertWorkspaceName(name);
    await this.ensureDefault();
    return this.write(async (tx, now) => {
      if (await tx.get(q.getWorkspace, { ns: this.ns, name })) {
        throw new BerthError(
          'WORKSPACE_EXISTS',
          `workspace ${name} already exists in namespace ${JSON.stringify(this.ns)}; select it with \`berth workspace select ${name}\``,
          { details: { name, namespace: this.ns } },
        );
      }
      return this.info(tx, await this.insert(tx, now, this.ns, name), now);
    });
  }

  /**
   * One workspace.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE
   */
  async get(name: string): Promise<WorkspaceInfo> {
    this.assertOpen();
    assertWorkspaceName(name);
    if (name === DEFAULT_WORKSPACE) await this.ensureDefault();
    return this.read(async (tx) => this.info(tx, await this.load(tx, name), this.ctx.clock()));
  }

  /**
   * Deletes a workspace with its history. Refuses `default`, a locked workspace (even
   * with force), and a non-empty one without `force`.
   * @throws DEFAULT_WORKSPACE, NO_SUCH_WORKSPACE, LOCKED, WORKSPACE_NOT_EMPTY
   */
  async delete(name: string, opts: { force?: boolean } = {}): Promise<void> {
    this.assertOpen();
    assertWorkspaceName(name);
    if (name === DEFAULT_WORKSPACE) {
      throw new BerthError('DEFAULT_WORKSPACE', 'the default workspace cannot be deleted', { details: { name } });
    }
    await this.write(async (tx, now) => {
      const row = await this.load(tx, name);
      const held = await tx.get(q.getLock, { key: workspaceLockKey(this.ns, name) });
      if (held) throw this.locks.lockedError(held, now, `workspace ${name}`);
      const info = await this.info(tx, row, now);
      if (!info.isEmpty && !opts.force) {
        throw new BerthError(
          'WORKSPACE_NOT_EMPTY',
          `workspace ${name} is not empty (serial ${row.serial}, or objects are still managed by it); destroy its objects first, or delete with force`,
          { details: { name, serial: row.serial } },
        );
      }
      await tx.run(q.deleteStateVersions, { ns: this.ns, name });
      await tx.run(q.deleteWorkspace, { ns: this.ns, name });
      // A workspace created later under this name gets a data key of its own.
      await tx.run(q.retireSecretKeys, { ns: this.ns, name, now });
      await this.event(tx, now, {
        namespace: this.ns,
        type: 'workspace.delete',
        subject: { kind: 'workspace', name },
        data: { lineage: row.lineage, serial: row.serial, force: opts.force === true },
      });
    });
  }

  /**
   * The current state document. Its secrets come encrypted (`{ "$encrypted": … }`) unless
   * `showSecrets` asks for them decrypted (`{ "$secret": value }`).
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE; with showSecrets
   *   SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async readState(name: string, opts: ReadStateOptions = {}): Promise<WorkspaceState> {
    this.assertOpen();
    assertWorkspaceName(name);
    if (name === DEFAULT_WORKSPACE) await this.ensureDefault();
    const { row, state } = await this.read(async (tx) => {
      const row = await this.load(tx, name);
      let state = row.state_json === null ? null : parseStored(row.state_json, 'workspace state');
      if (opts?.showSecrets === true && row.state_json !== null && mayHoldSecrets(row.state_json)) {
        state = await this.secrets.revealIn(tx, state, { bare: false });
      }
      return { row, state };
    });
    return {
      lineage: row.lineage,
      serial: row.serial,
      state,
      checksum: row.checksum,
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  /**
   * The state as stored: `{ "$secret": v }` markers encrypted with the workspace's data
   * key, secrets of other workspaces re-encrypted with it (`carried`: keys an import brings).
   */
  private async seal(
    tx: QueryRunner,
    now: number,
    name: string,
    encoded: EncodedState,
    carried?: WrappedKeys,
  ): Promise<EncodedState> {
    if (encoded.text === null || !mayHoldSecrets(encoded.text)) return encoded;
    const what = `the state of workspace ${name}`;
    const sealed = await this.secrets.sealIn(tx, now, this.ns, name, encoded.doc, what, carried);
    return sealed === encoded.doc ? encoded : encodeDoc(sealed);
  }

  /**
   * Writes a new version (serial + 1) and keeps it in history; `{ "$secret": v }` values
   * are stored encrypted. Changes nothing on failure.
   * @throws NO_SUCH_WORKSPACE, LOCKED, LOCK_LOST, STALE_SERIAL, LINEAGE_MISMATCH,
   *   INVALID_ARGUMENT, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async writeState(name: string, state: unknown, opts: WriteStateOptions = {}): Promise<WorkspaceState> {
    this.assertOpen();
    assertWorkspaceName(name);
    assertWriteOptions(opts);
    const encoded = encodeState(state);
    if (name === DEFAULT_WORKSPACE) await this.ensureDefault();
    return this.write(async (tx, now) => {
      const row = await this.load(tx, name);
      await this.assertWritable(tx, now, name, opts.lockId);
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
      const stored = await this.seal(tx, now, name, encoded);
      return this.putVersion(tx, now, row, {
        lineage: row.lineage,
        serial: row.serial + 1,
        text: stored.text,
        checksum: stored.checksum,
        doc: stored.doc,
        operation: opts.operation ?? 'write',
        who: opts.who ?? this.ctx.actor,
        eventType: 'workspace.state.write',
      });
    });
  }

  private async putVersion(
    tx: QueryRunner,
    now: number,
    row: WorkspaceRow,
    v: {
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
    },
  ): Promise<WorkspaceState> {
    const key = { ns: row.namespace, name: row.name };
    await tx.run(q.updateWorkspaceState, {
      ...key,
      lineage: v.lineage,
      serial: v.serial,
      state: v.text,
      checksum: v.checksum,
      now,
    });
    await tx.run(q.insertStateVersion, {
      ...key,
      serial: v.serial,
      lineage: v.lineage,
      checksum: v.checksum,
      state: v.text,
      now,
      who: v.who,
      operation: v.operation,
    });
    await tx.run(q.pruneStateVersions, { ...key, keepMinusOne: this.ctx.historyLimit - 1 });
    await this.event(tx, now, {
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
      updatedAt: new Date(now).toISOString(),
    };
  }

  /**
   * The workspace's versions, newest first.
   * @throws NO_SUCH_WORKSPACE, INVALID_ARGUMENT
   */
  async history(name: string, opts: { limit?: number } = {}): Promise<StateVersion[]> {
    this.assertOpen();
    assertWorkspaceName(name);
    const limit = (opts ?? {}).limit ?? MAX_INT32;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_INT32) {
      throw new BerthError('INVALID_ARGUMENT', 'history limit must be a positive integer', { details: { limit } });
    }
    if (name === DEFAULT_WORKSPACE) await this.ensureDefault();
    return this.read(async (tx) => {
      await this.load(tx, name);
      const rows = await tx.all(q.stateHistory, { ns: this.ns, name, limit });
      return rows.map((r) => ({
        serial: r.serial,
        lineage: r.lineage,
        checksum: r.checksum,
        createdAt: new Date(r.created_at).toISOString(),
        who: r.who,
        operation: r.operation,
      }));
    });
  }

  /**
   * Writes the state of an earlier serial as a new serial (history is never rewritten).
   * @throws NO_SUCH_WORKSPACE, INVALID_ARGUMENT (unknown serial), LOCKED, LOCK_LOST
   */
  async rollback(name: string, serial: number, opts: { lockId?: string } = {}): Promise<WorkspaceState> {
    this.assertOpen();
    assertWorkspaceName(name);
    if (!Number.isInteger(serial) || serial < 1 || serial > MAX_INT32) {
      throw new BerthError('INVALID_ARGUMENT', `serial ${String(serial)} is not a serial of workspace ${name}`, {
        details: { serial },
      });
    }
    if (opts.lockId !== undefined) assertNonEmpty(opts.lockId, 'lock id');
    return this.write(async (tx, now) => {
      const row = await this.load(tx, name);
      await this.assertWritable(tx, now, name, opts.lockId);
      const version = await tx.get(q.getStateVersion, { ns: this.ns, name, serial });
      if (!version) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `workspace ${name} has no serial ${serial} in its history; list it with \`berth state history\``,
          { details: { name, serial } },
        );
      }
      return this.putVersion(tx, now, row, {
        lineage: row.lineage,
        serial: row.serial + 1,
        text: version.state_json,
        checksum: version.checksum,
        operation: `rollback to ${serial}`,
        who: this.ctx.actor,
        eventType: 'workspace.state.rollback',
        data: { from: serial },
      });
    });
  }

  /**
   * The workspace's state as a versioned, checksummed envelope. Secrets stay encrypted,
   * with their data keys wrapped beside them, unless `showSecrets` decrypts them (the
   * checksum is then of the decrypted document).
   * @throws NO_SUCH_WORKSPACE; with showSecrets SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async exportState(name: string, opts: ReadStateOptions = {}): Promise<StateExport> {
    const current = await this.readState(name, opts);
    const shown = opts?.showSecrets === true && current.state !== null;
    const checksum = shown ? encodeDoc(current.state).checksum : current.checksum;
    // Shown, the state still holds its stack's encrypted env values: their keys go along.
    const ids = secretKeyIds(current.state);
    const secretsKeys = ids.size > 0 ? await this.read((tx) => this.secrets.wrappedKeys(tx, ids)) : undefined;
    return {
      version: EXPORT_VERSION,
      kind: 'berth.workspace',
      namespace: this.ns,
      workspace: name,
      lineage: current.lineage,
      serial: current.serial,
      checksum,
      state: current.state,
      ...(secretsKeys ? { secretsKeys } : {}),
    };
  }

  /**
   * Imports an exported envelope. Into a never-written workspace it is taken as is;
   * otherwise another lineage or a serial not above the current one needs `force`.
   * The new serial is max(imported, current + 1). Changes nothing on failure.
   * Secrets marked `{ "$secret": v }` are encrypted, and encrypted ones re-encrypted with
   * this workspace's data key.
   * @throws INVALID_IMPORT, LINEAGE_MISMATCH, STALE_SERIAL, NO_SUCH_WORKSPACE, LOCKED,
   *   LOCK_LOST, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async importState(
    name: string,
    envelope: StateExport,
    opts: { force?: boolean; lockId?: string } = {},
  ): Promise<WorkspaceState> {
    this.assertOpen();
    assertWorkspaceName(name);
    if (opts.lockId !== undefined) assertNonEmpty(opts.lockId, 'lock id');
    const imported = checkEnvelope(envelope);
    if (name === DEFAULT_WORKSPACE) await this.ensureDefault();
    return this.write(async (tx, now) => {
      const row = await this.load(tx, name);
      await this.assertWritable(tx, now, name, opts.lockId);
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
            `the import has lineage ${imported.lineage} but workspace ${name} has lineage ${row.lineage}: it is another workspace's state; import with force to replace it`,
            { details: { name, lineage: row.lineage, imported: imported.lineage } },
          );
        }
        if (imported.serial <= row.serial && !opts.force) {
          throw new BerthError(
            'STALE_SERIAL',
            `the import has serial ${imported.serial} but workspace ${name} is at serial ${row.serial}: it is older than the current state; import with force to replace it`,
            { details: { name, serial: row.serial, imported: imported.serial } },
          );
        }
        lineage = opts.force ? imported.lineage : row.lineage;
        serial = Math.max(imported.serial, row.serial + 1);
      }
      const stored = await this.seal(tx, now, name, imported.encoded, imported.secretsKeys);
      return this.putVersion(tx, now, row, {
        lineage,
        serial,
        text: stored.text,
        checksum: stored.checksum,
        doc: stored.doc,
        operation: 'import',
        who: this.ctx.actor,
        eventType: 'workspace.state.import',
        data: { importedSerial: imported.serial, importedLineage: imported.lineage, force: opts.force === true },
      });
    });
  }

  /**
   * Locks a workspace (Terraform's state lock).
   * @throws NO_SUCH_WORKSPACE, LOCKED (details.lock: the holder), INVALID_ARGUMENT
   */
  async lock(name: string, opts: AcquireOptions): Promise<LockInfo> {
    this.assertOpen();
    assertWorkspaceName(name);
    assertAcquireOptions(opts);
    if (name === DEFAULT_WORKSPACE) await this.ensureDefault();
    const ns = this.ns;
    return this.locks.withLockWait(opts.timeoutMs, () =>
      this.write(async (tx, now) => {
        await this.load(tx, name);
        return this.locks.acquireIn(tx, now, workspaceLockKey(ns, name), opts, `workspace ${name}`);
      }, LOCK_COMMIT),
    );
  }

  /**
   * Releases the workspace lock held with `lockId`.
   * @throws NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async unlock(name: string, lockId: string): Promise<void> {
    assertWorkspaceName(name);
    await this.locks.release(workspaceLockKey(this.ns, name), lockId);
  }

  /**
   * Breaks the workspace lock, given its exact id; returns the removed lock.
   * @throws NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async forceUnlock(name: string, lockId: string): Promise<LockInfo> {
    assertWorkspaceName(name);
    return this.locks.forceUnlock(workspaceLockKey(this.ns, name), lockId);
  }
}

function assertWriteOptions(opts: WriteStateOptions): void {
  if (typeof opts !== 'object' || opts === null)
    throw new BerthError('INVALID_ARGUMENT', 'write options must be an object');
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
  if (opts.operation !== undefined && typeof opts.operation !== 'string') {
    throw new BerthError('INVALID_ARGUMENT', 'operation must be a string');
  }
}

/** Validates an import envelope: version, kind, fields and checksum. */
function checkEnvelope(envelope: unknown): {
  lineage: string;
  serial: number;
  encoded: EncodedState;
  secretsKeys: WrappedKeys;
} {
  const invalid = (why: string): BerthError =>
    new BerthError('INVALID_IMPORT', `the import is not a valid berth workspace export: ${why}`, { details: { why } });
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) throw invalid('not an object');
  const e = envelope as Record<string, unknown>;
  if (e.kind !== 'berth.workspace') throw invalid(`kind is ${JSON.stringify(e.kind)}, expected "berth.workspace"`);
  if (e.version !== EXPORT_VERSION) {
    throw invalid(`version ${JSON.stringify(e.version)} is not supported (this berth reads version ${EXPORT_VERSION})`);
  }
  if (typeof e.lineage !== 'string' || e.lineage === '') throw invalid('lineage is missing');
  if (typeof e.serial !== 'number' || !Number.isInteger(e.serial) || e.serial < 0 || e.serial > MAX_IMPORTED_SERIAL) {
    throw invalid(`serial is not an integer from 0 to ${MAX_IMPORTED_SERIAL}`);
  }
  if (e.state === null || e.state === undefined) throw invalid('it holds no state (the workspace was never written)');
  let encoded: EncodedState;
  try {
    encoded = encodeState(e.state);
  } catch {
    throw invalid('state is not a JSON document');
  }
  if (typeof e.checksum !== 'string' || e.checksum !== encoded.checksum) {
    throw invalid('checksum does not match the state (it was altered or truncated)');
  }
  const keys = e.secretsKeys ?? {};
  if (
    typeof keys !== 'object' ||
    keys === null ||
    Array.isArray(keys) ||
    Object.values(keys).some((k) => typeof k !== 'string')
  ) {
    throw invalid('secretsKeys is not a map of key ids to wrapped keys');
  }
  return { lineage: e.lineage, serial: e.serial, encoded, secretsKeys: keys as WrappedKeys };
}
