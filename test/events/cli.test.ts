import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openStore, type BerthEvent, type OpenStoreOptions } from '../../src/index.js';
import { ctr, pod, vol } from '../conformance/builders.js';
import { tempDir } from '../helpers/store-factory.js';
import { BIN, freePort, http, openStream, seqRange, sleep, startWriter, waitUntil } from './helpers.js';

/*
 * `berth events` and `berth serve` (API.md CLI), run as the built binary in a child
 * process against a store of the test's own. The HTTP checks talk to 127.0.0.1 only.
 */

interface Run {
  pid: number;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

interface World {
  store: string;
  start(args: readonly string[], env?: Record<string, string>): Run;
  run(
    args: readonly string[],
    env?: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  seed(
    fn: (s: Awaited<ReturnType<typeof openStore>>) => Promise<unknown>,
    opts?: Omit<OpenStoreOptions, 'path'>,
  ): Promise<void>;
  events(): Promise<BerthEvent[]>;
}

function world(): World {
  const dir = tempDir('berth-events-cli-');
  const store = join(dir, 'store', 'berth.db');
  const baseEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BERTH_STORE: store,
      NO_COLOR: '1',
      XDG_DATA_HOME: join(dir, 'xdg'),
    };
    delete env.BERTH_TOKEN;
    delete env.BERTH_WORKSPACE;
    delete env.BERTH_DEBUG;
    return env;
  };
  const start: World['start'] = (args, env = {}) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...baseEnv(), ...env }, stdio: 'pipe' });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return {
      pid: child.pid!,
      stdout: () => stdout,
      stderr: () => stderr,
      done,
      kill: (signal = 'SIGTERM') => void child.kill(signal),
    };
  };
  return {
    store,
    start,
    async run(args, env) {
      const r = start(args, env);
      const { code } = await r.done;
      return { code, stdout: r.stdout(), stderr: r.stderr() };
    },
    async seed(fn, opts = {}) {
      const s = await openStore({ ...opts, path: store });
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    },
    async events() {
      const s = await openStore({ path: store, readonly: true });
      try {
        return await s.events.list();
      } finally {
        await s.close();
      }
    },
  };
}

function json<T>(r: { code: number | null; stdout: string; stderr: string }): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`the CLI tests run the built binary ${BIN}: run \`npm run build\` first`);
});

describe('berth events', () => {
  it('lists the journal; --format json prints one JSON array', async () => {
    const w = world();
    await w.seed(async (s) => {
      const p = pod({ name: 'web' });
      await s.addPod(p);
      await s.addContainerToPod(p, ctr({ name: 'web-app' }));
      await s.addVolume(vol({ name: 'data' }));
    });
    const all = await w.events();
    const table = await w.run(['events']);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(all.length);
    all.forEach((e, i) => {
      expect(lines[i]).toMatch(new RegExp(`^${e.seq} `));
      expect(lines[i]).toContain(e.type);
    });
    expect(table.stdout).toContain('web-app');

    const listed = json<BerthEvent[]>(await w.run(['events', '--format', 'json']));
    expect(listed).toEqual(all);
    // The global option also works before the subcommand.
    expect(json<BerthEvent[]>(await w.run(['--format', 'json', 'events']))).toEqual(all);
  });

  it('--since and --until take a seq, a time or a duration', async () => {
    const w = world();
    const twoHoursAgo = Date.now() - 2 * 3600_000;
    await w.seed(
      async (s) => {
        for (let i = 0; i < 3; i++) await s.addVolume(vol({ name: `old-${i}` }));
      },
      { clock: () => twoHoursAgo },
    );
    await w.seed(async (s) => {
      for (let i = 0; i < 2; i++) await s.addVolume(vol({ name: `new-${i}` }));
    });
    const all = await w.events();
    const last = all[all.length - 1]!.seq;
    const seqs = async (...args: string[]) =>
      json<BerthEvent[]>(await w.run(['events', '--format', 'json', ...args])).map((e) => e.seq);

    const recent = all.filter((e) => Date.parse(e.ts) > twoHoursAgo + 3600_000).map((e) => e.seq);
    expect(recent.length).toBe(2);
    // Independent read-only runs: start them together.
    const cases: [string[], number[]][] = [
      [['--since', '2'], seqRange(2, last)],
      [
        ['--since', '2', '--until', '4'],
        [3, 4],
      ],
      [['--until', '1'], [1]],
      [['--since', String(last)], []],
      [['--since', '1h'], recent],
      [['--since', '90m'], recent],
      [['--since', '3h'], all.filter((e) => Date.parse(e.ts) >= twoHoursAgo).map((e) => e.seq)],
      [['--since', new Date(twoHoursAgo + 60_000).toISOString()], recent],
    ];
    const got = await Promise.all(cases.map(([args]) => seqs(...args)));
    cases.forEach(([args, want], i) => expect(got[i], args.join(' ')).toEqual(want));
    // A malformed --since is a usage error (exit 2), found before the store is opened.
    const bad = await w.run(['events', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Error: /m);
  });

  it('--filter type=, namespace= and subject= select events', async () => {
    const w = world();
    await w.seed(async (s) => {
      const a = s.withNamespace('team-a');
      const p = pod({ name: 'pa' });
      await a.addPod(p);
      await a.addContainerToPod(p, ctr({ name: 'ca' }));
      await s.withNamespace('team-b').addPod(pod({ name: 'pb' }));
      await s.addVolume(vol({ name: 'shared' }));
    });
    const all = await w.events();
    const pick = async (...filters: string[]) =>
      json<BerthEvent[]>(await w.run(['events', '--format', 'json', ...filters.flatMap((f) => ['--filter', f])]));

    const cases: [string[], BerthEvent[]][] = [
      [['type=pod.create'], all.filter((e) => e.type === 'pod.create')],
      [['type=container.*'], all.filter((e) => e.type.startsWith('container.'))],
      [
        ['type=pod.create', 'type=volume.create'],
        all.filter((e) => e.type === 'pod.create' || e.type === 'volume.create'),
      ],
      [['namespace=team-a'], all.filter((e) => e.namespace === 'team-a')],
      [['type=pod.create', 'namespace=team-b'], all.filter((e) => e.type === 'pod.create' && e.namespace === 'team-b')],
      [['subject=shared'], all.filter((e) => e.subject.name === 'shared')],
    ];
    const got = await Promise.all(cases.map(([filters]) => pick(...filters)));
    cases.forEach(([filters, want], i) => expect(got[i], filters.join(' ')).toEqual(want));
    expect(got[0]!.map((e) => e.subject.name)).toEqual(['pa', 'pb']);
    expect(got[5]!.map((e) => e.type)).toEqual(['volume.create']);
    const table = await w.run(['events', '--filter', 'type=pod.create']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.trimEnd().split('\n').length).toBe(2);
    const bad = await w.run(['events', '--filter', 'colour=blue']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^Error: /m);
  });

  it('--follow --format json prints one JSON object per line as another process writes', async () => {
    const w = world();
    await w.seed((s) => s.addVolume(vol()));
    const since = (await w.events()).at(-1)!.seq;
    const follower = w.start(['events', '--follow', '--format', 'json', '--since', String(since)]);
    const writer = await startWriter(w.store);
    const reply = await writer.run({ op: 'create', prefix: 'f', count: 12 });
    const lines = (): string[] => follower.stdout().split('\n').filter(Boolean);
    await waitUntil(() => lines().length >= reply.lastSeq! - since, 'the follower to print every event', 20_000);
    const printed = lines().map((l) => JSON.parse(l) as BerthEvent);
    expect(printed.map((e) => e.seq)).toEqual(seqRange(since, reply.lastSeq!));
    expect(printed.map((e) => e.subject.name)).toEqual(Array.from({ length: 12 }, (_, i) => `f-${i}`));
    follower.kill('SIGTERM');
    const exit = await Promise.race([follower.done, sleep(10_000).then(() => 'timeout' as const)]);
    expect(exit, 'berth events --follow ends on SIGTERM').not.toBe('timeout');
    if (exit !== 'timeout' && exit.code !== null) expect(exit.code, follower.stderr()).toBe(0);
    expect(await writer.exit()).toBe(0);
  });

  it('--follow without --since prints what is written after it started', async () => {
    const w = world();
    await w.seed((s) => s.addVolume(vol({ name: 'before' })));
    const follower = w.start(['events', '--follow']);
    const writer = await startWriter(w.store);
    // It gives no sign of being ready: write until it prints something.
    let n = 0;
    await waitUntil(
      async () => {
        if (follower.stdout().includes('container.create')) return true;
        await writer.run({ op: 'create', prefix: `late${n++}`, count: 1 });
        await sleep(150);
        return false;
      },
      'the follower to print a new event',
      30_000,
    );
    expect(follower.stdout()).not.toContain('before');
    expect(follower.stdout()).toMatch(/^\d+ \S+ container\.create late\d+-0/m);
    follower.kill('SIGTERM');
    await follower.done;
  });
});

describe('berth serve', () => {
  it('answers on 127.0.0.1, streams events, and exits 0 on SIGTERM', async () => {
    const w = world();
    await w.seed((s) => s.addContainer(ctr({ name: 'served' })));
    const port = await freePort();
    const server = w.start(['serve', '--listen', `127.0.0.1:${port}`, '--heartbeat', '200ms']);
    await waitUntil(() => /listening on/.test(server.stderr()), 'berth serve to listen', 20_000);
    expect(server.stderr()).toContain(`http://127.0.0.1:${port}`);
    const base = `http://127.0.0.1:${port}`;
    const health = await http(base, '/v1/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true, seq: expect.any(Number) });
    const containers = (await http(base, '/v1/containers')).json as { config: { name: string } }[];
    expect(containers.map((c) => c.config.name)).toEqual(['served']);

    // A stream open at shutdown does not keep the server up.
    const stream = await openStream(base, '/v1/events', { sse: true });
    const writer = await startWriter(w.store);
    await writer.run({ op: 'create', prefix: 'live', count: 2 });
    await stream.waitFor((c) => c.messages.length >= 2, 'two live events');
    server.kill('SIGTERM');
    const exit = await Promise.race([server.done, sleep(10_000).then(() => 'timeout' as const)]);
    expect(exit, `berth serve exits on SIGTERM; stderr: ${server.stderr()}`).toEqual({ code: 0, signal: null });
    await waitUntil(() => stream.ended, 'the stream to end');
  });

  it('--token (or BERTH_TOKEN) is required from clients', async () => {
    const w = world();
    await w.seed((s) => s.addVolume(vol()));
    for (const how of ['flag', 'env'] as const) {
      const port = await freePort();
      const args = ['serve', '--listen', `127.0.0.1:${port}`];
      const server =
        how === 'flag' ? w.start([...args, '--token', 'tok-123']) : w.start(args, { BERTH_TOKEN: 'tok-123' });
      await waitUntil(() => /listening on/.test(server.stderr()), 'berth serve to listen', 20_000);
      const base = `http://127.0.0.1:${port}`;
      expect((await http(base, '/v1/health')).status).toBe(401);
      expect((await http(base, '/v1/health', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
      expect((await http(base, '/v1/health', { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
      server.kill('SIGTERM');
      expect(await server.done).toEqual({ code: 0, signal: null });
    }
  });

  it('refuses --listen 0.0.0.0 without a token (exit 1, before binding)', async () => {
    const w = world();
    await w.seed((s) => s.addVolume(vol()));
    const port = await freePort();
    const t0 = Date.now();
    const r = await w.run(['serve', '--listen', `0.0.0.0:${port}`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: .*token/im);
    expect(r.stderr).not.toMatch(/berth serve: listening on/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const bad = await w.run(['serve', '--listen', 'not-an-address']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^Error: /m);
  });
});
