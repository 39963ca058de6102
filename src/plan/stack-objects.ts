import { canonicalJson, compareCodeUnits, documentChecksum } from '../engine/canonical-json.js';
import { WORKSPACE_LABEL } from '../engine/objects/input.js';
import type { Container, Pod, Volume } from '../engine/types.js';
import { BerthError } from '../errors.js';
import type { EnvValue, Manifest } from './manifest.js';
import { manifestContainers } from './manifest-containers.js';
import type { StackKind, VolumeSpecC, PodSpecC, ContainerSpecC, StackSpec } from './types.js';

/*
 * The canonical form of a stack object, shared by what a manifest declares and what the
 * store holds, so the two compare field by field and digest to the same value when equal.
 */

/** One object of a stack in canonical form. */
export interface StackObject {
  key: string;
  kind: StackKind;
  name: string;
  spec: StackSpec;
  digest: string;
}

/** Fields whose change needs the object re-created: the store cannot rewrite them in place. */
export const REPLACE_FIELDS: Record<StackKind, readonly string[]> = {
  volume: ['driver', 'options'],
  pod: [],
  container: ['pod', 'image', 'command', 'env', 'dependsOn'],
};

export function objectKey(kind: StackKind, name: string): string {
  return `${kind}/${name}`;
}

function stackObject(kind: StackKind, name: string, spec: StackSpec): StackObject {
  return { key: objectKey(kind, name), kind, name, spec, digest: documentChecksum(spec) };
}

/** Mounts in code-unit order of name, then dest: the same order, so the same digest, on every machine. */
function sortMounts(mounts: { name: string; dest: string }[]): { name: string; dest: string }[] {
  return mounts.sort((a, b) => compareCodeUnits(a.name, b.name) || compareCodeUnits(a.dest, b.dest));
}

/**
 * The digest of a spec recorded by an earlier apply, recomputed in today's canonical form:
 * a berth that sorted mounts by locale recorded other digests for the same objects, and
 * must not make them look drifted.
 */
export function recordedDigest(kind: StackKind, spec: StackSpec): string {
  if (kind !== 'container') return documentChecksum(spec);
  const c = spec as ContainerSpecC;
  return documentChecksum({
    ...c,
    dependsOn: [...(c.dependsOn ?? [])].sort(),
    volumes: sortMounts([...(c.volumes ?? [])]),
  });
}

function withoutWorkspaceLabel(labels: Record<string, string> | undefined): Record<string, string> {
  const { [WORKSPACE_LABEL]: _managedBy, ...rest } = labels ?? {};
  return rest;
}

/**
 * Encrypts a secret env value for the stack's workspace (equal values, equal text);
 * `stored` is the container's current value, kept when it holds the same secret.
 */
export type SecretSealer = (value: string, stored?: string) => string;

/** True when a container of the manifest has a `{ secret: … }` env entry. */
export function manifestHasSecrets(m: Manifest): boolean {
  return manifestContainers(m).some((c) => Object.values(c.spec.env ?? {}).some((v) => typeof v !== 'string'));
}

function sealedEnv(
  env: Record<string, EnvValue> | undefined,
  seal: SecretSealer | undefined,
  stored: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? {})) {
    if (typeof v === 'string') out[k] = v;
    else if (seal) out[k] = seal(v.secret, stored && Object.hasOwn(stored, k) ? stored[k] : undefined);
    else throw new BerthError('INTERNAL', 'a secret env value reached the plan without a key to encrypt it');
  }
  return out;
}

/**
 * The objects a manifest declares, in canonical form, keyed by `kind/name`; secret env
 * values are encrypted by `seal`, so a plan never holds them in plain text. `storedEnv`
 * gives the env a container of that name holds now (its secrets may be kept as stored).
 */
export function desiredObjects(
  m: Manifest,
  seal?: SecretSealer,
  storedEnv?: (name: string) => Record<string, string> | undefined,
): Map<string, StackObject> {
  const out = new Map<string, StackObject>();
  const add = (o: StackObject): void => void out.set(o.key, o);
  for (const [name, v] of Object.entries(m.volumes)) {
    add(stackObject('volume', name, { driver: v.driver ?? null, labels: v.labels ?? {}, options: v.options ?? {} }));
  }
  for (const [name, p] of Object.entries(m.pods)) add(stackObject('pod', name, { labels: p.labels ?? {} }));
  for (const c of manifestContainers(m)) {
    const spec: ContainerSpecC = {
      pod: c.pod,
      image: c.spec.image ?? null,
      command: c.spec.command ?? [],
      env: sealedEnv(c.spec.env, seal, storedEnv?.(c.name)),
      labels: c.spec.labels ?? {},
      dependsOn: [...(c.spec.dependsOn ?? [])].sort(),
      volumes: sortMounts(
        (c.spec.volumes ?? []).map((v) => ({ name: v.slice(0, v.indexOf(':')), dest: v.slice(v.indexOf(':') + 1) })),
      ),
      networks: (c.spec.networks ?? {}) as Record<string, Record<string, unknown>>,
    };
    add(stackObject('container', c.name, spec));
  }
  return out;
}

/** What the store holds, in the same canonical form. */
export function observedVolume(v: Volume): StackObject {
  return stackObject('volume', v.config.name, {
    driver: v.config.driver ?? null,
    labels: withoutWorkspaceLabel(v.config.labels),
    options: v.config.options ?? {},
  });
}

export function observedPod(p: Pod): StackObject {
  return stackObject('pod', p.config.name, { labels: withoutWorkspaceLabel(p.config.labels) });
}

export function observedContainer(
  c: Container,
  podNames: Map<string, string>,
  ctrNames: Map<string, string>,
): StackObject {
  const cfg = c.config;
  return stackObject('container', cfg.name, {
    pod: cfg.pod ? (podNames.get(cfg.pod) ?? cfg.pod) : null,
    image: cfg.image ?? null,
    command: cfg.command ?? [],
    env: cfg.env ?? {},
    labels: withoutWorkspaceLabel(cfg.labels),
    dependsOn: (cfg.dependencies ?? []).map((id) => ctrNames.get(id) ?? id).sort(),
    volumes: sortMounts((cfg.namedVolumes ?? []).map((v) => ({ name: v.name, dest: v.dest }))),
    networks: (cfg.networks ?? {}) as Record<string, Record<string, unknown>>,
  });
}

/** The top-level fields whose values differ between two specs of the same kind. */
export function changedFields(a: StackSpec, b: StackSpec): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys]
    .filter(
      (k) =>
        canonicalJson((a as unknown as Record<string, unknown>)[k]) !==
        canonicalJson((b as unknown as Record<string, unknown>)[k]),
    )
    .sort();
}

export type { StackKind, VolumeSpecC, PodSpecC, ContainerSpecC, StackSpec };
