import { createHash } from 'node:crypto';
import type { LockInfo } from '../../engine/types.js';
import { BerthError, isBerthError } from '../../errors.js';
import type { Store } from '../../store.js';
import { HttpError } from '../http-error.js';
import { sendJson } from '../http-response.js';
import { readBody } from '../request-body.js';
import type { RequestClient, RequestContext, RouteHandler } from '../request-context.js';
import { AUTH_CHALLENGES } from '../token-auth.js';
import { parseTerraformLockInfo, toTerraformLockInfo } from './terraform-lock-info.js';

/*
 * Terraform's (and OpenTofu's) http state backend at /v1/terraform/{workspace}: each
 * address is a berth workspace, and Terraform's lock is the workspace lock. The routes
 * translate the protocol's requests into Store calls and their results into its statuses;
 * every rule (compare-and-set, fencing, sealing, staleness) is the engine's.
 *
 *   GET     {address}           the state; 404 when there is none
 *   POST    {address}[?ID=id]   write the state (PUT too, for update_method = "PUT")
 *   DELETE  {address}[?ID=id]   empty the state
 *   LOCK    {address}           take the lock with Terraform's lock info; 423 + the holder's
 *   UNLOCK  {address}           release it; an empty body breaks it (terraform force-unlock)
 *   POST|LOCK {address}/lock, DELETE|UNLOCK {address}/lock   the same, GitLab-style
 */

const PREFIX = '/v1/terraform';

/** Options of the Terraform routes. */
export interface TerraformRouteOptions {
  /** The lease of the locks Terraform takes (`--terraform-lock-ttl`); none by default. */
  lockTtlMs?: number;
}

type Action = 'get' | 'write' | 'delete' | 'lock' | 'unlock';

/** What each method does on an address, and on its `/lock` (the methods GitLab-style backends use). */
const ACTIONS: Record<'address' | 'lock', Record<string, Action>> = {
  address: { GET: 'get', POST: 'write', PUT: 'write', DELETE: 'delete', LOCK: 'lock', UNLOCK: 'unlock' },
  lock: { LOCK: 'lock', POST: 'lock', PUT: 'lock', UNLOCK: 'unlock', DELETE: 'unlock' },
};

/** Who a request's change is recorded as: its checked user name at its address, else the address. */
function clientLabel(client: RequestClient): string {
  return client.user ? `${client.user}@${client.address}` : client.address;
}

/**
 * The body, checked against its `Content-MD5` when the client sent one (Terraform does).
 * @throws HttpError BAD_REQUEST for a malformed or mismatching digest, and as readBody
 */
async function verifiedBody(ctx: RequestContext): Promise<string> {
  const body = await readBody(ctx);
  const raw = ctx.req.headers['content-md5'];
  // Sent twice, it is no digest at all.
  const header = Array.isArray(raw) ? raw.join(',') : raw?.trim();
  if (header !== undefined) {
    if (!/^[A-Za-z0-9+/]{22}==$/.test(header)) {
      throw new HttpError(400, 'BAD_REQUEST', 'the Content-MD5 header is not the base64 of an MD5 digest');
    }
    if (createHash('md5').update(body).digest('base64') !== header) {
      throw new HttpError(
        400,
        'BAD_REQUEST',
        'the request body does not match its Content-MD5: it was changed or cut short on the way; nothing was written, send it again',
      );
    }
  }
  return body.toString('utf8');
}

/** The workspace of the path (`/v1/terraform/{workspace}[/lock]`), decoded. */
function target(path: string): { name: string; on: 'address' | 'lock' } | undefined {
  const m = /^\/v1\/terraform\/([^/]+)(\/lock)?$/.exec(path);
  if (!m) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    throw new BerthError('INVALID_ARGUMENT', 'the workspace name in the path is not valid percent-encoding');
  }
  return { name, on: m[2] ? 'lock' : 'address' };
}

/** The answer of a refusal in the protocol's terms, or undefined for berth's usual answer. */
function protocolRefusal(err: unknown): { status: number; body: unknown } | undefined {
  // Terraform reads the holder's ID from a 423 (its -lock-timeout retries on it); berth's
  // own error rides along for every other client.
  if (isBerthError(err, 'LOCKED')) {
    return { status: 423, body: { ...toTerraformLockInfo(err.details.lock as LockInfo), error: err.toJSON() } };
  }
  // Nothing to unlock is a conflict for Terraform, as a wrong lock id is.
  if (isBerthError(err, 'NOT_LOCKED')) return { status: 409, body: { error: err.toJSON() } };
  return undefined;
}

/** The Terraform state backend over `store`; other paths are left to the next family. */
export function terraformRoutes(store: Store, opts: TerraformRouteOptions): RouteHandler {
  const handlers: Record<Action, (ctx: RequestContext, scoped: Store, name: string) => Promise<void>> = {
    async get({ res, client }, scoped, name) {
      const file = await scoped.workspaces.readTerraformState(name, { showSecrets: client.authenticated });
      if (file.json === null && file.sealed) {
        throw new HttpError(
          401,
          'UNAUTHORIZED',
          `workspace ${name}'s Terraform state is stored encrypted, and berth serves it decrypted only to authenticated clients; start berth serve with a token (--token-file or BERTH_TOKEN) and give it to Terraform as its password, or require client certificates (--tls-client-ca)`,
          { headers: { 'www-authenticate': AUTH_CHALLENGES } },
        );
      }
      if (file.json === null) {
        throw new HttpError(
          404,
          'NOT_FOUND',
          `workspace ${name} holds no state yet; Terraform starts from an empty one`,
        );
      }
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(file.json),
      });
      res.end(file.json);
    },

    async write(ctx, scoped, name) {
      const json = await verifiedBody(ctx);
      if (json.trim() === '') throw new BerthError('INVALID_ARGUMENT', 'the request body is empty; send the state');
      const lockId = ctx.url.searchParams.get('ID') || undefined;
      const written = await scoped.workspaces.writeTerraformState(name, json, {
        create: true,
        ...(lockId !== undefined ? { lockId } : { who: clientLabel(ctx.client) }),
      });
      sendJson(ctx.res, 200, { workspace: name, serial: written.serial });
    },

    async delete(ctx, scoped, name) {
      const lockId = ctx.url.searchParams.get('ID') || undefined;
      const written = await scoped.workspaces.writeTerraformState(name, null, {
        ...(lockId !== undefined ? { lockId } : { who: clientLabel(ctx.client) }),
      });
      sendJson(ctx.res, 200, { workspace: name, serial: written.serial });
    },

    async lock(ctx, scoped, name) {
      const text = await verifiedBody(ctx);
      if (text.trim() === '') {
        throw new BerthError('INVALID_ARGUMENT', 'the request body is empty; send Terraform\'s lock info {"ID": ...}');
      }
      const info = parseTerraformLockInfo(text);
      const lock = await scoped.workspaces.lock(name, {
        id: info.ID,
        operation: info.Operation || 'terraform',
        info: info.Info ?? '',
        who: info.Who || clientLabel(ctx.client),
        ...(info.Version ? { version: info.Version } : {}),
        // The holder is a process on the client's machine: berth knows only its address.
        pid: 0,
        host: ctx.client.address,
        ...(opts.lockTtlMs !== undefined ? { ttlMs: opts.lockTtlMs } : {}),
        create: true,
      });
      sendJson(ctx.res, 200, toTerraformLockInfo(lock));
    },

    async unlock(ctx, scoped, name) {
      const text = await verifiedBody(ctx);
      if (text.trim() !== '') {
        const info = parseTerraformLockInfo(text);
        await scoped.workspaces.unlock(name, info.ID);
        sendJson(ctx.res, 200, { workspace: name, unlocked: info.ID });
        return;
      }
      // `terraform force-unlock ID` runs in a process that never saw the lock info, and
      // sends nothing: it breaks whatever lock the address has.
      const removed = await scoped.transaction(async (tx) => {
        const held = (await tx.workspaces.get(name)).lock;
        if (held === undefined) {
          throw new BerthError('NOT_LOCKED', `workspace ${name} is not locked; nothing to force-unlock`, {
            details: { name },
          });
        }
        return tx.workspaces.forceUnlock(name, held.id, { by: clientLabel(ctx.client) });
      });
      sendJson(ctx.res, 200, toTerraformLockInfo(removed));
    },
  };

  return async (ctx) => {
    const { req, res, path, url } = ctx;
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
    const at = target(path);
    if (at === undefined) {
      throw new HttpError(
        404,
        'NOT_FOUND',
        `no ${req.method} ${path}; Terraform's state backend is at ${PREFIX}/{workspace} (and ${PREFIX}/{workspace}/lock)`,
      );
    }
    const action = ACTIONS[at.on][req.method ?? ''];
    if (action === undefined) {
      const allowed = Object.keys(ACTIONS[at.on]);
      throw new HttpError(
        405,
        'METHOD_NOT_ALLOWED',
        `${req.method} is not a method of ${path}; use ${allowed.join(', ')}`,
        {
          headers: { allow: allowed.join(', ') },
        },
      );
    }
    const ns = url.searchParams.get('namespace');
    try {
      await handlers[action](ctx, ns === null ? store : store.withNamespace(ns), at.name);
    } catch (err) {
      const refusal = protocolRefusal(err);
      if (refusal === undefined) throw err;
      sendJson(res, refusal.status, refusal.body);
    }
    return true;
  };
}
