import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import {
  isBerthError,
  type BerthError,
  type Container,
  type ContainerConfig,
  type ContainerState,
  type ErrorCode,
  type Pod,
  type PodConfig,
  type PodState,
  type Volume,
  type VolumeConfig,
  type VolumeState,
} from '../../src/index.js';

/*
 * Builders with valid defaults and assertion helpers shared by the conformance suites.
 * They only produce plain objects for the public Store API.
 */

let counter = 0;

/** A 64-character lowercase hex id, optionally starting with `prefix`. */
export function hexId(prefix = ''): string {
  return (prefix + randomBytes(32).toString('hex')).slice(0, 64);
}

/** A name unique within the test run: `<base>-<n>`. */
export function uniqueName(base: string): string {
  counter += 1;
  return `${base}-${counter}`;
}

/** A valid container that is in no pod, with status `configured`. */
export function ctr(config: Partial<ContainerConfig> = {}, state: Partial<ContainerState> = {}): Container {
  return {
    config: { id: hexId(), name: uniqueName('ctr'), image: 'docker.io/library/busybox:latest', ...config },
    state: { status: 'configured', ...state },
  };
}

/** A valid pod. */
export function pod(config: Partial<PodConfig> = {}, state: PodState = {}): Pod {
  return { config: { id: hexId(), name: uniqueName('pod'), ...config }, state: { ...state } };
}

/** A valid volume. */
export function vol(config: Partial<VolumeConfig> = {}, state: VolumeState = {}): Volume {
  return { config: { name: uniqueName('vol'), driver: 'local', ...config }, state: { ...state } };
}

/**
 * Awaits `run` (a promise or a function, which may also throw synchronously) and asserts
 * it failed with a BerthError carrying `code`. Returns the error for further checks.
 */
export async function expectCode(run: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<BerthError> {
  let failure: unknown;
  let settled = false;
  try {
    await (typeof run === 'function' ? run() : run);
    settled = true;
  } catch (err) {
    failure = err;
  }
  expect(settled, `expected the call to fail with ${code}, but it succeeded`).toBe(false);
  expect(isBerthError(failure), `expected a BerthError with code ${code}, got ${String(failure)}`).toBe(true);
  expect((failure as BerthError).code).toBe(code);
  return failure as BerthError;
}

/** Sorted copy, for order-independent comparisons of id lists. */
export function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

/** A JSON document with nested fields the engine does not know. */
export function unknownFields(tag: string): Record<string, unknown> {
  return {
    [`x-${tag}`]: {
      nested: { deeper: [1, 'two', { three: null, four: true, five: 5.5 }] },
      emptyObject: {},
      emptyArray: [],
      unicode: 'grüße — 日本 🚢',
    },
    [`plain-${tag}`]: 42,
  };
}
