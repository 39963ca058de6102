import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliWorld, fails, failsJson, ok, okJson, requireBuiltCli, usageError, type CliWorld } from './helpers.js';

requireBuiltCli();

interface WorkspaceList {
  workspaces: { name: string; selected: boolean; serial: number; locked: boolean }[];
}

interface StateDoc {
  workspace: string;
  lineage: string;
  serial: number;
  state: unknown;
  checksum: string | null;
}

interface Envelope {
  version: number;
  kind: string;
  namespace: string;
  workspace: string;
  lineage: string;
  serial: number;
  checksum: string | null;
  state: unknown;
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** Creates workspaces through the library (no selection). */
async function createWorkspaces(w: CliWorld, ...names: string[]): Promise<void> {
  await w.seed(async (s) => {
    for (const n of names) await s.workspaces.create(n);
  });
}

/** Selects `name` in the world's working directory, as `workspace select` records it (DESIGN.md §4). */
function selectByFile(w: CliWorld, name: string): void {
  mkdirSync(join(w.cwd, '.berth'), { recursive: true });
  writeFileSync(join(w.cwd, '.berth', 'workspace'), `${name}\n`);
}

/** Workspace names, read through the library. */
async function workspaceNames(w: CliWorld): Promise<string[]> {
  return w.seed(async (s) => (await s.workspaces.list()).map((x) => x.name).sort());
}

/** Writes each of `states` to `workspace` (creating it unless it is default). */
async function writeStates(w: CliWorld, workspace: string, ...states: unknown[]): Promise<void> {
  await w.seed(async (s) => {
    if (workspace !== 'default' && !(await s.workspaces.list()).some((x) => x.name === workspace)) {
      await s.workspaces.create(workspace);
    }
    for (const st of states) await s.workspaces.writeState(workspace, st);
  });
}

describe.concurrent('berth workspace', () => {
  it('show prints only the name of the selected workspace: default in a fresh directory', async (t) => {
    const w = cliWorld(t);
    expect(ok(await w.run(['workspace', 'show']))).toBe('default\n');
  });

  it('new creates the workspace and selects it in the working directory', async (t) => {
    const w = cliWorld(t);
    expect(ok(await w.run(['workspace', 'new', 'dev']))).toMatch(/dev/);
    expect(readFileSync(join(w.cwd, '.berth', 'workspace'), 'utf8').trim()).toBe('dev');
    expect(await workspaceNames(w)).toEqual(['default', 'dev']);
    expect(ok(await w.run(['workspace', 'show']))).toBe('dev\n');
    // The selection is local to the working directory.
    expect(ok(await w.run(['workspace', 'show'], { cwd: w.subdir('elsewhere') }))).toBe('default\n');
  });

  it('new refuses an existing or invalid name and keeps the selection', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev');
    expect(fails(await w.run(['workspace', 'new', 'dev']))).toMatch(/dev/);
    failsJson(await w.run(['workspace', 'new', 'dev', '--format', 'json']), 'WORKSPACE_EXISTS');
    failsJson(await w.run(['workspace', 'new', 'bad/name', '--format', 'json']), 'INVALID_NAME');
    failsJson(await w.run(['workspace', 'new', '..', '--format', 'json']), 'INVALID_NAME');
    usageError(await w.run(['workspace', 'new']));
    expect(ok(await w.run(['workspace', 'show']))).toBe('default\n');
    expect(await workspaceNames(w)).toEqual(['default', 'dev']);
  });

  it('list marks the selected workspace with a line starting "* "', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev', 'prod');
    selectByFile(w, 'dev');
    const out = lines(ok(await w.run(['workspace', 'list'])));
    expect(out.filter((l) => l.startsWith('* '))).toEqual(['* dev']);
    expect(out.map((l) => l.slice(2)).sort()).toEqual(['default', 'dev', 'prod']);
    for (const l of out) expect(l).toMatch(/^(\* | {2})\S/);
  });

  it('list --format json prints {"workspaces":[{name, selected, serial, locked}]}', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'dev', { a: 1 }, { a: 2 });
    selectByFile(w, 'dev');
    await w.seed(async (s) => void (await s.workspaces.lock('default', { operation: 'test', pid: 0 })));
    const doc = okJson<WorkspaceList>(await w.run(['workspace', 'list', '--format', 'json']));
    expect(Object.keys(doc)).toEqual(['workspaces']);
    for (const ws of doc.workspaces) expect(Object.keys(ws).sort()).toEqual(['locked', 'name', 'selected', 'serial']);
    expect([...doc.workspaces].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'default', selected: false, serial: 0, locked: true },
      { name: 'dev', selected: true, serial: 2, locked: false },
    ]);
  });

  it('select switches to an existing workspace', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev');
    expect(ok(await w.run(['workspace', 'select', 'dev']))).toMatch(/dev/);
    expect(readFileSync(join(w.cwd, '.berth', 'workspace'), 'utf8').trim()).toBe('dev');
    expect(ok(await w.run(['workspace', 'show']))).toBe('dev\n');
  });

  it('select of a missing workspace is NO_SUCH_WORKSPACE, says how to create it, and keeps the selection', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev');
    selectByFile(w, 'dev');
    expect(fails(await w.run(['workspace', 'select', 'nope']))).toMatch(/workspace new nope|--or-create/);
    failsJson(await w.run(['workspace', 'select', 'nope', '--format', 'json']), 'NO_SUCH_WORKSPACE');
    expect(ok(await w.run(['workspace', 'show']))).toBe('dev\n');
    expect(await workspaceNames(w)).toEqual(['default', 'dev']);
  });

  it('select --or-create creates a missing workspace and selects it', async (t) => {
    const w = cliWorld(t);
    const doc = okJson<{ workspace: string; created: boolean }>(
      await w.run(['workspace', 'select', '--or-create', 'stage', '--format', 'json']),
    );
    expect(doc).toEqual({ workspace: 'stage', created: true });
    expect(await workspaceNames(w)).toEqual(['default', 'stage']);
    expect(ok(await w.run(['workspace', 'show']))).toBe('stage\n');
    expect(okJson(await w.run(['workspace', 'select', 'stage', '--or-create', '--format', 'json']))).toEqual({
      workspace: 'stage',
      created: false,
    });
  });

  it('BERTH_WORKSPACE overrides the selection, and select says so on stderr', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev', 'prod');
    selectByFile(w, 'dev');
    const env = { BERTH_WORKSPACE: 'prod' };
    expect(ok(await w.run(['workspace', 'show'], { env }))).toBe('prod\n');
    expect(lines(ok(await w.run(['workspace', 'list'], { env }))).filter((l) => l.startsWith('* '))).toEqual([
      '* prod',
    ]);
    const r = await w.run(['workspace', 'select', 'default'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/BERTH_WORKSPACE/);
    expect(r.stdout).not.toMatch(/BERTH_WORKSPACE/);
    // The selection file changed, but the variable still wins.
    expect(readFileSync(join(w.cwd, '.berth', 'workspace'), 'utf8').trim()).toBe('default');
    expect(ok(await w.run(['workspace', 'show'], { env }))).toBe('prod\n');
  });

  it('delete removes a workspace', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'tmp');
    expect(ok(await w.run(['workspace', 'delete', 'tmp']))).toMatch(/tmp/);
    expect(await workspaceNames(w)).toEqual(['default']);
    failsJson(await w.run(['workspace', 'delete', 'tmp', '--format', 'json']), 'NO_SUCH_WORKSPACE');
  });

  it('delete refuses the default workspace', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev');
    selectByFile(w, 'dev');
    failsJson(await w.run(['workspace', 'delete', 'default', '--format', 'json']), 'DEFAULT_WORKSPACE');
    expect(await workspaceNames(w)).toEqual(['default', 'dev']);
  });

  it('delete refuses the selected workspace, whether selected by file or by BERTH_WORKSPACE', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'dev', 'prod');
    selectByFile(w, 'dev');
    expect(fails(await w.run(['workspace', 'delete', 'dev']))).toMatch(/select/);
    const r = await w.run(['workspace', 'delete', 'prod', '--format', 'json'], { env: { BERTH_WORKSPACE: 'prod' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(await workspaceNames(w)).toEqual(['default', 'dev', 'prod']);
  });

  it('delete refuses a non-empty workspace without --force and deletes it with --force', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'full', { resources: [1] });
    expect(fails(await w.run(['workspace', 'delete', 'full']))).toMatch(/force/);
    failsJson(await w.run(['workspace', 'delete', 'full', '--format', 'json']), 'WORKSPACE_NOT_EMPTY');
    expect(await workspaceNames(w)).toEqual(['default', 'full']);
    ok(await w.run(['workspace', 'delete', 'full', '--force']));
    expect(await workspaceNames(w)).toEqual(['default']);
  });

  it('delete refuses a locked workspace even with --force', async (t) => {
    const w = cliWorld(t);
    await createWorkspaces(w, 'busy');
    const id = ok(await w.run(['state', 'lock'], { env: { BERTH_WORKSPACE: 'busy' } })).trim();
    const err = failsJson(await w.run(['workspace', 'delete', 'busy', '--force', '--format', 'json']), 'LOCKED');
    expect(err.message).toContain(`berth force-unlock ${id}`);
    expect(await workspaceNames(w)).toEqual(['busy', 'default']);
  });
});

describe.concurrent('berth state', () => {
  it('show prints the selected workspace state; before any write, that nothing was written', async (t) => {
    const w = cliWorld(t);
    // state show only reads: the named store must exist.
    ok(await w.run(['init']));
    const empty = okJson<StateDoc>(await w.run(['state', 'show', '--format', 'json']));
    expect(empty).toMatchObject({ workspace: 'default', serial: 0, state: null, checksum: null });
    expect(ok(await w.run(['state', 'show']))).toMatch(/no state/);
    await writeStates(w, 'default', { app: 'v1' });
    const r = await w.run(['state', 'show']);
    expect(JSON.parse(ok(r))).toEqual({ app: 'v1' });
    expect(r.stderr).toMatch(/serial 1/);
  });

  it('state commands act on the selected workspace', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'dev', { env: 'dev' });
    await writeStates(w, 'prod', { env: 'prod' });
    selectByFile(w, 'dev');
    expect(okJson<StateDoc>(await w.run(['state', 'show', '--format', 'json']))).toMatchObject({
      workspace: 'dev',
      state: { env: 'dev' },
    });
    const env = { BERTH_WORKSPACE: 'prod' };
    expect(okJson<StateDoc>(await w.run(['state', 'show', '--format', 'json'], { env }))).toMatchObject({
      workspace: 'prod',
      state: { env: 'prod' },
    });
  });

  it('history lists the versions newest first, as a table or JSON, with --limit', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { v: 1 }, { v: 2 }, { v: 3 });
    const [header, ...rows] = lines(ok(await w.run(['state', 'history'])));
    expect(header).toMatch(/^SERIAL {2,}CREATED {2,}WHO {2,}OPERATION {2,}CHECKSUM$/);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(['3', '2', '1']);
    for (const r of rows) expect(r).toMatch(/ ago /);
    const doc = okJson<{ workspace: string; history: { serial: number; checksum: string }[] }>(
      await w.run(['state', 'history', '--format', 'json', '--limit', '2']),
    );
    expect(doc.workspace).toBe('default');
    expect(doc.history.map((h) => h.serial)).toEqual([3, 2]);
    expect(doc.history[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rollback SERIAL writes that version as a new serial, under the workspace lock', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { v: 1 }, { v: 2 });
    expect(ok(await w.run(['state', 'rollback', '1', '--force']))).toMatch(/serial 3/);
    expect(await w.readState('default')).toMatchObject({ serial: 3, state: { v: 1 } });
    const doc = okJson<{ serial: number; from: number }>(
      await w.run(['state', 'rollback', '2', '--force', '--format', 'json']),
    );
    expect(doc).toMatchObject({ serial: 4, from: 2 });
    expect(await w.readState('default')).toMatchObject({ serial: 4, state: { v: 2 } });
    expect(await w.locks()).toEqual([]);
    await w.seed(async (s) => {
      expect((await s.events.list({ types: ['lock.acquire'] })).map((e) => e.data)).toHaveLength(2);
    });
  });

  it('rollback to an unknown or malformed serial is INVALID_ARGUMENT and changes nothing', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { v: 1 });
    expect(fails(await w.run(['state', 'rollback', '7']))).toMatch(/history/);
    failsJson(await w.run(['state', 'rollback', '7', '--format', 'json']), 'INVALID_ARGUMENT');
    failsJson(await w.run(['state', 'rollback', 'one', '--format', 'json']), 'INVALID_ARGUMENT', 2);
    usageError(await w.run(['state', 'rollback']));
    expect((await w.readState('default')).serial).toBe(1);
    expect(await w.locks()).toEqual([]);
  });

  it('export prints the versioned envelope, and import into another workspace round-trips it', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { app: { image: 'nginx' } }, { app: { image: 'nginx:1.27' } });
    await createWorkspaces(w, 'copy');
    const envelope = okJson<Envelope>(await w.run(['state', 'export']));
    expect(envelope).toMatchObject({
      version: 1,
      kind: 'berth.workspace',
      namespace: '',
      workspace: 'default',
      serial: 2,
      state: { app: { image: 'nginx:1.27' } },
    });
    expect(envelope.checksum).toMatch(/^[0-9a-f]{64}$/);
    const file = join(w.dir, 'export.json');
    writeFileSync(file, JSON.stringify(envelope));
    selectByFile(w, 'copy');
    expect(ok(await w.run(['state', 'import', file]))).toMatch(/copy/);
    expect(await w.readState('copy')).toMatchObject({
      lineage: envelope.lineage,
      serial: 2,
      state: envelope.state,
      checksum: envelope.checksum,
    });
    // Exporting the copy gives the same state back.
    const again = okJson<Envelope>(await w.run(['state', 'export']));
    expect({ ...again, workspace: 'default' }).toEqual(envelope);
  });

  it('import of an older serial is STALE_SERIAL and needs --force', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { v: 1 });
    const file = join(w.dir, 'export.json');
    writeFileSync(file, ok(await w.run(['state', 'export'])));
    await writeStates(w, 'default', { v: 2 });
    failsJson(await w.run(['state', 'import', file, '--format', 'json']), 'STALE_SERIAL');
    expect(await w.readState('default')).toMatchObject({ serial: 2, state: { v: 2 } });
    const doc = okJson<{ serial: number }>(await w.run(['state', 'import', file, '--force', '--format', 'json']));
    expect(doc.serial).toBe(3);
    expect(await w.readState('default')).toMatchObject({ serial: 3, state: { v: 1 } });
  });

  it('import of another lineage into a written workspace is LINEAGE_MISMATCH unless --force', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'other', { from: 'other' });
    await writeStates(w, 'default', { from: 'default' }, { from: 'default' });
    const file = join(w.dir, 'other.json');
    writeFileSync(file, ok(await w.run(['state', 'export'], { env: { BERTH_WORKSPACE: 'other' } })));
    failsJson(await w.run(['state', 'import', file, '--format', 'json']), 'LINEAGE_MISMATCH');
    expect((await w.readState('default')).serial).toBe(2);
    ok(await w.run(['state', 'import', file, '--force']));
    const other = JSON.parse(readFileSync(file, 'utf8')) as Envelope;
    expect(await w.readState('default')).toMatchObject({ lineage: other.lineage, serial: 3, state: { from: 'other' } });
  });

  it('import reads standard input with FILE -', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { v: 'stdin' });
    await createWorkspaces(w, 'copy');
    const text = ok(await w.run(['state', 'export']));
    ok(await w.run(['state', 'import', '-'], { input: text, env: { BERTH_WORKSPACE: 'copy' } }));
    expect((await w.readState('copy')).state).toEqual({ v: 'stdin' });
  });

  it('import of a tampered file fails with INVALID_IMPORT and changes nothing', async (t) => {
    const w = cliWorld(t);
    await writeStates(w, 'default', { replicas: 1 });
    const envelope = okJson<Envelope>(await w.run(['state', 'export']));
    await writeStates(w, 'target', { mine: true });
    selectByFile(w, 'target');
    const before = await w.readState('target');
    const history = await w.seed((s) => s.workspaces.history('target'));
    const tampered = join(w.dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify({ ...envelope, state: { replicas: 100 } }));
    const err = failsJson(await w.run(['state', 'import', tampered, '--force', '--format', 'json']), 'INVALID_IMPORT');
    expect(err.message).toMatch(/checksum/);
    expect(fails(await w.run(['state', 'import', tampered, '--force']))).toMatch(/checksum/);
    const badVersion = join(w.dir, 'bad-version.json');
    writeFileSync(badVersion, JSON.stringify({ ...envelope, version: 99 }));
    failsJson(await w.run(['state', 'import', badVersion, '--force', '--format', 'json']), 'INVALID_IMPORT');
    const notJson = join(w.dir, 'not.json');
    writeFileSync(notJson, '{"version": 1, "kind": ');
    failsJson(await w.run(['state', 'import', notJson, '--format', 'json']), 'INVALID_IMPORT');
    failsJson(await w.run(['state', 'import', join(w.dir, 'missing.json'), '--format', 'json']), 'INVALID_IMPORT');
    expect(await w.readState('target')).toEqual(before);
    expect(await w.seed((s) => s.workspaces.history('target'))).toEqual(history);
    expect(await w.locks()).toEqual([]);
  });
});
