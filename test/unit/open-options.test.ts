import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BerthError, openStore } from '../../src/index.js';
import { tempDir } from '../helpers/store-factory.js';

/* openStore's page-cache option: checked before anything is created, and in effect on the connection. */

describe('openStore cacheSizeKiB', () => {
  it('sets the SQLite page cache of the connection (berth doctor shows it)', async () => {
    const dir = tempDir('berth-cache-');
    const store = await openStore({ path: join(dir, 'a.db'), cacheSizeKiB: 2048 });
    try {
      expect((await store.diagnose()).settings.cache_size).toBe(-2048);
    } finally {
      await store.close();
    }
    const plain = await openStore({ path: join(dir, 'b.db') });
    try {
      expect((await plain.diagnose()).settings.cache_size).toBe(-16384);
    } finally {
      await plain.close();
    }
  });

  it('refuses a size that is not a whole number of KiB from 64 to 16 GiB, creating nothing', async () => {
    const dir = tempDir('berth-cache-');
    for (const bad of [0, 63, 1.5, -2048, Number.NaN, 2 ** 40, '2048' as unknown as number]) {
      const path = join(dir, 'x.db');
      const err = await openStore({ path, cacheSizeKiB: bad }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BerthError);
      expect((err as BerthError).code).toBe('INVALID_ARGUMENT');
      expect((err as BerthError).message).toMatch(/cacheSizeKiB/);
      expect(existsSync(path)).toBe(false);
    }
  });
});
