import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, type TestContext } from 'vitest';
import type { BerthError } from '../../src/index.js';
import { BIN, type RunResult } from '../cli/helpers.js';

/*
 * Helpers of the fault suite: real faults, not mocks. A tiny tmpfs is a disk that fills
 * up (by bytes or by inodes) or turns read-only on demand; a child process running as
 * another user meets real permission denials. Every mount is unmounted when its test
 * ends, failed or not; without root (or without mount) the test is skipped and says so.
 */

export const IS_ROOT = process.getuid?.() === 0;
/** The user the permission cases run as (`nobody`). */
export const NOBODY = 65534;

/**
 * A temporary folder of the test `t`, removed when it passes (kept as evidence when it
 * fails). Takes the test's context: in a concurrent block, a hook registered without it
 * may land on another test and remove this folder while it is still in use.
 */
export function scratch(t: TestContext, prefix = 'berth-faults-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.onTestFinished((ctx) => {
    if (ctx.task.result?.state !== 'fail') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A folder, readable by every user, that the current test owns; removed when it ends. */
export function openFolder(t: TestContext): string {
  // Under /tmp, not TMPDIR: the suite's TMPDIR is 0700, so another user could not reach it.
  const dir = mkdtempSync('/tmp/berth-faults-');
  chmodSync(dir, 0o755);
  t.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Tmpfs {
  dir: string;
  /** Remounts read-only; false when the kernel refuses (EBUSY: files are open for writing). */
  remount(mode: 'ro' | 'rw'): boolean;
  /**
   * Fills the file system with a ballast file up to its last free block, or until only
   * `leaveKiB` are free; remove the file to free the space again.
   */
  fill(leaveKiB?: number): string;
}

/**
 * Mounts a tmpfs of `sizeKiB` (and at most `inodes` files, folders included) for the
 * current test, or skips the test with the reason when that is not possible here.
 */
export function mountTmpfs(
  t: TestContext,
  opts: { sizeKiB?: number; inodes?: number; readonly?: boolean } = {},
): Tmpfs {
  t.skip(!IS_ROOT, 'needs root to mount a tmpfs (CI runs as root)');
  const dir = join(openFolder(t), 'mnt');
  mkdirSync(dir);
  const options = [
    `size=${opts.sizeKiB ?? 4096}k`,
    ...(opts.inodes === undefined ? [] : [`nr_inodes=${opts.inodes}`]),
    'mode=0755',
    ...(opts.readonly ? ['ro'] : []),
  ].join(',');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  t.skip(mounted.status !== 0, `cannot mount a tmpfs here: ${mounted.stderr.trim() || mounted.error?.message}`);
  t.onTestFinished(() => {
    // Lazy when busy: a handle the test failed to close must not leave the mount behind.
    if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
  });
  return {
    dir,
    remount(mode) {
      return spawnSync('mount', ['-o', `remount,${mode}`, dir]).status === 0;
    },
    fill(leaveKiB = 0) {
      const file = join(dir, `ballast-${Math.random().toString(36).slice(2)}`);
      const fd = openSync(file, 'w');
      const block = Buffer.alloc(4096, 1);
      try {
        const { bfree, bsize } = statfsSync(dir);
        let left = bfree * bsize - leaveKiB * 1024;
        for (; left > 0 || leaveKiB === 0; left -= block.length) writeSync(fd, block);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }
      if (leaveKiB === 0) expect(statfsSync(dir).bfree).toBe(0);
      return file;
    },
  };
}

/** Creates files until the file system has no inode left; returns them (to free later). */
export function exhaustInodes(dir: string): string[] {
  const made: string[] = [];
  for (let i = 0; ; i++) {
    const file = join(dir, `inode-${i}`);
    try {
      closeSync(openSync(file, 'w'));
      made.push(file);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      return made;
    }
  }
}

/** SQLite's own verdict on a store file, read with a raw connection. */
export function integrity(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  } finally {
    db.close();
  }
}

/** Runs `fn` and returns how long it took, in milliseconds, with its result or error. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/**
 * Runs the built `berth` as `uid` (default: nobody) in `cwd`, for permission faults that
 * root never meets.
 */
export function runAs(
  t: TestContext,
  args: readonly string[],
  opts: { uid?: number; cwd: string; env?: Record<string, string> },
): Promise<RunResult> {
  const uid = opts.uid ?? NOBODY;
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: opts.cwd, NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd,
    uid,
    gid: uid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The JSON error a `--format json` command printed on stderr. */
export function jsonError(r: RunResult): BerthError {
  const doc = JSON.parse(r.stderr) as { error: BerthError };
  return doc.error;
}
