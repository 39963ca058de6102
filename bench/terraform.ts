import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { generateSecretsKey, openStore, type Store, startServer } from './berth.js';
import {
  collectGarbage,
  formatMiB,
  formatTable,
  openRawDatabase,
  percentile,
  runHeader,
  type RunHeader,
} from './harness.js';

/*
 * berth serve as Terraform's state backend at scale (STYLE.md habit 11; DESIGN.md §10): a
 * state file of 10,000 terraform_data resources, as Terraform writes it (indented JSON),
 * sent with POST and read back with GET through berth's HTTP server (on 127.0.0.1, over
 * a SQLite store with synchronous=FULL), against the same bytes written (with fsync, as
 * a committed write is durable) and read as a file, in the same run, rounds alternating.
 * Also with a secrets key, where berth seals the state on the way in and opens it on the
 * way out.
 */

/** Resources in the generated state. */
export const RESOURCES = 10_000;

/** One operation's timings, ms. */
export interface Timing {
  name: string;
  runs: number;
  p50Ms: number;
  maxMs: number;
}

export interface TerraformReport {
  name: 'terraform';
  header: RunHeader;
  resources: number;
  stateBytes: number;
  timings: Timing[];
  /** berth's p50 over the file's p50, per operation. */
  ratios: { post: number; get: number; sealedPost: number; sealedGet: number };
  misses: string[];
}

export interface TerraformBenchOptions {
  dataDir: string;
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

/** A state file of `n` terraform_data resources at `serial`, indented as Terraform writes it. */
export function generateState(n: number, lineage: string, serial: number): string {
  const resources = [];
  for (let i = 0; i < n; i++) {
    const value = { value: `value-${i}`, type: 'string' };
    resources.push({
      mode: 'managed',
      type: 'terraform_data',
      name: `r${i}`,
      provider: 'provider["terraform.io/builtin/terraform"]',
      instances: [
        {
          schema_version: 0,
          attributes: { id: randomUUID(), input: value, output: value, triggers_replace: null },
          sensitive_attributes: [],
        },
      ],
    });
  }
  const doc = { version: 4, terraform_version: '1.11.4', serial, lineage, outputs: {}, resources, check_results: null };
  return JSON.stringify(doc, null, 2);
}

/** One HTTP exchange; resolves with the status and the body. */
function exchange(
  url: string,
  method: string,
  token: string,
  body?: string,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function timed(fn: () => unknown): Promise<number> {
  collectGarbage();
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Writes `text` to `file` and fsyncs it: a durable write, as berth's commit is. */
function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Runs the bench; see {@link TerraformReport}. */
export async function runTerraformBench(opts: TerraformBenchOptions): Promise<TerraformReport> {
  const dir = join(opts.dataDir, 'terraform');
  mkdirSync(dir, { recursive: true });
  const rounds = opts.quick ? 3 : 10;
  const lineage = randomUUID();
  const base = generateState(RESOURCES, lineage, 1);
  // Each round writes the next serial: berth's compare-and-set accepts nothing else.
  const texts = Array.from({ length: rounds + 1 }, (_, i) =>
    base.replace(/^ {2}"serial": 1,$/m, `  "serial": ${i + 1},`),
  );
  const stores: Store[] = [
    await openStore({ path: join(dir, 'plain.db'), actor: 'bench@berth' }),
    await openStore({ path: join(dir, 'sealed.db'), actor: 'bench@berth', secretsKey: generateSecretsKey() }),
  ];
  // The pragmas as a connection with berth's settings sees them (the store's own connection is private).
  const raw = openRawDatabase(join(dir, 'plain.db'));
  const header = runHeader({ store: raw }, dir);
  raw.close();
  opts.print(opts.formatHeader(header));
  // A token: berth serves a sealed state only to authenticated clients.
  const token = randomUUID();
  const servers = await Promise.all(stores.map((s) => startServer(s, { port: 0, token })));
  const samples: Record<string, number[]> = {};
  const add = (name: string, ms: number): void => void (samples[name] ??= []).push(ms);
  const file = join(dir, 'terraform.tfstate');
  try {
    for (const server of servers) {
      const r = await exchange(`${server.url}/v1/terraform/bench`, 'POST', token, texts[0]);
      if (r.status !== 200) throw new Error(`the first POST failed: ${r.status} ${r.body.toString().slice(0, 300)}`);
    }
    for (let round = 1; round <= rounds; round++) {
      const text = texts[round]!;
      // Alternate the order so that neither side always runs on a warmer machine.
      const sides = round % 2 === 0 ? ['file', 'berth', 'sealed'] : ['sealed', 'berth', 'file'];
      for (const side of sides) {
        if (side === 'file') {
          add('file: write + fsync', await timed(() => writeDurably(file, text)));
          add('file: read', await timed(() => readFileSync(file)));
          continue;
        }
        const server = servers[side === 'berth' ? 0 : 1]!;
        const url = `${server.url}/v1/terraform/bench`;
        const label = side === 'berth' ? 'berth serve' : 'berth serve, sealed';
        add(
          `${label}: POST`,
          await timed(async () => {
            const r = await exchange(url, 'POST', token, text);
            if (r.status !== 200) throw new Error(`POST failed: ${r.status} ${r.body.toString().slice(0, 300)}`);
          }),
        );
        add(
          `${label}: GET`,
          await timed(async () => {
            const r = await exchange(url, 'GET', token);
            if (r.status !== 200 || r.body.length < base.length / 2) throw new Error(`GET failed: ${r.status}`);
          }),
        );
      }
    }
  } finally {
    for (const s of servers) await s.close({ force: true });
    for (const s of stores) await s.close();
  }
  const timings: Timing[] = Object.entries(samples).map(([name, ms]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return { name, runs: ms.length, p50Ms: percentile(sorted, 50), maxMs: sorted[sorted.length - 1]! };
  });
  const p50 = (name: string): number => timings.find((t) => t.name === name)!.p50Ms;
  const ratios = {
    post: p50('berth serve: POST') / p50('file: write + fsync'),
    get: p50('berth serve: GET') / p50('file: read'),
    sealedPost: p50('berth serve, sealed: POST') / p50('file: write + fsync'),
    sealedGet: p50('berth serve, sealed: GET') / p50('file: read'),
  };
  const ratioOf = (name: string): string => {
    if (name.startsWith('file')) return '1.00x';
    const r = name.endsWith('POST')
      ? name.includes('sealed')
        ? ratios.sealedPost
        : ratios.post
      : name.includes('sealed')
        ? ratios.sealedGet
        : ratios.get;
    return `${r.toFixed(2)}x`;
  };
  opts.print(
    [
      `\n== terraform: a state of ${RESOURCES.toLocaleString('en-US')} terraform_data resources (${formatMiB(Buffer.byteLength(base))}), ${rounds} rounds ==`,
      formatTable(
        ['operation', 'runs', 'p50', 'max', 'vs file'],
        timings.map((t) => [
          t.name,
          String(t.runs),
          `${t.p50Ms.toFixed(1)}ms`,
          `${t.maxMs.toFixed(1)}ms`,
          ratioOf(t.name),
        ]),
      ),
    ].join('\n'),
  );
  return {
    name: 'terraform',
    header,
    resources: RESOURCES,
    stateBytes: Buffer.byteLength(base),
    timings,
    ratios,
    misses: [],
  };
}
