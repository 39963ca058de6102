import type { Tx } from '../context.js';
import { insertEvent } from './queries.js';
import type { NewEvent } from '../types.js';

/**
 * Appends an event inside the caller's write transaction, so the change and its event
 * commit together or not at all (DESIGN.md §6). Its time is the transaction's.
 */
export async function appendEvent(tx: Tx, event: NewEvent): Promise<void> {
  await tx.q.run(insertEvent, {
    ts: tx.now,
    namespace: event.namespace,
    type: event.type,
    kind: event.subject.kind,
    subjectId: event.subject.id ?? null,
    subjectName: event.subject.name ?? null,
    actor: tx.ctx.actor,
    data: JSON.stringify(event.data ?? {}),
  });
}

export type { NewEvent };
