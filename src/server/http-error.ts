import { BerthError, type ErrorCode } from '../errors.js';

/*
 * Which HTTP status each error gets, in one place for every protocol `berth serve`
 * speaks. Adapters with their own error shapes (Terraform's 423, Docker's {"message"})
 * still take the status from here.
 */

/** Codes of refusals made by the HTTP layer itself, before any store call. */
export type HttpErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'BODY_TOO_LARGE'
  | 'HEADERS_TOO_LARGE'
  | 'SHUTTING_DOWN';

/** Options of an {@link HttpError}. */
export interface HttpErrorOptions {
  details?: Record<string, unknown>;
  headers?: Record<string, string | readonly string[]>;
}

/** A refusal by the HTTP layer (401, 404, 413, …), answered as berth's JSON error. */
export class HttpError extends Error {
  readonly details: Record<string, unknown>;

  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly options: HttpErrorOptions = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.details = options.details ?? {};
  }

  toJSON(): { code: HttpErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/**
 * The status of every berth error code (a `Record` over all codes, so a new code cannot
 * be added without deciding its status). Faults of the server that retrying will not
 * fix are 500 under their own code; `INTERNAL` is reserved for berth's bugs.
 */
const STATUS: Record<ErrorCode, number> = {
  NO_SUCH_CONTAINER: 404,
  NO_SUCH_POD: 404,
  NO_SUCH_VOLUME: 404,
  NO_SUCH_EXEC_SESSION: 404,
  NO_SUCH_EXIT_CODE: 404,
  NO_SUCH_NETWORK: 404,
  NO_SUCH_WORKSPACE: 404,
  NO_SUCH_STORE: 404,
  NOT_LOCKED: 404,
  CONTAINER_EXISTS: 409,
  POD_EXISTS: 409,
  VOLUME_EXISTS: 409,
  EXEC_SESSION_EXISTS: 409,
  NETWORK_CONNECTED: 409,
  WORKSPACE_EXISTS: 409,
  DEPENDENCY_EXISTS: 409,
  VOLUME_IN_USE: 409,
  POD_NOT_EMPTY: 409,
  DEFAULT_WORKSPACE: 409,
  WORKSPACE_NOT_EMPTY: 409,
  LOCKED: 409,
  LOCK_ID_MISMATCH: 409,
  LOCK_LOST: 409,
  STALE_SERIAL: 409,
  LINEAGE_MISMATCH: 409,
  PLAN_STALE: 409,
  PLAN_ALREADY_APPLIED: 409,
  DB_CONFIG_MISMATCH: 409,
  AMBIGUOUS_ID: 400,
  EMPTY_ID: 400,
  INVALID_ARGUMENT: 400,
  INVALID_NAME: 400,
  NAMESPACE_MISMATCH: 400,
  INVALID_IMPORT: 400,
  MANIFEST_INVALID: 400,
  PLAN_INVALID: 400,
  DEPENDENCY_CYCLE: 400,
  STORE_BUSY: 503,
  STORE_UNAVAILABLE: 503,
  STORE_CLOSED: 503,
  STORE_CORRUPT: 500,
  SCHEMA_TOO_NEW: 500,
  MIGRATION_CHECKSUM_MISMATCH: 500,
  SECRETS_KEY_MISSING: 500,
  SECRETS_KEY_INVALID: 500,
  SECRETS_KEY_MISMATCH: 500,
  SECRET_UNREADABLE: 500,
  TRANSACTION_CLOSED: 500,
  INTERNAL: 500,
};

/** Seconds a client should wait before retrying after a 503 (contention clears fast, a restart less so). */
const RETRY_AFTER_S: Partial<Record<ErrorCode, number>> = { STORE_BUSY: 1, STORE_UNAVAILABLE: 5, STORE_CLOSED: 5 };

/** The HTTP status of a berth error code. */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** An error as an HTTP answer: status, the JSON error body, extra headers. */
export interface ErrorAnswer {
  status: number;
  error: { code: string; message: string; details: Record<string, unknown> };
  headers: Record<string, string | readonly string[]>;
  /** True when the error is a bug of berth (anything but a BerthError or HttpError). */
  internal: boolean;
}

/** Turns anything thrown while answering a request into its HTTP answer. */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      error: err.toJSON(),
      headers: err.options.headers ?? {},
      internal: false,
    };
  }
  const internal = !(err instanceof BerthError);
  const e = internal
    ? new BerthError(
        'INTERNAL',
        `unexpected error: ${err instanceof Error ? err.message : String(err)}; this is a bug in berth, please report it`,
      )
    : err;
  const retry = RETRY_AFTER_S[e.code];
  return {
    status: httpStatusOf(e.code),
    error: e.toJSON(),
    headers: retry === undefined ? {} : { 'retry-after': String(retry) },
    internal,
  };
}
