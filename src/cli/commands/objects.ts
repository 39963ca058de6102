import { newObjectId } from '../../engine/objects/input.js';
import { checkContainerQuery, checkPodQuery, checkVolumeQuery, stateOf } from '../../engine/objects/listing-query.js';
import type {
  Container,
  ContainerConfig,
  ContainerSortKey,
  ContainerSummaryField,
  NetworkOptions,
  Pod,
  Volume,
} from '../../engine/types.js';
import { BerthError } from '../../errors.js';
import { BERTH_VERSION } from '../../version.js';
import type { BatchItemResult, BatchResult } from '../../store.js';
import type { CliContext } from '../cli-context.js';
import {
  POD_HEADERS,
  POD_TEMPLATE_FIELDS,
  PS_HEADERS,
  PS_JSON_SOURCES,
  PS_TEMPLATE_FIELDS,
  VOLUME_HEADERS,
  VOLUME_TEMPLATE_FIELDS,
  podJson,
  podTemplateData,
  psJson,
  psSources,
  psTemplateData,
  statusText,
  volumeJson,
  volumeTemplateData,
  type Row,
} from '../listing-views.js';
import {
  chunkedWriter,
  parseKeyValue,
  relativeTime,
  renderTable,
  shortId,
  terminalWidth,
  usageError,
  writeTable,
} from '../output.js';
import {
  checkFields,
  fieldsUsed,
  parseTemplate,
  renderTemplate,
  type Template,
  type TemplateData,
  type TemplateValue,
} from '../template.js';

/*
 * Object commands (podman's ps/container/pod/volume/network): parse, call the store,
 * render a table or one JSON document.
 */

function toMap(pairs: readonly string[] | undefined, what: string): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  return Object.fromEntries(pairs.map((p) => parseKeyValue(p, what)));
}

function truncate(text: string, max: number | undefined): string {
  return max !== undefined && text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/** The `--format` template of this run, parsed and checked against the fields offered. */
function templateOf(ctx: CliContext, fields: readonly string[], what: string): Template | undefined {
  const format = ctx.options.template;
  if (format === undefined) return undefined;
  const template = parseTemplate(format);
  checkFields(template, fields, what);
  // `--format table` alone is the default table.
  return template.table && template.nodes.length === 0 ? undefined : template;
}

// ------------------------------------------------------------------ containers

export interface PsOptions {
  all?: boolean;
  filter?: string[];
  pod?: boolean;
  sort?: string;
  quiet?: boolean;
  /** false with --no-trunc (commander's negated option). */
  trunc?: boolean;
  last?: string;
  latest?: boolean;
}

/** `--filter KEY=VALUE` options as the engine's filters (the engine checks keys and values). */
function filtersOf(pairs: readonly string[]): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const f of pairs) {
    const [key, value] = parseKeyValue(f, 'filter');
    (filters[key] ??= []).push(value);
  }
  return filters;
}

/** `-n/--last N` and `-l/--latest` (podman: the N newest containers, in any state). */
function lastOf(opts: PsOptions): number | undefined {
  if (opts.latest) {
    if (opts.last !== undefined) throw usageError('use either --latest or --last N, not both', {});
    return 1;
  }
  if (opts.last === undefined) return undefined;
  if (!/^\d{1,9}$/.test(opts.last)) {
    throw usageError(`--last ${JSON.stringify(opts.last)} is not a number of containers; use e.g. --last 5`, {
      value: opts.last,
    });
  }
  return Number(opts.last);
}

/**
 * `berth ps` / `berth container ls`: the engine's listing (filters, sort, limit) of
 * container summaries, reading only the fields shown.
 */
export async function ps(ctx: CliContext, opts: PsOptions): Promise<void> {
  const filters = filtersOf(opts.filter ?? []);
  const limit = lastOf(opts);
  const template = templateOf(ctx, PS_TEMPLATE_FIELDS, 'containers');
  const noTrunc = opts.trunc === false;
  let sources: ContainerSummaryField[];
  if (opts.quiet) sources = ['id'];
  else if (ctx.json) sources = [...PS_JSON_SOURCES];
  else if (template) sources = psSources(fieldsUsed(template));
  else sources = ['image', 'command', 'createdAt', 'state', 'exitCode', 'startedAt', 'finishedAt', 'name'];
  if (opts.pod && !ctx.json && !template) sources.push('pod', 'podName');
  // As podman: a status filter, --last and --latest show containers in any state.
  const query = {
    all: opts.all === true || filters.status !== undefined || limit !== undefined,
    filters,
    fields: sources,
    ...(opts.sort !== undefined ? { sort: opts.sort as ContainerSortKey } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  // The engine's own check, before the store is opened: a mistyped filter is a usage error.
  checkContainerQuery(query);
  const store = await ctx.open();
  const id = (x: string): string => (noTrunc ? x : shortId(x));
  const now = Date.now();
  // Each summary is printed (or turned into its cells) as it is read: `ps -a` on 100,000
  // containers never holds 100,000 summaries.
  if (opts.quiet && !ctx.json) {
    const out = chunkedWriter((chunk) => void process.stdout.write(chunk));
    await store.eachContainer(query, (c) => out.push(id(c.id) + '\n'));
    out.end();
    return;
  }
  if (ctx.json) {
    const writer = ctx.jsonArrayWriter();
    await store.eachContainer(query, (c: Row) => writer.push(opts.quiet ? c.id : psJson(c, now)));
    writer.end();
    return;
  }
  if (template) {
    const shown: Row[] = await store.listContainers(query);
    process.stdout.write(
      renderTemplate(
        template,
        shown.map((c) => psTemplateData(c, now, noTrunc)),
        { whole: (_, i) => psJson(shown[i]!, now) as TemplateValue, headers: PS_HEADERS },
      ),
    );
    return;
  }
  // On a terminal, long cells are cut (--no-trunc keeps them); a pipe or a file gets them whole.
  const width = noTrunc ? undefined : terminalWidth();
  const headers = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'];
  if (opts.pod) headers.push('POD ID', 'PODNAME');
  const rows: string[][] = [];
  await store.eachContainer(query, (c: Row) => {
    const row = [
      id(c.id),
      c.image ?? '',
      truncate((c.command ?? []).join(' '), width === undefined ? undefined : 16),
      relativeTime(c.createdAt ?? undefined, now),
      statusText(c, now),
      c.name ?? '',
    ];
    if (opts.pod) row.push(c.pod ? id(c.pod) : '', c.podName ?? '');
    rows.push(row);
  });
  // Fit the terminal: COMMAND, then STATUS, CREATED and IMAGE give way.
  writeTable(headers, rows, { ...(width !== undefined ? { width } : {}), shrink: [2, 4, 3, 1] }, (chunk) =>
    process.stdout.write(chunk),
  );
}

/** What `inspect --format` sees of a container: podman's fields, and berth's documents as `config` and `state`. */
function containerInspectData(c: Container): TemplateData {
  const st = c.state as Container['state'] & Record<string, unknown>;
  return {
    Id: c.config.id,
    Name: c.config.name,
    Image: c.config.image ?? '',
    Created: c.config.createdAt ?? '',
    Namespace: c.config.namespace ?? '',
    Pod: c.config.pod ?? '',
    State: {
      Status: stateOf(st.status),
      Running: st.status === 'running',
      ExitCode: typeof st.exitCode === 'number' ? st.exitCode : 0,
      StartedAt: typeof st.startedAt === 'string' ? st.startedAt : '',
      FinishedAt: typeof st.finishedAt === 'string' ? st.finishedAt : '',
    },
    Config: {
      Labels: c.config.labels ?? {},
      Env: Object.entries(c.config.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Cmd: c.config.command ?? [],
      Image: c.config.image ?? '',
    },
    Labels: c.config.labels ?? {},
    config: c.config as unknown as TemplateValue,
    state: c.state as unknown as TemplateValue,
  };
}

function podInspectData(p: Pod & { containers: string[] }): TemplateData {
  return {
    Id: p.config.id,
    Name: p.config.name,
    Created: p.config.createdAt ?? '',
    Namespace: p.config.namespace ?? '',
    Labels: p.config.labels ?? {},
    Containers: p.containers,
    NumContainers: p.containers.length,
    config: p.config as unknown as TemplateValue,
    state: p.state as unknown as TemplateValue,
  };
}

function volumeInspectData(v: Volume): TemplateData {
  return {
    Name: v.config.name,
    Driver: v.config.driver ?? 'local',
    Labels: v.config.labels ?? {},
    Options: v.config.options ?? {},
    Mountpoint: v.state.mountPoint ?? '',
    CreatedAt: v.config.createdAt ?? '',
    Scope: 'local',
    Namespace: v.config.namespace ?? '',
    config: v.config as unknown as TemplateValue,
    state: v.state as unknown as TemplateValue,
  };
}

const CONTAINER_INSPECT_FIELDS = [
  'Id',
  'Name',
  'Image',
  'Created',
  'Namespace',
  'Pod',
  'State',
  'Config',
  'Labels',
  'config',
  'state',
];
const POD_INSPECT_FIELDS = [
  'Id',
  'Name',
  'Created',
  'Namespace',
  'Labels',
  'Containers',
  'NumContainers',
  'config',
  'state',
];
/** A volume's inspect fields: its listing's, but the count of users, and its documents. */
const VOLUME_INSPECT_FIELDS = [...VOLUME_TEMPLATE_FIELDS.filter((f) => f !== 'Users'), 'config', 'state'];

/** An object found by an inspect command: its JSON, what a template sees, the fields it offers. */
type Inspected = { doc: unknown; data: TemplateData; fields: readonly string[]; what: string };

/**
 * Prints inspected objects: one JSON array, or with `--format TEMPLATE` one line per object
 * (`{{json .}}` is the object as the JSON array holds it).
 */
function printInspected(ctx: CliContext, found: readonly Inspected[], template: Template | undefined): void {
  if (!template) return ctx.printJson(found.map((f) => f.doc));
  for (const f of found) checkFields(template, f.fields, f.what);
  process.stdout.write(
    renderTemplate(
      template,
      found.map((f) => f.data),
      { whole: (_, i) => found[i]!.doc as TemplateValue },
    ),
  );
}

/** `berth container inspect`: a JSON array of the containers, like podman. */
export async function containerInspect(ctx: CliContext, names: string[]): Promise<void> {
  const template = templateOf(ctx, CONTAINER_INSPECT_FIELDS, 'containers');
  const store = await ctx.open();
  const found: Container[] = [];
  for (const name of names) found.push(await store.lookupContainer(name));
  printInspected(
    ctx,
    found.map((c) => ({ doc: c, data: containerInspectData(c), fields: CONTAINER_INSPECT_FIELDS, what: 'containers' })),
    template,
  );
}

/** The kinds `berth inspect --type` takes, in the order `all` tries them. */
const INSPECT_TYPES = ['container', 'pod', 'volume'] as const;

/**
 * `berth inspect [--type T] NAME...`: each name as a container, else a pod, else a volume
 * (podman's inspect falls through the kinds the same way); `--type` tries one kind only.
 */
export async function inspect(ctx: CliContext, names: string[], opts: { type?: string }): Promise<void> {
  const type = opts.type ?? 'all';
  if (type !== 'all' && !(INSPECT_TYPES as readonly string[]).includes(type)) {
    throw usageError(`--type ${JSON.stringify(type)} is not a kind berth inspects; use container, pod, volume or all`, {
      value: type,
    });
  }
  const kinds = type === 'all' ? INSPECT_TYPES : INSPECT_TYPES.filter((k) => k === type);
  const fields = [
    ...new Set([
      ...(kinds.includes('container') ? CONTAINER_INSPECT_FIELDS : []),
      ...(kinds.includes('pod') ? POD_INSPECT_FIELDS : []),
      ...(kinds.includes('volume') ? VOLUME_INSPECT_FIELDS : []),
    ]),
  ];
  const template = templateOf(ctx, fields, type === 'all' ? 'objects' : `${type}s`);
  const store = await ctx.open();
  const lookups: Record<(typeof INSPECT_TYPES)[number], [string, (name: string) => Promise<Inspected>]> = {
    container: [
      'NO_SUCH_CONTAINER',
      async (name) => {
        const c = await store.lookupContainer(name);
        return { doc: c, data: containerInspectData(c), fields: CONTAINER_INSPECT_FIELDS, what: 'containers' };
      },
    ],
    pod: [
      'NO_SUCH_POD',
      async (name) => {
        const pod = await store.lookupPod(name);
        const p = { ...pod, containers: await store.podContainersByID(pod) };
        return { doc: p, data: podInspectData(p), fields: POD_INSPECT_FIELDS, what: 'pods' };
      },
    ],
    volume: [
      'NO_SUCH_VOLUME',
      async (name) => {
        const v = await store.lookupVolume(name);
        return { doc: v, data: volumeInspectData(v), fields: VOLUME_INSPECT_FIELDS, what: 'volumes' };
      },
    ],
  };
  const found: Inspected[] = [];
  for (const name of names) {
    let hit: Inspected | undefined;
    for (const kind of kinds) {
      const [missing, lookup] = lookups[kind];
      try {
        hit = await lookup(name);
        break;
      } catch (err) {
        // One kind alone reports its own error; falling through, only a miss goes on.
        if (kinds.length === 1 || !(err instanceof BerthError && err.code === missing)) throw err;
      }
    }
    if (!hit) {
      throw new BerthError(
        'NO_SUCH_CONTAINER',
        `no container, pod or volume named ${JSON.stringify(name)}; list them with \`berth ps -a\`, \`berth pod ps\` and \`berth volume ls\``,
        { details: { input: name } },
      );
    }
    found.push(hit);
  }
  printInspected(ctx, found, template);
}

export interface ContainerCreateOptions {
  name?: string;
  pod?: string;
  label?: string[];
  env?: string[];
  volume?: string[];
  requires?: string[];
  network?: string[];
}

/** `berth container create IMAGE [COMMAND...]`: prints the new container's id. */
export async function containerCreate(
  ctx: CliContext,
  image: string,
  command: string[],
  opts: ContainerCreateOptions,
): Promise<void> {
  const store = await ctx.open();
  const config: Partial<ContainerConfig> = { image };
  if (opts.name !== undefined) config.name = opts.name;
  if (command.length > 0) config.command = command;
  const labels = toMap(opts.label, 'label');
  if (labels) config.labels = labels;
  const env = toMap(opts.env, 'env');
  if (env) config.env = env;
  if (opts.volume?.length) {
    config.namedVolumes = opts.volume.map((v) => {
      const at = v.indexOf(':');
      if (at <= 0 || at === v.length - 1) {
        throw new BerthError('INVALID_ARGUMENT', `volume ${JSON.stringify(v)} is not NAME:DEST`, {
          details: { value: v },
        });
      }
      return { name: v.slice(0, at), dest: v.slice(at + 1) };
    });
  }
  if (opts.requires?.length) {
    const deps: string[] = [];
    for (const r of opts.requires) deps.push(await store.lookupContainerID(r));
    config.dependencies = deps;
  }
  if (opts.network?.length) {
    config.networks = Object.fromEntries(opts.network.map((n): [string, NetworkOptions] => [n, {}]));
  }
  const id = newObjectId();
  config.id = id;
  config.name ??= `ctr-${id.slice(0, 12)}`;
  const ctr = { config: config as ContainerConfig, state: { status: 'configured' } };
  let added: Container;
  try {
    added = opts.pod
      ? await store.addContainerToPod(await store.lookupPod(opts.pod), ctr)
      : await store.addContainer(ctr);
  } catch (err) {
    // The engine names the container; a generated name was never seen by the user.
    if (opts.name === undefined && err instanceof BerthError && err.code === 'NO_SUCH_VOLUME') {
      const vol = String(err.details.name);
      throw new BerthError(
        'NO_SUCH_VOLUME',
        `volume ${vol} does not exist; create it first (\`berth volume create ${vol}\`), or name another with -v NAME:DEST`,
        { details: err.details },
      );
    }
    throw err;
  }
  if (ctx.json) ctx.printJson({ id: added.config.id, name: added.config.name });
  else ctx.out(added.config.id);
}

/**
 * Prints a batch removal as it happens: each removed object on stdout, each failure on
 * stderr; with --format json one document at the end. Exit 1 when any failed.
 */
async function removeBatch<T>(
  ctx: CliContext,
  run: (onResult: (r: BatchItemResult<T>) => void) => Promise<BatchResult<T>>,
  shown: (removed: T) => string,
): Promise<number> {
  const result = await run((r) => {
    if (ctx.json) return;
    if (r.removed !== undefined) ctx.out(shown(r.removed));
    else ctx.error(r.error!);
  });
  if (ctx.json) {
    ctx.printJson({
      removed: result.removed.map(shown),
      failed: result.failed.map((f) => ({ ref: f.ref, error: f.error.toJSON() })),
    });
    // Scripts that read errors from stderr find them there too: one document for the batch.
    const [first, ...more] = result.failed;
    if (first) {
      ctx.error(
        more.length === 0
          ? first.error
          : new BerthError(
              first.error.code,
              `${result.failed.length} of ${result.failed.length + result.removed.length} could not be removed: ${result.failed.map((f) => `${f.ref} (${f.error.code})`).join(', ')}`,
              { details: { failed: result.failed.map((f) => ({ ref: f.ref, error: f.error.toJSON() })) } },
            ),
      );
    }
  }
  return result.failed.length > 0 ? 1 : 0;
}

/** `berth container rm [-f] CONTAINER...`: -f also removes running containers and their exec sessions. */
export async function containerRm(ctx: CliContext, names: string[], opts: { force?: boolean }): Promise<number> {
  const store = await ctx.open();
  return removeBatch(
    ctx,
    (onResult) => store.removeContainers(names, { force: opts.force === true, onResult }),
    (c: Container) => c.config.id,
  );
}

/** `berth container rename CONTAINER NAME`. */
export async function containerRename(ctx: CliContext, target: string, newName: string): Promise<void> {
  const store = await ctx.open();
  const ctr = await store.lookupContainer(target);
  await store.safeRewriteContainerConfig(ctr, ctr.config.name, newName, { ...ctr.config, name: newName });
  if (ctx.json) ctx.printJson({ id: ctr.config.id, name: newName, oldName: ctr.config.name });
}

// ------------------------------------------------------------------ pods

export interface ListOptions {
  quiet?: boolean;
  filter?: string[];
  /** false with --no-trunc (commander's negated option). */
  trunc?: boolean;
}

/** `berth pod ps` / `pod ls`: the engine's pod listing, with podman's pod status. */
export async function podLs(ctx: CliContext, opts: ListOptions): Promise<void> {
  const filters = filtersOf(opts.filter ?? []);
  const template = templateOf(ctx, POD_TEMPLATE_FIELDS, 'pods');
  const noTrunc = opts.trunc === false;
  checkPodQuery({ filters });
  const store = await ctx.open();
  const pods = await store.listPods({ filters });
  const id = (x: string): string => (noTrunc ? x : shortId(x));
  if (opts.quiet) {
    if (ctx.json) ctx.printJson(pods.map((p) => p.id));
    else for (const p of pods) ctx.out(id(p.id));
    return;
  }
  if (ctx.json) return ctx.printJson(pods.map(podJson));
  const now = Date.now();
  if (template) {
    process.stdout.write(
      renderTemplate(
        template,
        pods.map((p) => podTemplateData(p, now, noTrunc)),
        { whole: (_, i) => podJson(pods[i]!) as TemplateValue, headers: POD_HEADERS },
      ),
    );
    return;
  }
  process.stdout.write(
    renderTable(
      ['POD ID', 'NAME', 'STATUS', 'CREATED', '# OF CONTAINERS'],
      pods.map((p) => [
        id(p.id),
        p.name,
        p.status,
        relativeTime(p.createdAt ?? undefined, now),
        String(p.containers.length),
      ]),
    ),
  );
}

/** `berth pod inspect`: a JSON array of the pods with their container ids. */
export async function podInspect(ctx: CliContext, names: string[]): Promise<void> {
  const template = templateOf(ctx, POD_INSPECT_FIELDS, 'pods');
  const store = await ctx.open();
  const out: (Pod & { containers: string[] })[] = [];
  for (const name of names) {
    const pod = await store.lookupPod(name);
    out.push({ ...pod, containers: await store.podContainersByID(pod) });
  }
  printInspected(
    ctx,
    out.map((p) => ({ doc: p, data: podInspectData(p), fields: POD_INSPECT_FIELDS, what: 'pods' })),
    template,
  );
}

/** `berth pod create [--label K=V]... [NAME]` (or `--name NAME`): prints the new pod's id. */
export async function podCreate(
  ctx: CliContext,
  positional: string | undefined,
  opts: { name?: string; label?: string[] },
): Promise<void> {
  if (positional !== undefined && opts.name !== undefined && positional !== opts.name) {
    throw usageError(
      `pod create got two names, ${JSON.stringify(positional)} and --name ${JSON.stringify(opts.name)}; give one`,
      {
        name: positional,
      },
    );
  }
  const labels = toMap(opts.label, 'label');
  const store = await ctx.open();
  const id = newObjectId();
  const pod = await store.addPod({
    config: { id, name: positional ?? opts.name ?? `pod-${id.slice(0, 12)}`, ...(labels ? { labels } : {}) },
    state: {},
  });
  if (ctx.json) ctx.printJson({ id: pod.config.id, name: pod.config.name });
  else ctx.out(pod.config.id);
}

/** `berth pod rm [-f] POD...`: -f removes each pod's containers with it, in one transaction per pod. */
export async function podRm(ctx: CliContext, names: string[], opts: { force?: boolean }): Promise<number> {
  const store = await ctx.open();
  return removeBatch(
    ctx,
    (onResult) => store.removePods(names, { force: opts.force === true, onResult }),
    (p: Pod) => p.config.id,
  );
}

// ------------------------------------------------------------------ volumes

function volumeView(v: Volume): Record<string, unknown> {
  return {
    name: v.config.name,
    driver: v.config.driver ?? 'local',
    namespace: v.config.namespace ?? '',
    labels: v.config.labels ?? {},
    options: v.config.options ?? {},
    createdAt: v.config.createdAt ?? null,
    mountPoint: v.state.mountPoint ?? null,
  };
}

/** `berth volume ls`: the engine's volume listing. */
export async function volumeLs(ctx: CliContext, opts: ListOptions): Promise<void> {
  const filters = filtersOf(opts.filter ?? []);
  const template = templateOf(ctx, VOLUME_TEMPLATE_FIELDS, 'volumes');
  checkVolumeQuery({ filters });
  const store = await ctx.open();
  const vols = await store.listVolumes({ filters });
  if (opts.quiet) {
    if (ctx.json) ctx.printJson(vols.map((v) => v.name));
    else for (const v of vols) ctx.out(v.name);
    return;
  }
  if (ctx.json) return ctx.printJson(vols.map(volumeJson));
  if (template) {
    process.stdout.write(
      renderTemplate(template, vols.map(volumeTemplateData), {
        whole: (_, i) => volumeJson(vols[i]!) as TemplateValue,
        headers: VOLUME_HEADERS,
      }),
    );
    return;
  }
  process.stdout.write(
    renderTable(
      ['DRIVER', 'VOLUME NAME'],
      vols.map((v) => [v.driver, v.name]),
    ),
  );
}

/** `berth volume inspect`. */
export async function volumeInspect(ctx: CliContext, names: string[]): Promise<void> {
  const template = templateOf(ctx, VOLUME_INSPECT_FIELDS, 'volumes');
  const store = await ctx.open();
  const out: Volume[] = [];
  for (const name of names) out.push(await store.lookupVolume(name));
  printInspected(
    ctx,
    out.map((v) => ({ doc: v, data: volumeInspectData(v), fields: VOLUME_INSPECT_FIELDS, what: 'volumes' })),
    template,
  );
}

/** `berth volume create NAME [--driver D] [--label K=V]... [--opt K=V]...`. */
export async function volumeCreate(
  ctx: CliContext,
  name: string,
  opts: { driver?: string; label?: string[]; opt?: string[] },
): Promise<void> {
  const store = await ctx.open();
  const labels = toMap(opts.label, 'label');
  const options = toMap(opts.opt, 'option');
  const vol = await store.addVolume({
    config: {
      name,
      driver: opts.driver ?? 'local',
      ...(labels ? { labels } : {}),
      ...(options ? { options } : {}),
    },
    state: {},
  });
  if (ctx.json) ctx.printJson(volumeView(vol));
  else ctx.out(vol.config.name);
}

/** `berth volume rm NAME...`. */
export async function volumeRm(ctx: CliContext, names: string[]): Promise<number> {
  const store = await ctx.open();
  return removeBatch(
    ctx,
    (onResult) => store.removeVolumes(names, { onResult }),
    (v: Volume) => v.config.name,
  );
}

/** `berth volume prune`: removes every volume no container uses, after confirmation. */
export async function volumePrune(ctx: CliContext, opts: { force?: boolean }): Promise<void> {
  const store = await ctx.open();
  const unused: Volume[] = [];
  for (const v of await store.allVolumes()) if ((await store.volumeInUse(v)).length === 0) unused.push(v);
  if (unused.length > 0) {
    await ctx.confirm(
      `WARNING! This will remove ${unused.length} volume(s) not used by any container: ${unused.map((v) => v.config.name).join(', ')}`,
      opts.force,
    );
  }
  const removed: string[] = [];
  for (const v of unused) {
    try {
      await store.removeVolume(v);
      removed.push(v.config.name);
    } catch (err) {
      // Taken into use since it was listed: keep it.
      if (!(err instanceof BerthError && (err.code === 'VOLUME_IN_USE' || err.code === 'NO_SUCH_VOLUME'))) throw err;
    }
  }
  if (ctx.json) ctx.printJson({ removed });
  else for (const n of removed) ctx.out(n);
}

// ------------------------------------------------------------------ version

/** `berth version`: the version, or with --format json the version, Node's version and the platform. */
export function version(ctx: CliContext): void {
  if (ctx.json) {
    ctx.printJson({
      version: BERTH_VERSION,
      node: process.versions.node,
      platform: process.platform,
      arch: process.arch,
    });
  } else ctx.out(`berth version ${BERTH_VERSION}`);
}

// ------------------------------------------------------------------ networks

/** `berth network connect [--alias A]... NETWORK CONTAINER`. */
export async function networkConnect(
  ctx: CliContext,
  network: string,
  container: string,
  opts: { alias?: string[]; ip?: string[]; mac?: string; interfaceName?: string },
): Promise<void> {
  const store = await ctx.open();
  const ctr = await store.lookupContainer(container);
  const options: NetworkOptions = {};
  if (opts.alias?.length) options.aliases = opts.alias;
  if (opts.ip?.length) options.staticIps = opts.ip;
  if (opts.mac) options.staticMac = opts.mac;
  if (opts.interfaceName) options.interfaceName = opts.interfaceName;
  await store.networkConnect(ctr, network, options);
  if (ctx.json) ctx.printJson({ container: ctr.config.id, network, options });
}

/** `berth network disconnect NETWORK CONTAINER`. */
export async function networkDisconnect(ctx: CliContext, network: string, container: string): Promise<void> {
  const store = await ctx.open();
  const ctr = await store.lookupContainer(container);
  await store.networkDisconnect(ctr, network);
  if (ctx.json) ctx.printJson({ container: ctr.config.id, network });
}
