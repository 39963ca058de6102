import { BerthError } from '../errors.js';

/** How a command prints: aligned tables for people, one JSON document for programs. */
export type Format = 'table' | 'json';

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function useColour(stream: NodeJS.WriteStream): boolean {
  return (
    stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') && process.env.TERM !== 'dumb'
  );
}

const CODES = { red: 31, green: 32, yellow: 33, bold: 1, dim: 2 } as const;
export type Colour = keyof typeof CODES;

/** Wraps `text` in an ANSI colour when `on`. */
export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

/**
 * Renders rows as left-aligned columns separated by two spaces (podman's layout). The
 * columns listed in `shrink` are cut (with …) until the table fits `width`.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  opts: { width?: number; shrink?: readonly number[] } = {},
): string {
  let out = '';
  writeTable(headers, rows, opts, (chunk) => void (out += chunk));
  return out;
}

/** Text pushed in pieces, handed to `write` in chunks of about 1 MiB; `end` hands over the rest. */
export function chunkedWriter(write: (chunk: string) => void): { push(text: string): void; end(): void } {
  let chunk = '';
  return {
    push(text: string): void {
      chunk += text;
      if (chunk.length >= 1 << 20) {
        write(chunk);
        chunk = '';
      }
    },
    end(): void {
      if (chunk !== '') write(chunk);
      chunk = '';
    },
  };
}

/**
 * {@link renderTable} handed to `write` in chunks of about 1 MiB, so that a table of
 * 100,000 rows is never one string (nor an array of its lines) in memory.
 */
export function writeTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  opts: { width?: number; shrink?: readonly number[] },
  write: (chunk: string) => void,
): void {
  // A loop, not Math.max(...spread): a spread of 100,000 rows overflows the call stack.
  const widths = headers.map((h) => h.length);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) {
      const len = visibleLength(r[i] ?? '');
      if (len > widths[i]!) widths[i] = len;
    }
  }
  const limit = opts.width ?? Infinity;
  const total = (): number => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  for (const i of opts.shrink ?? []) {
    const excess = total() - limit;
    if (excess <= 0) break;
    widths[i] = Math.max(headers[i]!.length, widths[i]! - excess, 10);
  }
  const last = widths.length - 1;
  const line = (cells: readonly string[]): string => {
    let text = '';
    for (let i = 0; i <= last; i++) {
      let c = cells[i] ?? '';
      let len = visibleLength(c);
      if (len > widths[i]!) {
        c = c.slice(0, widths[i]! - 1) + '…';
        len = visibleLength(c);
      }
      text += i === last ? c : c + ' '.repeat(widths[i]! - len) + '  ';
    }
    return text.trimEnd();
  };
  const out = chunkedWriter(write);
  out.push(line(headers) + '\n');
  for (const r of rows) out.push(line(r) + '\n');
  out.end();
}

/**
 * The width tables are fitted to on a terminal: $COLUMNS when set, else the terminal's
 * own. Undefined when stdout is not a terminal: output read by programs (`| grep`, a
 * file) is never cut.
 */
export function terminalWidth(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!process.stdout.isTTY) return undefined;
  const columns = Number(env.COLUMNS);
  if (Number.isInteger(columns) && columns > 0) return columns;
  return process.stdout.columns || 80;
}

function visibleLength(text: string): number {
  if (!text.includes('\u001b')) return text.length;
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** podman's short id: the first 12 characters. */
export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** "2 minutes ago", "About an hour ago", "3 days ago" (podman's wording). */
export function relativeTime(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 1) return 'Less than a second ago';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return `${h} hours ago`;
  const d = Math.round(s / 86400);
  if (d < 14) return `${d} days ago`;
  if (d < 60) return `${Math.round(d / 7)} weeks ago`;
  if (d < 730) return `${Math.round(d / 30)} months ago`;
  return `${Math.round(d / 365)} years ago`;
}

/** Parses `KEY=VALUE`; INVALID_ARGUMENT otherwise. */
export function parseKeyValue(text: string, what: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) {
    throw usageError(`${what} ${JSON.stringify(text)} is not KEY=VALUE`, { value: text });
  }
  return [text.slice(0, at), text.slice(at + 1)];
}

/**
 * A mistake in the command line itself, found before the store is opened (a malformed
 * duration, seq, filter, sort key…): `INVALID_ARGUMENT` with `details.usage`, exit 2.
 */
export function usageError(message: string, details: Record<string, unknown> = {}): BerthError {
  return new BerthError('INVALID_ARGUMENT', message, { details: { ...details, usage: true } });
}

/** Whether `err` is a usage error (exit 2). */
export function isUsageError(err: unknown): boolean {
  return err instanceof BerthError && err.details.usage === true;
}

/** Parses a duration such as 500ms, 30s, 2m, 1h, or a bare number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw usageError(`duration ${JSON.stringify(text)} is not valid; use e.g. 500ms, 30s, 2m or 1h`, { value: text });
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}
