import { accessSync, constants, lstatSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BerthError } from '../errors.js';

/**
 * What a failed operation was working on, so the message names the thing at fault
 * (DESIGN.md §8): a backup's target, the migration lock, a temporary copy.
 */
export interface FaultContext {
  /** Opens the message (default: `store <location>`). */
  subject?: string;
  /**
   * The file or folder the operation wrote; its file system is examined to explain a
   * SQLite I/O error that carries no errno (default: the store file).
   */
  path?: string;
  /** The connection was opened read-only on purpose: SQLITE_READONLY is a refused write, not a fault. */
  readonlyHandle?: boolean;
  /** Appended to the next step, e.g. "or point TMPDIR at another folder". */
  hint?: string;
  /**
   * The error came from the PostgreSQL driver: any error it raises is the server's or the
   * network's, even one without a code ("Connection terminated unexpectedly").
   */
  driver?: 'postgres';
}

/**
 * The one place where driver and operating-system errors become BerthError codes: a raw
 * SQLite, PostgreSQL or file-system error never reaches a caller. BerthErrors pass
 * through unchanged. Faults of the machine are STORE_UNAVAILABLE or STORE_BUSY, never
 * INTERNAL (DESIGN.md §8); the message names the path at fault.
 */
export function mapDriverError(err: unknown, location: string, context: FaultContext = {}): BerthError {
  if (err instanceof BerthError) return err;
  const code = driverCode(err);
  const text = describeError(err);
  const fault = { err, code, text, location, subject: context.subject ?? `store ${location}`, context };
  return sqliteFault(fault) ?? postgresFault(fault) ?? osFault(fault) ?? internal(fault);
}

interface Fault {
  err: unknown;
  code: string;
  text: string;
  location: string;
  subject: string;
  context: FaultContext;
}

function fail(f: Fault, code: BerthError['code'], message: string, details: Record<string, unknown> = {}): BerthError {
  return new BerthError(code, message, {
    details: { driverCode: f.code, store: f.location, ...details },
    cause: f.err,
  });
}

// ---------------------------------------------------------------------------------------
// SQLite

function sqliteFault(f: Fault): BerthError | undefined {
  const { code } = f;
  if (!code.startsWith('SQLITE_')) return undefined;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code === 'SQLITE_PROTOCOL') {
    return fail(
      f,
      'STORE_BUSY',
      `${f.subject} is busy: another process held it longer than the busy timeout; retry, or raise busyTimeoutMs`,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    // `damaged` tells doctor and restore that this is the store berth sends people to them for.
    return fail(
      f,
      'STORE_CORRUPT',
      `${f.subject} is damaged or is not a berth store (${f.text}); run \`berth doctor\` and restore a backup`,
      { damaged: true },
    );
  }
  if (code.startsWith('SQLITE_READONLY') && f.context.readonlyHandle) {
    return fail(
      f,
      'INVALID_ARGUMENT',
      `${f.subject} was opened read-only, and this call writes; open it without readonly to change it`,
    );
  }
  if (code === 'SQLITE_READONLY_DBMOVED') {
    return fail(
      f,
      'STORE_UNAVAILABLE',
      `${f.subject} was moved or deleted while it was open; close the handle and open the store again`,
    );
  }
  if (code === 'SQLITE_TOOBIG') {
    return fail(f, 'INVALID_ARGUMENT', `${f.subject}: a value is larger than SQLite can store (${f.text})`);
  }
  if (code === 'SQLITE_NOMEM' || code === 'SQLITE_IOERR_NOMEM') {
    return fail(f, 'STORE_UNAVAILABLE', `${f.subject}: SQLite ran out of memory; free memory, then retry`);
  }
  if (
    code === 'SQLITE_FULL' ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_PERM') ||
    code === 'SQLITE_AUTH'
  ) {
    // SQLite reports no errno: the file system at the path says what is wrong.
    const path = f.context.path ?? f.location;
    const found = examinePath(path, code === 'SQLITE_FULL');
    if (found) return explainOsFault(f, found.code, found.path, found.detail);
    const what =
      code === 'SQLITE_FULL'
        ? 'the database or the disk is full'
        : code.startsWith('SQLITE_CANTOPEN')
          ? 'the file cannot be opened'
          : code.startsWith('SQLITE_IOERR')
            ? 'a disk I/O error occurred'
            : 'the file cannot be written';
    return fail(
      f,
      'STORE_UNAVAILABLE',
      `${f.subject}: ${what} (${code}: ${f.text}); check the disk and the file system holding ${path}, then retry${hintOf(f)}`,
      { path },
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// PostgreSQL (SQLSTATE codes, the sockets pg talks over, and pg's own errors)

/** A SQLSTATE: five characters, never the `E…` of an errno (no SQLSTATE class starts with E). */
const SQLSTATE = /^[0-9A-DF-Z][0-9A-Z]{4}$/;

/** Errno codes of a socket: the network or the server is at fault, whichever database. */
const NETWORK_FAULTS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'ENOTCONN',
  'ESHUTDOWN',
  'EADDRNOTAVAIL',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * SQLSTATE classes that mean the statement berth sent was wrong (syntax, data, a
 * constraint berth should have checked): berth's bugs, so INTERNAL. Every other class is
 * something the server or the network did, and never INTERNAL (DESIGN.md §8).
 */
const BUG_CLASSES = new Set('0A 20 21 22 23 24 26 27 2B 2D 2F 34 38 39 3B 3F 42 44 P0'.split(' '));

/** Contention: retrying may help (DESIGN.md §8). 57014 is a statement cancelled by statement_timeout or an administrator. */
const BUSY_CODES = new Set(['40001', '40P01', '55P03', '55006', '53300', '57014']);

/**
 * The connection is gone: the server shut down or restarted, an administrator terminated
 * the backend, the session timed out, or the socket broke. The next call reconnects.
 */
const LOST_CODES = new Set(['57P01', '57P02', '57P05', '25P03', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTCONN']);

/** What PostgreSQL (or the way to it) did, named in the message. */
function postgresFault(f: Fault): BerthError | undefined {
  const postgres = f.context.driver === 'postgres';
  const found = postgresCode(f.err);
  const code = found ?? f.code;
  if (!postgres && !SQLSTATE.test(code) && !NETWORK_FAULTS.has(code)) return undefined;
  const at = serverOf(f.location);
  const text = describeError(f.err);
  const fault = (errorCode: BerthError['code'], message: string, details: Record<string, unknown> = {}): BerthError =>
    new BerthError(errorCode, `${f.subject} ${message}${hintOf(f)}`, {
      details: { driverCode: code, store: f.location, ...details },
      cause: f.err,
    });
  if (SQLSTATE.test(code)) {
    const cls = code.slice(0, 2);
    if (BUSY_CODES.has(code)) {
      const why =
        code === '53300'
          ? `${at} has no free connection slot (${text}); retry, or raise the server's max_connections`
          : code === '55P03'
            ? `is busy: another session held a lock longer than the busy timeout (${text}); retry, or raise busyTimeoutMs`
            : `is busy: a concurrent transaction got in the way (${text}); retry`;
      return fault('STORE_BUSY', code === '53300' ? `is busy: ${why}` : why);
    }
    if (code === 'XX001' || code === 'XX002') {
      return fault('STORE_CORRUPT', `is damaged (${text}); check the database server and restore a backup (pg_dump)`, {
        damaged: true,
      });
    }
    if (LOST_CODES.has(code)) return lost(f, fault, at, text);
    if (code === '57P03' || code === '57P04' || cls === '08') {
      return fault(
        'STORE_UNAVAILABLE',
        `cannot reach ${at} (${text}); check that PostgreSQL is running there and retry`,
        {
          connection: 'refused',
        },
      );
    }
    if (code === '53100') {
      return fault(
        'STORE_UNAVAILABLE',
        `cannot be written: ${at} has no disk space left (${text}); free space on the database server, then retry`,
      );
    }
    if (code === '25006') {
      return fault(
        'STORE_UNAVAILABLE',
        `cannot be written: ${at} takes no writes (${text}); point berth at the primary server`,
      );
    }
    if (cls === '28' || code === '3D000' || code === '42501') {
      return fault(
        'INVALID_ARGUMENT',
        `refused the connection (${text}); check the URL, user, password, database and grants`,
      );
    }
    if (BUG_CLASSES.has(cls) || (cls === '25' && code !== '25006')) return undefined;
    // 53 (resources), 58 (system), XX000, F0 (configuration) and whatever a newer server adds.
    return fault('STORE_UNAVAILABLE', `failed on ${at} (${text}); check the database server's log, then retry`);
  }
  if (code === 'ERR_INVALID_URL') {
    return fault('INVALID_ARGUMENT', `has a malformed URL (${text}); check it`);
  }
  if (LOST_CODES.has(code)) return lost(f, fault, at, text);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return fault(
      'STORE_UNAVAILABLE',
      `cannot reach ${at}: its host name does not resolve (${text}); check the host in the URL and DNS, then retry`,
      {
        connection: 'refused',
      },
    );
  }
  if (code !== 'UNKNOWN') {
    return fault(
      'STORE_UNAVAILABLE',
      `cannot reach ${at} (${text}); check that PostgreSQL is running there and reachable, then retry`,
      {
        connection: 'refused',
      },
    );
  }
  // No code at all: a programming error of berth stays INTERNAL; anything else pg says
  // without a code ("Connection terminated unexpectedly", a timeout) is the connection.
  if (
    f.err instanceof TypeError ||
    f.err instanceof RangeError ||
    f.err instanceof ReferenceError ||
    f.err instanceof SyntaxError
  ) {
    return undefined;
  }
  if (/timeout|timed out/i.test(text)) {
    return fault(
      'STORE_UNAVAILABLE',
      `cannot reach ${at} in time (${text}); check that PostgreSQL is running there and reachable, then retry`,
      {
        connection: 'refused',
      },
    );
  }
  return lost(f, fault, at, text);
}

function lost(
  f: Fault,
  fault: (code: BerthError['code'], message: string, details?: Record<string, unknown>) => BerthError,
  at: string,
  text: string,
): BerthError {
  return fault(
    'STORE_UNAVAILABLE',
    `lost its connection to ${at} (${text}): the server restarted or the connection was cut; retry, and the next call reconnects`,
    { connection: 'lost' },
  );
}

/**
 * True when `err` (raw or mapped) says the connection broke, not that the server refused
 * something: a statement that had not started yet may run again on a new connection.
 */
export function isLostConnection(err: unknown): boolean {
  if (err instanceof BerthError) return err.details.connection === 'lost';
  const code = postgresCode(err);
  if (code !== undefined) return LOST_CODES.has(code);
  return err instanceof Error && !(err instanceof TypeError) && !/timeout|timed out/i.test(err.message);
}

/** The code of a pg error, looking through an AggregateError's errors and causes (a few levels). */
function postgresCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  const { code, errors, cause } = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string' && code !== '') return code;
  if (Array.isArray(errors)) {
    for (const e of errors) {
      const inner = postgresCode(e, depth + 1);
      if (inner !== undefined) return inner;
    }
  }
  return postgresCode(cause, depth + 1);
}

/** A one-line description of anything thrown: the message, or those of the errors inside it. */
function describeError(err: unknown, depth = 0): string {
  if (err instanceof Error) {
    if (err.message !== '' || depth > 4) return err.message || err.name;
    const inner = (err as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.length > 0) return inner.map((e) => describeError(e, depth + 1)).join('; ');
    return err.cause === undefined ? err.name : describeError(err.cause, depth + 1);
  }
  try {
    return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    return String(err);
  }
}

/** "PostgreSQL at HOST:PORT" from a store's location (a redacted URL with #schema). */
function serverOf(location: string): string {
  try {
    const u = new URL(location);
    const socket = u.searchParams.get('host');
    const host = socket ?? (u.host || 'localhost');
    return `PostgreSQL at ${host}`;
  } catch {
    return 'PostgreSQL';
  }
}

// ---------------------------------------------------------------------------------------
// The operating system (errno codes of node:fs and of SQLite's files, examined)

/** Errno codes that say a path cannot be used as it is: each is STORE_UNAVAILABLE. */
const OS_FAULTS = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EACCES',
  'EPERM',
  'ENOTDIR',
  'EEXIST',
  'EISDIR',
  'ELOOP',
  'ENOENT',
  'ENAMETOOLONG',
  'EMFILE',
  'ENFILE',
  'EIO',
  'ENXIO',
  'ENODEV',
  'EBUSY',
  'ETXTBSY',
]);

function osFault(f: Fault): BerthError | undefined {
  const { path, dest } = f.err as { path?: unknown; dest?: unknown };
  // A copy that finds no room or a read-only disk failed at its destination, not its source.
  const written = typeof dest === 'string' && ['ENOSPC', 'EDQUOT', 'EROFS'].includes(f.code) ? dest : undefined;
  const at = written ?? (typeof path === 'string' ? path : (f.context.path ?? f.location));
  if (OS_FAULTS.has(f.code)) return explainOsFault(f, f.code, at);
  // Any other system call error is still a fault of the machine, not of berth.
  if (/^E[A-Z0-9]+$/.test(f.code) && typeof (f.err as { syscall?: unknown }).syscall === 'string') {
    return fail(
      f,
      'STORE_UNAVAILABLE',
      `${f.subject}: the operating system refused ${at} (${f.text}); check the path and the file system, then retry${hintOf(f)}`,
      { path: at },
    );
  }
  return undefined;
}

/** The message of an errno fault at `path`: what is wrong there and what to do next. */
function explainOsFault(f: Fault, errno: string, path: string, detail?: string): BerthError {
  const uid = process.getuid?.();
  const why = ((): string => {
    switch (errno) {
      case 'ENOSPC':
        return `the file system holding ${path} is full (${detail ?? whatIsFull(path) ?? 'no space or no inodes left'}); free space there, then retry`;
      case 'EDQUOT':
        return `the disk quota for ${path} is used up; free space or raise the quota, then retry`;
      case 'EROFS':
        return `${path} is on a read-only file system; remount it read-write, or use a store on a writable file system`;
      case 'EACCES':
      case 'EPERM': {
        // A file that could not be created: the folder that refused it is the culprit.
        const at = nearestExisting(path);
        return `permission denied on ${at} (${detail ?? modeOf(at)})${uid === undefined ? '' : ` for uid ${uid}`}; give this user access to it, or choose another path`;
      }
      case 'ENOTDIR':
      case 'EEXIST': {
        const file = firstNonFolder(path);
        return file === undefined
          ? `${path} exists and is not a folder; choose another path`
          : `${file} is a file, not a folder, so nothing can be created below it; choose another path`;
      }
      case 'EISDIR':
        return `${path} is a folder, not a store file; name a file inside it (e.g. ${path.replace(/\/+$/, '')}/berth.db)`;
      case 'ELOOP':
        return `${path} is a loop of symbolic links; fix the links or choose another path`;
      case 'ENOENT':
        return `${path} does not exist and cannot be created there (a folder above it is missing, or the file system does not allow new files); choose another path`;
      case 'ENAMETOOLONG':
        return `the path ${path} is too long; choose a shorter one`;
      case 'EMFILE':
      case 'ENFILE':
        return `too many open files to open ${path}; close some or raise the limit (ulimit -n), then retry`;
      default:
        return `the operating system could not use ${path} (${errno}: ${f.text}); check the disk and the file system, then retry`;
    }
  })();
  return fail(f, 'STORE_UNAVAILABLE', `${f.subject}: ${why}${hintOf(f)}`, { path, errno });
}

function hintOf(f: Fault): string {
  return f.context.hint ? `; ${f.context.hint}` : '';
}

/** The nearest ancestor of `path` (itself included) that exists and is not a folder. */
function firstNonFolder(path: string): string | undefined {
  const chain: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of chain) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Examines the file system at `path` after SQLite reported an I/O fault without an errno:
 * read-only, full (bytes or inodes), or not writable by this user. Only on error paths.
 */
function examinePath(path: string, sqliteFull: boolean): { code: string; path: string; detail?: string } | undefined {
  // The nearest existing path: the file, else its folder (or a folder above it).
  const target = nearestExisting(path);
  const folder = isFolder(target) ? target : dirname(target);
  const writable = (p: string): string | undefined => {
    try {
      accessSync(p, constants.W_OK);
      return undefined;
    } catch (err) {
      return driverCode(err);
    }
  };
  const onTarget = writable(target);
  if (onTarget === 'EROFS') return { code: 'EROFS', path: target };
  const full = whatIsFull(folder);
  if (full) return { code: 'ENOSPC', path: folder, detail: full };
  if (onTarget === 'EACCES' || onTarget === 'EPERM') {
    return { code: 'EACCES', path: target, detail: modeOf(target) };
  }
  // SQLite creates its -wal, -shm and -journal files beside the store.
  const onFolder = folder === target ? undefined : writable(folder);
  if (onFolder === 'EROFS') return { code: 'EROFS', path: folder };
  if (onFolder === 'EACCES' || onFolder === 'EPERM') {
    return { code: 'EACCES', path: folder, detail: `${modeOf(folder)}; berth creates its -wal and -shm files there` };
  }
  if (sqliteFull) return { code: 'ENOSPC', path: folder };
  return undefined;
}

/** Whether the file system holding `path` has no space or no inodes left (statfs), if it says. */
function whatIsFull(path: string): string | undefined {
  const at = nearestExisting(path);
  try {
    const fs = statfsSync(at);
    // Root may use the blocks reserved for it; others only the available ones.
    const free = process.getuid?.() === 0 ? fs.bfree : fs.bavail;
    if (free === 0) return 'no space left';
    // Some file systems (btrfs) report no inode counts at all: only a real count of 0 free says full.
    if (fs.files > 0 && fs.ffree === 0) return 'no inodes left for new files';
  } catch {
    // statfs unsupported here: the other checks still apply.
  }
  return undefined;
}

function modeOf(path: string): string {
  try {
    const st = statSync(path);
    return `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}`;
  } catch {
    return 'not readable';
  }
}

/** `path` if it exists, else the nearest folder above it that does. */
function nearestExisting(path: string): string {
  let at = path;
  while (!exists(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function internal(f: Fault): BerthError {
  return fail(f, 'INTERNAL', `${f.subject}: unexpected storage error: ${f.text}`);
}

/** An errno-style error for a fault berth finds itself before the OS does (a folder as the store). */
export function osError(code: string, path: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(`${message}, '${path}'`), { code, path, syscall: 'stat' });
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
