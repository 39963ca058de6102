import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { tempDir } from '../helpers/store-factory.js';
import { workerArgs } from '../helpers/worker-bundle.js';

/*
 * Order that is hashed, stored or compared is code-unit order (STYLE.md 16): two machines
 * sharing one store, one in the C locale and one in Czech (where "ch" sorts after "h"),
 * compute the same plan digest, and neither sees the other's apply as drift.
 */

const WORKER = fileURLToPath(new URL('./workers/locale-plan.ts', import.meta.url));

const MANIFEST = `version: 1
namespace: locale
volumes:
  hub: {}
  chat: {}
  Chat2: {}
  c_x: {}
  c-x: {}
  x1: {}
containers:
  chatbot: { image: "bot:1", volumes: ["hub:/h", "chat:/c", "Chat2:/C", "c_x:/k", "c-x:/l", "x1:/x"] }
  hubot: { image: "bot:1", dependsOn: [chatbot] }
`;

interface PlanFacts {
  locale: string;
  chAfterH: boolean;
  digest: string;
  manifestDigest: string;
  keys: string[];
  specDigests: (string | null)[];
  drift: unknown[];
  changes: Record<string, number>;
}

function planIn(lang: string, store: string, manifest: string, mode?: 'apply'): PlanFacts {
  const r = spawnSync(process.execPath, [...workerArgs(WORKER), store, manifest, ...(mode ? [mode] : [])], {
    env: { ...process.env, LANG: lang, LC_ALL: lang },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PlanFacts;
}

describe('plans do not depend on the locale', () => {
  it('the same manifest plans to the same digest under C and cs_CZ, and an apply in one is no drift in the other', async () => {
    const dir = tempDir();
    const store = join(dir, 'berth.db');
    const manifest = join(dir, 'berth.yaml');
    writeFileSync(manifest, MANIFEST);
    (await openStore({ path: store })).close();

    const c = planIn('C', store, manifest);
    const cs = planIn('cs_CZ.UTF-8', store, manifest);
    expect(c.chAfterH).toBe(false);
    expect(cs.chAfterH, `the Czech locale is not in effect (${cs.locale}): the test would prove nothing`).toBe(true);
    expect(cs.keys).toEqual(c.keys);
    expect(cs.specDigests).toEqual(c.specDigests);
    expect(cs.manifestDigest).toBe(c.manifestDigest);
    expect(cs.digest).toBe(c.digest);
    expect(c.keys).toEqual([...c.keys].sort());

    planIn('cs_CZ.UTF-8', store, manifest, 'apply');
    const after = planIn('C', store, manifest);
    expect(after.drift).toEqual([]);
    expect(after.changes).toMatchObject({ create: 0, update: 0, replace: 0, delete: 0 });
  });
});
