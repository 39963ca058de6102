import { createHash, timingSafeEqual } from 'node:crypto';

/*
 * Token authentication of `berth serve`: the token travels as `Authorization: Bearer
 * TOKEN`, or as the password of HTTP basic auth (any user name) for clients that speak
 * only that, such as Terraform's http backend (`username`/`password`).
 */

/** The challenges of a 401: bearer for berth's own clients, basic for the others. */
export const AUTH_CHALLENGES: readonly string[] = ['Bearer realm="berth"', 'Basic realm="berth", charset="UTF-8"'];

/** True when `token` can travel in an Authorization header: visible ASCII, no spaces. */
export function isUsableToken(token: string): boolean {
  return /^[\x21-\x7e]+$/.test(token);
}

/** The user name and password of a basic-auth `Authorization` header, if it is one. */
function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^([A-Za-z]+) +(\S+)\s*$/.exec(header ?? '');
  // Schemes are case-insensitive (RFC 9110 §11.1).
  if (!m || m[1]!.toLowerCase() !== 'basic' || !/^[A-Za-z0-9+/]+={0,2}$/.test(m[2]!)) return undefined;
  const credentials = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : { user: credentials.slice(0, colon), password: credentials.slice(colon + 1) };
}

/**
 * The token an `Authorization` header presents: a bearer token, or the password of
 * basic auth. Undefined when the header is missing or of another form.
 */
export function presentedToken(header: string | undefined): string | undefined {
  const m = /^([A-Za-z]+) +(\S+)\s*$/.exec(header ?? '');
  if (m && m[1]!.toLowerCase() === 'bearer') return m[2];
  return basicCredentials(header)?.password;
}

/** The user name of basic auth (Terraform's `username`), when the header is basic auth with one. */
export function presentedUser(header: string | undefined): string | undefined {
  return basicCredentials(header)?.user || undefined;
}

/** Constant-time comparison, over digests so that the lengths leak nothing either. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  const a = createHash('sha256')
    .update(given ?? '')
    .digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== undefined;
}
