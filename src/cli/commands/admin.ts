import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Store } from '../../store.js';
import type { SecretsStatus } from '../../engine/types.js';
import { generateSecretsKey, parseSecretsKey } from '../../engine/secrets/crypto.js';
import { BerthError } from '../../errors.js';
import { loadMigrations } from '../../db/migrations.js';
import { redactUrl, resolveStoreLocation } from '../../store-location.js';
import type { CliContext } from '../cli-context.js';
import { paint } from '../output.js';

/* Store administration: init, doctor, refresh, migrate. */

/** `berth init`: creates (or opens) the store and says where it is. */
export async function init(ctx: CliContext): Promise<void> {
  const store = await ctx.open();
  const report = await store.diagnose();
  if (ctx.json)
    return ctx.printJson({ store: store.location, backend: store.backend, schemaVersion: report.schemaVersion });
  ctx.out(`Initialized berth store at ${store.location} (${store.backend}, schema version ${report.schemaVersion}).`);
}

/**
 * Permission findings of a SQLite store: a file others may read is a problem; a folder
 * others may list (an ordinary 0755 project folder) only a warning, since the file's own
 * mode keeps them out.
 */
function permissionProblems(file: string): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  try {
    const fileMode = statSync(file).mode & 0o777;
    if (fileMode & 0o077) problems.push(`${file} is mode ${fileMode.toString(8)}; run \`chmod 600 ${file}\``);
    const dir = dirname(file);
    const dirMode = statSync(dir).mode & 0o777;
    if (dirMode & 0o022)
      problems.push(`${dir} is mode ${dirMode.toString(8)}; others may write there: run \`chmod 700 ${dir}\``);
    else if (dirMode & 0o077) {
      warnings.push(
        `${dir} is mode ${dirMode.toString(8)}; others can see the store's name (\`chmod 700 ${dir}\` hides it)`,
      );
    }
  } catch {
    // The store was just opened, so it exists; a race with a delete is reported elsewhere.
  }
  return { problems, warnings };
}

/** The restore command for this store, as the operator would type it. */
function restoreCommand(ctx: CliContext): string {
  return `berth ${ctx.options.store ? `--store ${ctx.options.store} ` : ''}restore BACKUP --force`;
}

/**
 * `berth doctor` on a SQLite store that does not open because its file is damaged: what
 * can be read from it (through a copy) and how to restore it. Exit code 1.
 */
async function doctorDamaged(ctx: CliContext, failure: BerthError, opts: { repair?: boolean }): Promise<number> {
  const location = resolveStoreLocation(ctx.options.store, ctx.env);
  if (location.kind !== 'sqlite') throw failure;
  const { diagnoseDamagedStore } = await import('../../open-store.js');
  const report = diagnoseDamagedStore(location.path);
  const next = `restore a backup with \`${restoreCommand(ctx)}\` (the damaged file is kept beside the store as evidence)`;
  if (ctx.json) {
    ctx.printJson({ healthy: false, damaged: true, backend: 'sqlite', ...report, error: failure.toJSON(), next });
    return 1;
  }
  const fail = (text: string): string => `${paint(ctx.colour, 'red', 'FAIL')}  ${text}`;
  const sidecars = Object.entries(report.sidecars).map(([s, n]) => `${s} ${(n / 1024).toFixed(1)} KiB`);
  ctx.out(
    [
      `store        ${report.location} (sqlite, ${(report.sizeBytes / 1024).toFixed(1)} KiB${sidecars.length ? `; ${sidecars.join(', ')}` : ''})`,
      fail(`open: ${failure.message}`),
      fail(`integrity check: ${report.integrity.slice(0, 5).join('; ')}`),
      ...(report.schemaVersion === null ? [] : [`note  schema version ${report.schemaVersion} (still readable)`]),
    ].join('\n'),
  );
  if (opts.repair)
    ctx.note('berth doctor --repair fixes references and locks, not a damaged file; nothing was changed.');
  ctx.note(`The store file is damaged: ${next}.`);
  return 1;
}

/** `berth doctor`: schema, integrity, dangling references, stale locks, boot id, path and size. */
export async function doctor(ctx: CliContext, opts: { repair?: boolean; force?: boolean } = {}): Promise<number> {
  let store: Store;
  try {
    store = await ctx.open();
  } catch (err) {
    // The store berth sends people to doctor for must still get a report, not the same error.
    const { isDamagedStoreError } = await import('../../open-store.js');
    if (isDamagedStoreError(err)) return doctorDamaged(ctx, err, opts);
    throw err;
  }
  const before = opts.repair ? await store.diagnose() : undefined;
  const damaged = before !== undefined && before.integrity.join() !== 'ok';
  if (damaged) {
    ctx.note('berth doctor --repair fixes references and locks, not a damaged file: skipped; see the report below.');
  } else if (before && before.danglingReferences.length === 0 && before.staleLocks.length === 0) {
    ctx.note('Nothing to repair: no dangling references and no stale locks. No backup was written.');
  } else if (opts.repair && before) {
    await ctx.confirm(
      `Repair ${store.location}?\n  berth will back it up first, then remove ${before.danglingReferences.length} dangling reference(s) and break ${before.staleLocks.length} stale lock(s).`,
      opts.force,
    );
    const backup = await store.backup(
      `${store.location}.before-repair-${new Date().toISOString().replace(/[:.]/g, '-')}.db`,
    );
    const done = await store.repair();
    ctx.note(
      `Repaired after a backup in ${backup.file}: removed ${done.dependencies} dangling dependency row(s), ${done.containerVolumes} volume link(s), ${done.execSessions} exec session(s), and broke ${done.staleLocks.length} stale lock(s).`,
    );
  }
  const report = await store.diagnose();
  const secrets = await store.secrets.status();
  // Without a key, doctor cannot check the secrets: that is reported, not a failure.
  const secretsOk = secrets.opens || !secrets.keyConfigured;
  const codeVersion = loadMigrations(store.backend).length;
  const { problems: permissions, warnings: permissionWarnings } =
    store.backend === 'sqlite' ? permissionProblems(store.location) : { problems: [], warnings: [] };
  const healthy =
    report.integrity.join() === 'ok' &&
    report.danglingReferences.length === 0 &&
    report.staleLocks.length === 0 &&
    permissions.length === 0 &&
    secretsOk;
  if (ctx.json) {
    ctx.printJson({
      healthy,
      codeSchemaVersion: codeVersion,
      permissions,
      warnings: permissionWarnings,
      secrets,
      ...report,
    });
    return healthy ? 0 : 1;
  }
  const ok = (good: boolean, text: string): string =>
    `${good ? paint(ctx.colour, 'green', 'ok  ') : paint(ctx.colour, 'red', 'FAIL')}  ${text}`;
  const lines = [
    `store        ${report.location} (${report.backend}, ${(report.sizeBytes / 1024).toFixed(1)} KiB)`,
    `settings     ${Object.entries(report.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
    `boot id      ${report.bootId.current}${report.bootId.recorded === report.bootId.current ? '' : ` (store recorded ${report.bootId.recorded ?? 'none'})`}`,
    ok(report.schemaVersion === codeVersion, `schema version ${report.schemaVersion} (this berth: ${codeVersion})`),
    ok(report.integrity.join() === 'ok', `integrity check: ${report.integrity.slice(0, 5).join('; ')}`),
    ok(report.danglingReferences.length === 0, `references: ${report.danglingReferences.length} dangling`),
    permissions.length === 0 && permissionWarnings.length > 0
      ? `${paint(ctx.colour, 'yellow', 'warn')}  permissions: ${permissionWarnings.join('; ')}`
      : ok(permissions.length === 0, `permissions${permissions.length ? ': ' + permissions.join('; ') : ''}`),
    ok(report.staleLocks.length === 0, `locks: ${report.locks} held, ${report.staleLocks.length} stale`),
  ];
  const summary = secretsSummary(secrets);
  if (secrets.opens) lines.push(ok(true, `secrets: ${summary.key}`));
  else if (!secrets.keyConfigured) lines.push(`note  secrets: ${summary.key}; ${summary.problem}`);
  else lines.push(ok(false, `secrets: ${summary.key}; ${summary.problem}`));
  for (const l of report.staleLocks) {
    lines.push(`      stale lock ${l.id} on ${l.key} (${l.staleReason}); break it with: berth force-unlock ${l.id}`);
  }
  ctx.out(lines.join('\n'));
  if (!healthy) {
    ctx.note('berth doctor found problems; see the lines marked FAIL above.');
    if (report.integrity.join() !== 'ok') {
      ctx.note(`The store file is damaged: restore a backup with \`${restoreCommand(ctx)}\`.`);
    }
    return 1;
  }
  return 0;
}

/** A store path as is, a store URL with its password masked (for what `migrate` prints). */
function masked(location: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? redactUrl(location) : location;
}

/** `berth refresh`: resets runtime state as after a reboot. */
export async function refresh(ctx: CliContext, opts: { force?: boolean } = {}): Promise<void> {
  const store = await ctx.open();
  const running = (await store.allContainers()).filter((c) => c.state.status === 'running').length;
  await ctx.confirm(
    `Reset the runtime state of ${store.location} as after a reboot?\n  ${running} running container(s) will be marked exited (without an exit code), exec sessions and exit codes cleared.`,
    opts.force,
  );
  await store.refresh();
  if (ctx.json) ctx.printJson({ refreshed: true });
  else ctx.out('Runtime state reset: containers exited or configured, exec sessions and exit codes cleared.');
}

/**
 * `berth migrate`: brings the store's schema up to this berth (opening does it) and
 * reports; with `--to PATH|URL` copies the whole store into a new, empty one.
 */
export async function migrate(ctx: CliContext, opts: { to?: string; toSchema?: string }): Promise<void> {
  if (opts.to) {
    const { copyStoreTo } = await import('../../open-store.js');
    const from = { ...(ctx.options.store ? { path: ctx.options.store } : {}) };
    const to = { path: opts.to, ...(opts.toSchema ? { schema: opts.toSchema } : {}) };
    ctx.note(
      `Copying ${masked(ctx.options.store ?? ctx.env.BERTH_STORE ?? 'the default store')} into ${masked(opts.to)} ...`,
    );
    const report = await copyStoreTo(from, to);
    if (ctx.json) return ctx.printJson({ copied: true, to: masked(opts.to), tables: report.tables });
    const rows = Object.entries(report.tables).map(
      ([t, r]) => `  ${t.padEnd(24)} ${String(r.rows).padStart(8)} rows  sha256 ${r.sha256.slice(0, 16)}`,
    );
    ctx.out(
      [
        `Copied and verified (counts and checksums match):`,
        ...rows,
        `Point berth at it with --store ${masked(opts.to)} or BERTH_STORE.`,
      ].join('\n'),
    );
    return;
  }
  const store = await ctx.open();
  const { from, to, applied } = store.migration;
  if (ctx.json) return ctx.printJson({ store: store.location, from, to, applied });
  ctx.out(
    applied.length === 0
      ? `Schema is up to date (version ${from}).`
      : `Migrated ${store.location} from schema version ${from} to ${to}: ${applied.join(', ')}.`,
  );
}

/** `berth backup FILE`: a consistent online copy of the store. */
export async function backup(ctx: CliContext, file: string): Promise<void> {
  const store = await ctx.open();
  const done = await store.backup(file);
  if (ctx.json) return ctx.printJson(done);
  ctx.out(
    `Backed up ${store.location} to ${done.file} (${(done.bytes / 1024).toFixed(1)} KiB). Restore it with: berth restore ${done.file}`,
  );
}

/**
 * `berth restore FILE [--force]`: replaces the store with a checked backup, keeping the
 * old one. A store whose file is damaged (it does not open, or its integrity check
 * fails) has its file replaced instead, the damaged one kept beside it.
 */
export async function restore(ctx: CliContext, file: string, opts: { force?: boolean }): Promise<void> {
  const { restoreStore, restoreDamagedStore, isDamagedStoreError } = await import('../../open-store.js');
  let store: Store | undefined;
  try {
    store = await ctx.open();
  } catch (err) {
    if (!isDamagedStoreError(err)) throw err;
  }
  const location = resolveStoreLocation(ctx.options.store, ctx.env);
  const where = store?.location ?? (location.kind === 'sqlite' ? location.path : '');
  await ctx.confirm(
    `Replace everything in ${where} with the backup ${file}? The current store is kept beside it.`,
    opts.force,
  );
  let keptAs: string | undefined;
  if (store) {
    try {
      keptAs = (await restoreStore(store, file)).keptAs;
    } catch (err) {
      if (!isDamagedStoreError(err) || err.details.store !== store.location) throw err;
      // Damaged but open: the file is replaced below, so this process must let go of it.
      await ctx.close();
    }
  }
  keptAs ??= (await restoreDamagedStore(where, file)).keptAs;
  if (ctx.json) return ctx.printJson({ restored: file, keptAs });
  ctx.out(`Restored ${where} from ${file}. The replaced store was kept as ${keptAs}.`);
}

/** `berth secrets keygen`: a new random secrets key; opens no store. */
export function secretsKeygen(ctx: CliContext): void {
  const key = generateSecretsKey();
  if (ctx.json) return ctx.printJson({ key });
  ctx.out(key);
  ctx.note('Keep this key safe: without it the secrets in the store cannot be read. Put it in BERTH_SECRETS_KEY,');
  ctx.note('or in a file (mode 600) named by BERTH_SECRETS_KEY_FILE.');
}

/** The secrets line of `doctor` and `secrets status`: the key given, and whether it opens the data keys. */
function secretsSummary(status: SecretsStatus): { key: string; problem?: string } {
  const wrapped = status.dataKeys > 0 ? ` (wrapped with ${status.wrappedWith.join(', ')})` : '';
  const key = `key ${status.keyConfigured ? `set (fingerprint ${status.fingerprint})` : 'not set'}, ${status.dataKeys} data key(s)${wrapped}`;
  if (status.opens) return { key };
  return {
    key,
    problem: status.keyConfigured
      ? 'the key set is not the one the data keys are wrapped with; set BERTH_SECRETS_KEY to that key'
      : 'the store holds secrets; set BERTH_SECRETS_KEY (or BERTH_SECRETS_KEY_FILE) to read or write them',
  };
}

/** `berth secrets status`: the key in use and whether it opens the store's data keys. */
export async function secretsStatus(ctx: CliContext): Promise<number> {
  const store = await ctx.open();
  const status = await store.secrets.status();
  if (ctx.json) {
    ctx.printJson(status);
  } else {
    const summary = secretsSummary(status);
    ctx.out(`secrets: ${summary.key}${summary.problem ? `\nproblem: ${summary.problem}` : ''}`);
  }
  return status.opens ? 0 : 1;
}

/** `berth secrets rotate-key --new-key-file FILE`: re-wraps every data key with the new key. */
export async function secretsRotateKey(ctx: CliContext, opts: { newKeyFile: string }): Promise<void> {
  let text: string;
  try {
    text = readFileSync(opts.newKeyFile === '-' ? 0 : opts.newKeyFile, 'utf8');
  } catch (err) {
    throw new BerthError(
      'SECRETS_KEY_INVALID',
      `cannot read the new key file ${opts.newKeyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { details: { source: opts.newKeyFile }, cause: err },
    );
  }
  const next = parseSecretsKey(text, opts.newKeyFile);
  const store = await ctx.open();
  const result = await store.secrets.rotateKey(next.key);
  if (ctx.json) return ctx.printJson(result);
  ctx.out(`Re-wrapped ${result.rewrapped} data key(s) with the new secrets key (fingerprint ${result.fingerprint}).`);
  ctx.note(
    'From now on set BERTH_SECRETS_KEY (or BERTH_SECRETS_KEY_FILE) to the new key; the old one no longer opens the store.',
  );
}
