import { request as httpRequest, type IncomingMessage } from 'node:http';
import { expect, it, type TestContext } from 'vitest';
import { openStore } from '../../src/index.js';
import { cliWorld } from '../cli/helpers.js';
import { request, startServe } from '../server/helpers.js';
import {
  describeCluster,
  eventually,
  expectFault,
  schemaName,
  storeProcess,
  type Message,
  type PgCluster,
  type StoreProcess,
  type WireError,
} from './postgres-helpers.js';

/*
 * Issue 13: the PostgreSQL server restarted — once cleanly (fast shutdown), once as a
 * crash (immediate shutdown) — under 4 busy writer processes, `berth serve` with an SSE
 * and an NDJSON follower, `berth events --follow`, and a library follower. While it is
 * down, calls fail as STORE_UNAVAILABLE or STORE_BUSY (never INTERNAL, never a raw error)
 * and `berth serve` answers 503 with Retry-After; afterwards every process is alive,
 * every writer writes again on the same handle, every acknowledged write is there, and
 * every follower has seen exactly the journal: no gap, no duplicate.
 */

const WRITERS = 4;

/** An HTTP event stream (SSE or NDJSON) from `berth serve`, collecting the seqs it delivers. */
interface EventStream {
  seqs: number[];
  /** SSE comments (`: …`) it received. */
  comments: string[];
  /** The stream ended (the server closed it): a follower must not end on an outage. */
  ended: boolean;
  close(): void;
}

function openStream(t: TestContext, base: string, sse: boolean): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const url = new URL('/v1/events?since=0', base);
    const req = httpRequest(url, {
      agent: false,
      headers: sse ? { accept: 'text/event-stream' } : { accept: 'application/x-ndjson' },
    });
    const stream: EventStream = { seqs: [], comments: [], ended: false, close: () => req.destroy() };
    t.onTestFinished(() => void req.destroy());
    req.on('error', (err) => (stream.ended ? undefined : reject(err)));
    req.on('response', (res: IncomingMessage) => {
      expect(res.statusCode).toBe(200);
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split(sse ? '\n\n' : '\n');
        buffer = parts.pop()!;
        for (const part of parts) {
          if (sse) {
            for (const line of part.split('\n')) {
              if (line.startsWith(':')) stream.comments.push(line);
              else if (line.startsWith('data: ')) stream.seqs.push((JSON.parse(line.slice(6)) as { seq: number }).seq);
            }
          } else if (part.trim() !== '') {
            stream.seqs.push((JSON.parse(part) as { seq: number }).seq);
          }
        }
      });
      res.on('close', () => (stream.ended = true));
      resolve(stream);
    });
    req.end();
  });
}

/** Every message a writer sent so far: its acknowledged names and its failures. */
function collect(p: StoreProcess, id: number, into: { acks: string[]; fails: WireError[] }): void {
  for (const m of p.drain(id, (x: Message) => 'ack' in x || 'fail' in x)) {
    if (typeof m.ack === 'string') into.acks.push(m.ack);
    else into.fails.push(m.fail as WireError);
  }
}

describeCluster('postgres faults: the server restarts under load', (cluster) => {
  it('4 writers, berth serve with SSE and NDJSON followers, berth events --follow and a library follower ride out a clean and a crash restart', async (t) => {
    const c: PgCluster = cluster();
    const schema = schemaName('restart');
    const storeUrl = `${c.url}?schema=${schema}`;
    // Create the schema first, so that the processes below only open it.
    await (await openStore({ url: c.url, schema })).close();

    const world = cliWorld(t);
    const cli = world.start(['events', '--follow', '--since', '0', '--format', 'json'], {
      env: { BERTH_STORE: storeUrl },
    });
    // Every process starts at once: on two cores, starting them one by one takes longest.
    const [served, writers] = await Promise.all([
      startServe(t, ['--listen', '127.0.0.1:0'], { world, env: { BERTH_STORE: storeUrl } }),
      Promise.all(Array.from({ length: WRITERS }, () => storeProcess(t, { url: c.url, schema }))),
    ]);
    const sse = await openStream(t, served.url, true);
    const ndjson = await openStream(t, served.url, false);
    const library = writers[0]!;
    const follow = library.send('follow', { since: 0 });
    const loops = writers.map((w, i) => w.send('writer', { prefix: `w${i}`, pauseMs: 5 }));
    const results = writers.map(() => ({ acks: [] as string[], fails: [] as WireError[] }));
    const progress = (): void => writers.forEach((w, i) => collect(w, loops[i]!, results[i]!));
    const allAckedMore = async (than: number[]): Promise<void> =>
      eventually(
        () => {
          progress();
          return results.every((r, i) => r.acks.length >= than[i]! + 5);
        },
        30_000,
        'every writer acknowledging writes',
      );

    await allAckedMore(writers.map(() => 0));
    for (const mode of ['fast', 'immediate'] as const) {
      await c.stop(mode);
      // While it is down: the API answers 503 with Retry-After and berth's JSON error.
      for (const path of ['/v1/containers', '/v1/health']) {
        const r = await request(served.url, path);
        expect(r.status, `${path} while PostgreSQL is down: ${r.text}`).toBe(503);
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        const body = r.json as { error: { code: string; message: string } };
        expect(body.error.code).toBe('STORE_UNAVAILABLE');
        expect(body.error.message).toContain(c.host);
        expect(body.error.message).not.toContain(c.password);
      }
      await new Promise((resolve) => setTimeout(resolve, 600));
      await c.start();
      progress();
      await allAckedMore(results.map((r) => r.acks.length));
    }

    // Stop the writers and read what each reported.
    for (const [i, w] of writers.entries()) {
      w.send('stop', { target: loops[i] });
      const stopped = await w.next(loops[i]!, (m) => m.stopped === true);
      progress();
      expect(stopped.acks).toBe(results[i]!.acks.length);
    }
    for (const [i, r] of results.entries()) {
      for (const f of r.fails) expectFault(f, ['STORE_UNAVAILABLE', 'STORE_BUSY'], c, `writer ${i}`);
      expect(r.fails.length, `writer ${i} met the outages`).toBeGreaterThan(0);
    }
    for (const w of writers) expect(await w.alive()).toBe(true);

    // Every acknowledged write is there (a write whose commit was cut off may be too).
    const check = await openStore({ url: c.url, schema });
    t.onTestFinished(() => check.close());
    const stored = new Set((await check.allContainers()).map((x) => x.config.name));
    for (const r of results) for (const name of r.acks) expect(stored.has(name), name).toBe(true);

    // Every follower saw the whole journal, in order, once.
    const journal = (await check.events.list({ since: 0 })).map((e) => e.seq);
    const last = journal[journal.length - 1]!;
    const cliSeqs = (): number[] =>
      cli
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
    const libSeqs: number[] = [];
    await eventually(
      () => {
        libSeqs.push(...library.drain(follow, (m) => 'event' in m).map((m) => m.event as number));
        return [sse.seqs, ndjson.seqs, cliSeqs(), libSeqs].every((s) => s.includes(last));
      },
      20_000,
      'every follower reaching the last event',
    );
    expect(sse.seqs, 'SSE').toEqual(journal);
    expect(ndjson.seqs, 'NDJSON').toEqual(journal);
    expect(cliSeqs(), 'berth events --follow').toEqual(journal);
    expect(libSeqs, 'events.follow').toEqual(journal);
    expect(sse.ended || ndjson.ended, 'a stream ended during the outage').toBe(false);
    expect(sse.comments.some((l) => l.includes('STORE_UNAVAILABLE'))).toBe(true);
    expect(cli.output()).toMatch(/waiting for the store to come back/);
    expect(library.drain(follow, (m) => 'retry' in m).length).toBeGreaterThan(0);

    // The server and the CLI follower lived through it and still answer; they stop cleanly.
    expect((await request(served.url, '/v1/health')).status).toBe(200);
    cli.kill('SIGINT');
    expect((await cli.done).code).toBe(0);
    expect(await served.stop()).toEqual({ code: 0, signal: null });
  });
});
