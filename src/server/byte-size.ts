import { BerthError } from '../errors.js';

/*
 * Sizes as people write them on a command line: `64MiB`, `10MB`, `512k`, `1048576`.
 * Binary units (KiB, MiB, GiB) and the single letters k, m, g (as docker and podman read
 * them) count in 1024s; the SI spellings kB, MB, GB count in 1000s.
 */

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** The largest body limit: the body is held in memory up to the limit. */
export const MAX_BYTE_SIZE = 1024 ** 3;

/**
 * Parses a size (`64MiB`, `10MB`, `512k`, bytes) into bytes, between 1 and 1 GiB.
 * @throws INVALID_ARGUMENT naming the accepted forms
 */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(text)} is not a size; write bytes or a number with a unit: 64MiB, 10MB, 512k`,
    );
  }
  const bytes = Number(m[1]) * unit;
  if (bytes < 1 || bytes > MAX_BYTE_SIZE) {
    throw new BerthError('INVALID_ARGUMENT', `${JSON.stringify(text)} is out of range; give 1 byte to 1GiB`);
  }
  return bytes;
}

/** A size for messages: `64 MiB`, `512 KiB`, `1000 bytes`. */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
