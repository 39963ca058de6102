import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctr } from '../conformance/builders.js';
import { cliWorld, fails, requireBuiltCli } from '../cli/helpers.js';
import { freePort } from '../events/helpers.js';
import { curl, expectJsonError, request, runBerth, startServe } from './helpers.js';

/*
 * Where `berth serve` listens (API.md "HTTP"): loopback by default; off loopback only
 * with a token and TLS (or --insecure-http), refused before anything is bound; unix
 * sockets (0600, removed on exit, a stale one replaced, a live one never taken over);
 * several --listen at once.
 */

requireBuiltCli();

/** Resolves true when `host:port` can be bound (nothing else holds it). */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

describe.concurrent('berth serve: listen addresses', () => {
  it('off loopback without TLS: exit 1 before binding, saying why; with --insecure-http and a token it serves', async (t) => {
    const world = cliWorld(t);
    const tokenFile = join(world.dir, 'token');
    writeFileSync(tokenFile, 'plain-token-77\n', { mode: 0o600 });
    const port = await freePort();

    const bare = await runBerth(world, ['serve', '--listen', `0.0.0.0:${port}`]);
    const both = fails(bare);
    expect(both).toMatch(/0\.0\.0\.0:\d+ opens the store to other machines/);
    expect(both).toMatch(/a token .*and TLS .*--tls-cert FILE --tls-key FILE.*--insecure-http/);
    const withToken = fails(await runBerth(world, ['serve', '--listen', `0.0.0.0:${port}`, '--token-file', tokenFile]));
    expect(withToken).toMatch(/needs TLS/);
    expect(withToken).not.toMatch(/token \(/);
    // A loopback address beside it changes nothing: the refusal comes before any bind.
    const mixed = await runBerth(world, ['serve', '--listen', '127.0.0.1:0', '--listen', `0.0.0.0:${port}`]);
    expect(fails(mixed)).toMatch(/needs a token/);
    for (const r of [bare, mixed]) expect(r.stderr).not.toMatch(/berth serve: listening on/);
    expect(await canBind('0.0.0.0', port), 'nothing was bound').toBe(true);
    expect(existsSync(world.store), 'the store was not even opened').toBe(false);
    // --insecure-http without a token is still refused.
    expect(fails(await runBerth(world, ['serve', '--listen', `0.0.0.0:${port}`, '--insecure-http']))).toMatch(
      /needs a token/,
    );

    const served = await startServe(t, ['--listen', `0.0.0.0:${port}`, '--insecure-http', '--token-file', tokenFile], {
      world,
    });
    expect(served.urls).toEqual([`http://0.0.0.0:${port}`]);
    expectJsonError(await request(served.url, '/v1/health'), 401, 'UNAUTHORIZED');
    const ok = await request(served.url, '/v1/health', { headers: { authorization: 'Bearer plain-token-77' } });
    expect(ok.status).toBe(200);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('a unix socket: mode 0600, curl --unix-socket and Node answer, removed on SIGTERM', async (t) => {
    const world = cliWorld(t);
    await world.seed((s) => s.addContainer(ctr({ name: 'via-socket' })));
    const sock = join(world.dir, 'berth.sock');
    const served = await startServe(t, ['--listen', `unix://${sock}`], { world });
    expect(served.urls).toEqual([`unix://${sock}`]);
    const st = statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe('600');

    const r = await curl(['--unix-socket', sock, 'http://localhost/v1/containers']);
    expect(r.exit, r.stderr).toBe(0);
    expect(r.status).toBe(200);
    expect((r.json as { config: { name: string } }[]).map((c) => c.config.name)).toEqual(['via-socket']);
    expect((await request(`unix://${sock}`, '/v1/health')).json).toMatchObject({ ok: true });

    expect(await served.stop()).toEqual({ code: 0, signal: null });
    expect(existsSync(sock), 'the socket is removed on exit').toBe(false);
  });

  it('a stale socket file is replaced; a socket a live server answers on is refused; any other file is left alone', async (t) => {
    const world = cliWorld(t);
    const sock = join(world.dir, 'berth.sock');
    // A server killed without a chance to clean up leaves its socket file behind.
    const killed = await startServe(t, ['--listen', `unix://${sock}`], { world });
    expect(await killed.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(statSync(sock).isSocket(), 'a stale socket file').toBe(true);

    const served = await startServe(t, ['--listen', `unix://${sock}`], { world });
    expect((await request(`unix://${sock}`, '/v1/health')).status).toBe(200);
    const second = await runBerth(world, ['serve', '--listen', `unix://${sock}`]);
    expect(fails(second)).toMatch(/another server is listening on unix:\/\/.*berth\.sock/);
    // The live server kept its socket.
    expect((await request(`unix://${sock}`, '/v1/health')).status).toBe(200);
    expect(await served.stop()).toEqual({ code: 0, signal: null });

    const file = join(world.dir, 'not-a-socket');
    writeFileSync(file, 'precious\n');
    expect(fails(await runBerth(world, ['serve', '--listen', `unix://${file}`]))).toMatch(/exists and is not a socket/);
    expect(readFileSync(file, 'utf8')).toBe('precious\n');
    const noDir = join(world.dir, 'no-such-dir', 'berth.sock');
    expect(fails(await runBerth(world, ['serve', '--listen', `unix://${noDir}`]))).toMatch(/cannot listen on unix:/);
  });

  it('several --listen at once: two TCP ports and a unix socket serve the same store', async (t) => {
    const world = cliWorld(t);
    await world.seed((s) => s.addContainer(ctr({ name: 'everywhere' })));
    const sock = join(world.dir, 'api.sock');
    const served = await startServe(
      t,
      ['--listen', '127.0.0.1:0', '--listen', `unix://${sock}`, '--listen', 'tcp://127.0.0.1:0'],
      { world },
    );
    expect(served.urls).toEqual([
      expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      `unix://${sock}`,
      expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    ]);
    expect(served.urls[0]).not.toBe(served.urls[2]);
    for (const url of served.urls) {
      const r = await request(url, '/v1/containers');
      expect(r.status, url).toBe(200);
      expect((r.json as { config: { name: string } }[]).map((c) => c.config.name)).toEqual(['everywhere']);
    }
    expect(await served.stop()).toEqual({ code: 0, signal: null });
    expect(existsSync(sock)).toBe(false);
    for (const url of [served.urls[0]!, served.urls[2]!]) {
      expect(await canBind('127.0.0.1', Number(new URL(url).port)), `${url} released`).toBe(true);
    }
  });

  it('a malformed --listen is a usage error (exit 2); an address that cannot be bound releases the others (exit 1)', async (t) => {
    const world = cliWorld(t);
    for (const bad of [
      'not-an-address',
      '127.0.0.1',
      '127.0.0.1:99999',
      ':7483',
      'unix://relative.sock',
      'http://x:1',
    ]) {
      expect(fails(await runBerth(world, ['serve', '--listen', bad]), 2), bad).toMatch(/--listen: .*HOST:PORT|unix/);
    }
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    t.onTestFinished(() => void taken.close());
    const takenPort = (taken.address() as { port: number }).port;
    const free = await freePort();
    const r = await runBerth(world, ['serve', '--listen', `127.0.0.1:${free}`, '--listen', `127.0.0.1:${takenPort}`]);
    expect(fails(r)).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${takenPort}: .*EADDRINUSE`));
    expect(await canBind('127.0.0.1', free), 'the first address was released').toBe(true);
  });
});
