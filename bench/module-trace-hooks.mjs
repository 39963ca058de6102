// Load hook of bench/module-trace.mjs: appends each loaded module's URL to the trace file.
import { appendFileSync } from 'node:fs';

let out;

export function initialize(data) {
  out = data.out;
}

export async function load(url, context, next) {
  if (!url.startsWith('node:')) appendFileSync(out, `${url}\n`);
  return next(url, context);
}
