import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, expect, type TestContext } from 'vitest';
import { cliWorld, type CliWorld, type Running } from '../cli/helpers.js';

/*
 * Helpers of the `berth serve` transport suite: certificates made with openssl for the
 * test, the built binary started as a real server process, and clients (Node's http and
 * https, curl) that talk to it over TCP, TLS or a unix socket — on loopback only.
 */

/** PEM files of a test PKI: a CA, a server certificate for 127.0.0.1 and localhost, client certificates. */
export interface Certs {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Signed by the CA. */
  clientCert: string;
  clientKey: string;
  /** Signed by another CA, which the server does not trust. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Makes a CA, a server and client certificates with openssl (EC keys: fast) in a temp folder. */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'berth-certs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ca = (name: string): void =>
    openssl(
      dir,
      ['req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2'].concat([
        '-subj',
        `/CN=berth test ${name}`,
      ]),
    );
  const leaf = (name: string, signer: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(
      dir,
      ['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`].concat([
        '-set_serial',
        String(Date.now()),
        '-days',
        '2',
        '-out',
        `${name}.pem`,
        '-extfile',
        `${name}.ext`,
      ]),
    );
  };
  ca('ca');
  ca('other-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const f = (name: string): string => join(dir, name);
  return {
    dir,
    caCert: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCert: f('stranger.pem'),
    strangerKey: f('stranger.key'),
  };
}

/** A `berth serve` process that is listening. */
export interface Served {
  world: CliWorld;
  run: Running;
  /** The URLs it printed, in --listen order (`https://127.0.0.1:PORT`, `unix:///…`). */
  urls: string[];
  /** The first TCP URL, with 0.0.0.0 replaced by 127.0.0.1 (the suite talks to loopback only). */
  url: string;
  /** Sends SIGTERM (or `signal`) and resolves with the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `berth ...args` to its exit, without the BERTH_TOKEN of the machine running the tests. */
export function runBerth(world: CliWorld, args: readonly string[], env: Record<string, string | undefined> = {}) {
  return world.run(args, { env: { BERTH_TOKEN: undefined, ...env } });
}

/** Starts `berth serve ...args` and waits until it listens. */
export async function startServe(
  t: TestContext,
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; world?: CliWorld } = {},
): Promise<Served> {
  const world = opts.world ?? cliWorld(t);
  const run = world.start(['serve', ...args], { env: { BERTH_TOKEN: undefined, ...opts.env } });
  const out = await run.waitFor(/listening on .*\n/, 20_000);
  const line = /listening on (.*?)(?: \(|, store)/.exec(out)![1]!;
  const urls = line.split(', ');
  const tcp = urls.find((u) => !u.startsWith('unix:'));
  return {
    world,
    run,
    urls,
    url: (tcp ?? '').replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//127.0.0.1:'),
    async stop(signal = 'SIGTERM') {
      run.kill(signal);
      const r = await run.done;
      return { code: r.code, signal: r.signal };
    },
  };
}

/** The exit of a process that should stop soon, or 'timeout'. */
export async function exitWithin(served: Served, ms: number) {
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
  const r = await Promise.race([served.run.done, timeout]);
  return r === 'timeout' ? r : { code: r.code, signal: r.signal };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** PEM paths for TLS: the CA to trust, a client certificate and key. */
  ca?: string;
  cert?: string;
  key?: string;
}

/** The text parsed as JSON, or undefined when it is not JSON. */
function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * One request to `base` (`http://127.0.0.1:…`, `https://127.0.0.1:…` or `unix:///path`);
 * resolves with the whole answer, rejects on a connection or TLS error.
 */
export async function request(base: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const common = { method: opts.method ?? 'GET', headers: { connection: 'close', ...opts.headers }, agent: false };
  const tls = {
    ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
    ...(opts.cert ? { cert: readFileSync(opts.cert) } : {}),
    ...(opts.key ? { key: readFileSync(opts.key) } : {}),
  };
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    let req: ClientRequest;
    if (base.startsWith('unix://')) {
      req = httpRequest({ ...common, socketPath: base.slice('unix://'.length), path }, resolve);
    } else {
      const url = new URL(path, base);
      expect(['127.0.0.1', 'localhost'], 'the suite only talks to loopback').toContain(url.hostname);
      req =
        url.protocol === 'https:'
          ? httpsRequest(url, { ...common, ...tls }, resolve)
          : httpRequest(url, common, resolve);
    }
    req.on('error', reject);
    req.end(opts.body);
  });
  let text = '';
  for await (const chunk of res.setEncoding('utf8')) text += chunk as string;
  return { status: res.statusCode ?? 0, headers: res.headers, text, json: jsonOrUndefined(text) };
}

export interface CurlResult {
  /** curl's exit code (0: an HTTP answer arrived, whatever its status). */
  exit: number;
  status: number;
  json: unknown;
  stderr: string;
}

/** Runs curl (silent, errors shown) and returns its exit code, the status and the body as JSON. */
export function curl(args: readonly string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '20', '-w', '\n%{http_code}', ...args],
      { encoding: 'utf8' },
      (err, stdout, stderr) => {
        const at = stdout.lastIndexOf('\n');
        const exit = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const json = jsonOrUndefined(stdout.slice(0, Math.max(at, 0)));
        resolve({ exit, status: Number(stdout.slice(at + 1)) || 0, json, stderr });
      },
    );
  });
}

/** Asserts berth's JSON error shape with `status` and `code`; returns the error. */
export function expectJsonError(r: { status: number; json: unknown }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  const body = r.json as { error: { code: string; message: string; details: unknown } };
  expect(Object.keys(body ?? {})).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(/\S/);
  expect(typeof body.error.details).toBe('object');
  return body.error;
}

/** The peak resident memory of a process in bytes (Linux: VmHWM). */
export function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** A raw TCP connection: sends exactly what it is given, keeps what arrives, stays open until told. */
export interface RawClient {
  received(): string;
  /** True once the server closed or reset the connection. */
  closed(): boolean;
  write(data: string | Buffer): void;
  /** Resolves with everything received once it matches `pattern`. */
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<string>;
  destroy(): void;
}

/** Connects to the host and port of `url` (loopback); destroyed when the test ends. */
export async function rawClient(t: TestContext, url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  expect(hostname).toBe('127.0.0.1');
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let closed = false;
  socket.setEncoding('latin1').on('data', (d: string) => (text += d));
  socket.on('error', () => (closed = true));
  socket.on('close', () => (closed = true));
  t.onTestFinished(() => void socket.destroy());
  return {
    received: () => text,
    closed: () => closed,
    write: (data) => void socket.write(data),
    async waitFor(pattern, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${text.slice(0, 500)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return text;
    },
    destroy: () => void socket.destroy(),
  };
}

/** The JSON body of a raw HTTP/1.1 answer (whose content-length it checks). */
export function rawJson(raw: string): { status: number; json: unknown } {
  const end = raw.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  const length = Number(/^content-length: (\d+)$/im.exec(raw.slice(0, end))?.[1]);
  const body = raw.slice(end + 4, end + 4 + length);
  expect(Buffer.byteLength(body, 'latin1')).toBe(length);
  return { status, json: JSON.parse(body) as unknown };
}
