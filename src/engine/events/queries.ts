import { sql } from 'kysely';
import { defineQuery, param } from '../../db/query.js';
import { inNamespace } from '../rules/namespaces.js';

/* Statements of the event journal; see objects/queries.ts for the conventions. */

export const insertEvent = defineQuery('insertEvent', (db) =>
  db.insertInto('events').values({
    ts: param<number>('ts'),
    namespace: param('namespace'),
    type: param('type'),
    subject_kind: param('kind'),
    subject_id: param<string | null>('subjectId'),
    subject_name: param<string | null>('subjectName'),
    actor: param('actor'),
    data_json: param('data'),
  }),
);
export const listEvents = defineQuery('listEvents', (db) =>
  db
    .selectFrom('events')
    .selectAll()
    .where('seq', '>', param<number>('since'))
    .where('seq', '<=', param<number>('until'))
    .where(inNamespace)
    .orderBy('seq')
    .limit(param<number>('limit')),
);
export const lastEventSeq = defineQuery('lastEventSeq', (db) =>
  db.selectFrom('events').select((eb) => eb.fn.max('seq').as('seq')),
);
/** The first event at or after a time, for `--since TIME`. */
export const firstSeqAtOrAfter = defineQuery('firstSeqAtOrAfter', (db) =>
  db
    .selectFrom('events')
    .select((eb) => eb.fn.min('seq').as('seq'))
    .where('ts', '>=', param<number>('ts')),
);
/** The newest seq of the next batch of events to prune: beyond the count limit or too old. */
export const pruneEventsUpTo = defineQuery('pruneEventsUpTo', (db) =>
  db
    .selectFrom((sub) =>
      sub
        .selectFrom('events')
        .select('seq')
        .where((w) => w.or([w('seq', '<=', param<number>('through')), w('ts', '<', param<number>('before'))]))
        .orderBy('seq')
        .limit(sql.lit(1000))
        .as('batch'),
    )
    .select((eb) => eb.fn.max('seq').as('seq')),
);
export const deleteEventsThrough = defineQuery('deleteEventsThrough', (db) =>
  db.deleteFrom('events').where('seq', '<=', param<number>('through')),
);
