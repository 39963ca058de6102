import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadManifest, openStore, type Plan } from './berth.js';
import { collectGarbage, openRawDatabase, percentile } from './harness.js';

/*
 * The measuring half of bench/plan.ts, in a fresh process so that its heap and RSS figures
 * are the plan/apply cycle's alone: `node --expose-gc --import tsx bench/plan-worker.ts
 * <store file> <manifest file> <quick 0|1>`. Answers a PlanWorkerReport over IPC (or on
 * stdout when run by hand).
 */

export const MANIFEST_SHAPE = { volumes: 500, pods: 500, containersPerPod: 10, standalone: 4000 } as const;
export const MANIFEST_OBJECTS =
  MANIFEST_SHAPE.volumes +
  MANIFEST_SHAPE.pods +
  MANIFEST_SHAPE.pods * MANIFEST_SHAPE.containersPerPod +
  MANIFEST_SHAPE.standalone;

const WORKSPACE = 'default';

/** Time and memory of one phase; repeated phases give the median (and max) time. */
export interface Phase {
  name: string;
  runs: number;
  medianMs: number;
  maxMs: number;
  /** Median CPU time (user + system, all threads) of a run: what the wall time would be on an idle core, roughly. */
  cpuMs: number;
  /** heapUsed right after the (last) run, garbage included. */
  heapAfter: number;
  /** heapUsed after the run and a full GC: what the phase's result holds. */
  heapRetained: number;
  rss: number;
}

export interface PlanWorkerReport {
  objects: number;
  manifestBytes: number;
  phases: Phase[];
  firstPlan: Plan['summary'];
  noChangePlan: Plan['summary'] & { steps: number; drift: number };
  maxRss: number;
  stateBytes: number;
}

/** A manifest of `MANIFEST_OBJECTS` objects as YAML text, the same on every run. */
export function generateManifest(): string {
  const { volumes, pods, containersPerPod, standalone } = MANIFEST_SHAPE;
  const out: string[] = ['version: 1', 'volumes:'];
  for (let v = 0; v < volumes; v++) {
    out.push(`  vol-${v}:`, '    driver: local', `    labels: { tier: data, shard: "${v % 16}" }`);
  }
  const container = (indent: string, name: string, i: number, deps: string[], volume?: string): void => {
    out.push(
      `${indent}${name}:`,
      `${indent}  image: "registry.example.com/shop/svc-${i % 40}:1.${i % 9}.${i % 5}"`,
      `${indent}  command: [/app/bin/server, --port, "8080", --worker, "${i % 8}"]`,
      `${indent}  env: { APP_ENV: production, LOG_LEVEL: info, SHARD: "${i % 32}" }`,
      `${indent}  labels: { team: team-${i % 7}, service: svc-${i % 40} }`,
      `${indent}  networks: { shop_default: { aliases: [${name}] } }`,
    );
    if (deps.length > 0) out.push(`${indent}  dependsOn: [${deps.join(', ')}]`);
    if (volume) out.push(`${indent}  volumes: ["${volume}:/data"]`);
  };
  out.push('pods:');
  for (let p = 0; p < pods; p++) {
    out.push(`  pod-${p}:`, `    labels: { app: pod-${p} }`, '    containers:');
    for (let c = 0; c < containersPerPod; c++) {
      // Chains inside the pod: c1 -> c0, c2 -> c1, c4 -> c3, ... (every third starts anew).
      const deps = c % 3 === 0 ? [] : [`pod-${p}-c${c - 1}`];
      container('      ', `pod-${p}-c${c}`, p * containersPerPod + c, deps);
    }
  }
  out.push('containers:');
  for (let s = 0; s < standalone; s++) {
    const deps = s % 4 === 1 ? [`svc-${s - 1}`] : [];
    container('  ', `svc-${s}`, s, deps, s % 2 === 0 ? `vol-${s % volumes}` : undefined);
  }
  return out.join('\n') + '\n';
}

async function phase<T>(name: string, runs: number, fn: () => Promise<T> | T): Promise<{ phase: Phase; result: T }> {
  const ms: number[] = [];
  const cpu: number[] = [];
  let result!: T;
  let heapAfter = 0;
  for (let i = 0; i < runs; i++) {
    result = undefined as T; // the previous run's result is garbage before the next run
    collectGarbage();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = await fn();
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    heapAfter = process.memoryUsage().heapUsed;
  }
  collectGarbage();
  const mem = process.memoryUsage();
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    phase: {
      name,
      runs,
      medianMs: percentile(sorted, 50),
      maxMs: sorted[sorted.length - 1]!,
      cpuMs: percentile(
        cpu.sort((a, b) => a - b),
        50,
      ),
      heapAfter,
      heapRetained: mem.heapUsed,
      rss: mem.rss,
    },
    result,
  };
}

async function measure(file: string, manifestFile: string, quick: boolean): Promise<PlanWorkerReport> {
  const phases: Phase[] = [];
  const text = generateManifest();
  writeFileSync(manifestFile, text);

  const loaded = await phase('loadManifest (file)', quick ? 2 : 3, () => loadManifest(manifestFile));
  phases.push(loaded.phase);
  const manifest = loaded.result;

  const store = await openStore({ path: file, actor: 'bench@berth' });
  try {
    const first = await phase('plan, empty store', quick ? 2 : 3, () => store.plan(WORKSPACE, manifest));
    phases.push(first.phase);
    const plan = first.result;
    if (plan.summary.create !== MANIFEST_OBJECTS) {
      throw new Error(`the first plan creates ${plan.summary.create} objects, expected ${MANIFEST_OBJECTS}`);
    }

    const applied = await phase('apply (one transaction)', 1, () => store.apply(plan));
    phases.push(applied.phase);

    // The no-change plan alternates with the raw floor (ABAB): the same reads and parses
    // of every object, by raw better-sqlite3, and those plus a digest of each.
    const raw = openRawDatabase(file);
    const rows = {
      containers: raw.prepare<[], { config_json: string; state_json: string }>(
        'SELECT config_json, state_json FROM containers ORDER BY rowid',
      ),
      pods: raw.prepare<[], { config_json: string; state_json: string }>(
        'SELECT config_json, state_json FROM pods ORDER BY rowid',
      ),
      volumes: raw.prepare<[], { config_json: string; state_json: string }>(
        'SELECT config_json, state_json FROM volumes ORDER BY rowid',
      ),
      state: raw.prepare<[string], { state_json: string }>(
        "SELECT state_json FROM workspaces WHERE namespace = '' AND name = ?",
      ),
    };
    const readAll = (digest: boolean): number => {
      let n = 0;
      raw.prepare('BEGIN').run();
      try {
        JSON.parse(rows.state.get(WORKSPACE)!.state_json);
        for (const stmt of [rows.containers, rows.pods, rows.volumes]) {
          for (const r of stmt.all()) {
            const config: unknown = JSON.parse(r.config_json);
            JSON.parse(r.state_json);
            if (digest) createHash('sha256').update(JSON.stringify(config)).digest('hex');
            n++;
          }
        }
      } finally {
        raw.prepare('COMMIT').run();
      }
      return n;
    };
    const runs = quick ? 3 : 6;
    const noChange: Phase[] = [];
    const floor: Phase[] = [];
    const floorDigest: Phase[] = [];
    let last: Plan | undefined;
    for (let i = 0; i < runs; i++) {
      const p = await phase('plan, no change', 1, () => store.plan(WORKSPACE, manifest));
      last = p.result;
      noChange.push(p.phase);
      floor.push((await phase('raw floor: read + parse', 1, () => readAll(false))).phase);
      floorDigest.push((await phase('raw floor: + sha256 each', 1, () => readAll(true))).phase);
    }
    raw.close();
    for (const ps of [noChange, floor, floorDigest]) phases.push(mergeRuns(ps));
    if (last!.steps.length !== 0 || last!.summary.noop !== MANIFEST_OBJECTS) {
      throw new Error(`the plan after apply is not empty: ${JSON.stringify(last!.summary)}`);
    }
    const state = await store.workspaces.readState(WORKSPACE);
    return {
      objects: MANIFEST_OBJECTS,
      manifestBytes: Buffer.byteLength(text),
      phases,
      firstPlan: plan.summary,
      noChangePlan: { ...last!.summary, steps: last!.steps.length, drift: last!.drift.length },
      maxRss: process.resourceUsage().maxRSS * 1024,
      stateBytes: JSON.stringify(state.state).length,
    };
  } finally {
    await store.close();
  }
}

function mergeRuns(runs: readonly Phase[]): Phase {
  const sorted = runs.map((r) => r.medianMs).sort((a, b) => a - b);
  const cpu = runs.map((r) => r.cpuMs).sort((a, b) => a - b);
  const lastRun = runs[runs.length - 1]!;
  return {
    ...lastRun,
    runs: runs.length,
    medianMs: percentile(sorted, 50),
    maxMs: sorted[sorted.length - 1]!,
    cpuMs: percentile(cpu, 50),
  };
}

if (process.argv[1]?.endsWith('plan-worker.ts')) {
  const [file = '', manifestFile = '', quick = '0'] = process.argv.slice(2);
  const report = await measure(file, manifestFile, quick === '1');
  if (process.send) process.send(report);
  else console.log(JSON.stringify(report, null, 2));
}
