import { createHash } from 'node:crypto';
import { canonical, sha256 } from '../helpers/canonical-json.js';
import { prng } from '../helpers/prng.js';

/*
 * What the crash harness's workers and its checker share: the seeded generator, the
 * layout of the store (namespaces and workspaces), the lines of the acknowledgement log,
 * and the projection of an object that both sides compare. The canonical JSON and
 * checksum here are written independently of src/, so the checker verifies berth's
 * checksums rather than repeating its code. Imported by workers/crash-worker.ts (bundled
 * with it) and by crash-harness.ts.
 */

export { prng };
export { canonical, sha256 };

/**
 * Worker `k` of a run with base seed `base` (BERTH_CRASH_SEED) runs with this seed: the
 * base is scrambled first, so that runs with neighbouring base seeds share no workers.
 */
export function workerSeed(base: number, k: number): number {
  return (Math.floor(prng(base)() * 2 ** 32) + k) >>> 0;
}

/** The tag of worker `k`: the prefix of every name it creates, and its actor `<tag>@crash`. */
export function workerTag(k: number): string {
  return `w${k}`;
}

/** Which worker a name belongs to (undefined: not a worker's object). */
export function tagOfName(name: string): number | undefined {
  const m = /^w(\d+)-/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function actorOf(k: number): string {
  return `${workerTag(k)}@crash`;
}

/** A 64-hex id that only this worker, kind and counter give. */
export function ownedId(tag: string, kind: string, n: number): string {
  return createHash('sha256').update(`${tag}/${kind}/${n}`).digest('hex');
}

/** Namespaces in which workers add, change and remove their own objects ('' included). */
export const OBJECT_NAMESPACES = ['', 'team-a', 'team-b'] as const;

/** Workspaces whose state workers write under the workspace lock (shared by all workers). */
export const STATE_WORKSPACES: ReadonlyArray<readonly [namespace: string, name: string]> = [
  ['', 'default'],
  ['', 'stage'],
  ['team-a', 'default'],
  ['team-a', 'prod'],
];

/**
 * Workspaces that workers apply manifests to (shared by all workers). Their namespaces
 * hold only what applies create, so plans stay small and exact.
 */
export const APPLY_WORKSPACES: ReadonlyArray<readonly [namespace: string, name: string]> = [
  ['apps', 'default'],
  ['apps', 'blue'],
  ['edge', 'default'],
];

/**
 * Versions of state history the workers keep (openStore's historyLimit). Small on
 * purpose: retention prunes during a normal run, and the checker checks what it keeps.
 */
export const HISTORY_LIMIT = 48;

/** What a worker is started with (the environment variable BERTH_CRASH_WORKER, as JSON). */
export interface WorkerConfig {
  store: string;
  log: string;
  k: number;
  seed: number;
  /** Kill itself inside the transaction of its first object transaction or apply from this call on. */
  selfKillFrom?: number;
  /** Warm-up run for the code cache: end by itself after this many calls. */
  warmupOps?: number;
}

/**
 * A worker's object as the checker sees it; the worker computes the same from its own
 * model. Lists are sorted, so two equal objects give the same canonical JSON.
 */
export type Projection =
  | {
      kind: 'container';
      id: string;
      name: string;
      namespace: string;
      pod: string | null;
      dependencies: string[];
      volumes: string[];
      status: string;
      labels: Record<string, string>;
      networks: string[];
      execSessions: string[];
    }
  | { kind: 'pod'; id: string; name: string; namespace: string; cgroupPath: string | null }
  | { kind: 'volume'; name: string; namespace: string; mountCount: number };

/** What one operation makes true: each key gets this projection, or is gone (null). */
export type Effects = Array<[key: string, value: Projection | null]>;

/**
 * One line of a worker's acknowledgement log. Before an operation the worker writes its
 * intent (`n`, `op`, what it will make true), after the call its outcome (`n` with `ok`).
 * A missing outcome means the worker was killed during that call: it may or may not have
 * committed — unless the worker killed itself inside the call's transaction (`selfKill`),
 * which must then have changed nothing.
 */
export type LogLine = Intent | Outcome | { violation: string };

export type Intent = { n: number } & IntentBody;

/** An intent without its number; `selfKill`: the worker kills itself inside this call's transaction. */
export type IntentBody = { selfKill?: true } & (
  | { op: 'objects'; what: string; effects: Effects }
  | { op: 'probe'; what: string; expect: string }
  | { op: 'lock'; ns: string; ws: string }
  | { op: 'write'; ns: string; ws: string; checksum: string; locked: boolean }
  | { op: 'rollback'; ns: string; ws: string; to: number }
  | { op: 'unlock'; ns: string; ws: string; lockId: string }
  | { op: 'forceUnlock'; ns: string; ws: string; lockId: string }
  | { op: 'apply'; ns: string; ws: string; plan: string; basis: number; manifest: string }
);

export interface Outcome {
  n: number;
  ok: boolean;
  code?: string;
  /** lock: the lock id; write, rollback, apply: the new serial (and checksum). */
  lockId?: string;
  serial?: number;
  checksum?: string | null;
}

export function isIntent(line: LogLine): line is Intent {
  return 'op' in line;
}

export function isOutcome(line: LogLine): line is Outcome {
  return 'ok' in line;
}
