import type pg from 'pg';
import { mapDriverError } from '../driver-errors.js';
import { runMigrations, type AppliedMigration, type MigrationReport, type MigrationTarget } from '../migrations.js';
import { mapPostgresError, quoteIdent, type PostgresConfig } from './executor.js';

/*
 * The PostgreSQL side of the migration runner (db/migrations.ts): the bookkeeping table
 * in the store's schema, an advisory lock per schema, and one transaction per file.
 * Every statement's error is mapped where it happens, so the runner sees BerthErrors.
 */

function postgresTarget(client: pg.PoolClient, config: PostgresConfig): MigrationTarget {
  const lockKey = `berth:migrate:${config.schema}`;
  const query = async (sql: string, params?: readonly unknown[]): Promise<pg.QueryResult> => {
    try {
      return await client.query(sql, params === undefined ? undefined : [...params]);
    } catch (err) {
      throw mapPostgresError(err, config.location);
    }
  };
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
      const exists = await query("SELECT to_regclass('berth_migrations') IS NOT NULL AS present");
      if (!exists.rows[0].present) return [];
      return (await query('SELECT version, name, checksum FROM berth_migrations ORDER BY version'))
        .rows as AppliedMigration[];
    },
    async withLock(fn) {
      await query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      try {
        // Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
        await query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(config.schema)}`);
        return await fn();
      } finally {
        await query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
      }
    },
    async transaction(fn) {
      await query('BEGIN');
      try {
        await fn(async (sql, params) => {
          await query(sql, params);
        });
        await query('COMMIT');
      } catch (err) {
        await query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },
  };
}

/**
 * Brings a PostgreSQL store (one schema) up to this code's schema (see runMigrations),
 * on a connection of the store's own pool: the common case (nothing to do) costs one query.
 * @throws STORE_UNAVAILABLE, STORE_BUSY (the server cannot be reached or is busy), and runMigrations' codes
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
    throw mapPostgresError(err, config.location);
  }
  let failed = false;
  try {
    return await runMigrations(postgresTarget(client, config), opts);
  } catch (err) {
    failed = true;
    // Statements' errors are mapped already; what is left is the runner's own (its files).
    throw mapDriverError(err, config.location);
  } finally {
    // After a failure the session may hold the advisory lock or an open transaction: close it.
    client.release(failed ? true : undefined);
  }
}
