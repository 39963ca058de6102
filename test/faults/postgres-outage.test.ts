import { expect, it } from 'vitest';
import { generateSecretsKey, loadManifest } from '../../src/index.js';
import { cliWorld } from '../cli/helpers.js';
import {
  describeCluster,
  expectFault,
  schemaName,
  storeProcess,
  StoreProcess,
  type WireError,
} from './postgres-helpers.js';

/*
 * Issue 13, on a PostgreSQL cluster of this file's own: the server stopped when a store
 * is opened, and stopped under an open handle while every public read and write method
 * is called. Each call must settle as STORE_UNAVAILABLE naming the server (never its
 * password, never a raw driver error, never INTERNAL), the process must live, and once
 * the server is back the same handle must work, with everything acknowledged before the
 * outage still there. The cases stop the server, so they run one after the other.
 */

/** A call of the public API, by path, with arguments made from what the setup created. */
type Case = [path: string, args: (o: Setup) => unknown[]];

interface Obj {
  config: Record<string, unknown> & { id: string; name: string };
  state: Record<string, unknown>;
}

interface Setup {
  c1: Obj;
  c2: Obj;
  c3: Obj;
  p1: Obj;
  p2: Obj;
  v1: Obj;
  lockId: string;
  keyLockId: string;
  plan: unknown;
  envelope: unknown;
}

const MANIFEST = loadManifest('version: 1\ncontainers:\n  planned: { image: "nginx:1.27" }\n');

const CASES: Case[] = [
  ['refresh', () => []],
  ['refreshAfterReboot', () => []],
  ['getDBConfig', () => []],
  ['validateDBConfig', () => [{ os: 'linux' }]],
  ['getName', (o) => [o.c1.config.id]],
  ['snapshot', () => []],
  ['container', (o) => [o.c1.config.id]],
  ['lookupContainer', () => ['c1']],
  ['lookupContainerID', () => ['c1']],
  ['hasContainer', (o) => [o.c1.config.id]],
  ['addContainer', () => [{ config: { name: 'c-new', image: 'x' } }]],
  ['removeContainer', (o) => [o.c3]],
  ['updateContainer', (o) => [o.c1]],
  ['saveContainer', (o) => [o.c1]],
  ['containerInUse', (o) => [o.c1]],
  ['allContainers', () => []],
  ['getContainerConfig', (o) => [o.c1.config.id]],
  ['rewriteContainerConfig', (o) => [o.c1, o.c1.config]],
  ['safeRewriteContainerConfig', (o) => [o.c1, 'c1', 'c1-renamed', { ...o.c1.config, name: 'c1-renamed' }]],
  ['getNetworks', (o) => [o.c1]],
  ['networkConnect', (o) => [o.c1, 'net-2', {}]],
  ['networkDisconnect', (o) => [o.c1, 'net-1']],
  ['addContainerExitCode', (o) => [o.c1.config.id, 3]],
  ['getContainerExitCode', (o) => [o.c1.config.id]],
  ['pruneContainerExitCodes', () => []],
  ['addExecSession', (o) => [o.c1, { id: 'exec-2', containerId: o.c1.config.id }]],
  ['getExecSession', () => ['exec-1']],
  ['removeExecSession', (o) => [{ id: 'exec-1', containerId: o.c1.config.id }]],
  ['getContainerExecSessions', (o) => [o.c1]],
  ['removeContainerExecSessions', (o) => [o.c1]],
  ['pod', (o) => [o.p1.config.id]],
  ['lookupPod', () => ['p1']],
  ['hasPod', (o) => [o.p1.config.id]],
  ['podHasContainer', (o) => [o.p1, o.c2.config.id]],
  ['podContainersByID', (o) => [o.p1]],
  ['podContainers', (o) => [o.p1]],
  ['addPod', () => [{ config: { name: 'p-new' }, state: {} }]],
  ['removePod', (o) => [o.p2]],
  ['removePodContainers', (o) => [o.p1]],
  ['addContainerToPod', (o) => [o.p1, { config: { name: 'c-new-in-pod', image: 'x', pod: o.p1.config.id } }]],
  ['removeContainerFromPod', (o) => [o.p1, o.c2]],
  ['updatePod', (o) => [o.p1]],
  ['savePod', (o) => [o.p1]],
  ['allPods', () => []],
  ['rewritePodConfig', (o) => [o.p1, o.p1.config]],
  ['volume', () => ['v1']],
  ['lookupVolume', () => ['v1']],
  ['hasVolume', () => ['v1']],
  ['volumeInUse', (o) => [o.v1]],
  ['addVolume', () => [{ config: { name: 'v-new' } }]],
  ['removeVolume', (o) => [o.v1]],
  ['updateVolume', (o) => [o.v1]],
  ['saveVolume', (o) => [o.v1]],
  ['allVolumes', () => []],
  ['rewriteVolumeConfig', (o) => [o.v1, o.v1.config]],
  ['removeContainers', () => [['c3']]],
  ['removePods', () => [['p2']]],
  ['removeVolumes', () => [['v1']]],
  ['diagnose', () => []],
  ['repair', () => []],
  ['plan', () => ['default', MANIFEST]],
  ['apply', (o) => [o.plan]],
  ['workspaces.list', () => []],
  ['workspaces.create', () => ['ws-new']],
  ['workspaces.get', () => ['ws']],
  ['workspaces.delete', () => ['ws-empty']],
  ['workspaces.readState', () => ['ws']],
  ['workspaces.writeState', () => ['ws', { v: 2 }]],
  ['workspaces.history', () => ['ws']],
  ['workspaces.rollback', () => ['ws', 1]],
  ['workspaces.exportState', () => ['ws']],
  ['workspaces.importState', (o) => ['ws-empty', o.envelope, { force: true }]],
  ['workspaces.lock', () => ['ws-empty', { operation: 'outage' }]],
  ['workspaces.unlock', (o) => ['ws', o.lockId]],
  ['workspaces.forceUnlock', (o) => ['ws', o.lockId]],
  ['workspaces.managed', () => ['ws']],
  ['locks.acquire', () => ['key-new', { operation: 'outage' }]],
  ['locks.release', (o) => ['key-held', o.keyLockId]],
  ['locks.heartbeat', (o) => ['key-held', o.keyLockId]],
  ['locks.forceUnlock', (o) => ['key-held', o.keyLockId]],
  ['locks.get', () => ['key-held']],
  ['locks.list', () => []],
  ['events.list', () => [{}]],
  ['events.lastSeq', () => []],
  ['events.firstSeqAt', () => [0]],
  ['events.prunedThrough', () => []],
  ['events.prune', () => []],
  ['events.append', () => [{ namespace: '', type: 'test.outage', subject: { kind: 'test' } }]],
  ['secrets.status', () => []],
  ['secrets.reveal', () => [{ $encrypted: 'berth:secret:v1:0000:AAAA' }]],
  ['secrets.rotateKey', () => [generateSecretsKey()]],
  ['secrets.sealer', () => ['ws']],
];

/** The error a call settled with: thrown, or (batches) the error of its first failed item. */
function errorOf(r: { ok: boolean; value?: unknown; error?: WireError }): WireError | undefined {
  if (!r.ok) return r.error;
  const failed = (r.value as { failed?: { error: { code: string; message: string } }[] } | null)?.failed;
  const first = failed?.[0]?.error;
  return first ? { berth: true, code: first.code, name: 'BerthError', message: first.message } : undefined;
}

describeCluster('postgres faults: the server stopped', (cluster) => {
  it('at open: STORE_UNAVAILABLE at once, naming the server; the same process opens it once it is back', async (t) => {
    const c = cluster();
    const schema = schemaName('atopen');
    await c.stop('fast');
    try {
      const p = await new StoreProcess(t).ready();
      const started = Date.now();
      const r = await p.open({ url: c.url, schema });
      expect(r.ok).toBe(false);
      expectFault(r.error, ['STORE_UNAVAILABLE'], c, 'openStore');
      expect(Date.now() - started).toBeLessThan(5_000);
      // The CLI says the same, as an operator reads it: exit 1, one line, no stack.
      const world = cliWorld(t);
      const ps = await world.run(['ps', '-a'], { env: { BERTH_STORE: `${c.url}?schema=${schema}` } });
      expect(ps.code).toBe(1);
      expect(ps.stderr).toMatch(
        /^Error: store .*cannot reach PostgreSQL at 127\.0\.0\.1:\d+ .*check that PostgreSQL is running/,
      );
      expect(ps.stderr).not.toContain(c.password);
      await c.start();
      expect((await p.open({ url: c.url, schema })).ok).toBe(true);
      expect((await p.call('allContainers')).value).toEqual([]);
      expect(await p.alive()).toBe(true);
    } finally {
      await c.start().catch(() => undefined);
    }
  });

  it('under an open handle: every public read and write method is STORE_UNAVAILABLE; the handle goes on once it is back', async (t) => {
    const c = cluster();
    const schema = schemaName('underhandle');
    const secretsKey = generateSecretsKey();
    const p = await storeProcess(t, { url: c.url, schema, secretsKey });
    const o = {} as Setup;
    o.c1 = await p.value('addContainer', { config: { name: 'c1', image: 'x' } });
    o.c3 = await p.value('addContainer', { config: { name: 'c3', image: 'x' } });
    o.p1 = await p.value('addPod', { config: { name: 'p1' }, state: {} });
    o.p2 = await p.value('addPod', { config: { name: 'p2' }, state: {} });
    o.c2 = await p.value('addContainerToPod', o.p1, { config: { name: 'c2', image: 'x', pod: o.p1.config.id } });
    o.v1 = await p.value('addVolume', { config: { name: 'v1' } });
    await p.value('addExecSession', o.c1, { id: 'exec-1', containerId: o.c1.config.id });
    await p.value('networkConnect', o.c1, 'net-1', {});
    await p.value('workspaces.create', 'ws');
    await p.value('workspaces.create', 'ws-empty');
    await p.value('workspaces.writeState', 'ws', { v: 1, password: { $secret: 'hunter2' } });
    o.envelope = await p.value('workspaces.exportState', 'ws');
    o.lockId = (await p.value<{ id: string }>('workspaces.lock', 'ws', { operation: 'held' })).id;
    o.keyLockId = (await p.value<{ id: string }>('locks.acquire', 'key-held', { operation: 'held' })).id;
    o.plan = await p.value('plan', 'default', MANIFEST);
    const acknowledged = (await p.value<Obj[]>('allContainers')).map((x) => x.config.name).sort();
    const seq = await p.value<number>('events.lastSeq');

    let follower = -1;
    await c.stop('fast');
    try {
      const unexpected: string[] = [];
      for (const [path, args] of CASES) {
        const r = await p.call(path, ...args(o));
        const error = errorOf(r);
        if (!error || !error.berth || error.code !== 'STORE_UNAVAILABLE') {
          unexpected.push(`${path}: ${JSON.stringify(r.ok ? r.value : r.error).slice(0, 300)}`);
          continue;
        }
        expectFault(error, ['STORE_UNAVAILABLE'], c, path);
      }
      expect(unexpected, 'calls that did not settle as STORE_UNAVAILABLE').toEqual([]);
      // A follower resuming now waits for the store; one that asked not to retry is told at once.
      const impatient = p.send('follow', { since: seq, retry: false });
      expectFault((await p.next(impatient)).error as WireError, ['STORE_UNAVAILABLE'], c, 'follow (retry: false)');
      follower = p.send('follow', { since: seq });
      await p.next(follower, (m) => m.retry === 'STORE_UNAVAILABLE');
      const tx = await p.next(p.send('begin'));
      expectFault(tx.error as WireError, ['STORE_UNAVAILABLE'], c, 'transaction');
      expect(await p.alive()).toBe(true);
    } finally {
      await c.start();
    }

    // The same handle, without reopening: every acknowledged write is there, and it writes again.
    expect((await p.value<Obj[]>('allContainers')).map((x) => x.config.name).sort()).toEqual(acknowledged);
    expect(await p.value<number>('events.lastSeq')).toBe(seq);
    await p.value('addContainer', { config: { name: 'after', image: 'x' } });
    // The waiting follower goes on from its seq once the store is back.
    expect((await p.next(follower, (m) => 'event' in m)).event).toBe(seq + 1);
    await p.value('workspaces.writeState', 'ws', { v: 2 }, { lockId: o.lockId });
    expect(((await p.value<{ state: { v: number } }>('workspaces.readState', 'ws')).state as { v: number }).v).toBe(2);
    await p.value('workspaces.unlock', 'ws', o.lockId);
    expect(await p.alive()).toBe(true);
  });
});
