import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { http } from '../events/helpers.js';
import { makeWorld, type World } from './world.js';

/*
 * The wire of berth serve's Docker Engine and libpod routes, without the clients: version
 * prefixes and headers, both encodings of `filters`, each API's error shapes (404 for a
 * missing object or route, 405 for every write, 400 for a malformed parameter), event
 * time ranges, and the namespace of the served handle.
 */

let dir: string;
let world: World;
let server: RunningServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-docker-wire-'));
  world = await makeWorld(dir);
  await world.store.withNamespace('team').addContainer({ config: { name: 'team-app', image: 'nginx' } });
  server = await startServer(world.store, { host: '127.0.0.1', port: 0, pollMs: 20 });
});

afterAll(async () => {
  await server?.close();
  await world?.store.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, opts: { method?: string } = {}) => http(server.url, path, opts);
const names = (list: unknown): string[] => (list as { Names: string[] }[]).map((c) => c.Names[0]!);
const filters = (doc: unknown): string => `filters=${encodeURIComponent(JSON.stringify(doc))}`;

describe('pings, versions and prefixes', () => {
  it('answers HEAD and GET /_ping with Api-Version 1.41, with or without a version prefix', async () => {
    for (const path of ['/_ping', '/v1.41/_ping', '/v1.24/_ping', '/v1.50/_ping']) {
      for (const method of ['GET', 'HEAD']) {
        const r = await get(path, { method });
        expect(r.status, `${method} ${path}`).toBe(200);
        expect(r.headers['api-version']).toBe('1.41');
        expect(r.headers.ostype).toBe('linux');
        expect(r.text).toBe(method === 'GET' ? 'OK' : '');
      }
    }
  });

  it('answers /libpod/_ping with Libpod-API-Version 4.3.1, with or without a /vX.Y.Z prefix', async () => {
    for (const path of ['/libpod/_ping', '/v4.3.1/libpod/_ping', '/v5.0.0/libpod/_ping']) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(r.headers['libpod-api-version']).toBe('4.3.1');
      expect(r.text).toBe('OK');
    }
  });

  it('serves /version, /info, /libpod/version and /libpod/info from the store', async () => {
    const version = (await get('/v1.41/version')).json as Record<string, unknown>;
    expect(version).toMatchObject({ ApiVersion: '1.41', MinAPIVersion: '1.24', Os: expect.any(String) });
    const info = (await get('/info')).json as Record<string, unknown>;
    expect(info).toMatchObject({ Containers: 7, ContainersRunning: 3, ContainersPaused: 1, ContainersStopped: 3 });
    expect(info.Swarm).toMatchObject({ LocalNodeState: 'inactive', ControlAvailable: false });
    const lpVersion = (await get('/v4.3.1/libpod/version')).json as { Components: { Details: unknown }[] };
    expect(lpVersion.Components[0]!.Details).toMatchObject({ APIVersion: '4.3.1' });
    const lpInfo = (await get('/libpod/info')).json as { store: { containerStore: unknown }; version: unknown };
    expect(lpInfo.store.containerStore).toEqual({ number: 7, paused: 1, running: 3, stopped: 3 });
    expect(lpInfo.version).toMatchObject({ APIVersion: '4.3.1' });
  });

  it("leaves berth's own /v1 routes alone", async () => {
    const r = await get('/v1/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true });
  });
});

describe('listings', () => {
  it("accepts filters as Docker's {key: {value: true}} and podman's {key: [value]}", async () => {
    for (const base of ['/v1.41/containers/json?all=1', '/v4.3.1/libpod/containers/json?all=true&namespace=false']) {
      const docker = (await get(`${base}&${filters({ label: { 'tier=web': true } })}`)).json;
      const podman = (await get(`${base}&${filters({ label: ['tier=web'] })}`)).json;
      expect(names(docker).map((n) => n.replace(/^\//, ''))).toEqual(['draft', 'web']);
      expect(podman).toEqual(docker);
    }
  });

  it("names containers with docker's leading slash and maps statuses to each API's states", async () => {
    const docker = (await get('/containers/json?all=1')).json as { Names: string[]; State: string }[];
    const podman = (await get('/libpod/containers/json?all=true')).json as { Names: string[]; State: string }[];
    expect(docker.map((c) => [c.Names[0], c.State])).toEqual([
      ['/team-app', 'created'],
      ['/shop-worker', 'paused'],
      ['/shop-api', 'running'],
      ['/draft', 'created'],
      ['/job', 'exited'],
      ['/web', 'running'],
      ['/db', 'running'],
    ]);
    expect(podman.map((c) => c.Names[0])).toEqual(docker.map((c) => c.Names[0]!.slice(1)));
    const running = (await get('/containers/json')).json;
    expect(names(running)).toEqual(['/shop-worker', '/shop-api', '/web', '/db']);
    const runningPodman = (await get('/libpod/containers/json')).json;
    expect(names(runningPodman)).toEqual(['shop-api', 'web', 'db']);
    const limited = (await get('/containers/json?limit=2')).json;
    expect(names(limited)).toEqual(['/team-app', '/shop-worker']);
  });

  it('lists pods and volumes with their filters', async () => {
    const pods = (await get(`/libpod/pods/json?${filters({ label: ['app=shop'] })}`)).json as { Name: string }[];
    expect(pods.map((p) => p.Name)).toEqual(['shop']);
    const none = (await get(`/libpod/pods/json?${filters({ name: ['nope'] })}`)).json;
    expect(none).toEqual([]);
    const vols = (await get(`/volumes?${filters({ driver: { local: true } })}`)).json as {
      Volumes: { Name: string }[];
    };
    expect(vols.Volumes.map((v) => v.Name).sort()).toEqual(['cache', 'pgdata']);
    const dangling = (await get(`/libpod/volumes/json?${filters({ dangling: ['true'] })}`)).json;
    expect(dangling).toEqual([]);
  });
});

describe('errors in each API shape', () => {
  it('answers a missing object 404 so that inspect goes on to the next kind', async () => {
    const ctr = await get('/v1.41/containers/nope/json');
    expect(ctr.status).toBe(404);
    expect(ctr.json).toEqual({ message: 'No such container: nope' });
    expect(ctr.headers['content-type']).toBe('application/json');
    expect((await get('/v1.41/volumes/nope')).json).toEqual({ message: 'No such volume: nope' });
    for (const path of ['/v1.41/images/nope/json', '/v1.41/networks/nope', '/plugins/nope/json']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.json).toEqual({ message: expect.stringContaining('page not found') });
    }
    const lp = await get('/v4.3.1/libpod/containers/nope/json');
    expect(lp.status).toBe(404);
    expect(lp.json).toEqual({ cause: 'no such container', message: expect.stringContaining('nope'), response: 404 });
    expect((await get('/libpod/pods/nope/json')).json).toMatchObject({ cause: 'no such pod', response: 404 });
    expect((await get('/libpod/volumes/nope/json')).json).toMatchObject({ cause: 'no such volume', response: 404 });
    expect((await get('/libpod/images/nope/json')).json).toMatchObject({ response: 404 });
    expect((await get('/libpod/containers/web/exists')).status).toBe(204);
    expect((await get('/libpod/pods/nope/exists')).status).toBe(404);
  });

  it('refuses every write with 405 in the API shape, and changes nothing', async () => {
    const before = await world.store.snapshot();
    for (const [method, path] of [
      ['DELETE', '/v1.41/containers/job'],
      ['POST', '/containers/web/stop'],
      ['POST', '/v1.41/containers/create?name=x'],
      ['DELETE', '/volumes/cache'],
    ] as const) {
      const r = await get(path, { method });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(r.json).toEqual({ message: expect.stringContaining('berth serves its store read-only') });
    }
    for (const [method, path] of [
      ['DELETE', '/v4.3.1/libpod/pods/shop'],
      ['POST', '/libpod/containers/web/start'],
    ] as const) {
      const r = await get(path, { method });
      expect(r.status).toBe(405);
      expect(r.json).toEqual({
        cause: 'method not allowed',
        message: expect.stringContaining('read-only through the libpod API'),
        response: 405,
      });
    }
    expect((await world.store.snapshot()).seq).toBe(before.seq);
  });

  it("answers the token check's 401 in each API's shape too", async () => {
    const guarded = await startServer(world.store, { host: '127.0.0.1', port: 0, token: 'wire-token' });
    try {
      const docker = await http(guarded.url, '/v1.41/containers/json');
      expect(docker.status).toBe(401);
      expect(docker.json).toEqual({ message: expect.stringContaining('missing or wrong token') });
      expect(docker.headers['api-version']).toBe('1.41');
      const libpod = await http(guarded.url, '/v4.3.1/libpod/_ping');
      expect(libpod.json).toEqual({ cause: 'unauthorized', message: expect.any(String), response: 401 });
      const berth = await http(guarded.url, '/v1/health');
      expect(berth.json).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      const ok = await http(guarded.url, '/containers/json', { headers: { authorization: 'Bearer wire-token' } });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('answers malformed parameters 400', async () => {
    const notJson = await get('/containers/json?filters=%7Bnope');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toEqual({ message: expect.stringContaining('is not JSON') });
    const unknownKey = await get(`/libpod/containers/json?${filters({ colour: ['red'] })}`);
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.json).toMatchObject({ cause: 'invalid argument', response: 400 });
    const badStatus = await get(`/containers/json?${filters({ status: ['sleeping'] })}`);
    expect(badStatus.json).toEqual({ message: expect.stringContaining("invalid filter 'status=sleeping'") });
    expect((await get('/containers/json?all=maybe')).status).toBe(400);
    expect((await get('/containers/json?limit=two')).status).toBe(400);
    expect((await get('/events?since=yesterday')).status).toBe(400);
    expect((await get(`/events?since=0&${filters({ colour: ['red'] })}`)).status).toBe(400);
  });
});

describe('events', () => {
  it('reads the journal between two times (Unix seconds, RFC 3339 or a duration back)', async () => {
    const events = await world.store.events.list();
    const seqs = (text: string): number[] =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) =>
          Number((JSON.parse(l) as { Actor: { Attributes: Record<string, string> } }).Actor.Attributes['berth.seq']),
        );
    const until = Math.ceil(Date.now() / 1000);
    const all = await get(`/events?since=0&until=${until - 1}.999999999`);
    expect(all.status).toBe(200);
    expect(seqs(all.text)).toEqual(events.filter((e) => Date.parse(e.ts) < until * 1000).map((e) => e.seq));
    const third = events[events.length - 3]!;
    const from = new Date(third.ts).toISOString();
    const tail = await get(`/events?since=${from}&until=${until}`);
    expect(seqs(tail.text)[0]).toBe(events.find((e) => e.ts >= third.ts)!.seq);
    const recent = await get('/events?since=1h&until=0s');
    expect(seqs(recent.text).length).toBeGreaterThan(0);
    const lp = await get(`/libpod/events?since=0&stream=false&${filters({ type: ['pod'] })}`);
    expect(
      lp.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      expect.objectContaining({
        Type: 'pod',
        Action: 'create',
        status: 'create',
        Actor: expect.objectContaining({ ID: world.pods.shop!.config.id }),
      }),
    ]);
  });

  it('follows the journal without until, and ends at an until ahead', async () => {
    const until = Date.now() / 1000 + 1.5;
    const pending = get(`/events?until=${until}&${filters({ type: ['volume'] })}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await world.store.addVolume({ config: { name: 'late' } });
    const r = await pending;
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(until - 0.05);
    const lines = r.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string } });
    expect(lines.map((m) => [m.Type, m.Action, m.Actor.ID])).toEqual([['volume', 'create', 'late']]);
    await world.store.removeVolume(await world.store.volume('late'));
  });
});

describe('the namespace of the served handle', () => {
  it('shows only the objects of the namespace berth serve was started with', async () => {
    const scoped = await startServer(world.store.withNamespace('team'), { host: '127.0.0.1', port: 0 });
    try {
      const list = (await http(scoped.url, '/containers/json?all=1')).json;
      expect(names(list)).toEqual(['/team-app']);
      expect((await http(scoped.url, '/containers/web/json')).status).toBe(404);
      expect((await http(scoped.url, '/libpod/pods/json')).json).toEqual([]);
      expect((await http(scoped.url, '/libpod/containers/team-app/json')).json).toMatchObject({ Namespace: 'team' });
    } finally {
      await scoped.close();
    }
  });
});
