import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../db/executor.js';
import { BerthError } from '../errors.js';

/** One numbered, forward-only migration file. */
export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE_PATTERN = /^(\d{3,})-([a-z0-9-]+)\.sql$/;
const cache = new Map<Backend, MigrationFile[]>();

/** The migrations shipped for a backend, in order; read once per process. */
export function loadMigrations(backend: Backend): MigrationFile[] {
  const cached = cache.get(backend);
  if (cached) return cached;
  // src/migrate and dist/migrate both sit two levels below the package root.
  const dir = fileURLToPath(new URL(`../../migrations/${backend}/`, import.meta.url));
  const files: MigrationFile[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    const sql = readFileSync(dir + file, 'utf8');
    files.push({
      version: Number(match[1]),
      name: match[2]!,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  files.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new BerthError(
        'INTERNAL',
        `migration ${m.version}-${m.name} is out of sequence; expected version ${i + 1}`,
      );
    }
  });
  cache.set(backend, files);
  return files;
}

/** An applied migration as the bookkeeping table records it. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Compares what a store has applied with what this code ships: a newer store is refused
 * untouched, an edited applied file is refused. Returns the migrations still to apply.
 */
export function planMigrations(
  applied: readonly AppliedMigration[],
  known: readonly MigrationFile[],
  location: string,
): MigrationFile[] {
  const latest = known.length;
  const newest = applied.reduce((max, m) => Math.max(max, m.version), 0);
  if (newest > latest) {
    throw new BerthError(
      'SCHEMA_TOO_NEW',
      `store ${location} has schema version ${newest} but this berth knows only up to ${latest}; upgrade berth to use this store (it was left untouched)`,
      { details: { storeVersion: newest, codeVersion: latest } },
    );
  }
  for (const m of applied) {
    const file = known[m.version - 1];
    if (file && file.checksum !== m.checksum) {
      throw new BerthError(
        'MIGRATION_CHECKSUM_MISMATCH',
        `store ${location}: migration ${m.version}-${m.name} differs from the file that was applied; restore the original migrations/${m.version}-${m.name}.sql (applied migrations are never edited)`,
        { details: { version: m.version, expected: m.checksum, actual: file.checksum } },
      );
    }
  }
  const done = new Set(applied.map((m) => m.version));
  return known.filter((m) => !done.has(m.version));
}
