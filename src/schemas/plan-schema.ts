import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { OBJECT_NAME_PATTERN } from '../engine/validate.js';
import type { Plan } from '../plan/types.js';

/*
 * The `plan/v1` file (DESIGN.md §7, README "Plan and apply"): what `berth plan --out`
 * writes and `berth apply PLANFILE` reads back. Defined once, here: apply checks a plan
 * with it before anything else, and the build ships it as JSON Schema
 * (dist/schemas/plan-v1.schema.json). A plan made by berth always conforms; its digest
 * then proves it was not altered.
 */

type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };

/** One of a few strings (JSON Schema: `anyOf` of `const`s). */
function oneOf<const T extends readonly string[]>(values: T): TUnion<Literals<T>> {
  return Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<Literals<T>>;
}

const Kind = oneOf(['volume', 'pod', 'container']);
const Action = oneOf(['create', 'update', 'replace', 'delete', 'noop']);
const StringMap = Type.Record(Type.String(), Type.String());
const Count = Type.Integer({ minimum: 0 });

/** The canonical spec of each kind, as planner.ts computes it for the store and the manifest. */
const VolumeSpec = Type.Object({
  driver: Type.Union([Type.String(), Type.Null()]),
  labels: StringMap,
  options: StringMap,
});
const PodSpec = Type.Object({ labels: StringMap });
const ContainerSpec = Type.Object({
  pod: Type.Union([Type.String(), Type.Null()]),
  image: Type.Union([Type.String(), Type.Null()]),
  command: Type.Array(Type.String()),
  env: StringMap,
  labels: StringMap,
  dependsOn: Type.Array(Type.String()),
  volumes: Type.Array(Type.Object({ name: Type.String(), dest: Type.String() })),
  networks: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
});

/** One object's change; `before` and `after` hold the spec of the change's own kind. */
function change<K extends 'volume' | 'pod' | 'container', S extends TSchema>(kind: K, spec: S) {
  return Type.Object({
    key: Type.String({ minLength: 1 }),
    kind: Type.Literal(kind),
    name: Type.String({ minLength: 1 }),
    requested: Action,
    effective: Action,
    blocked: Type.Optional(
      Type.Object({
        reason: oneOf(['name_conflict', 'untrusted_manifest', 'too_many_orphans']),
        message: Type.String(),
        owner: Type.Optional(Type.Object({ kind: Kind, id: Type.String() })),
      }),
    ),
    fields: Type.Array(Type.String()),
    replaceFields: Type.Array(Type.String()),
    cascadeFrom: Type.Optional(Type.String()),
    renamedFrom: Type.Optional(Type.String()),
    destructive: Type.Boolean(),
    orphan: Type.Boolean(),
    before: Type.Union([Type.Object({ id: Type.String(), digest: Type.String(), spec }), Type.Null()]),
    after: Type.Union([Type.Object({ digest: Type.String(), spec }), Type.Null()]),
  });
}

/** A berth plan file, format `plan/v1`. */
export const PlanSchema = Type.Object(
  {
    format: Type.Literal('plan/v1'),
    workspace: Type.String({ minLength: 1 }),
    namespace: Type.String({ pattern: `^(?:|${OBJECT_NAME_PATTERN.source.slice(1, -1)})$` }),
    mode: oneOf(['apply', 'destroy', 'refresh-only']),
    prune: Type.Boolean(),
    basis: Type.Object({ lineage: Type.String(), serial: Type.Integer({ minimum: 0 }) }),
    manifestDigest: Type.Union([Type.String(), Type.Null()]),
    changes: Type.Array(
      Type.Union([change('volume', VolumeSpec), change('pod', PodSpec), change('container', ContainerSpec)]),
    ),
    drift: Type.Array(
      Type.Object({
        key: Type.String(),
        fields: Type.Array(Type.String()),
        missing: Type.Boolean(),
        renamedTo: Type.Optional(Type.String()),
      }),
    ),
    orphans: Type.Array(Type.Object({ key: Type.String(), id: Type.String() })),
    steps: Type.Array(Type.Object({ op: oneOf(['create', 'update', 'delete']), key: Type.String() })),
    summary: Type.Object({
      create: Count,
      update: Count,
      replace: Count,
      delete: Count,
      noop: Count,
      blocked: Count,
    }),
    digest: Type.String(),
  },
  {
    $id: 'urn:berth:schema:plan-v1',
    title: 'berth plan (plan/v1)',
    description:
      'A saved berth plan: `berth plan --out FILE` writes it, `berth apply FILE` applies it. Its digest (sha256 of its canonical JSON without the digest) proves it unaltered.',
  },
);

// Every value the schema accepts is a Plan: the compiler holds the schema and the
// documented type together.
const _conforms: (plan: Static<typeof PlanSchema>) => Plan = (plan) => plan;
void _conforms;
