import { describe, expect, it } from 'vitest';
import { isBerthError, type Plan } from '../../src/index.js';
import { manifest, openBerth } from './helpers.js';

/*
 * A plan file is checked against the `plan/v1` schema (src/schemas/plan-schema.ts) before
 * anything else: a broken one is PLAN_INVALID with the JSON Pointer path of what is
 * wrong, in the message and in `details.path`, and nothing changes.
 */

const STACK = `
  version: 1
  volumes:
    data: {}
  pods:
    web:
      containers:
        web-app: { image: "app:1", env: { MODE: prod } }
  containers:
    db: { image: "postgres:16", volumes: ["data:/var/lib/data"] }
`;

/** A plan as read back from its file. */
async function planFile(): Promise<{ store: Awaited<ReturnType<typeof openBerth>>; plan: Plan }> {
  const store = await openBerth();
  const plan = JSON.parse(JSON.stringify(await store.plan('default', manifest(STACK)))) as Plan;
  return { store, plan };
}

const index = (plan: Plan, key: string): number => plan.changes.findIndex((c) => c.key === key);

type Breakage = [what: string, alter: (p: Plan) => unknown, path: (p: Plan) => string, message: RegExp];

const breakages: Breakage[] = [
  ['not an object', () => 'plan.json', () => '', /at the top level: expected object/],
  ['no basis', (p) => void delete (p as Partial<Plan>).basis, () => '/basis', /at \/basis: expected required property/],
  [
    'a serial that is not an integer',
    (p) => void (p.basis.serial = 1.5),
    () => '/basis/serial',
    /at \/basis\/serial: expected integer/,
  ],
  [
    'an unknown kind',
    (p) => void ((p.changes[0] as { kind: string }).kind = 'network'),
    () => '/changes/0/kind',
    /at \/changes\/0\/kind: expected one of "volume", "pod", "container"/,
  ],
  [
    'an unknown mode',
    (p) => void ((p as { mode: string }).mode = 'yolo'),
    () => '/mode',
    /at \/mode: expected one of "apply", "destroy", "refresh-only"/,
  ],
  [
    "a container's env as a list",
    (p) => void ((p.changes[index(p, 'container/db')]!.after!.spec as { env: unknown }).env = ['A=1']),
    (p) => `/changes/${index(p, 'container/db')}/after/spec/env`,
    /expected object/,
  ],
  [
    'a command with a number',
    (p) => void ((p.changes[index(p, 'container/web-app')]!.after!.spec as { command: unknown }).command = [1]),
    (p) => `/changes/${index(p, 'container/web-app')}/after/spec/command/0`,
    /expected string/,
  ],
  [
    'a create without its object',
    (p) => void (p.changes[0]!.after = null),
    () => '/changes/0/after',
    /is a create without the object/,
  ],
  [
    'a step naming no change',
    (p) => void (p.steps[0]!.key = 'container/ghost'),
    () => '/steps/0/key',
    /no change has key container\/ghost/,
  ],
  [
    'a namespace that is not a name',
    (p) => void (p.namespace = '../etc'),
    () => '/namespace',
    /at \/namespace: expected string to match/,
  ],
];

describe.concurrent('plan files: checked with the plan/v1 schema', () => {
  it.each(breakages)('%s is PLAN_INVALID naming its path', async (_what, alter, path, message) => {
    const { store, plan } = await planFile();
    const altered = alter(plan) ?? plan;
    const before = await store.snapshot();
    const err = await store.apply(altered as Plan).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBerthError(err, 'PLAN_INVALID'), String(err)).toBe(true);
    const e = err as { message: string; details: { path: string } };
    expect(e.details.path).toBe(path(plan));
    expect(e.message).toMatch(message);
    expect(e.message).toContain('berth plan --out FILE');
    if (e.details.path !== '') expect(e.message).toContain(`at ${e.details.path}`);
    expect(await store.snapshot()).toEqual(before);
  });

  it('an intact plan read back from its file applies', async () => {
    const { store, plan } = await planFile();
    await expect(store.apply(plan)).resolves.toMatchObject({ summary: { create: 4 } });
  });
});
