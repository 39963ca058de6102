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

/**
 * The token an `Authorization` header presents: a bearer token, or the password of
 * basic auth. Undefined when the header is missing or of another form.
 */
export function presentedToken(header: string | undefined): string | undefined {
  const m = /^([A-Za-z]+) +(\S+)\s*$/.exec(header ?? '');
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase(); // schemes are case-insensitive (RFC 9110 §11.1)
  if (scheme === 'bearer') return m[2];
  if (scheme !== 'basic' || !/^[A-Za-z0-9+/]+={0,2}$/.test(m[2]!)) return undefined;
  const credentials = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : credentials.slice(colon + 1);
}

/** Constant-time comparison, over digests so that the lengths leak nothing either. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  const a = createHash('sha256')
    .update(given ?? '')
    .digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== undefined;
}
