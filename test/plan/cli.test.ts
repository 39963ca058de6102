import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { openStore } from '../../src/index.js';
import { EXAMPLES, REPO_ROOT } from './helpers.js';

/*
 * `berth plan | apply | destroy | graph` as a user runs them: the built binary in a
 * subprocess, with its own store (BERTH_STORE), its own working directory and NO_COLOR.
 * Tests run concurrently (each owns its world); the steps inside a test run in order.
 */

const BIN = join(REPO_ROOT, 'dist', 'bin', 'berth.js');
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`the CLI tests run the built binary ${BIN}: run \`npm run build\` first`);
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface World {
  cwd: string;
  store: string;
  berth(...args: string[]): Promise<Result>;
  /** Writes a file in the working directory; returns its name. */
  write(name: string, text: string): string;
}

/** A temp working directory (with the store in it), removed when the test passes. */
function world(ctx: TestContext): World {
  const cwd = mkdtempSync(join(tmpdir(), 'berth-plan-cli-'));
  ctx.onTestFinished((c) => {
    if (c.task.result?.state !== 'fail') rmSync(cwd, { recursive: true, force: true });
  });
  const store = join(cwd, 'store', 'berth.db');
  return {
    cwd,
    store,
    async berth(...args) {
      const env: NodeJS.ProcessEnv = { ...process.env, BERTH_STORE: store, NO_COLOR: '1' };
      delete env.BERTH_WORKSPACE;
      delete env.FORCE_COLOR;
      // stdin is an empty pipe, never a terminal: confirmations need --auto-approve.
      const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin.end();
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(stdout + stderr).not.toMatch(ANSI);
      return { code, stdout, stderr };
    },
    write(name, text) {
      writeFileSync(join(cwd, name), text);
      return name;
    },
  };
}

function shop(w: World, name = 'berth.yaml'): string {
  copyFileSync(join(EXAMPLES, 'shop.yaml'), join(w.cwd, name));
  return name;
}

function jsonError(r: Result): { code: string; message: string; details?: Record<string, unknown> } {
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
}

async function containerNames(w: World): Promise<string[]> {
  const store = await openStore({ path: w.store });
  try {
    return (await store.allContainers()).map((c) => c.config.name).sort();
  } finally {
    await store.close();
  }
}

describe.concurrent('berth plan', () => {
  it('shows creates with +, then after changes ~ (update), -/+ (replace) and - (delete), and a summary', async (ctx) => {
    const w = world(ctx);
    shop(w);
    const first = await w.berth('plan');
    expect(first.code).toBe(0);
    for (const key of ['container/db', 'container/web-app', 'container/web-nginx', 'pod/web', 'volume/pgdata']) {
      expect(first.stdout).toMatch(new RegExp(`^ +\\+ ${key}$`, 'm'));
    }
    expect(first.stdout).toMatch(/Plan: 5 to add, 0 to change, 0 to replace, 0 to destroy\./);

    expect((await w.berth('apply', '--auto-approve')).code).toBe(0);
    const text = readFileSync(join(w.cwd, 'berth.yaml'), 'utf8')
      .replace('labels: { app: web }', 'labels: { app: web, tier: front }')
      .replace("image: 'postgres:16'", "image: 'postgres:17'")
      .replace(/      web-nginx:.*\n/, '');
    w.write('berth.yaml', text);
    const second = await w.berth('plan');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^ +~ pod\/web\n +\+ labels\.tier = "front"$/m);
    expect(second.stdout).toMatch(
      /^ +-\/\+ container\/db \(forces replacement\)\n +~ image = "postgres:16" -> "postgres:17" # forces replacement$/m,
    );
    expect(second.stdout).toMatch(/^ +- container\/web-nginx$/m);
    expect(second.stdout).not.toMatch(/container\/web-app/);
    expect(second.stdout).toMatch(/Plan: 0 to add, 1 to change, 1 to replace, 1 to destroy\./);
  });

  it('--format json prints exactly one plan/v1 document', async (ctx) => {
    const w = world(ctx);
    shop(w);
    const r = await w.berth('plan', '--format', 'json');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { format: string; digest: string; namespace: string; changes: unknown[] };
    expect(plan).toMatchObject({ format: 'plan/v1', namespace: 'shop', workspace: 'default', mode: 'apply' });
    expect(plan.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.changes).toHaveLength(5);
  });

  it('--detailed-exitcode: 2 with changes, 0 without', async (ctx) => {
    const w = world(ctx);
    shop(w);
    const changes = await w.berth('plan', '--detailed-exitcode');
    expect(changes.code).toBe(2);
    expect((await w.berth('apply', '--auto-approve')).code).toBe(0);
    const none = await w.berth('plan', '--detailed-exitcode');
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/No changes/);
  });

  it('a manifest error is printed as `Error: <file>:<line>:<col>: ...` with exit 1', async (ctx) => {
    const w = world(ctx);
    w.write('bad.yaml', 'version: 1\nnamespace: shop\ncontainers:\n  web:\n    imagee: nginx\n');
    const r = await w.berth('plan', '-f', 'bad.yaml');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: bad\.yaml:5:5: unknown key "imagee"/);
    const json = await w.berth('plan', '-f', 'bad.yaml', '--format', 'json');
    expect(json.code).toBe(1);
    expect(jsonError(json)).toMatchObject({
      code: 'MANIFEST_INVALID',
      details: { file: 'bad.yaml', line: 5, column: 5, key: 'imagee' },
    });
  });

  it('a dependency cycle is DEPENDENCY_CYCLE', async (ctx) => {
    const w = world(ctx);
    w.write('berth.yaml', 'version: 1\ncontainers:\n  a: { dependsOn: [b] }\n  b: { dependsOn: [a] }\n');
    const r = await w.berth('plan', '--format', 'json');
    expect(r.code).toBe(1);
    expect(jsonError(r).code).toBe('DEPENDENCY_CYCLE');
  });
});

describe.concurrent('saved plans', () => {
  it('plan --out FILE, then apply FILE applies exactly it; applying it again is PLAN_ALREADY_APPLIED', async (ctx) => {
    const w = world(ctx);
    shop(w);
    const planned = await w.berth('plan', '--out', 'shop.plan');
    expect(planned.code).toBe(0);
    expect(planned.stdout).toMatch(/berth apply shop\.plan/);
    expect(statSync(join(w.cwd, 'shop.plan')).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(join(w.cwd, 'shop.plan'), 'utf8')) as { format: string };
    expect(saved.format).toBe('plan/v1');

    // Changing the manifest afterwards does not matter: the saved plan is what applies.
    w.write('berth.yaml', 'version: 1\nnamespace: shop\n');
    const applied = await w.berth('apply', 'shop.plan');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/Apply complete! 5 added, 0 changed, 0 replaced, 0 destroyed\./);
    expect(await containerNames(w)).toEqual(['db', 'web-app', 'web-nginx']);

    const again = await w.berth('apply', 'shop.plan');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: .*already applied/);
    const againJson = await w.berth('apply', 'shop.plan', '--format', 'json');
    expect(againJson.code).toBe(1);
    expect(jsonError(againJson).code).toBe('PLAN_ALREADY_APPLIED');
    expect(await containerNames(w)).toEqual(['db', 'web-app', 'web-nginx']);
  });

  it('a saved plan made stale by another apply is PLAN_STALE', async (ctx) => {
    const w = world(ctx);
    shop(w);
    expect((await w.berth('plan', '--out', 'a.plan')).code).toBe(0);
    w.write('other.yaml', 'version: 1\nnamespace: shop\ncontainers:\n  solo: { image: x }\n');
    expect((await w.berth('apply', '-f', 'other.yaml', '--auto-approve')).code).toBe(0);
    const r = await w.berth('apply', 'a.plan', '--format', 'json');
    expect(r.code).toBe(1);
    expect(jsonError(r).code).toBe('PLAN_STALE');
    expect(await containerNames(w)).toEqual(['solo']);
  });

  it('a tampered plan file is PLAN_INVALID and changes nothing', async (ctx) => {
    const w = world(ctx);
    shop(w);
    expect((await w.berth('plan', '--out', 'shop.plan')).code).toBe(0);
    const text = readFileSync(join(w.cwd, 'shop.plan'), 'utf8');
    expect(text).toContain('postgres:16');
    w.write('shop.plan', text.replace('postgres:16', 'postgres:6.6.6'));
    const r = await w.berth('apply', 'shop.plan', '--format', 'json');
    expect(r.code).toBe(1);
    expect(jsonError(r).code).toBe('PLAN_INVALID');
    w.write('garbage.plan', '{ not json');
    const g = await w.berth('apply', 'garbage.plan', '--format', 'json');
    expect(g.code).toBe(1);
    expect(jsonError(g).code).toBe('PLAN_INVALID');
    expect(await containerNames(w)).toEqual([]);
  });
});

describe.concurrent('berth apply -f and destroy', () => {
  it('apply -f FILE without a terminal needs --auto-approve; nothing is changed without it', async (ctx) => {
    const w = world(ctx);
    const file = shop(w, 'shop.yaml');
    const refused = await w.berth('apply', '-f', file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--auto-approve/);
    expect(await containerNames(w)).toEqual([]);
    const ok = await w.berth('apply', '-f', file, '--auto-approve');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/Workspace "default" is at serial 1\./);
    expect(await containerNames(w)).toEqual(['db', 'web-app', 'web-nginx']);
  });

  it('apply --format json prints one document with the result', async (ctx) => {
    const w = world(ctx);
    shop(w);
    const r = await w.berth('apply', '--auto-approve', '--format', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ applied: true, workspace: 'default', namespace: 'shop', serial: 1 });
  });

  it('destroy --auto-approve removes everything the workspace manages; without it and without a terminal it refuses', async (ctx) => {
    const w = world(ctx);
    shop(w);
    expect((await w.berth('apply', '--auto-approve')).code).toBe(0);
    const refused = await w.berth('destroy');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--auto-approve/);
    expect(await containerNames(w)).toHaveLength(3);
    const r = await w.berth('destroy', '--auto-approve');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +- container\/db$/m);
    expect(r.stdout).toMatch(/Destroy complete! 5 destroyed\./);
    expect(await containerNames(w)).toEqual([]);
    const store = await openStore({ path: w.store });
    try {
      expect(await store.allVolumes()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('plan --destroy shows the deletes', async (ctx) => {
    const w = world(ctx);
    shop(w);
    expect((await w.berth('apply', '--auto-approve')).code).toBe(0);
    const r = await w.berth('plan', '--destroy', '--detailed-exitcode');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/Plan: 0 to add, 0 to change, 0 to replace, 5 to destroy\./);
  });
});

describe.concurrent('berth graph', () => {
  it('prints DOT: pods as clusters, volumes as cylinders, dependencies and (dashed) mounts', async (ctx) => {
    const w = world(ctx);
    shop(w);
    const r = await w.berth('graph');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('digraph berth {\n')).toBe(true);
    expect(r.stdout.trimEnd().endsWith('}')).toBe(true);
    expect(r.stdout).toContain('"volume/pgdata" [shape=cylinder];');
    expect(r.stdout).toMatch(/subgraph "cluster_web" \{[^}]*"container\/web-nginx";[^}]*\}/);
    expect(r.stdout).toContain('"container/web-nginx" -> "container/web-app";');
    expect(r.stdout).toContain('"container/db" -> "volume/pgdata" [style=dashed];');
  });

  it('--mermaid prints a Mermaid flowchart', async (ctx) => {
    const w = world(ctx);
    const file = shop(w, 'shop.yaml');
    const r = await w.berth('graph', '-f', file, '--mermaid');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('graph LR\n')).toBe(true);
    expect(r.stdout).toContain('subgraph pod_web[pod web]');
    expect(r.stdout).toContain('container_web_nginx --> container_web_app');
    expect(r.stdout).toContain('container_db -.-> volume_pgdata');
  });

  it('without a manifest, graphs what the selected workspace manages', async (ctx) => {
    const w = world(ctx);
    const file = shop(w, 'shop.yaml');
    expect((await w.berth('apply', '-f', file, '--auto-approve')).code).toBe(0);
    const r = await w.berth('graph');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"container/web-nginx" -> "container/web-app";');
    expect(r.stdout).toContain('"container/db" -> "volume/pgdata" [style=dashed];');
  });
});
