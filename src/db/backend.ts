/* What a store's storage is and reports, shared by the storage layer and the Store's public types. */

/** Which database a store lives in. */
export type Backend = 'sqlite' | 'postgres';

/** What opening a store migrated (`store.migration`). */
export interface MigrationReport {
  /** The schema version the store was at. */
  from: number;
  /** The schema version it is at now. */
  to: number;
  /** The migrations applied, as `<version>-<name>`. */
  applied: string[];
}

/** What the storage layer reports about itself. */
export interface StorageReport {
  /** Highest applied migration. */
  schemaVersion: number;
  /** 'ok', or the problems the database's own integrity check found. */
  integrity: string[];
  /** Foreign-key references that point at missing rows. */
  danglingReferences: string[];
  sizeBytes: number;
  settings: Record<string, string | number>;
}

/** What a copy did, per table. */
export interface CopyReport {
  tables: Record<string, { rows: number; sha256: string }>;
}
