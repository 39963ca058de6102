import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { BerthError } from '../../errors.js';
import { parseByteSize } from '../../server/byte-size.js';
import type { ServeOptions } from '../../server/http-server.js';
import { parseListenAddress, type ListenAddress } from '../../server/listen-address.js';
import type { CliContext } from '../cli-context.js';
import { parseDuration } from '../output.js';

/* `berth serve`: the HTTP API, until SIGINT or SIGTERM. */

/** The options of `berth serve` as commander hands them over. */
export interface ServeCommandOptions {
  listen?: string[];
  token?: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecureHttp?: boolean;
  maxBody?: string;
  heartbeat: string;
  terraformLockTtl?: string;
}

/** `--terraform-lock-ttl` in milliseconds; at least a second, as Terraform's writes are seconds apart. */
function terraformLockTtlMs(text: string): number {
  const ms = parseDuration(text);
  if (ms < 1000) throw new Error(`${JSON.stringify(text)} is shorter than a second; give e.g. 30m or 2h`);
  return ms;
}

/**
 * Usage checks of `berth serve` (a preAction hook, so a malformed --listen, --max-body or
 * --terraform-lock-ttl, or options that need each other, exit 2 as other usage errors do).
 */
export function checkServeUsage(cmd: Command): void {
  const o = cmd.opts<ServeCommandOptions>();
  const usage = (message: string): never => cmd.error(message, { exitCode: 2, code: 'berth.usage' });
  const parse = <T>(flag: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      return usage(`${flag}: ${(err as Error).message}`);
    }
  };
  for (const value of o.listen ?? []) parse('--listen', () => parseListenAddress(value));
  if (o.maxBody !== undefined) parse('--max-body', () => parseByteSize(o.maxBody!));
  if (o.terraformLockTtl !== undefined) parse('--terraform-lock-ttl', () => terraformLockTtlMs(o.terraformLockTtl!));
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
    usage('--tls-cert and --tls-key go together: give the certificate and its private key');
  }
  if (o.tlsClientCa !== undefined && o.tlsCert === undefined) {
    usage('--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS');
  }
}

function readFlagFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new BerthError('INVALID_ARGUMENT', `cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The token: --token, else --token-file, else BERTH_TOKEN. Never printed. */
function resolveToken(ctx: CliContext, opts: ServeCommandOptions): string | undefined {
  if (opts.token !== undefined) {
    if (opts.token === '') throw new BerthError('INVALID_ARGUMENT', '--token is empty; give the token clients send');
    return opts.token;
  }
  if (opts.tokenFile !== undefined) {
    const token = readFlagFile(opts.tokenFile, '--token-file').trim();
    if (token === '') {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `the token file ${opts.tokenFile} is empty; write a token into it (openssl rand -hex 32 > ${opts.tokenFile})`,
      );
    }
    if ((statSync(opts.tokenFile).mode & 0o077) !== 0) {
      ctx.note(`berth serve: warning: other users can read the token file ${opts.tokenFile}; chmod 600 it`);
    }
    return token;
  }
  return ctx.env.BERTH_TOKEN || undefined;
}

/** The addresses of the running server for people. */
function describe(urls: readonly string[], opts: ServeOptions): string {
  const guards = [
    ...(opts.token !== undefined ? ['token required'] : []),
    ...(opts.tls?.clientCa !== undefined ? ['client certificates required'] : []),
  ];
  return `listening on ${urls.join(', ')}${guards.length > 0 ? ` (${guards.join(', ')})` : ''}`;
}

/** `berth serve [--listen ADDRESS]...`: runs until SIGINT or SIGTERM, then drains and exits 0. */
export async function serve(ctx: CliContext, opts: ServeCommandOptions): Promise<void> {
  const listen: ListenAddress[] = (opts.listen ?? []).map(parseListenAddress);
  const token = resolveToken(ctx, opts);
  const serveOptions: ServeOptions = {
    ...(listen.length > 0 ? { listen } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(opts.tlsCert !== undefined && opts.tlsKey !== undefined
      ? {
          tls: {
            cert: readFlagFile(opts.tlsCert, '--tls-cert'),
            key: readFlagFile(opts.tlsKey, '--tls-key'),
            ...(opts.tlsClientCa !== undefined ? { clientCa: readFlagFile(opts.tlsClientCa, '--tls-client-ca') } : {}),
          },
        }
      : {}),
    ...(opts.insecureHttp ? { insecureHttp: true } : {}),
    ...(opts.maxBody !== undefined ? { maxBodyBytes: parseByteSize(opts.maxBody) } : {}),
    heartbeatMs: parseDuration(opts.heartbeat),
    ...(opts.terraformLockTtl !== undefined ? { terraformLockTtlMs: terraformLockTtlMs(opts.terraformLockTtl) } : {}),
    onInternalError: (err, req) =>
      ctx.note(
        `berth serve: bug answering ${req.method} ${req.url?.split('?')[0]}: ${err instanceof Error ? (ctx.env.BERTH_DEBUG === '1' ? err.stack : err.message) : String(err)}`,
      ),
  };
  const { checkServeOptions, startServer } = await import('../../server/http-server.js');
  // Refuse a bad address, token or certificate before the store is opened (or created).
  checkServeOptions(serveOptions);
  const store = await ctx.open();
  const running = await startServer(store, serveOptions);
  ctx.note(`berth serve: ${describe(running.urls, serveOptions)}, store ${store.location}`);

  // The first signal drains; a second one cuts what is still draining.
  let signals = 0;
  let stopRequested!: () => void;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (): void => {
    if (++signals === 1) stopRequested();
    else void running.close({ force: true });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await stop;
    ctx.note('berth serve: shutting down');
    await running.close();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
