import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  ANSI,
  REPO_ROOT,
  STACK_LINE,
  cliWorld,
  fails,
  failsJson,
  hexId,
  holdLockInChild,
  ok,
  okJson,
  requireBuiltCli,
  runInPty,
  show,
  usageError,
} from './helpers.js';

requireBuiltCli();

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

describe.concurrent('berth init, migrate, refresh', () => {
  it('init creates the store (folder 0700, file 0600) and says where it is', async (t) => {
    const w = cliWorld(t);
    expect(existsSync(w.store)).toBe(false);
    const out = ok(await w.run(['init']));
    expect(out).toContain(w.store);
    expect(out).toMatch(/schema version \d+/);
    expect(statSync(w.store).mode & 0o777).toBe(0o600);
    expect(statSync(join(w.dir, 'store')).mode & 0o777).toBe(0o700);
    const doc = okJson<{ store: string; backend: string; schemaVersion: number }>(
      await w.run(['init', '--format', 'json']),
    );
    expect(doc).toMatchObject({ store: w.store, backend: 'sqlite' });
    expect(doc.schemaVersion).toBeGreaterThan(0);
  });

  it('migrate brings a new store to the current schema and then reports it up to date', async (t) => {
    const w = cliWorld(t);
    const first = okJson<{ store: string; from: number; to: number; applied: string[] }>(
      await w.run(['migrate', '--format', 'json']),
    );
    expect(first.from).toBe(0);
    expect(first.to).toBeGreaterThan(0);
    expect(first.applied).toHaveLength(first.to);
    expect(ok(await w.run(['migrate']))).toMatch(new RegExp(`up to date.*${first.to}`));
    expect(okJson(await w.run(['migrate', '--format', 'json']))).toEqual({
      store: w.store,
      from: first.to,
      to: first.to,
      applied: [],
    });
  });

  it('a store with a newer schema is refused with SCHEMA_TOO_NEW and left untouched', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['init']));
    const db = new Database(w.store);
    db.prepare('INSERT INTO berth_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
      999,
      '999-future.sql',
      'x',
      Date.now(),
    );
    db.close();
    const before = readFileSync(w.store);
    const err = failsJson(await w.run(['migrate', '--format', 'json']), 'SCHEMA_TOO_NEW');
    expect(err.message).toMatch(/upgrade berth/);
    expect(fails(await w.run(['doctor']))).toMatch(/schema version 999/);
    expect(readFileSync(w.store).equals(before)).toBe(true);
  });

  it('refresh resets runtime state: running containers exit and exec sessions are cleared', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => {
      const c = await s.addContainer({
        config: { id: hexId('a1'), name: 'web', image: 'nginx' },
        state: { status: 'configured' },
      });
      await s.saveContainer({ ...c, state: { status: 'running', pid: 4242, startedAt: new Date().toISOString() } });
      await s.addExecSession(c, { id: hexId('e1'), containerId: c.config.id });
    });
    expect(okJson<unknown[]>(await w.run(['ps', '--format', 'json']))).toHaveLength(1);
    expect(ok(await w.run(['refresh', '--force']))).not.toBe('');
    expect(okJson<unknown[]>(await w.run(['ps', '--format', 'json']))).toEqual([]);
    expect(okJson<{ status: string }[]>(await w.run(['ps', '-a', '--format', 'json']))[0]!.status).toBe('exited');
    await w.seed(async (s) => {
      expect(await s.getContainerExecSessions(await s.lookupContainer('web'))).toEqual([]);
    });
    expect(okJson(await w.run(['refresh', '--force', '--format', 'json']))).toEqual({ refreshed: true });
  });
});

describe.concurrent('berth doctor', () => {
  it('exits 0 on a healthy store and reports schema version, integrity and locks', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['init']));
    const r = await w.run(['doctor']);
    const out = ok(r);
    expect(out).toMatch(/schema version \d+/);
    expect(out).toMatch(/integrity.*ok/);
    expect(out).toMatch(/locks: 0 held, 0 stale/);
    expect(out).not.toMatch(/FAIL/);
    const doc = okJson<{ healthy: boolean; schemaVersion: number; integrity: string[]; staleLocks: unknown[] }>(
      await w.run(['doctor', '--format', 'json']),
    );
    expect(doc).toMatchObject({ healthy: true, integrity: ['ok'], staleLocks: [] });
  });

  it('a held, live lock keeps the store healthy', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['state', 'lock']));
    expect(ok(await w.run(['doctor']))).toMatch(/locks: 1 held, 0 stale/);
  });

  it('reports a stale lock with the force-unlock command and exits 1', async (t) => {
    const w = cliWorld(t);
    const holder = await holdLockInChild(w, 'default', 'apply');
    holder.kill('SIGKILL');
    await holder.done;
    const r = await w.run(['doctor']);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toMatch(/stale/);
    expect(r.stdout).toContain(holder.id);
    expect(r.stdout).toContain(`berth force-unlock ${holder.id}`);
    const jr = await w.run(['doctor', '--format', 'json']);
    expect(jr.code, show(jr)).toBe(1);
    const doc = JSON.parse(jr.stdout) as { healthy: boolean; staleLocks: { id: string }[] };
    expect(doc.healthy).toBe(false);
    expect(doc.staleLocks.map((l) => l.id)).toEqual([holder.id]);
  });
});

describe.concurrent('berth completion', () => {
  it('completion bash prints a script that bash -n accepts and that knows the commands', async (t) => {
    const w = cliWorld(t);
    const script = ok(await w.run(['completion', 'bash']));
    const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    for (const word of ['ps', 'workspace', 'force-unlock', '--format', 'complete -F']) expect(script).toContain(word);
    // Sourcing it registers the completion, and it completes subcommands.
    const run = spawnSync(
      'bash',
      ['-c', `${script}\nCOMP_WORDS=(berth work); COMP_CWORD=1; _berth; echo "\${COMPREPLY[@]}"`],
      { encoding: 'utf8' },
    );
    expect(run.stdout.trim()).toBe('workspace');
  });

  it('completion zsh prints a zsh script', async (t) => {
    const w = cliWorld(t);
    const script = ok(await w.run(['completion', 'zsh']));
    expect(script).toMatch(/^#compdef berth/);
    const zsh = spawnSync('sh', ['-c', 'command -v zsh'], { encoding: 'utf8' });
    if (zsh.status === 0) {
      const check = spawnSync('zsh', ['-n'], { input: script, encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
    }
  });

  it('completion for an unknown shell is an error', async (t) => {
    const w = cliWorld(t);
    expect(usageError(await w.run(['completion', 'fish']))).toMatch(/bash or zsh/);
    failsJson(await w.run(['completion', 'fish', '--format', 'json']), 'INVALID_ARGUMENT', 2);
    usageError(await w.run(['completion']));
  });
});

describe.concurrent('usage, help and output hygiene', () => {
  it('an unknown command is a usage error (exit 2) on stderr', async (t) => {
    const w = cliWorld(t);
    expect(usageError(await w.run(['frobnicate']))).toMatch(/frobnicate/);
    expect(usageError(await w.run(['container', 'frobnicate']))).toMatch(/frobnicate/);
    // Nothing was created by a usage error.
    expect(existsSync(w.store)).toBe(false);
  });

  it('an unknown option or a missing argument is a usage error (exit 2)', async (t) => {
    const w = cliWorld(t);
    expect(usageError(await w.run(['ps', '--bogus']))).toMatch(/--bogus/);
    expect(usageError(await w.run(['--bogus', 'ps']))).toMatch(/--bogus/);
    usageError(await w.run(['container', 'inspect']));
    usageError(await w.run(['ps', '--filter']));
    // Under --format json, commander's own errors are the JSON error document too.
    for (const argv of [
      ['ps', '--bogus', '--format', 'json'],
      ['--format=json', 'frobnicate'],
    ]) {
      const err = failsJson(await w.run(argv), 'INVALID_ARGUMENT', 2);
      expect(err.details).toEqual({ usage: true });
      expect(err.message).toMatch(/--bogus|frobnicate/);
    }
    expect(existsSync(w.store)).toBe(false);
  });

  it('--help and --version print to stdout and exit 0', async (t) => {
    const w = cliWorld(t);
    const help = ok(await w.run(['--help']));
    for (const cmd of ['ps', 'container', 'pod', 'volume', 'network', 'workspace', 'state', 'force-unlock', 'doctor']) {
      expect(help).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    }
    expect(ok(await w.run(['workspace', '--help']))).toMatch(/select/);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(ok(await w.run(['--version'])).trim()).toBe(pkg.version);
  });

  it('errors carry no stack trace unless BERTH_DEBUG=1', async (t) => {
    const w = cliWorld(t);
    // inspect only reads: the named store must exist.
    ok(await w.run(['init']));
    const plain = await w.run(['container', 'inspect', 'nope']);
    expect(fails(plain)).toMatch(/nope/);
    expect(plain.stderr).not.toMatch(STACK_LINE);
    expect(lines(plain.stderr)).toHaveLength(1);
    const debug = await w.run(['container', 'inspect', 'nope'], { env: { BERTH_DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^Error: /);
    expect(debug.stderr).toMatch(STACK_LINE);
  });

  it('output that is not a terminal carries no ANSI escapes, even without NO_COLOR', async (t) => {
    const w = cliWorld(t);
    const env = { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm-256color' };
    const runs = [
      await w.run(['workspace', 'list'], { env, raw: true }),
      await w.run(['state', 'lock'], { env, raw: true }),
      await w.run(['state', 'locks'], { env, raw: true }),
      await w.run(['doctor'], { env, raw: true }),
      await w.run(['container', 'inspect', 'nope'], { env, raw: true }),
    ];
    for (const r of runs) {
      expect(r.stdout, show(r)).not.toMatch(ANSI);
      expect(r.stderr, show(r)).not.toMatch(ANSI);
    }
    expect(runs[4]!.stderr).toMatch(/^Error: /);
  });

  it('NO_COLOR turns colour off on a terminal too', async (t) => {
    const w = cliWorld(t);
    ok(await w.run(['init']));
    // eslint-disable-next-line no-control-regex
    const SGR = /\u001b\[[0-9;]*m/;
    const coloured = runInPty(w, ['workspace', 'list'], { NO_COLOR: undefined, TERM: 'xterm-256color' });
    expect((await coloured.done).code, coloured.output()).toBe(0);
    expect(coloured.output()).toMatch(SGR);
    const plain = runInPty(w, ['workspace', 'list'], { NO_COLOR: '1', TERM: 'xterm-256color' });
    expect((await plain.done).code, plain.output()).toBe(0);
    expect(plain.output()).toContain('* default');
    expect(plain.output()).not.toMatch(SGR);
  });
});
