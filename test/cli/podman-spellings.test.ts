import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, cliWorld, ok, okJson, requireBuiltCli, usageError } from './helpers.js';
import { IDS, LONG_IMAGE, lines, names, seed, type PsJson } from './podman-seed.js';

/*
 * `berth ps` as a podman user scripts it: pipes, --no-trunc, Go-template --format, and
 * podman's JSON keys.
 */

requireBuiltCli();

describe.concurrent('berth ps in pipes', () => {
  it('`berth ps -a | grep` finds a long image name: nothing is cut when stdout is not a terminal', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ps -a | grep 'shop/worker:1.0'`], {
      env: w.env({ COLUMNS: '40' }),
      cwd: w.cwd,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(LONG_IMAGE);
    expect(r.stdout).toContain('sh -c exec worker --queue orders --concurrency 8');
    expect(r.stdout).toMatch(/web\n$/);
    expect(r.stdout).not.toContain('…');
  });

  it('on a terminal, COLUMNS narrows the table and --no-trunc keeps every cell whole', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const tty = (args: string): string => {
      // `script` gives berth a pseudo-terminal as stdout.
      const r = spawnSync('script', ['-qec', `"${process.execPath}" "${BIN}" ${args}`, '/dev/null'], {
        env: w.env({ COLUMNS: '70', NO_COLOR: '1' }),
        cwd: w.cwd,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.replace(/\r/g, '');
    };
    const narrow = tty('ps -a');
    for (const line of lines(narrow)) expect(line.length, narrow).toBeLessThanOrEqual(70);
    expect(narrow).toContain('…');
    const whole = tty('ps -a --no-trunc');
    expect(whole).toContain(LONG_IMAGE);
    expect(whole).toContain(IDS.web);
  });

  it("--no-trunc prints whole ids; without it ids are podman's 12 characters", async (t) => {
    const w = cliWorld(t);
    await seed(w);
    expect(lines(ok(await w.run(['ps', '-q'])))).toEqual([IDS.web.slice(0, 12)]);
    expect(lines(ok(await w.run(['ps', '-q', '--no-trunc'])))).toEqual([IDS.web]);
    const table = ok(await w.run(['ps', '--no-trunc', '--pod']));
    expect(table).toContain(IDS.web);
    expect(table).toContain(IDS.pod);
    expect(lines(ok(await w.run(['ps', '--no-trunc', '--format', '{{.ID}} {{.Pod}}'])))).toEqual([
      `${IDS.web} ${IDS.pod}`,
    ]);
    expect(lines(ok(await w.run(['ps', '--format', '{{.ID}} {{.Pod}}'])))).toEqual([
      `${IDS.web.slice(0, 12)} ${IDS.pod.slice(0, 12)}`,
    ]);
  });
});

describe.concurrent('ps --format', () => {
  it('each template field prints what the JSON row holds', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const FIELDS = [
      'ID',
      'Names',
      'Image',
      'Command',
      'Created',
      'RunningFor',
      'CreatedAt',
      'Status',
      'State',
      'ExitCode',
      'Exited',
      'StartedAt',
      'ExitedAt',
      'Pod',
      'PodName',
      'Labels',
      'Labels.tier',
      'Namespace',
      'Mounts',
      'Networks',
    ];
    const out = ok(await w.run(['ps', '-a', '--sort', 'names', '--format', FIELDS.map((f) => `{{.${f}}}`).join('|')]));
    const byName = new Map(
      lines(out).map((l) => {
        const cells = l.split('|');
        return [cells[1]!, Object.fromEntries(FIELDS.map((f, i) => [f, cells[i]]))];
      }),
    );
    const rows = okJson<PsJson[]>(await w.run(['ps', '-a', '--format', 'json']));
    const row = rows.find((r) => r.name === 'web')!;
    expect(byName.get('web')).toEqual({
      ID: IDS.web.slice(0, 12),
      Names: 'web',
      Image: LONG_IMAGE,
      Command: row.Command.join(' '),
      Created: '5 minutes ago',
      RunningFor: '5 minutes ago',
      CreatedAt: row.createdAt,
      Status: 'Up 2 minutes',
      State: 'running',
      ExitCode: '0',
      Exited: 'false',
      StartedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      ExitedAt: '',
      Pod: IDS.pod.slice(0, 12),
      PodName: 'shop',
      Labels: 'app=web,tier=front',
      'Labels.tier': 'front',
      Namespace: '',
      Mounts: 'data',
      Networks: '',
    });
    expect(Math.floor(Date.parse(byName.get('web')!.StartedAt!) / 1000)).toBe(row.StartedAt);
    expect(byName.get('job')).toMatchObject({ ExitCode: '3', Exited: 'true', State: 'exited', PodName: '', Pod: '' });
    expect(byName.get('job')!.ExitedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(byName.get('db')).toMatchObject({ Status: 'Created', State: 'created', Labels: 'tier=db' });
    expect(ok(await w.run(['ps', '--format', '{{json .Labels}}']))).toBe('{"app":"web","tier":"front"}\n');
    const whole = JSON.parse(ok(await w.run(['ps', '--format', '{{json .}}']))) as PsJson;
    expect(whole).toEqual(row);
    // A field beside the whole row is read too.
    expect(ok(await w.run(['ps', '--format', '{{.Mounts}} {{json .Names}}']))).toBe('data "web"\n');
    const [mounts, json] = ok(await w.run(['ps', '--format', '{{.Mounts}}\t{{json .}}'])).split('\t');
    expect(mounts).toBe('data');
    expect(JSON.parse(json!)).toEqual(row);
  });

  it('the table prefix prints headers and aligned columns', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const out = ok(await w.run(['ps', '-a', '--sort', 'names', '--format', 'table {{.ID}} {{.Status}}']));
    expect(lines(out)).toEqual([
      'CONTAINER ID  STATUS',
      `${IDS.db.slice(0, 12)}  Created`,
      `${IDS.done.slice(0, 12)}  Exited (0) 20 minutes ago`,
      `${IDS.job.slice(0, 12)}  Exited (3) 40 minutes ago`,
      `${IDS.web.slice(0, 12)}  Up 2 minutes`,
    ]);
    const tabs = ok(await w.run(['ps', '--format', 'table {{.Names}}\\t{{.PodName}}\\t{{.ExitCode}}']));
    expect(lines(tabs)).toEqual(['NAMES  PODNAME  EXIT CODE', 'web    shop     0']);
    // `--format table` alone is the default table.
    expect(ok(await w.run(['ps', '--format', 'table']))).toBe(ok(await w.run(['ps'])));
  });

  it('an unknown field or a malformed template is a usage error naming the valid fields', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const msg = usageError(await w.run(['ps', '--format', '{{.Name}}']));
    expect(msg).toMatch(/no field \.Name;.*\.Names/);
    expect(usageError(await w.run(['ps', '--format', '{{.Size}}']))).toMatch(/\.ID, \.Names, \.Image/);
    expect(usageError(await w.run(['ps', '--format', '{{.Names']))).toMatch(/never closed/);
    expect(usageError(await w.run(['ps', '--format', 'yaml']))).toMatch(/table, json or a Go template/);
    // A template is for the listing and inspect commands only.
    expect(usageError(await w.run(['workspace', 'list', '--format', '{{.Name}}']))).toMatch(/table or json/);
  });

  it("--format json adds podman's keys beside berth's, which keep their values", async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const rows = okJson<PsJson[]>(await w.run(['ps', '-a', '--format', 'json']));
    const web = rows.find((r) => r.name === 'web')!;
    expect(web).toMatchObject({
      id: IDS.web,
      name: 'web',
      status: 'running',
      Id: IDS.web,
      Names: ['web'],
      Image: LONG_IMAGE,
      Command: ['sh', '-c', 'exec worker --queue orders --concurrency 8'],
      State: 'running',
      Status: 'Up 2 minutes',
      ExitCode: 0,
      Exited: false,
      Pod: IDS.pod,
      PodName: 'shop',
      Labels: { app: 'web', tier: 'front' },
      CreatedAt: '5 minutes ago',
    });
    expect(web.Created).toBe(Math.floor(Date.parse(web.createdAt as string) / 1000));
    const job = rows.find((r) => r.name === 'job')!;
    expect(job).toMatchObject({ status: 'exited', State: 'exited', ExitCode: 3, Exited: true, Pod: '', PodName: '' });
    expect(job.Status).toBe('Exited (3) 40 minutes ago');
  });

  it('the table, the template output and the JSON agree for the same store', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const table = ok(await w.run(['ps', '-a']));
    const template = ok(
      await w.run([
        'ps',
        '-a',
        '--format',
        'table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.Created}}\\t{{.Status}}\\t{{.Names}}',
      ]),
    );
    expect(template).toBe(table);
    const json = okJson<PsJson[]>(await w.run(['ps', '-a', '--format', 'json']));
    const [header, ...rows] = lines(table);
    expect(header).toMatch(/^CONTAINER ID {2,}IMAGE {2,}COMMAND {2,}CREATED {2,}STATUS {2,}NAMES$/);
    expect(rows).toHaveLength(json.length);
    rows.forEach((row, i) => {
      const j = json[i]!;
      expect(row.startsWith(j.Id.slice(0, 12))).toBe(true);
      expect(row).toContain(`  ${j.Image}  `);
      expect(row).toContain(`  ${j.CreatedAt}  `);
      expect(row).toContain(`  ${j.Status}  `);
      expect(row.endsWith(`  ${j.Names[0]}`)).toBe(true);
    });
  });
});
