import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type OpenStoreOptions, type Store } from '../../src/index.js';
import { startServer, type ServeOptions } from '../../src/server/http-server.js';
import { request, type Reply, type RequestOptions } from '../server/helpers.js';
import { atFileEnd } from './terraform.js';

/*
 * A Terraform state backend for the protocol tests: berth's HTTP server started in the
 * test process on a free loopback port, over a store of its own, for the whole file.
 */

/** A running backend: its URL, its store, and requests against a workspace's address. */
export interface Backend {
  url: string;
  /** The unix socket URL, when asked for one. */
  socketUrl?: string;
  store: Store;
  dir: string;
  /** A request to `path` (e.g. `/v1/terraform/staging`). */
  send(path: string, opts?: RequestOptions): Promise<Reply>;
}

/** Starts a backend for the file (stopped, with its store removed, after it). */
export async function startBackend(
  opts: { serve?: ServeOptions; store?: Omit<OpenStoreOptions, 'path'>; socket?: boolean } = {},
): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tf-backend-'));
  const store = await openStore({ ...opts.store, path: join(dir, 'berth.db') });
  const socket = join(dir, 'berth.sock');
  const running = await startServer(store, {
    listen: [
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      ...(opts.socket ? [{ kind: 'unix' as const, path: socket }] : []),
    ],
    ...opts.serve,
  });
  atFileEnd(async () => {
    await running.close({ force: true });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = running.urls[0]!;
  return {
    url,
    ...(opts.socket ? { socketUrl: `unix://${socket}` } : {}),
    store,
    dir,
    send: (path, ropts) => request(url, path, withLength(ropts)),
  };
}

/**
 * `opts` with the body's Content-Length, as Terraform's Go client sends it (Node's own
 * sends none for a DELETE or GET body).
 */
export function withLength(opts: RequestOptions = {}): RequestOptions {
  if (opts.body === undefined) return opts;
  return { ...opts, headers: { 'content-length': String(Buffer.byteLength(opts.body)), ...opts.headers } };
}

/** Terraform's lock info for a LOCK or UNLOCK body. */
export function lockInfo(id: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ID: id,
    Operation: 'OperationTypeApply',
    Info: '',
    Who: 'alice@laptop',
    Version: '1.11.4',
    Created: '2030-06-01T12:00:00.000000001Z',
    Path: '',
    ...extra,
  };
}

/** A JSON body as Terraform sends it: indented, with its Content-MD5. */
export function jsonBody(value: unknown, md5 = true): RequestOptions {
  const body = JSON.stringify(value, null, 2);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      ...(md5 ? { 'content-md5': createHash('md5').update(body).digest('base64') } : {}),
    },
  };
}
