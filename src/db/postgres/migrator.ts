import type pg from 'pg';
import { mapDriverError } from '../driver-errors.js';
import { runMigrations, type AppliedMigration, type MigrationReport, type MigrationTarget } from '../migrations.js';
import { quoteIdent, type PostgresConfig } from './executor.js';

/*
 * The PostgreSQL side of the migration runner (db/migrations.ts): the bookkeeping table
 * in the store's schema, an advisory lock per schema, and one transaction per file.
 */

function postgresTarget(client: pg.PoolClient, config: PostgresConfig): MigrationTarget {
  const lockKey = `berth:migrate:${config.schema}`;
  return {
    backend: 'postgres',
    location: config.location,
    bookkeepingDdl: `CREATE TABLE IF NOT EXISTS berth_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`,
    placeholder: (i) => `$${i}`,
    async readApplied() {
      const exists = await client.query("SELECT to_regclass('berth_migrations') IS NOT NULL AS present");
      if (!exists.rows[0].present) return [];
      return (await client.query('SELECT version, name, checksum FROM berth_migrations ORDER BY version'))
        .rows as AppliedMigration[];
    },
    async withLock(fn) {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      try {
        // Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(config.schema)}`);
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
      }
    },
    async transaction(fn) {
      await client.query('BEGIN');
      try {
        await fn(async (sql, params) => {
          await client.query(sql, params === undefined ? undefined : [...params]);
        });
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },
  };
}

/**
 * Brings a PostgreSQL store (one schema) up to this code's schema (see runMigrations),
 * on a connection of the store's own pool: the common case (nothing to do) costs one query.
 */
export async function migratePostgres(
  pool: pg.Pool,
  config: PostgresConfig,
  opts: { readonly: boolean; create?: boolean; now: () => number; actor: string },
): Promise<MigrationReport> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw mapDriverError(err, config.location);
  }
  try {
    return await runMigrations(postgresTarget(client, config), opts);
  } catch (err) {
    throw mapDriverError(err, config.location);
  } finally {
    client.release();
  }
}
