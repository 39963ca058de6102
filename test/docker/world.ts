import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { openStore, type Container, type Pod, type Store, type Volume } from '../../src/index.js';

/*
 * The store the Docker and libpod suites read: volumes, a pod with two members, containers
 * in several statuses with labels, a dependency and named volumes, made through the
 * library; and whether the real clients run here.
 */

/** Why the docker CLI cannot run here, or undefined when it can. */
export const DOCKER_MISSING: string | undefined = (() => {
  const r = spawnSync('docker', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'the docker CLI is not installed (or not on PATH)';
})();

/** Why podman cannot run here, or undefined when it can. */
export const PODMAN_MISSING: string | undefined = (() => {
  const r = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'podman is not installed (.ci/run installs the podman package with apt-get)';
})();

/** What the world holds, by name. */
export interface World {
  store: Store;
  file: string;
  containers: Record<string, Container>;
  pods: Record<string, Pod>;
  volumes: Record<string, Volume>;
}

/** The exec session open in `web`. */
export const EXEC_ID = 'e1'.padEnd(64, '0');

const minutesAgo = (n: number): string => new Date(Date.now() - n * 60_000).toISOString();

/** Makes the store in `dir`: the same objects for every suite. */
export async function makeWorld(dir: string): Promise<World> {
  const file = join(dir, 'berth.db');
  const store = await openStore({ path: file });
  const volumes: Record<string, Volume> = {};
  volumes.pgdata = await store.addVolume({
    config: { name: 'pgdata', labels: { tier: 'db' } },
    state: { mountCount: 1, mountPoint: '/var/lib/berth/volumes/pgdata/_data' },
  });
  volumes.cache = await store.addVolume({ config: { name: 'cache', driver: 'local', options: { type: 'tmpfs' } } });
  const pods: Record<string, Pod> = {};
  pods.shop = await store.addPod({ config: { name: 'shop', labels: { app: 'shop' } } });
  const containers: Record<string, Container> = {};
  containers.db = await store.addContainer({
    config: {
      name: 'db',
      image: 'docker.io/library/postgres:16',
      command: ['postgres', '-c', 'fsync=off'],
      env: { POSTGRES_PASSWORD: 'x' },
      labels: { tier: 'db', app: 'shop' },
      namedVolumes: [{ name: 'pgdata', dest: '/var/lib/postgresql/data' }],
      networks: { backend: { aliases: ['database'] } },
      createdAt: minutesAgo(50),
    },
    state: { status: 'running', pid: 4242, startedAt: minutesAgo(45) },
  });
  containers.web = await store.addContainer({
    config: {
      name: 'web',
      image: 'nginx:1.27',
      command: ['nginx', '-g', 'daemon off;'],
      labels: { tier: 'web', app: 'shop' },
      dependencies: [containers.db.config.id],
      namedVolumes: [{ name: 'cache', dest: '/var/cache/nginx' }],
      networks: { backend: {}, frontend: {} },
      createdAt: minutesAgo(40),
    },
    state: { status: 'running', pid: 4343, startedAt: minutesAgo(30) },
  });
  await store.addExecSession(containers.web, { id: EXEC_ID, containerId: containers.web.config.id });
  containers.web = await store.container(containers.web.config.id);
  containers.job = await store.addContainer({
    config: { name: 'job', image: 'busybox', command: ['sh', '-c', 'exit 3'], createdAt: minutesAgo(20) },
    state: { status: 'exited', exitCode: 3, startedAt: minutesAgo(19), finishedAt: minutesAgo(18) },
  });
  containers.draft = await store.addContainer({
    config: { name: 'draft', image: 'alpine:3', labels: { tier: 'web' }, createdAt: minutesAgo(10) },
    state: { status: 'configured' },
  });
  containers['shop-api'] = await store.addContainerToPod(pods.shop, {
    config: { name: 'shop-api', pod: pods.shop.config.id, image: 'ghcr.io/acme/api:2', createdAt: minutesAgo(8) },
    state: { status: 'running', startedAt: minutesAgo(7) },
  });
  containers['shop-worker'] = await store.addContainerToPod(pods.shop, {
    config: { name: 'shop-worker', pod: pods.shop.config.id, image: 'ghcr.io/acme/worker:2', createdAt: minutesAgo(6) },
    state: { status: 'paused', startedAt: minutesAgo(5) },
  });
  return { store, file, containers, pods, volumes };
}
