import type { Backend } from '../db/executor.js';
import { ObjectStore, type EngineContext } from './object-store.js';
import * as q from './object-queries.js';

/**
 * A handle on a berth store: the object store (containers, pods, volumes, ...) plus, in
 * later layers, workspaces, locks and events. Obtain one with `openStore()`.
 */
export class Store extends ObjectStore {
  constructor(
    ctx: EngineContext,
    private readonly bootId: string,
  ) {
    super(ctx);
  }

  /** Which database the store lives in. */
  get backend(): Backend {
    return this.ctx.exec.backend;
  }

  /** Where the store lives: a file path, or a PostgreSQL URL without its password. */
  get location(): string {
    return this.ctx.exec.location;
  }

  /**
   * Runs {@link refresh} once when the host rebooted since the store last saw it. The
   * write transaction is the store's lock: a second process waits, then finds the boot
   * id already recorded and does nothing.
   */
  async refreshAfterReboot(): Promise<boolean> {
    const seen = await this.ctx.exec.direct.get(q.getMeta, { key: 'boot_id' });
    if (seen?.value === this.bootId) return false;
    return this.write(async (tx, now) => {
      const current = await tx.get(q.getMeta, { key: 'boot_id' });
      if (current?.value === this.bootId) return false;
      if (current !== undefined) await this.refreshIn(tx, now, 'reboot');
      await tx.run(q.putMeta, { key: 'boot_id', value: this.bootId });
      return current !== undefined;
    });
  }

  /** Closes the store; every later call fails with STORE_CLOSED. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.ctx.closed) return;
    this.ctx.closed = true;
    await this.ctx.exec.close();
  }
}
