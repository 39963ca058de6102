import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Test stores live in memory when the machine has /dev/shm: the suites test berth's
// logic and crash behaviour (SIGKILL), not the disk's fsync latency.
const tmp = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/berth-vitest-') : undefined;
if (tmp) process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));

export default defineConfig({
  test: {
    ...(tmp ? { env: { TMPDIR: tmp } } : {}),
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time even on two cores (the default leaves one core idle): most
    // files wait on child processes and fsync, and the 60 s load test would otherwise
    // add its whole minute to the run.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
