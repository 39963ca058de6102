import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
import type { NetworkOptions } from '../../src/index.js';
import {
  cliWorld,
  fails,
  failsBatchJson,
  failsJson,
  hexId,
  ok,
  okJson,
  requireBuiltCli,
  usageError,
  type CliWorld,
} from './helpers.js';

requireBuiltCli();

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

interface PodRow {
  id: string;
  name: string;
  namespace: string;
  status: string;
  createdAt: string | null;
  labels: Record<string, string>;
  containers: number;
}

interface VolumeRow {
  name: string;
  driver: string;
  namespace: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

const POD = hexId('b0c1');
const EMPTY_POD = hexId('b1c2');

/** Pods "shop" (members m1, m2) and "empty". */
async function seedPods(w: CliWorld): Promise<void> {
  await w.seed(async (s) => {
    const pod = await s.addPod({ config: { id: POD, name: 'shop' }, state: {} });
    await s.addPod({ config: { id: EMPTY_POD, name: 'empty' }, state: {} });
    for (const [i, name] of ['m1', 'm2'].entries()) {
      await s.addContainerToPod(pod, {
        config: { id: hexId(`c${i}`), name, image: 'img' },
        state: { status: 'configured' },
      });
    }
  });
}

/** Volumes (name, driver) and containers using some of them. */
async function seedVolumes(w: CliWorld, volumes: [string, string?][], usedBy: Record<string, string> = {}) {
  await w.seed(async (s: Store) => {
    for (const [name, driver] of volumes) await s.addVolume({ config: { name, driver: driver ?? 'local' }, state: {} });
    for (const [ctr, vol] of Object.entries(usedBy)) {
      await s.addContainer({
        config: {
          id: hexId(ctr.replace(/[^0-9a-f]/g, '') || 'f'),
          name: ctr,
          namedVolumes: [{ name: vol, dest: '/d' }],
        },
        state: { status: 'configured' },
      });
    }
  });
}

const volumeNames = (w: CliWorld): Promise<string[]> =>
  w.seed(async (s) => (await s.allVolumes()).map((v) => v.config.name).sort());

describe.concurrent('berth pod', () => {
  it('create prints the new pod id and records its name and labels', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['pod', 'create', '--name', 'shop', '--label', 'app=shop'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const created = okJson<{ id: string; name: string }>(await w.run(['pod', 'create', '--format', 'json']));
    expect(created.id).toMatch(/^[0-9a-f]{64}$/);
    expect(created.name).not.toBe('');
    await w.seed(async (s) => {
      expect((await s.lookupPod('shop')).config).toMatchObject({ id, name: 'shop', labels: { app: 'shop' } });
      expect((await s.allPods()).map((p) => p.config.id).sort()).toEqual([id, created.id].sort());
    });
  });

  it('create refuses a taken name (POD_EXISTS) and a malformed label', async (t) => {
    const w = cliWorld(t);
    await seedPods(w);
    expect(fails(await w.run(['pod', 'create', '--name', 'shop']))).toMatch(/shop/);
    failsJson(await w.run(['pod', 'create', '--name', 'shop', '--format', 'json']), 'POD_EXISTS');
    failsJson(await w.run(['pod', 'create', '--label', 'x', '--format', 'json']), 'INVALID_ARGUMENT', 2);
    expect(await w.seed(async (s) => (await s.allPods()).length)).toBe(2);
  });

  it('ls prints an aligned table, -q the short ids, --format json an array with member counts', async (t) => {
    const w = cliWorld(t);
    await seedPods(w);
    const [header, ...rows] = lines(ok(await w.run(['pod', 'ls'])));
    expect(header).toMatch(/^POD ID {2,}NAME {2,}STATUS {2,}CREATED {2,}# OF CONTAINERS$/);
    const shop = rows.find((r) => r.startsWith(POD.slice(0, 12)))!;
    expect(shop).toMatch(new RegExp(`^${POD.slice(0, 12)} {2,}shop {2,}Created {2,}.* ago {2,}2$`));
    expect(shop.indexOf('shop')).toBe(header!.indexOf('NAME'));
    expect(rows.find((r) => r.startsWith(EMPTY_POD.slice(0, 12)))).toMatch(/ 0$/);
    expect(lines(ok(await w.run(['pod', 'list', '-q']))).sort()).toEqual([POD, EMPTY_POD].map((i) => i.slice(0, 12)));
    const pods = okJson<PodRow[]>(await w.run(['pod', 'ls', '--format', 'json']));
    expect(pods.find((p) => p.id === POD)).toMatchObject({
      id: POD,
      name: 'shop',
      namespace: '',
      status: 'Created',
      createdAt: expect.any(String),
      labels: {},
      containers: 2,
    });
  });

  it('inspect lists the pods with their container ids; an unknown pod is NO_SUCH_POD', async (t) => {
    const w = cliWorld(t);
    await seedPods(w);
    const pods = okJson<{ config: { id: string }; containers: string[] }[]>(
      await w.run(['pod', 'inspect', POD.slice(0, 8), 'empty']),
    );
    expect(pods.map((p) => p.config.id)).toEqual([POD, EMPTY_POD]);
    expect([...pods[0]!.containers].sort()).toEqual([hexId('c0'), hexId('c1')]);
    expect(pods[1]!.containers).toEqual([]);
    expect(fails(await w.run(['pod', 'inspect', 'nope']))).toMatch(/nope/);
    failsJson(await w.run(['pod', 'inspect', 'nope', '--format', 'json']), 'NO_SUCH_POD');
  });

  it('rm removes an empty pod and refuses one with containers (POD_NOT_EMPTY)', async (t) => {
    const w = cliWorld(t);
    await seedPods(w);
    expect(ok(await w.run(['pod', 'rm', 'empty']))).toBe(`${EMPTY_POD}\n`);
    expect(fails(await w.run(['pod', 'rm', 'shop']))).toMatch(/shop/);
    failsBatchJson(await w.run(['pod', 'rm', 'shop', '--format', 'json']), 'shop', 'POD_NOT_EMPTY');
    failsBatchJson(await w.run(['pod', 'rm', 'empty', '--format', 'json']), 'empty', 'NO_SUCH_POD');
    await w.seed(async (s) => {
      expect((await s.allPods()).map((p) => p.config.name)).toEqual(['shop']);
      expect(await s.allContainers()).toHaveLength(2);
    });
  });

  it('rm -f removes the pod together with its containers', async (t) => {
    const w = cliWorld(t);
    await seedPods(w);
    expect(okJson(await w.run(['pod', 'remove', '-f', 'shop', '--format', 'json']))).toEqual({
      removed: [POD],
      failed: [],
    });
    await w.seed(async (s) => {
      expect((await s.allPods()).map((p) => p.config.name)).toEqual(['empty']);
      expect(await s.allContainers()).toEqual([]);
    });
  });
});

describe.concurrent('berth volume', () => {
  it('create records a volume with driver, labels and options and prints its name', async (t) => {
    const w = cliWorld(t);
    expect(ok(await w.run(['volume', 'create', 'data', '--label', 'tier=db']))).toBe('data\n');
    const nfs = okJson<VolumeRow>(
      await w.run(['volume', 'create', 'share', '--driver', 'nfs', '-o', 'addr=10.0.0.1', '--format', 'json']),
    );
    expect(nfs).toMatchObject({ name: 'share', driver: 'nfs', namespace: '', options: { addr: '10.0.0.1' } });
    await w.seed(async (s) => {
      expect((await s.volume('data')).config).toMatchObject({ driver: 'local', labels: { tier: 'db' } });
    });
  });

  it('create refuses a taken name (VOLUME_EXISTS) and a malformed label; no name is a usage error', async (t) => {
    const w = cliWorld(t);
    await seedVolumes(w, [['data']]);
    failsJson(await w.run(['volume', 'create', 'data', '--format', 'json']), 'VOLUME_EXISTS');
    failsJson(await w.run(['volume', 'create', 'x', '--label', 'bad', '--format', 'json']), 'INVALID_ARGUMENT', 2);
    usageError(await w.run(['volume', 'create']));
    expect(await volumeNames(w)).toEqual(['data']);
  });

  it('ls prints DRIVER and VOLUME NAME columns, -q the names, --format json an array', async (t) => {
    const w = cliWorld(t);
    await seedVolumes(w, [['data'], ['share', 'nfs']]);
    expect(lines(ok(await w.run(['volume', 'ls'])))).toEqual(['DRIVER  VOLUME NAME', 'local   data', 'nfs     share']);
    expect(lines(ok(await w.run(['volume', 'list', '-q'])))).toEqual(['data', 'share']);
    const vols = okJson<VolumeRow[]>(await w.run(['volume', 'ls', '--format', 'json']));
    expect(vols.map((v) => [v.name, v.driver, v.namespace])).toEqual([
      ['data', 'local', ''],
      ['share', 'nfs', ''],
    ]);
  });

  it('inspect prints the volumes as JSON by name or unique prefix; an unknown one is NO_SUCH_VOLUME', async (t) => {
    const w = cliWorld(t);
    await seedVolumes(w, [['data'], ['share']]);
    const vols = okJson<{ config: { name: string } }[]>(await w.run(['volume', 'inspect', 'data', 'sh']));
    expect(vols.map((v) => v.config.name)).toEqual(['data', 'share']);
    failsJson(await w.run(['volume', 'inspect', 'nope', '--format', 'json']), 'NO_SUCH_VOLUME');
  });

  it('rm removes an unused volume; one a container uses is VOLUME_IN_USE, an unknown one NO_SUCH_VOLUME', async (t) => {
    const w = cliWorld(t);
    await seedVolumes(w, [['data'], ['tmp']], { db: 'data' });
    expect(ok(await w.run(['volume', 'rm', 'tmp']))).toBe('tmp\n');
    const err = failsBatchJson(await w.run(['volume', 'rm', 'data', '--format', 'json']), 'data', 'VOLUME_IN_USE');
    expect(err.failed[0]!.error.message).toMatch(/data/);
    failsBatchJson(await w.run(['volume', 'remove', 'tmp', '--format', 'json']), 'tmp', 'NO_SUCH_VOLUME');
    expect(await volumeNames(w)).toEqual(['data']);
  });

  it('prune without --force and without a terminal refuses, telling to pass --force, and removes nothing', async (t) => {
    const w = cliWorld(t);
    await seedVolumes(w, [['unused']]);
    expect(fails(await w.run(['volume', 'prune']))).toMatch(/--force/);
    failsJson(await w.run(['volume', 'prune', '--format', 'json']), 'INVALID_ARGUMENT');
    expect(await volumeNames(w)).toEqual(['unused']);
  });

  it('prune --force removes every volume no container uses and keeps the used ones', async (t) => {
    const w = cliWorld(t);
    await seedVolumes(w, [['a'], ['b'], ['used']], { app: 'used' });
    expect(okJson(await w.run(['volume', 'prune', '--force', '--format', 'json']))).toEqual({ removed: ['a', 'b'] });
    expect(await volumeNames(w)).toEqual(['used']);
    // Nothing left to prune: no confirmation is needed.
    expect(ok(await w.run(['volume', 'prune']))).toBe('');
  });
});

describe.concurrent('berth network', () => {
  const APP = hexId('a99');
  const seedApp = (w: CliWorld, networks?: Record<string, NetworkOptions>): Promise<void> =>
    w.seed(async (s) => {
      await s.addContainer({
        config: { id: APP, name: 'app', image: 'img', ...(networks ? { networks } : {}) },
        state: { status: 'configured' },
      });
    });
  const networksOf = (w: CliWorld): Promise<Record<string, unknown>> =>
    w.seed(async (s) => s.getNetworks(await s.lookupContainer('app')));

  it('connect attaches a container to a network with its options', async (t) => {
    const w = cliWorld(t);
    await seedApp(w);
    expect(ok(await w.run(['network', 'connect', '--alias', 'api', '--alias', 'app', 'front', 'app']))).toBe('');
    expect(okJson(await w.run(['network', 'connect', 'back', APP.slice(0, 10), '--format', 'json']))).toEqual({
      container: APP,
      network: 'back',
      options: {},
    });
    const nets = await networksOf(w);
    expect(Object.keys(nets).sort()).toEqual(['back', 'front']);
    expect(nets.front).toMatchObject({ aliases: ['api', 'app'] });
  });

  it('disconnect detaches a container from a network', async (t) => {
    const w = cliWorld(t);
    await seedApp(w, { front: {}, back: {} });
    expect(ok(await w.run(['network', 'disconnect', 'front', 'app']))).toBe('');
    expect(Object.keys(await networksOf(w))).toEqual(['back']);
  });

  it('connect twice is NETWORK_CONNECTED; disconnecting what is not connected is NO_SUCH_NETWORK', async (t) => {
    const w = cliWorld(t);
    await seedApp(w, { front: {} });
    expect(fails(await w.run(['network', 'connect', 'front', 'app']))).toMatch(/front/);
    failsJson(await w.run(['network', 'connect', 'front', 'app', '--format', 'json']), 'NETWORK_CONNECTED');
    failsJson(await w.run(['network', 'disconnect', 'back', 'app', '--format', 'json']), 'NO_SUCH_NETWORK');
    failsJson(await w.run(['network', 'connect', 'front', 'nope', '--format', 'json']), 'NO_SUCH_CONTAINER');
    usageError(await w.run(['network', 'connect', 'front']));
    expect(Object.keys(await networksOf(w))).toEqual(['front']);
  });
});
