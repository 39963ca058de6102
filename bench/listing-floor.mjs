// The raw floor of the listing bench (bench/listing.ts): what a program that knows berth's
// schema and nothing else does for the same output, with better-sqlite3 alone (no berth
// module, no CLI parser). Run as `node bench/listing-floor.mjs <store> json|label <value>`.
//   json:  every container's ps --format json row (berth's and podman's keys, pretty
//          printed as berth prints them), from the summary rows;
//   label: the containers with label <value> (key=value), one line each.
// It opens the store read-only with the CLI's 2 MiB page cache.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const [file, mode, value] = process.argv.slice(2);
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('cache_size = -2048');
const now = Date.now();

function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 172800) return `${Math.round(s / 3600)} hours ago`;
  const d = Math.round(s / 86400);
  return d < 60 ? `${d} days ago` : d < 730 ? `${Math.round(d / 30)} months ago` : `${Math.round(d / 365)} years ago`;
}
const unix = (iso) => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);

let out = '';
const flush = (force) => {
  if (force || out.length >= 1 << 20) {
    process.stdout.write(out);
    out = '';
  }
};
if (mode === 'json') {
  const rows = db
    .prepare(
      `SELECT id, name, namespace, pod_id, image, command_json, status, exit_code, started_at, finished_at, created,
        labels_json, networks_json FROM container_summaries ORDER BY created DESC, id DESC`,
    )
    .iterate();
  let first = true;
  for (const r of rows) {
    const labels = JSON.parse(r.labels_json);
    const exited = r.status === 'exited' || r.status === 'stopped';
    const row = {
      id: r.id,
      name: r.name,
      namespace: r.namespace,
      pod: r.pod_id,
      image: r.image,
      status: r.status,
      createdAt: r.created,
      labels,
      Id: r.id,
      Names: [r.name],
      Image: r.image ?? '',
      Command: JSON.parse(r.command_json ?? '[]'),
      State: exited ? 'exited' : r.status,
      Status: exited ? `Exited (${r.exit_code}) ${ago(r.finished_at)}` : `Up ${ago(r.started_at)}`,
      ExitCode: r.exit_code ?? 0,
      Exited: exited,
      ExitedAt: unix(r.finished_at),
      StartedAt: unix(r.started_at),
      Pod: r.pod_id ?? '',
      PodName: '',
      Labels: labels,
      Networks: JSON.parse(r.networks_json),
      Created: unix(r.created),
      CreatedAt: ago(r.created),
    };
    out += (first ? '[\n' : ',\n') + JSON.stringify([row], null, 2).slice(2, -2);
    first = false;
    flush(false);
  }
  out += first ? '[]\n' : '\n]\n';
} else if (mode === 'label') {
  const at = value.indexOf('=');
  const needle = `${JSON.stringify(value.slice(0, at))}:${JSON.stringify(value.slice(at + 1))}`;
  const rows = db
    .prepare(
      `SELECT id, image, command_json, created, status, name FROM container_summaries
        WHERE instr(labels_json, ?) > 0 ORDER BY created DESC, id DESC`,
    )
    .iterate(needle);
  out += 'CONTAINER ID  IMAGE  COMMAND  CREATED  STATUS  NAMES\n';
  for (const r of rows) {
    out += `${r.id.slice(0, 12)}  ${r.image}  ${JSON.parse(r.command_json ?? '[]').join(' ')}  ${ago(r.created)}  ${r.status}  ${r.name}\n`;
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
flush(true);
db.close();
