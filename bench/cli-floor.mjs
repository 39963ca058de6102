// The floor of `berth ps -a` (bench/cli-start.ts): a bare Node process, no TypeScript
// loader, that opens the store file with raw better-sqlite3 and berth's pragmas, reads
// config_json/state_json of every container, parses them and prints the same table
// (podman's columns, newest first). Usage: node bench/cli-floor.mjs <store file>
import Database from 'better-sqlite3';

const file = process.argv[2];
const db = new Database(file, { fileMustExist: true, timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
const rows = db.prepare('SELECT config_json, state_json FROM containers ORDER BY rowid').all();
const list = rows.map((r) => ({ config: JSON.parse(r.config_json), state: JSON.parse(r.state_json) }));
db.close();

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
list.sort((a, b) => cmp(a.config.createdAt ?? '', b.config.createdAt ?? '') || cmp(a.config.id, b.config.id)).reverse();

function relativeTime(iso, now) {
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

function statusText(c, now) {
  const { status, exitCode, startedAt, finishedAt } = c.state;
  if (status === 'running') return startedAt ? `Up ${relativeTime(startedAt, now).replace(/ ago$/, '')}` : 'Up';
  if (status === 'exited' || status === 'stopped')
    return `Exited (${exitCode ?? 0})${finishedAt ? ' ' + relativeTime(finishedAt, now) : ''}`;
  if (status === 'created' || status === 'configured') return 'Created';
  return String(status).charAt(0).toUpperCase() + String(status).slice(1);
}

const truncate = (text, max) => (text.length > max ? text.slice(0, max - 1) + '…' : text);
const now = Date.now();
const headers = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'];
const table = list.map((c) => [
  c.config.id.slice(0, 12),
  truncate(c.config.image ?? '', 24),
  truncate((c.config.command ?? []).join(' '), 16),
  relativeTime(c.config.createdAt, now),
  statusText(c, now),
  c.config.name,
]);
// Fitted to 80 columns off a terminal, like berth's renderTable: COMMAND, then STATUS,
// CREATED and IMAGE are cut (with …) until the table fits.
const widths = headers.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
for (const i of [2, 4, 3, 1]) {
  const excess = total() - 80;
  if (excess <= 0) break;
  widths[i] = Math.max(headers[i].length, widths[i] - excess, 10);
}
const cell = (text, i) => (text.length > widths[i] ? text.slice(0, widths[i] - 1) + '…' : text);
const line = (cells) =>
  cells
    .map((c, i) => {
      const text = cell(c, i);
      return i === cells.length - 1 ? text : text + ' '.repeat(widths[i] - text.length);
    })
    .join('  ')
    .trimEnd();
process.stdout.write([line(headers), ...table.map(line)].join('\n') + '\n');
