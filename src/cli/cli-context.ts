import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Store } from '../store.js';
import { BerthError } from '../errors.js';
import { assertNamespace } from '../engine/rules/namespaces.js';
import { openStore } from '../open-store.js';
import { chunkedWriter, parseDuration, useColour, type Format } from './output.js';
import { reportError } from './report-error.js';

/** Options every command accepts (API.md "CLI"). */
export interface GlobalOptions {
  store?: string;
  namespace?: string;
  format: Format;
  lockTimeout?: string;
  /** A Go template given as `--format` (then `format` is table). */
  template?: string;
  /**
   * The command only reads: a store named with --store or BERTH_STORE that does not
   * exist is NO_SUCH_STORE, and nothing is created (DESIGN.md §2).
   */
  readOnly?: boolean;
  /** The command keeps the store open for long (`serve`). */
  longLived?: boolean;
}

/** Where the selected workspace is recorded, relative to the working directory (Terraform's .terraform/environment). */
export const WORKSPACE_FILE = join('.berth', 'workspace');

/** The manifest a stack command reads when no `-f FILE` is given. */
export const DEFAULT_MANIFEST = 'berth.yaml';

/** Where a stack command's namespace came from (the rule of `resolveStackNamespace`). */
export type NamespaceSource = 'flag' | 'manifest' | 'selection' | 'default';

/**
 * The one namespace rule of `workspace`, `state`, `plan`, `apply` and `destroy`:
 * `--namespace` > the manifest in use (its `namespace:`) > the namespace saved with the
 * selection in .berth/workspace > `''`.
 */
export function resolveStackNamespace(input: {
  flag?: string | undefined;
  manifest?: string | undefined;
  saved?: string | undefined;
}): { namespace: string; source: NamespaceSource } {
  if (input.flag !== undefined) return { namespace: input.flag, source: 'flag' };
  if (input.manifest !== undefined) return { namespace: input.manifest, source: 'manifest' };
  if (input.saved !== undefined) return { namespace: input.saved, source: 'selection' };
  return { namespace: '', source: 'default' };
}

/** What .berth/workspace records: the selected workspace and the namespace it lives in. */
export interface SavedSelection {
  name: string;
  namespace?: string;
}

/** Reads .berth/workspace: the name on the first line, then an optional `namespace=NS` line. */
export function readSavedSelection(cwd: string): SavedSelection | undefined {
  let text: string;
  try {
    text = readFileSync(join(cwd, WORKSPACE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const [first = '', ...rest] = text.split('\n').map((l) => l.trim());
  const ns = rest.find((l) => l.startsWith('namespace='));
  if (first === '' && ns === undefined) return undefined;
  return { name: first === '' ? 'default' : first, ...(ns !== undefined ? { namespace: ns.slice(10) } : {}) };
}

/**
 * What a command needs from its surroundings: the store (opened on first use), output
 * streams, the format, and the client-local workspace selection.
 */
export class CliContext {
  private store: Store | undefined;
  /** The namespace the store is opened in (the stack rule's, once a stack command resolved it). */
  private storeNamespace: string | undefined;
  readonly colour: boolean;
  readonly errColour: boolean;

  constructor(
    readonly options: GlobalOptions,
    readonly env: NodeJS.ProcessEnv = process.env,
    readonly cwd: string = process.cwd(),
  ) {
    this.colour = options.format === 'table' && useColour(process.stdout);
    this.errColour = useColour(process.stderr);
  }

  get json(): boolean {
    return this.options.format === 'json';
  }

  /** The store, opened once per command run. */
  async open(): Promise<Store> {
    if (!this.store) {
      try {
        assertNamespace(this.options.namespace ?? '');
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        throw new BerthError('INVALID_NAME', `--namespace: ${err.message}`, {
          details: { ...err.details, usage: true },
        });
      }
      const named = this.options.store !== undefined || (this.env.BERTH_STORE ?? '') !== '';
      try {
        this.store = await openStore({
          path: this.options.store,
          // A command reads most pages once; `serve` keeps the library's default.
          ...(this.options.longLived === true ? {} : { cacheSizeKiB: 2048 }),
          namespace: this.storeNamespace ?? this.options.namespace ?? '',
          ...(this.options.readOnly === true && named ? { create: false } : {}),
        });
      } catch (err) {
        if (!(err instanceof BerthError && err.code === 'NO_SUCH_STORE')) throw err;
        const where = this.options.store !== undefined ? '--store' : 'BERTH_STORE';
        throw new BerthError(
          'NO_SUCH_STORE',
          `${err.message.replace(/;.*$/, '')}; check ${where} for a typo, or create the store with \`berth init\` (a command that writes creates it too)`,
          { details: err.details, cause: err },
        );
      }
    }
    return this.store;
  }

  /**
   * The namespace of a workspace, state, plan, apply or destroy command, by the rule of
   * `resolveStackNamespace`; `file` is the command's `-f FILE` (else ./berth.yaml if present).
   */
  async stackNamespace(file?: string): Promise<{ namespace: string; source: NamespaceSource; manifest?: string }> {
    const flag = this.options.namespace;
    const path = file ?? (existsSync(resolve(this.cwd, DEFAULT_MANIFEST)) ? DEFAULT_MANIFEST : undefined);
    // The YAML parser is loaded only when a manifest is in use (`berth ps` never pays for it).
    const fromManifest =
      flag === undefined && path !== undefined
        ? (await import('./manifest-namespace.js')).manifestNamespace(resolve(this.cwd, path))
        : undefined;
    const resolved = resolveStackNamespace({
      flag,
      manifest: fromManifest,
      saved: readSavedSelection(this.cwd)?.namespace,
    });
    return { ...resolved, ...(fromManifest !== undefined ? { manifest: path } : {}) };
  }

  /** Opens the store confined to the stack namespace (see `stackNamespace`). */
  async openStack(file?: string): Promise<{ store: Store; namespace: string; source: NamespaceSource }> {
    const { namespace, source } = await this.stackNamespace(file);
    if (this.store && this.storeNamespace !== namespace) await this.close();
    this.storeNamespace = namespace;
    return { store: await this.open(), namespace, source };
  }

  async close(): Promise<void> {
    await this.store?.close();
    this.store = undefined;
  }

  /** `--lock-timeout` in milliseconds (0 when not given: fail at once, like Terraform's default of 0s). */
  get lockTimeoutMs(): number {
    return this.options.lockTimeout === undefined ? 0 : parseDuration(this.options.lockTimeout);
  }

  out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** Notes for people (progress, hints) go to stderr so stdout stays parseable. */
  note(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** Reports one error on stderr without ending the command (a batch goes on). */
  error(err: BerthError): void {
    reportError(err, this.json);
  }

  /** Prints exactly one JSON document on stdout. */
  printJson(value: unknown): void {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /**
   * Prints `items.map(toJson)` as one JSON array, the same text `printJson` would, built
   * row by row and written in chunks: a listing of 100k rows never holds every row's
   * object, nor one string of them all, at once.
   */
  printJsonArray<T>(items: readonly T[], toJson: (item: T, index: number) => unknown): void {
    const writer = this.jsonArrayWriter();
    for (let i = 0; i < items.length; i++) writer.push(toJson(items[i]!, i));
    writer.end();
  }

  /**
   * A JSON array printed as its elements come (`push`), the same text `printJson` of
   * the whole array would print, written in chunks of about 1 MiB; `end` closes it.
   */
  jsonArrayWriter(): { push(value: unknown): void; end(): void } {
    const out = chunkedWriter((chunk) => void process.stdout.write(chunk));
    let count = 0;
    return {
      push(value: unknown): void {
        // Stringified as the one element of an array, it comes indented one level already.
        const text = JSON.stringify([value], null, 2);
        out.push((count++ === 0 ? '[\n' : ',\n') + text.slice(2, -2));
      },
      end(): void {
        out.push(count === 0 ? '[]\n' : '\n]\n');
        out.end();
      },
    };
  }

  /** The selected workspace: BERTH_WORKSPACE > .berth/workspace > default. */
  selectedWorkspace(): { name: string; source: 'env' | 'file' | 'default' } {
    const fromEnv = this.env.BERTH_WORKSPACE;
    if (fromEnv) return { name: fromEnv, source: 'env' };
    const saved = readSavedSelection(this.cwd);
    if (saved) return { name: saved.name, source: 'file' };
    return { name: 'default', source: 'default' };
  }

  /**
   * Records the selected workspace in .berth/workspace of the working directory, with the
   * namespace it lives in (so later commands there find it without --namespace).
   */
  selectWorkspace(name: string, namespace: string): void {
    mkdirSync(join(this.cwd, '.berth'), { recursive: true });
    writeFileSync(join(this.cwd, WORKSPACE_FILE), name + '\n' + (namespace === '' ? '' : `namespace=${namespace}\n`));
  }

  /**
   * Asks for confirmation on a terminal; without one, `force` is required (so scripts
   * never hang on a prompt).
   */
  async confirm(question: string, force: boolean | undefined, flag = '--force'): Promise<void> {
    if (force) return;
    if (!process.stdin.isTTY) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `standard input is not a terminal, so berth cannot ask for confirmation; pass ${flag} to proceed`,
      );
    }
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = (
        await rl.question(`${question}\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: `)
      ).trim();
      if (answer !== 'yes') {
        throw new BerthError('INVALID_ARGUMENT', 'cancelled: the answer was not "yes"; nothing was changed');
      }
    } finally {
      rl.close();
    }
  }
}
