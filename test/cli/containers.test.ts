import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
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

const MIN = 60_000;
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();

const IDS = {
  pod: hexId('b0c1'),
  web: hexId('a1f3'),
  db: hexId('a2e4'),
  job: hexId('c3d5'),
  other: hexId('d4c6'),
};

interface PsRow {
  id: string;
  name: string;
  namespace: string;
  pod: string | null;
  image: string | null;
  status: string;
  createdAt: string | null;
  labels: Record<string, string>;
}

/**
 * web (running, in pod shop), db (configured), job (exited 3) in namespace "";
 * other (running) in namespace ns1.
 */
async function seedContainers(w: CliWorld): Promise<void> {
  await w.seed(async (s: Store) => {
    const pod = await s.addPod({ config: { id: IDS.pod, name: 'shop', createdAt: ago(10 * MIN) }, state: {} });
    const web = await s.addContainerToPod(pod, {
      config: {
        id: IDS.web,
        name: 'web',
        image: 'nginx:1.27',
        command: ['nginx', '-g', 'daemon off;'],
        labels: { app: 'web', tier: 'front' },
        createdAt: ago(5 * MIN),
      },
      state: { status: 'configured' },
    });
    await s.saveContainer({ ...web, state: { status: 'running', startedAt: ago(2 * MIN) } });
    await s.addContainer({
      config: { id: IDS.db, name: 'db', image: 'postgres:16', labels: { tier: 'db' }, createdAt: ago(3 * 60 * MIN) },
      state: { status: 'configured' },
    });
    await s.addContainer({
      config: { id: IDS.job, name: 'job', image: 'busybox', command: ['true'], createdAt: ago(2 * 24 * 60 * MIN) },
      state: { status: 'exited', exitCode: 3, finishedAt: ago(30 * 60 * MIN) },
    });
  });
  await w.seed(
    async (s) => {
      const other = await s.addContainer({
        config: { id: IDS.other, name: 'other', image: 'redis:7', createdAt: ago(20_000) },
        state: { status: 'configured' },
      });
      await s.saveContainer({ ...other, state: { status: 'running', startedAt: ago(10_000) } });
    },
    { namespace: 'ns1' },
  );
}

const names = (rows: PsRow[]): string[] => rows.map((r) => r.name).sort();
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** Start offsets of the header's columns (separated by two or more spaces). */
function columnStarts(header: string, columns: readonly string[]): number[] {
  return columns.map((c) => {
    const at = header.indexOf(c);
    expect(at, `column ${c} in ${JSON.stringify(header)}`).toBeGreaterThanOrEqual(0);
    return at;
  });
}

/** The cells of `line` cut at the header's column starts. */
function cells(line: string, starts: readonly number[]): string[] {
  return starts.map((s, i) => {
    if (i > 0) expect(line[s - 1] ?? ' ', `a space before column ${i} in ${JSON.stringify(line)}`).toBe(' ');
    return line.slice(s, starts[i + 1]).trim();
  });
}

describe.concurrent('berth ps', () => {
  it('without -a lists only running containers, with -a all of them', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const running = okJson<PsRow[]>(await w.run(['ps', '--format', 'json']));
    expect(names(running)).toEqual(['other', 'web']);
    expect(running.every((r) => r.status === 'running')).toBe(true);
    const all = okJson<PsRow[]>(await w.run(['ps', '-a', '--format', 'json']));
    expect(names(all)).toEqual(['db', 'job', 'other', 'web']);
    // container ls is the same command.
    const ls = okJson<PsRow[]>(await w.run(['container', 'ls', '--format', 'json']));
    expect(names(ls)).toEqual(['other', 'web']);
  });

  it('prints an aligned table with short ids and relative times', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const out = ok(await w.run(['ps', '-a']));
    const [header, ...rows] = lines(out);
    const columns = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'];
    expect(header).toMatch(/^CONTAINER ID {2,}IMAGE {2,}COMMAND {2,}CREATED {2,}STATUS {2,}NAMES$/);
    const starts = columnStarts(header!, columns);
    expect(rows).toHaveLength(4);
    const byName = new Map(rows.map((r) => cells(r, starts)).map((c) => [c[5]!, c]));
    expect([...byName.keys()].sort()).toEqual(['db', 'job', 'other', 'web']);
    const web = byName.get('web')!;
    expect(web[0]).toBe(IDS.web.slice(0, 12));
    expect(web[1]).toBe('nginx:1.27');
    expect(web[2]).toMatch(/^nginx -g/);
    expect(web[3]).toBe('5 minutes ago');
    expect(web[4]).toMatch(/^Up 2 minutes$/);
    expect(byName.get('db')![3]).toBe('3 hours ago');
    expect(byName.get('db')![4]).toBe('Created');
    expect(byName.get('job')![3]).toMatch(/^(2 days|48 hours) ago$/);
    expect(byName.get('job')![4]).toBe('Exited (3) 30 hours ago');
    expect(byName.get('other')![3]).toMatch(/^\d+ seconds ago$/);
    for (const c of byName.values()) expect(c[0]).toMatch(/^[0-9a-f]{12}$/);
    // Newest first by default (podman).
    expect(rows.map((r) => cells(r, starts)[5])).toEqual(['other', 'web', 'db', 'job']);
  });

  it('never cuts a cell when stdout is not a terminal, whatever COLUMNS says', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const out = ok(await w.run(['ps', '-a'], { env: { COLUMNS: '40' } }));
    expect(out).not.toContain('…');
    expect(out).toContain('nginx -g daemon off;');
    expect(out).toMatch(/Exited \(3\) 30 hours ago/);
  });

  it("--format json prints one array of berth's { id, name, namespace, pod, image, status, createdAt, labels } and podman's keys", async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const rows = okJson<PsRow[]>(await w.run(['ps', '-a', '--format', 'json']));
    expect(Array.isArray(rows)).toBe(true);
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining(['createdAt', 'id', 'image', 'labels', 'name', 'namespace', 'pod', 'status']),
      );
    }
    const web = rows.find((r) => r.name === 'web')!;
    expect(web).toMatchObject({
      id: IDS.web,
      name: 'web',
      namespace: '',
      pod: IDS.pod,
      image: 'nginx:1.27',
      status: 'running',
      createdAt: expect.any(String),
      labels: { app: 'web', tier: 'front' },
    });
    expect(Date.parse(web.createdAt!)).toBeGreaterThan(Date.now() - 6 * MIN);
    expect(rows.find((r) => r.name === 'other')!.namespace).toBe('ns1');
    expect(rows.find((r) => r.name === 'db')!.pod).toBeNull();
  });

  it('--filter id, name, label, status, pod and namespace each narrow the list', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const ps = async (...filters: string[]): Promise<string[]> =>
      names(okJson<PsRow[]>(await w.run(['ps', '-a', '--format', 'json', ...filters.flatMap((f) => ['--filter', f])])));
    expect(await ps(`id=${IDS.db.slice(0, 6)}`)).toEqual(['db']);
    expect(await ps('name=jo')).toEqual(['job']);
    expect(await ps('label=tier')).toEqual(['db', 'web']);
    expect(await ps('label=tier=db')).toEqual(['db']);
    expect(await ps('status=exited')).toEqual(['job']);
    expect(await ps('pod=shop')).toEqual(['web']);
    expect(await ps(`pod=${IDS.pod}`)).toEqual(['web']);
    expect(await ps('namespace=ns1')).toEqual(['other']);
  });

  it('repeated --filter: values of one key are alternatives, different keys must all match', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const ps = async (...args: string[]): Promise<string[]> =>
      names(okJson<PsRow[]>(await w.run(['ps', '--format', 'json', ...args])));
    expect(await ps('-a', '--filter', 'name=db', '--filter', 'name=job')).toEqual(['db', 'job']);
    expect(await ps('-a', '--filter', 'label=tier', '--filter', 'status=running')).toEqual(['web']);
    expect(await ps('-a', '--filter', 'status=configured', '--filter', 'status=exited')).toEqual(['db', 'job']);
    // A status filter shows stopped containers even without -a (podman).
    expect(await ps('--filter', 'status=exited')).toEqual(['job']);
  });

  it('an unknown filter key or a filter that is not KEY=VALUE is a usage error (exit 2)', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(fails(await w.run(['ps', '-a', '--filter', 'colour=red']), 2)).toMatch(/filter/);
    const err = failsJson(
      await w.run(['ps', '-a', '--filter', 'colour=red', '--format', 'json']),
      'INVALID_ARGUMENT',
      2,
    );
    expect(err.details.usage).toBe(true);
    failsJson(await w.run(['ps', '-a', '--filter', 'name', '--format', 'json']), 'INVALID_ARGUMENT', 2);
  });

  it('--pod adds the POD ID and PODNAME columns', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const [header, ...rows] = lines(ok(await w.run(['ps', '-a', '--pod'])));
    expect(header).toMatch(/NAMES {2,}POD ID {2,}PODNAME$/);
    const starts = columnStarts(header!, ['CONTAINER ID', 'NAMES', 'POD ID', 'PODNAME']);
    const web = rows.map((r) => cells(r, starts)).find((c) => c[1] === 'web')!;
    expect(web.slice(2)).toEqual([IDS.pod.slice(0, 12), 'shop']);
    const db = rows.map((r) => cells(r, starts)).find((c) => c[1] === 'db')!;
    expect(db.slice(2)).toEqual(['', '']);
  });

  it('--sort orders by the field; created is newest first; an unknown field is a usage error', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const order = async (field: string): Promise<string[]> =>
      okJson<PsRow[]>(await w.run(['ps', '-a', '--format', 'json', '--sort', field])).map((r) => r.name);
    expect(await order('names')).toEqual(['db', 'job', 'other', 'web']);
    expect(await order('image')).toEqual(['job', 'web', 'db', 'other']);
    expect(await order('created')).toEqual(['other', 'web', 'db', 'job']);
    expect(await order('id')).toEqual(['web', 'db', 'job', 'other']);
    failsJson(await w.run(['ps', '-a', '--format', 'json', '--sort', 'colour']), 'INVALID_ARGUMENT', 2);
  });

  it('-q prints only the short ids, one per line', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(lines(ok(await w.run(['ps', '-q'])))).toEqual([IDS.other.slice(0, 12), IDS.web.slice(0, 12)]);
    const all = lines(ok(await w.run(['ps', '-a', '-q', '--sort', 'names'])));
    expect(all).toEqual([IDS.db, IDS.job, IDS.other, IDS.web].map((id) => id.slice(0, 12)));
  });

  it('--namespace confines ps to one namespace', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(names(okJson<PsRow[]>(await w.run(['--namespace', 'ns1', 'ps', '-a', '--format', 'json'])))).toEqual([
      'other',
    ]);
    expect(okJson<PsRow[]>(await w.run(['ps', '-a', '--namespace', 'nowhere', '--format', 'json']))).toEqual([]);
  });
});

describe.concurrent('berth container', () => {
  it('inspect prints a JSON array of the containers by id, name or unique prefix', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    const found = okJson<{ config: { id: string; name: string }; state: { status: string } }[]>(
      await w.run(['container', 'inspect', 'web', IDS.db, IDS.job.slice(0, 5)]),
    );
    expect(found.map((c) => c.config.name)).toEqual(['web', 'db', 'job']);
    expect(found[0]!.state.status).toBe('running');
  });

  it('inspect of an unknown or ambiguous container is an error with the right code', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(fails(await w.run(['container', 'inspect', 'nope']))).toMatch(/nope/);
    const err = failsJson(
      await w.run(['container', 'inspect', 'web', 'nope', '--format', 'json']),
      'NO_SUCH_CONTAINER',
    );
    expect(err.message).toMatch(/nope/);
    // web (a1f3…) and db (a2e4…) share the prefix "a".
    failsJson(await w.run(['container', 'inspect', 'a', '--format', 'json']), 'AMBIGUOUS_ID');
  });

  it('create records a container with its options and prints its id', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      await s.addVolume({ config: { name: 'data' }, state: {} });
      await s.addPod({ config: { id: IDS.pod, name: 'shop' }, state: {} });
    });
    // A dependency must share the pod (libpod's rule).
    const baseId = ok(await w.run(['container', 'create', '--name', 'base', '--pod', 'shop', 'alpine:3'])).trim();
    expect(baseId).toMatch(/^[0-9a-f]{64}$/);
    const id = ok(
      await w.run([
        'container',
        'create',
        '--name',
        'app',
        '--pod',
        'shop',
        '--label',
        'app=shop',
        '--label',
        'tier=front',
        '-e',
        'PORT=8080',
        '-v',
        'data:/var/data',
        '--requires',
        'base',
        '--network',
        'front',
        'shop/app:2.3',
        '--',
        'serve',
        '--port',
        '8080',
      ]),
    ).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ctr = await w.seed((s) => s.container(id));
    expect(ctr.config).toMatchObject({
      id,
      name: 'app',
      pod: IDS.pod,
      image: 'shop/app:2.3',
      command: ['serve', '--port', '8080'],
      labels: { app: 'shop', tier: 'front' },
      env: { PORT: '8080' },
      namedVolumes: [{ name: 'data', dest: '/var/data' }],
      dependencies: [baseId],
    });
    expect(Object.keys(ctr.config.networks ?? {})).toEqual(['front']);
    // Without --name a name is generated.
    const json = okJson<{ id: string; name: string }>(
      await w.run(['container', 'create', 'busybox', '--format', 'json']),
    );
    expect(json.id).toMatch(/^[0-9a-f]{64}$/);
    expect(json.name).not.toBe('');
  });

  it('create passes the options that follow the image to the command, like podman', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['container', 'create', '--name', 'sh', 'alpine:3', 'sh', '-c', 'echo hi'])).trim();
    expect((await w.seed((s) => s.container(id))).config.command).toEqual(['sh', '-c', 'echo hi']);
  });

  it('create refuses a taken name, a missing pod or volume, and a malformed label; no image is a usage error', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    failsJson(await w.run(['container', 'create', '--name', 'web', 'img', '--format', 'json']), 'CONTAINER_EXISTS');
    failsJson(await w.run(['container', 'create', '--pod', 'nope', 'img', '--format', 'json']), 'NO_SUCH_POD');
    failsJson(await w.run(['container', 'create', '-v', 'nope:/d', 'img', '--format', 'json']), 'NO_SUCH_VOLUME');
    failsJson(
      await w.run(['container', 'create', '--label', 'novalue', 'img', '--format', 'json']),
      'INVALID_ARGUMENT',
      2,
    );
    usageError(await w.run(['container', 'create']));
    expect(await w.containers()).toHaveLength(4);
  });

  it('rm removes stopped containers, refuses running ones without -f, and removes them with -f', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(
      ok(await w.run(['container', 'rm', 'db', 'job']))
        .trim()
        .split('\n'),
    ).toEqual([IDS.db, IDS.job]);
    const msg = fails(await w.run(['container', 'rm', 'web']));
    expect(msg).toMatch(/running/);
    expect(msg).toMatch(/-f/);
    failsBatchJson(await w.run(['container', 'rm', 'web', '--format', 'json']), 'web', 'INVALID_ARGUMENT');
    await w.seed(async (s) => {
      expect((await s.allContainers()).map((c) => c.config.name).sort()).toEqual(['other', 'web']);
      await s.addExecSession(await s.lookupContainer('web'), { id: hexId('e5'), containerId: IDS.web });
    });
    expect(
      okJson<{ removed: string[] }>(await w.run(['container', 'remove', '-f', 'web', '--format', 'json'])),
    ).toEqual({
      removed: [IDS.web],
      failed: [],
    });
    await w.seed(async (s) => {
      expect((await s.allContainers()).map((c) => c.config.name)).toEqual(['other']);
      await expect(s.getExecSession(hexId('e5'))).rejects.toMatchObject({ code: 'NO_SUCH_EXEC_SESSION' });
    });
  });

  it('rm of an unknown container or one others depend on is an error and removes nothing', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      await s.addContainer({ config: { id: IDS.db, name: 'base' }, state: { status: 'configured' } });
      await s.addContainer({
        config: { id: IDS.job, name: 'dep', dependencies: [IDS.db] },
        state: { status: 'configured' },
      });
    });
    failsBatchJson(await w.run(['container', 'rm', 'nope', '--format', 'json']), 'nope', 'NO_SUCH_CONTAINER');
    const err = failsBatchJson(
      await w.run(['container', 'rm', 'base', '--format', 'json']),
      'base',
      'DEPENDENCY_EXISTS',
    );
    expect(err.failed[0]!.error.message).toMatch(/base/);
    expect((await w.containers()).map((c) => c.config.name).sort()).toEqual(['base', 'dep']);
  });

  it('rename gives a container a new name; a taken or invalid name is refused', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(ok(await w.run(['container', 'rename', 'db', 'database']))).toBe('');
    await w.seed(async (s) => {
      expect((await s.container(IDS.db)).config.name).toBe('database');
      await expect(s.lookupContainer('db')).rejects.toMatchObject({ code: 'NO_SUCH_CONTAINER' });
    });
    failsJson(await w.run(['container', 'rename', 'database', 'web', '--format', 'json']), 'CONTAINER_EXISTS');
    failsJson(await w.run(['container', 'rename', 'database', 'bad name', '--format', 'json']), 'INVALID_NAME');
    failsJson(await w.run(['container', 'rename', 'nope', 'x', '--format', 'json']), 'NO_SUCH_CONTAINER');
  });
});

describe.concurrent('global options and the store location', () => {
  it('--store, --namespace and --format work before and after the subcommand', async (t) => {
    const w = cliWorld(t);
    const store = `${w.dir}/elsewhere/b.db`;
    const created = okJson<{ id: string }>(
      await w.run([
        '--store',
        store,
        '--namespace',
        'team',
        '--format',
        'json',
        'container',
        'create',
        '--name',
        'c1',
        'img',
      ]),
    );
    const after = okJson<PsRow[]>(
      await w.run(['container', 'ls', '-a', '--store', store, '--namespace', 'team', '--format', 'json']),
    );
    expect(after.map((r) => [r.id, r.namespace])).toEqual([[created.id, 'team']]);
    const mixed = okJson<PsRow[]>(await w.run(['--store', store, 'ps', '-a', '--format=json', '--namespace=team']));
    // The same rows (podman's relative CreatedAt and Status may have moved on a second).
    const berthKeys = (rows: PsRow[]): unknown[] =>
      rows.map(({ id, name, namespace, pod, image, status, createdAt, labels }) => ({
        id,
        name,
        namespace,
        pod,
        image,
        status,
        createdAt,
        labels,
      }));
    expect(berthKeys(mixed)).toEqual(berthKeys(after));
    // The BERTH_STORE store was not touched (not even created: ps only reads).
    failsJson(await w.run(['ps', '-a', '--format', 'json']), 'NO_SUCH_STORE');
    expect(existsSync(w.store)).toBe(false);
  });

  it('BERTH_STORE selects the store when --store is not given', async (t) => {
    const w = cliWorld(t);
    await seedContainers(w);
    expect(okJson<PsRow[]>(await w.run(['ps', '-a', '--format', 'json']))).toHaveLength(4);
    const other = `${w.dir}/other.db`;
    // A named store that does not exist: ps, which only reads, creates nothing.
    failsJson(await w.run(['ps', '-a', '--format', 'json'], { env: { BERTH_STORE: other } }), 'NO_SUCH_STORE');
    expect(existsSync(other)).toBe(false);
    const init = okJson<{ store: string }>(await w.run(['init', '--format', 'json'], { env: { BERTH_STORE: other } }));
    expect(init.store).toBe(other);
    expect(okJson<PsRow[]>(await w.run(['ps', '-a', '--format', 'json'], { env: { BERTH_STORE: other } }))).toEqual([]);
  });

  it('an invalid --format is a usage error', async (t) => {
    const w = cliWorld(t);
    usageError(await w.run(['--format', 'yaml', 'ps']));
    usageError(await w.run(['ps', '--format', 'yaml']));
  });
});
