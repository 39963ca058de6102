import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { onTestFinished } from 'vitest';
import { workerArgs } from './worker-bundle.js';

/** One JSON document a worker printed. */
export type Message = Record<string, unknown>;

/**
 * A TypeScript child process (bundled, see worker-bundle.ts) that prints one JSON document per line; it
 * is killed when the current test finishes.
 */
export class LineWorker {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly messages: Message[] = [];
  private readonly waiters: Array<() => void> = [];
  private stderr = '';
  done = false;

  /** `failOn`: message keys that mean the worker failed unless the caller waits for that message. */
  constructor(
    file: string,
    args: string[],
    private readonly failOn: readonly string[] = ['fatal'],
  ) {
    this.child = spawn(process.execPath, [...workerArgs(file), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.messages.push(JSON.parse(line) as Message);
      } catch {
        this.stderr += `(stdout) ${line}\n`;
      }
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.done = true;
        this.wake();
        resolve({ code, signal });
      });
    });
    onTestFinished(() => {
      if (!this.done) this.child.kill('SIGKILL');
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first unread message `match` accepts; fails on a fatal/error message, on exit, or after `timeoutMs`. */
  async next(match: (m: Message) => boolean, timeoutMs = 40_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => match(m) || this.failOn.some((k) => k in m));
      if (i >= 0) {
        const [m] = this.messages.splice(i, 1);
        if (!match(m!)) throw new Error(`worker failed: ${JSON.stringify(m)}\n${this.stderr}`);
        return m!;
      }
      if (this.done) throw new Error(`worker exited without the expected message\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`worker sent no expected message in ${timeoutMs} ms\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  endInput(): void {
    this.child.stdin!.end();
  }

  get errorOutput(): string {
    return this.stderr;
  }
}
