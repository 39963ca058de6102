import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBerthError, loadManifest } from '../../src/index.js';
import { tempDir } from '../helpers/store-factory.js';
import { dedent, EXAMPLES } from './helpers.js';

/*
 * Manifests (DESIGN.md §7): every problem is MANIFEST_INVALID with the file, line and
 * column of the offending node (1-based), the key and its path; cycles are
 * DEPENDENCY_CYCLE. Positions below are counted by hand from the YAML text.
 */

interface ManifestErrorDetails {
  file: string;
  line: number;
  column: number;
  key: string | null;
  path: string;
  problems: { message: string; path: string; line: number; column: number; key?: string }[];
}

function manifestError(text: string): { code: string; message: string; details: ManifestErrorDetails } {
  try {
    loadManifest(dedent(text));
  } catch (err) {
    if (!isBerthError(err)) throw err;
    return err as unknown as { code: string; message: string; details: ManifestErrorDetails };
  }
  throw new Error('the manifest was accepted');
}

/** Asserts MANIFEST_INVALID at line:column (and key/path when given). */
function expectInvalidAt(
  text: string,
  where: { line: number; column: number; key?: string | null; path?: string },
): ManifestErrorDetails {
  const err = manifestError(text);
  expect(err.code).toBe('MANIFEST_INVALID');
  expect({ line: err.details.line, column: err.details.column }).toEqual({ line: where.line, column: where.column });
  if (where.key !== undefined) expect(err.details.key).toBe(where.key);
  if (where.path !== undefined) expect(err.details.path).toBe(where.path);
  expect(err.details.file).toBe('<text>');
  expect(err.message.startsWith(`<text>:${where.line}:${where.column}: `)).toBe(true);
  expect(err.details.problems[0]).toMatchObject({ line: where.line, column: where.column });
  return err.details;
}

describe('the example manifests', () => {
  it('load with every section in place', () => {
    const shop = loadManifest(join(EXAMPLES, 'shop.yaml'));
    expect(shop.namespace).toBe('shop');
    expect(shop.source).toBe(join(EXAMPLES, 'shop.yaml'));
    expect(Object.keys(shop.volumes)).toEqual(['pgdata']);
    expect(Object.keys(shop.pods.web!.containers).sort()).toEqual(['web-app', 'web-nginx']);
    expect(shop.pods.web!.containers['web-nginx']!.dependsOn).toEqual(['web-app']);
    expect(shop.containers.db).toMatchObject({ image: 'postgres:16', command: ['postgres'] });

    const ci = loadManifest(join(EXAMPLES, 'ci-runners.yaml'));
    expect(ci.namespace).toBe('ci');
    expect(ci.volumes['build-cache']).toEqual({ driver: 'local', options: { size: '50G' } });
    expect(ci.containers['runner-1']!.env).toEqual({ RUNNER_NAME: 'runner-1', CONCURRENCY: '4' });

    const mon = loadManifest(join(EXAMPLES, 'monitoring.yaml'));
    expect(mon.pods.monitoring!.containers.grafana!.dependsOn).toEqual(['prometheus']);
  });

  it('reads YAML text as well as a path; a minimal manifest is just the version', () => {
    const m = loadManifest('version: 1\n');
    expect(m).toMatchObject({ version: 1, volumes: {}, pods: {}, containers: {}, source: '<text>' });
    expect(m.namespace).toBeUndefined();
  });

  it('YAML anchors and aliases are plain YAML: an aliased value is read as the value', () => {
    const m = loadManifest(
      dedent(`
      version: 1
      containers:
        a: { image: "app:1", command: &cmd [run, --fast], env: &env { A: "1" } }
        b: { image: "app:1", command: *cmd, env: *env }
      `),
    );
    expect(m.containers.b).toEqual({ image: 'app:1', command: ['run', '--fast'], env: { A: '1' } });
  });

  it('a missing file is MANIFEST_INVALID naming it', () => {
    const path = join(tempDir(), 'nope.yaml');
    let err: unknown;
    try {
      loadManifest(path);
    } catch (e) {
      err = e;
    }
    expect(isBerthError(err) && err.code).toBe('MANIFEST_INVALID');
  });

  it('an error in a file reports the file path with line and column', () => {
    const path = join(tempDir(), 'bad.yaml');
    writeFileSync(path, 'version: 1\ncontainers:\n  web:\n    imagee: nginx\n');
    let err: unknown;
    try {
      loadManifest(path);
    } catch (e) {
      err = e;
    }
    expect(isBerthError(err)).toBe(true);
    const e = err as { code: string; message: string; details: ManifestErrorDetails };
    expect(e.code).toBe('MANIFEST_INVALID');
    expect(e.details).toMatchObject({ file: path, line: 4, column: 5, key: 'imagee', path: 'containers.web.imagee' });
    expect(e.message.startsWith(`${path}:4:5: `)).toBe(true);
  });
});

describe('unknown keys are errors at every level', () => {
  it('top level', () => {
    expectInvalidAt(
      `
      version: 1
      namespcae: shop
      `,
      { line: 2, column: 1, key: 'namespcae', path: 'manifest.namespcae' },
    );
  });

  it('in a volume', () => {
    expectInvalidAt(
      `
      version: 1
      volumes:
        data:
          driver: local
          size: 10G
      `,
      { line: 5, column: 5, key: 'size', path: 'volumes.data.size' },
    );
  });

  it('in a pod', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        web:
          replicas: 3
          containers: {}
      `,
      { line: 4, column: 5, key: 'replicas', path: 'pods.web.replicas' },
    );
  });

  it('in a pod member container', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        web:
          containers:
            app: { image: x, ports: ["80:80"] }
      `,
      { line: 5, column: 24, key: 'ports', path: 'pods.web.containers.app.ports' },
    );
  });

  it('in a standalone container', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        db:
          image: postgres
          restart: always
      `,
      { line: 5, column: 5, key: 'restart', path: 'containers.db.restart' },
    );
  });

  it("in a container's network options", () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        db:
          networks:
            back: { aliases: [db], ip: 10.0.0.2 }
      `,
      { line: 5, column: 30, key: 'ip', path: 'containers.db.networks.back.ip' },
    );
  });
});

describe('wrong types', () => {
  it('a number where a string belongs (says to quote it)', () => {
    const d = expectInvalidAt(
      `
      version: 1
      containers:
        db:
          image: 16
      `,
      { line: 4, column: 12, path: 'containers.db.image' },
    );
    expect(d.problems[0]!.message).toMatch(/quote/);
  });

  it('a string where a list belongs', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        db:
          image: postgres
          command: postgres -c fsync=off
      `,
      { line: 5, column: 14, path: 'containers.db.command' },
    );
  });

  it('a list where a mapping belongs', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        db:
          env: [PGDATA=/data]
      `,
      { line: 4, column: 10, path: 'containers.db.env' },
    );
  });

  it('a non-string label value', () => {
    expectInvalidAt(
      `
      version: 1
      volumes:
        data: { labels: { backup: true } }
      `,
      { line: 3, column: 29, path: 'volumes.data.labels.backup' },
    );
  });

  it('a section that is not a mapping', () => {
    expectInvalidAt(
      `
      version: 1
      pods: [web]
      `,
      { line: 2, column: 7, path: 'pods' },
    );
  });

  it("a pod's containers that are not a mapping", () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        web:
          containers:
            - app
      `,
      { line: 5, column: 7, path: 'pods.web.containers' },
    );
  });

  it('a namespace that is not a string', () => {
    expectInvalidAt(
      `
      version: 1
      namespace: [a, b]
      `,
      { line: 2, column: 12, path: 'namespace' },
    );
  });

  it('a list of non-strings in dependsOn', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        a: { dependsOn: [b, { name: c }] }
        b: {}
      `,
      { line: 3, column: 23, path: 'containers.a.dependsOn[1]' },
    );
  });

  it('network aliases that are not a list', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        a: { networks: { front: { aliases: app } } }
      `,
      { line: 3, column: 38, path: 'containers.a.networks.front.aliases' },
    );
  });

  it('a manifest that is not a mapping', () => {
    expectInvalidAt(
      `
      - version: 1
      `,
      { line: 1, column: 1 },
    );
  });

  it('reports every problem, each with its position, not only the first', () => {
    const d = expectInvalidAt(
      `
      version: 1
      containers:
        a: { image: 1 }
        b: { colour: red }
      `,
      { line: 3, column: 15 },
    );
    expect(d.problems.map((p) => [p.line, p.column, p.path])).toEqual([
      [3, 15, 'containers.a.image'],
      [4, 8, 'containers.b.colour'],
    ]);
  });
});

describe('names', () => {
  it('a container name that does not start with a letter or digit', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        -db: { image: x }
      `,
      { line: 3, column: 3, key: '-db', path: 'containers.-db' },
    );
  });

  it('a pod name with a space', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        "web pod":
          containers: {}
      `,
      { line: 3, column: 3, key: 'web pod', path: 'pods.web pod' },
    );
  });

  it('a volume name with a slash', () => {
    expectInvalidAt(
      `
      version: 1
      volumes:
        pg/data: {}
      `,
      { line: 3, column: 3, key: 'pg/data', path: 'volumes.pg/data' },
    );
  });

  it('a pod member container with a bad name', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        web:
          containers:
            "app:1": {}
      `,
      { line: 5, column: 7, key: 'app:1', path: 'pods.web.containers.app:1' },
    );
  });
});

describe('duplicate keys and names', () => {
  it('a key written twice in one mapping is reported where the second one is', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        web: { image: a }
        web: { image: b }
      `,
      { line: 4, column: 3 },
    );
  });

  it('a key written twice inside a container', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        web:
          image: a
          image: b
      `,
      { line: 5, column: 5 },
    );
  });

  it('a container declared both in a pod and standalone is reported at the second declaration', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        web:
          containers:
            app: {}
      containers:
        db: {}
        app: {}
      `,
      { line: 8, column: 3, key: 'app', path: 'containers.app' },
    );
  });

  it('a container named like a pod (containers and pods share one name space)', () => {
    const d = manifestError(
      dedent(`
      version: 1
      pods:
        web:
          containers:
            app: {}
      containers:
        web: {}
      `),
    );
    expect(d.code).toBe('MANIFEST_INVALID');
    expect(d.details).toMatchObject({ line: 7, column: 3, key: 'web', path: 'containers.web' });
  });
});

describe('references', () => {
  it('dependsOn naming an undeclared container (flow list)', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        web: { image: nginx, dependsOn: [app] }
      `,
      { line: 3, column: 36, key: 'dependsOn', path: 'containers.web.dependsOn' },
    );
  });

  it('dependsOn naming an undeclared container (block list: the offending entry is pointed at)', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        web:
          dependsOn:
            - app
            - cache
        app: {}
      `,
      { line: 6, column: 9, key: 'dependsOn', path: 'containers.web.dependsOn' },
    );
  });

  it('a dependency in another pod', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        a:
          containers:
            x: {}
        b:
          containers:
            y: { dependsOn: [x] }
      `,
      { line: 8, column: 24, key: 'dependsOn', path: 'pods.b.containers.y.dependsOn' },
    );
  });

  it('a standalone container depending on a pod member', () => {
    expectInvalidAt(
      `
      version: 1
      pods:
        a:
          containers:
            x: {}
      containers:
        y:
          dependsOn: [x]
      `,
      { line: 8, column: 17, key: 'dependsOn', path: 'containers.y.dependsOn' },
    );
  });

  it('a container depending on itself', () => {
    const err = manifestError(`
      version: 1
      containers:
        a: { dependsOn: [a] }
      `);
    expect(['MANIFEST_INVALID', 'DEPENDENCY_CYCLE']).toContain(err.code);
    if (err.code === 'MANIFEST_INVALID') expect(err.details).toMatchObject({ line: 3, column: 20 });
  });

  it('a volume the manifest does not declare', () => {
    expectInvalidAt(
      `
      version: 1
      volumes:
        data: {}
      containers:
        db:
          volumes: ["pgdata:/var/lib/postgresql/data"]
      `,
      { line: 6, column: 15, key: 'volumes', path: 'containers.db.volumes' },
    );
  });

  it('a volume entry that is not NAME:DEST', () => {
    expectInvalidAt(
      `
      version: 1
      volumes:
        data: {}
      containers:
        db: { volumes: ["data"] }
      `,
      { line: 5, column: 19, key: 'volumes', path: 'containers.db.volumes' },
    );
  });
});

describe('YAML syntax errors', () => {
  it('a tab used as indentation', () => {
    expectInvalidAt('version: 1\ncontainers:\n\tweb: {}\n', { line: 3, column: 1 });
  });

  it('misaligned keys in a mapping are reported on their line', () => {
    const err = manifestError('version: 1\ncontainers:\n  web:\n    image: x\n   command: [a]\n');
    expect(err.code).toBe('MANIFEST_INVALID');
    expect(err.details.line).toBe(5);
    expect(err.details.column).toBeGreaterThanOrEqual(1);
    expect(err.details.column).toBeLessThanOrEqual(4);
    expect(err.message).toMatch(/^<text>:5:\d+: /);
  });

  it('an unclosed flow mapping is reported where the parser gave up, not at 1:1', () => {
    const err = manifestError('version: 1\ncontainers:\n  web: { image: nginx\n');
    expect(err.code).toBe('MANIFEST_INVALID');
    expect(err.details.line).toBeGreaterThanOrEqual(3);
  });
});

describe('version', () => {
  it('missing: reported at the start of the document', () => {
    expectInvalidAt(
      `
      containers:
        web: {}
      `,
      { line: 1, column: 1, key: 'version', path: 'version' },
    );
  });

  it('another number: reported at the value', () => {
    expectInvalidAt(
      `
      version: 2
      `,
      { line: 1, column: 10, key: 'version', path: 'version' },
    );
  });

  it('a string "1" is not the number 1', () => {
    expectInvalidAt(
      `
      # a comment first
      version: "1"
      `,
      { line: 2, column: 10, key: 'version' },
    );
  });
});

describe('dependency cycles', () => {
  it('two standalone containers depending on each other: DEPENDENCY_CYCLE naming the cycle', () => {
    const err = manifestError(`
      version: 1
      containers:
        a: { dependsOn: [b] }
        b: { dependsOn: [a] }
      `);
    expect(err.code).toBe('DEPENDENCY_CYCLE');
    const cycle = (err.details as unknown as { cycle: string[] }).cycle;
    expect(cycle[0]).toBe(cycle[cycle.length - 1]);
    expect(new Set(cycle)).toEqual(new Set(['a', 'b']));
  });

  it('a three-container cycle inside a pod', () => {
    const err = manifestError(`
      version: 1
      pods:
        p:
          containers:
            x: { dependsOn: [y] }
            y: { dependsOn: [z] }
            z: { dependsOn: [x] }
            w: { dependsOn: [x] }
      `);
    expect(err.code).toBe('DEPENDENCY_CYCLE');
    const cycle = (err.details as unknown as { cycle: string[] }).cycle;
    expect(cycle).toHaveLength(4);
    expect(new Set(cycle)).toEqual(new Set(['x', 'y', 'z']));
  });

  it('a diamond is not a cycle', () => {
    const m = loadManifest(
      dedent(`
      version: 1
      containers:
        top: { dependsOn: [left, right] }
        left: { dependsOn: [bottom] }
        right: { dependsOn: [bottom] }
        bottom: {}
      `),
    );
    expect(Object.keys(m.containers)).toHaveLength(4);
  });
});

describe('secret env entries', () => {
  it('an env value may be { secret: VALUE }; it loads as such beside plain values', () => {
    const m = loadManifest(
      dedent(`
      version: 1
      containers:
        api:
          env:
            LOG: debug
            PASSWORD:
              secret: hunter2
      `),
    );
    expect(m.containers.api!.env).toEqual({ LOG: 'debug', PASSWORD: { secret: 'hunter2' } });
  });

  it('a mapping other than { secret } is MANIFEST_INVALID at the unknown key', () => {
    const d = expectInvalidAt(
      `
      version: 1
      containers:
        api:
          env:
            PASSWORD:
              secrte: hunter2
      `,
      { line: 6, column: 9, key: 'secrte', path: 'containers.api.env.PASSWORD.secrte' },
    );
    expect(d.problems.some((p) => /allowed: secret/.test(p.message))).toBe(true);
  });

  it('an empty mapping, or a secret that is not a string, is MANIFEST_INVALID where it stands', () => {
    expectInvalidAt(
      `
      version: 1
      containers:
        api:
          env:
            PASSWORD: {}
      `,
      { line: 5, column: 17, key: 'PASSWORD', path: 'containers.api.env.PASSWORD' },
    );
    expectInvalidAt(
      `
      version: 1
      containers:
        api:
          env:
            PASSWORD: { secret: 1234 }
      `,
      { line: 5, column: 27, path: 'containers.api.env.PASSWORD.secret' },
    );
  });
});
