import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../src/server/byte-size.js';
import { cliWorld, fails, requireBuiltCli } from '../cli/helpers.js';
import {
  curl,
  expectJsonError,
  peakRss,
  rawClient,
  rawJson,
  request,
  runBerth,
  startServe,
  type Served,
} from './helpers.js';

/*
 * `berth serve --max-body SIZE` (API.md "HTTP"): bodies above the limit get a JSON 413 —
 * at once when Content-Length says so, as soon as the limit is passed when the body is
 * chunked — and nothing is held beyond the limit however much a client sends.
 */

requireBuiltCli();

const MiB = 1024 * 1024;
const UNLOCK = '/v1/locks/workspace%3A%2Fdefault/force-unlock';
/** A force-unlock body of exactly `bytes` bytes (for no lock: 404 NOT_LOCKED once read). */
const unlockBody = (bytes: number): string => {
  const head = '{"lockId":"';
  return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
};
const FULL_ANSWER = /\r\n\r\n\{.*\}\}$/s;

async function stillServes(served: Served): Promise<void> {
  expect((await request(served.url, '/v1/health')).status).toBe(200);
}

describe.concurrent('berth serve: request bodies', () => {
  it('a Content-Length above --max-body gets a JSON 413 before any of the body is sent', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--max-body', '1MiB']);
    for (const expect100 of [false, true]) {
      const c = await rawClient(t, served.url);
      c.write(
        `POST ${UNLOCK} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 ** 3}\r\n` +
          `${expect100 ? 'Expect: 100-continue\r\n' : ''}\r\n`,
      );
      const raw = await c.waitFor(FULL_ANSWER, 'the 413 without sending a body', 5000);
      expect(raw, 'no 100 Continue for a body that will be refused').toMatch(/^HTTP\/1\.1 413 /);
      const error = expectJsonError(rawJson(raw), 413, 'BODY_TOO_LARGE');
      expect(error.message).toMatch(/1 MiB.*--max-body/);
      expect(error.details).toEqual({ maxBytes: MiB });
    }
    // curl sends a large file with Expect: 100-continue and gets the 413 instead of uploading.
    const file = join(served.world.dir, 'big.json');
    writeFileSync(file, unlockBody(3 * MiB));
    const r = await curl(['--data-binary', `@${file}`, '-H', 'content-type: application/json', served.url + UNLOCK]);
    expectJsonError(r, 413, 'BODY_TOO_LARGE');
    // At the limit the body is read; one byte more is refused.
    const post = (bytes: number) => request(served.url, UNLOCK, { method: 'POST', body: unlockBody(bytes) });
    expectJsonError(await post(MiB), 404, 'NOT_LOCKED');
    expectJsonError(await post(MiB + 1), 413, 'BODY_TOO_LARGE');
    await stillServes(served);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('a chunked upload without Content-Length is cut off at the limit with a JSON 413; the server holds no more of it', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--max-body', '1MiB']);
    await stillServes(served);
    const before = peakRss(served.run.pid);
    const chunk = Buffer.alloc(64 * 1024, 'y');
    const ceiling = 256 * MiB;
    let sent = 0;
    let sentAtAnswer = -1;
    const answer = await new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const { hostname, port } = new URL(served.url);
      const req = httpRequest({ hostname, port, path: UNLOCK, method: 'POST', agent: false }, (res) => {
        sentAtAnswer = sent;
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
        res.on('error', reject);
      });
      req.on('error', (err) => {
        if (sentAtAnswer < 0) reject(err); // after the answer a reset is expected: the rest is refused
      });
      // One chunk per turn of the event loop: the answer is read between writes even on a
      // loaded machine (a tight write loop could push the server's whole discard budget
      // past the limit before the answer was read, and meet the cut-off as EPIPE).
      const pump = (): void => {
        if (sentAtAnswer >= 0) return;
        if (sent >= ceiling) return void req.end();
        sent += chunk.length;
        if (req.write(chunk)) setImmediate(pump);
        else req.once('drain', pump);
      };
      pump();
    });
    expectJsonError(answer, 413, 'BODY_TOO_LARGE');
    // The answer came near the limit, not after the whole upload (sockets buffer a few MiB).
    expect(sentAtAnswer).toBeLessThan(48 * MiB);
    expect(peakRss(served.run.pid) - before, 'the server did not keep the upload').toBeLessThan(32 * MiB);
    await stillServes(served);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('a client that asked for Connection: close and is still sending is not cut off as soon as the 413 is out', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--max-body', '1MiB']);
    const c = await rawClient(t, served.url);
    c.write(`POST ${UNLOCK} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = `${(64 * 1024).toString(16)}\r\n${'y'.repeat(64 * 1024)}\r\n`;
    // Past the limit, then on sending for a while: the rest is read and discarded (up to
    // the server's budget), not met with a reset that could come before the answer is read.
    for (let i = 0; i < 24; i++) c.write(chunk);
    const answer = await c.waitFor(FULL_ANSWER, 'the 413');
    expectJsonError(rawJson(answer), 413, 'BODY_TOO_LARGE');
    for (let i = 0; i < 20; i++) {
      c.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(c.closed(), 'the connection was closed while the client was still sending').toBe(false);
    c.write('0\r\n\r\n');
    await stillServes(served);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('the default limit is 64 MiB: a body of several MiB (a large Terraform state) is read', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0']);
    const r = await request(served.url, UNLOCK, { method: 'POST', body: unlockBody(8 * MiB) });
    expectJsonError(r, 404, 'NOT_LOCKED');
    const c = await rawClient(t, served.url);
    c.write(`POST ${UNLOCK} HTTP/1.1\r\nHost: berth\r\nContent-Length: ${64 * MiB + 1}\r\n\r\n`);
    expect(expectJsonError(rawJson(await c.waitFor(FULL_ANSWER, 'the 413')), 413, 'BODY_TOO_LARGE').message).toMatch(
      /64 MiB/,
    );
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });

  it('--max-body takes 64MiB, 10MB, 512k or bytes; anything else is a usage error (exit 2)', async (t) => {
    expect(parseByteSize('64MiB')).toBe(64 * MiB);
    expect(parseByteSize('10MB')).toBe(10_000_000);
    expect(parseByteSize('512k')).toBe(512 * 1024);
    expect(parseByteSize('512KiB')).toBe(512 * 1024);
    expect(parseByteSize('1g')).toBe(1024 ** 3);
    expect(parseByteSize('1048576')).toBe(MiB);
    expect(parseByteSize('100b')).toBe(100);
    const world = cliWorld(t);
    for (const bad of ['0', '12q', '2GiB', '-1', '1.5MiB', 'MiB', '']) {
      const r = await runBerth(world, ['serve', '--listen', '127.0.0.1:0', '--max-body', bad]);
      expect(fails(r, 2), bad).toMatch(/--max-body: /);
    }
  });
});
