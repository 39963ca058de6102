import { BerthError } from '../errors.js';

/** Names of containers, pods and volumes (podman's rule). */
export const OBJECT_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** The longest name of a container, pod, volume or namespace. */
export const MAX_NAME_LENGTH = 253;

/** Throws EMPTY_ID unless `value` is a non-empty string. */
export function assertNonEmpty(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value === '') {
    throw new BerthError('EMPTY_ID', `${what} is empty; pass a non-empty ${what}`, { details: { what } });
  }
  // A lone UTF-16 surrogate cannot be stored faithfully (it comes back as U+FFFD).
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new BerthError('INVALID_ARGUMENT', `${what} contains an unpaired UTF-16 surrogate; pass well-formed text`, {
      details: { what },
    });
  }
}

/** Sets an own property, `__proto__` included (plain assignment would set the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Throws EMPTY_ID for an empty name and INVALID_NAME for one outside the name rule. */
export function assertObjectName(name: unknown, kind: string): asserts name is string {
  assertNonEmpty(name, `${kind} name`);
  if (name.length > MAX_NAME_LENGTH) {
    throw new BerthError(
      'INVALID_NAME',
      `${kind} name ${JSON.stringify(name.slice(0, 40) + '…')} is ${name.length} characters long; use at most ${MAX_NAME_LENGTH}`,
      { details: { name, maxLength: MAX_NAME_LENGTH } },
    );
  }
  if (!OBJECT_NAME_PATTERN.test(name)) {
    throw new BerthError(
      'INVALID_NAME',
      `${kind} name ${JSON.stringify(name)} is invalid: use letters, digits, '_', '.' and '-', starting with a letter or digit`,
      { details: { name, pattern: OBJECT_NAME_PATTERN.source } },
    );
  }
}

/** Throws INVALID_ARGUMENT unless `value` is a plain object (not null, not an array). */
export function assertPlainObject(value: unknown, what: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BerthError('INVALID_ARGUMENT', `${what} must be an object`, { details: { what } });
  }
}

/** Throws INVALID_ARGUMENT unless `value` is absent or an array of non-empty strings. */
export function assertStringArray(value: unknown, what: string): asserts value is string[] | undefined {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new BerthError('INVALID_ARGUMENT', `${what} must be an array of non-empty strings`, { details: { what } });
  }
}

/** Throws INVALID_ARGUMENT unless `value` is absent or a string-to-string map. */
export function assertStringMap(value: unknown, what: string): asserts value is Record<string, string> | undefined {
  if (value === undefined) return;
  assertPlainObject(value, what);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new BerthError('INVALID_ARGUMENT', `${what}.${k} must be a string`, { details: { what, key: k } });
    }
  }
}

/** Serialises a document, refusing values JSON cannot carry faithfully. */
export function toJson(value: unknown, what: string): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error('not serialisable');
    return text;
  } catch (err) {
    throw new BerthError('INVALID_ARGUMENT', `${what} cannot be stored as JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
