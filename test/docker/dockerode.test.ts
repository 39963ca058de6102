import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { makeWorld, type World } from './world.js';

/*
 * A Node client of the Docker Engine API (dockerode) reads the same objects through
 * berth serve, on a loopback port and on a unix socket: lists with filters, inspects,
 * volumes, events, and the 404 and 405 it reports as errors with a status code.
 */

let dir: string;
let world: World;
let server: RunningServer;
let tcp: Docker;
let unix: Docker;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-dockerode-'));
  world = await makeWorld(dir);
  const socketPath = join(dir, 'docker.sock');
  server = await startServer(world.store, {
    listen: [
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      { kind: 'unix', path: socketPath },
    ],
  });
  const { port } = new URL(server.url);
  tcp = new Docker({ host: '127.0.0.1', port: Number(port), version: 'v1.41' });
  unix = new Docker({ socketPath });
});

afterAll(async () => {
  await server?.close();
  await world?.store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dockerode against berth serve', () => {
  it('lists the containers berth lists, with their fields', async () => {
    const berth = await world.store.listContainers({ all: true });
    for (const docker of [tcp, unix]) {
      const list = await docker.listContainers({ all: true });
      expect(list.map((c) => c.Id)).toEqual(berth.map((c) => c.id));
      for (const c of list) {
        const b = berth.find((x) => x.id === c.Id)!;
        expect(c.Names).toEqual([`/${b.name}`]);
        expect(c.Image).toBe(b.image ?? '');
        expect(c.Labels).toEqual(b.labels);
        expect(c.Created).toBe(Math.floor(Date.parse(b.createdAt!) / 1000));
        expect(c.Mounts.map((m) => [m.Name, m.Destination])).toEqual(b.mounts.map((m) => [m.name, m.dest]));
        expect(Object.keys(c.NetworkSettings.Networks)).toEqual(b.networks);
        expect(c.Ports).toEqual([]);
      }
    }
    const web = await tcp.listContainers({ all: true, filters: { label: ['tier=web'] } });
    expect(web.map((c) => c.Names[0])).toEqual(['/draft', '/web']);
    const exited = await tcp.listContainers({ filters: JSON.stringify({ status: { exited: true } }) });
    expect(exited.map((c) => c.Names[0])).toEqual(['/job']);
  });

  it('inspects a container and a volume, and reports a missing one as a 404', async () => {
    const db = world.containers.db!;
    const info = await tcp.getContainer('db').inspect();
    expect(info).toMatchObject({
      Id: db.config.id,
      Name: '/db',
      Created: db.config.createdAt,
      State: { Status: 'running', Running: true, Pid: db.state.pid, StartedAt: db.state.startedAt },
      Config: {
        Image: db.config.image,
        Labels: db.config.labels,
        Env: ['POSTGRES_PASSWORD=x'],
        Cmd: db.config.command,
      },
    });
    expect(info.Mounts).toEqual([expect.objectContaining({ Name: 'pgdata', Destination: '/var/lib/postgresql/data' })]);
    const vol = await unix.getVolume('pgdata').inspect();
    expect(vol).toMatchObject({ Name: 'pgdata', Driver: 'local', Labels: { tier: 'db' }, Scope: 'local' });
    const { Volumes } = await tcp.listVolumes();
    expect(Volumes.map((v) => v.Name).sort()).toEqual(['cache', 'pgdata']);
    await expect(tcp.getContainer('nope').inspect()).rejects.toMatchObject({
      statusCode: 404,
      json: { message: 'No such container: nope' },
    });
  });

  it('refuses a removal with 405 and leaves the container', async () => {
    await expect(tcp.getContainer('job').remove({ force: true })).rejects.toMatchObject({
      statusCode: 405,
      json: { message: expect.stringContaining('read-only') },
    });
    expect(await world.store.hasContainer(world.containers.job!.config.id)).toBe(true);
  });

  it('reads the event stream over a time range', async () => {
    const stream = await tcp.getEvents({
      since: 0,
      until: Math.ceil(Date.now() / 1000),
      filters: { type: ['volume'] },
    });
    let text = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) text += String(chunk);
    const messages = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string } });
    expect(messages.map((m) => [m.Type, m.Action, m.Actor.ID])).toEqual([
      ['volume', 'create', 'pgdata'],
      ['volume', 'create', 'cache'],
    ]);
  });
});
