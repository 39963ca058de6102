import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify as yamlStringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  generateSecretsKey,
  loadManifest,
  openStore,
  type Store,
  type Container,
  type Manifest,
  type NetworkOptions,
  type Plan,
  type Pod,
  type StateExport,
  type Volume,
} from '../../src/index.js';
import { planToJson } from '../../src/plan/planner.js';
import { startServer } from '../../src/server/http-server.js';
import { sqliteFactory, tempDir } from '../helpers/store-factory.js';
import { manifestDoc, toYaml } from '../plan/arbitraries.js';
import {
  asJson,
  canonicalJsonOf,
  deepArray,
  deepObject,
  describeError,
  expectTypedError,
  junkValue,
  mutate,
  mutationArb,
  outcome,
  outcomeSync,
  rawHttp,
  runCli,
  sha256Hex,
  show,
  stateChecksum,
  wildString,
  type Mutation,
} from './fuzz-helpers.js';

/*
 * Property-based fuzzing of every input a user controls (DESIGN.md §3, §4, §7, §8):
 * manifests, import envelopes, plan files, object arguments, huge and deeply nested
 * documents, HTTP requests and CLI argv. The contract under test: every bad input gets a
 * BerthError with a documented code (never a raw error, never INTERNAL for something the
 * caller did), and a refused call changes nothing. Each property has a fixed seed and a
 * bounded number of runs; a failure prints its (shrunk) counterexample and the seed.
 * The contract is asserted as written: a failing property is a bug in berth.
 */

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO_ROOT, 'dist', 'bin', 'berth.js');

/** fast-check settings of one property: a fixed seed, bounded runs. */
const params = (seed: number, numRuns: number): fc.Parameters<unknown> => ({ seed, numRuns });

// ================================================================ manifests

const MANIFEST_CODES = ['MANIFEST_INVALID', 'DEPENDENCY_CYCLE'] as const;

/** True when loadManifest reads `text` as YAML rather than as a file name. */
function parsedAsYaml(text: string): boolean {
  return text.includes('\n') || (text.includes(':') && !existsSync(text));
}

/** The manifest contract for one input: a Manifest, or a located MANIFEST_INVALID / DEPENDENCY_CYCLE. */
function checkManifest(text: string): void {
  const r = outcomeSync(() => loadManifest(text));
  if (r.ok) {
    const m = r.value;
    if (m.version !== 1 || typeof m.volumes !== 'object' || typeof m.pods !== 'object' || !m.containers) {
      throw new Error(`loadManifest returned a malformed manifest: ${show(m)}`);
    }
    return;
  }
  expectTypedError(r.error, `loadManifest(${show(text, 120)})`, MANIFEST_CODES);
  if (r.error.code === 'MANIFEST_INVALID' && parsedAsYaml(text)) {
    const { line, column } = r.error.details as { line?: unknown; column?: unknown };
    if (!Number.isInteger(line) || (line as number) < 1 || !Number.isInteger(column) || (column as number) < 1) {
      throw new Error(`MANIFEST_INVALID without a line/column >= 1: ${show(r.error.details)} for ${show(text, 120)}`);
    }
  }
}

const YAML_TOKENS = [
  ...'abcxyz019 :-,[]{}#&*!|>\'"%@`?\\',
  '\n',
  '\n  ',
  '\n    ',
  '\t',
  'version',
  'version: 1\n',
  'containers:',
  'pods:',
  'volumes:',
  'namespace:',
  'dependsOn',
  'image:',
  'labels:',
  'networks:',
  '&a ',
  '*a',
  '<<: *a',
  '---\n',
  '...\n',
  '%YAML 1.2\n',
  '!!binary ',
  '!!map ',
  '!!js/function ',
  '!custom ',
  '? ',
  'é',
  '🚢',
  '\u0000',
  '\uFEFF',
  '\r\n',
  '\u2028',
];

const yamlishText = fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 80 }).map((parts) => parts.join(''));

const ANCHOR_MANIFESTS = [
  'version: 1\nvolumes: &vols\n  v1: {}\ncontainers:\n  c1: &c { image: x, volumes: ["v1:/d"] }\n  c2: *c\n  c3: { <<: *c, image: y }\npods: *vols\n',
  'version: 1\ncontainers: &a\n  c1: *a\n',
  'version: &v 1\nnamespace: *v\n',
  'version: 1\ncontainers:\n  c1: { labels: &l { a: b }, env: *l }\n  c2: { labels: *l, dependsOn: *l }\n',
  'version: 1\npods:\n  p1: &p\n    containers: { c1: {} }\n  p2: *p\n',
  '&r version: 1\n*r : 2\n',
  'version: 1\ncontainers: !!map\n  ? [a, b]\n  : {}\n',
  'version: 1\ncontainers:\n  a: { dependsOn: [b] }\n  b: { dependsOn: [a] }\n',
  'version: 1\r\ncontainers:\r\n  a: { image: "\\x00\\uD800" }\r\n',
  'version: 1\ncontainers:\n  a:\n    image: |\n      multi\n      line\n',
  'version: 1\nvolumes: { "__proto__": { driver: x } }\ncontainers: { "constructor": {} }\n',
];

/** Splices `insert` into `text` at `pos`, deleting `del` characters. */
function splice(text: string, pos: number, del: number, insert: string): string {
  const at = text.length === 0 ? 0 : pos % (text.length + 1);
  return text.slice(0, at) + insert + text.slice(at + del);
}

const textEdit = fc.record({
  pos: fc.nat({ max: 10_000 }),
  del: fc.nat({ max: 12 }),
  insert: fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ maxLength: 6 })),
});

/** YAML text of any value; falls back to JSON (also YAML) when yaml cannot write it. */
function yamlOf(doc: unknown): string {
  try {
    return yamlStringify(doc, { aliasDuplicateObjects: false });
  } catch {
    return JSON.stringify(doc) ?? 'null';
  }
}

const validManifestYaml = manifestDoc({ namespace: 'fz' }).map(toYaml);

describe('fuzz: manifests (loadManifest)', () => {
  it('random text, YAML-ish token soup and random bytes: a Manifest or a located MANIFEST_INVALID/DEPENDENCY_CYCLE', () => {
    const input = fc.oneof(
      { weight: 4, arbitrary: yamlishText },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('utf8')) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => `${JSON.stringify(v)}\n`) },
    );
    fc.assert(
      fc.property(input, (text) => checkManifest(text)),
      params(0x5eed_0001, 500),
    );
  });

  it('mutated valid manifests (keys dropped/renamed, wrong types, deep nesting, huge strings, unicode, anchors, text edits)', () => {
    const manifestJunk = fc.oneof(
      junkValue,
      fc.constantFrom<unknown>('nginx:1', ['a'], { a: 'b' }, 'v1:/d', 'ünïcödé 🚢', 'x'.repeat(100_000)),
    );
    const docMutated = fc
      .tuple(manifestDoc({ namespace: 'fz' }), fc.array(mutationArb(manifestJunk), { minLength: 1, maxLength: 4 }))
      .map(([doc, muts]) => yamlOf(mutate(doc, muts)));
    const textMutated = fc
      .tuple(
        fc.oneof(
          { weight: 3, arbitrary: validManifestYaml },
          { weight: 2, arbitrary: fc.constantFrom(...ANCHOR_MANIFESTS) },
        ),
        fc.array(textEdit, { maxLength: 4 }),
      )
      .map(([text, edits]) => edits.reduce((t, e) => splice(t, e.pos, e.del, e.insert), text));
    fc.assert(
      fc.property(fc.oneof(docMutated, textMutated), (text) => checkManifest(text)),
      params(0x5eed_0002, 400),
    );
  });

  it('every declared label, env, option and network key survives loading (prototype-ish keys included)', () => {
    const key = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'a.b/c', 'k'),
      fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('labels', 'env', 'networks', 'volumeOptions', 'podLabels'),
        (keys, where) => {
          const map = Object.fromEntries(keys.map((k) => [JSON.stringify(k), where === 'networks' ? '{}' : '"v"']));
          const flow = `{ ${Object.entries(map)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ')} }`;
          const text =
            where === 'volumeOptions'
              ? `version: 1\nvolumes:\n  v1: { options: ${flow} }\n`
              : where === 'podLabels'
                ? `version: 1\npods:\n  p1: { labels: ${flow}, containers: {} }\n`
                : `version: 1\ncontainers:\n  c1: { ${where}: ${flow} }\n`;
          const m: Manifest = loadManifest(text);
          const got =
            where === 'volumeOptions'
              ? m.volumes.v1?.options
              : where === 'podLabels'
                ? m.pods.p1?.labels
                : (m.containers.c1 as Record<string, unknown> | undefined)?.[where];
          for (const k of keys) {
            if (!got || !Object.hasOwn(got, k)) {
              throw new Error(`${where} key ${JSON.stringify(k)} was dropped: got ${show(got)} from ${show(text)}`);
            }
          }
        },
      ),
      params(0x5eed_0003, 60),
    );
  });
});

// ================================================================ import envelopes

/** What must not change when an import is refused: the current state and the whole history. */
async function workspaceFingerprint(store: Store, name: string): Promise<string> {
  return JSON.stringify({
    state: await store.workspaces.readState(name),
    history: await store.workspaces.history(name),
  });
}

/** Values for one field of an export envelope: near misses and edge cases of its type. */
const envelopeEdit = fc.oneof(
  fc.record({
    field: fc.constant('serial'),
    value: fc.oneof(
      fc.integer({ min: -2, max: 12 }),
      fc.constantFrom<unknown>(2 ** 53 - 1, 2 ** 53 + 2, 2 ** 63, 1e300, 1.5, -0, NaN, Infinity, '3', null),
    ),
  }),
  fc.record({ field: fc.constant('version'), value: fc.constantFrom<unknown>(0, 2, '1', 1.5, null, true, [1]) }),
  fc.record({
    field: fc.constant('kind'),
    value: fc.constantFrom<unknown>('berth.workspaces', 'BERTH.WORKSPACE', '', null, 5),
  }),
  fc.record({
    field: fc.constant('lineage'),
    value: fc.oneof(
      fc.uuid(),
      fc.constantFrom<unknown>('', 'x', 5, null, 'x'.repeat(100_000), 'ünï 🚢', '%_*?[]', '\u0000'),
    ),
  }),
  fc.record({
    field: fc.constant('checksum'),
    value: fc.constantFrom<unknown>('', null, 5, 'A'.repeat(64), '0'.repeat(64), 'sha256:abc'),
  }),
  fc.record({ field: fc.constantFrom('namespace', 'workspace'), value: junkValue }),
  fc.record({ field: fc.constant('state'), value: fc.oneof(junkValue, fc.jsonValue({ maxDepth: 4 })) }),
  fc.record({ field: fc.constantFrom('__proto__', 'extra', 'toJSON'), value: junkValue }),
);

describe('fuzz: import envelopes (workspaces.importState)', () => {
  it('random JSON and mutated exports: success or INVALID_IMPORT/LINEAGE_MISMATCH/STALE_SERIAL, and a refusal changes nothing', async () => {
    const store = await sqliteFactory.open();
    const ws = store.workspaces;
    await ws.create('src-a');
    for (let i = 0; i < 3; i++) await ws.writeState('src-a', { kind: 'fuzz', i, items: [1, 'two', { three: null }] });
    await ws.create('src-b');
    await ws.writeState('src-b', { other: 'lineage', ünï: '🚢' });
    await ws.create('target');
    await ws.writeState('target', { v: 1 });
    await ws.writeState('target', { v: 2 });
    let fresh = 0;

    const envelope = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          from: fc.constantFrom('src-a', 'src-b', 'target'),
          mutations: fc.array(mutationArb(), { maxLength: 3 }),
          reChecksum: fc.boolean(),
        }),
      },
      {
        // One field of an otherwise valid export set to a value chosen for that field.
        weight: 4,
        arbitrary: fc.record({
          from: fc.constantFrom('src-a', 'src-b', 'target'),
          edits: fc.array(envelopeEdit, { minLength: 1, maxLength: 2 }),
          reChecksum: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ whole: junkValue }) },
    );
    await fc.assert(
      fc.asyncProperty(envelope, fc.constantFrom('target', 'fresh'), fc.boolean(), async (spec, into, force) => {
        let env: unknown;
        if ('whole' in spec) env = spec.whole;
        else {
          env = await ws.exportState(spec.from);
          if ('mutations' in spec) env = mutate(env, spec.mutations);
          else for (const e of spec.edits) (env as Record<string, unknown>)[e.field] = e.value;
          if (spec.reChecksum && env !== null && typeof env === 'object' && 'state' in env) {
            const sum = stateChecksum((env as StateExport).state);
            if (sum !== undefined) (env as StateExport).checksum = sum;
          }
        }
        const name = into === 'fresh' ? `fresh-${++fresh}` : 'target';
        if (into === 'fresh') await ws.create(name);
        const before = await ws.readState(name);
        const print = await workspaceFingerprint(store, name);
        const r = await outcome(() => ws.importState(name, env as StateExport, { force }));
        if (!r.ok) {
          expectTypedError(r.error, `importState(${show(env)})`, [
            'INVALID_IMPORT',
            'LINEAGE_MISMATCH',
            'STALE_SERIAL',
          ]);
          expect(await workspaceFingerprint(store, name), 'a refused import changed the workspace').toBe(print);
          return;
        }
        // Accepted: the rules of DESIGN.md §4.
        const e = env as StateExport;
        const after = r.value;
        const neverWritten = before.serial === 0 && before.state === null;
        const want = neverWritten ? Math.max(e.serial, 1) : Math.max(e.serial, before.serial + 1);
        if (!Number.isSafeInteger(after.serial)) {
          throw new Error(`import produced serial ${after.serial}, not an exact integer (imported ${e.serial})`);
        }
        expect(after.serial).toBe(want);
        expect(after.lineage).toBe(neverWritten || force ? e.lineage : before.lineage);
        expect(asJson(after.state)).toEqual(asJson(e.state));
        expect(after.checksum).toBe(e.checksum);
      }),
      params(0x5eed_0010, 200),
    );
  });
});

// ================================================================ plan files

// ================================================================ secrets

/** A node placed in a state document: what it is, and what it must reveal as when accepted. */
interface SecretNode {
  node: unknown;
  /** The value `{ "$secret": … }` it must come back as, or undefined when it must be refused. */
  reveals?: { value: unknown };
}

const secretValue = fc.jsonValue({ maxDepth: 3 });

describe('fuzz: secrets in state documents and exports', () => {
  it('documents with secret markers, stored ciphertext and near misses: accepted ones reveal exactly, refused ones change nothing', async () => {
    const key = generateSecretsKey();
    const store = await sqliteFactory.open({ secretsKey: key });
    const keyless = await sqliteFactory.reopen(store, {});
    const ws = store.workspaces;
    await ws.create('other');
    await ws.create('target');
    // Real ciphertext of this store: of the target's own key and of another workspace's.
    const sealed = async (name: string, value: unknown): Promise<string> => {
      const doc = (await ws.writeState(name, { v: { $secret: value } })).state as { v: { $encrypted: string } };
      return doc.v.$encrypted;
    };
    const nodeArb: fc.Arbitrary<SecretNode | Promise<SecretNode>> = fc.oneof(
      secretValue.map((value) => ({ node: { $secret: value }, reveals: { value } })),
      fc
        .tuple(fc.constantFrom('target', 'other'), secretValue)
        .map(async ([name, value]) => ({ node: { $encrypted: await sealed(name, value) }, reveals: { value } })),
      fc
        .tuple(secretValue, fc.integer({ min: 0, max: 40 }), fc.constantFrom('A', '_', '-', 'z'))
        .map(async ([value, at, ch]) => {
          const text = await sealed('target', value);
          const i = text.length - 1 - (at % 30);
          const altered = text.slice(0, i) + (text[i] === ch ? 'Q' : ch) + text.slice(i + 1);
          return { node: { $encrypted: altered } };
        }),
      fc.tuple(secretValue, junkValue).map(([value, extra]) => ({ node: { $secret: value, extra } })),
      junkValue.map((j) => ({ node: { $encrypted: j } })),
      fc.stringMatching(/^[0-9a-f]{16}$/).map((id) => ({
        node: { $encrypted: `berth:secret:v1:${id}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA` },
      })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), secretValue, { maxKeys: 4 }),
        fc.array(nodeArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (base, pending, withKey) => {
          const nodes = await Promise.all(pending);
          const doc: Record<string, unknown> = { ...base };
          nodes.forEach((n, i) => (doc[`s${i}`] = [n.node]));
          const before = await workspaceFingerprint(store, 'target');
          const writer = withKey ? store : keyless;
          const r = await outcome(() => writer.workspaces.writeState('target', doc));
          const refusable = nodes.some((n) => n.reveals === undefined);
          if (!r.ok) {
            expectTypedError(r.error, `writeState(${show(doc)})`, [
              'INVALID_ARGUMENT',
              'SECRET_UNREADABLE',
              'SECRETS_KEY_MISSING',
            ]);
            expect(await workspaceFingerprint(store, 'target'), 'a refused write changed the workspace').toBe(before);
            // Only a near miss, or a secret to encrypt without the key, may be refused.
            const needsKey = nodes.some((n) => n.reveals !== undefined);
            expect(refusable || (!withKey && needsKey), describeError(r.error)).toBe(true);
            return;
          }
          expect(refusable && withKey, `a near miss was accepted: ${show(doc)}`).toBe(false);
          const shown = (await ws.readState('target', { showSecrets: true })).state as Record<string, unknown[]>;
          nodes.forEach((n, i) => {
            if (n.reveals) expect(shown[`s${i}`]).toEqual([{ $secret: n.reveals.value }]);
          });
        },
      ),
      params(0x5eed_0051, 60),
    );
  });

  it('exports whose secretsKeys were altered: success or INVALID_IMPORT/SECRET_UNREADABLE/SECRETS_KEY_MISMATCH, and a refusal changes nothing', async () => {
    const store = await sqliteFactory.open({ secretsKey: generateSecretsKey() });
    await store.workspaces.writeState('default', { a: { $secret: 'one' }, b: [{ $secret: { two: 2 } }] });
    const envelope = await store.workspaces.exportState('default');
    const [id] = Object.keys(envelope.secretsKeys ?? {});
    const other = await sqliteFactory.open({ secretsKey: generateSecretsKey() });
    await other.workspaces.writeState('default', { x: { $secret: 'x' } });
    const foreignWrapped = Object.values((await other.workspaces.exportState('default')).secretsKeys ?? {})[0];
    const target = await sqliteFactory.open({ secretsKey: generateSecretsKey() });
    const sameKeyTarget = await sqliteFactory.reopen(store, {});
    const keysArb = fc.oneof(
      junkValue,
      fc.constant(undefined),
      fc.constant({ [id!]: foreignWrapped }),
      junkValue.map((j) => ({ [id!]: j })),
      fc.string().map((s) => ({ [id!]: s })),
      fc.constant({ ...envelope.secretsKeys, extra: 'junk' }),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(keysArb, fc.boolean(), async (keys, sameStore) => {
        const into = sameStore ? sameKeyTarget : target;
        const name = `w${++n}`;
        await into.workspaces.create(name);
        const before = await workspaceFingerprint(into, name);
        const env = { ...envelope, secretsKeys: keys } as StateExport;
        const r = await outcome(() => into.workspaces.importState(name, env));
        if (!r.ok) {
          expectTypedError(r.error, `importState(secretsKeys: ${show(keys)})`, [
            'INVALID_IMPORT',
            'SECRET_UNREADABLE',
            'SECRETS_KEY_MISMATCH',
            'SECRETS_KEY_MISSING',
          ]);
          expect(await workspaceFingerprint(into, name), 'a refused import changed the workspace').toBe(before);
          return;
        }
        const shown = await into.workspaces.readState(name, { showSecrets: true });
        expect(shown.state).toEqual({ a: { $secret: 'one' }, b: [{ $secret: { two: 2 } }] });
      }),
      params(0x5eed_0052, 40),
    );
  });
});

const PLAN_M1 = `
version: 1
namespace: fz
volumes:
  data: { driver: local, labels: { tier: db } }
pods:
  web:
    labels: { app: web }
    containers:
      web-app: { image: "app:1", env: { PORT: "8080" } }
      web-proxy: { image: "nginx:1", dependsOn: [web-app], networks: { front: { aliases: [proxy] } } }
containers:
  db: { image: "postgres:16", command: [postgres], volumes: ["data:/var/lib/pg"], labels: { tier: db } }
`;
const PLAN_M2 = `
version: 1
namespace: fz
volumes:
  data: { driver: local, labels: { tier: primary } }
  cache: {}
pods:
  web:
    labels: { app: web, v: "2" }
    containers:
      web-app: { image: "app:2", env: { PORT: "8081" } }
containers:
  db: { image: "postgres:16", command: [postgres], volumes: ["data:/var/lib/pg"], labels: { tier: primary } }
  redis: { image: "redis:7", volumes: ["cache:/data"] }
`;
const PLAN_M3 = `
version: 1
namespace: fz
volumes:
  data: { driver: local, labels: { tier: db } }
pods:
  web:
    labels: { app: web }
    containers:
      web-app: { image: "app:1", env: { PORT: "8080" } }
containers:
  db: { image: "postgres:17", command: [postgres], volumes: ["data:/var/lib/pg"], labels: { tier: db } }
  worker: { image: "app:1", command: [work], dependsOn: [db] }
`;

interface PlanBase {
  json: unknown;
  /** Intact, it would really be applied (so the property never applies it intact). */
  pending: boolean;
}

/** What a refused apply must leave alone: objects, the workspace state and history, and locks. */
async function planWorld(store: Store): Promise<string> {
  const fz = store.withNamespace('fz');
  return JSON.stringify({
    containers: await store.allContainers(),
    pods: await store.allPods(),
    volumes: await store.allVolumes(),
    state: await fz.workspaces.readState('default'),
    history: await fz.workspaces.history('default'),
    locks: (await store.locks.list()).map((l) => l.key),
  });
}

/**
 * What apply reads of a plan: the whole document, except that of each change's `before`
 * and `after` only `id`, `digest` and `spec` count (other members there are ignored by
 * apply and by the digest alike, so adding one is not an alteration).
 */
function planEssence(plan: unknown): unknown {
  if (plan === null || typeof plan !== 'object' || !Array.isArray((plan as { changes?: unknown }).changes)) return plan;
  const p = { ...(plan as Record<string, unknown>) };
  p.changes = (p.changes as unknown[]).map((c) => {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return c;
    const out = { ...(c as Record<string, unknown>) };
    for (const side of ['before', 'after'] as const) {
      const s = out[side];
      if (s !== null && typeof s === 'object' && !Array.isArray(s)) {
        const { id, digest, spec } = s as Record<string, unknown>;
        out[side] = side === 'before' ? { id, digest, spec } : { digest, spec };
      }
    }
    return out;
  });
  return p;
}

/** Canonical JSON, or null when the document cannot be written (then it is not intact). */
function canonicalOrNull(doc: unknown): string | null {
  try {
    return canonicalJsonOf(doc);
  } catch {
    return null;
  }
}

/**
 * Recomputes the spec digests and the plan digest of an edited plan, as someone forging
 * a plan file would (the plan digest: sha256 of the canonical plan without `digest`, each
 * spec replaced by its digest).
 */
function forge(plan: unknown): unknown {
  if (plan === null || typeof plan !== 'object' || Array.isArray(plan)) return plan;
  const p = plan as Record<string, unknown>;
  if (Array.isArray(p.changes)) {
    for (const c of p.changes as unknown[]) {
      if (c === null || typeof c !== 'object') continue;
      for (const side of ['before', 'after'] as const) {
        const s = (c as Record<string, unknown>)[side];
        if (s !== null && typeof s === 'object' && 'spec' in s) {
          const sum = canonicalOrNull((s as { spec: unknown }).spec);
          if (sum !== null) (s as unknown as { digest: unknown }).digest = sha256Hex(sum);
        }
      }
    }
  }
  try {
    const { digest: _digest, ...content } = p;
    const changes = (content.changes as Record<string, unknown>[]).map((c) => ({
      ...c,
      before: c.before && { id: (c.before as { id: unknown }).id, digest: (c.before as { digest: unknown }).digest },
      after: c.after && { digest: (c.after as { digest: unknown }).digest },
    }));
    p.digest = sha256Hex(canonicalJsonOf({ ...content, changes }));
  } catch {
    // Not forgeable (changes is not a list of objects): leave the digest as it is.
  }
  return p;
}

describe('fuzz: plan files (store.apply)', () => {
  async function planStore(): Promise<{ store: Store; bases: Record<string, PlanBase> }> {
    const store = await sqliteFactory.open();
    const fz = store.withNamespace('fz');
    const asFile = (p: Plan): unknown => JSON.parse(planToJson(p));
    const p1 = await store.plan('default', loadManifest(PLAN_M1));
    await store.apply(p1, { allowDestroy: true });
    const p2 = await store.plan('default', loadManifest(PLAN_M2));
    const p3 = await store.plan('default', loadManifest(PLAN_M3));
    await store.apply(p3, { allowDestroy: true });
    const pending = await store.plan('default', loadManifest(PLAN_M2));
    const destroy = await fz.plan('default', null, { mode: 'destroy' });
    const refresh = await fz.plan('default', null, { mode: 'refresh-only' });
    expect(pending.steps.length).toBeGreaterThan(0);
    return {
      store,
      bases: {
        appliedEarlier: { json: asFile(p1), pending: false },
        stale: { json: asFile(p2), pending: false },
        applied: { json: asFile(p3), pending: false },
        pending: { json: asFile(pending), pending: true },
        destroy: { json: asFile(destroy), pending: true },
        refresh: { json: asFile(refresh), pending: true },
      },
    };
  }

  const baseName = fc.constantFrom('appliedEarlier', 'stale', 'applied', 'pending', 'destroy', 'refresh');
  const planMutations = fc.array(
    fc.oneof(
      { weight: 8, arbitrary: mutationArb() },
      {
        weight: 1,
        arbitrary: fc.record({
          at: fc.constant(0),
          kind: fc.constant('replace' as const),
          value: fc.oneof(junkValue, fc.constantFrom<unknown>('plan/v1', [], 42)),
        }),
      },
    ),
    { minLength: 1, maxLength: 3 },
  );

  it('altered plans (digests, specs, steps, fields removed, wrong types, non-objects): PLAN_INVALID, never INTERNAL or a TypeError; nothing changes', async () => {
    const { store, bases } = await planStore();
    await fc.assert(
      fc.asyncProperty(baseName, planMutations, async (name, muts: Mutation[]) => {
        const base = bases[name]!;
        const plan = mutate(base.json, muts);
        const intact = canonicalOrNull(planEssence(plan)) === canonicalJsonOf(planEssence(base.json));
        if (intact && base.pending) return;
        const before = await planWorld(store);
        const r = await outcome(() => store.apply(plan as Plan, { allowDestroy: true }));
        if (r.ok) throw new Error(`apply accepted an ${intact ? 'intact stale' : 'altered'} plan (${name})`);
        expectTypedError(
          r.error,
          `apply(${intact ? 'intact' : 'altered'} ${name} plan)`,
          intact ? ['PLAN_STALE', 'PLAN_ALREADY_APPLIED'] : ['PLAN_INVALID'],
        );
        expect(await planWorld(store), 'a refused apply changed the store').toBe(before);
      }),
      params(0x5eed_0020, 250),
    );
  });

  it('forged plans (edited, then digests recomputed): success or a typed, non-INTERNAL error; a refusal changes nothing and no lock is left', async () => {
    const { store, bases } = await planStore();
    await fc.assert(
      fc.asyncProperty(baseName, planMutations, async (name, muts: Mutation[]) => {
        const plan = forge(mutate(bases[name]!.json, muts));
        const before = await planWorld(store);
        const r = await outcome(() => store.apply(plan as Plan, { allowDestroy: true }));
        if (!r.ok) {
          expectTypedError(r.error, `apply(forged ${name} plan ${show(muts, 400)})`);
          expect(await planWorld(store), 'a refused apply changed the store').toBe(before);
        }
        expect((await store.locks.list()).map((l) => l.key)).toEqual([]);
      }),
      params(0x5eed_0021, 150),
    );
  });
});

// ================================================================ object arguments

/** Fixed ids of the seeded objects (so arbitraries can refer to them). */
const SEED = {
  pod: 'b'.repeat(64),
  a: 'a'.repeat(64),
  b: `${'a'.repeat(63)}b`,
  other: 'c'.repeat(64),
} as const;

type SeedRef = 'a' | 'b' | 'other' | 'pod' | 'vol';
type Ref = { seed: SeedRef; mutations: Mutation[] } | { junk: unknown };

/**
 * Mostly `valid`, sometimes `edge`: with one bad field at a time, calls get past the
 * first check and reach the deeper ones (transactions, SQL, serialisation).
 */
function mostly(valid: fc.Arbitrary<unknown>, edge: fc.Arbitrary<unknown> = junkValue): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 7, arbitrary: valid }, { weight: 1, arbitrary: edge });
}

/** Numbers a JavaScript caller can pass where an integer is expected. */
const edgeNumber: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  0.5,
  -1,
  0,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 53 + 2,
  2 ** 63,
  9e15,
  1e300,
  '5',
  null,
);

const seedAwareJunk = fc.oneof(
  { weight: 3, arbitrary: junkValue },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(SEED.a, SEED.b, SEED.pod, SEED.other, 'ctr-a', 'pod-one', 'vol-one', 'other', [
      SEED.a,
    ]),
  },
);

/** A seeded object (as read from the store, maybe edited), or junk. */
const refArb = (seeds: readonly SeedRef[]): fc.Arbitrary<Ref> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ seed: fc.constantFrom(...seeds), mutations: fc.constant<Mutation[]>([]) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        seed: fc.constantFrom(...seeds),
        mutations: fc.array(mutationArb(seedAwareJunk), { minLength: 1, maxLength: 2 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ junk: junkValue }) },
  );

const freshName = fc.stringMatching(/^[a-z][a-z0-9_.-]{2,12}$/);
const nameArb = mostly(
  freshName,
  fc.oneof(
    fc.constantFrom<unknown>(
      'ctr-a',
      'ctr-b',
      'pod-one',
      'vol-one',
      'ctr-c',
      '',
      '-bad',
      'has space',
      'ünï',
      'x'.repeat(254),
    ),
    wildString,
    junkValue,
  ),
);
const idArb = mostly(
  fc.oneof(fc.constant(undefined), fc.stringMatching(/^[0-9a-f]{8,64}$/)),
  fc.oneof(fc.constantFrom<unknown>(SEED.a, SEED.pod, 'w%1', '', 'x'.repeat(100_000)), wildString, junkValue),
);
const nsArb = mostly(fc.constantFrom<unknown>(undefined, ''), fc.constantFrom<unknown>('other', 'fz', 5, null, 'ünï'));
const stringMapArb = mostly(
  fc.dictionary(fc.constantFrom('A', 'B', 'tier', 'berth.workspace'), fc.constantFrom('1', 'x', ''), { maxKeys: 2 }),
  fc.oneof(
    fc.dictionary(
      fc.oneof(wildString, fc.constantFrom('__proto__', 'constructor', '')),
      fc.oneof(fc.string({ maxLength: 5 }), junkValue),
      { maxKeys: 3 },
    ),
    junkValue,
  ),
);
const stringListArb = (valid: fc.Arbitrary<unknown[]>): fc.Arbitrary<unknown> =>
  mostly(
    valid,
    fc.oneof(
      fc.array(fc.oneof(fc.constantFrom<unknown>(SEED.a, SEED.b, SEED.other, 'nope', ''), wildString, junkValue), {
        maxLength: 3,
      }),
      junkValue,
    ),
  );
const namedVolumesArb = mostly(
  fc.constantFrom<unknown>([], [{ name: 'vol-one', dest: '/d' }]),
  fc.oneof(
    fc.array(
      fc.record(
        { name: fc.oneof(fc.constantFrom('vol-one', 'nope'), junkValue), dest: fc.oneof(fc.constant('/d'), junkValue) },
        { requiredKeys: [] },
      ),
      { maxLength: 2 },
    ),
    junkValue,
  ),
);
const networksArb = mostly(
  fc.constantFrom<unknown>({}, { net: {} }, { net: { aliases: ['x'] }, mgmt: {} }),
  fc.oneof(
    fc.dictionary(
      fc.oneof(fc.constantFrom('net', '', '__proto__'), wildString),
      fc.oneof(fc.constant({}), fc.record({ aliases: junkValue }), junkValue),
      { maxKeys: 2 },
    ),
    junkValue,
  ),
);

const containerConfigArb = fc.record(
  {
    id: idArb,
    name: nameArb,
    namespace: nsArb,
    pod: mostly(fc.constant(undefined), fc.oneof(fc.constantFrom<unknown>(SEED.pod, '', 'nope'), junkValue)),
    image: mostly(fc.constant('img:1')),
    command: stringListArb(fc.array(fc.constantFrom('sh', '-c', 'run'), { maxLength: 2 })),
    env: stringMapArb,
    labels: stringMapArb,
    dependencies: stringListArb(fc.subarray([SEED.a])),
    namedVolumes: namedVolumesArb,
    networks: networksArb,
    createdAt: mostly(fc.constant('2026-01-01T00:00:00.000Z')),
    'x-unknown': mostly(fc.jsonValue({ maxDepth: 2 })),
  },
  { requiredKeys: ['name'] },
);
const stateArb = mostly(
  fc.constantFrom<unknown>({ status: 'configured' }, undefined, { status: 'running', pid: 42 }),
  fc.oneof(fc.record({ status: junkValue, pid: junkValue, 'x-extra': junkValue }, { requiredKeys: [] }), junkValue),
);
const containerArb = mostly(fc.record({ config: containerConfigArb, state: stateArb }, { requiredKeys: ['config'] }));
const podArb = mostly(
  fc.record(
    {
      config: fc.record(
        { id: idArb, name: nameArb, namespace: nsArb, labels: stringMapArb, 'x-unknown': mostly(fc.jsonValue()) },
        { requiredKeys: ['name'] },
      ),
      state: stateArb,
    },
    { requiredKeys: ['config'] },
  ),
);
const volumeArb = mostly(
  fc.record(
    {
      config: fc.record(
        {
          name: nameArb,
          namespace: nsArb,
          driver: mostly(fc.constant('local')),
          labels: stringMapArb,
          options: stringMapArb,
          'x-unknown': mostly(fc.jsonValue()),
        },
        { requiredKeys: ['name'] },
      ),
      state: stateArb,
    },
    { requiredKeys: ['config'] },
  ),
);
const lookupArb = fc.oneof(
  wildString,
  fc.constantFrom<unknown>(
    SEED.a,
    SEED.a.slice(0, 10),
    'a',
    'b',
    'ctr-a',
    'pod-one',
    'vol',
    'vol-one',
    'w',
    'w%',
    'w_',
  ),
  junkValue,
);

const callArb = fc.oneof(
  fc.record({ op: fc.constant('addContainer' as const), ctr: containerArb }),
  fc.record({ op: fc.constant('addPod' as const), pod: podArb }),
  fc.record({ op: fc.constant('addVolume' as const), vol: volumeArb }),
  fc.record({ op: fc.constant('addContainerToPod' as const), pod: refArb(['pod', 'a']), ctr: containerArb }),
  fc.record({
    op: fc.constant('networkConnect' as const),
    ctr: refArb(['a', 'b', 'other']),
    network: mostly(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/),
      fc.oneof(fc.constantFrom<unknown>('net', '', ' ', '__proto__'), wildString, junkValue),
    ),
    opts: mostly(
      fc.constantFrom<unknown>(undefined, {}, { aliases: ['a'] }, { interfaceName: 'eth1', staticIps: ['10.0.0.2'] }),
      fc.oneof(fc.record({ aliases: junkValue, interfaceName: junkValue }, { requiredKeys: [] }), junkValue),
    ),
  }),
  fc.record({
    op: fc.constant('addExecSession' as const),
    ctr: refArb(['a', 'b', 'other']),
    session: mostly(
      fc.record(
        {
          id: mostly(fc.stringMatching(/^[0-9a-f]{4,16}$/), fc.oneof(wildString, junkValue)),
          containerId: mostly(fc.constant(undefined), fc.oneof(fc.constantFrom<unknown>(SEED.a, SEED.b), junkValue)),
        },
        { requiredKeys: ['id'] },
      ),
    ),
  }),
  fc.record({
    op: fc.constant('rewriteContainerConfig' as const),
    ctr: refArb(['a', 'b', 'other']),
    config: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          ofSeed: fc.constantFrom<'a' | 'b' | 'other'>('a', 'b', 'other'),
          field: fc.constantFrom(
            'id',
            'name',
            'namespace',
            'pod',
            'image',
            'command',
            'env',
            'labels',
            'dependencies',
            'namedVolumes',
            'networks',
            'x-unknown',
          ),
          value: fc.oneof(
            freshName,
            fc.constantFrom<unknown>(undefined, 'ctr-b', 'pod-one', [SEED.a], [{ name: 'vol-one', dest: '/d' }]),
            seedAwareJunk,
          ),
        }),
      },
      { weight: 1, arbitrary: fc.record({ given: mostly(containerConfigArb) }) },
    ),
  }),
  fc.record({
    op: fc.constantFrom(
      'lookupContainer' as const,
      'lookupContainerID' as const,
      'lookupPod' as const,
      'lookupVolume' as const,
    ),
    x: lookupArb,
  }),
  fc.record({
    op: fc.constant('acquire' as const),
    key: mostly(fc.constantFrom<unknown>('k1', 'k2', 'workspace:/default', 'ünï/%_*?')),
    opts: mostly(
      fc.record(
        {
          operation: mostly(fc.constant('fuzz')),
          info: mostly(fc.constantFrom<unknown>(undefined, 'note')),
          who: mostly(fc.constantFrom<unknown>(undefined, 'me@host')),
          // Small waits only: a long timeoutMs on a held lock waits that long, by design.
          timeoutMs: mostly(
            fc.constantFrom<unknown>(undefined, 0, 5),
            fc.constantFrom<unknown>(-1, NaN, 'x', Infinity),
          ),
          ttlMs: mostly(fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 10_000_000 })), edgeNumber),
          breakStale: mostly(fc.constantFrom<unknown>(undefined, true, false)),
          pid: mostly(fc.constantFrom<unknown>(undefined, 0, process.pid), edgeNumber),
        },
        { requiredKeys: ['operation'] },
      ),
    ),
  }),
  fc.record({
    op: fc.constant('history' as const),
    name: mostly(fc.constantFrom<unknown>('default', 'nope')),
    opts: mostly(
      fc.oneof(fc.constant(undefined), fc.record({ limit: mostly(fc.integer({ min: 1, max: 5 }), edgeNumber) })),
    ),
  }),
  fc.record({
    op: fc.constant('listEvents' as const),
    opts: mostly(
      fc.record(
        {
          since: mostly(fc.nat({ max: 50 }), edgeNumber),
          until: mostly(fc.nat({ max: 50 }), edgeNumber),
          limit: mostly(fc.nat({ max: 5 }), edgeNumber),
          types: mostly(fc.constantFrom<unknown>(['container.*'], ['lock.acquire', 'x'], [])),
        },
        { requiredKeys: [] },
      ),
    ),
  }),
);
type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

/** Everything a failed call must leave as it was. */
async function objectWorld(store: Store): Promise<string> {
  const containers = await store.allContainers();
  const sessions: string[][] = [];
  for (const c of containers) sessions.push(await store.getContainerExecSessions(c));
  const locks = (await store.locks.list()).map(({ stale: _s, staleReason: _r, ...rest }) => rest);
  return JSON.stringify({
    containers,
    pods: await store.allPods(),
    volumes: await store.allVolumes(),
    sessions,
    locks,
  });
}

async function seedObjects(store: Store): Promise<void> {
  const p = await store.addPod({ config: { id: SEED.pod, name: 'pod-one' }, state: {} } as Pod);
  await store.addContainer({
    config: { id: SEED.a, name: 'ctr-a', image: 'busybox' },
    state: { status: 'configured' },
  } as Container);
  await store.addContainerToPod(p, {
    config: { id: SEED.b, name: 'ctr-b' },
    state: { status: 'running' },
  } as Container);
  await store.addContainer({
    config: { id: SEED.other, name: 'ctr-c', namespace: 'other' },
    state: { status: 'configured' },
  } as Container);
  await store.addVolume({ config: { name: 'vol-one', driver: 'local' }, state: {} } as Volume);
  // Ids and names with LIKE/GLOB wildcards, and ids that are prefixes of each other.
  for (const [id, name] of [
    ['w%1', 'w_a'],
    ['w_1', 'wxa'],
    ['wx1', 'w.a'],
    ['w*', 'w-a'],
    ['w?', 'wa'],
    ['w[a]', 'w_'],
    ['w%', 'w1'],
  ] as const) {
    await store.addContainer({ config: { id, name }, state: { status: 'configured' } } as Container);
  }
  for (const [id, name] of [
    ['pw%', 'pw_1'],
    ['pw_', 'pwx1'],
    ['pwx', 'pw.1'],
  ] as const) {
    await store.addPod({ config: { id, name }, state: {} } as Pod);
  }
  for (const name of ['vw_1', 'vwx1', 'vw.1', 'vw-1', 'vw_']) {
    await store.addVolume({ config: { name }, state: {} } as Volume);
  }
}

/** The lookup rules of DESIGN.md §3, applied literally to a listing. */
function expectedLookup(
  items: { id: string; name: string }[],
  x: unknown,
  byId: boolean,
): { id: string } | 'EMPTY_ID' | 'AMBIGUOUS_ID' | 'NONE' {
  if (typeof x !== 'string' || x === '') return 'EMPTY_ID';
  const exact = (byId ? items.find((i) => i.id === x) : undefined) ?? items.find((i) => i.name === x);
  if (exact) return exact;
  const prefixed = items.filter((i) => (byId ? i.id : i.name).startsWith(x));
  if (prefixed.length === 1) return prefixed[0]!;
  return prefixed.length > 1 ? 'AMBIGUOUS_ID' : 'NONE';
}

async function checkLookup(store: Store, op: string, x: unknown): Promise<void> {
  const kind = op === 'lookupPod' ? 'pod' : op === 'lookupVolume' ? 'volume' : 'container';
  const items =
    kind === 'pod'
      ? (await store.allPods()).map((p) => ({ id: p.config.id, name: p.config.name }))
      : kind === 'volume'
        ? (await store.allVolumes()).map((v) => ({ id: v.config.name, name: v.config.name }))
        : (await store.allContainers()).map((c) => ({ id: c.config.id, name: c.config.name }));
  const want = expectedLookup(items, x, kind !== 'volume');
  const call = (): Promise<unknown> =>
    op === 'lookupContainer'
      ? store.lookupContainer(x as string).then((c) => c.config.id)
      : op === 'lookupContainerID'
        ? store.lookupContainerID(x as string)
        : op === 'lookupPod'
          ? store.lookupPod(x as string).then((p) => p.config.id)
          : store.lookupVolume(x as string).then((v) => v.config.name);
  const r = await outcome(call);
  const context = `${op}(${show(x)})`;
  if (typeof want === 'object') {
    if (!r.ok) throw new Error(`${context}: expected ${want.id}, got ${describeError(r.error)}`);
    expect(r.value, `${context} resolved to another object`).toBe(want.id);
    return;
  }
  if (r.ok) throw new Error(`${context}: expected ${want}, but it resolved to ${show(r.value)}`);
  const code =
    want === 'NONE'
      ? kind === 'pod'
        ? 'NO_SUCH_POD'
        : kind === 'volume'
          ? 'NO_SUCH_VOLUME'
          : 'NO_SUCH_CONTAINER'
      : want;
  expectTypedError(r.error, context, [code]);
}

describe('fuzz: object arguments', () => {
  it('random values for every argument: success or a documented, non-INTERNAL BerthError; a failed call changes nothing', async () => {
    const store = await sqliteFactory.open();
    await seedObjects(store);
    const resolve = async (ref: Ref): Promise<unknown> => {
      if ('junk' in ref) return ref.junk;
      const seed = ref.seed;
      const obj =
        seed === 'pod'
          ? await store.pod(SEED.pod)
          : seed === 'vol'
            ? await store.volume('vol-one')
            : await store.container(SEED[seed]);
      return mutate(obj, ref.mutations);
    };
    const perform = async (c: Call): Promise<unknown> => {
      switch (c.op) {
        case 'addContainer':
          return store.addContainer(c.ctr as Container);
        case 'addPod':
          return store.addPod(c.pod as Pod);
        case 'addVolume':
          return store.addVolume(c.vol as Volume);
        case 'addContainerToPod':
          return store.addContainerToPod((await resolve(c.pod)) as Pod, c.ctr as Container);
        case 'networkConnect':
          return store.networkConnect(
            (await resolve(c.ctr)) as Container,
            c.network as string,
            c.opts as NetworkOptions,
          );
        case 'addExecSession':
          return store.addExecSession(
            (await resolve(c.ctr)) as Container,
            c.session as { id: string; containerId: string },
          );
        case 'rewriteContainerConfig': {
          let config: unknown;
          if ('given' in c.config) config = c.config.given;
          else {
            config = { ...(await store.container(SEED[c.config.ofSeed])).config };
            (config as Record<string, unknown>)[c.config.field] = c.config.value;
          }
          return store.rewriteContainerConfig((await resolve(c.ctr)) as Container, config as Container['config']);
        }
        case 'acquire':
          return store.locks.acquire(c.key as string, c.opts as { operation: string });
        case 'history':
          return store.workspaces.history(c.name as string, c.opts as { limit?: number });
        case 'listEvents':
          return store.events.list(c.opts as { since?: number });
        default:
          throw new Error(`not a mutating call: ${c.op}`);
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 3 }), async (calls) => {
        for (const c of calls) {
          if (c.op.startsWith('lookup')) {
            await checkLookup(store, c.op, (c as { x: unknown }).x);
            continue;
          }
          const before = await objectWorld(store);
          const r = await outcome(() => perform(c));
          if (!r.ok) {
            expectTypedError(r.error, `${c.op}(${show(c, 500)})`);
            expect(await objectWorld(store), `a failed ${c.op} changed the store`).toBe(before);
            continue;
          }
          // Accepted: what was stored is what the call returned.
          const v = r.value as { config?: { id?: string; name?: string } };
          if (c.op === 'addContainer' || c.op === 'addContainerToPod') {
            expect(asJson(await store.container(v.config!.id!))).toEqual(asJson(v));
          } else if (c.op === 'addPod') {
            expect(asJson(await store.pod(v.config!.id!))).toEqual(asJson(v));
          } else if (c.op === 'addVolume') {
            expect(asJson(await store.volume(v.config!.name!))).toEqual(asJson(v));
          } else if (c.op === 'acquire') {
            const lock = r.value as { key: string; id: string };
            await store.locks.release(lock.key, lock.id);
          }
        }
      }),
      params(0x5eed_0030, 200),
    );
  });

  it('numeric arguments (lease, pid, timeouts, limits, seqs, serials, exit codes) at and beyond 2^53, fractional or huge: a typed error, never INTERNAL; an accepted serial keeps counting by one', async () => {
    const store = await sqliteFactory.open();
    await store.workspaces.writeState('default', { n: 0 });
    const exported = await store.workspaces.exportState('default');
    let fresh = 0;
    const number = fc.oneof(
      edgeNumber,
      fc.constantFrom<unknown>(2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 62, 2 ** 63, -(2 ** 63), 1e21, 1.5, 3),
      fc.integer(),
      fc.double(),
    );
    const calls: Record<string, (v: unknown) => Promise<unknown>> = {
      'locks.acquire ttlMs': async (v) => {
        const l = await store.locks.acquire('num', { operation: 'fuzz', ttlMs: v as number });
        await store.locks.get('num');
        await store.locks.release('num', l.id);
      },
      'locks.acquire pid': async (v) => {
        const l = await store.locks.acquire('num', { operation: 'fuzz', pid: v as number });
        await store.locks.list();
        await store.locks.release('num', l.id);
      },
      'locks.acquire timeoutMs (lock free)': async (v) => {
        const l = await store.locks.acquire('num', { operation: 'fuzz', timeoutMs: v as number });
        await store.locks.release('num', l.id);
      },
      'workspaces.history limit': (v) => store.workspaces.history('default', { limit: v as number }),
      'workspaces.rollback serial': (v) => store.workspaces.rollback('default', v as number),
      'writeState expectedSerial': (v) =>
        store.workspaces.writeState('default', { n: 1 }, { expectedSerial: v as number }),
      'events.list since': (v) => store.events.list({ since: v as number }),
      'events.list until': (v) => store.events.list({ until: v as number }),
      'events.list limit': (v) => store.events.list({ limit: v as number }),
      addContainerExitCode: (v) => store.addContainerExitCode('num-ctr', v as number),
      'importState serial, then two writes': async (v) => {
        const name = `num-${++fresh}`;
        await store.workspaces.create(name);
        const imported = await store.workspaces.importState(name, { ...exported, serial: v as number });
        // Serials count by one from whatever was accepted (DESIGN.md §4: +1 on every write).
        const one = await store.workspaces.writeState(name, { n: 2 });
        const two = await store.workspaces.writeState(name, { n: 3 });
        if (
          !Number.isSafeInteger(imported.serial) ||
          one.serial !== imported.serial + 1 ||
          two.serial !== one.serial + 1
        ) {
          throw new Error(`serials after importing ${String(v)}: ${imported.serial}, ${one.serial}, ${two.serial}`);
        }
      },
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(calls)), number, async (name, v) => {
        const r = await outcome(() => calls[name]!(v));
        if (!r.ok) expectTypedError(r.error, `${name} = ${String(v)}`);
      }),
      params(0x5eed_0033, 300),
    );
  });

  it('ids and names with wildcard characters (% _ * ? [ ]) only ever match themselves (or as a literal prefix)', async () => {
    const store = await sqliteFactory.open();
    await seedObjects(store);
    const input = fc.oneof(
      wildString,
      fc.constantFrom('w', 'w%', 'w_', 'w*', 'w?', 'w[', 'w[a', 'pw', 'pw%', 'pw_', 'vw', 'vw_', 'vw%', '%', '_', '*'),
      fc.string({
        unit: fc.constantFrom('w', 'p', 'v', '%', '_', '*', '?', '[', ']', 'a', 'x', '1', '.', '-'),
        minLength: 1,
        maxLength: 4,
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('lookupContainer', 'lookupContainerID', 'lookupPod', 'lookupVolume'),
        input,
        async (op, x) => checkLookup(store, op, x),
      ),
      params(0x5eed_0031, 300),
    );
  });

  it('ids read back exactly as given (lookups, exec sessions, pod members), whatever characters they hold', async () => {
    const store = await sqliteFactory.open();
    const p = await store.addPod({ config: { name: 'rt-pod' }, state: {} } as Pod);
    let n = 0;
    const weird = fc.string({
      unit: fc.constantFrom(
        'a',
        'Z',
        '%',
        '_',
        '\u0000',
        '\uD800',
        '\uDFFF',
        '\uFFFD',
        'é',
        '🚢',
        '\u{10FFFF}',
        ' ',
        '\n',
      ),
      minLength: 1,
      maxLength: 6,
    });
    await fc.assert(
      fc.asyncProperty(weird, weird, fc.boolean(), async (id, sessionId, inPod) => {
        const name = `rt-${++n}`;
        const ctr = { config: { id: `c-${id}`, name }, state: { status: 'configured' } } as Container;
        const added = await outcome(() => (inPod ? store.addContainerToPod(p, ctr) : store.addContainer(ctr)));
        if (!added.ok) {
          expectTypedError(added.error, `add container with id ${show(ctr.config.id)}`);
          return;
        }
        const cid = ctr.config.id;
        expect(await store.lookupContainerID(cid), 'lookupContainerID').toBe(cid);
        expect((await store.lookupContainer(name)).config.id).toBe(cid);
        if (inPod) expect(await store.podContainersByID(p), 'podContainersByID').toContain(cid);
        const sid = `s-${sessionId}-${n}`;
        const s = await outcome(() => store.addExecSession(added.value, { id: sid, containerId: cid }));
        if (!s.ok) {
          expectTypedError(s.error, `addExecSession ${show(sid)}`);
          return;
        }
        expect(await store.getContainerExecSessions(added.value), 'getContainerExecSessions').toEqual([sid]);
        expect(await store.getExecSession(sid)).toBe(cid);
      }),
      params(0x5eed_0032, 100),
    );
  });
});

// ================================================================ huge and deeply nested documents

describe('fuzz: huge and deeply nested JSON', () => {
  const MB = 1024 * 1024;

  /**
   * Runs every case once (as examples, in order): each must succeed or fail with a
   * typed, non-INTERNAL error that left `world()` as it was.
   */
  async function runCases(
    seed: number,
    cases: Record<string, () => Promise<unknown>>,
    world: () => Promise<string>,
  ): Promise<void> {
    const names = Object.keys(cases);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), async (name) => {
        const before = await world();
        const r = await outcome(cases[name]!);
        if (!r.ok) {
          expectTypedError(r.error, name);
          expect(await world(), `${name}: a refusal changed the store`).toBe(before);
        }
      }),
      { ...params(seed, names.length), examples: names.map((k) => [k]) },
    );
  }

  it('store documents nested 10,000 deep and multi-MB labels/state: success or a typed error, never a crash; refusals change nothing', async () => {
    const store = await sqliteFactory.open();
    await store.workspaces.create('big');
    const base = await store.addContainer({
      config: { name: 'big-base' },
      state: { status: 'configured' },
    } as Container);
    const bigLabels = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`label-${i}`, `value-${i}`]));
    let n = 0;
    const cases: Record<string, () => Promise<unknown>> = {
      'writeState: object 10,000 deep': () => store.workspaces.writeState('big', deepObject(10_000)),
      'writeState: array 10,000 deep': () => store.workspaces.writeState('big', deepArray(10_000)),
      'writeState: 4 MB string': () => store.workspaces.writeState('big', { blob: 'x'.repeat(4 * MB) }),
      'writeState: 50,000 keys': () => store.workspaces.writeState('big', bigLabels),
      'importState: state 10,000 deep': async () => {
        const e = await store.workspaces.exportState('big');
        return store.workspaces.importState(
          'big',
          { ...e, serial: e.serial + 5, state: deepObject(10_000) },
          { force: true },
        );
      },
      'addContainer: config field 10,000 deep': () =>
        store.addContainer({
          config: { name: `deep-${++n}`, 'x-deep': deepObject(10_000) },
          state: {},
        } as unknown as Container),
      'addContainer: state 10,000 deep': () =>
        store.addContainer({ config: { name: `deep-${++n}` }, state: deepArray(10_000) } as unknown as Container),
      'addContainer: 3 MB label value': () =>
        store.addContainer({
          config: { name: `big-${++n}`, labels: { big: 'x'.repeat(3 * MB) } },
          state: { status: 'configured' },
        } as unknown as Container),
      'addContainer: 50,000 labels': () =>
        store.addContainer({
          config: { name: `big-${++n}`, labels: bigLabels },
          state: { status: 'configured' },
        } as unknown as Container),
      'addVolume: 3 MB options': () =>
        store.addVolume({ config: { name: `bigvol-${++n}`, options: { o: 'y'.repeat(3 * MB) } }, state: {} } as Volume),
      'addPod: state 10,000 deep': () =>
        store.addPod({ config: { name: `deeppod-${++n}` }, state: deepObject(10_000) } as unknown as Pod),
      'saveContainer: state 10,000 deep': async () =>
        store.saveContainer({
          ...(await store.container(base.config.id)),
          state: deepObject(10_000),
        } as unknown as Container),
      'networkConnect: options 10,000 deep': async () =>
        store.networkConnect(
          await store.container(base.config.id),
          `deepnet-${++n}`,
          deepObject(10_000) as NetworkOptions,
        ),
      'rewriteContainerConfig: field 10,000 deep': async () => {
        const c = await store.container(base.config.id);
        return store.rewriteContainerConfig(c, { ...c.config, 'x-deep': deepArray(10_000) } as Container['config']);
      },
      // Whatever was accepted can be read back, listed and exported.
      'read back: snapshot, listings, state, export': async () => {
        await store.snapshot();
        await store.allContainers();
        await store.allVolumes();
        await store.workspaces.readState('big');
        return store.workspaces.exportState('big');
      },
    };
    await runCases(0x5eed_0040, cases, async () =>
      JSON.stringify([await objectWorld(store), await workspaceFingerprint(store, 'big')]),
    );
  }, 120_000);

  it('manifests nested 10,000 deep, multi-MB strings and long dependsOn chains: a Manifest or a typed error', async () => {
    const chain = (count: number): string =>
      [
        'version: 1',
        'containers:',
        ...Array.from(
          { length: count },
          (_, i) => `  c${i}: { image: x${i < count - 1 ? `, dependsOn: [c${i + 1}]` : ''} }`,
        ),
      ].join('\n');
    const cases: Record<string, () => Promise<unknown>> = {
      'flow sequence 10,000 deep': async () =>
        loadManifest(`version: 1\ncontainers:\n  c1: { image: ${'['.repeat(10_000)}${']'.repeat(10_000)} }\n`),
      'flow mapping 10,000 deep': async () =>
        loadManifest(`version: 1\ncontainers:\n  c1: { labels: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)} }\n`),
      'block mapping 3,000 deep': async () =>
        loadManifest(`version: 1\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')}\n`),
      '4 MB image string': async () =>
        loadManifest(`version: 1\ncontainers:\n  c1: { image: "${'x'.repeat(4 * MB)}" }\n`),
      // 6,000 rather than 10,000: checking references is quadratic, 10,000 takes ~15 s under vitest.
      'dependsOn chain of 6,000 containers': async () => loadManifest(chain(6000)),
    };
    await runCases(0x5eed_0042, cases, async () => '');
  }, 120_000);

  it('planning a manifest with a dependsOn chain of 10,000 containers: a plan or a typed error', async () => {
    const store = await sqliteFactory.open();
    const count = 10_000;
    const manifest: Manifest = {
      version: 1,
      volumes: {},
      pods: {},
      source: '<object>',
      containers: Object.fromEntries(
        Array.from({ length: count }, (_, i) => [
          `c${i}`,
          i < count - 1 ? { image: 'x', dependsOn: [`c${i + 1}`] } : { image: 'x' },
        ]),
      ),
    };
    await runCases(0x5eed_0043, { 'plan(chain of 10,000)': () => store.plan('default', manifest) }, async () =>
      JSON.stringify(await store.allContainers()),
    );
  }, 120_000);

  it('a state accepted by writeState exports and imports back, even at the deepest nesting berth accepts', async () => {
    const store = await sqliteFactory.open();
    await store.workspaces.create('edge');
    // The deepest document writeState accepts here (it depends on the stack, so search for it).
    let lo = 1;
    let hi = 40_000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const r = await outcome(() => store.workspaces.writeState('edge', deepObject(mid)));
      if (r.ok) lo = mid;
      else {
        expectTypedError(r.error, `writeState(depth ${mid})`);
        hi = mid;
      }
    }
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: Math.max(1, lo - 40), max: lo }), async (depth) => {
        await store.workspaces.writeState('edge', deepObject(depth));
        const exported = await store.workspaces.exportState('edge');
        const r = await outcome(() =>
          store.workspaces.importState('edge', { ...exported, serial: exported.serial + 1 }, { force: true }),
        );
        if (!r.ok) throw new Error(`export of a depth-${depth} state was refused on import: ${describeError(r.error)}`);
      }),
      { ...params(0x5eed_0041, 12), examples: [[lo]] },
    );
  }, 120_000);
});

// ================================================================ HTTP

/**
 * Methods Node's HTTP parser knows (an unknown token gets the parser's bare 400 before berth
 * sees it). CONNECT is left out: without a 'connect' listener Node drops such a connection.
 */
const HTTP_METHODS = 'GET GET GET POST POST PUT DELETE HEAD OPTIONS PATCH PROPFIND SEARCH PURGE'.split(' ');
/** Printable ASCII the HTTP parser takes in a request target, minus '#' and '?' (they would move the query). */
const TARGET_CHARS = [...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))].filter(
  (ch) => ch !== '#' && ch !== '?',
);
const HEADER_CHARS = [...Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i))];
const SEGMENTS = [
  'v1',
  'v1',
  'v1',
  'state',
  'events',
  'locks',
  'containers',
  'pods',
  'volumes',
  'workspaces',
  'health',
  'force-unlock',
  'workspace%3A%2Fdefault',
  '%E0%A4%A',
  '%',
  '%00',
  '%2F',
  '%ZZ',
  '..',
  '.',
  '',
  'x:99999',
  '[',
  'a:b@c',
  '~',
];
const segmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...TARGET_CHARS), maxLength: 6 }) },
);
const pathArb = fc.oneof(
  { weight: 10, arbitrary: fc.array(segmentArb, { maxLength: 5 }).map((s) => `/${s.join('/')}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '*',
      'http://[',
      'http://127.0.0.1/v1/state',
      '//x:99999/v1/state',
      '/v1//state',
      '/v1/locks//force-unlock',
    ),
  },
);
const SEQ_VALUES = [
  '-1',
  'abc',
  '0',
  '1',
  '3',
  '99999999999999999999999',
  '1e3',
  '',
  '%20',
  '0x10',
  '1.5',
  '+1',
  '%201',
  '%ZZ',
];
const seqArb = fc.oneof(
  fc.constantFrom(...SEQ_VALUES),
  fc.string({ unit: fc.constantFrom(...TARGET_CHARS.filter((c) => c !== '&')), maxLength: 8 }),
);
const queryArb = fc.array(
  fc.tuple(
    fc.constantFrom('since', 'until', 'type', 'format', 'x'),
    fc.oneof(seqArb, fc.constantFrom('sse', 'container.*', 'lock.acquire')),
  ),
  { maxLength: 3 },
);
const headerValueArb = fc.string({ unit: fc.constantFrom(...HEADER_CHARS), maxLength: 30 }).map((s) => s.trim());

/** Whether the server reads `path` as Docker's /events (after the URL parser's dot-segment removal). */
function isDockerEvents(path: string): boolean {
  try {
    return new URL(path, 'http://berth').pathname.replace(/\/+$/, '') === '/events';
  } catch {
    return false;
  }
}

/** The HTTP contract for one response: never 5xx; an error is JSON with a code. */
function checkHttp(r: Awaited<ReturnType<typeof rawHttp>>, method: string, what: string, bigBody = false): void {
  if (r.kind === 'timeout') throw new Error(`${what}: no response within the time limit (partial: ${show(r.partial)})`);
  if (r.kind === 'error') {
    // A server may reset a connection whose oversized body it stopped reading.
    if (bigBody && /ECONNRESET|EPIPE/.test(r.error)) return;
    throw new Error(`${what}: ${r.error} (partial: ${show(r.partial)})`);
  }
  if (r.status >= 500) throw new Error(`${what}: status ${r.status}: ${show(r.body)}`);
  if (r.status >= 400 && method !== 'HEAD') {
    let body: { error?: { code?: unknown }; message?: unknown; response?: unknown; cause?: unknown };
    try {
      body = JSON.parse(r.body) as typeof body;
    } catch {
      throw new Error(`${what}: ${r.status} without a JSON body: ${show(r.raw)}`);
    }
    // Paths of the Docker Engine and libpod APIs answer in those APIs' shapes.
    const docker = typeof body.message === 'string' && Object.keys(body).length === 1;
    const libpod = typeof body.message === 'string' && typeof body.cause === 'string' && body.response === r.status;
    if (typeof body.error?.code !== 'string' && !docker && !libpod)
      throw new Error(`${what}: ${r.status} body has no error.code (nor Docker's or libpod's shape): ${show(body)}`);
  }
}

describe('fuzz: HTTP API', () => {
  async function httpWorld(): Promise<{
    port: number;
    lockKey: string;
    close: () => Promise<void>;
    store: Store;
  }> {
    const store = await sqliteFactory.open();
    await seedObjects(store);
    const lock = await store.workspaces.lock('default', { operation: 'fuzz' });
    const server = await startServer(store, { host: '127.0.0.1', port: 0, heartbeatMs: 200, pollMs: 20 });
    return { port: Number(new URL(server.url).port), lockKey: lock.key, close: () => server.close(), store };
  }
  const request = (method: string, target: string, headers: string[], body?: string, chunked = false): string => {
    const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers];
    if (body === undefined) return `${head.join('\r\n')}\r\n\r\n`;
    if (chunked) {
      const size = Buffer.byteLength(body);
      const chunk = size === 0 ? '' : `${size.toString(16)}\r\n${body}\r\n`;
      return `${[...head, 'Transfer-Encoding: chunked'].join('\r\n')}\r\n\r\n${chunk}0\r\n\r\n`;
    }
    return `${[...head, `Content-Length: ${Buffer.byteLength(body)}`].join('\r\n')}\r\n\r\n${body}`;
  };
  const health = async (port: number): Promise<void> => {
    const r = await rawHttp(port, request('GET', '/v1/health', []), 5000);
    if (r.kind !== 'response' || r.status !== 200)
      throw new Error(`the server no longer answers /v1/health: ${show(r)}`);
  };

  it('random methods, paths and query strings: a JSON 4xx (or 2xx), never 500, never a hang', async () => {
    const w = await httpWorld();
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...HTTP_METHODS), pathArb, queryArb, async (method, path, query) => {
          // follow=false first: the server reads the first value, so no stream stays open.
          // Docker's /events has no follow=false: an until in the past, read first, ends it.
          const docker = isDockerEvents(path) ? '&until=0' : '';
          const target = `${path}?follow=false${docker}${query.map(([k, v]) => `&${k}=${v}`).join('')}`;
          const r = await rawHttp(w.port, request(method, target, []), 4000);
          checkHttp(r, method, `${method} ${target}`);
        }),
        params(0x5eed_0050, 200),
      );
      await health(w.port);
    } finally {
      await w.close();
    }
  });

  it('event stream queries and headers (since=-1, since=abc, huge numbers, Last-Event-ID garbage): 200 or a JSON 400', async () => {
    const w = await httpWorld();
    try {
      await fc.assert(
        fc.asyncProperty(
          queryArb,
          fc.option(fc.oneof(seqArb, headerValueArb), { nil: undefined }),
          fc.constantFrom('', 'text/event-stream', 'application/json', '*/*', 'text/event-stream;q=0.1, */*'),
          async (query, lastEventId, accept) => {
            const target = `/v1/events?follow=false${query.map(([k, v]) => `&${k}=${v}`).join('')}`;
            const headers = [
              ...(lastEventId !== undefined && lastEventId !== '' ? [`Last-Event-ID: ${lastEventId}`] : []),
              ...(accept ? [`Accept: ${accept}`] : []),
            ];
            const r = await rawHttp(w.port, request('GET', target, headers), 4000);
            checkHttp(r, 'GET', `GET ${target} ${show(headers)}`);
            if (r.kind === 'response' && r.status !== 200 && r.status !== 400) {
              throw new Error(`GET ${target}: unexpected status ${r.status}`);
            }
          },
        ),
        params(0x5eed_0051, 150),
      );
      await health(w.port);
    } finally {
      await w.close();
    }
  });

  it('force-unlock bodies and keys (invalid JSON, null, wrong types, huge bodies, bad escapes): a JSON 4xx, never 500', async () => {
    const w = await httpWorld();
    try {
      const keyArb = fc.oneof(
        fc.constantFrom(encodeURIComponent(w.lockKey), 'nope', '%E0%A4%A', '%', 'workspace%3A%2Fnope', '%ZZ'),
        fc.string({ unit: fc.constantFrom(...TARGET_CHARS.filter((c) => c !== '/')), minLength: 1, maxLength: 8 }),
      );
      const bodyArb = fc.oneof(
        fc.constantFrom(
          '',
          'null',
          '[]',
          '5',
          '"x"',
          '{',
          'true',
          '{"lockId":5}',
          '{"lockId":""}',
          '{"lockId":null}',
          '{"lockId":"nope"}',
          '{"lockId":["a"]}',
          '{"__proto__":{"lockId":"x"}}',
          '\u0000',
          '\uFEFF{}',
        ),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify({ lockId: v })),
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          'x'.repeat(70_000),
          JSON.stringify({ lockId: 'y'.repeat(300_000) }),
          `[${'['.repeat(5000)}${']'.repeat(5000)}]`,
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          keyArb,
          bodyArb,
          fc.boolean(),
          fc.constantFrom('', 'application/json', 'text/plain', 'application/x-www-form-urlencoded'),
          async (key, body, chunked, contentType) => {
            const target = `/v1/locks/${key}/force-unlock`;
            const headers = contentType ? [`Content-Type: ${contentType}`] : [];
            const r = await rawHttp(w.port, request('POST', target, headers, body, chunked), 6000);
            checkHttp(r, 'POST', `POST ${target} body ${show(body, 80)}`, Buffer.byteLength(body) > 64 * 1024);
          },
        ),
        params(0x5eed_0052, 150),
      );
      await health(w.port);
      // The lock was never broken: no request carried its id.
      expect((await w.store.locks.list()).map((l) => l.key)).toEqual([w.lockKey]);
    } finally {
      await w.close();
    }
  });
});

// ================================================================ CLI

/** Every command path (and a few that are not commands). */
const CLI_COMMANDS: string[][] = (
  'ps|container ls|container inspect|container create|container rm|container rename|pod ls|pod inspect|' +
  'pod create|pod rm|volume ls|volume inspect|volume create|volume rm|volume prune|network connect|' +
  'network disconnect|workspace new|workspace select|workspace delete|workspace list|workspace show|' +
  'state show|state history|state rollback|state export|state import|state lock|state unlock|state locks|' +
  'force-unlock|plan|apply|destroy|graph|events|init|doctor|backup|restore|refresh|migrate|completion|help|' +
  'container|bogus|'
)
  .split('|')
  .map((c) => c.split(' ').filter((w) => w !== ''));
/** Every option of every command but `serve` and `--follow` (they run until stopped, by design). */
const CLI_OPTIONS = (
  '-a --all --filter --pod --sort -q --quiet --name --label -e --env -v --volume --requires --network -f ' +
  '--force --driver -o --opt --alias --ip --mac --interface-name --or-create --limit --operation --info --file ' +
  '--out --destroy --refresh-only --prune --detailed-exitcode --auto-approve --allow-destroy --mermaid --since ' +
  '--until --repair --to --to-schema --help -h --version --format --namespace --lock-timeout --store --bogus -Z ' +
  '-- --format=json --namespace=fz'
).split(' ');
const CLI_VALUES = [
  'web',
  'p1',
  'v1',
  'dev',
  'default',
  'json',
  'table',
  'fz',
  'berth.yaml',
  'plan.json',
  'state.json',
  'junk.txt',
  '-',
  '',
  '0',
  '-1',
  '1',
  '99999999999999999999',
  '1e3',
  'abc',
  'k=v',
  '=',
  'a:b',
  '%_*?[]',
  'status=running',
  'label=a=b',
  'type=container.*',
  '10m',
  '2020-01-01T00:00:00Z',
  '1s',
  'bash',
  'zsh',
  'nginx:1',
  'x'.repeat(300),
  '🚢',
  'ünï',
  'name=web',
];
const cliToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CLI_OPTIONS) },
  { weight: 3, arbitrary: fc.constantFrom(...CLI_VALUES) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'abz09-_=.%*?[] '.split('')), maxLength: 8 }) },
);
const argvArb = fc
  .tuple(
    fc.array(fc.constantFrom('--format', 'json', '--namespace', 'fz', '--lock-timeout', '1s'), { maxLength: 2 }),
    fc.constantFrom(...CLI_COMMANDS),
    fc.array(cliToken, { maxLength: 6 }),
  )
  .map(([globals, command, rest]) => [...globals, ...command, ...rest]);

/** A JavaScript stack frame line. */
const STACK_LINE = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const st = statSync(join(dir, rel));
    if (st.isFile()) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

describe('fuzz: CLI arguments', () => {
  it('random argv of real commands, options and junk: exit 0, 1 or 2, no stack trace, no crash signal', async () => {
    if (!existsSync(BIN)) throw new Error(`the CLI is not built (${BIN} is missing): run \`npm run build\``);
    if (newestMtime(join(REPO_ROOT, 'src')) > newestMtime(join(REPO_ROOT, 'dist'))) {
      console.warn('fuzz CLI: src/ is newer than dist/; run `npm run build` to test the current code');
    }
    const dir = tempDir('berth-fuzz-cli-');
    const templateStore = join(dir, 'template.db');
    const templateCwd = join(dir, 'template-cwd');
    mkdirSync(templateCwd);
    const seeded = await openStore({ path: templateStore });
    try {
      await seedObjects(seeded);
      await seeded.workspaces.create('dev');
      await seeded.workspaces.writeState('dev', { hello: 'world' });
      writeFileSync(join(templateCwd, 'berth.yaml'), PLAN_M1);
      writeFileSync(join(templateCwd, 'plan.json'), planToJson(await seeded.plan('default', loadManifest(PLAN_M1))));
      writeFileSync(join(templateCwd, 'state.json'), JSON.stringify(await seeded.workspaces.exportState('dev')));
      writeFileSync(join(templateCwd, 'junk.txt'), '\u0000garbage{[');
    } finally {
      await seeded.close();
    }
    let runs = 0;
    const runOne = async (argv: string[]): Promise<void> => {
      const run = mkdtempSync(join(dir, `run-${++runs}-`));
      const cwd = join(run, 'cwd');
      mkdirSync(cwd);
      for (const f of readdirSync(templateCwd)) copyFileSync(join(templateCwd, f), join(cwd, f));
      copyFileSync(templateStore, join(run, 'berth.db'));
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, NO_COLOR: '1', HOME: run, TMPDIR: tmpdir() };
      env.BERTH_STORE = join(run, 'berth.db');
      env.XDG_DATA_HOME = join(run, 'xdg');
      const r = await runCli(BIN, argv, { cwd, env, timeoutMs: 20_000 });
      const what = `berth ${argv.map((a) => JSON.stringify(a)).join(' ')}`;
      if (r.timedOut) throw new Error(`${what}: did not exit within 20 s`);
      if (r.signal !== null) throw new Error(`${what}: killed by ${r.signal}; stderr: ${r.stderr.slice(0, 500)}`);
      if (![0, 1, 2].includes(r.code ?? -1))
        throw new Error(`${what}: exit code ${r.code}; stderr: ${r.stderr.slice(0, 500)}`);
      if (STACK_LINE.test(r.stderr)) throw new Error(`${what}: stack trace on stderr:\n${r.stderr.slice(0, 1500)}`);
      if (r.code === 1 && r.stderr.trim() === '') throw new Error(`${what}: exit 1 without an error message`);
      if (/unexpected error/.test(r.stderr))
        throw new Error(`${what}: INTERNAL error for user input: ${r.stderr.slice(0, 500)}`);
      rmSync(run, { recursive: true, force: true });
    };
    await fc.assert(
      // Three subprocesses per run, side by side: 30 in all.
      fc.asyncProperty(fc.array(argvArb, { minLength: 3, maxLength: 3 }), async (argvs) => {
        await Promise.all(argvs.map(runOne));
      }),
      params(0x5eed_0060, 10),
    );
  }, 120_000);
});
