import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, it, onTestFinished } from 'vitest';
import type { Store } from '../../src/index.js';
import { dropFreeSchemas, pgUrl, postgresFactory } from '../helpers/store-factory.js';
import { LineWorker as BaseLineWorker } from '../helpers/line-worker.js';

/*
 * Helpers of the PostgreSQL suites (test/postgres): every suite runs only when
 * BERTH_TEST_PG_URL names a server, and is reported as skipped, with the reason, when it
 * does not.
 */

export const SKIP_MESSAGE = 'skipped: set BERTH_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it';

/** A describe block that runs only with BERTH_TEST_PG_URL set; otherwise one visible skipped test. */
export function describePg(name: string, body: (url: string) => void): void {
  const url = pgUrl;
  if (url) {
    describe(name, () => {
      afterAll(dropFreeSchemas);
      body(url);
    });
  } else {
    describe(name, () => {
      it.skip(SKIP_MESSAGE, () => {});
    });
  }
}

/** The URL and schema of a store opened by postgresFactory. */
export function pgTarget(store: Store): { url: string; schema: string } {
  const { url, schema } = postgresFactory.target(store);
  if (url === undefined || schema === undefined) throw new Error('not a PostgreSQL store of postgresFactory');
  return { url, schema };
}

/** Runs `fn` with a raw pg client on `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A raw client left open until the current test finishes. */
export async function openClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  onTestFinished(async () => {
    await client.end().catch(() => undefined);
  });
  return client;
}

/**
 * A schema name no store uses yet (nothing is created): dropped when the current test
 * passes, kept as evidence when it fails.
 */
export function freshSchema(url: string, prefix = 'tp'): string {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  onTestFinished(async (ctx) => {
    if (ctx.task.result?.state === 'fail') return;
    await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  });
  return schema;
}

/** `url` with `?schema=NAME` (keeping any other query parameters). */
export function urlWithSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}

/** Whether a schema exists in the database. */
export async function schemaExists(url: string, schema: string): Promise<boolean> {
  return withClient(url, async (c) => {
    const r = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return r.rowCount === 1;
  });
}

/**
 * Waits until some session LISTENs on the event channel of `schema` (a follower's
 * listener connects in the background), so a NOTIFY sent afterwards reaches it.
 */
export async function waitForListener(url: string, schema: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withClient(url, async (c) => {
    for (;;) {
      const r = await c.query("SELECT 1 FROM pg_stat_activity WHERE state = 'idle' AND query = $1", [
        `LISTEN "berth_events_${schema}"`,
      ]);
      if (r.rowCount! > 0) return;
      if (Date.now() > deadline) throw new Error(`no session listens on berth_events_${schema} after ${timeoutMs} ms`);
      await sleep(20);
    }
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker that fails on a `fatal` or an unexpected `error` message. */
export class LineWorker extends BaseLineWorker {
  constructor(file: string, args: string[]) {
    super(file, args, ['fatal', 'error']);
  }
}
