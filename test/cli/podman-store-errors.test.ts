import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliWorld, fails, failsJson, ok, requireBuiltCli, usageError } from './helpers.js';
import { IDS, lines, seed } from './podman-seed.js';

/*
 * Read-only commands on a named store that does not exist, the error messages podman users
 * meet first, and completion of names from the store.
 */

requireBuiltCli();

describe.concurrent('a named store that does not exist', () => {
  it('read-only commands fail with NO_SUCH_STORE and create nothing', async (t) => {
    const w = cliWorld(t);
    const missing = join(w.dir, 'typo', 'berth.db');
    const commands = [
      ['ps'],
      ['inspect', 'x'],
      ['container', 'inspect', 'x'],
      ['pod', 'ls'],
      ['pod', 'ps'],
      ['volume', 'ls'],
      ['workspace', 'list'],
      ['events'],
      ['state', 'show'],
    ];
    const results = await Promise.all(commands.map((c) => w.run(['--store', missing, ...c, '--format', 'json'])));
    results.forEach((r) => {
      const e = failsJson(r, 'NO_SUCH_STORE');
      expect(e.message).toMatch(/check --store for a typo, or create the store with `berth init`/);
    });
    // A mistyped filter is a usage error before the store is opened.
    expect(usageError(await w.run(['--store', missing, 'ps', '-f', 'status=bogus']))).toMatch(/unknown status/);
    expect(existsSync(join(w.dir, 'typo'))).toBe(false);
    // BERTH_STORE names a store too.
    expect(fails(await w.run(['ps']))).toMatch(/check BERTH_STORE/);
    expect(existsSync(w.store)).toBe(false);
    // A command that writes creates it.
    ok(await w.run(['--store', missing, 'volume', 'create', 'v']));
    expect(ok(await w.run(['--store', missing, 'volume', 'ls', '-q']))).toBe('v\n');
  });

  it('the default location is created on first use', async (t) => {
    const w = cliWorld(t);
    const data = join(w.dir, 'xdg');
    const env = { BERTH_STORE: undefined, XDG_DATA_HOME: data };
    expect(ok(await w.run(['ps'], { env }))).toMatch(/^CONTAINER ID/);
    expect(readdirSync(join(data, 'berth'))).toContain('berth.db');
  });
});

describe.concurrent('error messages', () => {
  it('an ambiguous prefix lists the matches in plain text too', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const msg = fails(await w.run(['container', 'inspect', 'a']));
    expect(msg).toMatch(/more than one container matches "a": a1f300000000 \(web\), a2e400000000 \(db\)/);
    const e = failsJson(await w.run(['inspect', 'a', '--format', 'json']), 'AMBIGUOUS_ID');
    expect(e.details.matches).toEqual([IDS.web, IDS.db]);
  });

  it('create -v with a missing volume names the volume, not a generated container', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['init']));
    const msg = fails(await w.run(['container', 'create', '-v', 'nosuchvol:/d', 'alpine']));
    expect(msg).toMatch(/volume nosuchvol does not exist; create it first \(`berth volume create nosuchvol`\)/);
    expect(msg).not.toMatch(/ctr-|[0-9a-f]{12}/);
    // A name the user gave is named.
    expect(fails(await w.run(['container', 'create', '--name', 'app', '-v', 'nosuchvol:/d', 'alpine']))).toMatch(
      /container app uses volume nosuchvol/,
    );
    expect(await w.containers()).toEqual([]);
  });

  it('a name over 253 characters gets the length message', async (t) => {
    const w = cliWorld(t);
    const e = failsJson(
      await w.run(['container', 'create', '--name', 'a'.repeat(254), 'alpine', '--format', 'json']),
      'INVALID_NAME',
    );
    expect(e.message).toMatch(/is 254 characters long; use at most 253/);
  });

  it('--namespace is checked with the name rule as a usage error (exit 2), before the store is opened', async (t) => {
    const w = cliWorld(t);
    expect(usageError(await w.run(['--namespace', 'a b', 'ps']))).toMatch(
      /--namespace: namespace name "a b" is invalid/,
    );
    const e = failsJson(await w.run(['ps', '--namespace', '-x', '--format', 'json']), 'INVALID_NAME', 2);
    expect(e.details.usage).toBe(true);
    expect(existsSync(w.store)).toBe(false);
  });
});

describe.concurrent('completion', () => {
  it('__complete prints the names of containers, pods, volumes, workspaces and lock ids', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    ok(await w.run(['workspace', 'new', 'staging']));
    const lock = ok(await w.run(['state', 'lock'])).trim();
    const [containers, pods, volumes, workspaces, locks, bogus] = await Promise.all(
      ['containers', 'pods', 'volumes', 'workspaces', 'locks', 'bogus'].map(async (k) =>
        lines(ok(await w.run(['__complete', k]))),
      ),
    );
    expect(containers).toEqual(['db', 'done', 'job', 'web']);
    expect(pods).toEqual(['shop']);
    expect(volumes).toEqual(['data']);
    expect(workspaces!.sort()).toEqual(['default', 'staging']);
    expect(locks).toEqual([expect.stringContaining(lock.match(/[0-9a-f-]{36}/)![0])]);
    expect(bogus).toEqual([]);
  });

  it('__complete on a missing store prints nothing and creates nothing', async (t) => {
    const w = cliWorld(t);
    const r = await w.run(['__complete', 'containers']);
    expect(ok(r)).toBe('');
    expect(r.stderr).toBe('');
    expect(existsSync(w.store)).toBe(false);
    // Not even the default location.
    const data = join(w.dir, 'xdg');
    ok(await w.run(['__complete', 'pods'], { env: { BERTH_STORE: undefined, XDG_DATA_HOME: data } }));
    expect(existsSync(data)).toBe(false);
  });

  it('the scripts offer each option once and ask the store for names where a command takes them', async (t) => {
    const w = cliWorld(t);
    for (const shell of ['bash', 'zsh']) {
      const script = ok(await w.run(['completion', shell]));
      for (const line of script.split('\n').filter((l) => /^ {4}"[^"]*"\) \w+="/.test(l))) {
        const words = /="([^"]*)"/.exec(line)![1]!.split(' ');
        expect(
          words.filter((x) => x === '--help'),
          line,
        ).toHaveLength(1);
        expect(new Set(words).size, line).toBe(words.length);
      }
      expect(script).toMatch(/"container rm"\) \w+="[^"]*" kinds="containers"/);
      expect(script).toMatch(/"pod ps"\) /);
      expect(script).toMatch(/"state unlock"\) \w+="[^"]*" kinds="locks"/);
      expect(script).toContain('__complete "$k"');
      expect(script).not.toMatch(/^ {4}"__complete"/m);
    }
  });
});
