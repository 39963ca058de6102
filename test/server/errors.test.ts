import { connect } from 'node:net';
import { describe, expect, it, vi, type TestContext } from 'vitest';
import { BerthError, ErrorCode } from '../../src/index.js';
import { httpStatusOf } from '../../src/server/http-error.js';
import { expectCode } from '../conformance/builders.js';
import { http, openEvents, serve, sleep } from '../events/helpers.js';
import { startServer } from '../../src/server/http-server.js';
import { expectJsonError, rawClient, rawJson } from './helpers.js';

/*
 * How `berth serve` answers errors (DESIGN.md §8, API.md "HTTP"): every error is JSON
 * `{"error":{"code","message","details"}}`; a store that is down or contended is a 503
 * with Retry-After, a missing store a 404; 500 INTERNAL only for berth's own bugs — never
 * for a client's malformed request or a client that goes away.
 */

describe('berth serve: errors', () => {
  it('STORE_UNAVAILABLE and STORE_BUSY are 503 with Retry-After; NO_SUCH_STORE is 404; a bug is 500 INTERNAL, reported', async () => {
    const store = await openEvents();
    const internal = vi.fn();
    const api = await serve(store, { onInternalError: internal });
    const faults: [BerthError | Error, number, string, string | undefined][] = [
      [
        new BerthError('STORE_UNAVAILABLE', 'postgres at db:5432 refused the connection'),
        503,
        'STORE_UNAVAILABLE',
        '5',
      ],
      [new BerthError('STORE_BUSY', 'the store stayed locked for 5000 ms'), 503, 'STORE_BUSY', '1'],
      [new BerthError('NO_SUCH_STORE', 'no store at /x'), 404, 'NO_SUCH_STORE', undefined],
      [new TypeError("Cannot read properties of undefined (reading 'id')"), 500, 'INTERNAL', undefined],
    ];
    for (const [err, status, code, retryAfter] of faults) {
      const spies = [
        vi.spyOn(store, 'snapshot').mockRejectedValue(err),
        vi.spyOn(store.events, 'lastSeq').mockRejectedValue(err),
      ];
      for (const path of ['/v1/state', '/v1/health', '/v1/events']) {
        const r = await http(api.url, path);
        const error = expectJsonError(r, status, code);
        expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
        expect(r.headers['retry-after'], `${code} ${path}`).toBe(retryAfter);
        if (code === 'INTERNAL') expect(error.message).toMatch(/bug in berth/);
        else expect(error.message).toBe(err.message);
      }
      for (const spy of spies) spy.mockRestore();
    }
    expect(internal).toHaveBeenCalledTimes(3);
    expect(internal.mock.calls[0]![0]).toBeInstanceOf(TypeError);
    expect((await http(api.url, '/v1/health')).status).toBe(200);
  });

  it('every error code has a status, and only faults of the server are 5xx', () => {
    const serverFaults = [
      'STORE_BUSY',
      'STORE_UNAVAILABLE',
      'STORE_CLOSED',
      'STORE_CORRUPT',
      'SCHEMA_TOO_NEW',
      'MIGRATION_CHECKSUM_MISMATCH',
      'SECRETS_KEY_MISSING',
      'SECRETS_KEY_INVALID',
      'SECRETS_KEY_MISMATCH',
      'SECRET_UNREADABLE',
      'TRANSACTION_CLOSED',
      'INTERNAL',
    ];
    for (const code of Object.values(ErrorCode)) {
      const status = httpStatusOf(code);
      expect([400, 404, 409, 500, 503], code).toContain(status);
      expect(status >= 500, code).toBe(serverFaults.includes(code));
    }
    expect(httpStatusOf('NO_SUCH_WORKSPACE')).toBe(404);
    expect(httpStatusOf('LOCKED')).toBe(409);
  });

  it('requests the HTTP parser refuses get a JSON error too: 400 for malformed, 431 for oversized headers', async (t: TestContext) => {
    const store = await openEvents();
    const internal = vi.fn();
    const api = await serve(store, { onInternalError: internal });
    const cases: [string, number, string][] = [
      ['NOT HTTP AT ALL\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET /v1/health HTTP/1.1\r\nHost: b\r\nContent-Length: x\r\n\r\n', 400, 'BAD_REQUEST'],
      [`GET /v1/health HTTP/1.1\r\nHost: b\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ];
    for (const [raw, status, code] of cases) {
      const c = await rawClient(t, api.url);
      c.write(raw);
      expectJsonError(rawJson(await c.waitFor(/\r\n\r\n\{.*\}\}$/s, code)), status, code);
    }
    expect(internal).not.toHaveBeenCalled();
  });

  it('a client that goes away in the middle of its body is no bug of berth', async () => {
    const store = await openEvents();
    const internal = vi.fn();
    const api = await serve(store, { onInternalError: internal });
    const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/locks/k/force-unlock HTTP/1.1\r\nHost: b\r\nContent-Length: 100000\r\n\r\n{"lockId":"');
    await sleep(100);
    socket.destroy();
    await sleep(200);
    expect(internal).not.toHaveBeenCalled();
    expect((await http(api.url, '/v1/health')).status).toBe(200);
  });

  it('startServer: options are checked before anything is bound; close() may be called twice', async () => {
    const store = await openEvents();
    await expectCode(startServer(store, { listen: [] }), 'INVALID_ARGUMENT');
    await expectCode(startServer(store, { port: 0, maxBodyBytes: 0 }), 'INVALID_ARGUMENT');
    await expectCode(startServer(store, { port: 0, token: 'has space' }), 'INVALID_ARGUMENT');
    await expectCode(
      startServer(store, { listen: [{ kind: 'tcp', host: '0.0.0.0', port: 0 }], token: 't' }),
      'INVALID_ARGUMENT',
    );
    const api = await startServer(store, {
      listen: [{ kind: 'tcp', host: '0.0.0.0', port: 0 }],
      token: 't',
      insecureHttp: true,
    });
    expect(api.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    await Promise.all([api.close(), api.close()]);
    await api.close();
  });
});
