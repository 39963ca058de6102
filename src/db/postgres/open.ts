import { BerthError } from '../../errors.js';
import type { BackendOpenOptions, OpenedBackend } from '../executor.js';
import { redactUrl } from '../../store-location.js';

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Splits `?schema=NAME` off a PostgreSQL URL (so a CLI user can name the schema in
 * --store); an explicit schema option wins.
 */
export function splitSchema(url: string, schema: string | undefined): { url: string; schema: string } {
  try {
    const u = new URL(url);
    const fromUrl = u.searchParams.get('schema');
    u.searchParams.delete('schema');
    return { url: u.toString(), schema: schema ?? fromUrl ?? 'berth' };
  } catch {
    return { url, schema: schema ?? 'berth' };
  }
}

/**
 * Opens (creating and migrating if needed) a PostgreSQL store: one pool per handle (the
 * server serialises writers itself). The driver is loaded only here, so SQLite users
 * never load it.
 */
export async function openPostgres(
  rawUrl: string,
  explicitSchema: string | undefined,
  opts: BackendOpenOptions,
): Promise<OpenedBackend> {
  const { url, schema } = splitSchema(rawUrl, explicitSchema);
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `schema ${JSON.stringify(schema)} is invalid: use lowercase letters, digits and '_'`,
      { details: { schema } },
    );
  }
  const [{ PostgresExecutor }, { migratePostgres }] = await Promise.all([
    import('./executor.js'),
    import('./migrator.js'),
  ]);
  const config = { url, schema, busyTimeoutMs: opts.busyTimeoutMs, location: `${redactUrl(url)}#${schema}` };
  const exec = new PostgresExecutor(config);
  try {
    const migration = await migratePostgres(exec.pool, config, {
      readonly: opts.readonly,
      create: opts.create,
      now: opts.clock,
      actor: opts.actor,
    });
    return { exec, migration, release: () => exec.close() };
  } catch (err) {
    await exec.close();
    throw err;
  }
}
