import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presentedToken, tokenMatches } from '../../src/server/token-auth.js';
import { cliWorld, fails, requireBuiltCli } from '../cli/helpers.js';
import { curl, expectJsonError, request, runBerth, startServe, type Served } from './helpers.js';

/*
 * Tokens of `berth serve` (API.md "HTTP"): from BERTH_TOKEN, --token-file or --token;
 * presented as a bearer token or as the password of basic auth; refused with a JSON 401
 * that names both schemes; never printed.
 */

requireBuiltCli();

const TOKEN = 'tok-3f9a0c7d1e';
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Every way to present the token, right and wrong, against one server. */
async function checkAuth(served: Served): Promise<void> {
  for (const authorization of [
    undefined,
    'Bearer wrong',
    `Bearer ${TOKEN}x`,
    `Bearer ${TOKEN.slice(0, -1)}`,
    TOKEN,
    `Token ${TOKEN}`,
    basic('user', 'wrong'),
    basic(TOKEN, ''),
    `Basic ${TOKEN}`,
  ]) {
    const r = await request(served.url, '/v1/health', authorization ? { headers: { authorization } } : {});
    const error = expectJsonError(r, 401, 'UNAUTHORIZED');
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="berth", Basic realm="berth"/);
    expect(error.message).not.toContain(TOKEN);
  }
  for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, basic('terraform', TOKEN), basic('', TOKEN)]) {
    expect((await request(served.url, '/v1/health', { headers: { authorization } })).status, authorization).toBe(200);
  }
  // curl's own basic auth, any user name.
  const viaCurl = await curl(['-u', `anyone:${TOKEN}`, `${served.url}/v1/workspaces`]);
  expect(viaCurl.status).toBe(200);
  expect((await curl([`${served.url}/v1/workspaces`])).status).toBe(401);
}

describe.concurrent('berth serve: tokens', () => {
  it('the token from BERTH_TOKEN: bearer and basic auth get through, anything else gets a JSON 401', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0'], { env: { BERTH_TOKEN: TOKEN } });
    expect(served.run.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(token required\)/);
    await checkAuth(served);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
    expect(served.run.output()).not.toContain(TOKEN);
  });

  it('the token from --token-file (a trailing newline is not part of it), which wins over BERTH_TOKEN', async (t) => {
    const world = cliWorld(t);
    const file = join(world.dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--token-file', file], {
      world,
      env: { BERTH_TOKEN: 'env-token-loses' },
    });
    await checkAuth(served);
    expectJsonError(
      await request(served.url, '/v1/health', { headers: { authorization: 'Bearer env-token-loses' } }),
      401,
      'UNAUTHORIZED',
    );
    expect(await served.stop()).toEqual({ code: 0, signal: null });
    expect(served.run.output()).not.toContain(TOKEN);
    expect(served.run.output()).not.toMatch(/warning/);
  });

  it('the token from --token', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--token', TOKEN]);
    await checkAuth(served);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
    expect(served.run.output()).not.toContain(TOKEN);
  });

  it('token files and values that cannot work are refused at start without echoing them; a file others can read is warned about', async (t) => {
    const world = cliWorld(t);
    const serve = (args: string[], env: Record<string, string> = {}) =>
      runBerth(world, ['serve', '--listen', '127.0.0.1:0', ...args], env);
    const empty = join(world.dir, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    expect(fails(await serve(['--token-file', empty]))).toMatch(/token file .*empty.*openssl rand/);
    expect(fails(await serve(['--token-file', join(world.dir, 'missing')]))).toMatch(
      /cannot read --token-file .*missing/,
    );
    expect(fails(await serve(['--token', '']))).toMatch(/--token is empty/);
    const spaced = join(world.dir, 'spaced');
    writeFileSync(spaced, 'two words-secret\n', { mode: 0o600 });
    const r = await serve(['--token-file', spaced]);
    expect(fails(r)).toMatch(/visible ASCII/);
    expect(r.stderr).not.toContain('words-secret');
    expect(fails(await serve(['--token', 'x', '--token-file', empty]), 2)).toMatch(/cannot be used with/);

    const loose = join(world.dir, 'loose');
    writeFileSync(loose, `${TOKEN}\n`);
    chmodSync(loose, 0o644);
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--token-file', loose], { world });
    expect(served.run.output()).toMatch(/warning: other users can read the token file .*loose; chmod 600/);
    expect((await request(served.url, '/v1/health', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('token-auth', () => {
  it('reads bearer tokens and basic-auth passwords; compares whole tokens only', () => {
    expect(presentedToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(presentedToken(`BEARER   ${TOKEN}`)).toBe(TOKEN);
    expect(presentedToken(basic('u', 'p:with:colons'))).toBe('p:with:colons');
    expect(presentedToken('Basic !!!')).toBeUndefined();
    expect(presentedToken(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
    expect(presentedToken(`Bearer a b`)).toBeUndefined();
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(`${TOKEN} `, TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
  });
});
