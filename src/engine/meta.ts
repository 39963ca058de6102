import { defineQuery, param } from '../db/query.js';
import type { Backend } from '../db/executor.js';
import type { Tx } from './context.js';

/* The store's metadata rows (berth_meta): boot ids, db config, counters, journal marks. */

const getMeta = defineQuery('getMeta', (db) =>
  db.selectFrom('berth_meta').select('value').where('key', '=', param('key')),
);
const putMeta = defineQuery('putMeta', (db) =>
  db
    .insertInto('berth_meta')
    .values({ key: param('key'), value: param('value') })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.ref('excluded.value') })),
);

/** The value of a metadata row, if any. */
export async function readMeta(tx: Tx, key: string): Promise<string | undefined> {
  return (await tx.q.get(getMeta, { key }))?.value;
}

/** Sets a metadata row (inside a write transaction). */
export async function writeMeta(tx: Tx, key: string, value: string): Promise<void> {
  await tx.q.run(putMeta, { key, value });
}

/**
 * Where the boot id of `host` is recorded. A PostgreSQL store is shared by several
 * hosts: each host's boot is tracked on its own, so one host's first contact is not
 * mistaken for a reboot of another.
 */
export function bootIdKey(backend: Backend, host: string): string {
  return backend === 'postgres' ? `boot_id:${host}` : 'boot_id';
}
