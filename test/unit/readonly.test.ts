import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { expectCode } from '../conformance/builders.js';
import { tempDir } from '../helpers/store-factory.js';

describe('a read-only handle', () => {
  it('sees the default workspace before anyone used it, without creating it, and refuses writes', async () => {
    const path = join(tempDir(), 'berth.db');
    await (await openStore({ path })).close();
    const ro = await openStore({ path, readonly: true });
    try {
      expect((await ro.workspaces.list()).map((w) => [w.name, w.serial])).toEqual([['default', 0]]);
      expect(await ro.workspaces.readState('default')).toMatchObject({ serial: 0, state: null, checksum: null });
      await expectCode(ro.workspaces.create('staging'), 'INVALID_ARGUMENT');
    } finally {
      await ro.close();
    }
    // Nothing was written: a read-write handle still finds no default workspace row to read back
    // until it creates one, which it does on first use with a real lineage.
    const rw = await openStore({ path });
    try {
      const [ws] = await rw.workspaces.list();
      expect(ws?.lineage).not.toBe('');
    } finally {
      await rw.close();
    }
  });
});
