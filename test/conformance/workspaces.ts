import { describe, expect, it } from 'vitest';
import { generateSecretsKey, type StateExport, type Store, type WorkspaceState } from '../../src/index.js';
import { canonical, sha256 } from '../helpers/canonical-json.js';
import { terraformState } from '../helpers/terraform-state.js';
import type { StoreFactory } from '../helpers/store-factory.js';
import { ctr, expectCode, pod, vol } from './builders.js';

/*
 * Workspaces (DESIGN.md §4, API.md "Store — workspaces and locks"), after Terraform's
 * TestBackendStates: named stack states per namespace, versioned with lineage and serial,
 * compare-and-set writes, writes fenced by the workspace lock, history, rollback, delete,
 * export and import. Only the public Store API is used.
 */

/** The sha256 (hex) of a state document's canonical JSON (DESIGN.md §4). */
export function stateChecksum(state: unknown): string {
  return sha256(canonical(state));
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Everything observable about a workspace's state: used to prove a failed call changed nothing. */
async function snapshot(store: Store, name: string): Promise<{ state: WorkspaceState; history: unknown[] }> {
  return { state: await store.workspaces.readState(name), history: await store.workspaces.history(name) };
}

/** Writes `count` distinct versions; returns the states written, by serial (index 0 = serial 1). */
async function writeVersions(store: Store, name: string, count: number): Promise<Record<string, unknown>[]> {
  const states: Record<string, unknown>[] = [];
  for (let i = 1; i <= count; i++) {
    const state = { version: i, resources: [{ type: 'container', name: `c${i}` }] };
    await store.workspaces.writeState(name, state);
    states.push(state);
  }
  return states;
}

/** The file as a Terraform client sends it (indented, its own key order). */
function tfJson(doc: unknown): string {
  return JSON.stringify(doc, null, 2);
}

/** The Terraform state file a workspace serves, parsed (null when none). */
async function servedTerraform(store: Store, name: string): Promise<unknown> {
  const file = await store.workspaces.readTerraformState(name, { showSecrets: true });
  return file.json === null ? null : JSON.parse(file.json);
}

/** A workspace that is written once, and its export. */
async function exported(store: Store, name: string, writes = 1): Promise<StateExport> {
  await store.workspaces.create(name);
  await writeVersions(store, name, writes);
  return store.workspaces.exportState(name);
}

export function workspaceConformance(factory: StoreFactory): void {
  describe(`workspaces (${factory.backend})`, () => {
    describe('default workspace', () => {
      it('is listed in a fresh store, empty, at serial 0', async () => {
        const store = await factory.open();
        const list = await store.workspaces.list();
        const def = list.find((w) => w.name === 'default');
        expect(def).toBeDefined();
        expect(def).toMatchObject({ name: 'default', namespace: '', serial: 0, isEmpty: true });
        expect(def!.lock).toBeUndefined();
      });

      it('can be read, written and locked without being created', async () => {
        const store = await factory.open();
        expect(await store.workspaces.readState('default')).toMatchObject({ serial: 0, state: null, checksum: null });
        const lock = await store.workspaces.lock('default', { operation: 'apply' });
        await store.workspaces.writeState('default', { a: 1 }, { lockId: lock.id });
        await store.workspaces.unlock('default', lock.id);
        expect(await store.workspaces.get('default')).toMatchObject({ serial: 1, isEmpty: false });
      });

      it('cannot be deleted: DEFAULT_WORKSPACE, with or without force', async () => {
        const store = await factory.open();
        await expectCode(store.workspaces.delete('default'), 'DEFAULT_WORKSPACE');
        await expectCode(store.workspaces.delete('default', { force: true }), 'DEFAULT_WORKSPACE');
        expect((await store.workspaces.list()).map((w) => w.name)).toContain('default');
      });

      it('is still listed after every other workspace is deleted', async () => {
        const store = await factory.open();
        await store.workspaces.create('dev');
        await store.workspaces.delete('dev');
        expect((await store.workspaces.list()).map((w) => w.name)).toEqual(['default']);
      });

      it('cannot be created: WORKSPACE_EXISTS', async () => {
        const store = await factory.open();
        await expectCode(store.workspaces.create('default'), 'WORKSPACE_EXISTS');
      });

      it('exists once per namespace', async () => {
        const root = await factory.open();
        const shop = await factory.reopen(root, { namespace: 'shop' });
        const rootDefault = await root.workspaces.get('default');
        const shopDefault = await shop.workspaces.get('default');
        expect(shopDefault.namespace).toBe('shop');
        expect(rootDefault.namespace).toBe('');
        expect(shopDefault.lineage).not.toBe(rootDefault.lineage);
        await shop.workspaces.writeState('default', { shop: true });
        expect((await root.workspaces.readState('default')).serial).toBe(0);
      });
    });

    describe('create, list, get, delete', () => {
      it('create returns the new workspace: fresh lineage, serial 0, empty, unlocked', async () => {
        const store = await factory.open();
        const info = await store.workspaces.create('staging');
        expect(info).toMatchObject({ name: 'staging', namespace: '', serial: 0, isEmpty: true });
        expect(typeof info.lineage).toBe('string');
        expect(info.lineage).not.toBe('');
        expect(info.createdAt).toMatch(ISO_TIME);
        expect(info.updatedAt).toMatch(ISO_TIME);
        expect(info.lock).toBeUndefined();
      });

      it('get returns what create returned', async () => {
        const store = await factory.open();
        const created = await store.workspaces.create('staging');
        expect(await store.workspaces.get('staging')).toEqual(created);
      });

      it('list shows every workspace of the namespace, default included', async () => {
        const store = await factory.open();
        await store.workspaces.create('foo');
        await store.workspaces.create('bar');
        expect((await store.workspaces.list()).map((w) => w.name).sort()).toEqual(['bar', 'default', 'foo']);
      });

      it('a workspace created on one handle is seen by another handle on the same store', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        const created = await a.workspaces.create('shared');
        expect(await b.workspaces.get('shared')).toEqual(created);
        await expectCode(b.workspaces.create('shared'), 'WORKSPACE_EXISTS');
      });

      it('delete removes the workspace: gone from list, get is NO_SUCH_WORKSPACE', async () => {
        const store = await factory.open();
        await store.workspaces.create('foo');
        await store.workspaces.create('bar');
        await store.workspaces.delete('foo');
        expect((await store.workspaces.list()).map((w) => w.name).sort()).toEqual(['bar', 'default']);
        await expectCode(store.workspaces.get('foo'), 'NO_SUCH_WORKSPACE');
      });

      it('create of an existing name is WORKSPACE_EXISTS and leaves it unchanged', async () => {
        const store = await factory.open();
        await store.workspaces.create('prod');
        await store.workspaces.writeState('prod', { keep: true });
        const before = await store.workspaces.get('prod');
        const err = await expectCode(store.workspaces.create('prod'), 'WORKSPACE_EXISTS');
        expect(err.details).toMatchObject({ name: 'prod' });
        expect(await store.workspaces.get('prod')).toEqual(before);
      });
    });

    describe('names', () => {
      const invalid: [string, string][] = [
        ['a single dot', '.'],
        ['two dots', '..'],
        ['101 characters', 'a'.repeat(101)],
        ['a slash', 'a/b'],
        ['a leading slash', '/ws'],
        ['a space', 'my ws'],
        ['a trailing space', 'ws '],
        ['a colon', 'a:b'],
        ['a non-ASCII letter', 'grüße'],
        ['a newline', 'ws\nx'],
      ];

      it.each(invalid)('create refuses %s: INVALID_NAME', async (_what, name) => {
        const store = await factory.open();
        await expectCode(store.workspaces.create(name), 'INVALID_NAME');
        expect((await store.workspaces.list()).map((w) => w.name)).toEqual(['default']);
      });

      it('every workspace call checks the name: INVALID_NAME', async () => {
        const store = await factory.open();
        const ws = store.workspaces;
        const name = '..';
        await expectCode(ws.get(name), 'INVALID_NAME');
        await expectCode(ws.delete(name), 'INVALID_NAME');
        await expectCode(ws.readState(name), 'INVALID_NAME');
        await expectCode(ws.writeState(name, {}), 'INVALID_NAME');
        await expectCode(ws.history(name), 'INVALID_NAME');
        await expectCode(ws.exportState(name), 'INVALID_NAME');
        await expectCode(ws.lock(name, { operation: 'apply' }), 'INVALID_NAME');
      });

      it('an empty name is EMPTY_ID everywhere', async () => {
        const store = await factory.open();
        const ws = store.workspaces;
        await expectCode(ws.create(''), 'EMPTY_ID');
        await expectCode(ws.get(''), 'EMPTY_ID');
        await expectCode(ws.delete(''), 'EMPTY_ID');
        await expectCode(ws.readState(''), 'EMPTY_ID');
        await expectCode(ws.writeState('', {}), 'EMPTY_ID');
        await expectCode(ws.history(''), 'EMPTY_ID');
        await expectCode(ws.rollback('', 1), 'EMPTY_ID');
        await expectCode(ws.exportState(''), 'EMPTY_ID');
        await expectCode(ws.lock('', { operation: 'apply' }), 'EMPTY_ID');
      });

      it.each([
        ['100 characters', 'a'.repeat(100)],
        ['one character', 'x'],
        ['three dots', '...'],
        ['a leading dot', '.hidden'],
        ['a leading dash', '-x'],
        ['an underscore', '_'],
        ['mixed', 'Prod_eu-west.1'],
      ])('accepts %s', async (_what, name) => {
        const store = await factory.open();
        expect((await store.workspaces.create(name)).name).toBe(name);
        expect((await store.workspaces.get(name)).name).toBe(name);
        await store.workspaces.delete(name);
      });
    });

    describe('missing workspaces', () => {
      it('every call on a missing workspace is NO_SUCH_WORKSPACE', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source');
        const ws = store.workspaces;
        await expectCode(ws.get('nope'), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.delete('nope'), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.delete('nope', { force: true }), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.readState('nope'), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.writeState('nope', { a: 1 }), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.history('nope'), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.rollback('nope', 1), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.exportState('nope'), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.importState('nope', envelope), 'NO_SUCH_WORKSPACE');
        await expectCode(ws.lock('nope', { operation: 'apply' }), 'NO_SUCH_WORKSPACE');
      });

      it('a write does not create the workspace (unlike Terraform, which creates on State(name))', async () => {
        const store = await factory.open();
        await expectCode(store.workspaces.writeState('nope', { a: 1 }), 'NO_SUCH_WORKSPACE');
        expect((await store.workspaces.list()).map((w) => w.name)).toEqual(['default']);
      });
    });

    describe('namespaces', () => {
      it('the same name in two namespaces names two independent workspaces', async () => {
        const a = await factory.open({ namespace: 'a' });
        const b = await factory.reopen(a, { namespace: 'b' });
        const inA = await a.workspaces.create('prod');
        const inB = await b.workspaces.create('prod');
        expect(inA.namespace).toBe('a');
        expect(inB.namespace).toBe('b');
        expect(inA.lineage).not.toBe(inB.lineage);
        await a.workspaces.writeState('prod', { from: 'a' });
        await a.workspaces.writeState('prod', { from: 'a', again: true });
        expect(await b.workspaces.readState('prod')).toMatchObject({ serial: 0, state: null });
        await b.workspaces.delete('prod');
        expect(await a.workspaces.readState('prod')).toMatchObject({ serial: 2, state: { from: 'a', again: true } });
      });

      it("'' is a namespace of its own: it does not see other namespaces' workspaces", async () => {
        const root = await factory.open();
        const shop = await factory.reopen(root, { namespace: 'shop' });
        await shop.workspaces.create('prod');
        expect((await root.workspaces.list()).map((w) => w.name)).toEqual(['default']);
        await expectCode(root.workspaces.get('prod'), 'NO_SUCH_WORKSPACE');
        await expectCode(root.workspaces.readState('prod'), 'NO_SUCH_WORKSPACE');
        await expectCode(root.workspaces.delete('prod', { force: true }), 'NO_SUCH_WORKSPACE');
        expect((await root.workspaces.create('prod')).namespace).toBe('');
      });

      it("a namespace does not see the '' namespace's workspaces", async () => {
        const root = await factory.open();
        const shop = await factory.reopen(root, { namespace: 'shop' });
        await root.workspaces.create('prod');
        expect((await shop.workspaces.list()).map((w) => w.name)).toEqual(['default']);
        await expectCode(shop.workspaces.get('prod'), 'NO_SUCH_WORKSPACE');
      });

      it('setNamespace switches the workspaces a handle sees', async () => {
        const store = await factory.open();
        store.setNamespace('a');
        await store.workspaces.create('only-in-a');
        store.setNamespace('b');
        await expectCode(store.workspaces.get('only-in-a'), 'NO_SUCH_WORKSPACE');
        store.setNamespace('a');
        expect((await store.workspaces.get('only-in-a')).namespace).toBe('a');
      });

      it('the lock of a workspace does not lock the same name in another namespace', async () => {
        const a = await factory.open({ namespace: 'a' });
        const b = await factory.reopen(a, { namespace: 'b' });
        await a.workspaces.create('prod');
        await b.workspaces.create('prod');
        const lockA = await a.workspaces.lock('prod', { operation: 'apply' });
        const lockB = await b.workspaces.lock('prod', { operation: 'apply' });
        expect(lockA.key).not.toBe(lockB.key);
        await b.workspaces.writeState('prod', { b: 1 }, { lockId: lockB.id });
        expect((await b.workspaces.get('prod')).lock?.id).toBe(lockB.id);
        expect((await a.workspaces.get('prod')).lock?.id).toBe(lockA.id);
      });
    });

    describe('lineage and serial', () => {
      it('before the first write: serial 0, state null, checksum null', async () => {
        const store = await factory.open();
        const created = await store.workspaces.create('fresh');
        const read = await store.workspaces.readState('fresh');
        expect(read).toMatchObject({ lineage: created.lineage, serial: 0, state: null, checksum: null });
        expect(read.updatedAt).toMatch(ISO_TIME);
      });

      it('every write adds 1 to the serial', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        for (let i = 1; i <= 5; i++) {
          const written = await store.workspaces.writeState('w', { i });
          expect(written.serial).toBe(i);
          expect((await store.workspaces.readState('w')).serial).toBe(i);
        }
        expect((await store.workspaces.get('w')).serial).toBe(5);
      });

      it('writes from two handles share one serial sequence', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { by: 'a' });
        await b.workspaces.writeState('w', { by: 'b' });
        await a.workspaces.writeState('w', { by: 'a' });
        expect(await b.workspaces.readState('w')).toMatchObject({ serial: 3, state: { by: 'a' } });
      });

      it('the lineage is fixed at creation: writes keep it', async () => {
        const store = await factory.open();
        const { lineage } = await store.workspaces.create('w');
        await writeVersions(store, 'w', 3);
        expect((await store.workspaces.readState('w')).lineage).toBe(lineage);
        expect((await store.workspaces.get('w')).lineage).toBe(lineage);
        expect((await store.workspaces.history('w')).map((v) => v.lineage)).toEqual([lineage, lineage, lineage]);
      });

      it('a re-created workspace has a new lineage and starts again at serial 0', async () => {
        const store = await factory.open();
        const first = await store.workspaces.create('w');
        await writeVersions(store, 'w', 2);
        await store.workspaces.delete('w', { force: true });
        const second = await store.workspaces.create('w');
        expect(second.lineage).not.toBe(first.lineage);
        expect(await store.workspaces.readState('w')).toMatchObject({
          lineage: second.lineage,
          serial: 0,
          state: null,
          checksum: null,
        });
      });

      it('a state may nest 1000 levels deep; deeper is INVALID_ARGUMENT and writes nothing; what is accepted exports and imports back', async () => {
        const store = await factory.open();
        const nest = (depth: number): unknown => {
          let doc: unknown = 'leaf';
          for (let i = 0; i < depth; i++) doc = i % 2 ? { d: doc } : [doc];
          return doc;
        };
        const deepest = await store.workspaces.writeState('default', nest(1000));
        await expectCode(store.workspaces.writeState('default', nest(1001)), 'INVALID_ARGUMENT');
        expect((await store.workspaces.readState('default')).serial).toBe(deepest.serial);
        const envelope = await store.workspaces.exportState('default');
        await store.workspaces.create('copy');
        const copied = await store.workspaces.importState('copy', envelope);
        expect(copied.checksum).toBe(deepest.checksum);
      });

      it('readState returns the document as written, with the sha256 of its canonical JSON', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        const state = {
          zeta: [3, 2, 1],
          alpha: { nested: { b: 'two', a: 'one' }, unicode: 'grüße — 日本 🚢', nothing: null, yes: true },
          number: 12.5,
        };
        const written = await store.workspaces.writeState('w', state);
        const read = await store.workspaces.readState('w');
        expect(read.state).toEqual(state);
        expect(read.checksum).toBe(stateChecksum(state));
        expect(written.checksum).toBe(read.checksum);
        expect(written.serial).toBe(read.serial);
      });

      it('equal documents with different key order have the same checksum', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        const one = await store.workspaces.writeState('w', { a: 1, b: { c: 2, d: 3 } });
        const two = await store.workspaces.writeState('w', { b: { d: 3, c: 2 }, a: 1 });
        expect(two.checksum).toBe(one.checksum);
      });
    });

    describe('compare-and-set writes', () => {
      it('a write with the current expectedSerial and lineage succeeds', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.writeState('w', { v: 1 });
        const { serial, lineage } = await store.workspaces.readState('w');
        const written = await store.workspaces.writeState('w', { v: 2 }, { expectedSerial: serial, lineage });
        expect(written.serial).toBe(serial + 1);
      });

      it('expectedSerial 0 matches a never-written workspace', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        expect((await store.workspaces.writeState('w', { v: 1 }, { expectedSerial: 0 })).serial).toBe(1);
      });

      it('a stale expectedSerial is STALE_SERIAL and changes nothing', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 2);
        const before = await snapshot(store, 'w');
        await expectCode(store.workspaces.writeState('w', { lost: true }, { expectedSerial: 1 }), 'STALE_SERIAL');
        await expectCode(store.workspaces.writeState('w', { lost: true }, { expectedSerial: 3 }), 'STALE_SERIAL');
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('another lineage is LINEAGE_MISMATCH and changes nothing', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 1);
        const before = await snapshot(store, 'w');
        await expectCode(
          store.workspaces.writeState('w', { lost: true }, { lineage: 'another-lineage', expectedSerial: 1 }),
          'LINEAGE_MISMATCH',
        );
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('the lineage read before a delete and re-create is LINEAGE_MISMATCH', async () => {
        const store = await factory.open();
        const { lineage } = await store.workspaces.create('w');
        await store.workspaces.delete('w');
        await store.workspaces.create('w');
        await expectCode(store.workspaces.writeState('w', { lost: true }, { lineage }), 'LINEAGE_MISMATCH');
        expect((await store.workspaces.readState('w')).serial).toBe(0);
      });

      it('two handles that read the same serial: the first write wins, the second is STALE_SERIAL', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        const readA = await a.workspaces.readState('w');
        const readB = await b.workspaces.readState('w');
        await a.workspaces.writeState('w', { by: 'a' }, { expectedSerial: readA.serial, lineage: readA.lineage });
        await expectCode(
          b.workspaces.writeState('w', { by: 'b' }, { expectedSerial: readB.serial, lineage: readB.lineage }),
          'STALE_SERIAL',
        );
        expect(await a.workspaces.readState('w')).toMatchObject({ serial: 1, state: { by: 'a' } });
      });
    });

    describe('writes and the workspace lock', () => {
      it('a write without the lock id while another holds the lock is LOCKED, with the holder in details.lock', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { v: 1 });
        const lock = await a.workspaces.lock('w', { operation: 'apply', info: 'ci run 7' });
        const before = await snapshot(b, 'w');
        const err = await expectCode(b.workspaces.writeState('w', { v: 2 }), 'LOCKED');
        expect(err.details.lock).toEqual(lock);
        expect(await snapshot(b, 'w')).toEqual(before);
      });

      it('a write with the lock id of the holder succeeds', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        expect((await a.workspaces.writeState('w', { by: 'a' }, { lockId: lock.id })).serial).toBe(1);
        // The id is the capability: whoever presents it writes (Terraform passes it around the same way).
        expect((await b.workspaces.writeState('w', { by: 'b' }, { lockId: lock.id })).serial).toBe(2);
      });

      it('the state can be read while another holds the lock', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { v: 1 });
        await a.workspaces.lock('w', { operation: 'apply' });
        expect((await b.workspaces.readState('w')).state).toEqual({ v: 1 });
        expect((await b.workspaces.exportState('w')).serial).toBe(1);
        expect(await b.workspaces.history('w')).toHaveLength(1);
      });

      it('get and list show the lock of a locked workspace', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        expect((await b.workspaces.get('w')).lock).toEqual(lock);
        expect((await b.workspaces.list()).find((w) => w.name === 'w')?.lock).toEqual(lock);
      });

      it('rollback and import without the lock id while another holds the lock are LOCKED', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        const envelope = await exported(a, 'w', 2);
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        const before = await snapshot(b, 'w');
        expect((await expectCode(b.workspaces.rollback('w', 1), 'LOCKED')).details.lock).toEqual(lock);
        expect(
          (await expectCode(b.workspaces.importState('w', envelope, { force: true }), 'LOCKED')).details.lock,
        ).toEqual(lock);
        expect(await snapshot(b, 'w')).toEqual(before);
      });

      it('a write is allowed again once the lock is released', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await expectCode(b.workspaces.writeState('w', { v: 1 }), 'LOCKED');
        await a.workspaces.unlock('w', lock.id);
        expect((await b.workspaces.writeState('w', { v: 1 })).serial).toBe(1);
      });
    });

    describe('history', () => {
      it('is empty before the first write', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        expect(await store.workspaces.history('w')).toEqual([]);
      });

      it('lists every version newest first with serial, lineage, checksum, createdAt, who and operation', async () => {
        const t0 = Date.parse('2030-01-02T03:04:05.000Z');
        let now = t0;
        const store = await factory.open({ actor: 'alice@laptop', clock: () => now });
        const { lineage } = await store.workspaces.create('w');
        const s1 = { v: 1 };
        const s2 = { v: 2, list: ['x'] };
        now += 1000;
        await store.workspaces.writeState('w', s1, { operation: 'apply' });
        now += 1000;
        await store.workspaces.writeState('w', s2, { operation: 'import-from-terraform' });
        expect(await store.workspaces.history('w')).toEqual([
          {
            serial: 2,
            lineage,
            checksum: stateChecksum(s2),
            createdAt: new Date(t0 + 2000).toISOString(),
            who: 'alice@laptop',
            operation: 'import-from-terraform',
          },
          {
            serial: 1,
            lineage,
            checksum: stateChecksum(s1),
            createdAt: new Date(t0 + 1000).toISOString(),
            who: 'alice@laptop',
            operation: 'apply',
          },
        ]);
      });

      it('records who wrote each version when several handles write', async () => {
        const a = await factory.open({ actor: 'alice@a' });
        const b = await factory.reopen(a, { actor: 'bob@b' });
        await a.workspaces.create('w');
        await a.workspaces.writeState('w', { v: 1 });
        await b.workspaces.writeState('w', { v: 2 });
        expect((await a.workspaces.history('w')).map((v) => [v.serial, v.who])).toEqual([
          [2, 'bob@b'],
          [1, 'alice@a'],
        ]);
      });

      it('limit returns the newest versions only', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 5);
        expect((await store.workspaces.history('w', { limit: 2 })).map((v) => v.serial)).toEqual([5, 4]);
        expect((await store.workspaces.history('w', { limit: 100 })).map((v) => v.serial)).toEqual([5, 4, 3, 2, 1]);
      });

      it('keeps only the newest historyLimit versions', async () => {
        const store = await factory.open({ historyLimit: 3 });
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 6);
        expect((await store.workspaces.history('w')).map((v) => v.serial)).toEqual([6, 5, 4]);
        expect((await store.workspaces.readState('w')).serial).toBe(6);
      });

      it('retention counts versions, not serials: a forced import that jumps ahead keeps the newest versions', async () => {
        const store = await factory.open({ historyLimit: 3 });
        const envelope = await exported(store, 'source', 1);
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 3);
        await store.workspaces.importState('w', { ...envelope, serial: 10 }, { force: true });
        expect((await store.workspaces.history('w')).map((v) => v.serial)).toEqual([10, 3, 2]);
      });

      it('a version dropped by retention cannot be rolled back to: INVALID_ARGUMENT', async () => {
        const store = await factory.open({ historyLimit: 2 });
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 4);
        await expectCode(store.workspaces.rollback('w', 1), 'INVALID_ARGUMENT');
        expect((await store.workspaces.rollback('w', 3)).serial).toBe(5);
      });

      it('history is per workspace', async () => {
        const store = await factory.open();
        await store.workspaces.create('one');
        await store.workspaces.create('two');
        await writeVersions(store, 'one', 3);
        await writeVersions(store, 'two', 1);
        expect(await store.workspaces.history('one')).toHaveLength(3);
        expect(await store.workspaces.history('two')).toHaveLength(1);
        expect(await store.workspaces.history('default')).toEqual([]);
      });
    });

    describe('rollback', () => {
      it('writes the state of an earlier serial as a new serial', async () => {
        const store = await factory.open();
        const { lineage } = await store.workspaces.create('w');
        const states = await writeVersions(store, 'w', 3);
        const rolled = await store.workspaces.rollback('w', 1);
        expect(rolled).toMatchObject({ lineage, serial: 4, state: states[0], checksum: stateChecksum(states[0]) });
        expect(await store.workspaces.readState('w')).toMatchObject({ serial: 4, state: states[0] });
        const history = await store.workspaces.history('w');
        expect(history.map((v) => v.serial)).toEqual([4, 3, 2, 1]);
        expect(history[0]!.checksum).toBe(history[3]!.checksum);
      });

      it('to an unknown serial is INVALID_ARGUMENT and changes nothing', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 2);
        const before = await snapshot(store, 'w');
        await expectCode(store.workspaces.rollback('w', 99), 'INVALID_ARGUMENT');
        await expectCode(store.workspaces.rollback('w', 0), 'INVALID_ARGUMENT');
        await expectCode(store.workspaces.rollback('w', -1), 'INVALID_ARGUMENT');
        await expectCode(store.workspaces.rollback('w', 1.5), 'INVALID_ARGUMENT');
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('of a never-written workspace is INVALID_ARGUMENT', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await expectCode(store.workspaces.rollback('w', 1), 'INVALID_ARGUMENT');
        expect((await store.workspaces.readState('w')).serial).toBe(0);
      });

      it('with the lock id of the holder succeeds', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await writeVersions(store, 'w', 2);
        const lock = await store.workspaces.lock('w', { operation: 'rollback' });
        expect((await store.workspaces.rollback('w', 1, { lockId: lock.id })).serial).toBe(3);
      });
    });

    describe('Terraform state files', () => {
      it('a first write with create makes the workspace (with its event) and serves the file back', async () => {
        const store = await factory.open();
        const doc = terraformState('tf-lineage-1', 1);
        const written = await store.workspaces.writeTerraformState('staging', tfJson(doc), { create: true });
        expect(written.serial).toBe(1);
        const file = await store.workspaces.readTerraformState('staging');
        expect(file).toMatchObject({ serial: 1, sealed: false });
        expect(JSON.parse(file.json!)).toEqual(doc);
        const types = (await store.events.list()).map((e) => e.type);
        expect(types.filter((t) => t.startsWith('workspace.'))).toEqual(['workspace.create', 'workspace.state.write']);
        expect((await store.workspaces.history('staging')).map((v) => v.serial)).toEqual([1]);
      });

      it('without create an unknown workspace is NO_SUCH_WORKSPACE; one without state reads as null', async () => {
        const store = await factory.open();
        await expectCode(
          store.workspaces.writeTerraformState('nope', tfJson(terraformState('l', 1))),
          'NO_SUCH_WORKSPACE',
        );
        await expectCode(store.workspaces.readTerraformState('nope'), 'NO_SUCH_WORKSPACE');
        expect((await store.workspaces.list()).map((w) => w.name)).toEqual(['default']);
        await store.workspaces.create('empty');
        expect(await store.workspaces.readTerraformState('empty')).toEqual({ json: null, serial: 0, sealed: false });
      });

      it("is Terraform's compare-and-set: another lineage, a lower serial, or the same serial with other content changes nothing", async () => {
        const store = await factory.open();
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('lin-a', 5)), { create: true });
        const before = await snapshot(store, 'w');
        const other = await expectCode(
          store.workspaces.writeTerraformState('w', tfJson(terraformState('lin-b', 9))),
          'LINEAGE_MISMATCH',
        );
        expect(other.details).toMatchObject({ lineage: 'lin-a', pushedLineage: 'lin-b' });
        expect(other.message).toContain('lin-a');
        expect(other.message).toContain('lin-b');
        const older = await expectCode(
          store.workspaces.writeTerraformState('w', tfJson(terraformState('lin-a', 4))),
          'STALE_SERIAL',
        );
        expect(older.details).toMatchObject({ serial: 5, pushedSerial: 4 });
        const changed = terraformState('lin-a', 5, { outputs: {} });
        const same = await expectCode(store.workspaces.writeTerraformState('w', tfJson(changed)), 'STALE_SERIAL');
        expect(same.details).toMatchObject({ serial: 5, pushedSerial: 5 });
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('the stored file again writes nothing; a higher serial is a new version', async () => {
        const store = await factory.open();
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('lin', 1)), { create: true });
        // Another key order and indentation: the same document.
        const again = await store.workspaces.writeTerraformState('w', JSON.stringify(terraformState('lin', 1)));
        expect(again.serial).toBe(1);
        const next = terraformState('lin', 2, { outputs: {} });
        expect((await store.workspaces.writeTerraformState('w', tfJson(next))).serial).toBe(2);
        expect(await servedTerraform(store, 'w')).toEqual(next);
        expect((await store.workspaces.history('w')).map((v) => v.serial)).toEqual([2, 1]);
      });

      it('refuses what is not a state file with INVALID_ARGUMENT, creating nothing', async () => {
        const store = await factory.open();
        const bad = [
          '{"version": 4, "serial": 1',
          '[1, 2]',
          '"text"',
          tfJson({ version: 4, serial: 1 }),
          tfJson({ version: 4, lineage: 'l', serial: -1 }),
          tfJson({ version: '4', lineage: 'l', serial: 1 }),
          tfJson({ lineage: 'l', serial: 1 }),
        ];
        for (const json of bad) {
          await expectCode(store.workspaces.writeTerraformState('w', json, { create: true }), 'INVALID_ARGUMENT');
        }
        await expectCode(
          store.workspaces.writeTerraformState('w', 42 as unknown as string, { create: true }),
          'INVALID_ARGUMENT',
        );
        expect((await store.workspaces.list()).map((w) => w.name)).toEqual(['default']);
      });

      it("OpenTofu's encrypted state is stored as given, without compare-and-set", async () => {
        const store = await factory.open();
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('lin', 7)), { create: true });
        const envelope = {
          meta: { 'key_provider.pbkdf2.k': 'c2FsdA==' },
          encrypted_data: 'AAAA',
          encryption_version: 'v0',
        };
        expect((await store.workspaces.writeTerraformState('w', tfJson(envelope))).serial).toBe(2);
        expect(await servedTerraform(store, 'w')).toEqual(envelope);
        const second = { ...envelope, encrypted_data: 'BBBB' };
        expect((await store.workspaces.writeTerraformState('w', tfJson(second))).serial).toBe(3);
        expect(await servedTerraform(store, 'w')).toEqual(second);
      });

      it("a workspace holding another kind of state (a berth stack's) is neither served nor replaced: LINEAGE_MISMATCH", async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.writeState('w', { kind: 'berth.stack/v1', objects: {} });
        const before = await snapshot(store, 'w');
        expect((await expectCode(store.workspaces.readTerraformState('w'), 'LINEAGE_MISMATCH')).details).toMatchObject({
          kind: 'not-terraform',
        });
        await expectCode(store.workspaces.writeTerraformState('w', tfJson(terraformState('l', 1))), 'LINEAGE_MISMATCH');
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('null empties the state as a new version; then any lineage may start again', async () => {
        const store = await factory.open();
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('old', 3)), { create: true });
        expect((await store.workspaces.writeTerraformState('w', null)).serial).toBe(2);
        expect(await store.workspaces.readTerraformState('w')).toEqual({ json: null, serial: 2, sealed: false });
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
        expect((await store.workspaces.writeTerraformState('w', null)).serial).toBe(2);
        expect((await store.workspaces.writeTerraformState('w', tfJson(terraformState('new', 1)))).serial).toBe(3);
      });

      it("is fenced by the workspace lock, and history names the lock's holder and operation", async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        const lock = await a.workspaces.lock('w', {
          id: 'tf-lock-1',
          operation: 'OperationTypeApply',
          who: 'alice@laptop',
          pid: 0,
          host: '10.0.0.7',
          create: true,
        });
        const locked = await expectCode(
          b.workspaces.writeTerraformState('w', tfJson(terraformState('l', 1))),
          'LOCKED',
        );
        expect(locked.details.lock).toEqual(lock);
        await a.workspaces.writeTerraformState('w', tfJson(terraformState('l', 1)), { lockId: 'tf-lock-1' });
        expect((await a.workspaces.history('w'))[0]).toMatchObject({
          who: 'alice@laptop',
          operation: 'OperationTypeApply',
        });
        await b.workspaces.forceUnlock('w', 'tf-lock-1');
        await expectCode(
          a.workspaces.writeTerraformState('w', tfJson(terraformState('l', 2)), { lockId: 'tf-lock-1' }),
          'LOCK_LOST',
        );
        expect((await a.workspaces.readTerraformState('w')).serial).toBe(1);
      });

      it("a write under a lock renews the lock's lease", async () => {
        const c = { now: Date.parse('2030-06-01T12:00:00.000Z') };
        const store = await factory.open({ clock: () => c.now });
        await store.workspaces.lock('w', {
          id: 'tf',
          operation: 'apply',
          pid: 0,
          host: '10.0.0.7',
          ttlMs: 10_000,
          create: true,
        });
        c.now += 8_000;
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('l', 1)), { lockId: 'tf' });
        c.now += 8_000;
        expect((await store.workspaces.get('w')).lock?.stale).toBe(false);
        c.now += 3_000;
        expect((await store.workspaces.get('w')).lock).toMatchObject({ stale: true, staleReason: 'lease expired' });
      });

      it('a rollback gives the file a serial above the current one, so the rolled-back-from serial is refused', async () => {
        const store = await factory.open();
        const v1 = terraformState('l', 1, { outputs: {} });
        await store.workspaces.writeTerraformState('w', tfJson(v1), { create: true });
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('l', 2)));
        await store.workspaces.writeTerraformState('w', tfJson(terraformState('l', 3)));
        expect((await store.workspaces.rollback('w', 1)).serial).toBe(4);
        expect(await servedTerraform(store, 'w')).toEqual({ ...v1, serial: 4 });
        // A client that still holds serial 3 writes serial 4 from it: refused.
        await expectCode(store.workspaces.writeTerraformState('w', tfJson(terraformState('l', 4))), 'STALE_SERIAL');
        expect((await store.workspaces.writeTerraformState('w', tfJson({ ...v1, serial: 5 }))).serial).toBe(5);
      });

      it('with a secrets key all but version, lineage and serial is stored encrypted and read back only with showSecrets', async () => {
        const store = await factory.open({ secretsKey: generateSecretsKey() });
        const doc = terraformState('l', 1, {
          outputs: { pw: { value: 'hunter2-conformance', type: 'string', sensitive: true } },
        });
        await store.workspaces.writeTerraformState('w', tfJson(doc), { create: true });
        const stored = (await store.workspaces.readState('w')).state as Record<string, unknown>;
        expect(JSON.stringify(stored)).not.toContain('hunter2-conformance');
        expect(stored).toMatchObject({ version: 4, terraform_version: '1.11.4', serial: 1, lineage: 'l' });
        expect(stored.outputs).toEqual({ $encrypted: expect.stringMatching(/^berth:secret:v2:/) });
        expect(await store.workspaces.readTerraformState('w')).toEqual({ json: null, serial: 1, sealed: true });
        expect(await servedTerraform(store, 'w')).toEqual(doc);
        // Compare-and-set reads the sealed file: the same file again writes nothing, other content is refused.
        expect((await store.workspaces.writeTerraformState('w', JSON.stringify(doc))).serial).toBe(1);
        await expectCode(store.workspaces.writeTerraformState('w', tfJson({ ...doc, outputs: {} })), 'STALE_SERIAL');
        await store.workspaces.writeTerraformState('w', tfJson({ ...doc, serial: 2, outputs: {} }));
        await store.workspaces.rollback('w', 1);
        expect(await servedTerraform(store, 'w')).toEqual({ ...doc, serial: 3 });
        // A handle without the key reads no plain text, and writes none over a sealed state.
        const keyless = await factory.reopen(store);
        expect(await keyless.workspaces.readTerraformState('w')).toEqual({ json: null, serial: 3, sealed: true });
        await expectCode(keyless.workspaces.readTerraformState('w', { showSecrets: true }), 'SECRETS_KEY_MISSING');
        await expectCode(
          keyless.workspaces.writeTerraformState('w', tfJson({ ...doc, serial: 4 })),
          'SECRETS_KEY_MISSING',
        );
      });

      it('with a secrets key a Terraform state is sealed however it is written: writeState, importState, rollback', async () => {
        const key = generateSecretsKey();
        const keyless = await factory.open();
        const doc = terraformState('l', 1, { outputs: { pw: { value: 'hunter2-paths', type: 'string' } } });
        // Written before the key was set: stored as it is.
        await keyless.workspaces.writeTerraformState('w', tfJson(doc), { create: true });
        const keyed = await factory.reopen(keyless, { secretsKey: key });
        const storedText = async (name: string): Promise<string> =>
          JSON.stringify((await keyed.workspaces.readState(name)).state);
        expect(await storedText('w')).toContain('hunter2-paths');
        await keyed.workspaces.writeState('w', { ...doc, serial: 2 });
        expect(await storedText('w')).not.toContain('hunter2-paths');
        expect(await servedTerraform(keyed, 'w')).toEqual({ ...doc, serial: 2 });
        await keyed.workspaces.rollback('w', 1);
        expect(await storedText('w')).not.toContain('hunter2-paths');
        expect(await servedTerraform(keyed, 'w')).toEqual({ ...doc, serial: 3 });
        // An export with its secrets shown imports sealed again; so does a plain one.
        await keyed.workspaces.create('copy');
        await keyed.workspaces.create('plain');
        await keyed.workspaces.importState('copy', await keyed.workspaces.exportState('w', { showSecrets: true }));
        expect(await storedText('copy')).not.toContain('hunter2-paths');
        expect(await servedTerraform(keyed, 'copy')).toEqual({ ...doc, serial: 3 });
        await keyed.workspaces.importState('plain', {
          version: 1,
          kind: 'berth.workspace',
          namespace: '',
          workspace: 'w',
          lineage: 'berth-lineage',
          serial: 1,
          checksum: stateChecksum(doc),
          state: doc,
        });
        expect(await storedText('plain')).not.toContain('hunter2-paths');
        expect(await servedTerraform(keyed, 'plain')).toEqual(doc);
      });

      it("without a key a file holding berth's secret markers is INVALID_ARGUMENT", async () => {
        const store = await factory.open();
        const doc = terraformState('l', 1, { outputs: { o: { value: { $secret: 'x' }, type: 'string' } } });
        await expectCode(store.workspaces.writeTerraformState('w', tfJson(doc), { create: true }), 'INVALID_ARGUMENT');
      });
    });

    describe('isEmpty', () => {
      it('is true for a new workspace, and for state null or {}', async () => {
        const store = await factory.open();
        expect((await store.workspaces.create('w')).isEmpty).toBe(true);
        await store.workspaces.writeState('w', {});
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
        await store.workspaces.writeState('w', null);
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
      });

      it('is false once the state holds something', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.writeState('w', { resources: [] });
        expect((await store.workspaces.get('w')).isEmpty).toBe(false);
        await store.workspaces.writeState('w', {});
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
      });

      it('is false while a container carries the label berth.workspace=<name>, true again once it is removed', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        const managed = await store.addContainer(ctr({ labels: { 'berth.workspace': 'w' } }));
        expect((await store.workspaces.get('w')).isEmpty).toBe(false);
        expect((await store.workspaces.list()).find((w) => w.name === 'w')?.isEmpty).toBe(false);
        await store.removeContainer(managed);
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
      });

      it('is false while a pod or a volume carries the label', async () => {
        const store = await factory.open();
        await store.workspaces.create('with-pod');
        await store.workspaces.create('with-volume');
        await store.addPod(pod({ labels: { 'berth.workspace': 'with-pod' } }));
        await store.addVolume(vol({ labels: { 'berth.workspace': 'with-volume' } }));
        expect((await store.workspaces.get('with-pod')).isEmpty).toBe(false);
        expect((await store.workspaces.get('with-volume')).isEmpty).toBe(false);
      });

      it('follows label changes made by rewriting an object config', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        const volume = await store.addVolume(vol());
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
        await store.rewriteVolumeConfig(volume, { ...volume.config, labels: { 'berth.workspace': 'w' } });
        expect((await store.workspaces.get('w')).isEmpty).toBe(false);
        await store.rewriteVolumeConfig(volume, { ...volume.config, labels: {} });
        expect((await store.workspaces.get('w')).isEmpty).toBe(true);
        const container = await store.addContainer(ctr());
        await store.rewriteContainerConfig(container, { ...container.config, labels: { 'berth.workspace': 'w' } });
        expect((await store.workspaces.get('w')).isEmpty).toBe(false);
      });

      it('ignores objects labelled for another workspace or living in another namespace', async () => {
        const root = await factory.open();
        const shop = await factory.reopen(root, { namespace: 'shop' });
        await root.workspaces.create('w');
        await root.addContainer(ctr({ labels: { 'berth.workspace': 'other' } }));
        await shop.addContainer(ctr({ labels: { 'berth.workspace': 'w' } }));
        await shop.addVolume(vol({ labels: { 'berth.workspace': 'w' } }));
        await root.addContainer(ctr({ labels: { 'berth.workspaces': 'w', workspace: 'w' } }));
        expect((await root.workspaces.get('w')).isEmpty).toBe(true);
        await shop.workspaces.create('w');
        expect((await shop.workspaces.get('w')).isEmpty).toBe(false);
      });
    });

    describe('delete', () => {
      it('refuses a workspace with state without force: WORKSPACE_NOT_EMPTY, and keeps it', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.writeState('w', { resources: [1] });
        const before = await snapshot(store, 'w');
        await expectCode(store.workspaces.delete('w'), 'WORKSPACE_NOT_EMPTY');
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('refuses a workspace that manages objects without force: WORKSPACE_NOT_EMPTY', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.addVolume(vol({ labels: { 'berth.workspace': 'w' } }));
        await expectCode(store.workspaces.delete('w'), 'WORKSPACE_NOT_EMPTY');
        expect((await store.workspaces.get('w')).name).toBe('w');
      });

      it('deletes a non-empty workspace with force', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.writeState('w', { resources: [1] });
        await store.workspaces.delete('w', { force: true });
        await expectCode(store.workspaces.get('w'), 'NO_SUCH_WORKSPACE');
      });

      it('deletes a written workspace whose state is {} without force', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.writeState('w', { resources: [1] });
        await store.workspaces.writeState('w', {});
        await store.workspaces.delete('w');
        await expectCode(store.workspaces.get('w'), 'NO_SUCH_WORKSPACE');
      });

      it('refuses a locked workspace even with force: LOCKED with the holder, and keeps it', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        expect((await expectCode(b.workspaces.delete('w'), 'LOCKED')).details.lock).toEqual(lock);
        expect((await expectCode(b.workspaces.delete('w', { force: true }), 'LOCKED')).details.lock).toEqual(lock);
        expect((await b.workspaces.get('w')).lock).toEqual(lock);
      });

      it('refuses a workspace locked by the same handle too', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        await store.workspaces.lock('w', { operation: 'apply' });
        await expectCode(store.workspaces.delete('w', { force: true }), 'LOCKED');
      });

      it('works after a force-unlock', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('w');
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await b.workspaces.forceUnlock('w', lock.id);
        await b.workspaces.delete('w');
        await expectCode(a.workspaces.get('w'), 'NO_SUCH_WORKSPACE');
      });

      it('removes history and lock: a re-created workspace starts at serial 0, new lineage, no history, unlocked', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        const first = await a.workspaces.create('w');
        await writeVersions(a, 'w', 3);
        const lock = await a.workspaces.lock('w', { operation: 'apply' });
        await a.workspaces.unlock('w', lock.id);
        await a.workspaces.delete('w', { force: true });
        const again = await b.workspaces.create('w');
        expect(again).toMatchObject({ serial: 0, isEmpty: true });
        expect(again.lineage).not.toBe(first.lineage);
        expect(again.lock).toBeUndefined();
        expect(await b.workspaces.history('w')).toEqual([]);
        await expectCode(b.workspaces.rollback('w', 2), 'INVALID_ARGUMENT');
        expect((await b.workspaces.lock('w', { operation: 'apply' })).id).not.toBe(lock.id);
      });

      it('leaves the other workspaces alone', async () => {
        const store = await factory.open();
        await store.workspaces.create('keep');
        await store.workspaces.create('drop');
        await writeVersions(store, 'keep', 2);
        await writeVersions(store, 'drop', 2);
        const before = await snapshot(store, 'keep');
        await store.workspaces.delete('drop', { force: true });
        expect(await snapshot(store, 'keep')).toEqual(before);
      });
    });

    describe('export', () => {
      it('is the versioned envelope { version, kind, namespace, workspace, lineage, serial, checksum, state }', async () => {
        const store = await factory.open({ namespace: 'shop' });
        const { lineage } = await store.workspaces.create('prod');
        const state = { resources: [{ type: 'pod', name: 'web' }], outputs: { url: 'http://x' } };
        await store.workspaces.writeState('prod', { first: true });
        await store.workspaces.writeState('prod', state);
        const envelope = await store.workspaces.exportState('prod');
        expect(envelope).toEqual({
          version: 1,
          kind: 'berth.workspace',
          namespace: 'shop',
          workspace: 'prod',
          lineage,
          serial: 2,
          checksum: stateChecksum(state),
          state,
        });
      });

      it('the checksum is the sha256 of the canonical JSON (keys sorted at every level)', async () => {
        const store = await factory.open();
        await store.workspaces.create('w');
        const state = { b: { y: 1, x: [{ d: 1, c: 2 }] }, a: 'first' };
        await store.workspaces.writeState('w', state);
        const envelope = await store.workspaces.exportState('w');
        expect(envelope.checksum).toBe(sha256('{"a":"first","b":{"x":[{"c":2,"d":1}],"y":1}}'));
      });

      it('survives a JSON round trip and imports elsewhere', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 2);
        await store.workspaces.create('copy');
        const text = JSON.stringify(envelope, null, 2);
        await store.workspaces.importState('copy', JSON.parse(text) as StateExport);
        expect((await store.workspaces.readState('copy')).state).toEqual(envelope.state);
      });
    });

    describe('import', () => {
      it('into a never-written workspace adopts lineage, serial and state', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 3);
        await store.workspaces.create('target');
        const imported = await store.workspaces.importState('target', envelope);
        expect(imported).toMatchObject({
          lineage: envelope.lineage,
          serial: 3,
          state: envelope.state,
          checksum: envelope.checksum,
        });
        expect(await store.workspaces.readState('target')).toMatchObject({
          lineage: envelope.lineage,
          serial: 3,
          state: envelope.state,
        });
        expect((await store.workspaces.get('target')).lineage).toBe(envelope.lineage);
      });

      it('into another namespace and another store handle', async () => {
        const a = await factory.open({ namespace: 'a' });
        const b = await factory.reopen(a, { namespace: 'b' });
        const envelope = await exported(a, 'prod', 2);
        await b.workspaces.create('prod');
        await b.workspaces.importState('prod', envelope);
        expect(await b.workspaces.readState('prod')).toMatchObject({ lineage: envelope.lineage, serial: 2 });
      });

      it('of the same lineage with a higher serial needs no force and takes that serial', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'w', 5);
        await store.workspaces.rollback('w', 2); // serial 6
        const newer = { ...envelope, serial: 9 };
        const imported = await store.workspaces.importState('w', newer);
        expect(imported).toMatchObject({ lineage: envelope.lineage, serial: 9, state: envelope.state });
      });

      it('keeps the replaced version in history', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 4);
        await store.workspaces.create('target');
        await writeVersions(store, 'target', 2);
        const replaced = (await store.workspaces.history('target'))[0]!;
        await store.workspaces.importState('target', envelope, { force: true });
        const history = await store.workspaces.history('target');
        expect(history[0]).toMatchObject({ serial: 4, lineage: envelope.lineage, checksum: envelope.checksum });
        expect(history).toContainEqual(replaced);
      });

      it('of another lineage is LINEAGE_MISMATCH and changes nothing', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 5);
        await store.workspaces.create('target');
        await writeVersions(store, 'target', 1);
        const before = await snapshot(store, 'target');
        await expectCode(store.workspaces.importState('target', envelope), 'LINEAGE_MISMATCH');
        expect(await snapshot(store, 'target')).toEqual(before);
      });

      it('of a serial not above the current one is STALE_SERIAL and changes nothing', async () => {
        const store = await factory.open();
        const old = await exported(store, 'w', 2);
        await writeVersions(store, 'w', 2); // serial 4
        const current = await store.workspaces.exportState('w');
        const before = await snapshot(store, 'w');
        await expectCode(store.workspaces.importState('w', old), 'STALE_SERIAL');
        await expectCode(store.workspaces.importState('w', current), 'STALE_SERIAL');
        expect(await snapshot(store, 'w')).toEqual(before);
      });

      it('keeps the replaced version in history when the imported serial is far ahead', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 1);
        await store.workspaces.create('target');
        await writeVersions(store, 'target', 2);
        const replaced = (await store.workspaces.history('target'))[0]!;
        await store.workspaces.importState('target', { ...envelope, serial: 5000 }, { force: true });
        expect((await store.workspaces.history('target')).map((v) => v.serial)).toEqual([5000, 2, 1]);
        expect((await store.workspaces.rollback('target', replaced.serial)).checksum).toBe(replaced.checksum);
      });

      it('with force, an older serial of the same lineage lands at current + 1', async () => {
        const store = await factory.open();
        const old = await exported(store, 'w', 2);
        await writeVersions(store, 'w', 2); // serial 4
        const imported = await store.workspaces.importState('w', old, { force: true });
        expect(imported).toMatchObject({ lineage: old.lineage, serial: 5, state: old.state, checksum: old.checksum });
      });

      it('with force, another lineage replaces the lineage; serial max(imported, current + 1)', async () => {
        const store = await factory.open();
        const low = await exported(store, 'low', 2);
        const high = await exported(store, 'high', 9);
        await store.workspaces.create('target');
        await writeVersions(store, 'target', 4);
        const one = await store.workspaces.importState('target', low, { force: true });
        expect(one).toMatchObject({ lineage: low.lineage, serial: 5, state: low.state });
        const two = await store.workspaces.importState('target', high, { force: true });
        expect(two).toMatchObject({ lineage: high.lineage, serial: 9, state: high.state });
        expect((await store.workspaces.get('target')).lineage).toBe(high.lineage);
      });

      it('serials never go back: after a forced import, a write continues from the new serial', async () => {
        const store = await factory.open();
        const low = await exported(store, 'low', 1);
        await store.workspaces.create('target');
        await writeVersions(store, 'target', 3);
        await store.workspaces.importState('target', low, { force: true });
        expect((await store.workspaces.writeState('target', { after: true })).serial).toBe(5);
      });

      const broken: [string, (e: StateExport) => unknown][] = [
        ['version 2', (e) => ({ ...e, version: 2 })],
        ['version "1" as a string', (e) => ({ ...e, version: '1' })],
        ['no version', ({ version: _v, ...rest }) => rest],
        ['another kind', (e) => ({ ...e, kind: 'terraform.state' })],
        ['no kind', ({ kind: _k, ...rest }) => rest],
        ['a wrong checksum', (e) => ({ ...e, checksum: 'f'.repeat(64) })],
        ['no checksum', ({ checksum: _c, ...rest }) => rest],
        ['no lineage', ({ lineage: _l, ...rest }) => rest],
        ['a negative serial', (e) => ({ ...e, serial: -1 })],
        ['a fractional serial', (e) => ({ ...e, serial: 1.5 })],
        ['a tampered state', (e) => ({ ...e, state: { ...(e.state as object), injected: true } })],
        ['a tampered nested value', (e) => ({ ...e, state: JSON.parse(JSON.stringify(e.state).replace('c1', 'c9')) })],
        ['null', () => null],
        ['a string', (e) => JSON.stringify(e)],
        ['a number', () => 42],
        ['an array', (e) => [e]],
      ];

      it.each(broken)('with %s is INVALID_IMPORT and changes nothing', async (_what, breakIt) => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 1);
        await store.workspaces.create('target');
        await writeVersions(store, 'target', 1);
        const before = { target: await snapshot(store, 'target'), fresh: await snapshot(store, 'source') };
        const bad = breakIt(envelope) as StateExport;
        await expectCode(store.workspaces.importState('target', bad), 'INVALID_IMPORT');
        await expectCode(store.workspaces.importState('target', bad, { force: true }), 'INVALID_IMPORT');
        expect({ target: await snapshot(store, 'target'), fresh: await snapshot(store, 'source') }).toEqual(before);
      });

      it('an invalid envelope is INVALID_IMPORT even into a never-written workspace', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 1);
        await store.workspaces.create('target');
        const before = await snapshot(store, 'target');
        await expectCode(
          store.workspaces.importState('target', { ...envelope, checksum: stateChecksum({}) }),
          'INVALID_IMPORT',
        );
        expect(await snapshot(store, 'target')).toEqual(before);
      });

      it('with the lock id of the holder succeeds', async () => {
        const store = await factory.open();
        const envelope = await exported(store, 'source', 2);
        await store.workspaces.create('target');
        const lock = await store.workspaces.lock('target', { operation: 'import' });
        const imported = await store.workspaces.importState('target', envelope, { lockId: lock.id });
        expect(imported.serial).toBe(2);
      });
    });

    describe('isolation', () => {
      it('writes to one workspace leave the others untouched (TestBackendStates)', async () => {
        const store = await factory.open();
        await store.workspaces.create('foo');
        await store.workspaces.create('bar');
        await store.workspaces.writeState('foo', { owner: 'foo' });
        expect(await store.workspaces.readState('bar')).toMatchObject({ serial: 0, state: null });
        expect(await store.workspaces.readState('default')).toMatchObject({ serial: 0, state: null });
        await store.workspaces.writeState('bar', { owner: 'bar' });
        await store.workspaces.writeState('bar', { owner: 'bar', n: 2 });
        expect(await store.workspaces.readState('foo')).toMatchObject({ serial: 1, state: { owner: 'foo' } });
        expect(await store.workspaces.readState('bar')).toMatchObject({ serial: 2, state: { owner: 'bar', n: 2 } });
      });

      it('each workspace has its own lineage', async () => {
        const store = await factory.open();
        const lineages = new Set<string>();
        for (const name of ['a', 'b', 'c']) lineages.add((await store.workspaces.create(name)).lineage);
        lineages.add((await store.workspaces.get('default')).lineage);
        expect(lineages.size).toBe(4);
      });

      it('a lock on one workspace does not block writes to another', async () => {
        const a = await factory.open();
        const b = await factory.reopen(a);
        await a.workspaces.create('locked');
        await a.workspaces.create('free');
        await a.workspaces.lock('locked', { operation: 'apply' });
        expect((await b.workspaces.writeState('free', { ok: true })).serial).toBe(1);
        expect((await b.workspaces.writeState('default', { ok: true })).serial).toBe(1);
      });
    });
  });
}
