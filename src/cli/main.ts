import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BERTH_VERSION } from '../version.js';
import type { CliContext, GlobalOptions } from './cli-context.js';

/*
 * The berth command line. Only this file decides exit codes and catches errors.
 * Command modules are imported when their command runs, so `berth ps` never loads
 * what `berth doctor` needs (and `--help` loads no store at all).
 */

/** Exit codes (API.md): 0 success, 1 error, 2 usage error. */
const EXIT = { ok: 0, error: 1, usage: 2 } as const;

type Action = (ctx: CliContext, ...args: never[]) => unknown;
type Loader = () => Promise<Record<string, unknown>>;

const modules = {
  objects: () => import('./commands/objects.js'),
  workspaces: () => import('./commands/workspaces.js'),
  admin: () => import('./commands/admin.js'),
  stack: () => import('./commands/stack.js'),
  events: () => import('./commands/events.js'),
  serve: () => import('./commands/serve.js'),
} satisfies Record<string, Loader>;

let exitCode: number = EXIT.ok;
/** Whether this run asked for --format json (so that even commander's own errors are JSON). */
let jsonErrors = false;
let activeContext: CliContext | undefined;

/** Commands that only read: an explicitly named store that does not exist is NO_SUCH_STORE (DESIGN.md §2). */
const READ_ONLY = new Set([
  'ps',
  'inspect',
  'containerInspect',
  'podLs',
  'podInspect',
  'volumeLs',
  'volumeInspect',
  'workspaceList',
  'events',
  'stateShow',
]);

/** Commands whose `--format` may be a Go template. */
const TEMPLATED = new Set(['ps', 'inspect', 'containerInspect', 'podLs', 'podInspect', 'volumeLs', 'volumeInspect']);

/** `--format`: table, json, or a Go template (`{{.Names}}`, `table {{.ID}}\t{{.Status}}`). */
function parseFormat(value: string): string {
  if (value === 'table' || value === 'json' || value.includes('{{') || /^table\s/.test(value)) return value;
  throw new InvalidArgumentError("use table, json or a Go template such as '{{.Names}}'");
}

/** An action that loads `module`, builds the context and calls `name(ctx, ...positionals, options)`. */
function run(module: keyof typeof modules, name: string) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const positionals = args.slice(0, -2);
    const own = command.opts();
    const globals = command.optsWithGlobals() as Omit<GlobalOptions, 'format'> & { format?: string };
    const format = globals.format ?? 'table';
    const template = format === 'table' || format === 'json' ? undefined : format;
    if (template !== undefined && !TEMPLATED.has(name)) {
      const { usageError } = await import('./output.js');
      throw usageError(
        `berth ${command.name()} takes --format table or json; a Go template works with ps, pod ps, volume ls and inspect`,
        { format },
      );
    }
    if (globals.lockTimeout !== undefined) {
      // A malformed duration is a usage error, found before the store is opened.
      const { parseDuration } = await import('./output.js');
      parseDuration(globals.lockTimeout);
    }
    const { CliContext } = await import('./cli-context.js');
    activeContext = new CliContext({
      store: globals.store,
      namespace: globals.namespace,
      format: format === 'json' ? 'json' : 'table',
      lockTimeout: globals.lockTimeout,
      ...(template !== undefined ? { template } : {}),
      ...(READ_ONLY.has(name) ? { readOnly: true } : {}),
      ...(name === 'serve' ? { longLived: true } : {}),
    });
    const mod = await modules[module]();
    const fn = (mod as Record<string, unknown>)[name] as Action;
    const result = await (fn as (...a: unknown[]) => unknown)(activeContext, ...positionals, own);
    if (typeof result === 'number') exitCode = result;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Builds the whole command tree (also used to generate shell completion). */
export function buildProgram(): Command {
  const program = new Command('berth');
  program
    .description('berth: containers, pods, volumes and workspaces in one embedded state store, with locking')
    .version(BERTH_VERSION, '--version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // Under --format json the error is printed as a JSON document by main() instead.
      outputError: (s, write) => {
        if (!jsonErrors) write(`Error: ${commanderMessage(s)}\nRun \`berth --help\` for usage.\n`);
      },
    })
    .showSuggestionAfterError()
    .option('--store <PATH|URL>', 'the store (default: $BERTH_STORE, else $XDG_DATA_HOME/berth/berth.db)')
    .option('--namespace <NS>', 'confine the command to one namespace')
    .addOption(
      new Option('--format <FORMAT>', "output format: table, json, or a Go template ('{{.Names}}')")
        .argParser(parseFormat)
        .default('table'),
    )
    .option('--lock-timeout <DURATION>', 'how long to wait for a held lock (e.g. 30s)');

  const psCommand = (cmd: Command): Command =>
    cmd
      .option('-a, --all', 'show all containers (default: running only)')
      .option(
        '-f, --filter <KEY=VALUE>',
        'filter: id, name, label, label!, status, ancestor, pod, volume, namespace, before, since, exited (repeatable)',
        collect,
      )
      .option('--pod', 'show the pod of each container')
      .option('--sort <FIELD>', 'sort by command, created, id, image, names, runningfor, status or pod', 'created')
      .option('-n, --last <N>', 'show the N newest containers, in any state')
      .option('-l, --latest', 'show the newest container, in any state')
      .option('--no-trunc', 'do not cut ids or long cells')
      .option('-q, --quiet', 'print only container ids')
      .action(run('objects', 'ps'));

  psCommand(program.command('ps').description('list containers'));

  const container = program.command('container').description('manage containers');
  psCommand(container.command('ls').alias('list').description('list containers'));
  container
    .command('inspect')
    .description('show containers as JSON')
    .argument('<CONTAINER...>', 'ids, names or unique id prefixes')
    .action(run('objects', 'containerInspect'));
  container
    .command('create')
    .description('record a new container and print its id')
    .argument('<IMAGE>', 'image reference')
    .argument('[COMMAND...]', 'command and arguments')
    .option('--name <NAME>', 'container name (default: generated)')
    .option('--pod <POD>', 'add the container to this pod')
    .option('--label <KEY=VALUE>', 'label (repeatable)', collect)
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('-v, --volume <NAME:DEST>', 'named volume (repeatable)', collect)
    .option('--requires <CONTAINER>', 'a container this one depends on (repeatable)', collect)
    .option('--network <NETWORK>', 'connect to a network (repeatable)', collect)
    // Options after IMAGE that berth does not know belong to the command (sh -c ...), as in podman.
    .allowUnknownOption()
    .action(run('objects', 'containerCreate'));
  container
    .command('rm')
    .alias('remove')
    .description('remove containers')
    .argument('<CONTAINER...>', 'ids, names or unique id prefixes')
    .option('-f, --force', 'remove running containers and their exec sessions too')
    .action(run('objects', 'containerRm'));
  container
    .command('rename')
    .description('rename a container')
    .argument('<CONTAINER>', 'id, name or unique id prefix')
    .argument('<NAME>', 'the new name')
    .action(run('objects', 'containerRename'));

  program
    .command('rm')
    .description('remove containers (berth container rm)')
    .argument('<CONTAINER...>', 'ids, names or unique id prefixes')
    .option('-f, --force', 'remove running containers and their exec sessions too')
    .action(run('objects', 'containerRm'));
  program
    .command('inspect')
    .description('show containers, pods or volumes as JSON (each name tried as a container, then a pod, then a volume)')
    .argument('<NAME...>', 'ids, names or unique prefixes')
    .option('-t, --type <TYPE>', 'container, pod, volume, or all (default: all, in that order)')
    .action(run('objects', 'inspect'));
  program
    .command('version')
    .description('print the version (with --format json: also the Node.js version and the platform)')
    .action(run('objects', 'version'));

  const pod = program.command('pod').description('manage pods');
  pod
    .command('ps')
    .aliases(['ls', 'list'])
    .description('list pods')
    .option('-f, --filter <KEY=VALUE>', 'filter: id, name, label, status, namespace (repeatable)', collect)
    .option('--no-trunc', 'print whole ids')
    .option('-q, --quiet', 'print only pod ids')
    .action(run('objects', 'podLs'));
  pod
    .command('inspect')
    .description('show pods as JSON')
    .argument('<POD...>', 'ids, names or unique id prefixes')
    .action(run('objects', 'podInspect'));
  pod
    .command('create')
    .description('record a new pod and print its id')
    .argument('[NAME]', 'pod name (default: generated)')
    .option('--name <NAME>', 'pod name, as the argument')
    .option('--label <KEY=VALUE>', 'label (repeatable)', collect)
    .action(run('objects', 'podCreate'));
  pod
    .command('rm')
    .alias('remove')
    .description('remove pods')
    .argument('<POD...>', 'ids, names or unique id prefixes')
    .option('-f, --force', 'remove the pods’ containers too')
    .action(run('objects', 'podRm'));

  const volume = program.command('volume').description('manage volumes');
  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-f, --filter <KEY=VALUE>', 'filter: name, label, driver, namespace, dangling (repeatable)', collect)
    .option('-q, --quiet', 'print only volume names')
    .action(run('objects', 'volumeLs'));
  volume
    .command('inspect')
    .description('show volumes as JSON')
    .argument('<VOLUME...>', 'names or unique name prefixes')
    .action(run('objects', 'volumeInspect'));
  volume
    .command('create')
    .description('record a new volume')
    .argument('<NAME>', 'volume name')
    .option('--driver <DRIVER>', 'volume driver', 'local')
    .option('--label <KEY=VALUE>', 'label (repeatable)', collect)
    .option('-o, --opt <KEY=VALUE>', 'driver option (repeatable)', collect)
    .action(run('objects', 'volumeCreate'));
  volume
    .command('rm')
    .alias('remove')
    .description('remove volumes')
    .argument('<VOLUME...>', 'names or unique name prefixes')
    .action(run('objects', 'volumeRm'));
  volume
    .command('prune')
    .description('remove every volume no container uses')
    .option('-f, --force', 'do not ask for confirmation')
    .action(run('objects', 'volumePrune'));

  const network = program.command('network').description('connect containers to networks');
  network
    .command('connect')
    .description('connect a container to a network')
    .argument('<NETWORK>', 'network name')
    .argument('<CONTAINER>', 'id, name or unique id prefix')
    .option('--alias <ALIAS>', 'network alias (repeatable)', collect)
    .option('--ip <IP>', 'static IP address (repeatable)', collect)
    .option('--mac <MAC>', 'static MAC address')
    .option('--interface-name <NAME>', 'interface name inside the container')
    .action(run('objects', 'networkConnect'));
  network
    .command('disconnect')
    .description('disconnect a container from a network')
    .argument('<NETWORK>', 'network name')
    .argument('<CONTAINER>', 'id, name or unique id prefix')
    .action(run('objects', 'networkDisconnect'));

  const workspace = program.command('workspace').description('manage workspaces (named stack states)');
  workspace
    .command('new')
    .description('create a workspace and select it')
    .argument('<NAME>', 'workspace name')
    .action(run('workspaces', 'workspaceNew'));
  workspace
    .command('select')
    .description('select a workspace for later commands in this directory')
    .argument('<NAME>', 'workspace name')
    .option('--or-create', 'create the workspace if it does not exist')
    .action(run('workspaces', 'workspaceSelect'));
  workspace
    .command('delete')
    .description('delete a workspace and its history')
    .argument('<NAME>', 'workspace name')
    .option('--force', 'delete even if it is not empty')
    .action(run('workspaces', 'workspaceDelete'));
  workspace
    .command('list')
    .alias('ls')
    .description('list workspaces; * marks the selected one')
    .action(run('workspaces', 'workspaceList'));
  workspace.command('show').description('print the selected workspace').action(run('workspaces', 'workspaceShow'));

  const state = program.command('state').description("read and write the selected workspace's state");
  state
    .command('show')
    .description('print the current state (secrets shown as [secret])')
    .option('--show-secrets', 'decrypt secrets and show them as { "$secret": value }')
    .action(run('workspaces', 'stateShow'));
  state
    .command('history')
    .description('list the versions of the state, newest first')
    .option('--limit <N>', 'show at most N versions')
    .action(run('workspaces', 'stateHistory'));
  state
    .command('rollback')
    .description('write an earlier version of the state as a new version')
    .argument('<SERIAL>', 'the serial to roll back to')
    .option('--force', 'do not ask for confirmation')
    .action(run('workspaces', 'stateRollback'));
  state
    .command('export')
    .description('print the state as a versioned JSON envelope (secrets stay encrypted)')
    .option('--show-secrets', 'decrypt secrets, so that a store with another secrets key can import it')
    .action(run('workspaces', 'stateExport'));
  state
    .command('import')
    .description('import an exported state (FILE - reads stdin)')
    .argument('<FILE>', 'an export written by `berth state export`')
    .option('--force', 'replace a state of another lineage or a newer serial')
    .action(run('workspaces', 'stateImport'));
  state
    .command('lock')
    .description('lock the workspace, print the lock id and leave it held')
    .option('--operation <OP>', 'what the lock is for', 'manual')
    .option('--info <TEXT>', 'a note for others who find the lock')
    .action(run('workspaces', 'stateLock'));
  state
    .command('unlock')
    .description('release a lock taken with `berth state lock`')
    .argument('<LOCK_ID>', 'the id printed by `berth state lock`')
    .action(run('workspaces', 'stateUnlock'));
  state.command('locks').description('list every held lock, stale ones marked').action(run('workspaces', 'stateLocks'));

  program
    .command('force-unlock')
    .description('remove a lock whose holder is gone (asks for confirmation)')
    .argument('<LOCK_ID>', 'the exact id of the lock')
    .option('--force', 'do not ask for confirmation')
    .action(run('workspaces', 'forceUnlock'));

  program
    .command('plan')
    .description('show what applying a manifest would change (reads only, takes no lock)')
    .option('-f, --file <FILE>', 'the manifest (default: berth.yaml)')
    .option('--out <PLANFILE>', 'save the plan, to apply exactly it later')
    .option('--destroy', 'plan the removal of everything the workspace manages')
    .option('--refresh-only', 'plan only to record out-of-band changes in the workspace state')
    .option('--prune', 'also delete orphans (objects no workspace manages) in the namespace')
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are')
    .action(run('stack', 'plan'));
  program
    .command('apply')
    .description('apply a saved plan, or plan a manifest and apply it after confirmation')
    .argument('[PLANFILE]', 'a plan saved with `berth plan --out`')
    .option('-f, --file <FILE>', 'the manifest (default: berth.yaml)')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--allow-destroy', 'allow deleting or replacing volumes (their data is lost)')
    .option('--prune', 'also delete orphans in the namespace')
    .option('--refresh-only', 'record out-of-band changes in the workspace state, changing no object')
    .action(run('stack', 'apply'));
  program
    .command('destroy')
    .description("remove everything the selected workspace's last apply manages (needs no manifest)")
    .option('-f, --file <FILE>', 'a manifest, read only for its namespace (default: berth.yaml if present)')
    .option('--auto-approve', 'do not ask for confirmation')
    .action(run('stack', 'destroy'));
  program
    .command('graph')
    .description('print the dependency graph of a manifest or of the workspace (DOT, or Mermaid)')
    .option('-f, --file <FILE>', 'the manifest (default: berth.yaml if present, else the workspace)')
    .option('--mermaid', 'print Mermaid instead of DOT')
    .action(run('stack', 'graph'));

  program
    .command('events')
    .description('show the event journal (every change, in commit order)')
    .option('--since <SEQ|TIME>', 'events after this seq, or since a time (RFC 3339) or duration ago (10m)')
    .option('--until <SEQ|TIME>', 'events up to this seq or time')
    .option('--filter <KEY=VALUE>', 'type (container.create, container.*), namespace or subject (repeatable)', collect)
    .option('--follow', 'keep printing new events (also those written by other processes)')
    .action(run('events', 'events'));
  program
    .command('serve')
    .description(
      "serve the HTTP API: state, events (NDJSON or SSE), objects, force-unlock, and Terraform's http state backend",
    )
    .option(
      '--listen <ADDRESS>',
      'HOST:PORT or unix:///path.sock, repeatable (default: 127.0.0.1:7483); off loopback a token and TLS are required',
      collect,
    )
    .addOption(new Option('--token-file <FILE>', 'read the token clients must send from FILE').conflicts('token'))
    .option(
      '--token <TOKEN>',
      'the token clients must send (default: $BERTH_TOKEN); other local users see it in ps, prefer --token-file',
    )
    .option('--tls-cert <FILE>', 'serve TLS with this PEM certificate (chain)')
    .option('--tls-key <FILE>', 'the PEM private key of --tls-cert')
    .option('--tls-client-ca <FILE>', 'require client certificates signed by this PEM CA')
    .addOption(
      new Option('--insecure-http', 'allow plain HTTP off loopback (behind a TLS-terminating proxy)').conflicts(
        'tlsCert',
      ),
    )
    .option('--max-body <SIZE>', 'the largest request body: 64MiB, 10MB, 512k or bytes (default: 64MiB)')
    .option('--heartbeat <DURATION>', 'keep-alive interval on event streams', '15s')
    .option(
      '--terraform-lock-ttl <DURATION>',
      'show a Terraform lock as stale once it saw no state write for DURATION (e.g. 2h; default: never)',
    )
    .hook('preAction', async (cmd) => {
      const { checkServeUsage } = await import('./commands/serve.js');
      checkServeUsage(cmd);
    })
    .action(run('serve', 'serve'));

  program.command('init').description('create the store if needed').action(run('admin', 'init'));
  program
    .command('doctor')
    .description('check the store: schema, integrity, references, locks, permissions')
    .option('--repair', 'after a backup, remove dangling references and stale locks')
    .option('--force', 'repair without asking for confirmation')
    .action(run('admin', 'doctor'));
  program
    .command('backup')
    .description('copy the store into a new file, consistently, while writers go on (SQLite)')
    .argument('<FILE>', 'the backup file to create')
    .action(run('admin', 'backup'));
  program
    .command('restore')
    .description('replace the store with a backup (checked first; the old store is kept)')
    .argument('<FILE>', 'a file written by `berth backup`')
    .option('--force', 'do not ask for confirmation')
    .action(run('admin', 'restore'));
  const secrets = program
    .command('secrets')
    .description('the secrets key that encrypts secret values in states and manifests');
  secrets
    .command('keygen')
    .description('print a new random secrets key (base64) to put in BERTH_SECRETS_KEY or a key file')
    .action(run('admin', 'secretsKeygen'));
  secrets
    .command('status')
    .description('whether a secrets key is set and whether it opens the data keys in the store')
    .action(run('admin', 'secretsStatus'));
  secrets
    .command('rotate-key')
    .description('re-wrap every data key with a new secrets key (the current one must be set)')
    .requiredOption('--new-key-file <FILE>', 'a file holding the new key (FILE - reads stdin)')
    .action(run('admin', 'secretsRotateKey'));
  program
    .command('refresh')
    .description('reset runtime state as after a reboot (asks for confirmation)')
    .option('--force', 'do not ask for confirmation')
    .action(run('admin', 'refresh'));
  program
    .command('migrate')
    .description("bring the store's schema up to this berth, or copy the whole store to another backend")
    .option('--to <PATH|URL>', 'copy the store (objects, workspaces with history, events) into a new, empty store')
    .option('--to-schema <SCHEMA>', 'the PostgreSQL schema of the target (default: berth)')
    .action(run('admin', 'migrate'));

  program
    .command('__complete', { hidden: true })
    .description('print the names of containers, pods, volumes, workspaces or locks, for shell completion')
    .argument('<KIND>', 'containers, pods, volumes, workspaces or locks')
    .action(async (kind: string, _opts: unknown, cmd: Command) => {
      const { completeNames } = await import('./complete.js');
      const globals = cmd.optsWithGlobals() as { store?: string; namespace?: string };
      process.stdout.write(await completeNames(kind, globals));
    });
  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<SHELL>', 'bash or zsh')
    .action(async (shell: string) => {
      const [{ completionScript }, { usageError }, { BerthError }] = await Promise.all([
        import('./completion.js'),
        import('./output.js'),
        import('../errors.js'),
      ]);
      let script: string;
      try {
        script = completionScript(buildProgram(), shell);
      } catch (err) {
        // An unknown shell name is a mistake in the command line: exit 2.
        if (err instanceof BerthError && err.code === 'INVALID_ARGUMENT') throw usageError(err.message, err.details);
        throw err;
      }
      process.stdout.write(script);
    });

  return program;
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  exitCode = EXIT.ok;
  const wantsJson = jsonRequested(argv);
  jsonErrors = wantsJson;
  try {
    await program.parseAsync(terraformSpellings(program, argv), { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return EXIT.ok;
      }
      if (wantsJson) {
        const error = { code: 'INVALID_ARGUMENT', message: commanderMessage(err.message), details: { usage: true } };
        process.stderr.write(JSON.stringify({ error }) + '\n');
      }
      return EXIT.usage;
    }
    const { reportError } = await import('./report-error.js');
    reportError(err, wantsJson);
    const { isUsageError } = await import('./output.js');
    return isUsageError(err) ? EXIT.usage : EXIT.error;
  } finally {
    await activeContext?.close().catch(() => undefined);
  }
}

/** A command's long options that are not `--no-…` negations, by name without dashes. */
function longOptions(cmd: Command): Map<string, Option> {
  const out = new Map<string, Option>();
  for (const o of cmd.options) if (o.long) out.set(o.long.slice(2), o);
  return out;
}

/**
 * Terraform's single-dash long options (`-auto-approve`, `-out=FILE`, `-lock-timeout=10s`)
 * rewritten to berth's `--` form before commander parses. A word is rewritten only where
 * it is a long option of the command being run (or a global one), so that podman's short
 * clusters keep their meaning (`ps -aq`, `ps -f status=exited`). Nothing after `--` is
 * touched, nor anything after the first argument of a command that passes unknown options
 * on (`container create IMAGE sh -c …`).
 */
export function terraformSpellings(program: Command, argv: readonly string[]): string[] {
  const globals = longOptions(program);
  let cmd = program;
  let own = new Map<string, Option>();
  let sawArgument = false;
  const out: string[] = [];
  const takesValue = (o: Option | undefined): boolean => o !== undefined && (o.required || o.optional);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const passesUnknown = (cmd as unknown as { _allowUnknownOption?: boolean })._allowUnknownOption === true;
    if (passesUnknown && sawArgument) {
      out.push(word);
      continue;
    }
    if (word.startsWith('--')) {
      out.push(word);
      const name = word.slice(2).split('=')[0]!;
      const option = own.get(name) ?? globals.get(name);
      if (!word.includes('=') && takesValue(option) && i + 1 < argv.length) out.push(argv[++i]!);
      continue;
    }
    if (/^-[A-Za-z][A-Za-z0-9-]+(=.*)?$/.test(word)) {
      const name = word.slice(1).split('=')[0]!;
      const option = own.get(name) ?? globals.get(name);
      if (option) {
        out.push('-' + word);
        if (!word.includes('=') && takesValue(option) && i + 1 < argv.length) out.push(argv[++i]!);
        continue;
      }
    }
    if (word.startsWith('-')) {
      out.push(word);
      const short = word.length === 2 ? cmd.options.find((o) => o.short === word) : undefined;
      if (takesValue(short) && i + 1 < argv.length) out.push(argv[++i]!);
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub && !sawArgument) {
      cmd = sub;
      own = longOptions(sub);
    } else sawArgument = true;
    out.push(word);
  }
  return out;
}

/** commander's error text without its `error: ` prefix. */
function commanderMessage(text: string): string {
  return text.replace(/^error: /, '').trimEnd();
}

function jsonRequested(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => a === '--format' || a.startsWith('--format='));
  if (i < 0) return false;
  return argv[i] === '--format=json' || argv[i + 1] === 'json';
}
