import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { BIN, startProcess, type RunResult, type Running } from '../cli/helpers.js';

/*
 * The real `terraform` binary against a real `berth serve` (the built binary, a child
 * process of its own): working directories with an http backend block, each initialised
 * once, and Terraform kept off the network (no checkpoint, no provider downloads: the
 * suite uses only the built-in terraform_data resource).
 */

/** Why the real-binary suite is skipped, or undefined when terraform runs here. */
export const TERRAFORM_MISSING: string | undefined = (() => {
  const r = spawnSync('terraform', ['version'], { encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
  return r.status === 0 ? undefined : 'terraform is not installed (or not on PATH)';
})();

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * What to undo when the test file ends (processes still running, then folders), in
 * reverse order. Registered here, at collection, as hooks registered later (inside a
 * beforeAll or a test) would never run.
 */
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Runs `fn` when the test file ends (after what was registered later). */
export function atFileEnd(fn: () => unknown): void {
  cleanups.push(fn);
}

/** A folder for the whole file, removed after it. */
export function fileDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `command ...args`; it is killed when the file ends if it still runs. */
function launch(command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Running {
  return startProcess(command, args, { env, cwd, input: '', onFinished: (fn) => cleanups.push(fn) });
}

/** A `berth serve` process for the whole file. */
export interface Serve {
  /** `http://127.0.0.1:PORT` or `https://…` */
  url: string;
  store: string;
  env: NodeJS.ProcessEnv;
  run: Running;
  /** Runs `berth ...args` against the same store, to its exit. */
  berth(args: readonly string[], env?: Record<string, string>): Promise<RunResult>;
}

/** The environment of berth (and terraform) processes: nothing of the machine's own berth or terraform set-up. */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...extra };
  for (const key of Object.keys(env)) {
    if ((/^(BERTH_|TF_)/.test(key) && !(key in extra)) || env[key] === undefined) delete env[key];
  }
  return env as NodeJS.ProcessEnv;
}

/** Starts `berth serve ...args` on a store of its own in `dir` and waits until it listens. */
export async function startBerthServe(
  dir: string,
  args: readonly string[],
  extraEnv: Record<string, string> = {},
): Promise<Serve> {
  const store = join(dir, 'store', 'berth.db');
  const env = cleanEnv({ BERTH_STORE: store, XDG_DATA_HOME: join(dir, 'xdg'), ...extraEnv });
  const run = launch(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', ...args], env, dir);
  cleanups.push(async () => {
    run.kill('SIGTERM');
    await run.done;
  });
  const out = await run.waitFor(/listening on .*\n/, 20_000);
  const url = /listening on (\S+?)(?:,| \()/.exec(out)![1]!;
  return {
    url,
    store,
    env,
    run,
    berth: (berthArgs, more = {}) => launch(process.execPath, [BIN, ...berthArgs], { ...env, ...more }, dir).done,
  };
}

/** A Terraform working directory with an http backend at one address. */
export interface TfDir {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs `terraform ...args` to its exit (colours stripped). */
  run(args: readonly string[], env?: Record<string, string>): Promise<RunResult>;
  /** Starts `terraform ...args` in a process group of its own (so a kill reaches its provisioners). */
  start(args: readonly string[]): Running & { killGroup(signal: NodeJS.Signals): void };
}

/** The backend block for a berth workspace address; `extra` adds attributes (username, password, …). */
export function backendBlock(url: string, workspace: string, extra: Record<string, string> = {}): string {
  const address = `${url}/v1/terraform/${workspace}`;
  const attrs = { address, lock_address: address, unlock_address: address, ...extra };
  const lines = Object.entries(attrs).map(([k, v]) => `    ${k} = ${JSON.stringify(v)}`);
  return `terraform {\n  backend "http" {\n${lines.join('\n')}\n  }\n}\n`;
}

/**
 * Makes `root/name` with `main.tf` (the backend block, then `hcl`) and runs `terraform
 * init` there once (with `initArgs`, e.g. `-backend-config=FILE`).
 * @throws when init fails, with its output
 */
export async function tfDir(
  root: string,
  name: string,
  files: { backend: string; hcl: string; extra?: Record<string, string> },
  opts: { env?: Record<string, string>; initArgs?: readonly string[]; init?: boolean } = {},
): Promise<TfDir> {
  const dir = join(root, name);
  const home = join(dir, '.home');
  mkdirSync(home, { recursive: true });
  const mirror = join(dir, '.no-providers');
  mkdirSync(mirror);
  // Only an empty local mirror to install from: a provider download could never reach the network.
  const rc = join(dir, '.terraformrc');
  writeFileSync(
    rc,
    `disable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(mirror)}\n  }\n}\n`,
  );
  writeFileSync(join(dir, 'main.tf'), files.backend + files.hcl);
  for (const [file, text] of Object.entries(files.extra ?? {})) writeFileSync(join(dir, file), text);
  const env = cleanEnv({
    HOME: home,
    TF_DATA_DIR: join(dir, '.terraform'),
    TF_CLI_CONFIG_FILE: rc,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_CLI_ARGS_init: '-input=false',
    CHECKPOINT_DISABLE: '1',
    ...opts.env,
  });
  const tf: TfDir = {
    dir,
    env,
    async run(args, more = {}) {
      const r = await launch('terraform', args, { ...env, ...more }, dir).done;
      return { ...r, stdout: r.stdout.replace(ANSI, ''), stderr: r.stderr.replace(ANSI, '') };
    },
    start(args) {
      // setsid: a group of its own, so that a kill reaches its provisioners' processes too.
      const running = launch('setsid', ['terraform', ...args], env, dir);
      const killGroup = (signal: NodeJS.Signals): void => {
        try {
          process.kill(-running.pid, signal);
        } catch {
          // Already gone.
        }
      };
      cleanups.push(() => killGroup('SIGKILL'));
      return { ...running, killGroup };
    },
  };
  if (opts.init !== false) {
    const init = await tf.run(['init', ...(opts.initArgs ?? [])]);
    if (init.code !== 0) throw new Error(`terraform init in ${dir} failed:\n${init.stdout}\n${init.stderr}`);
  }
  return tf;
}
