import { newObjectId } from '../../engine/objects/input.js';
import type {
  Container,
  ContainerConfig,
  ContainerSortKey,
  ContainerSummary,
  NetworkOptions,
  Pod,
  Volume,
} from '../../engine/types.js';
import { BerthError } from '../../errors.js';
import type { BatchItemResult, BatchResult } from '../../store.js';
import type { CliContext } from '../cli-context.js';
import { parseKeyValue, relativeTime, renderTable, shortId, terminalWidth } from '../output.js';

/*
 * Object commands (podman's ps/container/pod/volume/network): parse, call the store,
 * render a table or one JSON document.
 */

function toMap(pairs: readonly string[] | undefined, what: string): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  return Object.fromEntries(pairs.map((p) => parseKeyValue(p, what)));
}

function truncate(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/** podman-style status column: "Up 2 minutes", "Exited (0) 3 hours ago", "Created". */
function statusText(c: ContainerSummary, now: number): string {
  const { status, exitCode, startedAt, finishedAt } = c;
  switch (status) {
    case 'running':
      return startedAt ? `Up ${relativeTime(startedAt, now).replace(/ ago$/, '')}` : 'Up';
    case 'exited':
    case 'stopped':
      return `Exited${exitCode === null || exitCode === undefined ? '' : ` (${exitCode})`}${finishedAt ? ' ' + relativeTime(finishedAt, now) : ''}`;
    case 'created':
    case 'configured':
      return 'Created';
    default:
      return String(status).charAt(0).toUpperCase() + String(status).slice(1);
  }
}

// ------------------------------------------------------------------ containers

export interface PsOptions {
  all?: boolean;
  filter?: string[];
  pod?: boolean;
  sort?: string;
  quiet?: boolean;
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

/** `berth ps` / `berth container ls`: the engine's listing (filters, sort) of container summaries. */
export async function ps(ctx: CliContext, opts: PsOptions): Promise<void> {
  const filters = filtersOf(opts.filter ?? []);
  const store = await ctx.open();
  // As podman: a status filter shows the containers it names, running or not.
  const shown = await store.listContainers({
    all: opts.all === true || filters.status !== undefined,
    filters,
    ...(opts.sort !== undefined ? { sort: opts.sort as ContainerSortKey } : {}),
  });
  if (opts.quiet) {
    if (ctx.json) ctx.printJson(shown.map((c) => c.id));
    else for (const c of shown) ctx.out(shortId(c.id));
    return;
  }
  if (ctx.json) {
    ctx.printJson(
      shown.map((c) => ({
        id: c.id,
        name: c.name,
        namespace: c.namespace,
        pod: c.pod,
        image: c.image,
        status: c.status,
        createdAt: c.createdAt,
        labels: c.labels,
      })),
    );
    return;
  }
  const now = Date.now();
  const headers = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'];
  if (opts.pod) headers.push('POD ID', 'PODNAME');
  const rows = shown.map((c) => {
    const row = [
      shortId(c.id),
      truncate(c.image ?? '', 24),
      truncate(c.command.join(' '), 16),
      relativeTime(c.createdAt ?? undefined, now),
      statusText(c, now),
      c.name,
    ];
    if (opts.pod) row.push(c.pod ? shortId(c.pod) : '', c.podName ?? '');
    return row;
  });
  // Fit the terminal (80 columns when not one): COMMAND, then STATUS, CREATED and IMAGE give way.
  process.stdout.write(renderTable(headers, rows, { width: terminalWidth(), shrink: [2, 4, 3, 1] }));
}

/** `berth container inspect`: a JSON array of the containers, like podman. */
export async function containerInspect(ctx: CliContext, names: string[]): Promise<void> {
  const store = await ctx.open();
  const found: Container[] = [];
  for (const name of names) found.push(await store.lookupContainer(name));
  ctx.printJson(found);
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
  const added = opts.pod
    ? await store.addContainerToPod(await store.lookupPod(opts.pod), ctr)
    : await store.addContainer(ctr);
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

function podStatus(members: Container[]): string {
  if (members.length === 0) return 'Created';
  const statuses = members.map((m) => String(m.state.status));
  if (statuses.includes('running')) return statuses.every((s) => s === 'running') ? 'Running' : 'Degraded';
  if (statuses.every((s) => s === 'exited' || s === 'stopped')) return 'Exited';
  return 'Created';
}

/** `berth pod ls`. */
export async function podLs(ctx: CliContext, opts: { quiet?: boolean }): Promise<void> {
  const store = await ctx.open();
  const pods = await store.allPods();
  const members = new Map<string, Container[]>();
  for (const c of await store.allContainers()) {
    if (c.config.pod) members.set(c.config.pod, [...(members.get(c.config.pod) ?? []), c]);
  }
  const view = pods.map((p) => ({ pod: p, members: members.get(p.config.id) ?? [] }));
  if (opts.quiet) {
    if (ctx.json) ctx.printJson(view.map((v) => v.pod.config.id));
    else for (const v of view) ctx.out(shortId(v.pod.config.id));
    return;
  }
  if (ctx.json) {
    ctx.printJson(
      view.map(({ pod, members: m }) => ({
        id: pod.config.id,
        name: pod.config.name,
        namespace: pod.config.namespace ?? '',
        status: podStatus(m),
        createdAt: pod.config.createdAt ?? null,
        labels: pod.config.labels ?? {},
        containers: m.length,
      })),
    );
    return;
  }
  const now = Date.now();
  process.stdout.write(
    renderTable(
      ['POD ID', 'NAME', 'STATUS', 'CREATED', '# OF CONTAINERS'],
      view.map(({ pod, members: m }) => [
        shortId(pod.config.id),
        pod.config.name,
        podStatus(m),
        relativeTime(pod.config.createdAt, now),
        String(m.length),
      ]),
    ),
  );
}

/** `berth pod inspect`: a JSON array of the pods with their container ids. */
export async function podInspect(ctx: CliContext, names: string[]): Promise<void> {
  const store = await ctx.open();
  const out: (Pod & { containers: string[] })[] = [];
  for (const name of names) {
    const pod = await store.lookupPod(name);
    out.push({ ...pod, containers: await store.podContainersByID(pod) });
  }
  ctx.printJson(out);
}

/** `berth pod create [--name N] [--label K=V]...`: prints the new pod's id. */
export async function podCreate(ctx: CliContext, opts: { name?: string; label?: string[] }): Promise<void> {
  const store = await ctx.open();
  const id = newObjectId();
  const labels = toMap(opts.label, 'label');
  const pod = await store.addPod({
    config: { id, name: opts.name ?? `pod-${id.slice(0, 12)}`, ...(labels ? { labels } : {}) },
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

/** `berth volume ls`. */
export async function volumeLs(ctx: CliContext, opts: { quiet?: boolean }): Promise<void> {
  const store = await ctx.open();
  const vols = await store.allVolumes();
  if (opts.quiet) {
    if (ctx.json) ctx.printJson(vols.map((v) => v.config.name));
    else for (const v of vols) ctx.out(v.config.name);
    return;
  }
  if (ctx.json) return ctx.printJson(vols.map(volumeView));
  process.stdout.write(
    renderTable(
      ['DRIVER', 'VOLUME NAME'],
      vols.map((v) => [v.config.driver ?? 'local', v.config.name]),
    ),
  );
}

/** `berth volume inspect`. */
export async function volumeInspect(ctx: CliContext, names: string[]): Promise<void> {
  const store = await ctx.open();
  const out: Volume[] = [];
  for (const name of names) out.push(await store.lookupVolume(name));
  ctx.printJson(out);
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
