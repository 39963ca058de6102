import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../../src/index.js';
import { requireBuiltCli, type RunResult } from '../cli/helpers.js';
import { fileDir, startBerthServe, type Serve } from '../terraform/terraform.js';
import { runClient } from './clients.js';
import { EXEC_ID, makeWorld, PODMAN_MISSING, type World } from './world.js';

/*
 * podman 4.3 as a remote client (`podman --url tcp://…`, CONTAINER_HOST=unix://…) reads
 * a berth store through berth serve's libpod API: ps -a --pod, pod ps, volume ls,
 * inspect of each object kind (and of an unknown name), events, with every field checked
 * against berth's own view; writes refused with nothing changed.
 */

if (PODMAN_MISSING) console.warn(`podman suite skipped: ${PODMAN_MISSING}`);

requireBuiltCli();

interface PsRow {
  id: string;
  name: string;
  pod: string | null;
  image: string | null;
  status: string;
  createdAt: string;
  labels: Record<string, string>;
}

/** podman's state word of each berth status the world uses. */
const PODMAN_STATE: Record<string, string> = {
  configured: 'created',
  running: 'running',
  paused: 'paused',
  exited: 'exited',
};

/** A time podman printed, as the same instant as `iso` (its client re-encodes times without trailing zeros). */
function sameInstant(iso: string | undefined): unknown {
  return expect.toSatisfy((t: unknown) => typeof t === 'string' && Date.parse(t) === Date.parse(iso!));
}

function expectOk(r: RunResult, what: string): RunResult {
  expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

describe.skipIf(PODMAN_MISSING !== undefined)('podman --url against berth serve', () => {
  let world: World;
  let serve: Serve;
  let socket: string;
  let berthPs: PsRow[];
  let url: string;
  const podman = (args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> =>
    runClient('podman', ['--url', url, ...args], env);
  const json = async <T = any>(args: readonly string[]): Promise<T> =>
    JSON.parse(expectOk(await podman(args), `podman ${args.join(' ')}`).stdout) as T;

  beforeAll(async () => {
    const dir = fileDir('berth-podman-');
    world = await makeWorld(join(dir, 'store'));
    socket = join(dir, 'podman.sock');
    serve = await startBerthServe(dir, ['--listen', `unix://${socket}`]);
    url = serve.url.replace(/^http:/, 'tcp:');
    const r = await serve.berth(['ps', '-a', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    berthPs = JSON.parse(r.stdout) as PsRow[];
    return () => world.store.close();
  }, 60_000);

  it('podman ps -a --pod: every container with its pod, field by field against berth ps', async () => {
    const table = expectOk(await podman(['ps', '-a', '--pod']), 'podman ps -a --pod');
    expect(table.stdout.split('\n')[0]).toMatch(/CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS.*POD ID\s+PODNAME/);
    expect(table.stdout).toMatch(/shop-api\s+[0-9a-f]{12}\s+shop/);
    const rows = await json<any[]>(['ps', '-a', '--pod', '--format', 'json']);
    expect(rows.map((r) => r.Id)).toEqual(berthPs.map((c) => c.id));
    for (const row of rows) {
      const c = berthPs.find((b) => b.id === row.Id)!;
      const full = world.containers[c.name]!;
      expect(row.Names).toEqual([c.name]);
      expect(row.Image).toBe(c.image ?? '');
      expect(row.Labels ?? {}).toEqual(c.labels);
      expect(row.State).toBe(PODMAN_STATE[c.status]);
      expect(row.Pod).toBe(c.pod ?? '');
      expect(row.PodName).toBe(c.pod ? 'shop' : '');
      expect(row.Command ?? []).toEqual(full.config.command ?? []);
      expect(row.Created).toBe(Math.floor(Date.parse(c.createdAt) / 1000));
      expect(row.Mounts ?? []).toEqual((full.config.namedVolumes ?? []).map((v) => v.dest));
      expect([...(row.Networks ?? [])].sort()).toEqual(Object.keys(full.config.networks ?? {}).sort());
      expect(row.ExitCode).toBe(full.state.exitCode ?? 0);
      expect(row.Exited).toBe(c.status === 'exited');
    }
    const running = await json<any[]>(['ps', '--format', 'json']);
    expect(running.map((r) => r.Names[0])).toEqual(berthPs.filter((c) => c.status === 'running').map((c) => c.name));
    const web = await json<any[]>(['ps', '-a', '--filter', 'label=tier=web', '--format', 'json']);
    expect(web.map((r) => r.Names[0])).toEqual(['draft', 'web']);
    const exited = await json<any[]>(['ps', '-a', '--filter', 'status=exited', '--format', 'json']);
    expect(exited.map((r) => r.Names[0])).toEqual(['job']);
    const last = await json<any[]>(['ps', '-a', '--last', '2', '--format', 'json']);
    expect(last.map((r) => r.Names[0])).toEqual(['shop-worker', 'shop-api']);
    const sized = expectOk(await podman(['ps', '-a', '--size', '--format', '{{.Names}} {{.Size}}']), 'ps --size');
    expect(sized.stdout.trim().split('\n')[0]).toMatch(/^shop-worker 0B \(virtual 0B\)$/);
    const exitedThree = await json<any[]>(['ps', '-a', '--filter', 'exited=3', '--format', 'json']);
    expect(exitedThree.map((r) => r.Names[0])).toEqual(['job']);
    const members = await json<any[]>(['ps', '-a', '--filter', 'pod=shop', '--format', 'json']);
    expect(members.map((r) => r.Names[0])).toEqual(['shop-worker', 'shop-api']);
  });

  it('podman pod ps: the pod, its status and its containers', async () => {
    const table = expectOk(await podman(['pod', 'ps']), 'pod ps');
    expect(table.stdout).toMatch(/shop\s+Degraded/);
    const [pod, ...others] = await json<any[]>(['pod', 'ps', '--format', 'json']);
    expect(others).toEqual([]);
    const shop = world.pods.shop!;
    expect(pod).toMatchObject({
      Id: shop.config.id,
      Name: 'shop',
      Status: 'Degraded',
      Labels: { app: 'shop' },
      Created: sameInstant(shop.config.createdAt),
    });
    expect(pod.Containers).toEqual([
      { Id: world.containers['shop-api']!.config.id, Names: 'shop-api', Status: 'running' },
      { Id: world.containers['shop-worker']!.config.id, Names: 'shop-worker', Status: 'paused' },
    ]);
    const none = await json<any[]>(['pod', 'ps', '--filter', 'status=running', '--format', 'json']);
    expect(none).toEqual([]);
  });

  it('podman volume ls: the volumes with their users', async () => {
    const rows = await json<any[]>(['volume', 'ls', '--format', 'json']);
    const volumes = await world.store.allVolumes();
    expect(rows.map((v) => v.Name).sort()).toEqual(volumes.map((v) => v.config.name).sort());
    const pgdata = rows.find((v) => v.Name === 'pgdata');
    expect(pgdata).toMatchObject({
      Driver: 'local',
      Labels: { tier: 'db' },
      Scope: 'local',
      MountCount: 1,
      Mountpoint: '/var/lib/berth/volumes/pgdata/_data',
      CreatedAt: sameInstant(world.volumes.pgdata!.config.createdAt),
    });
    const filtered = await json<any[]>(['volume', 'ls', '--filter', 'label=tier=db', '--format', 'json']);
    expect(filtered.map((v) => v.Name)).toEqual(['pgdata']);
  });

  it("podman inspect NAME finds a container, a pod or a volume; an unknown name is podman's error", async () => {
    const [web] = await json<any[]>(['inspect', 'web']);
    // berth's own view of the same container, from the CLI.
    const shown = await serve.berth(['container', 'inspect', 'web', '--format', 'json']);
    expect(shown.code, shown.stderr).toBe(0);
    const w = (JSON.parse(shown.stdout) as Container[])[0]!;
    expect(w).toEqual(world.containers.web);
    expect(web).toMatchObject({
      Id: w.config.id,
      Name: 'web',
      Created: sameInstant(w.config.createdAt),
      ImageName: w.config.image,
      Dependencies: [world.containers.db!.config.id],
      Namespace: '',
      State: { Status: 'running', Running: true, Pid: w.state.pid, StartedAt: sameInstant(w.state.startedAt) },
      Config: { Labels: w.config.labels, Cmd: w.config.command, Image: w.config.image },
    });
    expect(web.Mounts).toEqual([expect.objectContaining({ Name: 'cache', Destination: '/var/cache/nginx' })]);
    expect(Object.keys(web.NetworkSettings.Networks).sort()).toEqual(['backend', 'frontend']);
    expect(web.ExecIDs).toEqual([EXEC_ID]);
    const [draft] = await json<any[]>(['container', 'inspect', 'draft']);
    expect(draft.State.Status).toBe('created');
    const [worker] = await json<any[]>(['inspect', 'shop-worker']);
    expect(worker).toMatchObject({ Pod: world.pods.shop!.config.id, State: { Status: 'paused', Paused: true } });

    // Not a container: podman goes on to the other kinds, reading the 404 from `response`.
    const [pod] = await json<any[]>(['inspect', 'shop']);
    expect(pod).toMatchObject({
      Id: world.pods.shop!.config.id,
      Name: 'shop',
      State: 'Degraded',
      Labels: { app: 'shop' },
      NumContainers: 2,
    });
    expect(pod.Containers.map((c: { Name: string; State: string }) => [c.Name, c.State])).toEqual([
      ['shop-api', 'running'],
      ['shop-worker', 'paused'],
    ]);
    const [vol] = await json<any[]>(['inspect', 'pgdata']);
    expect(vol).toMatchObject({ Name: 'pgdata', Driver: 'local', Labels: { tier: 'db' } });
    // podman 4.3's pod inspect prints one object, not a list.
    const podAgain = await json<any>(['pod', 'inspect', 'shop']);
    expect(podAgain.Id).toBe(world.pods.shop!.config.id);

    const missing = await podman(['inspect', 'nope']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('no such object: "nope"');
    const missingCtr = await podman(['container', 'inspect', 'nope']);
    expect(missingCtr.code).toBe(125);
    expect(missingCtr.stderr).toMatch(/no such container/);
  });

  it('podman events --since … --until … shows the journal in podman words', async () => {
    const r = expectOk(await podman(['events', '--since', '1h', '--until', '0s', '--format', 'json']), 'events');
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { Type: string; Status: string; Name: string; ID: string });
    expect(lines.filter((e) => e.Status === 'exec')).toEqual([
      expect.objectContaining({ Type: 'container', ID: world.containers.web!.config.id }),
    ]);
    expect(lines.filter((e) => e.Status === 'create').map((e) => `${e.Type} ${e.Name}`)).toEqual([
      'volume pgdata',
      'volume cache',
      'pod shop',
      'container db',
      'container web',
      'container job',
      'container draft',
      'container shop-api',
      'container shop-worker',
    ]);
  });

  it('writes are refused with a clear message and change nothing', async () => {
    const before = await world.store.snapshot();
    for (const args of [
      ['pod', 'rm', 'shop'],
      ['rm', 'job'],
      ['volume', 'rm', 'cache'],
      ['pod', 'stop', 'shop'],
    ]) {
      const r = await podman(args);
      expect(r.code, `podman ${args.join(' ')}`).not.toBe(0);
      expect(r.stderr).toMatch(/berth serves its store read-only through the libpod API: \w+ \/libpod\/\S+ is refused/);
    }
    const after = await world.store.snapshot();
    expect(after.seq).toBe(before.seq);
    expect(after.pods).toEqual(before.pods);
    expect(after.containers).toEqual(before.containers);
  });

  it('CONTAINER_HOST=unix://… reads the same store through the unix socket', async () => {
    const r = expectOk(
      await runClient('podman', ['--remote', 'ps', '-a', '--format', '{{.ID}} {{.Names}}'], {
        CONTAINER_HOST: `unix://${socket}`,
      }),
      'podman --remote ps -a',
    );
    expect(r.stdout.trim().split('\n')).toEqual(berthPs.map((c) => `${c.id.slice(0, 12)} ${c.name}`));
    const version = expectOk(
      await runClient('podman', ['--remote', 'version', '--format', '{{.Server.APIVersion}}'], {
        CONTAINER_HOST: `unix://${socket}`,
      }),
      'podman --remote version',
    );
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+/);
  });
});
