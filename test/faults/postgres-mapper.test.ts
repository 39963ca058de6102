import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLostConnection } from '../../src/db/driver-errors.js';
import { mapPostgresError } from '../../src/db/postgres/executor.js';
import { BerthError } from '../../src/index.js';

/*
 * The one mapper, for what the PostgreSQL driver throws (DESIGN.md §8): every fault of
 * the server or the network is a typed code, never INTERNAL — whatever its shape: a
 * SQLSTATE, an errno, no code at all, errors nested in an AggregateError or a cause, or
 * something that is not an Error. Only statements the server calls malformed (berth's
 * own bugs) stay INTERNAL.
 */

const LOCATION = 'postgres://app:***@db.internal:5433/berth#prod';
const SERVER = 'db.internal:5433';

const TABLE: [what: string, err: unknown, code: string][] = [
  [
    '57P01 admin shutdown',
    pgError('57P01', 'terminating connection due to administrator command'),
    'STORE_UNAVAILABLE',
  ],
  [
    '57P02 crash shutdown',
    pgError('57P02', 'terminating connection because of crash of another server process'),
    'STORE_UNAVAILABLE',
  ],
  ['57P03 cannot connect now', pgError('57P03', 'the database system is starting up'), 'STORE_UNAVAILABLE'],
  ['ECONNREFUSED', errno('ECONNREFUSED', 'connect'), 'STORE_UNAVAILABLE'],
  ['ECONNRESET', errno('ECONNRESET', 'read'), 'STORE_UNAVAILABLE'],
  ['ETIMEDOUT', errno('ETIMEDOUT', 'connect'), 'STORE_UNAVAILABLE'],
  ['no code: connection terminated', new Error('Connection terminated unexpectedly'), 'STORE_UNAVAILABLE'],
  [
    'no code: not queryable',
    new Error('Client has encountered a connection error and is not queryable'),
    'STORE_UNAVAILABLE',
  ],
  ['no code: connection timeout', new Error('Connection terminated due to connection timeout'), 'STORE_UNAVAILABLE'],
  ['53100 disk full', pgError('53100', 'could not extend file: No space left on device'), 'STORE_UNAVAILABLE'],
  ['25006 a standby', pgError('25006', 'cannot execute INSERT in a read-only transaction'), 'STORE_UNAVAILABLE'],
  ['55P03 lock timeout', pgError('55P03', 'canceling statement due to lock timeout'), 'STORE_BUSY'],
  ['40001 serialization', pgError('40001', 'could not serialize access'), 'STORE_BUSY'],
  ['40P01 deadlock', pgError('40P01', 'deadlock detected'), 'STORE_BUSY'],
  ['53300 too many connections', pgError('53300', 'sorry, too many clients already'), 'STORE_BUSY'],
  [
    'AggregateError of refused connections (IPv6 and IPv4)',
    new AggregateError([errno('ECONNREFUSED', 'connect'), errno('ECONNREFUSED', 'connect')]),
    'STORE_UNAVAILABLE',
  ],
  ['28P01 wrong password', pgError('28P01', 'password authentication failed for user "app"'), 'INVALID_ARGUMENT'],
  ['XX001 damaged page', pgError('XX001', 'invalid page in block 7'), 'STORE_CORRUPT'],
  ['42601 a syntax error: berth’s bug', pgError('42601', 'syntax error at or near "SELEC"'), 'INTERNAL'],
  ['TypeError: berth’s bug', new TypeError('cannot read properties of undefined'), 'INTERNAL'],
];

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'FATAL', name: 'error' });
}

function errno(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code} 10.0.0.9:5433`), { code, errno: -111, syscall });
}

/** SQLSTATE classes the server uses for statements it finds malformed: berth's bugs. */
const BUG_CLASSES = '0A 20 21 22 23 24 25 26 27 2B 2D 2F 34 38 39 3B 3F 42 44 P0'.split(' ');
const ALNUM = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''));

/** A SQLSTATE of any class but those, with the two that are faults in class 25. */
const faultSqlstate = fc.oneof(
  fc
    .tuple(fc.constantFrom(...'0123456789ABCDFGHIJKLMNOPQRSTUVWXYZ'.split('')), ALNUM, ALNUM, ALNUM, ALNUM)
    .map((cs) => cs.join(''))
    .filter((c) => !BUG_CLASSES.includes(c.slice(0, 2))),
  fc.constantFrom(
    '25006',
    '25P03',
    '57P01',
    '57P02',
    '57P03',
    '57P04',
    '57P05',
    '53100',
    '53200',
    '53300',
    '55P03',
    '40001',
    '40P01',
    '58030',
    'XX000',
    '08006',
    '08001',
    '08P01',
  ),
);

/** Errno codes a socket or the resolver reports, and some no one has seen yet. */
const errnoCode = fc.oneof(
  fc.constantFrom(
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ECONNABORTED',
    'ENOENT',
    'EACCES',
  ),
  fc.stringMatching(/^E[A-Z]{3,10}$/),
);

const message = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'Connection terminated unexpectedly',
    'Connection terminated',
    'Client has encountered a connection error and is not queryable',
    'timeout expired',
    'The server does not support SSL connections',
    '',
  ),
);

/** One error as the driver, Node's net module or something below them may throw it. */
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(faultSqlstate, message).map(([code, m]) => pgError(code, m)),
  fc.tuple(errnoCode, fc.constantFrom('connect', 'read', 'write', 'getaddrinfo')).map(([code, s]) => errno(code, s)),
  message.map((m) => new Error(m)),
  fc.tuple(message, fc.constantFrom(undefined, null, 42, '')).map(([m, code]) => Object.assign(new Error(m), { code })),
  fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant(undefined), fc.object(), fc.boolean()),
);

/** Leaves nested in AggregateErrors and causes, as Node and pg wrap them. */
const driverError: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  error: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('aggregate'), tie('caused')),
  aggregate: fc
    .tuple(fc.array(tie('error'), { minLength: 1, maxLength: 3 }), message)
    .map(([errors, m]) => new AggregateError(errors, m)),
  caused: fc.tuple(message, tie('error')).map(([m, cause]) => new Error(m, { cause })),
})).error;

describe.concurrent('the PostgreSQL error mapper', () => {
  it.each(TABLE)('%s becomes %s', (_what, err, code) => {
    const mapped = mapPostgresError(err, LOCATION);
    expect(mapped).toBeInstanceOf(BerthError);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toContain(SERVER);
    expect(mapped.cause).toBe(err);
  });

  it('never maps a driver error of any shape to INTERNAL, and names the server without a password', () => {
    fc.assert(
      fc.property(driverError, (err) => {
        const mapped = mapPostgresError(err, LOCATION);
        expect(mapped).toBeInstanceOf(BerthError);
        expect(mapped.code).not.toBe('INTERNAL');
        expect(mapped.message).toContain(SERVER);
        expect(mapped.message).not.toMatch(/app:[^*]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps INTERNAL for statements the server calls malformed: the property above is not vacuous', () => {
    fc.assert(
      fc.property(fc.constantFrom(...BUG_CLASSES.filter((c) => c !== '25')), ALNUM, ALNUM, ALNUM, (cls, a, b, c) => {
        expect(mapPostgresError(pgError(`${cls}${a}${b}${c}`, 'bad statement'), LOCATION).code).toBe('INTERNAL');
      }),
    );
  });

  it('passes BerthErrors through unchanged', () => {
    const err = new BerthError('LOCKED', 'held');
    expect(mapPostgresError(err, LOCATION)).toBe(err);
  });

  it('tells a lost connection (worth one more try on a new one) from a refused one', () => {
    for (const lost of [
      pgError('57P01', 'x'),
      errno('ECONNRESET', 'read'),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(isLostConnection(lost)).toBe(true);
      expect(isLostConnection(mapPostgresError(lost, LOCATION))).toBe(true);
    }
    for (const refused of [
      errno('ECONNREFUSED', 'connect'),
      pgError('57P03', 'x'),
      pgError('55P03', 'x'),
      new Error('timeout expired'),
    ]) {
      expect(isLostConnection(refused)).toBe(false);
      expect(isLostConnection(mapPostgresError(refused, LOCATION))).toBe(false);
    }
  });
});
