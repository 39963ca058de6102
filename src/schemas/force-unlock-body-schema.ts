import { Type } from '@sinclair/typebox';

/*
 * The JSON bodies berth's own HTTP routes take (src/server/berth/), checked with these
 * schemas; loaded only by the routes that read a body.
 */

/** `POST /v1/locks/{key}/force-unlock`: the exact id of the lock to break. */
export const ForceUnlockBodySchema = Type.Object({ lockId: Type.String({ minLength: 1 }) });
