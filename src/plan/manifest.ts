import { existsSync, readFileSync } from 'node:fs';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type YAMLMap,
} from 'yaml';
import { OBJECT_NAME_PATTERN, setOwn } from '../engine/validate.js';
import { manifestContainers } from './manifest-containers.js';
import { BerthError } from '../errors.js';
import type { EnvValue, ContainerSpec, PodSpec, VolumeSpec, Manifest, ManifestProblem } from './types.js';

const MANIFEST_VERSION = 1;
const CONTAINER_KEYS = ['image', 'command', 'env', 'labels', 'dependsOn', 'volumes', 'networks'];
const NETWORK_KEYS = ['aliases', 'interfaceName', 'staticIps', 'staticMac'];

/** Edit distance between two short words, a swap of neighbours counting as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The allowed key nearest a mistyped one (`imgae` → `image`), when it is near enough. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const word of allowed) {
    const d = editDistance(key.toLowerCase(), word.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [word, d];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/** Walks the YAML tree, collecting problems with their line and column. */
class Checker {
  readonly problems: ManifestProblem[] = [];
  constructor(
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /** Follows a YAML alias (`*name`) to the node its anchor marks. */
  deref(node: Node | null | undefined): Node | null | undefined {
    return isAlias(node) ? (node.resolve(this.doc) as Node | undefined) : node;
  }

  at(node: Node | null | undefined, path: string, message: string, key?: string): void {
    const pos = node?.range ? this.lines.linePos(node.range[0]) : { line: 1, col: 1 };
    this.problems.push({ message, path, line: pos.line, column: pos.col, ...(key !== undefined ? { key } : {}) });
  }

  /** The entries of a map with only `allowed` keys (unknown keys are errors, not ignored). */
  map(raw: Node | null | undefined, path: string, allowed?: readonly string[]): [string, Node | null, Node][] {
    const node = this.deref(raw);
    if (node === null || node === undefined) return [];
    if (!isMap(node)) {
      this.at(node, path, `${path} must be a mapping`);
      return [];
    }
    const out: [string, Node | null, Node][] = [];
    for (const pair of (node as YAMLMap<Node, Node>).items) {
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (key === undefined) {
        this.at(keyNode, path, `${path} has a key that is not a plain string`);
        continue;
      }
      if (allowed && !allowed.includes(key)) {
        const near = closest(key, allowed);
        this.at(
          keyNode,
          `${path}.${key}`,
          `unknown key "${key}" in ${path}; ${near ? `did you mean "${near}"? ` : ''}allowed: ${allowed.join(', ')}`,
          key,
        );
        continue;
      }
      out.push([key, pair.value ?? null, keyNode]);
    }
    return out;
  }

  string(raw: Node | null, path: string): string | undefined {
    const node = this.deref(raw) ?? null;
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean')) {
      this.at(node, path, `${path} must be a string; quote it ("${String(node.value)}")`);
      return undefined;
    }
    this.at(node, path, `${path} must be a string`);
    return undefined;
  }

  strings(raw: Node | null, path: string): string[] | undefined {
    const node = this.deref(raw) ?? null;
    if (!isSeq(node)) {
      this.at(node, path, `${path} must be a list of strings`);
      return undefined;
    }
    const out: string[] = [];
    node.items.forEach((item, i) => {
      const s = this.string(item as Node, `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  stringMap(node: Node | null, path: string): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    for (const [key, value] of this.map(node, path)) {
      const s = this.string(value, `${path}.${key}`);
      if (s !== undefined) setOwn(out, key, s);
    }
    return out;
  }

  /** Env entries: a string, or `{ secret: string }`. */
  envMap(node: Node | null, path: string): Record<string, EnvValue> {
    const out: Record<string, EnvValue> = {};
    for (const [key, value] of this.map(node, path)) {
      const p = `${path}.${key}`;
      const v = this.deref(value) ?? null;
      if (!isMap(v)) {
        const s = this.string(value, p);
        if (s !== undefined) setOwn(out, key, s);
        continue;
      }
      const entries = this.map(v, p, ['secret']);
      if (entries.length === 0) {
        this.at(v, p, `${p} must be a string, or { secret: VALUE } for a value to store encrypted`, key);
        continue;
      }
      const secret = this.deref(entries[0]![1]) ?? null;
      if (isScalar(secret) && typeof secret.value === 'string') setOwn(out, key, { secret: secret.value });
      // The value is not repeated: it is a secret.
      else this.at(secret, `${p}.secret`, `${p}.secret must be a string; quote it (the value is not shown here)`);
    }
    return out;
  }

  name(node: Node, path: string, name: string, kind: string): void {
    if (!OBJECT_NAME_PATTERN.test(name)) {
      this.at(
        node,
        path,
        `${kind} name "${name}" is invalid: use letters, digits, '_', '.' and '-', starting with a letter or digit`,
        name,
      );
    }
  }
}

function checkContainer(c: Checker, node: Node | null, path: string): ContainerSpec {
  const spec: ContainerSpec = {};
  for (const [key, value] of c.map(node, path, CONTAINER_KEYS)) {
    const p = `${path}.${key}`;
    if (key === 'image') {
      const s = c.string(value, p);
      if (s !== undefined) spec.image = s;
    } else if (key === 'command' || key === 'dependsOn' || key === 'volumes') {
      const list = c.strings(value, p);
      if (list !== undefined) spec[key] = list;
    } else if (key === 'env') {
      spec.env = c.envMap(value, p);
    } else if (key === 'labels') {
      const m = c.stringMap(value, p);
      if (m !== undefined) spec[key] = m;
    } else if (key === 'networks') {
      const networks: NonNullable<ContainerSpec['networks']> = {};
      for (const [net, opts] of c.map(value, p)) {
        const np = `${p}.${net}`;
        const o: NonNullable<ContainerSpec['networks']>[string] = {};
        for (const [ok, ov] of c.map(opts, np, NETWORK_KEYS)) {
          if (ok === 'aliases' || ok === 'staticIps') {
            const list = c.strings(ov, `${np}.${ok}`);
            if (list) setOwn(o, ok, list);
          } else {
            const s = c.string(ov, `${np}.${ok}`);
            if (s !== undefined) setOwn(o, ok, s);
          }
        }
        setOwn(networks, net, o);
      }
      spec.networks = networks;
    }
  }
  return spec;
}

/**
 * Reads a manifest from a file path or from YAML text, and checks it completely before
 * anything else happens: unknown keys, wrong types, bad names, references to
 * undeclared containers or volumes, and dependency cycles.
 * @throws MANIFEST_INVALID (details: file, line, column, key, problems), DEPENDENCY_CYCLE
 */
export function loadManifest(pathOrText: string): Manifest {
  if (typeof pathOrText !== 'string' || pathOrText === '') {
    throw new BerthError('MANIFEST_INVALID', 'no manifest given; pass a file path or YAML text');
  }
  const isText = pathOrText.includes('\n') || !existsSync(pathOrText);
  let text = pathOrText;
  const source = isText ? '<text>' : pathOrText;
  if (!isText) {
    try {
      text = readFileSync(pathOrText, 'utf8');
    } catch (err) {
      throw new BerthError('MANIFEST_INVALID', `cannot read manifest ${pathOrText}: ${(err as Error).message}`, {
        details: { file: pathOrText },
        cause: err,
      });
    }
  } else if (!pathOrText.includes('\n') && !pathOrText.includes(':')) {
    throw new BerthError('MANIFEST_INVALID', `manifest file ${pathOrText} does not exist`, {
      details: { file: pathOrText },
    });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(lines, doc);
  for (const err of doc.errors) {
    const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    c.problems.push({ message: err.message.split('\n')[0]!, path: '', line: pos.line, column: pos.col });
  }
  const manifest: Manifest = { version: MANIFEST_VERSION, volumes: {}, pods: {}, containers: {}, source };
  if (c.problems.length === 0) {
    const root = doc.contents as Node | null;
    if (!root || !isMap(root)) {
      c.at(root, '', 'a manifest is a mapping with version, namespace, volumes, pods and containers');
    } else {
      let sawVersion = false;
      for (const [key, value, keyNode] of c.map(root, 'manifest', [
        'version',
        'namespace',
        'volumes',
        'pods',
        'containers',
      ])) {
        if (key === 'version') {
          sawVersion = true;
          const v = c.deref(value);
          if (!isScalar(v) || v.value !== MANIFEST_VERSION) {
            c.at(value ?? keyNode, 'version', `version must be ${MANIFEST_VERSION}`, 'version');
          }
        } else if (key === 'namespace') {
          const s = c.string(value, 'namespace');
          if (s !== undefined) manifest.namespace = s;
        } else if (key === 'volumes') {
          for (const [name, spec, nameNode] of c.map(value, 'volumes')) {
            c.name(nameNode, `volumes.${name}`, name, 'volume');
            const v: VolumeSpec = {};
            for (const [vk, vv] of c.map(spec, `volumes.${name}`, ['driver', 'labels', 'options'])) {
              if (vk === 'driver') {
                const s = c.string(vv, `volumes.${name}.driver`);
                if (s !== undefined) v.driver = s;
              } else {
                const m = c.stringMap(vv, `volumes.${name}.${vk}`);
                if (m) v[vk as 'labels' | 'options'] = m;
              }
            }
            setOwn(manifest.volumes, name, v);
          }
        } else if (key === 'pods') {
          for (const [name, spec, nameNode] of c.map(value, 'pods')) {
            c.name(nameNode, `pods.${name}`, name, 'pod');
            const pod: PodSpec = { containers: {} };
            for (const [pk, pv] of c.map(spec, `pods.${name}`, ['labels', 'containers'])) {
              if (pk === 'labels') {
                const m = c.stringMap(pv, `pods.${name}.labels`);
                if (m) pod.labels = m;
              } else {
                for (const [cname, cspec, cnode] of c.map(pv, `pods.${name}.containers`)) {
                  c.name(cnode, `pods.${name}.containers.${cname}`, cname, 'container');
                  setOwn(pod.containers, cname, checkContainer(c, cspec, `pods.${name}.containers.${cname}`));
                }
              }
            }
            setOwn(manifest.pods, name, pod);
          }
        } else if (key === 'containers') {
          for (const [name, spec, nameNode] of c.map(value, 'containers')) {
            c.name(nameNode, `containers.${name}`, name, 'container');
            setOwn(manifest.containers, name, checkContainer(c, spec, `containers.${name}`));
          }
        }
      }
      if (!sawVersion) c.at(root, 'version', `the manifest needs "version: ${MANIFEST_VERSION}"`, 'version');
      if (c.problems.length === 0) checkReferences(c, manifest, root);
    }
  }
  if (c.problems.length > 0) {
    const first = c.problems[0]!;
    throw new BerthError(
      'MANIFEST_INVALID',
      [
        `${source}:${first.line}:${first.column}: ${first.message}`,
        ...c.problems.slice(1).map((p) => `  ${source}:${p.line}:${p.column}: ${p.message}`),
      ].join('\n'),
      {
        details: {
          file: source,
          line: first.line,
          column: first.column,
          key: first.key ?? null,
          path: first.path,
          problems: c.problems,
        },
      },
    );
  }
  assertNoCycle(manifest);
  return manifest;
}

/**
 * Where a manifest path is in the file: the node of its value, or with `key` the node of
 * its last key; a number in the path picks a list item.
 */
function nodeAt(root: Node, path: readonly (string | number)[], key = false): Node | null {
  let node: Node | null = root;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    if (typeof step === 'number') {
      if (!node || !isSeq(node)) return node;
      node = (node.items[step] as Node | undefined) ?? node;
      continue;
    }
    if (!node || !isMap(node)) return node;
    const items: { key: unknown; value: unknown }[] = (node as YAMLMap<Node, Node>).items;
    const pair = items.find((p) => isScalar(p.key) && String(p.key.value) === step);
    if (!pair) return node;
    node = (key && i === path.length - 1 ? pair.key : (pair.value ?? pair.key)) as Node;
  }
  return node;
}

function checkReferences(c: Checker, m: Manifest, root: Node): void {
  const containers = manifestContainers(m);
  const byName = new Map<string, (typeof containers)[number]>();
  for (const ctr of containers) {
    if (byName.has(ctr.name) || Object.hasOwn(m.pods, ctr.name)) {
      c.at(
        nodeAt(root, ctr.path, true),
        ctr.path.join('.'),
        `the name "${ctr.name}" is declared twice (container and pod names share one space)`,
        ctr.name,
      );
    }
    byName.set(ctr.name, ctr);
  }
  for (const ctr of containers) {
    for (const [i, dep] of (ctr.spec.dependsOn ?? []).entries()) {
      const target = byName.get(dep);
      const node = (): Node | null => nodeAt(root, [...ctr.path, 'dependsOn', i]);
      if (!target) {
        c.at(
          node(),
          `${ctr.path.join('.')}.dependsOn`,
          `container ${ctr.name} depends on "${dep}", which the manifest does not declare`,
          'dependsOn',
        );
      } else if (dep === ctr.name) {
        c.at(node(), `${ctr.path.join('.')}.dependsOn`, `container ${ctr.name} cannot depend on itself`, 'dependsOn');
      } else if (target.pod !== ctr.pod) {
        c.at(
          node(),
          `${ctr.path.join('.')}.dependsOn`,
          `container ${ctr.name} depends on "${dep}", which is in another pod (a dependency must be in the same pod, or both in none)`,
          'dependsOn',
        );
      }
    }
    for (const [i, v] of (ctr.spec.volumes ?? []).entries()) {
      const at = v.indexOf(':');
      const node = (): Node | null => nodeAt(root, [...ctr.path, 'volumes', i]);
      if (at <= 0 || at === v.length - 1) {
        c.at(node(), `${ctr.path.join('.')}.volumes`, `volume "${v}" must be NAME:DEST`, 'volumes');
      } else if (!Object.hasOwn(m.volumes, v.slice(0, at))) {
        c.at(
          node(),
          `${ctr.path.join('.')}.volumes`,
          `container ${ctr.name} uses volume "${v.slice(0, at)}", which the manifest does not declare`,
          'volumes',
        );
      }
    }
  }
}

/** @throws DEPENDENCY_CYCLE naming the containers in the cycle */
function assertNoCycle(m: Manifest): void {
  const deps = new Map(manifestContainers(m).map((c) => [c.name, c.spec.dependsOn ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  // Depth-first without recursion: a dependency chain of any length fits.
  for (const root of [...deps.keys()].sort()) {
    if (state.has(root)) continue;
    const path: string[] = [root];
    const next: number[] = [0];
    state.set(root, 'visiting');
    while (path.length > 0) {
      const name = path[path.length - 1]!;
      const children = deps.get(name) ?? [];
      const i = next[next.length - 1]!;
      if (i >= children.length) {
        state.set(name, 'done');
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const child = children[i]!;
      if (state.get(child) === 'visiting') {
        const cycle = [...path.slice(path.indexOf(child)), child];
        throw new BerthError(
          'DEPENDENCY_CYCLE',
          `containers depend on each other in a cycle: ${cycle.join(' -> ')}; break the cycle in dependsOn`,
          {
            details: { cycle },
          },
        );
      }
      if (!state.has(child) && deps.has(child)) {
        state.set(child, 'visiting');
        path.push(child);
        next.push(0);
      }
    }
  }
}

export type { EnvValue, ContainerSpec, PodSpec, VolumeSpec, Manifest, ManifestProblem };
