import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it, type TestContext } from 'vitest';
import { ctr, vol } from '../conformance/builders.js';
import { requireBuiltCli } from '../cli/helpers.js';
import { sleep, waitUntil } from '../events/helpers.js';
import { exitWithin, rawClient, rawJson, request, startServe } from './helpers.js';

/*
 * `berth serve` stops on SIGTERM or SIGINT with exit 0, whatever its requests are doing
 * (API.md "HTTP"): after refused oversized bodies, during an upload (cut off), during
 * event streams (ended), with idle or stalled connections (closed), and at once on a
 * second signal.
 */

requireBuiltCli();

const UNLOCK = '/v1/locks/k/force-unlock';
const FULL_ANSWER = /\r\n\r\n\{.*\}\}$/s;

describe.concurrent('berth serve: shutdown', () => {
  it('exits 0 on SIGTERM after requests with oversized bodies whose clients keep their connections open', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0', '--max-body', '64k']);
    const big = 'z'.repeat(300_000);
    const declared = await rawClient(t, served.url);
    declared.write(`POST ${UNLOCK} HTTP/1.1\r\nHost: b\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    const chunked = await rawClient(t, served.url);
    chunked.write(
      `POST ${UNLOCK} HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n`,
    );
    const unsent = await rawClient(t, served.url);
    unsent.write(`POST ${UNLOCK} HTTP/1.1\r\nHost: b\r\nContent-Length: 9000000\r\n\r\n`);
    for (const c of [declared, chunked, unsent]) {
      expect(rawJson(await c.waitFor(FULL_ANSWER, 'the 413')).status).toBe(413);
    }
    expect((await request(served.url, '/v1/health')).status).toBe(200);
    served.run.kill('SIGTERM');
    expect(await exitWithin(served, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGTERM during large uploads: they are cut off', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0']);
    const { hostname, port } = new URL(served.url);
    // A chunked upload and one with a Content-Length, each still sending when the signal comes.
    const uploads = [true, false].map((chunked) => {
      const req = httpRequest({
        hostname,
        port,
        path: UNLOCK,
        method: 'POST',
        agent: false,
        headers: chunked ? {} : { 'content-length': String(60 * 1024 * 1024) },
      });
      let sent = 0;
      const timer = setInterval(() => {
        req.write(Buffer.alloc(64 * 1024, 'u'));
        sent += 64 * 1024;
      }, 10);
      t.onTestFinished(() => clearInterval(timer));
      const outcome = new Promise<string>((resolve) => {
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
          res.on('error', () => resolve(`${res.statusCode} cut`));
        });
        req.on('error', (err) => resolve(`error ${err.message}`));
      }).finally(() => clearInterval(timer));
      return { outcome, sent: () => sent };
    });
    await waitUntil(() => uploads.every((u) => u.sent() > 1024 * 1024), 'both uploads under way');
    const t0 = Date.now();
    served.run.kill('SIGTERM');
    expect(await exitWithin(served, 10_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0, 'uploads are cut off, not waited for').toBeLessThan(4000);
    for (const u of uploads) {
      // Either the 503 reached the client before its connection was cut, or the cut did.
      expect(await u.outcome).toMatch(/^503 .*"SHUTTING_DOWN"|^error |cut$/);
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits 0 on ${signal} during SSE and NDJSON event streams, which end`, async (t) => {
      const served = await startServe(t, ['--listen', '127.0.0.1:0', '--heartbeat', '100ms']);
      await served.world.seed((s) => s.addVolume(vol({ name: 'before' })));
      const streams = await Promise.all(
        ['text/event-stream', 'application/x-ndjson'].map(async (accept) => {
          const c = await rawClient(t, served.url);
          c.write(`GET /v1/events?since=0 HTTP/1.1\r\nHost: b\r\nAccept: ${accept}\r\n\r\n`);
          await c.waitFor(/"before"[\s\S]*\r\n(: heartbeat)?\n/, `${accept}: the event, then a heartbeat`);
          return c;
        }),
      );
      served.run.kill(signal);
      expect(await exitWithin(served, 10_000)).toEqual({ code: 0, signal: null });
      for (const c of streams) {
        await waitUntil(() => c.closed(), 'the stream to close');
        // Ended as a chunked response ends (its last chunk), not cut in the middle.
        expect(c.received()).toMatch(/\r\n0\r\n\r\n$/);
      }
    });
  }

  it('idle keep-alive connections and half-sent requests do not delay the exit', async (t) => {
    const served = await startServe(t, ['--listen', '127.0.0.1:0']);
    const agent = new Agent({ keepAlive: true });
    t.onTestFinished(() => agent.destroy());
    const { hostname, port } = new URL(served.url);
    await new Promise<void>((resolve, reject) => {
      httpRequest({ hostname, port, path: '/v1/health', agent }, (res) => res.resume().on('end', resolve))
        .on('error', reject)
        .end();
    });
    const half = await rawClient(t, served.url);
    half.write('GET /v1/hea');
    const t0 = Date.now();
    served.run.kill('SIGTERM');
    expect(await exitWithin(served, 10_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0, 'nothing was in flight to wait for').toBeLessThan(3000);
    await waitUntil(() => half.closed(), 'the half-sent request to be closed');
  });

  /** A server with a large answer that a client requested and never reads: in flight until cut. */
  async function stalledServer(t: TestContext) {
    const served = await startServe(t, ['--listen', '127.0.0.1:0']);
    await served.world.seed(async (s) => {
      for (let i = 0; i < 24; i++) await s.addContainer(ctr({ env: { BLOB: 'b'.repeat(400_000) } }));
    });
    const { port } = new URL(served.url);
    const reader = connect(Number(port), '127.0.0.1');
    t.onTestFinished(() => void reader.destroy());
    await new Promise((resolve) => reader.once('connect', resolve));
    reader.pause();
    reader.write('GET /v1/containers HTTP/1.1\r\nHost: b\r\n\r\n');
    await sleep(500); // the server has written what the socket buffers take, and waits
    return served;
  }

  it('an answer a client stalls is waited for up to the drain limit (5 s), then cut: exit 0', async (t) => {
    const served = await stalledServer(t);
    const t0 = Date.now();
    served.run.kill('SIGTERM');
    expect(await exitWithin(served, 12_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4500);
  });

  it('a second signal ends the drain at once: exit 0', async (t) => {
    const served = await stalledServer(t);
    served.run.kill('SIGINT');
    await served.run.waitFor(/shutting down/);
    const t0 = Date.now();
    served.run.kill('SIGTERM');
    expect(await exitWithin(served, 12_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});
