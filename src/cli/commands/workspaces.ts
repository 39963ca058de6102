import { readFileSync } from 'node:fs';
import type { LockInfo } from '../../engine/locks/lock-info.js';
import type { StateExport } from '../../engine/workspaces/state.js';
import type { Store } from '../../store.js';
import { BerthError } from '../../errors.js';
import type { CliContext } from '../cli-context.js';
import { redactSecrets } from '../../engine/secrets/crypto.js';
import { paint, relativeTime, renderTable, usageError } from '../output.js';

/*
 * Workspace, state and lock commands (Terraform's workspace/state/force-unlock).
 */

/** `berth workspace list`: the selected one marked with `* `. */
export async function workspaceList(ctx: CliContext): Promise<void> {
  const { store } = await ctx.openStack();
  const selected = ctx.selectedWorkspace().name;
  const list = await store.workspaces.list();
  if (ctx.json) {
    ctx.printJson({
      workspaces: list.map((w) => ({
        name: w.name,
        selected: w.name === selected,
        serial: w.serial,
        locked: w.lock !== undefined,
      })),
    });
    return;
  }
  for (const w of list) {
    const lock = w.lock ? paint(ctx.colour, 'yellow', ` (locked by ${w.lock.who})`) : '';
    ctx.out(w.name === selected ? paint(ctx.colour, 'green', `* ${w.name}`) + lock : `  ${w.name}${lock}`);
  }
}

/** `berth workspace show`: only the selected workspace's name. */
export function workspaceShow(ctx: CliContext): void {
  const { name } = ctx.selectedWorkspace();
  if (ctx.json) ctx.printJson({ workspace: name });
  else ctx.out(name);
}

function noteOverride(ctx: CliContext, action: string): void {
  const sel = ctx.selectedWorkspace();
  if (sel.source === 'env') {
    ctx.note(
      `Note: BERTH_WORKSPACE=${sel.name} is set and overrides the selection; ${action} takes effect once BERTH_WORKSPACE is unset.`,
    );
  }
}

/** `berth workspace new NAME`: creates and selects it. */
export async function workspaceNew(ctx: CliContext, name: string): Promise<void> {
  const { store, namespace } = await ctx.openStack();
  const ws = await store.workspaces.create(name);
  ctx.selectWorkspace(name, namespace);
  noteOverride(ctx, 'the new selection');
  const where = namespace === '' ? '' : ` in namespace ${JSON.stringify(namespace)}`;
  if (ctx.json) ctx.printJson({ workspace: ws });
  else ctx.out(`Created and switched to workspace "${name}"${where}.`);
}

/** `berth workspace select NAME [--or-create]`. */
export async function workspaceSelect(ctx: CliContext, name: string, opts: { orCreate?: boolean }): Promise<void> {
  const { store, namespace } = await ctx.openStack();
  let created = false;
  try {
    await store.workspaces.get(name);
  } catch (err) {
    if (!(err instanceof BerthError && err.code === 'NO_SUCH_WORKSPACE') || !opts.orCreate) {
      if (err instanceof BerthError && err.code === 'NO_SUCH_WORKSPACE') {
        throw new BerthError(
          'NO_SUCH_WORKSPACE',
          `workspace ${JSON.stringify(name)} doesn't exist; create it with \`berth workspace new ${name}\`, or select it with --or-create`,
          { details: err.details },
        );
      }
      throw err;
    }
    await store.workspaces.create(name);
    created = true;
  }
  ctx.selectWorkspace(name, namespace);
  noteOverride(ctx, 'this selection');
  if (ctx.json) ctx.printJson({ workspace: name, created });
  else {
    const where = namespace === '' ? '' : ` in namespace ${JSON.stringify(namespace)}`;
    ctx.out(
      created ? `Created and switched to workspace "${name}"${where}.` : `Switched to workspace "${name}"${where}.`,
    );
  }
}

/** `berth workspace delete NAME [--force]`: never the selected one. */
export async function workspaceDelete(ctx: CliContext, name: string, opts: { force?: boolean }): Promise<void> {
  const { store } = await ctx.openStack();
  if (name === ctx.selectedWorkspace().name && name !== 'default') {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `workspace ${JSON.stringify(name)} is your selected workspace and cannot be deleted; select another one first (\`berth workspace select default\`)`,
      { details: { name } },
    );
  }
  const info = await store.workspaces.get(name).catch((err: unknown) => {
    if (!(err instanceof BerthError && err.code === 'NO_SUCH_WORKSPACE')) throw err;
    throw new BerthError(
      'NO_SUCH_WORKSPACE',
      `workspace ${name} does not exist in namespace ${JSON.stringify(store.namespace)}; nothing to delete; list the workspaces with \`berth workspace list\``,
      { details: err.details },
    );
  });
  await store.workspaces.delete(name, { force: opts.force === true });
  const m = info.managed;
  const left = [
    m.containers ? `${m.containers} container(s)` : '',
    m.pods ? `${m.pods} pod(s)` : '',
    m.volumes ? `${m.volumes} volume(s)` : '',
  ].filter(Boolean);
  if (ctx.json) return ctx.printJson({ deleted: name, namespace: info.namespace, serial: info.serial, managed: m });
  ctx.out(
    `Deleted workspace "${name}" (state serial ${info.serial} and its history)` +
      (left.length > 0 ? `; the ${left.join(', ')} it managed stay, now orphans.` : '.'),
  );
}

/** `berth state show`: the selected workspace's current state. */
export async function stateShow(ctx: CliContext, opts: { showSecrets?: boolean } = {}): Promise<void> {
  const { store } = await ctx.openStack();
  const name = ctx.selectedWorkspace().name;
  const read = await store.workspaces.readState(name, { showSecrets: opts.showSecrets === true });
  const current = opts.showSecrets ? read : { ...read, state: redactSecrets(read.state) };
  if (ctx.json) return ctx.printJson({ workspace: name, ...current });
  ctx.note(`# workspace ${name}: serial ${current.serial}, lineage ${current.lineage}`);
  ctx.out(current.state === null ? '(no state has been written)' : JSON.stringify(current.state, null, 2));
}

/** `berth state history [--limit N]`. */
export async function stateHistory(ctx: CliContext, opts: { limit?: string }): Promise<void> {
  const { store } = await ctx.openStack();
  const name = ctx.selectedWorkspace().name;
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  const history = await store.workspaces.history(name, limit === undefined ? {} : { limit });
  if (ctx.json) return ctx.printJson({ workspace: name, history });
  const now = Date.now();
  process.stdout.write(
    renderTable(
      ['SERIAL', 'CREATED', 'WHO', 'OPERATION', 'CHECKSUM'],
      history.map((v) => [
        String(v.serial),
        relativeTime(v.createdAt, now),
        v.who,
        v.operation,
        (v.checksum ?? '-').slice(0, 12),
      ]),
    ),
  );
}

/** Runs `fn` holding the selected workspace's lock (Terraform's -lock behaviour). */
async function withWorkspaceLock<T>(
  ctx: CliContext,
  store: Store,
  name: string,
  operation: string,
  fn: (lockId: string) => Promise<T>,
): Promise<T> {
  const lock = await store.workspaces.lock(name, { operation, timeoutMs: ctx.lockTimeoutMs });
  try {
    return await fn(lock.id);
  } finally {
    await store.workspaces.unlock(name, lock.id).catch(() => undefined);
  }
}

/** `berth state rollback SERIAL`: under the workspace lock. */
export async function stateRollback(
  ctx: CliContext,
  serialText: string,
  opts: { force?: boolean } = {},
): Promise<void> {
  const serial = /^\d+$/.test(serialText) ? Number(serialText) : NaN;
  if (!Number.isSafeInteger(serial) || serial < 1) {
    throw usageError(
      `serial ${JSON.stringify(serialText)} is not a positive integer; \`berth state history\` lists the serials`,
      { value: serialText },
    );
  }
  const { store } = await ctx.openStack();
  const name = ctx.selectedWorkspace().name;
  const result = await withWorkspaceLock(ctx, store, name, 'rollback', async (lockId) => {
    const current = await store.workspaces.readState(name);
    const kept =
      serial <= current.serial &&
      (await store.workspaces.history(name, { limit: current.serial - serial + 1 })).some((v) => v.serial === serial);
    if (!kept) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `workspace ${name} has no serial ${serial} in its history; list it with \`berth state history\``,
        { details: { name, serial } },
      );
    }
    await ctx.confirm(
      `Roll workspace "${name}" back to serial ${serial}?\n  berth will write that version as serial ${current.serial + 1}; serial ${current.serial} stays in the history.`,
      opts.force,
    );
    return store.workspaces.rollback(name, serial, { lockId });
  });
  if (ctx.json) return ctx.printJson({ workspace: name, serial: result.serial, lineage: result.lineage, from: serial });
  ctx.out(`Rolled workspace "${name}" back to serial ${serial}; it is now at serial ${result.serial}.`);
}

/** `berth state export`: the envelope as JSON on stdout. */
export async function stateExport(ctx: CliContext, opts: { showSecrets?: boolean } = {}): Promise<void> {
  const { store } = await ctx.openStack();
  ctx.printJson(
    await store.workspaces.exportState(ctx.selectedWorkspace().name, { showSecrets: opts.showSecrets === true }),
  );
}

/** `berth state import FILE [--force]` (FILE `-` reads stdin): under the workspace lock. */
export async function stateImport(ctx: CliContext, file: string, opts: { force?: boolean }): Promise<void> {
  let envelope: StateExport;
  try {
    envelope = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as StateExport;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new BerthError('INVALID_IMPORT', `cannot read ${file} as a berth workspace export: ${why}`, { cause: err });
  }
  const { store } = await ctx.openStack();
  const name = ctx.selectedWorkspace().name;
  const result = await withWorkspaceLock(ctx, store, name, 'import', (lockId) =>
    store.workspaces.importState(name, envelope, { force: opts.force === true, lockId }),
  );
  if (ctx.json) return ctx.printJson({ workspace: name, serial: result.serial, lineage: result.lineage });
  ctx.out(`Imported state into workspace "${name}": serial ${result.serial}, lineage ${result.lineage}.`);
}

/** `berth state lock [--operation OP]`: prints the lock id and leaves the lock held. */
export async function stateLock(ctx: CliContext, opts: { operation?: string; info?: string }): Promise<void> {
  const { store } = await ctx.openStack();
  const name = ctx.selectedWorkspace().name;
  const lock = await store.workspaces.lock(name, {
    operation: opts.operation ?? 'manual',
    timeoutMs: ctx.lockTimeoutMs,
    // This command exits with the lock still held, so no process stands behind it.
    pid: 0,
    ...(opts.info ? { info: opts.info } : {}),
  });
  if (ctx.json) return ctx.printJson({ lock });
  ctx.out(lock.id);
  ctx.note(`Workspace "${name}" is locked. Release it with: berth state unlock ${lock.id}`);
}

/** `berth state unlock LOCK_ID`. */
export async function stateUnlock(ctx: CliContext, lockId: string): Promise<void> {
  const { store } = await ctx.openStack();
  const name = ctx.selectedWorkspace().name;
  await store.workspaces.unlock(name, lockId);
  if (ctx.json) ctx.printJson({ unlocked: lockId, workspace: name });
  else ctx.out(`Workspace "${name}" unlocked.`);
}

function lockRows(ctx: CliContext, locks: LockInfo[]): string[][] {
  const now = Date.now();
  return locks.map((l) => [
    l.id,
    l.key,
    l.operation,
    l.who,
    relativeTime(l.createdAt, now),
    l.stale ? paint(ctx.colour, 'yellow', `stale: ${l.staleReason}`) : 'held',
    l.info,
  ]);
}

/** `berth state locks`: every lock, stale ones marked. */
export async function stateLocks(ctx: CliContext): Promise<void> {
  // Every lock of the store (or of --namespace), as force-unlock finds a lock by id among all keys.
  const store = await ctx.open();
  const locks = await store.locks.list();
  if (ctx.json) return ctx.printJson({ locks });
  if (locks.length === 0) return ctx.out('No locks are held.');
  process.stdout.write(
    renderTable(['LOCK ID', 'KEY', 'OPERATION', 'WHO', 'CREATED', 'STATE', 'INFO'], lockRows(ctx, locks)),
  );
}

/**
 * `berth force-unlock LOCK_ID [--force]`: shows the lock, asks for confirmation (or
 * needs --force without a terminal), removes it, and records who broke it.
 */
export async function forceUnlock(ctx: CliContext, lockId: string, opts: { force?: boolean }): Promise<void> {
  const store = await ctx.open();
  const lock = (await store.locks.list()).find((l) => l.id === lockId);
  if (!lock) {
    throw new BerthError('NOT_LOCKED', `no lock has id ${lockId}; list the held locks with \`berth state locks\``, {
      details: { lockId },
    });
  }
  if (!ctx.json) {
    ctx.note(
      [
        `Lock ${lock.id} on ${lock.key}:`,
        `  held by   ${lock.who} (pid ${lock.pid} on ${lock.host})`,
        `  operation ${lock.operation}`,
        ...(lock.info ? [`  info      ${lock.info}`] : []),
        `  since     ${lock.createdAt} (${relativeTime(lock.createdAt)})`,
        `  state     ${lock.stale ? `stale: ${lock.staleReason}` : 'held (the holder may still be running!)'}`,
      ].join('\n'),
    );
  }
  await ctx.confirm(
    'Do you really want to force-unlock?\n  berth will remove the lock above. Only do this if its holder is no longer running.',
    opts.force,
  );
  const removed = await store.locks.forceUnlock(lock.key, lock.id);
  if (ctx.json) return ctx.printJson({ removed });
  ctx.out(`Lock ${removed.id} on ${removed.key} has been force-unlocked.`);
}
