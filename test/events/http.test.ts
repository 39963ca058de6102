import { describe, expect, it } from 'vitest';
import type { BerthEvent, LockInfo, Snapshot } from '../../src/index.js';
import { startServer } from '../../src/server/http-server.js';
import { ctr, expectCode, pod, vol } from '../conformance/builders.js';
import {
  http,
  ndjson,
  openEvents,
  openStream,
  seqRange,
  serve,
  sleep,
  startWriter,
  waitUntil,
  type StreamClient,
} from './helpers.js';

/*
 * The HTTP API (API.md `serve`, DESIGN.md §6) on 127.0.0.1: JSON routes, JSON errors
 * with codes, force-unlock, bearer tokens, and the event stream as NDJSON and SSE —
 * resumable by seq across reconnects and server restarts, with no gap after a snapshot.
 */

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

function expectError(
  r: { status: number; json: unknown; headers: Record<string, unknown> },
  status: number,
  code: string,
) {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
  const body = r.json as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toBe('');
  expect(typeof body.error.details).toBe('object');
  return body.error;
}

/** The JSON a value becomes on the wire. */
function wire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('HTTP API: routes', () => {
  it('every GET route answers JSON of the documented shape', async () => {
    const store = await openEvents();
    const p = pod({ name: 'web', labels: { app: 'web' } });
    await store.addPod(p);
    await store.addContainerToPod(p, ctr({ name: 'web-app' }));
    await store.addVolume(vol({ name: 'data' }));
    await store.addContainer(ctr({ name: 'db', namedVolumes: [{ name: 'data', dest: '/d' }] }));
    await store.workspaces.create('staging');
    await store.workspaces.writeState('staging', { v: 1 });
    await store.workspaces.lock('staging', { operation: 'apply' });
    const api = await serve(store);

    const state = await http(api.url, '/v1/state');
    expect(state.status).toBe(200);
    expect(String(state.headers['content-type'])).toMatch(/^application\/json/);
    const snap = state.json as Snapshot;
    expect(Object.keys(snap).sort()).toEqual(['containers', 'locks', 'pods', 'seq', 'volumes', 'workspaces']);
    expect(snap.seq).toBe(await store.events.lastSeq());
    expect(snap).toEqual(wire(await store.snapshot()));
    expect(snap.containers.map((c) => c.config.name).sort()).toEqual(['db', 'web-app']);
    expect(snap.locks.map((l) => l.key)).toEqual(['workspace:/staging']);

    const routes: [string, () => Promise<unknown>][] = [
      ['/v1/containers', () => store.allContainers()],
      ['/v1/pods', () => store.allPods()],
      ['/v1/volumes', () => store.allVolumes()],
      ['/v1/workspaces', () => store.workspaces.list()],
      ['/v1/locks', () => store.locks.list()],
    ];
    for (const [path, expected] of routes) {
      const r = await http(api.url, path);
      expect(r.status, path).toBe(200);
      expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
      expect(Array.isArray(r.json), path).toBe(true);
      expect(r.json, path).toEqual(wire(await expected()));
      // A trailing slash names the same route.
      expect((await http(api.url, `${path}/`)).json, `${path}/`).toEqual(r.json);
    }
    const ws = (await http(api.url, '/v1/workspaces')).json as { name: string; lock?: LockInfo }[];
    expect(ws.map((w) => w.name)).toEqual(['default', 'staging']);
    expect(ws[1]!.lock).toMatchObject({ key: 'workspace:/staging', operation: 'apply' });
    const locks = (await http(api.url, '/v1/locks')).json as LockInfo[];
    expect(locks[0]).toMatchObject({ key: 'workspace:/staging', stale: false, pid: process.pid });

    const health = await http(api.url, '/v1/health');
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ ok: true, seq: await store.events.lastSeq() });
  });

  it('GET /v1/events?follow=false lists the journal as NDJSON or SSE, with since, until and type', async () => {
    const store = await openEvents();
    const p = pod();
    await store.addPod(p);
    for (let i = 0; i < 4; i++) await store.addContainer(ctr({ name: `c${i}` }));
    await store.addVolume(vol());
    await store.workspaces.create('w');
    const all = await store.events.list();
    const last = all[all.length - 1]!.seq;
    const api = await serve(store);

    const r = await http(api.url, '/v1/events?since=0&follow=false');
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toMatch(/^application\/x-ndjson/);
    expect(ndjson(r.text)).toEqual(wire(all));
    expect(r.text.endsWith('\n')).toBe(true);

    const seqs = async (q: string) => ndjson((await http(api.url, `/v1/events?${q}`)).text).map((e) => e.seq);
    expect(await seqs('since=3&follow=false')).toEqual(seqRange(3, last));
    expect(await seqs('since=2&until=5')).toEqual([3, 4, 5]); // until implies no follow
    expect(await seqs('until=2&since=0')).toEqual([1, 2]);
    expect(await seqs(`since=${last}&follow=false`)).toEqual([]);
    // Without since, a listing starts at the end: nothing.
    expect(await seqs('follow=false')).toEqual([]);
    const types = async (q: string) =>
      ndjson((await http(api.url, `/v1/events?since=0&follow=false&${q}`)).text).map((e) => e.type);
    expect(await types('type=container.create')).toEqual(Array(4).fill('container.create'));
    expect(await types('type=container.*')).toEqual(Array(4).fill('container.create'));
    expect(await types('type=pod.create&type=volume.*')).toEqual(['pod.create', 'volume.create']);
    expect(await types('type=workspace.*')).toEqual(['workspace.create', 'workspace.create']);

    // The same as Server-Sent Events: one message per event, its seq as the id.
    const sse = await http(api.url, '/v1/events?since=0&follow=false', { headers: { accept: 'text/event-stream' } });
    expect(sse.status).toBe(200);
    expect(String(sse.headers['content-type'])).toMatch(/^text\/event-stream/);
    const blocks = sse.text.split('\n\n').filter((b) => b !== '');
    expect(blocks.length).toBe(all.length);
    blocks.forEach((block, i) => {
      expect(block).toBe(`id: ${all[i]!.seq}\ndata: ${JSON.stringify(all[i])}`);
    });
  });

  it('errors are JSON with a code and the right status', async () => {
    const store = await openEvents();
    const api = await serve(store);
    expectError(await http(api.url, '/v1/nothing'), 404, 'NOT_FOUND');
    expectError(await http(api.url, '/'), 404, 'NOT_FOUND');
    expectError(await http(api.url, '/v1/state', { method: 'POST' }), 404, 'NOT_FOUND');
    expectError(await http(api.url, '/v1/containers', { method: 'DELETE' }), 404, 'NOT_FOUND');
    expectError(await http(api.url, '/v1/events?since=abc'), 400, 'INVALID_ARGUMENT');
    expectError(await http(api.url, '/v1/events?since=-1'), 400, 'INVALID_ARGUMENT');
    expectError(await http(api.url, '/v1/events?until=1.5'), 400, 'INVALID_ARGUMENT');
    expectError(
      await http(api.url, '/v1/events', { headers: { accept: 'text/event-stream', 'last-event-id': 'x' } }),
      400,
      'INVALID_ARGUMENT',
    );
    expectError(await http(api.url, '/v1/locks/k/force-unlock', { method: 'GET' }), 404, 'NOT_FOUND');
  });

  it('POST /v1/locks/{key}/force-unlock: 409 for a wrong id, 404 when not locked, 200 with the removed lock', async () => {
    const store = await openEvents();
    await store.workspaces.create('staging');
    const lock = await store.workspaces.lock('staging', { operation: 'apply', info: 'held by a test' });
    const api = await serve(store);
    const path = `/v1/locks/${encodeURIComponent(lock.key)}/force-unlock`;
    const post = (p: string, body?: string) =>
      http(api.url, p, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body ? { body } : {}) });

    const mismatch = expectError(await post(path, JSON.stringify({ lockId: 'not-the-id' })), 409, 'LOCK_ID_MISMATCH');
    expect(mismatch.message).not.toBe('');
    // The exact-id rule: a wrong id never learns the right one.
    expect(JSON.stringify(mismatch)).not.toContain(lock.id);
    expect(await store.locks.get(lock.key)).toMatchObject({ id: lock.id });
    expectError(await post('/v1/locks/free-key/force-unlock', JSON.stringify({ lockId: lock.id })), 404, 'NOT_LOCKED');
    expectError(await post(path), 400, 'INVALID_ARGUMENT');
    expectError(await post(path, '{"lockId": ""}'), 400, 'INVALID_ARGUMENT');
    expectError(await post(path, 'not json'), 400, 'INVALID_ARGUMENT');
    expect(await store.locks.get(lock.key)).toMatchObject({ id: lock.id });

    const before = await store.events.lastSeq();
    const ok = await post(path, JSON.stringify({ lockId: lock.id }));
    expect(ok.status, ok.text).toBe(200);
    const removed = (ok.json as { removed: LockInfo }).removed;
    expect(removed).toEqual(wire({ ...lock, stale: removed.stale }));
    expect(removed).toMatchObject({
      id: lock.id,
      key: 'workspace:/staging',
      operation: 'apply',
      info: 'held by a test',
    });
    expect(await store.locks.get(lock.key)).toBeUndefined();
    const events = await store.events.list({ since: before });
    expect(events.map((e) => e.type)).toEqual(['lock.force_unlock']);
    expect(events[0]).toMatchObject({ subject: { kind: 'lock', id: lock.id, name: lock.key } });
    // Again: nothing is held any more.
    expectError(await post(path, JSON.stringify({ lockId: lock.id })), 404, 'NOT_LOCKED');
  });
});

describe('HTTP API: bearer token', () => {
  it('with a token, requests without it or with a wrong one get 401; the right one gets through', async () => {
    const store = await openEvents();
    await store.workspaces.create('w');
    const lock = await store.workspaces.lock('w', { operation: 'x' });
    const api = await serve(store, { token: 's3cret-token', heartbeatMs: 200 });
    const paths = ['/v1/state', '/v1/events?since=0&follow=false', '/v1/containers', '/v1/pods', '/v1/volumes'];
    paths.push('/v1/workspaces', '/v1/locks', '/v1/health', '/v1/nothing');
    for (const path of paths) {
      for (const auth of [
        undefined,
        'Bearer wrong',
        'Bearer s3cret-token-and-more',
        's3cret-token',
        'Basic s3cret-token',
      ]) {
        const r = await http(api.url, path, auth ? { headers: { authorization: auth } } : {});
        expectError(r, 401, 'UNAUTHORIZED');
        expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      const ok = await http(api.url, path, { headers: { authorization: 'Bearer s3cret-token' } });
      expect(ok.status, path).toBe(path === '/v1/nothing' ? 404 : 200);
    }
    const unlock = `/v1/locks/${encodeURIComponent(lock.key)}/force-unlock`;
    const body = JSON.stringify({ lockId: lock.id });
    expectError(await http(api.url, unlock, { method: 'POST', body }), 401, 'UNAUTHORIZED');
    expect(await store.locks.get(lock.key)).toBeDefined();
    const ok = await http(api.url, unlock, { method: 'POST', body, headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    expect(await store.locks.get(lock.key)).toBeUndefined();

    // The event stream too.
    const denied = await openStream(api.url, '/v1/events', { sse: true });
    expect(denied.status).toBe(401);
    const stream = await openStream(api.url, '/v1/events', {
      sse: true,
      headers: { authorization: 'Bearer s3cret-token' },
    });
    expect(stream.status).toBe(200);
    await store.addVolume(vol({ name: 'seen' }));
    await stream.waitFor((c) => c.messages.length === 1, 'the event');
    expect(stream.messages[0]!.data).toMatchObject({ type: 'volume.create', subject: { name: 'seen' } });
  });

  it('refuses to listen off loopback without a token, before binding', async () => {
    const store = await openEvents();
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'example.com', '']) {
      await expectCode(startServer(store, { host, port: 0 }), 'INVALID_ARGUMENT');
      await expectCode(startServer(store, { host, port: 0, token: '' }), 'INVALID_ARGUMENT');
    }
  });
});

describe('HTTP API: event streams', () => {
  it('NDJSON and SSE streams deliver new events as they are committed', async () => {
    const store = await openEvents();
    await store.addVolume(vol()); // history the streams must not replay
    const api = await serve(store, { pollMs: 20, heartbeatMs: 200 });
    const nd = await openStream(api.url, '/v1/events');
    const sse = await openStream(api.url, '/v1/events', { sse: true });
    const onlyPods = await openStream(api.url, '/v1/events?type=pod.*', { sse: true });
    expect(String(nd.headers['content-type'])).toMatch(/^application\/x-ndjson/);
    expect(String(sse.headers['content-type'])).toMatch(/^text\/event-stream/);
    expect(nd.headers['cache-control']).toBe('no-store');
    const start = await store.events.lastSeq();

    const p = pod();
    await store.addPod(p);
    await store.addContainer(ctr());
    await store.savePod(p);
    const expected = await store.events.list({ since: start });
    for (const s of [nd, sse]) {
      await s.waitFor((c) => c.messages.length === 3, 'three events');
      expect(s.messages.map((m) => m.data)).toEqual(wire(expected));
    }
    expect(sse.messages.map((m) => m.id)).toEqual(expected.map((e) => String(e.seq)));
    await onlyPods.waitFor((c) => c.messages.length === 2, 'two pod events');
    expect(onlyPods.messages.map((m) => m.data.type)).toEqual(['pod.create', 'pod.update']);
    await sleep(100);
    expect(nd.messages.length).toBe(3);
    expect(nd.ended).toBe(false);
  });

  it('a stream sends its response headers at once, not with the first event or heartbeat', async () => {
    const store = await openEvents();
    const api = await serve(store); // the default heartbeat: 15 s
    for (const sse of [false, true]) {
      const t0 = Date.now();
      const opened = await Promise.race([
        openStream(api.url, '/v1/events', { sse }),
        sleep(3000).then(() => undefined),
      ]);
      expect(opened, `${sse ? 'SSE' : 'NDJSON'} headers within 3 s of the request`).toBeDefined();
      expect(opened!.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(3000);
    }
  });

  it('SSE Last-Event-ID resumes after the last event seen', async () => {
    const store = await openEvents();
    const api = await serve(store, { pollMs: 20, heartbeatMs: 200 });
    const start = await store.events.lastSeq();
    const first = await openStream(api.url, `/v1/events?since=${start}`, { sse: true });
    for (let i = 0; i < 3; i++) await store.addContainer(ctr());
    await first.waitFor((c) => c.messages.length === 3, 'three events');
    const lastId = first.messages[2]!.id!;
    first.close();
    for (let i = 0; i < 4; i++) await store.addVolume(vol());
    const resumed = await openStream(api.url, '/v1/events', { sse: true, headers: { 'last-event-id': lastId } });
    await resumed.waitFor((c) => c.messages.length === 4, 'the four missed events');
    expect(resumed.seqs()).toEqual(seqRange(Number(lastId), Number(lastId) + 4));
    expect(resumed.messages.map((m) => m.data.type)).toEqual(Array(4).fill('volume.create'));
    await store.addPod(pod());
    await resumed.waitFor((c) => c.messages.length === 5, 'the live event');
    expect([...first.seqs(), ...resumed.seqs()]).toEqual(seqRange(start, start + 8));
  });

  it('heartbeats keep idle streams alive', async () => {
    const store = await openEvents();
    const api = await serve(store, { heartbeatMs: 40 });
    const sse = await openStream(api.url, '/v1/events', { sse: true });
    const nd = await openStream(api.url, '/v1/events');
    await sse.waitFor((c) => c.heartbeats >= 3, 'three SSE heartbeats', 10_000);
    await nd.waitFor((c) => c.heartbeats >= 3, 'three NDJSON heartbeats', 10_000);
    expect(sse.messages).toEqual([]);
    expect(nd.messages).toEqual([]);
    // Heartbeats do not disturb the framing of events.
    await store.addVolume(vol({ name: 'between-beats' }));
    await sse.waitFor((c) => c.messages.length === 1, 'the event');
    await nd.waitFor((c) => c.messages.length === 1, 'the event');
    expect(sse.messages[0]!.data.subject).toEqual({ kind: 'volume', name: 'between-beats' });
    expect(nd.messages[0]!.data.subject).toEqual({ kind: 'volume', name: 'between-beats' });
  });

  it('resync_required when since is older than what retention dropped', async () => {
    const store = await openEvents({ eventRetention: { maxEvents: 50 } });
    const c = await store.addContainer(ctr());
    for (let i = 0; i < 200; i++) await store.saveContainer({ ...c, state: { status: 'running', pid: i } });
    await store.events.prune();
    const pruned = await store.events.prunedThrough();
    expect(pruned).toBeGreaterThan(0);
    const api = await serve(store, { pollMs: 20 });

    for (const since of [0, 1, pruned - 1]) {
      for (const q of [`since=${since}&follow=false`, `since=${since}`]) {
        const r = await http(api.url, `/v1/events?${q}`); // a follow request must end too
        const records = ndjson<Record<string, unknown>>(r.text);
        expect(records, q).toEqual([expect.objectContaining({ type: 'resync_required', since })]);
      }
      const sse = await http(api.url, `/v1/events?since=${since}`, { headers: { accept: 'text/event-stream' } });
      expect(sse.text).toMatch(/^data: \{"type":"resync_required"/);
      const resumed = await http(api.url, '/v1/events', {
        headers: { accept: 'text/event-stream', 'last-event-id': String(since) },
      });
      expect(resumed.text).toMatch(/^data: \{"type":"resync_required"/);
    }
    // From the pruned point on nothing was lost: the events themselves.
    const ok = ndjson((await http(api.url, `/v1/events?since=${pruned}&follow=false`)).text);
    expect(ok.map((e) => e.seq)).toEqual(seqRange(pruned, await store.events.lastSeq()));
    // The way back: the snapshot's seq is a valid resume point.
    const snap = (await http(api.url, '/v1/state')).json as Snapshot;
    expect(ndjson((await http(api.url, `/v1/events?since=${snap.seq}&follow=false`)).text)).toEqual([]);
  });

  it('a snapshot of a journal emptied by age is a valid resume point (no resync_required)', async () => {
    const clock = { now: Date.now() };
    const store = await openEvents({ clock: () => clock.now, eventRetention: { maxAgeMs: 60_000 } });
    for (let i = 0; i < 5; i++) await store.addVolume(vol());
    clock.now += 10 * 60_000;
    await store.events.prune();
    const api = await serve(store, { pollMs: 20, heartbeatMs: 200 });
    const snap = (await http(api.url, '/v1/state')).json as Snapshot;
    const listed = ndjson<Record<string, unknown>>(
      (await http(api.url, `/v1/events?since=${snap.seq}&follow=false`)).text,
    );
    expect(listed.filter((r) => r.type === 'resync_required')).toEqual([]);
    const live = await openStream(api.url, '/v1/events');
    await store.addVolume(vol({ name: 'fresh' }));
    await live.waitFor((c) => c.messages.length >= 1, 'the new event');
    expect(live.messages[0]!.data).toMatchObject({ type: 'volume.create', subject: { name: 'fresh' } });
  });

  it('close() ends open streams and resolves', async () => {
    const store = await openEvents();
    const api = await serve(store, { heartbeatMs: 200 });
    const streams = [await openStream(api.url, '/v1/events'), await openStream(api.url, '/v1/events', { sse: true })];
    const t0 = Date.now();
    await api.close();
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitUntil(() => streams.every((s) => s.ended), 'the streams to end');
  });
});

describe('HTTP API: resuming loses and duplicates nothing', () => {
  it('across a restart of the server, with a writer process writing all along', async () => {
    const store = await openEvents();
    const start = await store.events.lastSeq();
    const writer = await startWriter(store.location);
    const writing = writer.run({ op: 'create', prefix: 'r', count: 150, delayMs: 4 });

    let api = await serve(store, { pollMs: 20, heartbeatMs: 200 });
    const got: BerthEvent[] = [];
    const s1 = await openStream(api.url, `/v1/events?since=${start}`);
    await s1.waitFor((c) => c.messages.length >= 20, 'twenty events before the restart');
    await api.close();
    await waitUntil(() => s1.ended, 'the stream to end with the server');
    got.push(...s1.messages.map((m) => m.data as unknown as BerthEvent));

    // The server is down for a while; the writer goes on.
    const downAt = await store.events.lastSeq();
    await waitUntil(async () => (await store.events.lastSeq()) >= downAt + 10, 'writes while the server is down');
    api = await serve(store, { pollMs: 20, heartbeatMs: 200 });
    const resumeAt = got[got.length - 1]!.seq;
    const s2 = await openStream(api.url, `/v1/events?since=${resumeAt}`);
    const reply = await writing;
    await s2.waitFor((c) => c.seqs().at(-1) === reply.lastSeq, 'the last event of the writer');
    got.push(...s2.messages.map((m) => m.data as unknown as BerthEvent));

    expect(got.map((e) => e.seq)).toEqual(seqRange(start, reply.lastSeq!));
    expect(got).toEqual(wire(await store.events.list({ since: start })));
    const names = got.filter((e) => e.type === 'container.create').map((e) => e.subject.name);
    expect(names).toEqual(Array.from({ length: 150 }, (_, i) => `r-${i}`));
  });

  it('/v1/state seq + /v1/events?since=seq: no gap and no duplicate under concurrent writes from a child', async () => {
    const store = await openEvents();
    const api = await serve(store, { pollMs: 20, heartbeatMs: 200 });
    const writer = await startWriter(store.location);
    const count = 200;
    const writing = writer.run({ op: 'create', prefix: 'w', count, delayMs: 2 });

    const views: { snap: Snapshot; stream: StreamClient }[] = [];
    for (let k = 0; k < 4; k++) {
      await sleep(k === 0 ? 50 : 150);
      const snap = (await http(api.url, '/v1/state')).json as Snapshot;
      const stream = await openStream(api.url, `/v1/events?since=${snap.seq}`, { sse: k % 2 === 1 });
      views.push({ snap, stream });
    }
    const reply = await writing;
    const last = reply.lastSeq!;
    const allNames = Array.from({ length: count }, (_, i) => `w-${i}`);
    expect(views.some((v) => v.snap.containers.length > 0 && v.snap.containers.length < count)).toBe(true);
    for (const { snap, stream } of views) {
      await stream.waitFor(
        (c) => (c.seqs().at(-1) ?? snap.seq) >= last,
        `the stream from ${snap.seq} to reach ${last}`,
      );
      expect(stream.seqs()).toEqual(seqRange(snap.seq, last));
      const inSnapshot = snap.containers.map((c) => c.config.name);
      const created = stream.messages.filter((m) => m.data.type === 'container.create');
      const fromStream = created.map((m) => (m.data.subject as { name: string }).name);
      // Every container is either in the snapshot or created after it — never both, never neither.
      expect(fromStream.filter((n) => inSnapshot.includes(n))).toEqual([]);
      expect([...inSnapshot, ...fromStream].sort()).toEqual([...allNames].sort());
    }
  });
});
