import type { Store } from '../../src/index.js';
import { hexId, ok, type CliWorld } from './helpers.js';

/* The store the podman-spelling tests share: four containers in every state, a pod, a volume. */

export const MIN = 60_000;
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();
export const LONG_IMAGE = 'registry.example.com/shop/worker:1.0';

export const IDS = {
  pod: hexId('b0c1'),
  web: hexId('a1f3'),
  db: hexId('a2e4'),
  job: hexId('c3d5'),
  done: hexId('e5f7'),
};

/** Oldest first: job (exited 3), done (exited 0), db (configured), web (running, pod shop, volume data). */
export async function seed(w: CliWorld): Promise<void> {
  await w.seed(async (s: Store) => {
    await s.addVolume({ config: { name: 'data' }, state: {} });
    const pod = await s.addPod({ config: { id: IDS.pod, name: 'shop', createdAt: ago(60 * MIN) }, state: {} });
    await s.addContainer({
      config: { id: IDS.job, name: 'job', image: 'busybox', command: ['false'], createdAt: ago(50 * MIN) },
      state: { status: 'exited', exitCode: 3, finishedAt: ago(40 * MIN) },
    });
    await s.addContainer({
      config: { id: IDS.done, name: 'done', image: 'busybox:1.36', command: ['true'], createdAt: ago(30 * MIN) },
      state: { status: 'stopped', exitCode: 0, finishedAt: ago(20 * MIN) },
    });
    await s.addContainer({
      config: { id: IDS.db, name: 'db', image: 'postgres:16', labels: { tier: 'db' }, createdAt: ago(10 * MIN) },
      state: { status: 'configured' },
    });
    const web = await s.addContainerToPod(pod, {
      config: {
        id: IDS.web,
        name: 'web',
        image: LONG_IMAGE,
        command: ['sh', '-c', 'exec worker --queue orders --concurrency 8'],
        labels: { app: 'web', tier: 'front' },
        namedVolumes: [{ name: 'data', dest: '/data' }],
        createdAt: ago(5 * MIN),
      },
      state: { status: 'configured' },
    });
    await s.saveContainer({ ...web, state: { status: 'running', startedAt: ago(2 * MIN) } });
  });
}

export const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
export const names = async (w: CliWorld, ...args: string[]): Promise<string[]> =>
  lines(ok(await w.run(['ps', ...args, '--format', '{{.Names}}'])));

export interface PsJson {
  id: string;
  name: string;
  status: string;
  Id: string;
  Names: string[];
  Image: string;
  Command: string[];
  State: string;
  Status: string;
  ExitCode: number;
  Exited: boolean;
  Pod: string;
  PodName: string;
  Labels: Record<string, string>;
  Created: number;
  CreatedAt: string;
  [key: string]: unknown;
}
