import { BerthError } from '../errors.js';

/**
 * The one place where driver errors become BerthError codes: a raw SQLite or PostgreSQL
 * error never reaches a caller. BerthErrors pass through unchanged.
 */
export function mapDriverError(err: unknown, location: string): BerthError {
  if (err instanceof BerthError) return err;
  const code = driverCode(err);
  const text = err instanceof Error ? err.message : String(err);
  const details = { driverCode: code, store: location };
  if (
    code.startsWith('SQLITE_BUSY') ||
    code.startsWith('SQLITE_LOCKED') ||
    code === '40001' ||
    code === '40P01' ||
    code === '55P03'
  ) {
    return new BerthError(
      'STORE_BUSY',
      `store ${location} is busy: another process held it longer than the busy timeout; retry, or raise busyTimeoutMs`,
      { details, cause: err },
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'XX001' || code === 'XX002') {
    return new BerthError(
      'STORE_CORRUPT',
      `store ${location} is damaged or is not a berth store (${text}); run \`berth doctor\` and restore a backup`,
      { details, cause: err },
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new BerthError(
      'INVALID_ARGUMENT',
      `store ${location} is read-only here: open it without readonly and check the file's permissions`,
      { details, cause: err },
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code === 'EACCES') {
    return new BerthError(
      'INVALID_ARGUMENT',
      `store ${location} cannot be opened (${text}); check that the path exists and is writable`,
      { details, cause: err },
    );
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ETIMEDOUT' ||
    code === 'ECONNRESET' ||
    code === '57P01' ||
    code === '57P03' ||
    code === '53300'
  ) {
    return new BerthError(
      'STORE_BUSY',
      `store ${location} cannot be reached (${text}); check that PostgreSQL is running and retry`,
      {
        details,
        cause: err,
      },
    );
  }
  if (code === 'ENOTFOUND' || code === '28P01' || code === '28000' || code === '3D000' || code === '42501') {
    return new BerthError(
      'INVALID_ARGUMENT',
      `store ${location} refused the connection (${text}); check the URL, user, password and database`,
      {
        details,
        cause: err,
      },
    );
  }
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === '53100') {
    return new BerthError(
      'STORE_BUSY',
      `store ${location} could not be written (${text}); check free disk space and retry`,
      { details, cause: err },
    );
  }
  return new BerthError('INTERNAL', `store ${location}: unexpected storage error: ${text}`, {
    details,
    cause: err,
  });
}

/** True for a unique or primary-key violation: a concurrent writer won a race. */
export function isUniqueViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

function driverCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return 'UNKNOWN';
}
