import { describe, expect, it } from 'vitest';
import { generateSecretsKey } from '../../src/engine/secrets/crypto.js';
import { renderPlan, shownChanges } from '../../src/plan/render.js';
import type { Plan, Store } from '../../src/index.js';
import { manifest, openBerth } from './helpers.js';

/*
 * Golden output of the plan renderer (Terraform's layout with a value per field), on real
 * plans: a create with its attributes, an update with old and new values, a replace with
 * the field that forces it, a delete, drift, an orphan, a rename made through berth, and
 * secret values hidden. The rendered plan and the JSON plan name the same changes.
 */

const V1 = `
  version: 1
  namespace: shop
  volumes:
    pgdata: { driver: local, labels: { tier: db } }
  pods:
    web:
      labels: { app: web }
      containers:
        web-app: { image: "shop/app:2.3", env: { PORT: "8080", DB_PASSWORD: { secret: hunter2 } } }
        web-nginx: { image: "nginx:1.27", dependsOn: [web-app] }
  containers:
    db: { image: "postgres:16", command: [postgres], volumes: ["pgdata:/var/lib/postgresql/data"] }
`;

async function shopStore(): Promise<Store> {
  const store = await openBerth({ secretsKey: generateSecretsKey() });
  return store.withNamespace('shop');
}

async function applied(store: Store, text: string): Promise<void> {
  const plan = await store.plan('default', manifest(text));
  await store.apply(plan, { allowDestroy: true });
}

/** The object lines of a rendered plan: `+ container/db`, `-/+ container/x`, ... */
function objectLines(text: string): string[] {
  return [...text.matchAll(/^ {2}( {2}[+~-]|-\/\+| {2}!) (\S+)/gm)].map((m) => `${m[1]!.trim()} ${m[2]}`);
}

const SYMBOLS: Record<string, string> = { create: '+', update: '~', replace: '-/+', delete: '-' };

/** The changes of the JSON plan in the same form. */
function jsonLines(plan: Plan): string[] {
  const doc = JSON.parse(JSON.stringify(plan)) as Plan;
  return shownChanges(doc).map((c) => `${c.blocked ? '!' : SYMBOLS[c.effective]} ${c.key}`);
}

describe('plan rendering (golden)', () => {
  it('a create lists every attribute with +, and a secret as (sensitive value)', async () => {
    const store = await shopStore();
    const plan = await store.plan('default', manifest(V1));
    const text = renderPlan(plan);
    expect(text).toBe(
      [
        'berth will perform these actions in workspace "default", namespace "shop":',
        '',
        '    + container/db',
        '      + image   = "postgres:16"',
        '      + command = ["postgres"]',
        '      + volumes = ["pgdata:/var/lib/postgresql/data"]',
        '    + container/web-app',
        '      + pod             = "web"',
        '      + image           = "shop/app:2.3"',
        '      + env.DB_PASSWORD = (sensitive value)',
        '      + env.PORT        = "8080"',
        '    + container/web-nginx',
        '      + pod       = "web"',
        '      + image     = "nginx:1.27"',
        '      + dependsOn = ["web-app"]',
        '    + pod/web',
        '      + labels.app = "web"',
        '    + volume/pgdata',
        '      + driver      = "local"',
        '      + labels.tier = "db"',
        '',
        'Plan: 5 to add, 0 to change, 0 to replace, 0 to destroy.',
        '',
      ].join('\n'),
    );
    expect(text).not.toContain('hunter2');
    expect(objectLines(text)).toEqual(jsonLines(plan));
  });

  it('an update shows old -> new per field; a replace marks the field that forces it; a delete lists what goes', async () => {
    const store = await shopStore();
    await applied(store, V1);
    const v2 = V1.replace('labels: { app: web }', 'labels: { app: shop, tier: front }')
      .replace('"postgres:16"', '"postgres:17"')
      .replace('DB_PASSWORD: { secret: hunter2 }', 'DB_PASSWORD: { secret: hunter3 }')
      .replace(/ +web-nginx:.*\n/, '');
    const plan = await store.plan('default', manifest(v2));
    const text = renderPlan(plan);
    expect(text).toBe(
      [
        'berth will perform these actions in workspace "default", namespace "shop":',
        '',
        '  -/+ container/db (forces replacement)',
        '      ~ image = "postgres:16" -> "postgres:17" # forces replacement',
        '  -/+ container/web-app (forces replacement)',
        '      ~ env.DB_PASSWORD = (sensitive value) -> (sensitive value) # forces replacement',
        '    - container/web-nginx',
        '      - pod       = "web"',
        '      - image     = "nginx:1.27"',
        '      - dependsOn = ["web-app"]',
        '    ~ pod/web',
        '      ~ labels.app  = "web" -> "shop"',
        '      + labels.tier = "front"',
        '',
        'Plan: 0 to add, 1 to change, 2 to replace, 1 to destroy.',
        '',
      ].join('\n'),
    );
    expect(text).not.toMatch(/hunter[23]/);
    expect(objectLines(text)).toEqual(jsonLines(plan));
  });

  it('a replace caused by a replaced dependency names it; deleting a volume is marked as data loss', async () => {
    const store = await shopStore();
    await applied(store, V1);
    const v2 = V1.replace('"shop/app:2.3"', '"shop/app:2.4"')
      .replace(/ +volumes:\n +pgdata:.*\n/, '')
      .replace(/, volumes: \[.*\]/, '');
    const plan = await store.plan('default', manifest(v2));
    const text = renderPlan(plan);
    expect(text).toBe(
      [
        'berth will perform these actions in workspace "default", namespace "shop":',
        '',
        '    ~ container/db',
        '      - volumes = ["pgdata:/var/lib/postgresql/data"]',
        '  -/+ container/web-app (forces replacement)',
        '      ~ image = "shop/app:2.3" -> "shop/app:2.4" # forces replacement',
        '  -/+ container/web-nginx (because container/web-app is replaced)',
        '    - volume/pgdata  [data loss]',
        '      - driver      = "local"',
        '      - labels.tier = "db"',
        '',
        'Plan: 0 to add, 1 to change, 2 to replace, 1 to destroy.',
        '',
      ].join('\n'),
    );
    expect(objectLines(text)).toEqual(jsonLines(plan));
  });

  it('drift and orphans are listed after the changes; a destroy with nothing managed says so', async () => {
    const store = await shopStore();
    await applied(store, V1);
    const db = await store.lookupContainer('db');
    await store.rewriteContainerConfig(db, { ...db.config, labels: { ...db.config.labels, touched: 'yes' } });
    await store.removePodContainers(await store.lookupPod('web'));
    await store.addContainer({ config: { name: 'stray', image: 'busybox' }, state: { status: 'configured' } });
    const plan = await store.plan('default', manifest(V1));
    const text = renderPlan(plan);
    expect(text).toBe(
      [
        'berth will perform these actions in workspace "default", namespace "shop":',
        '',
        '    ~ container/db',
        '      - labels.touched = "yes"',
        '    + container/web-app',
        '      + pod             = "web"',
        '      + image           = "shop/app:2.3"',
        '      + env.DB_PASSWORD = (sensitive value)',
        '      + env.PORT        = "8080"',
        '    + container/web-nginx',
        '      + pod       = "web"',
        '      + image     = "nginx:1.27"',
        '      + dependsOn = ["web-app"]',
        '',
        'Drift: changed outside berth since the last apply:',
        '  container/db: labels changed',
        '  container/web-app: missing from the store',
        '  container/web-nginx: missing from the store',
        '',
        'Orphans (managed by no workspace; delete them with --prune and a manifest that declares its namespace):',
        '  container/stray',
        '',
        'Plan: 2 to add, 1 to change, 0 to replace, 0 to destroy.',
        '',
      ].join('\n'),
    );
    expect(objectLines(text)).toEqual(jsonLines(plan));

    const pruned = await store.plan('default', manifest(V1), { prune: true });
    expect(renderPlan(pruned)).toMatch(
      /^ {4}- container\/stray \(orphan: no workspace manages it\)\n {6}- image = "busybox"$/m,
    );
    expect(objectLines(renderPlan(pruned))).toEqual(jsonLines(pruned));

    const empty = await (await openBerth()).withNamespace('shop').plan('default', null, { mode: 'destroy' });
    expect(renderPlan(empty)).toBe(
      'No changes. Nothing to destroy: workspace "default" manages no objects in namespace "shop".\n\nPlan: 0 to add, 0 to change, 0 to replace, 0 to destroy.\n',
    );
  });

  it('a container renamed through berth is an update that renames it back, not a destroy and a create', async () => {
    const store = await shopStore();
    await applied(store, V1);
    const ctr = await store.lookupContainer('web-app');
    await store.safeRewriteContainerConfig(ctr, 'web-app', 'web-app-old', { ...ctr.config, name: 'web-app-old' });
    const plan = await store.plan('default', manifest(V1));
    const text = renderPlan(plan);
    expect(text).toBe(
      [
        'berth will perform these actions in workspace "default", namespace "shop":',
        '',
        '    ~ container/web-app',
        '      ~ name = "web-app-old" -> "web-app"',
        '',
        'Drift: changed outside berth since the last apply:',
        '  container/web-app: renamed to web-app-old',
        '',
        'Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy.',
        '',
      ].join('\n'),
    );
    expect(objectLines(text)).toEqual(jsonLines(plan));
    const id = (await store.lookupContainer('web-app-old')).config.id;
    await store.apply(plan);
    expect((await store.lookupContainer('web-app')).config.id).toBe(id);
    const again = await store.plan('default', manifest(V1));
    expect(renderPlan(again)).toMatch(/^No changes\. The store matches the manifest/);
  });

  it('a blocked create is shown with ! and the reason, as in the JSON plan', async () => {
    const store = await shopStore();
    await store.addVolume({ config: { name: 'pgdata' }, state: {} });
    const plan = await store.plan('default', manifest(V1));
    const text = renderPlan(plan);
    expect(text).toMatch(
      /^ {4}! volume\/pgdata — blocked \(name_conflict\): the name pgdata is taken by volume pgdata/m,
    );
    expect(objectLines(text)).toEqual(jsonLines(plan));
  });
});

describe('names held in another namespace', () => {
  it('a create whose name another namespace holds is shown blocked, and apply refuses it before changing anything', async () => {
    const root = await openBerth({ secretsKey: generateSecretsKey() });
    await root.addPod({ config: { name: 'web', namespace: 'blog' }, state: {} });
    const store = root.withNamespace('shop');
    const plan = await store.plan('default', manifest(V1));
    const text = renderPlan(plan);
    expect(text).toMatch(
      /^ {4}! pod\/web — blocked \(name_conflict\): the name web is taken by pod [0-9a-f]{64} in namespace "blog" \(names are unique across namespaces\)$/m,
    );
    expect(objectLines(text)).toEqual(jsonLines(plan));
    await expect(store.apply(plan)).rejects.toMatchObject({ code: 'POD_EXISTS' });
    expect(await store.allContainers()).toEqual([]);
  });
});
