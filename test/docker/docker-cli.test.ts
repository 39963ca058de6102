import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BerthEvent, Container } from '../../src/index.js';
import { requireBuiltCli, type RunResult } from '../cli/helpers.js';
import { fileDir, startBerthServe, type Serve } from '../terraform/terraform.js';
import { jsonLines, runClient } from './clients.js';
import { DOCKER_MISSING, EXEC_ID, makeWorld, type World } from './world.js';

/*
 * The real docker CLI reads a berth store through berth serve (API.md "HTTP", DESIGN.md
 * §10): ps with its filters and formats, inspect (and docker's own "No such object"),
 * volume ls/inspect, events over a time range, on a loopback port and a unix socket;
 * every field checked against berth's own view of the same store, and writes refused
 * with nothing changed.
 */

if (DOCKER_MISSING) console.warn(`docker CLI suite skipped: ${DOCKER_MISSING}`);

requireBuiltCli();

interface PsRow {
  id: string;
  name: string;
  namespace: string;
  pod: string | null;
  image: string | null;
  status: string;
  createdAt: string;
  labels: Record<string, string>;
}

/** docker's `{{json .}}` of a `docker ps` row. */
interface DockerPsRow {
  ID: string;
  Names: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  Labels: string;
  LocalVolumes: string;
  Mounts: string;
  Networks: string;
  Ports: string;
  State: string;
  Status: string;
}

/** Docker's state word of each berth status the world uses. */
const DOCKER_STATE: Record<string, string> = {
  configured: 'created',
  running: 'running',
  paused: 'paused',
  exited: 'exited',
};

function expectOk(r: RunResult, what: string): RunResult {
  expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** `k=v,k2=v2` (docker's Labels column) as a map. */
function labelMap(text: string): Record<string, string> {
  if (text === '') return {};
  return Object.fromEntries(text.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

describe.skipIf(DOCKER_MISSING !== undefined)('the docker CLI against berth serve', () => {
  let dir: string;
  let world: World;
  let serve: Serve;
  let socket: string;
  let tcp: Record<string, string>;
  let berthPs: PsRow[];
  const docker = (args: readonly string[], env: Record<string, string> = tcp): Promise<RunResult> =>
    runClient('docker', args, env);

  beforeAll(async () => {
    dir = fileDir('berth-docker-');
    world = await makeWorld(join(dir, 'store'));
    socket = join(dir, 'docker.sock');
    serve = await startBerthServe(dir, ['--listen', `unix://${socket}`]);
    const config = join(dir, 'docker-config');
    mkdirSync(config);
    tcp = { DOCKER_HOST: serve.url.replace(/^http:/, 'tcp:'), DOCKER_CONFIG: config, DOCKER_CONTEXT: '' };
    const r = await serve.berth(['ps', '-a', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    berthPs = JSON.parse(r.stdout) as PsRow[];
    return () => world.store.close();
  }, 60_000);

  it('docker ps -a lists every container, newest first, as berth ps -a does', async () => {
    const r = expectOk(await docker(['ps', '-a']), 'docker ps -a');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const names = lines.slice(1).map((l) => l.trim().split(/\s+/).at(-1));
    expect(names).toEqual(berthPs.map((c) => c.name));
    expect(r.stdout).toMatch(/job\s*$/m);
    expect(r.stdout).toContain('Exited (3) 18 minutes ago');
    expect(r.stdout).toContain('Up 5 minutes (Paused)');
    // Without -a: the running ones, paused ones included, as Docker shows them.
    const running = expectOk(await docker(['ps', '--format', '{{.Names}}']), 'docker ps');
    expect(running.stdout.trim().split('\n')).toEqual(
      berthPs.filter((c) => c.status === 'running' || c.status === 'paused').map((c) => c.name),
    );
  });

  it('docker ps -a --no-trunc --format {{json .}}: every field from berth state, field by field', async () => {
    const r = expectOk(await docker(['ps', '-a', '--no-trunc', '--format', '{{json .}}']), 'docker ps --format json');
    const rows = jsonLines<DockerPsRow>(r.stdout);
    expect(rows.map((row) => row.ID)).toEqual(berthPs.map((c) => c.id));
    for (const row of rows) {
      const c = berthPs.find((b) => b.id === row.ID)!;
      const full: Container = world.containers[c.name]!;
      expect(row.Names).toBe(c.name);
      expect(row.Image).toBe(c.image ?? '');
      expect(row.Command).toBe(JSON.stringify((full.config.command ?? []).join(' ')));
      expect(labelMap(row.Labels)).toEqual(c.labels);
      expect(row.State).toBe(DOCKER_STATE[c.status]);
      // docker prints the creation time to the second, in UTC.
      expect(row.CreatedAt).toBe(`${c.createdAt.slice(0, 10)} ${c.createdAt.slice(11, 19)} +0000 UTC`);
      expect(row.Mounts.split(',').filter((m) => m !== '')).toEqual(
        (full.config.namedVolumes ?? []).map((v) => v.name),
      );
      expect(row.LocalVolumes).toBe(String((full.config.namedVolumes ?? []).length));
      expect(
        row.Networks.split(',')
          .filter((n) => n !== '')
          .sort(),
      ).toEqual(Object.keys(full.config.networks ?? {}).sort());
      expect(row.Ports).toBe('');
    }
    const byName = Object.fromEntries(rows.map((row) => [row.Names, row]));
    expect(byName.db!.Status).toBe('Up 45 minutes');
    expect(byName.job!.Status).toBe('Exited (3) 18 minutes ago');
    expect(byName.draft!.Status).toBe('Created');
    expect(byName['shop-worker']!.Status).toBe('Up 5 minutes (Paused)');
  });

  it('docker ps --filter label=…, status=exited, name, ancestor and volume select as berth ps --filter does', async () => {
    const names = async (args: readonly string[]): Promise<string[]> =>
      expectOk(await docker(['ps', ...args, '--format', '{{.Names}}']), `docker ps ${args.join(' ')}`)
        .stdout.split('\n')
        .filter((n) => n !== '');
    const berth = async (args: readonly string[]): Promise<string[]> => {
      const r = await serve.berth(['ps', ...args, '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as PsRow[]).map((c) => c.name);
    };
    expect(await names(['--filter', 'label=tier=web'])).toEqual(['web']);
    expect(await names(['-a', '--filter', 'label=tier=web'])).toEqual(
      await berth(['-a', '--filter', 'label=tier=web']),
    );
    expect(await names(['-a', '--filter', 'label=tier=web'])).toEqual(['draft', 'web']);
    expect(await names(['-a', '--filter', 'label=tier'])).toEqual(['draft', 'web', 'db']);
    expect(await names(['--filter', 'status=exited'])).toEqual(['job']);
    expect(await names(['--filter', 'status=created'])).toEqual(['draft']);
    expect(await names(['--filter', 'status=paused'])).toEqual(['shop-worker']);
    expect(await names(['--filter', 'status=restarting'])).toEqual([]);
    expect(await names(['-a', '--filter', 'ancestor=nginx'])).toEqual(['web']);
    expect(await names(['-a', '--filter', 'volume=pgdata'])).toEqual(['db']);
    expect(await names(['-a', '--filter', 'name=shop'])).toEqual(['shop-worker', 'shop-api']);
    expect(await names(['-a', '--filter', `pod=shop`])).toEqual(await berth(['-a', '--filter', 'pod=shop']));
    expect(await names(['-a', '--filter', 'since=job'])).toEqual(['shop-worker', 'shop-api', 'draft']);
    expect(await names(['-a', '--filter', 'before=web'])).toEqual(['db']);
    expect(await names(['-a', '--filter', `id=${world.containers.db!.config.id.slice(0, 10)}`])).toEqual(['db']);
    expect(await names(['-n', '2'])).toEqual(['shop-worker', 'shop-api']);
    expect(await names(['--filter', 'label=app=shop'])).toEqual(['web', 'db']);
    const sized = expectOk(await docker(['ps', '-a', '-s', '--format', '{{.Names}} {{.Size}}']), 'docker ps -s');
    expect(sized.stdout.split('\n')[0]).toBe('shop-worker 0B');
    const bad = await docker(['ps', '--filter', 'status=sleeping']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Error response from daemon: invalid filter 'status=sleeping'/);
  });

  it("docker inspect NAME shows berth's container; an unknown name is docker's own No such object", async () => {
    const r = expectOk(await docker(['inspect', 'web']), 'docker inspect web');
    const [doc] = JSON.parse(r.stdout) as Record<string, any>[];
    // berth's own view of the same container, from the CLI.
    const shown = await serve.berth(['container', 'inspect', 'web', '--format', 'json']);
    expect(shown.code, shown.stderr).toBe(0);
    const web = (JSON.parse(shown.stdout) as Container[])[0]!;
    expect(web).toEqual(world.containers.web);
    expect(doc!.Id).toBe(web.config.id);
    expect(doc!.Name).toBe('/web');
    expect(doc!.Created).toBe(web.config.createdAt);
    expect([doc!.Path, ...doc!.Args]).toEqual(web.config.command);
    expect(doc!.Config.Image).toBe(web.config.image);
    expect(doc!.Config.Labels).toEqual(web.config.labels);
    expect(doc!.Config.Cmd).toEqual(web.config.command);
    expect(doc!.State).toMatchObject({
      Status: 'running',
      Running: true,
      Paused: false,
      Pid: web.state.pid,
      StartedAt: web.state.startedAt,
      FinishedAt: '0001-01-01T00:00:00Z',
    });
    expect(doc!.Mounts).toEqual([
      expect.objectContaining({ Type: 'volume', Name: 'cache', Destination: '/var/cache/nginx', RW: true }),
    ]);
    expect(Object.keys(doc!.NetworkSettings.Networks).sort()).toEqual(['backend', 'frontend']);
    expect(doc!.NetworkSettings.IPAddress).toBe('');
    expect(doc!.ExecIDs).toEqual([EXEC_ID]);

    const db = JSON.parse(expectOk(await docker(['container', 'inspect', 'db']), 'inspect db').stdout)[0];
    expect(db.Config.Env).toEqual(['POSTGRES_PASSWORD=x']);
    expect(db.NetworkSettings.Networks.backend.Aliases).toEqual(['database']);
    const job = JSON.parse(expectOk(await docker(['inspect', '--type', 'container', 'job']), 'inspect job').stdout)[0];
    expect(job.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 3 });
    expect(job.State.FinishedAt).toBe(world.containers.job!.state.finishedAt);
    // By unique id prefix, as docker resolves it.
    const byPrefix = JSON.parse(
      expectOk(await docker(['inspect', world.containers.db!.config.id.slice(0, 8)]), 'inspect prefix').stdout,
    )[0];
    expect(byPrefix.Name).toBe('/db');

    // Not a container: docker goes on through images and networks (404s) to the volume.
    const [vol] = JSON.parse(expectOk(await docker(['inspect', 'pgdata']), 'inspect pgdata').stdout);
    expect(vol).toMatchObject({ Name: 'pgdata', Driver: 'local', Labels: { tier: 'db' } });

    const missing = await docker(['inspect', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such object: nope');
    // Docker has no pods: a pod's name is no object of its.
    const pod = await docker(['inspect', 'shop']);
    expect(pod.code).toBe(1);
    expect(pod.stderr).toContain('No such object: shop');
    const missingCtr = await docker(['container', 'inspect', 'nope']);
    expect(missingCtr.code).toBe(1);
    expect(missingCtr.stderr).toContain('No such container: nope');
  });

  it('docker volume ls and docker volume inspect show the store volumes', async () => {
    const ls = expectOk(await docker(['volume', 'ls', '--format', '{{json .}}']), 'volume ls');
    const rows = jsonLines<{ Name: string; Driver: string; Labels: string; Scope: string }>(ls.stdout);
    const volumes = await world.store.allVolumes();
    expect(rows.map((v) => v.Name).sort()).toEqual(volumes.map((v) => v.config.name).sort());
    for (const row of rows) {
      const v = volumes.find((x) => x.config.name === row.Name)!;
      expect(row.Driver).toBe(v.config.driver ?? 'local');
      expect(labelMap(row.Labels)).toEqual(v.config.labels ?? {});
      expect(row.Scope).toBe('local');
    }
    const [pgdata] = JSON.parse(expectOk(await docker(['volume', 'inspect', 'pgdata']), 'volume inspect').stdout);
    expect(pgdata.Mountpoint).toBe(world.volumes.pgdata!.state.mountPoint);
    const filtered = expectOk(await docker(['volume', 'ls', '-q', '--filter', 'label=tier=db']), 'volume ls -f');
    expect(filtered.stdout.trim()).toBe('pgdata');
    const [cache] = JSON.parse(expectOk(await docker(['volume', 'inspect', 'cache']), 'volume inspect').stdout);
    expect(cache).toMatchObject({
      Name: 'cache',
      Driver: 'local',
      Options: { type: 'tmpfs' },
      Scope: 'local',
      CreatedAt: world.volumes.cache!.config.createdAt,
    });
    const missing = await docker(['volume', 'inspect', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such volume: nope');
  });

  it("docker events --since … --until … lists berth's journal over that time", async () => {
    const events = await world.store.events.list();
    const objects = events.filter((e) => ['container', 'pod', 'volume'].includes(e.subject.kind));
    const from = Math.floor(Date.parse(objects[0]!.ts) / 1000);
    const until = Math.ceil(Date.parse(objects.at(-1)!.ts) / 1000) + 1;
    const r = expectOk(
      await docker(['events', '--since', String(from), '--until', String(until), '--format', '{{json .}}']),
      'docker events',
    );
    const messages = jsonLines<{
      Type: string;
      Action: string;
      Actor: { ID: string; Attributes: Record<string, string> };
      time: number;
    }>(r.stdout);
    const expected = events.filter((e) => Date.parse(e.ts) >= from * 1000 && Date.parse(e.ts) <= until * 1000);
    expect(messages.map((m) => Number(m.Actor.Attributes['berth.seq']))).toEqual(expected.map((e) => e.seq));
    const made = messages.filter((m) => m.Action === 'create').map((m) => `${m.Type} ${m.Actor.Attributes.name}`);
    expect(made).toEqual([
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
    // An exec session is reported on its container, as Docker does.
    const exec = messages.find((m) => m.Action === 'exec_create')!;
    expect(exec).toMatchObject({ Type: 'container', Actor: { ID: world.containers.web!.config.id } });
    expect(exec.Actor.Attributes.execID).toBe(EXEC_ID);
    const dbEvent = messages.find((m) => m.Actor.Attributes.name === 'db')!;
    expect(dbEvent.Actor.ID).toBe(world.containers.db!.config.id);
    const ev: BerthEvent = events.find((e) => e.subject.id === world.containers.db!.config.id)!;
    expect(dbEvent.time).toBe(Math.floor(Date.parse(ev.ts) / 1000));
    // Docker's own filters, and its plain output.
    const vols = expectOk(
      await docker(['events', '--since', String(from), '--until', String(until), '--filter', 'type=volume']),
      'docker events --filter',
    );
    expect(vols.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/ volume create pgdata \(.*name=pgdata/),
      expect.stringMatching(/ volume create cache \(.*name=cache/),
    ]);
  });

  it('writes are refused with a clear message and change nothing', async () => {
    const before = await world.store.snapshot();
    for (const args of [
      ['rm', 'job'],
      ['rm', '-f', 'web'],
      ['volume', 'rm', 'cache'],
      ['rename', 'job', 'task'],
      ['stop', 'web'],
    ]) {
      const r = await docker(args);
      expect(r.code, `docker ${args.join(' ')}`).not.toBe(0);
      expect(r.stderr).toMatch(/berth serves its store read-only through the Docker Engine API: \w+ \/\S+ is refused/);
    }
    const after = await world.store.snapshot();
    expect(after.seq).toBe(before.seq);
    expect(after.containers).toEqual(before.containers);
    expect(after.volumes).toEqual(before.volumes);
  });

  it('DOCKER_HOST=unix://… reads the same store through the unix socket', async () => {
    const env = { ...tcp, DOCKER_HOST: `unix://${socket}` };
    const overSocket = expectOk(await docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}'], env), 'ps');
    expect(overSocket.stdout.trim().split('\n')).toEqual(berthPs.map((c) => `${c.id} ${c.name}`));
    const version = expectOk(await docker(['version', '--format', '{{.Server.APIVersion}}'], env), 'version');
    expect(version.stdout.trim()).toBe('1.41');
    const info = expectOk(await docker(['info', '--format', '{{json .}}'], env), 'info');
    const doc = JSON.parse(info.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({
      Containers: 6,
      ContainersRunning: 3,
      ContainersPaused: 1,
      ContainersStopped: 2,
      Images: 0,
    });
  });

  it("sends berth serve's token from docker's HttpHeaders configuration", async () => {
    const tokenDir = fileDir('berth-docker-token-');
    const guarded = await startBerthServe(tokenDir, [], { BERTH_TOKEN: 'docker-secret-token' });
    const config = join(tokenDir, 'docker-config');
    mkdirSync(config);
    const env = { DOCKER_HOST: guarded.url.replace(/^http:/, 'tcp:'), DOCKER_CONFIG: config, DOCKER_CONTEXT: '' };
    const refused = await docker(['ps', '-a'], env);
    expect(refused.code).not.toBe(0);
    writeFileSync(
      join(config, 'config.json'),
      JSON.stringify({ HttpHeaders: { Authorization: 'Bearer docker-secret-token' } }),
    );
    const r = expectOk(await docker(['ps', '-a', '--format', '{{.Names}}'], env), 'docker ps with the token');
    expect(r.stdout).toBe('');
  });
});
