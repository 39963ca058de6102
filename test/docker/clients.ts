import { execFile } from 'node:child_process';
import type { RunResult } from '../cli/helpers.js';

/*
 * The real docker and podman CLIs as children of the test, run to their exit against a
 * berth serve: DOCKER_HOST or --url, no daemon of their own, nothing of the machine's
 * own configuration.
 */

/** Runs `command ...args` to its exit (never throws on a failing exit). */
export function runClient(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 ** 2 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** Parses lines of JSON (docker's `--format '{{json .}}'`). */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
