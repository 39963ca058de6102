import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, openStore, type Store, type Manifest } from '../../src/index.js';
import { tempDir } from '../helpers/store-factory.js';
import { manifestDoc, toYaml, type ManifestDoc } from './arbitraries.js';
import { declared, managedObjects, storeObjects } from './helpers.js';

/*
 * For random pairs of manifests A and B: apply A, then apply B (with allowDestroy), and
 * the store holds exactly B's objects (canonical specs read back from the store,
 * compared with B's), and planning B again gives only noops (DESIGN.md §7).
 */

const NS = 'prop';

/**
 * One store per property, reused across runs: each run ends by destroying what it
 * applied. A run that fails leaves the store dirty, so the next run (fast-check's
 * shrinking) starts on a fresh store.
 */
class Stores {
  private store: Store | undefined;
  private readonly dir = tempDir('berth-prop-');
  private opened = 0;
  readonly all: Store[] = [];

  async clean(): Promise<Store> {
    if (this.store) {
      const left = await storeObjects(this.store, NS);
      if (Object.keys(left).length === 0) return this.store;
    }
    this.store = await openStore({ path: join(this.dir, `store-${this.opened++}.db`) });
    this.all.push(this.store);
    return this.store;
  }

  async close(): Promise<void> {
    for (const s of this.all) await s.close();
  }
}

async function applyManifest(store: Store, m: Manifest, allowDestroy: boolean): Promise<void> {
  const plan = await store.plan('default', m);
  await store.apply(plan, { allowDestroy });
}

async function checkPair(stores: Stores, a: ManifestDoc, b: ManifestDoc): Promise<void> {
  const store = await stores.clean();
  const ma = loadManifest(toYaml(a));
  const mb = loadManifest(toYaml(b));

  await applyManifest(store, ma, false);
  expect(await managedObjects(store, NS, 'default')).toEqual(declared(ma));

  await applyManifest(store, mb, true);
  // Exactly B: nothing of A is left behind, managed or not.
  expect(await managedObjects(store, NS, 'default')).toEqual(declared(mb));
  expect(Object.keys(await storeObjects(store, NS)).sort()).toEqual(Object.keys(declared(mb)));

  const again = await store.plan('default', mb);
  expect(again.changes.filter((c) => c.effective !== 'noop')).toEqual([]);
  expect(again.steps).toEqual([]);
  expect(again.drift).toEqual([]);
  expect(again.orphans).toEqual([]);

  const destroy = await store.plan('default', mb, { mode: 'destroy' });
  await store.apply(destroy, { allowDestroy: true });
  expect(await storeObjects(store, NS)).toEqual({});
}

describe('apply A then B gives exactly B', () => {
  it('for random pairs of manifests (names may be a pod in one and a container in the other)', async () => {
    const stores = new Stores();
    try {
      await fc.assert(
        fc.asyncProperty(manifestDoc(), manifestDoc(), (a, b) => checkPair(stores, a, b)),
        { numRuns: 120 },
      );
    } finally {
      await stores.close();
    }
  });

  it('for random pairs where every name keeps its kind', async () => {
    const stores = new Stores();
    try {
      await fc.assert(
        fc.asyncProperty(manifestDoc({ disjointKinds: true }), manifestDoc({ disjointKinds: true }), (a, b) =>
          checkPair(stores, a, b),
        ),
        { numRuns: 120 },
      );
    } finally {
      await stores.close();
    }
  });

  it('the generator makes valid manifests with every feature', () => {
    const docs = fc.sample(manifestDoc(), 300);
    for (const d of docs) loadManifest(toYaml(d));
    const containers = docs.flatMap((d) => [
      ...Object.values(d.containers),
      ...Object.values(d.pods).flatMap((p) => Object.values(p.containers)),
    ]);
    expect(docs.some((d) => Object.keys(d.pods).length > 0)).toBe(true);
    expect(docs.some((d) => Object.keys(d.volumes).length > 0)).toBe(true);
    for (const field of ['image', 'command', 'env', 'labels', 'dependsOn', 'volumes', 'networks'] as const) {
      expect(
        containers.some((c) => c[field] !== undefined),
        field,
      ).toBe(true);
    }
    expect(
      docs.some((d) => Object.values(d.pods).some((p) => Object.values(p.containers).some((c) => c.dependsOn))),
    ).toBe(true);
  });
});
