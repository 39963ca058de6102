import { Type } from '@sinclair/typebox';

/*
 * The JSON body of berth serve's force-unlock route (src/server/berth/), checked with this
 * schema; loaded only by the route that reads it.
 */

/** `POST /v1/locks/{key}/force-unlock`: the exact id of the lock to break. */
export const ForceUnlockBodySchema = Type.Object({ lockId: Type.String({ minLength: 1 }) });
