import { randomBytes } from 'node:crypto';
import { BerthError } from '../../errors.js';
import { resolveNamespace } from '../rules/namespaces.js';
import type { Container, ContainerConfig, NamedVolume, Pod, PodConfig, Volume, VolumeConfig } from '../types.js';
import {
  assertNonEmpty,
  assertObjectName,
  assertPlainObject,
  assertStringArray,
  assertStringMap,
} from '../validate.js';

/*
 * Validation and normalisation of objects handed to the store, done before any
 * transaction opens (STYLE.md habit 6): parse, validate and generate ids first.
 */

/** The label that marks an object as managed by a workspace. */
export const WORKSPACE_LABEL = 'berth.workspace';

/** Random bytes for ids, drawn from the CSPRNG 64 ids at a time (one call costs as much as one id). */
const ID_BYTES = 32;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** A new 64-hex-character id, as podman generates them. */
export function newObjectId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 64);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

/** The id an object argument refers to (`config.id`), with EMPTY_ID for an empty one. */
export function objectId(obj: unknown, kind: 'container' | 'pod'): string {
  assertPlainObject(obj, kind);
  assertPlainObject(obj.config, `${kind} config`);
  assertNonEmpty(obj.config.id, `${kind} id`);
  return obj.config.id;
}

/** The name a volume argument refers to (`config.name`). */
export function volumeName(obj: unknown): string {
  assertPlainObject(obj, 'volume');
  assertPlainObject(obj.config, 'volume config');
  assertNonEmpty(obj.config.name, 'volume name');
  return obj.config.name;
}

/** Checks the fields of a container config that the engine understands. */
export function checkContainerConfig(config: Record<string, unknown>): void {
  if (config.pod !== undefined) assertNonEmpty(config.pod, 'pod id');
  if (config.image !== undefined && typeof config.image !== 'string') {
    throw new BerthError('INVALID_ARGUMENT', 'container image must be a string');
  }
  assertStringArray(config.command, 'container command');
  assertStringMap(config.env, 'container env');
  assertStringMap(config.labels, 'container labels');
  assertStringArray(config.dependencies, 'container dependencies');
  const deps = (config.dependencies as string[] | undefined) ?? [];
  if (new Set(deps).size !== deps.length) {
    throw new BerthError('INVALID_ARGUMENT', 'container dependencies list a container twice', {
      details: { dependencies: deps },
    });
  }
  if (deps.includes(config.id as string)) {
    throw new BerthError('INVALID_ARGUMENT', `container ${String(config.id)} cannot depend on itself`, {
      details: { id: config.id },
    });
  }
  if (config.namedVolumes !== undefined) {
    if (!Array.isArray(config.namedVolumes)) {
      throw new BerthError('INVALID_ARGUMENT', 'container namedVolumes must be an array of { name, dest }');
    }
    for (const v of config.namedVolumes as unknown[]) {
      assertPlainObject(v, 'named volume');
      assertNonEmpty(v.name, 'named volume name');
      if (typeof v.dest !== 'string' || v.dest === '') {
        throw new BerthError('INVALID_ARGUMENT', `named volume ${v.name} needs a non-empty dest`);
      }
    }
  }
  if (config.networks !== undefined) {
    assertPlainObject(config.networks, 'container networks');
    for (const [name, opts] of Object.entries(config.networks)) {
      if (name === '') throw new BerthError('INVALID_ARGUMENT', 'network name is empty');
      assertPlainObject(opts, `options of network ${name}`);
    }
  }
}

/** Distinct volume names a container config mounts. */
export function namedVolumeNames(config: ContainerConfig): string[] {
  return [...new Set((config.namedVolumes ?? []).map((v: NamedVolume) => v.name))];
}

/** The workspace that manages an object, from its labels. */
export function managingWorkspace(labels: Record<string, string> | undefined): string | null {
  return labels?.[WORKSPACE_LABEL] ?? null;
}

/** Validates and completes a container handed to addContainer/addContainerToPod. */
export function prepareNewContainer(input: unknown, storeNamespace: string, now: number): Container {
  assertPlainObject(input, 'container');
  assertPlainObject(input.config, 'container config');
  const config = { ...input.config } as ContainerConfig;
  if (config.id === undefined) config.id = newObjectId();
  assertNonEmpty(config.id, 'container id');
  assertObjectName(config.name, 'container');
  config.namespace = resolveNamespace(config.namespace, storeNamespace, `container ${config.name}`);
  checkContainerConfig(config);
  if (config.createdAt === undefined) config.createdAt = new Date(now).toISOString();
  const state = input.state === undefined ? { status: 'configured' } : input.state;
  assertPlainObject(state, 'container state');
  return { config, state: state as Container['state'] };
}

/** Validates and completes a pod handed to addPod. */
export function prepareNewPod(input: unknown, storeNamespace: string, now: number): Pod {
  assertPlainObject(input, 'pod');
  assertPlainObject(input.config, 'pod config');
  const config = { ...input.config } as PodConfig;
  if (config.id === undefined) config.id = newObjectId();
  assertNonEmpty(config.id, 'pod id');
  assertObjectName(config.name, 'pod');
  config.namespace = resolveNamespace(config.namespace, storeNamespace, `pod ${config.name}`);
  assertStringMap(config.labels, 'pod labels');
  if (config.createdAt === undefined) config.createdAt = new Date(now).toISOString();
  const state = input.state === undefined ? {} : input.state;
  assertPlainObject(state, 'pod state');
  return { config, state };
}

/** Validates and completes a volume handed to addVolume. */
export function prepareNewVolume(input: unknown, storeNamespace: string, now: number): Volume {
  assertPlainObject(input, 'volume');
  assertPlainObject(input.config, 'volume config');
  const config = { ...input.config } as VolumeConfig;
  assertObjectName(config.name, 'volume');
  config.namespace = resolveNamespace(config.namespace, storeNamespace, `volume ${config.name}`);
  if (config.driver !== undefined && typeof config.driver !== 'string') {
    throw new BerthError('INVALID_ARGUMENT', 'volume driver must be a string');
  }
  assertStringMap(config.labels, 'volume labels');
  assertStringMap(config.options, 'volume options');
  if (config.createdAt === undefined) config.createdAt = new Date(now).toISOString();
  const state = input.state === undefined ? {} : input.state;
  assertPlainObject(state, 'volume state');
  return { config, state };
}
