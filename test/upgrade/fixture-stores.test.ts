import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadManifest, openStore } from '../../src/index.js';
import type { Store } from '../../src/index.js';
import { pgUrl, tempDir } from '../helpers/store-factory.js';
import { FIXTURE, fixtureOptions, readEverything, SHOP_MANIFEST } from '../fixtures/stores/make-fixtures.js';
import { withClient } from '../postgres/helpers.js';

/*
 * Stores written by an earlier berth keep working: the fixtures in test/fixtures/stores
 * were written by berth at schema version 3 (see make-fixtures.ts). Each is opened with
 * this code, migrated, and read back: every object, workspace with its history and
 * secrets, lock and event is still there and reads as it did.
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/stores/', import.meta.url));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  sqlite: Record<string, unknown>;
  postgres: Record<string, unknown>;
};
/** The last event the old berth wrote: everything after it was written by this code. */
const lastSeq = (e: Record<string, unknown>): number => (e.events as { seq: number }[]).at(-1)!.seq;

async function checkUpgraded(store: Store, want: Record<string, unknown>): Promise<void> {
  expect(store.migration.from).toBe(3);
  expect(store.migration.to).toBeGreaterThanOrEqual(3);
  const got = await readEverything(store, lastSeq(want));
  expect(got).toMatchObject(want);
  // The listing rows (migration 005) were filled from every container's documents.
  const listed = await store.listContainers({ sort: 'id' });
  const all = (await store.allContainers()).sort((a, b) => (a.config.id < b.config.id ? -1 : 1));
  expect(listed.map((c) => [c.id, c.name, c.namespace, c.pod, c.image, c.status, c.labels, c.createdAt])).toEqual(
    all.map((c) => [
      c.config.id,
      c.config.name,
      c.config.namespace,
      c.config.pod ?? null,
      c.config.image ?? null,
      c.state.status,
      c.config.labels ?? {},
      c.config.createdAt,
    ]),
  );
  // Label filters read the filled rows: every label of every container finds it.
  for (const c of all) {
    for (const [k, v] of Object.entries(c.config.labels ?? {})) {
      const found = await store.listContainers({ filters: { label: [`${k}=${v}`] }, fields: [] });
      expect(found.map((s) => s.id)).toContain(c.config.id);
    }
  }
  const report = await store.diagnose();
  expect(report.integrity).toEqual(['ok']);
  expect(report.danglingReferences).toEqual([]);
  // The upgraded store takes writes: objects, and a state write under the lock it kept.
  const lock = (await store.workspaces.get('staging')).lock!;
  expect(lock.info).toBe('left held by the fixture');
  await store.addContainer({
    config: { name: 'after-upgrade', image: 'x:1' } as never,
    state: { status: 'configured' },
  });
  const written = await store.workspaces.writeState('staging', { upgraded: true }, { lockId: lock.id });
  expect(written.serial).toBe(5);
  await store.workspaces.unlock('staging', lock.id);
  // Name uniqueness across containers and pods still holds for old and new objects.
  await expect(store.addPod({ config: { name: 'database' } as never, state: {} })).rejects.toMatchObject({
    code: 'CONTAINER_EXISTS',
  });
  await expect(
    store.addContainer({ config: { name: 'web' } as never, state: { status: 'configured' } }),
  ).rejects.toMatchObject({ code: 'POD_EXISTS' });
  // A plan of the applied stack finds nothing to do after the upgrade: its secret env
  // value, stored as v1 ciphertext by the old berth, is kept as it is.
  const shop = store.withNamespace('shop');
  const stackState = (await shop.workspaces.readState('default')).state as { manifestDigest: string };
  expect(stackState.manifestDigest).toMatch(/^[0-9a-f]{64}$/);
  const plan = await shop.plan('default', loadManifest(SHOP_MANIFEST));
  expect(plan.manifestDigest).toBe(stackState.manifestDigest);
  expect(plan.changes.map((c) => c.effective)).toEqual(['noop', 'noop', 'noop', 'noop']);
  expect(plan.drift).toEqual([]);
  expect(JSON.stringify(plan)).toMatch(/berth:secret:v1:/);
}

describe('fixture stores written by berth schema 3', () => {
  it('the SQLite store opens, migrates, and reads back intact', async () => {
    const path = join(tempDir(), 'v3.db');
    copyFileSync(join(FIXTURES, 'v3.db'), path);
    const store = await openStore({ path, ...fixtureOptions() });
    onTestFinished(() => store.close());
    await checkUpgraded(store, expected.sqlite);
  });

  it.skipIf(!pgUrl)('the PostgreSQL dump restores, migrates, and reads back intact', async () => {
    const url = pgUrl!;
    const schema = `fixture_${randomBytes(6).toString('hex')}`;
    const dump = readFileSync(join(FIXTURES, 'v3.pg.sql'), 'utf8').replaceAll(FIXTURE.schema, schema);
    execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', url], { input: dump, stdio: ['pipe', 'ignore', 'pipe'] });
    onTestFinished(async () => {
      await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    });
    const store = await openStore({ url, schema, ...fixtureOptions() });
    onTestFinished(() => store.close());
    await checkUpgraded(store, expected.postgres);
  });
});
