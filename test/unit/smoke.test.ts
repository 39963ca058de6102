import { describe, expect, it } from 'vitest';
import { sqliteFactory } from '../helpers/store-factory.js';

describe('smoke', () => {
  it('adds and looks up a container', async () => {
    const store = await sqliteFactory.open();
    const added = await store.addContainer({
      config: { id: 'a'.repeat(64), name: 'web' },
      state: { status: 'running' },
    });
    expect((await store.lookupContainer('web')).config.id).toBe(added.config.id);
    expect((await store.lookupContainer('aaaa')).config.name).toBe('web');
  });
});
