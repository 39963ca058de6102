import type { QueryRunner } from '../db/executor.js';
import type { EventSubject } from './types.js';
import { insertEvent } from './object-queries.js';

/** An event about to be appended; seq and ts are given by the journal. */
export interface NewEvent {
  namespace: string;
  type: string;
  subject: EventSubject;
  data?: Record<string, unknown>;
}

/**
 * Appends an event inside the caller's write transaction, so the change and its event
 * commit together or not at all (DESIGN.md §6).
 */
export async function appendEvent(tx: QueryRunner, now: number, actor: string, event: NewEvent): Promise<void> {
  await tx.run(insertEvent, {
    ts: now,
    namespace: event.namespace,
    type: event.type,
    kind: event.subject.kind,
    subjectId: event.subject.id ?? null,
    subjectName: event.subject.name ?? null,
    actor,
    data: JSON.stringify(event.data ?? {}),
  });
}
