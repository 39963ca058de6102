import fc from 'fast-check';
import { stringify } from 'yaml';

/*
 * fast-check generators of small, valid manifests: volumes, pods with containers,
 * standalone containers, dependsOn within the same pod (or among standalone ones),
 * labels, env, images, commands, networks and volume mounts. Values come from small
 * pools so that two generated manifests often share objects (noop, update, replace)
 * as well as differ (create, delete).
 */

export interface ManifestDoc {
  version: 1;
  namespace: string;
  volumes: Record<string, { driver?: string; labels?: Record<string, string>; options?: Record<string, string> }>;
  pods: Record<string, { labels?: Record<string, string>; containers: Record<string, ContainerDoc> }>;
  containers: Record<string, ContainerDoc>;
}

export interface ContainerDoc {
  image?: string;
  command?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  dependsOn?: string[];
  volumes?: string[];
  networks?: Record<string, { aliases?: string[] }>;
}

/** Names shared by pods and containers (they share one name space). */
export const OBJECT_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;
export const VOLUME_NAMES = ['v1', 'v2', 'v3'] as const;

const labels = fc.dictionary(fc.constantFrom('tier', 'app', 'team'), fc.constantFrom('x', 'y'), { maxKeys: 2 });
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined, freq: 2 });

const volumeSpec = fc.record(
  {
    driver: optional(fc.constantFrom('local', 'nfs')),
    labels: optional(labels),
    options: optional(fc.dictionary(fc.constantFrom('size', 'mode'), fc.constantFrom('1G', '2G'), { maxKeys: 1 })),
  },
  { noNullPrototype: true },
);

const containerBase = fc.record(
  {
    image: optional(fc.constantFrom<string>('nginx:1', 'nginx:2', 'app:1')),
    command: optional(fc.constantFrom<string[]>(['run'], ['run', '--fast'])),
    env: optional(fc.dictionary(fc.constantFrom('A', 'B'), fc.constantFrom('1', '2'), { maxKeys: 2 })),
    labels: optional(labels),
    networks: optional(
      fc.constantFrom<Record<string, { aliases?: string[] }>>(
        { net: {} },
        { net: { aliases: ['x'] } },
        { net: {}, mgmt: {} },
      ),
    ),
  },
  { noNullPrototype: true },
);

interface RawContainer {
  /** -1: standalone; otherwise an index into the pods. */
  group: number;
  spec: { [K in keyof ContainerDoc]?: ContainerDoc[K] | undefined };
  deps: number[];
  mounts: number[];
}

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A manifest document. With `disjointKinds`, pod names and container names come from
 * separate pools, so no name is a pod in one manifest and a container in another.
 */
export function manifestDoc(opts: { namespace?: string; disjointKinds?: boolean } = {}): fc.Arbitrary<ManifestDoc> {
  const namespace = opts.namespace ?? 'prop';
  return fc
    .tuple(
      fc.shuffledSubarray([...OBJECT_NAMES], { maxLength: 6 }),
      fc.subarray([...VOLUME_NAMES]),
      fc.integer({ min: 0, max: 2 }),
    )
    .chain(([names, volumes, podCount]) => {
      let podNames: string[];
      let ctrNames: string[];
      if (opts.disjointKinds) {
        podNames = ['p1', 'p2'].slice(0, podCount);
        ctrNames = names;
      } else {
        podNames = names.slice(0, Math.min(podCount, names.length));
        ctrNames = names.slice(podNames.length);
      }
      const raw: fc.Arbitrary<RawContainer> = fc.record({
        group: fc.integer({ min: -1, max: podNames.length - 1 }),
        spec: containerBase,
        deps: fc.array(fc.nat({ max: 5 }), { maxLength: 2 }),
        mounts: fc.array(fc.nat({ max: 2 }), { maxLength: 2 }),
      });
      return fc
        .record({
          volumes: fc.tuple(...volumes.map(() => volumeSpec)),
          pods: fc.tuple(...podNames.map(() => optional(labels))),
          containers: fc.tuple(...ctrNames.map(() => raw)),
        })
        .map(({ volumes: vspecs, pods: plabels, containers }) =>
          build(namespace, volumes, vspecs, podNames, plabels, ctrNames, containers),
        );
    });
}

function build(
  namespace: string,
  volumeNames: string[],
  volumeSpecs: ManifestDoc['volumes'][string][],
  podNames: string[],
  podLabels: (Record<string, string> | undefined)[],
  ctrNames: string[],
  raws: RawContainer[],
): ManifestDoc {
  const doc: ManifestDoc = { version: 1, namespace, volumes: {}, pods: {}, containers: {} };
  volumeNames.forEach((v, i) => (doc.volumes[v] = clean(volumeSpecs[i]!)));
  podNames.forEach((p, i) => (doc.pods[p] = clean({ labels: podLabels[i], containers: {} })));
  // Earlier members of the same group, so dependencies can never form a cycle.
  const members = new Map<number, string[]>();
  ctrNames.forEach((name, i) => {
    const raw = raws[i]!;
    const group = members.get(raw.group) ?? [];
    const spec: ContainerDoc = clean({ ...raw.spec });
    const deps = [...new Set(raw.deps.filter(() => group.length > 0).map((d) => group[d % group.length]!))];
    if (deps.length > 0) spec.dependsOn = deps;
    const mounts = [
      ...new Set(raw.mounts.filter(() => volumeNames.length > 0).map((m) => volumeNames[m % volumeNames.length]!)),
    ];
    if (mounts.length > 0) spec.volumes = mounts.map((v) => `${v}:/mnt/${v}`);
    group.push(name);
    members.set(raw.group, group);
    if (raw.group === -1) doc.containers[name] = spec;
    else doc.pods[podNames[raw.group]!]!.containers[name] = spec;
  });
  return doc;
}

/** The YAML text of a generated manifest (values written out, no anchors or aliases). */
export function toYaml(doc: ManifestDoc): string {
  return stringify(doc, { aliasDuplicateObjects: false });
}
