import { sql } from 'kysely';
import { defineQuery, param } from '../../db/query.js';

/* Statements of the secrets' data keys; see objects/queries.ts for the conventions. */

// --- secret data keys ---
const secretKeyColumns = ['id', 'namespace', 'workspace', 'wrapped', 'key_check', 'created_at', 'retired_at'] as const;

/** The data key new secrets of a workspace are encrypted with. */
export const currentSecretKey = defineQuery('currentSecretKey', (db) =>
  db
    .selectFrom('secret_keys')
    .select(secretKeyColumns)
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .where('retired_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(sql.lit(1)),
);
export const getSecretKey = defineQuery('getSecretKey', (db) =>
  db.selectFrom('secret_keys').select(secretKeyColumns).where('id', '=', param('id')),
);
export const allSecretKeys = defineQuery('allSecretKeys', (db) =>
  db.selectFrom('secret_keys').select(secretKeyColumns).orderBy('id'),
);
/** A data key wrapped by another secrets key than the one with fingerprint `check`. */
export const otherSecretKey = defineQuery('otherSecretKey', (db) =>
  db.selectFrom('secret_keys').select(secretKeyColumns).where('key_check', '!=', param('check')).limit(sql.lit(1)),
);
export const insertSecretKey = defineQuery('insertSecretKey', (db) =>
  db.insertInto('secret_keys').values({
    id: param('id'),
    namespace: param('ns'),
    workspace: param('name'),
    wrapped: param('wrapped'),
    key_check: param('keyCheck'),
    created_at: param<number>('now'),
    retired_at: null,
  }),
);
export const rewrapSecretKey = defineQuery('rewrapSecretKey', (db) =>
  db
    .updateTable('secret_keys')
    .set({ wrapped: param('wrapped'), key_check: param('keyCheck') })
    .where('id', '=', param('id')),
);
export const retireSecretKeys = defineQuery('retireSecretKeys', (db) =>
  db
    .updateTable('secret_keys')
    .set({ retired_at: param<number>('now') })
    .where('namespace', '=', param('ns'))
    .where('workspace', '=', param('name'))
    .where('retired_at', 'is', null),
);
