import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { LockInfo } from '../../src/index.js';
import {
  cliWorld,
  fails,
  failsJson,
  holdLockInChild,
  ok,
  okJson,
  requireBuiltCli,
  runInPty,
  show,
  usageError,
  type CliWorld,
} from './helpers.js';

requireBuiltCli();

const WHO = `${userInfo().username}@${hostname()}`;

/** `berth state locks --format json`. */
const cliLocks = async (w: CliWorld): Promise<LockInfo[]> =>
  okJson<{ locks: LockInfo[] }>(await w.run(['state', 'locks', '--format', 'json'])).locks;

describe.concurrent('berth state lock / unlock / locks', () => {
  it('state lock prints only the lock id on stdout and leaves the lock held', async (t) => {
    const w = cliWorld(t);
    const r = await w.run(['state', 'lock', '--operation', 'maintenance']);
    const id = ok(r).trim();
    expect(r.stdout).toBe(`${id}\n`);
    expect(id).toMatch(/^\S{8,}$/);
    expect(r.stderr).toContain(`berth state unlock ${id}`);
    const locks = await w.locks();
    expect(locks).toHaveLength(1);
    expect(locks[0]).toMatchObject({ id, key: 'workspace:/default', operation: 'maintenance', who: WHO, stale: false });
    const list = okJson<{ workspaces: { name: string; locked: boolean }[] }>(
      await w.run(['workspace', 'list', '--format', 'json']),
    );
    expect(list.workspaces).toEqual([expect.objectContaining({ name: 'default', locked: true })]);
    // --format json: one document with the lock.
    ok(await w.run(['workspace', 'new', 'dev']));
    const dev = okJson<{ lock: LockInfo }>(await w.run(['state', 'lock', '--format', 'json'])).lock;
    expect(dev).toMatchObject({ key: 'workspace:/dev', operation: 'manual', who: WHO });
    expect((await w.locks()).map((l) => l.id).sort()).toEqual([id, dev.id].sort());
  });

  it('a second state lock fails with LOCKED, naming the holder, since when, the operation and the force-unlock command', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock', '--operation', 'deploy'])).trim();
    const since = (await w.locks())[0]!.createdAt;
    const r = await w.run(['state', 'lock']);
    const msg = fails(r);
    expect(r.stderr.startsWith('Error: ')).toBe(true);
    expect(msg).toContain(WHO);
    expect(msg).toContain(since);
    expect(msg).toContain('deploy');
    expect(msg).toContain(`berth force-unlock ${id}`);
    const err = failsJson(await w.run(['state', 'lock', '--format', 'json']), 'LOCKED');
    expect(err.details.lock).toMatchObject({ id, operation: 'deploy', who: WHO, createdAt: since });
    expect(err.message).toContain(`berth force-unlock ${id}`);
    expect((await w.locks()).map((l) => l.id)).toEqual([id]);
  });

  it('commands that write the state fail with LOCKED while another holds the workspace lock', async (t) => {
    const w = cliWorld(t);
    await w.seed(async (s) => void (await s.workspaces.writeState('default', { v: 1 })));
    const text = ok(await w.run(['state', 'export']));
    const id = ok(await w.run(['state', 'lock'])).trim();
    failsJson(await w.run(['state', 'rollback', '1', '--format', 'json']), 'LOCKED');
    failsJson(await w.run(['state', 'import', '-', '--force', '--format', 'json'], { input: text }), 'LOCKED');
    expect((await w.locks()).map((l) => l.id)).toEqual([id]);
    expect(okJson<{ serial: number }>(await w.run(['state', 'show', '--format', 'json'])).serial).toBe(1);
  });

  it('state unlock releases the lock with its id; a wrong id is LOCK_ID_MISMATCH, none held is NOT_LOCKED', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock'])).trim();
    failsJson(await w.run(['state', 'unlock', 'not-the-id', '--format', 'json']), 'LOCK_ID_MISMATCH');
    expect((await w.locks()).map((l) => l.id)).toEqual([id]);
    expect(ok(await w.run(['state', 'unlock', id]))).toMatch(/unlocked/);
    expect(await w.locks()).toEqual([]);
    failsJson(await w.run(['state', 'unlock', id, '--format', 'json']), 'NOT_LOCKED');
    usageError(await w.run(['state', 'unlock']));
  });

  it('state locks lists every lock; with none held it says so', async (t) => {
    const w = cliWorld(t);
    expect(ok(await w.run(['state', 'locks']))).toMatch(/No locks/);
    expect(await cliLocks(w)).toEqual([]);
    const a = ok(await w.run(['state', 'lock', '--operation', 'one'])).trim();
    ok(await w.run(['workspace', 'new', 'dev']));
    const b = ok(await w.run(['state', 'lock', '--operation', 'two'])).trim();
    const out = ok(await w.run(['state', 'locks']));
    const [header, ...rows] = out.split('\n').filter((l) => l !== '');
    expect(header).toMatch(/^LOCK ID {2,}KEY {2,}OPERATION {2,}WHO {2,}CREATED {2,}STATE {2,}INFO$/);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.startsWith(a))).toMatch(/workspace:\/default +one +\S+ +.* ago +held$/);
    expect(rows.find((r) => r.startsWith(b))).toMatch(/workspace:\/dev +two /);
    expect((await cliLocks(w)).map((l) => l.key).sort()).toEqual(['workspace:/default', 'workspace:/dev']);
  });

  it('state locks marks a lock whose holder process was killed as stale', async (t) => {
    const w = cliWorld(t);
    const holder = await holdLockInChild(w, 'default', 'apply');
    const live = await cliLocks(w);
    expect(live).toEqual([expect.objectContaining({ id: holder.id, pid: holder.pid, stale: false })]);
    expect(ok(await w.run(['state', 'locks']))).toMatch(/ held$/m);
    holder.kill('SIGKILL');
    await holder.done;
    const [stale] = await cliLocks(w);
    expect(stale).toMatchObject({ id: holder.id, stale: true });
    const row = ok(await w.run(['state', 'locks']))
      .split('\n')
      .find((l) => l.startsWith(holder.id));
    expect(row).toMatch(/stale/);
    // Stale locks still block others (DESIGN.md §5).
    failsJson(await w.run(['state', 'lock', '--format', 'json']), 'LOCKED');
  });

  it('--lock-timeout waits for the holder to release the lock', async (t) => {
    const w = cliWorld(t);
    const first = ok(await w.run(['state', 'lock'])).trim();
    const started = Date.now();
    const waiting = w.start(['--lock-timeout', '30s', 'state', 'lock', '--operation', 'second']);
    let finished = false;
    void waiting.done.then(() => (finished = true));
    await sleep(2500);
    expect(finished, waiting.output()).toBe(false);
    ok(await w.run(['state', 'unlock', first]));
    const r = await waiting.done;
    expect(r.code, show(r)).toBe(0);
    const second = r.stdout.trim();
    expect(second).not.toBe(first);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(await w.locks()).toEqual([expect.objectContaining({ id: second, operation: 'second' })]);
  });

  it('--lock-timeout gives up with LOCKED when the lock is not released in time; a bad duration is a usage error', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock'])).trim();
    const started = Date.now();
    const err = failsJson(await w.run(['state', 'lock', '--lock-timeout', '800ms', '--format', 'json']), 'LOCKED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect((err.details.lock as LockInfo).id).toBe(id);
    failsJson(await w.run(['state', 'lock', '--lock-timeout', 'soon', '--format', 'json']), 'INVALID_ARGUMENT', 2);
  });
});

describe.concurrent('berth force-unlock', () => {
  it('force-unlock LOCK_ID --force removes the lock and records who broke it', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock', '--operation', 'deploy'])).trim();
    expect(ok(await w.run(['force-unlock', id, '--force']))).toContain(id);
    expect(await w.locks()).toEqual([]);
    const id2 = ok(await w.run(['state', 'lock'])).trim();
    const doc = okJson<{ removed: LockInfo }>(await w.run(['force-unlock', '--force', id2, '--format', 'json']));
    expect(doc.removed).toMatchObject({ id: id2, key: 'workspace:/default' });
    await w.seed(async (s) => {
      const events = await s.events.list({ types: ['lock.force_unlock'] });
      expect(events.map((e) => e.subject.id)).toEqual([id, id2]);
    });
  });

  it('force-unlock of an id no lock has is NOT_LOCKED', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock'])).trim();
    expect(fails(await w.run(['force-unlock', 'nope', '--force']))).toMatch(/state locks/);
    failsJson(await w.run(['force-unlock', 'nope', '--force', '--format', 'json']), 'NOT_LOCKED');
    expect((await w.locks()).map((l) => l.id)).toEqual([id]);
    usageError(await w.run(['force-unlock']));
  });

  it('force-unlock without --force and without a terminal refuses, telling to pass --force; the lock stays', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock'])).trim();
    const r = await w.run(['force-unlock', id]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: .*--force/m);
    failsJson(await w.run(['force-unlock', id, '--format', 'json']), 'INVALID_ARGUMENT');
    expect((await w.locks()).map((l) => l.id)).toEqual([id]);
  });

  it('force-unlock asks on a terminal: answering yes removes the lock', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock'])).trim();
    const pty = runInPty(w, ['force-unlock', id]);
    const prompt = await pty.waitFor('Enter a value');
    expect(prompt).toContain(id);
    pty.write('yes\n');
    const r = await pty.done;
    expect(r.code, pty.output()).toBe(0);
    expect(pty.output()).toMatch(/force-unlocked/);
    expect(await w.locks()).toEqual([]);
  });

  it('force-unlock asks on a terminal: any answer but yes leaves the lock held', async (t) => {
    const w = cliWorld(t);
    const id = ok(await w.run(['state', 'lock'])).trim();
    const pty = runInPty(w, ['force-unlock', id]);
    await pty.waitFor('Enter a value');
    pty.write('no\n');
    const r = await pty.done;
    expect(r.code, pty.output()).toBe(1);
    expect(pty.output()).toMatch(/Error: /);
    expect((await w.locks()).map((l) => l.id)).toEqual([id]);
  });
});
