import { openStore } from '../open-store.js';

/*
 * `berth __complete KIND`: the names shell completion offers, read from the store. It
 * opens the store read-only (nothing is created, migrated or refreshed) and prints
 * nothing when there is no store or it cannot be read: completion never shows errors.
 */

/** What `__complete` can list. */
export const COMPLETION_KINDS = ['containers', 'pods', 'volumes', 'workspaces', 'locks'] as const;
export type CompletionKind = (typeof COMPLETION_KINDS)[number];

/** The names of `kind` in the store, one per line. */
export async function completeNames(kind: string, opts: { store?: string; namespace?: string }): Promise<string> {
  if (!(COMPLETION_KINDS as readonly string[]).includes(kind)) return '';
  let store;
  try {
    store = await openStore({ path: opts.store, namespace: opts.namespace ?? '', readonly: true });
  } catch {
    return '';
  }
  try {
    let names: string[];
    switch (kind as CompletionKind) {
      case 'containers':
        names = (await store.listContainers({ fields: ['name'], sort: 'names' })).map((c) => c.name);
        break;
      case 'pods':
        names = (await store.listPods()).map((p) => p.name);
        break;
      case 'volumes':
        names = (await store.listVolumes()).map((v) => v.name);
        break;
      case 'workspaces':
        names = (await store.workspaces.list()).map((w) => w.name);
        break;
      case 'locks':
        names = (await store.locks.list()).map((l) => l.id);
        break;
    }
    return names.map((n) => n + '\n').join('');
  } catch {
    return '';
  } finally {
    await store.close().catch(() => undefined);
  }
}
