import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { openStore, type OpenStoreOptions } from '../../src/index.js';
import type { Store } from '../../src/engine/store.js';

/**
 * How a conformance suite gets its stores: each test owns its world. `open` gives a fresh
 * store; `reopen` gives another handle on the same store (same file, same schema).
 */
export interface StoreFactory {
  readonly backend: string;
  /** A fresh, empty store owned by the current test. */
  open(opts?: Omit<OpenStoreOptions, 'path' | 'url'>): Promise<Store>;
  /** Another handle on the store `store` was opened on. */
  reopen(store: Store, opts?: Omit<OpenStoreOptions, 'path' | 'url'>): Promise<Store>;
}

/** A temp directory removed when the current test passes (kept as evidence when it fails). */
export function tempDir(prefix = 'berth-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished((ctx) => {
    if (ctx.task.result?.state !== 'fail') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** SQLite stores, one temp file per test. */
export const sqliteFactory: StoreFactory = {
  backend: 'sqlite',
  async open(opts = {}) {
    const store = await openStore({ ...opts, path: join(tempDir(), 'berth.db') });
    onTestFinished(() => store.close());
    return store;
  },
  async reopen(store, opts = {}) {
    const other = await openStore({ ...opts, path: store.location });
    onTestFinished(() => other.close());
    return other;
  },
};
