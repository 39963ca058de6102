import { describe, expect, it } from 'vitest';
import { cliWorld, failsJson, ok, okJson, requireBuiltCli, usageError } from './helpers.js';
import { IDS, lines, names, seed, type PsJson } from './podman-seed.js';

/* `berth ps` status words, podman's options (-n, -l) and filters, and sort fields. */

requireBuiltCli();

describe.concurrent('status words', () => {
  it("the table's status words are the filter's: created covers configured, exited and stopped match exited ones", async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const rows = lines(ok(await w.run(['ps', '-a', '--format', '{{.Names}}\\t{{.Status}}\\t{{.State}}'])));
    for (const row of rows) {
      const [name, status, state] = row.split('\t');
      const word = status!.split(' ')[0]!.toLowerCase();
      // The table's first word (Up is podman's running) is the state, and the filter finds it.
      expect(word === 'up' ? 'running' : word).toBe(state);
      expect(await names(w, '-f', `status=${state}`)).toContain(name);
    }
    expect(await names(w, '-f', 'status=created')).toEqual(['db']);
    expect(await names(w, '-f', 'status=configured')).toEqual(['db']);
    expect(await names(w, '-f', 'status=exited')).toEqual(['done', 'job']);
    expect(await names(w, '-f', 'status=stopped')).toEqual(['done', 'job']);
    expect(await names(w, '--filter', 'status=running')).toEqual(['web']);
    const json = okJson<PsJson[]>(await w.run(['ps', '-a', '--format', 'json']));
    expect(json.find((r) => r.name === 'db')).toMatchObject({
      status: 'configured',
      State: 'created',
      Status: 'Created',
    });
    expect(json.find((r) => r.name === 'done')).toMatchObject({ status: 'stopped', State: 'exited', Exited: true });
  });

  it('an unknown status, filter key or sort field is a usage error (exit 2)', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    expect(usageError(await w.run(['ps', '-a', '-f', 'status=bogus']))).toMatch(/bogus.*created/);
    const e = failsJson(await w.run(['ps', '-f', 'status=bogus', '--format', 'json']), 'INVALID_ARGUMENT', 2);
    expect(e.details).toMatchObject({ usage: true, filter: 'status', value: 'bogus' });
    expect(usageError(await w.run(['ps', '-f', 'colour=red']))).toMatch(/colour/);
    expect(usageError(await w.run(['ps', '--sort', 'size']))).toMatch(
      /command, created, id, image, names, runningfor, status, pod/,
    );
    expect(usageError(await w.run(['ps', '-f', 'exited=x']))).toMatch(/exit code/);
  });

  it("sorts by each of podman's fields", async (t) => {
    const w = cliWorld(t);
    await seed(w);
    const order = (field: string): Promise<string[]> => names(w, '-a', '--sort', field);
    expect(await order('names')).toEqual(['db', 'done', 'job', 'web']);
    expect(await order('created')).toEqual(['web', 'db', 'done', 'job']);
    // Running containers first, the longest-running first.
    expect((await order('runningfor'))[0]).toBe('web');
    expect(await order('id')).toEqual(['web', 'db', 'job', 'done']);
    expect(await order('image')).toEqual(['job', 'done', 'db', 'web']);
    expect(await order('command')).toEqual(['db', 'job', 'web', 'done']);
  });
});

describe.concurrent("podman's ps options and filters", () => {
  it('-n/--last N and -l/--latest show the newest containers in any state', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    expect(await names(w, '-n', '2')).toEqual(['web', 'db']);
    expect(await names(w, '--last', '3')).toEqual(['web', 'db', 'done']);
    expect(await names(w, '--last=1', '--sort', 'names')).toEqual(['db']);
    expect(await names(w, '-l')).toEqual(['web']);
    expect(await names(w, '--latest', '-f', 'status=exited')).toEqual(['done']);
    expect(usageError(await w.run(['ps', '-n', 'two']))).toMatch(/--last "two"/);
    expect(usageError(await w.run(['ps', '-l', '-n', '2']))).toMatch(/--latest or --last/);
  });

  it('filters ancestor=, exited=, volume=, before=, since=, label= and label!=', async (t) => {
    const w = cliWorld(t);
    await seed(w);
    expect(await names(w, '-a', '-f', 'ancestor=busybox')).toEqual(['done', 'job']);
    expect(await names(w, '-a', '-f', 'ancestor=busybox:1.36')).toEqual(['done']);
    expect(await names(w, '-a', '-f', 'ancestor=registry.example.com/shop/worker')).toEqual(['web']);
    expect(await names(w, '-a', '-f', 'exited=3')).toEqual(['job']);
    expect(await names(w, '-a', '-f', 'exited=0')).toEqual(['done']);
    expect(await names(w, '-a', '-f', 'volume=data')).toEqual(['web']);
    expect(await names(w, '-a', '-f', 'before=db')).toEqual(['done', 'job']);
    expect(await names(w, '-a', '-f', 'since=done')).toEqual(['web', 'db']);
    expect(await names(w, '-a', '-f', `since=${IDS.job.slice(0, 4)}`, '-f', 'before=web')).toEqual(['db', 'done']);
    expect(await names(w, '-a', '-f', 'label=tier')).toEqual(['web', 'db']);
    expect(await names(w, '-a', '-f', 'label!=tier')).toEqual(['done', 'job']);
    expect(await names(w, '-a', '-f', 'label!=tier=db')).toEqual(['web', 'done', 'job']);
    expect(await names(w, '-a', '-f', 'pod=shop')).toEqual(['web']);
    failsJson(await w.run(['ps', '-f', 'before=nope', '--format', 'json']), 'NO_SUCH_CONTAINER');
  });
});
