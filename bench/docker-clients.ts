import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from './berth.js';
import { BIN } from './build.js';
import { formatTable, percentile, runHeader, type RunHeader } from './harness.js';
import { ContainerFixture, createBerthFile, storePragmas } from './objects.js';

/*
 * The real clients reading a berth store through berth serve (DESIGN.md §10): `docker ps -a`
 * (DOCKER_HOST=tcp://…) and `podman --url tcp://… ps -a` against a `berth serve` process
 * on 127.0.0.1, over a store of 10,000 containers, timed against `berth ps -a` on the same
 * store in the same run (fresh processes each time, the sides alternating). A client
 * missing from the machine is left out. For scale: podman 4.3 answers `podman ps -a` on
 * its own 10,000-container store in about 4.6 s.
 */

/** Containers in the store. */
export const CONTAINERS = 10_000;

interface Timing {
  name: string;
  runs: number;
  medianMs: number;
  maxMs: number;
}

export interface DockerClientsReport {
  name: 'docker-clients';
  header: RunHeader;
  containers: number;
  timings: Timing[];
  /** Each client's median over `berth ps -a`'s. */
  ratios: Record<string, number>;
  skipped: string[];
  misses: string[];
}

export interface DockerClientsBenchOptions {
  dataDir: string;
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

/** Whether `command --version` runs here. */
function installed(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts `berth serve` on a free loopback port; resolves with its URL and a stop function. */
async function startServe(store: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, '--store', store, 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      err += d;
      const m = /listening on (http:\/\/\S+?)(?:,|\s)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`berth serve exited (${code}): ${err}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Runs the bench; see {@link DockerClientsReport}. */
export async function runDockerClientsBench(opts: DockerClientsBenchOptions): Promise<DockerClientsReport> {
  const dir = join(opts.dataDir, 'docker-clients');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'ps-10k.db');
  await createBerthFile(file, new ContainerFixture(), CONTAINERS, Date.now);
  const store = await openStore({ path: file });
  const header = runHeader({ berth: await storePragmas(store) }, dir);
  await store.close();
  opts.print(opts.formatHeader(header));

  const serve = await startServe(file);
  const tcp = serve.url.replace(/^http:/, 'tcp:');
  const sides: { name: string; command: string; args: string[]; env?: Record<string, string> }[] = [
    { name: 'berth ps -a', command: process.execPath, args: [BIN, '--store', file, 'ps', '-a'] },
  ];
  const skipped: string[] = [];
  if (installed('docker')) {
    const config = join(dir, 'docker-config');
    mkdirSync(config, { recursive: true });
    sides.push({
      name: 'docker ps -a (berth serve)',
      command: 'docker',
      args: ['ps', '-a'],
      env: { DOCKER_HOST: tcp, DOCKER_CONFIG: config },
    });
  } else skipped.push('docker: not installed');
  if (installed('podman')) {
    sides.push({ name: 'podman --url … ps -a (berth serve)', command: 'podman', args: ['--url', tcp, 'ps', '-a'] });
  } else skipped.push('podman: not installed');

  const run = (side: (typeof sides)[number]): number => {
    const t0 = performance.now();
    const r = spawnSync(side.command, side.args, {
      env: { ...process.env, ...side.env },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 ** 2,
    });
    const ms = performance.now() - t0;
    const lines = r.stdout.trimEnd().split('\n').length;
    if (r.status !== 0 || lines !== CONTAINERS + 1) {
      throw new Error(
        `${side.name}: exit ${r.status}, ${lines} lines (want ${CONTAINERS + 1}): ${r.stderr.slice(0, 300)}`,
      );
    }
    return ms;
  };
  const rounds = opts.quick ? 3 : 7;
  const samples = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  try {
    for (const side of sides) run(side); // warm: the store's first open, the clients' own caches
    for (let i = 0; i < rounds; i++) {
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) samples.get(side.name)!.push(run(side));
    }
  } finally {
    await serve.stop();
  }
  const timings: Timing[] = sides.map((s) => {
    const ms = [...samples.get(s.name)!].sort((a, b) => a - b);
    return { name: s.name, runs: ms.length, medianMs: percentile(ms, 50), maxMs: ms[ms.length - 1]! };
  });
  const base = timings[0]!.medianMs;
  const ratios = Object.fromEntries(timings.slice(1).map((t) => [t.name, t.medianMs / base]));
  opts.print(
    [
      `\n== docker-clients: ps -a on ${CONTAINERS.toLocaleString('en-US')} containers, ${rounds} rounds ==`,
      formatTable(
        ['command', 'runs', 'median', 'max', 'vs berth ps -a'],
        timings.map((t) => [
          t.name,
          String(t.runs),
          `${t.medianMs.toFixed(0)}ms`,
          `${t.maxMs.toFixed(0)}ms`,
          `${(t.medianMs / base).toFixed(2)}x`,
        ]),
      ),
      ...skipped.map((s) => `skipped ${s}`),
      'for scale: podman 4.3 lists its own 10,000-container store (podman ps -a) in about 4.6 s',
    ].join('\n'),
  );
  return { name: 'docker-clients', header, containers: CONTAINERS, timings, ratios, skipped, misses: [] };
}
