import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BERTH_VERSION } from '../../src/version.js';
import { cliWorld, fails, failsJson, hexId, ok, okJson, requireBuiltCli, usageError } from './helpers.js';
import { IDS, lines, seed } from './podman-seed.js';

/* podman's other spellings: pod create NAME, pod ps, volume ls, top-level rm, inspect and version. */

requireBuiltCli();

describe.concurrent('pods and volumes as podman spells them', () => {
  it('pod create takes the name as an argument (or --name) with labels; pod ps lists pods like pod ls', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['pod', 'create', '--label', 'app=shop', 'web'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    ok(await w.run(['pod', 'create', '--name', 'db']));
    expect(usageError(await w.run(['pod', 'create', '--name', 'a', 'b']))).toMatch(/two names/);
    const ps = ok(await w.run(['pod', 'ps']));
    expect(ok(await w.run(['pod', 'ps', '-q']))).toBe(ok(await w.run(['pod', 'ls', '-q'])));
    expect(lines(ps)[0]).toMatch(/^POD ID {2,}NAME {2,}STATUS {2,}CREATED {2,}# OF CONTAINERS$/);
    const out = ok(
      await w.run([
        'pod',
        'ps',
        '-f',
        'label=app=shop',
        '--format',
        '{{.Name}} {{.Labels}} {{.NumberOfContainers}} {{.Status}}',
      ]),
    );
    expect(out).toBe('web app=shop 0 Created\n');
    expect(ok(await w.run(['pod', 'ps', '--no-trunc', '-f', 'name=web', '--format', '{{.ID}}']))).toBe(`${id}\n`);
    expect(lines(ok(await w.run(['pod', 'ps', '--format', 'table {{.ID}}\\t{{.Name}}', '-f', 'name=web'])))).toEqual([
      'POD ID        NAME',
      `${id.slice(0, 12)}  web`,
    ]);
    const json = okJson<Record<string, unknown>[]>(await w.run(['pod', 'ps', '-f', 'name=web', '--format', 'json']));
    expect(json[0]).toMatchObject({
      id,
      name: 'web',
      containers: 0,
      Id: id,
      Name: 'web',
      Status: 'Created',
      Labels: { app: 'shop' },
    });
    expect(JSON.parse(ok(await w.run(['pod', 'ps', '-f', 'name=web', '--format', '{{json .}}'])))).toEqual(json[0]);
    expect(usageError(await w.run(['pod', 'ps', '-f', 'status=bogus']))).toMatch(/degraded/);
    expect(usageError(await w.run(['pod', 'ps', '--format', '{{.Names}}']))).toMatch(/\.Name,/);
  });

  it('volume ls filters and takes a template', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    ok(await w.run(['volume', 'create', '--label', 'keep=yes', 'spare']));
    expect(ok(await w.run(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}}']))).toBe(
      'data local \nspare local keep=yes\n',
    );
    expect(ok(await w.run(['volume', 'ls', '-f', 'dangling=true', '--format', '{{.Name}}']))).toBe('spare\n');
    expect(lines(ok(await w.run(['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Scope}}'])))).toEqual([
      'VOLUME NAME  SCOPE',
      'data         local',
      'spare        local',
    ]);
    const json = okJson<Record<string, unknown>[]>(await w.run(['volume', 'ls', '--format', 'json']));
    expect(json[1]).toMatchObject({
      name: 'spare',
      driver: 'local',
      Name: 'spare',
      Driver: 'local',
      Labels: { keep: 'yes' },
    });
    expect(usageError(await w.run(['volume', 'ls', '-f', 'colour=red']))).toMatch(/colour/);
  });
});

describe.concurrent('rm, inspect and version', () => {
  it('berth rm removes containers as container rm does', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    expect(ok(await w.run(['rm', 'job']))).toBe(`${IDS.job}\n`);
    expect(fails(await w.run(['rm', 'web']))).toMatch(/running/);
    expect(ok(await w.run(['rm', '-f', 'web']))).toBe(`${IDS.web}\n`);
    expect(lines(ok(await w.run(['ps', '-a', '--format', '{{.Names}}'])))).toEqual(['db', 'done']);
  });

  it('berth inspect tries each name as a container, then a pod, then a volume', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const docs = okJson<{ config: { id?: string; name: string }; containers?: string[] }[]>(
      await w.run(['inspect', 'web', 'shop', 'data']),
    );
    expect(docs.map((d) => d.config.name)).toEqual(['web', 'shop', 'data']);
    expect(docs[1]!.containers).toEqual([IDS.web]);
    expect(ok(await w.run(['inspect', 'web', 'shop', 'data', '--format', '{{.Name}}']))).toBe('web\nshop\ndata\n');
    expect(
      ok(await w.run(['inspect', 'job', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.Config.Cmd}}'])),
    ).toBe('exited 3 false\n');
    expect(
      ok(await w.run(['container', 'inspect', 'web', '--format', '{{.Id}} {{.Labels.app}} {{.config.image}}'])),
    ).toBe(`${IDS.web} web registry.example.com/shop/worker:1.0\n`);
    const whole = JSON.parse(ok(await w.run(['volume', 'inspect', 'data', '--format', '{{json .}}']))) as {
      config: { name: string };
    };
    expect(whole.config.name).toBe('data');
    expect(ok(await w.run(['pod', 'inspect', 'shop', '--format', '{{.NumContainers}}']))).toBe('1\n');
    const err = failsJson(await w.run(['inspect', 'nothing', '--format', 'json']), 'NO_SUCH_CONTAINER');
    expect(err.message).toMatch(/no container, pod or volume named "nothing"/);
    expect(usageError(await w.run(['inspect', 'web', '--format', '{{.Nope}}']))).toMatch(/\.Id, \.Name/);
    // --type tries one kind only, with that kind's own error.
    expect(ok(await w.run(['inspect', '--type', 'pod', 'shop', '--format', '{{.Name}}']))).toBe('shop\n');
    failsJson(await w.run(['inspect', '--type', 'volume', 'web', '--format', 'json']), 'NO_SUCH_VOLUME');
    failsJson(await w.run(['inspect', '-t', 'container', 'data', '--format', 'json']), 'NO_SUCH_CONTAINER');
    expect(usageError(await w.run(['inspect', '--type', 'image', 'web']))).toMatch(/container, pod, volume or all/);
    expect(usageError(await w.run(['inspect', '--type', 'pod', 'shop', '--format', '{{.Image}}']))).toMatch(
      /pods have no field \.Image/,
    );
    // A field only pods have, on a volume.
    expect(usageError(await w.run(['inspect', 'data', '--format', '{{.NumContainers}}']))).toMatch(
      /volumes have no field/,
    );
  });

  it("berth version prints the version; with --format json also Node's version and the platform", async (t) => {
    const w = cliWorld(t);
    expect(ok(await w.run(['version']))).toBe(`berth version ${BERTH_VERSION}\n`);
    expect(okJson(await w.run(['version', '--format', 'json']))).toEqual({
      version: BERTH_VERSION,
      node: process.versions.node,
      platform: process.platform,
      arch: process.arch,
    });
    expect(ok(await w.run(['--version']))).toBe(`${BERTH_VERSION}\n`);
    // It needs no store.
    expect(existsSync(w.store)).toBe(false);
  });
});

it('hexId keeps the seed ids apart', () => {
  expect(new Set(Object.values(IDS)).size).toBe(Object.keys(IDS).length);
  expect(hexId('a1f3')).toBe(IDS.web);
});
