import pg from 'pg';
import { quoteIdent, type PostgresConfig } from '../db/postgres/postgres-executor.js';
import { mapDriverError } from '../db/driver-errors.js';
import { BerthError } from '../errors.js';
import { loadMigrations, planMigrations, type AppliedMigration } from './migration-files.js';
import type { MigrationReport } from './sqlite-migrator.js';

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS berth_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

async function readApplied(client: pg.PoolClient): Promise<AppliedMigration[]> {
  const exists = await client.query("SELECT to_regclass('berth_migrations') IS NOT NULL AS present");
  if (!exists.rows[0].present) return [];
  return (await client.query('SELECT version, name, checksum FROM berth_migrations ORDER BY version'))
    .rows as AppliedMigration[];
}

/**
 * Brings a PostgreSQL store (one schema) up to this code's schema, under an advisory
 * lock so concurrent openers wait for one another; each migration in its own
 * transaction with its bookkeeping row. A newer store is refused untouched.
 */
export async function migratePostgres(
  pool: pg.Pool,
  config: PostgresConfig,
  opts: { readonly: boolean; now: () => number; actor: string },
): Promise<MigrationReport> {
  const known = loadMigrations('postgres');
  let client: pg.PoolClient;
  try {
    // A connection of the store's own pool: the common case (nothing to do) costs one query.
    client = await pool.connect();
  } catch (err) {
    throw mapDriverError(err, config.location);
  }
  try {
    let applied = await readApplied(client);
    let pending = planMigrations(applied, known, config.location);
    const from = applied.length;
    if (pending.length === 0) return { from, to: from, applied: [] };
    if (opts.readonly) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `store ${config.location} is at schema version ${from} and needs version ${known.length}; open it once without readonly (or run \`berth migrate\`)`,
      );
    }
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`berth:migrate:${config.schema}`]);
    // Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(config.schema)}`);
    try {
      applied = await readApplied(client);
      pending = planMigrations(applied, known, config.location);
      const names: string[] = [];
      for (const m of pending) {
        await client.query('BEGIN');
        try {
          await client.query(BOOKKEEPING);
          await client.query(
            'INSERT INTO berth_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)',
            [m.version, m.name, m.checksum, opts.now()],
          );
          await client.query(m.sql);
          await client.query(
            "INSERT INTO events (ts, namespace, type, subject_kind, subject_name, actor, data_json) VALUES ($1, '', 'store.migrate', 'store', $2, $3, $4)",
            [
              opts.now(),
              `${m.version}-${m.name}`,
              opts.actor,
              JSON.stringify({ version: m.version, checksum: m.checksum }),
            ],
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        names.push(`${m.version}-${m.name}`);
      }
      return { from: applied.length, to: known.length, applied: names };
    } finally {
      await client
        .query('SELECT pg_advisory_unlock(hashtext($1))', [`berth:migrate:${config.schema}`])
        .catch(() => undefined);
    }
  } catch (err) {
    throw mapDriverError(err, config.location);
  } finally {
    client.release();
  }
}
