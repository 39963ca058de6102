import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Test stores live in memory when the machine has /dev/shm: the suites test berth's
// logic and crash behaviour (SIGKILL), not the disk's fsync latency.
const tmp = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/berth-vitest-') : undefined;
if (tmp) process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

/**
 * Files that compare throughput with and without something: they run after the rest,
 * so the load and crash tests' processes do not skew their measurements.
 */
const MEASURING = ['test/events/slow-client.test.ts'];

export default defineConfig({
  test: {
    ...(tmp ? { env: { TMPDIR: tmp } } : {}),
    pool: 'forks',
    // Two files at a time even on two cores (the default leaves one core idle): most
    // files wait on child processes and fsync, and the 60 s load test would otherwise
    // add its whole minute to the run.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: MEASURING } },
      { extends: true, test: { name: 'measuring', include: MEASURING, sequence: { groupOrder: 1 } } },
    ],
  },
});
