import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cliWorld,
  fails,
  failsJson,
  hexId,
  holdLockInChild,
  ok,
  okJson,
  requireBuiltCli,
  runInPty,
  usageError,
  type CliWorld,
} from './helpers.js';

requireBuiltCli();

/*
 * What a terraform or pulumi user does by habit, through the real CLI: one namespace rule
 * for workspace/state/plan/apply/destroy, a destroy that needs no manifest, terraform's
 * single-dash spellings, exit 2 for every usage mistake, the lock held from plan through
 * the prompt, hints in CLI terms, and the operations that ask before they act.
 */

const SHOP = `version: 1
namespace: shop
volumes:
  pgdata: { driver: local }
pods:
  web:
    labels: { app: web }
    containers:
      web-app: { image: "shop/app:2.3" }
      web-nginx: { image: "nginx:1.27", dependsOn: [web-app] }
containers:
  db: { image: "postgres:16", volumes: ["pgdata:/var/lib/postgresql/data"] }
`;

function write(w: CliWorld, name: string, text: string): string {
  const path = join(w.cwd, name);
  writeFileSync(path, text);
  return path;
}

/** Names of the containers of a namespace, read through the library. */
async function containerNames(w: CliWorld, ns: string): Promise<string[]> {
  return (await w.containers())
    .filter((c) => (c.config.namespace ?? '') === ns)
    .map((c) => c.config.name)
    .sort();
}

describe.concurrent('one namespace rule (--namespace > manifest > saved selection > "")', () => {
  it('workspace new in a folder whose berth.yaml says a namespace creates it there; plan, apply and state history find it', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    expect(ok(await w.run(['workspace', 'new', 'staging']))).toBe(
      'Created and switched to workspace "staging" in namespace "shop".\n',
    );
    expect(readFileSync(join(w.cwd, '.berth', 'workspace'), 'utf8')).toBe('staging\nnamespace=shop\n');
    expect(ok(await w.run(['plan']))).toMatch(/in workspace "staging", namespace "shop"/);
    ok(await w.run(['apply', '--auto-approve']));
    const history = okJson<{ workspace: string; history: { serial: number }[] }>(
      await w.run(['state', 'history', '--format', 'json']),
    );
    expect(history.history.map((v) => v.serial)).toEqual([1]);
    const list = okJson<{ workspaces: { name: string; selected: boolean }[] }>(
      await w.run(['workspace', 'list', '--format', 'json']),
    );
    expect(list.workspaces.map((x) => `${x.selected ? '*' : ''}${x.name}`)).toEqual(['default', '*staging']);
    // --namespace wins over the manifest: the '' namespace has only its default workspace.
    const other = okJson<{ workspaces: { name: string }[] }>(
      await w.run(['workspace', 'list', '--namespace', 'other', '--format', 'json']),
    );
    expect(other.workspaces.map((x) => x.name)).toEqual(['default']);
  });

  it('the namespace saved with the selection is used where no manifest is', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    ok(await w.run(['workspace', 'new', 'staging']));
    ok(await w.run(['apply', '--auto-approve']));
    renameSync(join(w.cwd, 'berth.yaml'), join(w.dir, 'elsewhere.yaml'));
    const shown = okJson<{ workspace: string; serial: number }>(await w.run(['state', 'show', '--format', 'json']));
    expect(shown).toMatchObject({ workspace: 'staging', serial: 1 });
  });

  it('apply -f FILE remembers the manifest namespace, so state and destroy in that folder find the workspace', async (t) => {
    const w = cliWorld(t);
    const file = write(w, 'shop.yaml', SHOP);
    ok(await w.run(['apply', '-f', file, '--auto-approve']));
    expect(readFileSync(join(w.cwd, '.berth', 'workspace'), 'utf8')).toBe('default\nnamespace=shop\n');
    expect(okJson<{ serial: number }>(await w.run(['state', 'show', '--format', 'json'])).serial).toBe(1);
  });

  it('--namespace that contradicts the manifest is NAMESPACE_MISMATCH, naming both', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    const message = fails(await w.run(['plan', '--namespace', 'other']));
    expect(message).toMatch(/declares namespace "shop", but --namespace says "other"/);
    failsJson(await w.run(['plan', '--namespace', 'other', '--format', 'json']), 'NAMESPACE_MISMATCH');
  });

  it('a workspace missing in the manifest namespace is named with the command that creates it there', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['workspace', 'new', 'staging']));
    const file = write(w, 'shop.yaml', SHOP);
    const message = fails(await w.run(['plan', '-f', file]));
    expect(message).toMatch(/workspace "staging" does not exist in namespace "shop"/);
    expect(message).toContain('`berth workspace new staging --namespace shop`');
    ok(await w.run(['workspace', 'new', 'staging', '--namespace', 'shop']));
    ok(await w.run(['plan', '-f', file]));
  });
});

describe.concurrent('destroy needs no manifest', () => {
  it('removes what the last apply manages, in the namespace of the rule, and never claims to match a manifest', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    ok(await w.run(['apply', '--auto-approve']));
    expect(await containerNames(w, 'shop')).toEqual(['db', 'web-app', 'web-nginx']);
    renameSync(join(w.cwd, 'berth.yaml'), join(w.dir, 'gone.yaml'));
    const out = ok(await w.run(['destroy', '--auto-approve']));
    expect(out).not.toMatch(/matches the manifest/);
    expect(out).toMatch(/^ +- container\/web-nginx$/m);
    expect(out).toMatch(/Destroy complete! 5 destroyed\./);
    expect(await containerNames(w, 'shop')).toEqual([]);
    const again = ok(await w.run(['destroy', '--auto-approve']));
    expect(again).toMatch(
      /^No changes\. Nothing to destroy: workspace "default" manages no objects in namespace "shop"\./,
    );
    expect(again).not.toMatch(/matches the manifest/);
  });

  it('a destroy of objects in another namespace leaves them alone', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    ok(await w.run(['apply', '--auto-approve']));
    const other = w.subdir('other');
    const out = ok(await w.run(['destroy', '--auto-approve', '--namespace', 'else'], { cwd: other }));
    expect(out).toMatch(/Nothing to destroy/);
    expect(await containerNames(w, 'shop')).toHaveLength(3);
  });
});

describe.concurrent('exit 2 for usage mistakes, with the JSON error document', () => {
  const cases: [string, string[]][] = [
    ['a serial that is not a number', ['state', 'rollback', 'abc']],
    ['a --since that is no seq, time or duration', ['events', '--since', 'yesterday']],
    ['an unknown event filter', ['events', '--filter', 'colour=red']],
    ['a shell berth has no completion for', ['completion', 'tcsh']],
    ['an address with a port that is not a number', ['serve', '--listen', 'localhost:abc']],
    ['a lock timeout that is not a duration', ['--lock-timeout', 'forever', 'state', 'lock']],
    ['an unknown option', ['plan', '--nosuch']],
    ['an unknown single-dash word', ['apply', '-nosuch']],
    ['an unknown command', ['nosuch']],
  ];
  for (const [what, args] of cases) {
    it(`${what}: exit 2, and under --format json {"error":{"code":"INVALID_ARGUMENT",…,"details":{"usage":true}}}`, async (t) => {
      const w = cliWorld(t);
      expect(usageError(await w.run(args))).not.toBe('');
      const error = failsJson(await w.run([...args, '--format', 'json']), 'INVALID_ARGUMENT', 2);
      expect(error.details.usage).toBe(true);
      expect(existsSync(w.store), 'the store is not even created').toBe(false);
    });
  }

  it('a missing object, workspace or lock and an invalid name stay exit 1', async (t) => {
    const w = cliWorld(t);
    failsJson(await w.run(['workspace', 'new', 'no good', '--format', 'json']), 'INVALID_NAME', 1);
    failsJson(await w.run(['workspace', 'select', 'nosuch', '--format', 'json']), 'NO_SUCH_WORKSPACE', 1);
    failsJson(await w.run(['force-unlock', 'nosuch', '--force', '--format', 'json']), 'NOT_LOCKED', 1);
    failsJson(await w.run(['state', 'rollback', '9', '--force', '--format', 'json']), 'INVALID_ARGUMENT', 1);
    // A store path under a file: the store cannot be there.
    writeFileSync(join(w.dir, 'a-file'), '');
    failsJson(
      await w.run(['ps', '--format', 'json'], { env: { BERTH_STORE: join(w.dir, 'a-file', 'berth.db') } }),
      'STORE_UNAVAILABLE',
      1,
    );
    failsJson(await w.run(['serve', '--listen', '0.0.0.0:0', '--format', 'json']), 'INVALID_ARGUMENT', 1);
    failsJson(
      await w.run(['serve', '--listen', '127.0.0.1:0', '--token-file', join(w.dir, 'nosuch'), '--format', 'json']),
      'INVALID_ARGUMENT',
      1,
    );
  });
});

describe.concurrent("terraform's single-dash spellings", () => {
  it('-auto-approve, -out=FILE, -lock-timeout=10s, -or-create and -force work as their -- forms', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    expect(ok(await w.run(['plan', '-out=plan.json']))).toMatch(/Saved the plan to plan\.json/);
    ok(await w.run(['apply', 'plan.json', '-lock-timeout=10s']));
    ok(await w.run(['workspace', 'select', '-or-create', 'qa']));
    expect(ok(await w.run(['workspace', 'show'])).trim()).toBe('qa');
    ok(await w.run(['workspace', 'select', 'default']));
    expect(ok(await w.run(['destroy', '-auto-approve']))).toMatch(/Destroy complete! 5 destroyed/);
    const lock = ok(await w.run(['state', 'lock'])).trim();
    expect(ok(await w.run(['force-unlock', lock, '-force']))).toMatch(/force-unlocked/);
    expect(ok(await w.run(['plan', '-out', 'again.json']))).toMatch(/Saved the plan to again\.json/);
  });

  it('podman short clusters keep their meaning: ps -aq lists every id, and a single-dash word of another command is refused', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      await s.addContainer({ config: { id: hexId('a1'), name: 'one', image: 'busybox' }, state: { status: 'exited' } });
    });
    expect(ok(await w.run(['ps', '-aq'])).trim()).toBe(hexId('a1').slice(0, 12));
    expect(usageError(await w.run(['ps', '-auto-approve']))).toMatch(/unknown option/);
    expect(usageError(await w.run(['plan', '-or-create']))).toMatch(/unknown option/);
  });

  it('apply --refresh-only records out-of-band changes in the state, changing no object', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    ok(await w.run(['apply', '-auto-approve']));
    await w.seed(async (s) => {
      const shop = s.withNamespace('shop');
      const db = await shop.lookupContainer('db');
      await shop.rewriteContainerConfig(db, { ...db.config, labels: { ...db.config.labels, touched: 'yes' } });
    });
    expect(ok(await w.run(['plan']))).toMatch(/container\/db: labels changed/);
    const out = ok(await w.run(['apply', '-refresh-only', '-auto-approve']));
    expect(out).toMatch(/Apply complete!.*serial 2\./);
    const after = ok(await w.run(['plan']));
    expect(after).not.toMatch(/Drift/);
    expect(after).toMatch(/^ +~ container\/db\n +- labels\.touched = "yes"$/m);
    usageError(await w.run(['apply', 'plan.json', '--refresh-only']));
  });
});

describe.concurrent('the workspace lock around plan and apply', () => {
  it('apply takes the lock before planning and holds it while it asks; a no releases it', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    const pty = runInPty(w, ['apply']);
    await pty.waitFor('Enter a value');
    const held = await w.locks();
    expect(held.map((l) => [l.key, l.operation])).toEqual([['workspace:shop/default', 'apply']]);
    // Another apply meanwhile fails at once with LOCKED, before it plans anything.
    const other = await w.run(['apply', '--auto-approve', '--format', 'json']);
    failsJson(other, 'LOCKED');
    pty.write('no\n');
    const r = await pty.done;
    expect(r.code, pty.output()).toBe(1);
    expect(pty.output()).toMatch(/cancelled/);
    expect(await w.locks()).toEqual([]);
    expect(await containerNames(w, 'shop')).toEqual([]);
  });

  it('plan reports a held lock (who, since when, the force-unlock command) without failing', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    ok(await w.run(['workspace', 'new', 'staging']));
    const id = ok(await w.run(['state', 'lock', '--info', 'deploying v2'])).trim();
    const r = await w.run(['plan']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /workspace "staging" is locked by \S+ \(pid 0 on \S+, operation "manual", "deploying v2"\) since /,
    );
    expect(r.stderr).toContain(`berth force-unlock ${id}`);
    const doc = okJson<{ lock: { id: string } }>(await w.run(['plan', '--format', 'json']));
    expect(doc.lock.id).toBe(id);
  });
});

describe.concurrent('a stale lock, found by plan and by doctor --repair', () => {
  it('plan calls a lock whose holder died stale and names force-unlock; doctor --repair asks before breaking it', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP.replace('namespace: shop\n', ''));
    const holder = await holdLockInChild(w, 'default', 'apply');
    holder.kill('SIGKILL');
    await holder.done;
    const r = await w.run(['plan']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^Note: the workspace lock is stale \(.+\): held by \S+ \(pid \d+ on \S+, operation "apply"\)/m,
    );
    expect(r.stderr).toContain(`If that process is gone, break it with: berth force-unlock ${holder.id}`);
    const before = readdirSync(dirname(w.store));
    expect(fails(await w.run(['doctor', '--repair']))).toMatch(/pass --force/);
    expect(readdirSync(dirname(w.store)), 'nothing was written').toEqual(before);
    expect((await w.locks()).map((l) => l.id)).toEqual([holder.id]);
    const repaired = await w.run(['doctor', '--repair', '--force']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stderr).toMatch(/broke 1 stale lock/);
    expect(await w.locks()).toEqual([]);
  });
});

describe.concurrent('hints in CLI terms', () => {
  it('pod rm of a pod with containers names `berth pod rm -f`', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['pod', 'create', '--name', 'web']));
    ok(await w.run(['container', 'create', '--name', 'app', '--pod', 'web', 'nginx']));
    const message = fails(await w.run(['pod', 'rm', 'web']));
    expect(message).toContain('`berth pod rm -f web`');
  });

  it('a destructive apply names --allow-destroy; a non-empty workspace delete says what it holds', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', SHOP);
    ok(await w.run(['workspace', 'new', 'dev']));
    ok(await w.run(['apply', '--auto-approve']));
    write(
      w,
      'berth.yaml',
      SHOP.replace(/volumes:\n {2}pgdata:.*\n/, '').replace(', volumes: ["pgdata:/var/lib/postgresql/data"]', ''),
    );
    const refused = await w.run(['apply', '--auto-approve']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^Error: this plan would delete volume\/pgdata, losing its data; apply it with `--allow-destroy`/m,
    );
    ok(await w.run(['workspace', 'select', 'default']));
    const message = fails(await w.run(['workspace', 'delete', 'dev']));
    expect(message).toMatch(/its state is at serial 1 and it manages 3 containers, 1 pod, 1 volume/);
    expect(message).toContain('`berth workspace delete --force dev`');
    const out = ok(await w.run(['workspace', 'delete', '-force', 'dev']));
    expect(out).toBe(
      'Deleted workspace "dev" (state serial 1 and its history); the 3 container(s), 1 pod(s), 1 volume(s) it managed stay, now orphans.\n',
    );
    const nosuch = fails(await w.run(['workspace', 'delete', 'nosuch']));
    expect(nosuch).not.toMatch(/workspace new/);
    expect(nosuch).toMatch(/berth workspace list/);
  });

  it('importing an older serial says which serial is older than which, and names --force', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      for (const n of [1, 2, 3]) await s.workspaces.writeState('default', { n });
    });
    const file = join(w.dir, 'export.json');
    writeFileSync(file, ok(await w.run(['state', 'export'])));
    await w.seed(async (s) => void (await s.workspaces.writeState('default', { n: 4 })));
    const message = fails(await w.run(['state', 'import', file]));
    expect(message).toMatch(/the import has serial 3, older than workspace default \(serial 4\), so it is not newer/);
    expect(message).toContain('`berth state import --force FILE`');
  });
});

describe.concurrent('lock ids stay secret where they must, and whole where they are needed', () => {
  it('a wrong id on state unlock does not print the holder id; events print whole lock ids and whose lock force-unlock broke', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock', '--info', 'night batch'])).trim();
    const wrong = await w.run(['state', 'unlock', 'not-the-id']);
    expect(fails(wrong)).toMatch(/another id than not-the-id/);
    expect(wrong.stderr).not.toContain(id);
    expect(ok(await w.run(['state', 'locks']))).toMatch(/INFO\n.*night batch$/m);
    const pty = runInPty(w, ['force-unlock', id]);
    expect(await pty.waitFor('Enter a value')).toMatch(/info {6}night batch/);
    pty.write('yes\n');
    expect((await pty.done).code, pty.output()).toBe(0);
    const events = ok(await w.run(['events', '--filter', 'type=lock.*']));
    expect(events).toMatch(new RegExp(`lock\\.acquire workspace:/default \\(${id}\\)`));
    expect(events).toMatch(
      new RegExp(`lock\\.force_unlock workspace:/default \\(${id}\\) \\(broke \\S+'s "manual" lock, not stale\\)`),
    );
  });
});

describe.concurrent('operations that ask first, and what they report', () => {
  it('refresh needs --force without a terminal; after it a container that was running shows Exited, with no exit code', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      const c = await s.addContainer({
        config: { id: hexId('b1'), name: 'web', image: 'nginx' },
        state: { status: 'configured' },
      });
      await s.saveContainer({ ...c, state: { status: 'running', pid: 42, startedAt: new Date().toISOString() } });
    });
    expect(fails(await w.run(['refresh']))).toMatch(/pass --force/);
    expect(okJson<unknown[]>(await w.run(['ps', '--format', 'json']))).toHaveLength(1);
    ok(await w.run(['refresh', '--force']));
    const table = ok(await w.run(['ps', '-a']));
    expect(table).toMatch(/ Exited /);
    expect(table).not.toMatch(/Exited \(/);
    const [inspected] = okJson<{ state: { status: string; exitCode?: number } }[]>(
      await w.run(['container', 'inspect', 'web']),
    );
    expect(inspected!.state.status).toBe('exited');
    expect(inspected!.state.exitCode).toBeUndefined();
  });

  it('refresh and state rollback ask on a terminal: only yes goes on', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      await s.workspaces.writeState('default', { n: 1 });
      await s.workspaces.writeState('default', { n: 2 });
    });
    const no = runInPty(w, ['state', 'rollback', '1']);
    expect(await no.waitFor('Enter a value')).toMatch(/Roll workspace "default" back to serial 1\?/);
    no.write('no\n');
    expect((await no.done).code, no.output()).toBe(1);
    expect((await w.readState('default')).serial).toBe(2);
    expect(await w.locks(), 'the lock taken for the question is released').toEqual([]);
    const refresh = runInPty(w, ['refresh']);
    expect(await refresh.waitFor('Enter a value')).toMatch(/0 running container\(s\) will be marked exited/);
    refresh.write('yes\n');
    expect((await refresh.done).code, refresh.output()).toBe(0);
    expect(refresh.output()).toMatch(/Runtime state reset/);
  });

  it('state rollback asks: without a terminal it needs --force and changes nothing', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      await s.workspaces.writeState('default', { n: 1 });
      await s.workspaces.writeState('default', { n: 2 });
    });
    expect(fails(await w.run(['state', 'rollback', '1']))).toMatch(/pass --force/);
    expect((await w.readState('default')).serial).toBe(2);
    ok(await w.run(['state', 'rollback', '1', '-force']));
    expect(await w.readState('default')).toMatchObject({ serial: 3, state: { n: 1 } });
  });

  it('doctor warns, and exits 0, on a store in an ordinary 0755 folder; --repair with nothing to repair writes no backup', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['init']));
    chmodSync(dirname(w.store), 0o755);
    const r = await w.run(['doctor']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^warn {2}permissions: .* is mode 755/m);
    const before = readdirSync(dirname(w.store));
    const repair = await w.run(['doctor', '--repair']);
    expect(repair.code).toBe(0);
    expect(repair.stderr).toMatch(/Nothing to repair.*No backup was written/);
    expect(readdirSync(dirname(w.store))).toEqual(before);
  });

  it('manifest errors list every problem and suggest the key meant', async (t) => {
    const w = cliWorld(t);
    write(w, 'berth.yaml', `version: 1\ncontainers:\n  a: { imgae: nginx }\n  b: { image: nginx, comand: [sh] }\n`);
    const message = fails(await w.run(['plan']));
    expect(message).toMatch(/berth\.yaml:3:8: unknown key "imgae" in containers\.a; did you mean "image"\?/);
    expect(message).toMatch(/\n {2}berth\.yaml:4:22: unknown key "comand" in containers\.b; did you mean "command"\?/);
    expect(message).not.toMatch(/more problem/);
    const doc = failsJson(await w.run(['plan', '--format', 'json']), 'MANIFEST_INVALID');
    expect((doc.details.problems as unknown[]).length).toBe(2);
  });

  it('migrate --to a URL never prints its password', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['init']));
    const r = await w.run(['migrate', '--to', 'postgres://alice:S3cretPw@127.0.0.1:1/berth']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain('S3cretPw');
    expect(r.stderr).toMatch(/alice:\*\*\*@127\.0\.0\.1:1/);
  });
});
