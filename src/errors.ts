/**
 * The one error type of berth's public API. Callers branch on `code`, never on the
 * message; codes are never renamed once released (DESIGN.md §8).
 */
export const ErrorCode = {
  NO_SUCH_CONTAINER: 'NO_SUCH_CONTAINER',
  NO_SUCH_POD: 'NO_SUCH_POD',
  NO_SUCH_VOLUME: 'NO_SUCH_VOLUME',
  NO_SUCH_EXEC_SESSION: 'NO_SUCH_EXEC_SESSION',
  NO_SUCH_EXIT_CODE: 'NO_SUCH_EXIT_CODE',
  NO_SUCH_NETWORK: 'NO_SUCH_NETWORK',
  NO_SUCH_WORKSPACE: 'NO_SUCH_WORKSPACE',
  CONTAINER_EXISTS: 'CONTAINER_EXISTS',
  POD_EXISTS: 'POD_EXISTS',
  VOLUME_EXISTS: 'VOLUME_EXISTS',
  EXEC_SESSION_EXISTS: 'EXEC_SESSION_EXISTS',
  NETWORK_CONNECTED: 'NETWORK_CONNECTED',
  WORKSPACE_EXISTS: 'WORKSPACE_EXISTS',
  AMBIGUOUS_ID: 'AMBIGUOUS_ID',
  EMPTY_ID: 'EMPTY_ID',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  INVALID_NAME: 'INVALID_NAME',
  NAMESPACE_MISMATCH: 'NAMESPACE_MISMATCH',
  DEPENDENCY_EXISTS: 'DEPENDENCY_EXISTS',
  VOLUME_IN_USE: 'VOLUME_IN_USE',
  POD_NOT_EMPTY: 'POD_NOT_EMPTY',
  DEFAULT_WORKSPACE: 'DEFAULT_WORKSPACE',
  WORKSPACE_NOT_EMPTY: 'WORKSPACE_NOT_EMPTY',
  LOCKED: 'LOCKED',
  LOCK_ID_MISMATCH: 'LOCK_ID_MISMATCH',
  NOT_LOCKED: 'NOT_LOCKED',
  LOCK_LOST: 'LOCK_LOST',
  STALE_SERIAL: 'STALE_SERIAL',
  LINEAGE_MISMATCH: 'LINEAGE_MISMATCH',
  INVALID_IMPORT: 'INVALID_IMPORT',
  STORE_CLOSED: 'STORE_CLOSED',
  STORE_BUSY: 'STORE_BUSY',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  STORE_CORRUPT: 'STORE_CORRUPT',
  SCHEMA_TOO_NEW: 'SCHEMA_TOO_NEW',
  MIGRATION_CHECKSUM_MISMATCH: 'MIGRATION_CHECKSUM_MISMATCH',
  DB_CONFIG_MISMATCH: 'DB_CONFIG_MISMATCH',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  PLAN_STALE: 'PLAN_STALE',
  PLAN_ALREADY_APPLIED: 'PLAN_ALREADY_APPLIED',
  PLAN_INVALID: 'PLAN_INVALID',
  DEPENDENCY_CYCLE: 'DEPENDENCY_CYCLE',
  TRANSACTION_CLOSED: 'TRANSACTION_CLOSED',
  NO_SUCH_STORE: 'NO_SUCH_STORE',
  SECRETS_KEY_MISSING: 'SECRETS_KEY_MISSING',
  SECRETS_KEY_INVALID: 'SECRETS_KEY_INVALID',
  SECRETS_KEY_MISMATCH: 'SECRETS_KEY_MISMATCH',
  SECRET_UNREADABLE: 'SECRET_UNREADABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options of a {@link BerthError}: machine-readable context and the underlying error. */
export interface BerthErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** An error with a stable `code`, a lowercase message with context first, and `details`. */
export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /**
   * The JSON form used by the CLI and the HTTP API.
   * @throws nothing
   */
  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/**
 * True when `err` is a {@link BerthError}, optionally with the given code.
 * @throws nothing (a type guard)
 */
export function isBerthError(err: unknown, code?: ErrorCode): err is BerthError {
  return err instanceof BerthError && (code === undefined || err.code === code);
}
