import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  isBerthError,
  loadManifest,
  type Store,
  type Container,
  type Manifest,
  type OpenStoreOptions,
  type Plan,
  type Pod,
  type Volume,
} from '../../src/index.js';
import { sqliteFactory, type StoreFactory } from '../helpers/store-factory.js';

/*
 * Helpers of the plan/apply suite. Every test owns its store (a temp file removed when
 * the test passes). Canonical forms here are written independently of src/plan, so a
 * test compares the store with what a manifest declares, not the planner with itself.
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLES = join(REPO_ROOT, 'test', 'fixtures', 'examples');
export const WS_LABEL = 'berth.workspace';

let factory: StoreFactory = sqliteFactory;

/** Runs the suites of this folder on another backend (set once per test file). */
export function useFactory(f: StoreFactory): void {
  factory = f;
}

/** A fresh store owned by the current test, with the plan/apply layer. */
export async function openBerth(opts: Omit<OpenStoreOptions, 'path' | 'url'> = {}): Promise<Store> {
  return factory.open(opts);
}

/** Another handle on the same store (another "client"), closed when the test ends. */
export async function reopenBerth(store: Store, opts: Omit<OpenStoreOptions, 'path' | 'url'> = {}): Promise<Store> {
  return factory.reopen(store, opts);
}

/** A manifest from YAML text (indentation of the first line is removed from every line). */
export function manifest(text: string): Manifest {
  return loadManifest(dedent(text));
}

export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** `{ key: effective action }` of a plan, for compact assertions. */
export function actions(plan: Plan): Record<string, string> {
  return Object.fromEntries(plan.changes.map((c) => [c.key, c.effective]));
}

export function change(plan: Plan, key: string): Plan['changes'][number] {
  const c = plan.changes.find((x) => x.key === key);
  if (!c) throw new Error(`plan has no change for ${key}: ${Object.keys(actions(plan)).join(', ')}`);
  return c;
}

/** Plans and applies a manifest in one go. */
export async function planApply(
  store: Store,
  workspace: string,
  m: Manifest,
  opts: { allowDestroy?: boolean; prune?: boolean } = {},
): Promise<Plan> {
  const plan = await store.plan(workspace, m, { prune: opts.prune === true });
  await store.apply(plan, { allowDestroy: opts.allowDestroy === true });
  return plan;
}

/** Awaits a promise that must reject with a BerthError of `code`; returns the error. */
export async function rejectsWith(
  promise: Promise<unknown> | (() => unknown),
  code: string,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    error = err;
  }
  expect(error, `expected ${code}, but it succeeded`).toBeDefined();
  if (!isBerthError(error)) throw error;
  expect(error.code, error.message).toBe(code);
  return error as unknown as { code: string; message: string; details: Record<string, unknown> };
}

/** The canonical form of one stack object, as a manifest would declare it. */
export type CanonicalObject =
  | { kind: 'volume'; driver: string | null; labels: Record<string, string>; options: Record<string, string> }
  | { kind: 'pod'; labels: Record<string, string> }
  | {
      kind: 'container';
      pod: string | null;
      image: string | null;
      command: string[];
      env: Record<string, string>;
      labels: Record<string, string>;
      dependsOn: string[];
      volumes: string[];
      networks: Record<string, unknown>;
    };

function sortedRecord<T>(r: Record<string, T> | undefined): Record<string, T> {
  return Object.fromEntries(Object.entries(r ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function withoutWs(labels: Record<string, string> | undefined): Record<string, string> {
  const { [WS_LABEL]: _ws, ...rest } = labels ?? {};
  return sortedRecord(rest);
}

/** What a manifest declares, keyed `kind/name`, in canonical form. */
export function declared(m: Manifest): Record<string, CanonicalObject> {
  const out: Record<string, CanonicalObject> = {};
  for (const [name, v] of Object.entries(m.volumes)) {
    out[`volume/${name}`] = {
      kind: 'volume',
      driver: v.driver ?? null,
      labels: sortedRecord(v.labels),
      options: sortedRecord(v.options),
    };
  }
  const ctr = (pod: string | null, spec: Manifest['containers'][string]): CanonicalObject => ({
    kind: 'container',
    pod,
    image: spec.image ?? null,
    command: spec.command ?? [],
    // The generated manifests hold no secrets: every env value is a string.
    env: sortedRecord(spec.env as Record<string, string> | undefined),
    labels: sortedRecord(spec.labels),
    dependsOn: [...(spec.dependsOn ?? [])].sort(),
    volumes: [...(spec.volumes ?? [])].sort(),
    networks: sortedRecord(spec.networks),
  });
  for (const [name, p] of Object.entries(m.pods)) {
    out[`pod/${name}`] = { kind: 'pod', labels: sortedRecord(p.labels) };
    for (const [cname, spec] of Object.entries(p.containers)) out[`container/${cname}`] = ctr(name, spec);
  }
  for (const [name, spec] of Object.entries(m.containers)) out[`container/${name}`] = ctr(null, spec);
  return sortKeys(out);
}

/** The objects a workspace manages in the store's namespace `ns`, in canonical form. */
export async function managedObjects(
  store: Store,
  ns: string,
  workspace: string,
): Promise<Record<string, CanonicalObject>> {
  const all = await storeObjects(store, ns);
  return sortKeys(
    Object.fromEntries(
      Object.entries(all)
        .filter(([, o]) => o.workspace === workspace)
        .map(([k, o]) => [k, o.object]),
    ),
  );
}

/** Every object of namespace `ns`, canonical, with the workspace that manages it (or null). */
export async function storeObjects(
  store: Store,
  ns: string,
): Promise<Record<string, { object: CanonicalObject; workspace: string | null; id: string }>> {
  const mine = <T extends Container | Pod | Volume>(o: T): boolean => (o.config.namespace ?? '') === ns;
  const containers = (await store.allContainers()).filter(mine);
  const pods = (await store.allPods()).filter(mine);
  const volumes = (await store.allVolumes()).filter(mine);
  const podName = new Map(pods.map((p) => [p.config.id, p.config.name]));
  const ctrName = new Map(containers.map((c) => [c.config.id, c.config.name]));
  const out: Record<string, { object: CanonicalObject; workspace: string | null; id: string }> = {};
  for (const v of volumes) {
    out[`volume/${v.config.name}`] = {
      id: v.config.name,
      workspace: v.config.labels?.[WS_LABEL] ?? null,
      object: {
        kind: 'volume',
        driver: v.config.driver ?? null,
        labels: withoutWs(v.config.labels),
        options: sortedRecord(v.config.options),
      },
    };
  }
  for (const p of pods) {
    out[`pod/${p.config.name}`] = {
      id: p.config.id,
      workspace: p.config.labels?.[WS_LABEL] ?? null,
      object: { kind: 'pod', labels: withoutWs(p.config.labels) },
    };
  }
  for (const c of containers) {
    const cfg = c.config;
    out[`container/${cfg.name}`] = {
      id: cfg.id,
      workspace: cfg.labels?.[WS_LABEL] ?? null,
      object: {
        kind: 'container',
        pod: cfg.pod ? (podName.get(cfg.pod) ?? `?${cfg.pod}`) : null,
        image: cfg.image ?? null,
        command: cfg.command ?? [],
        env: sortedRecord(cfg.env),
        labels: withoutWs(cfg.labels),
        dependsOn: (cfg.dependencies ?? []).map((id) => ctrName.get(id) ?? `?${id}`).sort(),
        volumes: (cfg.namedVolumes ?? []).map((v) => `${v.name}:${v.dest}`).sort(),
        networks: sortedRecord(cfg.networks as Record<string, unknown> | undefined),
      },
    };
  }
  return out;
}

function sortKeys<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Counts of a namespace's objects, for before/after comparisons. */
export async function counts(store: Store): Promise<{ containers: number; pods: number; volumes: number }> {
  return {
    containers: (await store.allContainers()).length,
    pods: (await store.allPods()).length,
    volumes: (await store.allVolumes()).length,
  };
}
