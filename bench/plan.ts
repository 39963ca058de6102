import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from './berth.js';
import { formatMiB, formatTable, openRawDatabase, REPO_ROOT, runHeader, type RunHeader } from './harness.js';
import { storePragmas } from './objects.js';
import { MANIFEST_SHAPE, type Phase, type PlanWorkerReport } from './plan-worker.js';

/*
 * Plan and apply at scale (STYLE.md habit 11; DESIGN.md §7): a generated manifest of
 * 10,000 objects (500 volumes, 500 pods x 10 containers with dependsOn chains inside the
 * pods, 4,000 standalone containers, half of them using a volume). Measured in a fresh
 * process (bench/plan-worker.ts): loadManifest, the first plan on an empty store, apply,
 * and the no-change plan after apply, alternating with the raw better-sqlite3 floor of
 * the same reads (every object's row read and parsed, then also digested).
 */

/** A no-change plan of 10,000 objects takes less than this. */
export const TARGET_NO_CHANGE_MS = 1000;

export interface PlanReport extends PlanWorkerReport {
  name: 'plan';
  header: RunHeader;
  shape: typeof MANIFEST_SHAPE;
  target: { noChangePlanMs: number };
  pass: boolean;
  misses: string[];
}

export interface PlanBenchOptions {
  dataDir: string;
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

function runWorker(file: string, manifestFile: string, quick: boolean): Promise<PlanWorkerReport> {
  const execArgv = process.execArgv.filter((a) => !/^--(cpu-prof|heap-prof|prof|inspect)/.test(a));
  return new Promise((resolve, reject) => {
    const child = fork(join(REPO_ROOT, 'bench', 'plan-worker.ts'), [file, manifestFile, quick ? '1' : '0'], {
      execArgv,
      stdio: 'inherit',
    });
    let report: PlanWorkerReport | undefined;
    child.on('message', (m) => (report = m as PlanWorkerReport));
    child.on('error', reject);
    child.on('exit', (code) =>
      report ? resolve(report) : reject(new Error(`plan-worker.ts exited with ${code} and no report`)),
    );
  });
}

/** Runs the plan bench; see {@link PlanReport}. */
export async function runPlanBench(opts: PlanBenchOptions): Promise<PlanReport> {
  const dir = join(opts.dataDir, 'plan');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'plan.db');
  const store = await openStore({ path: file, actor: 'bench@berth' });
  const raw = openRawDatabase(file);
  const header = runHeader({ berth: await storePragmas(store), raw }, dir);
  raw.close();
  await store.close();
  opts.print(opts.formatHeader(header));

  const report = await runWorker(file, join(dir, 'berth.yaml'), opts.quick);
  const noChange = report.phases.find((p) => p.name === 'plan, no change')!;
  const pass = noChange.medianMs < TARGET_NO_CHANGE_MS;
  const misses = pass
    ? []
    : [
        `no-change plan of ${report.objects.toLocaleString('en-US')} objects: p50 ${noChange.medianMs.toFixed(0)} ms, max ${noChange.maxMs.toFixed(0)} ms (target < ${TARGET_NO_CHANGE_MS} ms)`,
      ];
  opts.print(formatPlan(report, noChange));
  opts.print(`\n== plan: ${pass ? 'within target' : 'MISS'} ==`);
  for (const m of misses) opts.print(`MISS  ${m}`);
  return {
    name: 'plan',
    header,
    shape: MANIFEST_SHAPE,
    target: { noChangePlanMs: TARGET_NO_CHANGE_MS },
    ...report,
    pass,
    misses,
  };
}

function formatPlan(r: PlanWorkerReport, noChange: Phase): string {
  const ms = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)}s` : `${x.toFixed(0)}ms`);
  const rows = r.phases.map((p) => [
    p.name,
    String(p.runs),
    ms(p.medianMs),
    ms(p.maxMs),
    ms(p.cpuMs),
    p.name.startsWith('raw') ? `${(noChange.medianMs / p.medianMs).toFixed(2)}x` : '',
    formatMiB(p.heapAfter),
    formatMiB(p.heapRetained),
    formatMiB(p.rss),
  ]);
  const s = MANIFEST_SHAPE;
  return [
    `\n== plan: ${r.objects.toLocaleString('en-US')} objects (${s.volumes} volumes, ${s.pods} pods x ${s.containersPerPod} containers, ${s.standalone} standalone containers; manifest ${formatMiB(r.manifestBytes)}) ==`,
    formatTable(
      ['phase', 'runs', 'p50', 'max', 'cpu p50', 'no-change plan / floor', 'heap after', 'heap retained', 'rss'],
      rows,
    ),
    `first plan: ${JSON.stringify(r.firstPlan)}`,
    `no-change plan: ${JSON.stringify(r.noChangePlan)}`,
    `workspace state after apply: ${formatMiB(r.stateBytes)}; max rss of the process: ${formatMiB(r.maxRss)}`,
    `no-change plan p50 ${noChange.medianMs.toFixed(0)} ms, max ${noChange.maxMs.toFixed(0)} ms, cpu ${noChange.cpuMs.toFixed(0)} ms (target: p50 < ${TARGET_NO_CHANGE_MS} ms)  ${noChange.medianMs < TARGET_NO_CHANGE_MS ? 'PASS' : 'MISS'}`,
  ].join('\n');
}
