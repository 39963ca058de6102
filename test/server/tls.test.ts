import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliWorld, fails, requireBuiltCli } from '../cli/helpers.js';
import { curl, expectJsonError, makeCerts, request, runBerth, startServe } from './helpers.js';

/*
 * `berth serve` over TLS (API.md "HTTP"), with certificates made by openssl for this
 * file: curl and Node clients that trust the CA, client certificates required with
 * --tls-client-ca, and certificate files that are refused before anything is bound.
 */

requireBuiltCli();
const certs = makeCerts();
const tlsArgs = ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey];

describe.concurrent('berth serve: TLS', () => {
  it('curl and Node clients that trust the CA get answers; clients that do not, and plain HTTP, get none', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', ...tlsArgs]);
    expect(served.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = new URL(served.url).port;

    for (const host of ['127.0.0.1', 'localhost']) {
      const r = await curl(['--cacert', certs.caCert, `https://${host}:${port}/v1/health`]);
      expect(r.exit, r.stderr).toBe(0);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ ok: true });
    }
    const node = await request(served.url, '/v1/containers', { ca: certs.caCert });
    expect(node.status).toBe(200);
    expect(node.json).toEqual([]);

    // The server's certificate is not trusted without the CA.
    const untrusted = await curl([`https://127.0.0.1:${port}/v1/health`]);
    expect(untrusted.exit).not.toBe(0);
    await expect(request(served.url, '/v1/health')).rejects.toThrow(/certificate/i);
    // Plain HTTP on the TLS port gets no answer at all (nothing travels in clear).
    const plain = await curl([`http://127.0.0.1:${port}/v1/health`]);
    expect(plain.status).not.toBe(200);

    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('--tls-client-ca: a client certificate signed by the CA gets through; none, or one of another CA, is refused', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', ...tlsArgs, '--tls-client-ca', certs.caCert]);
    expect(served.run.output()).toMatch(/client certificates required/);
    const health = `${served.url}/v1/health`;

    const ok = await curl(['--cacert', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey, health]);
    expect(ok.exit, ok.stderr).toBe(0);
    expect(ok.status).toBe(200);
    const none = await curl(['--cacert', certs.caCert, health]);
    expect(none.exit, 'no client certificate').not.toBe(0);
    expect(none.status).toBe(0);
    const stranger = await curl(
      ['--cacert', certs.caCert, '--cert', certs.strangerCert, '--key', certs.strangerKey].concat([health]),
    );
    expect(stranger.exit, 'a certificate of another CA').not.toBe(0);
    expect(stranger.status).toBe(0);

    const withCert = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };
    expect((await request(served.url, '/v1/volumes', withCert)).status).toBe(200);
    await expect(request(served.url, '/v1/volumes', { ca: certs.caCert })).rejects.toThrow();
    await expect(
      request(served.url, '/v1/volumes', { ca: certs.caCert, cert: certs.strangerCert, key: certs.strangerKey }),
    ).rejects.toThrow();
    // The server shrugs refused handshakes off.
    expect((await request(served.url, '/v1/health', withCert)).status).toBe(200);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('off loopback with TLS and a token file: serves; the token is asked for over TLS', async (t) => {
    const world = cliWorld(t);
    const tokenFile = join(world.dir, 'token');
    writeFileSync(tokenFile, 'tls-token-5f1e\n', { mode: 0o600 });
    const served = await startServe(t, ['--listen', '0.0.0.0:0', ...tlsArgs, '--token-file', tokenFile], { world });
    expect(served.urls[0]).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    expectJsonError(await request(served.url, '/v1/health', { ca: certs.caCert }), 401, 'UNAUTHORIZED');
    const bearer = { ca: certs.caCert, headers: { authorization: 'Bearer tls-token-5f1e' } };
    expect((await request(served.url, '/v1/health', bearer)).status).toBe(200);
    const basic = await curl(['--cacert', certs.caCert, '-u', 'terraform:tls-token-5f1e', `${served.url}/v1/health`]);
    expect(basic.status).toBe(200);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
    expect(served.run.output()).not.toContain('tls-token-5f1e');
  });

  it('certificate files that cannot serve TLS are refused at start (exit 1), option misuse is a usage error (exit 2)', async (t) => {
    const world = cliWorld(t);
    const garbage = join(world.dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const start = (args: string[]) => runBerth(world, ['serve', '--listen', '127.0.0.1:0', ...args]);
    const refusals: [string[], RegExp][] = [
      [['--tls-cert', certs.serverKey, '--tls-key', certs.serverKey], /--tls-cert.*no PEM certificate/],
      [['--tls-cert', certs.serverCert, '--tls-key', certs.serverCert], /--tls-key.*private key/],
      [['--tls-cert', certs.serverCert, '--tls-key', certs.clientKey], /--tls-cert.*--tls-key.*together/],
      [
        ['--tls-cert', join(world.dir, 'missing.pem'), '--tls-key', certs.serverKey],
        /cannot read --tls-cert .*missing\.pem/,
      ],
      [[...tlsArgs, '--tls-client-ca', garbage], /--tls-client-ca.*no PEM certificate/],
    ];
    for (const [args, message] of refusals) {
      const r = await start(args);
      expect(fails(r), args.join(' ')).toMatch(message);
    }
    const usage: [string[], RegExp][] = [
      [['--tls-cert', certs.serverCert], /--tls-cert and --tls-key go together/],
      [['--tls-key', certs.serverKey], /--tls-cert and --tls-key go together/],
      [['--tls-client-ca', certs.caCert], /--tls-client-ca needs --tls-cert/],
      [[...tlsArgs, '--insecure-http'], /--insecure-http.*--tls-cert/],
    ];
    for (const [args, message] of usage) {
      const r = await start(args);
      expect(fails(r, 2), args.join(' ')).toMatch(message);
    }
    // Refused before the store was opened: nothing was created.
    expect(existsSync(world.store)).toBe(false);
  });
});
