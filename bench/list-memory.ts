import { openStore } from './berth.js';
import { collectGarbage, openRawDatabase } from './harness.js';

/*
 * Memory of one full listing, in a fresh process so neither side inherits the other's
 * heap or RSS: `node --expose-gc --import tsx bench/list-memory.ts <berth|raw> <file>`.
 * Started by bench/objects.ts; answers over IPC (or on stdout when run by hand).
 */

/** What one listing cost in memory (bytes). */
export interface ListMemory {
  side: 'berth' | 'raw';
  count: number;
  /** heapUsed growth that the listing still holds after a full GC: the result's size. */
  retainedHeap: number;
  /** heapUsed growth right after the listing, garbage included. */
  peakHeap: number;
  /** RSS growth after the listing and a full GC. */
  rss: number;
  /** Growth of the process's maximum RSS during the listing. */
  maxRss: number;
}

async function measure(side: string, file: string): Promise<ListMemory> {
  let list: () => Promise<unknown[]> | unknown[];
  let close: () => unknown;
  if (side === 'berth') {
    const store = await openStore({ path: file });
    list = () => store.allContainers();
    close = () => store.close();
  } else if (side === 'raw') {
    const db = openRawDatabase(file);
    const stmt = db.prepare<[], { config_json: string; state_json: string }>(
      'SELECT config_json, state_json FROM containers',
    );
    list = () => stmt.all().map((r) => ({ config: JSON.parse(r.config_json), state: JSON.parse(r.state_json) }));
    close = () => db.close();
  } else {
    throw new Error(`usage: list-memory.ts <berth|raw> <file>, not ${side}`);
  }
  collectGarbage();
  const before = process.memoryUsage();
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  const result = await list();
  const peak = process.memoryUsage();
  collectGarbage();
  const after = process.memoryUsage();
  const maxAfter = process.resourceUsage().maxRSS * 1024;
  const count = result.length; // keeps the listing alive until after the last reading
  await close();
  return {
    side,
    count,
    retainedHeap: after.heapUsed - before.heapUsed,
    peakHeap: peak.heapUsed - before.heapUsed,
    rss: after.rss - before.rss,
    maxRss: maxAfter - maxBefore,
  };
}

const [side = '', file = ''] = process.argv.slice(2);
const report = await measure(side, file);
if (process.send) process.send(report);
else console.log(JSON.stringify(report));
