import { isAbsolute } from 'node:path';
import { BerthError } from '../errors.js';

/*
 * Where `berth serve` listens: a TCP address (`HOST:PORT`, `[v6]:PORT`, `tcp://HOST:PORT`)
 * or a unix socket (`unix:///path.sock`, the form docker and podman use). Pure parsing,
 * so the CLI can check `--listen` as a usage error before loading anything else.
 */

/** A TCP address or a unix socket path. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** What `--listen` expects, for messages. */
export const LISTEN_FORMS = 'HOST:PORT (127.0.0.1:7483, [::1]:7483) or unix:///absolute/path.sock';

/**
 * Parses a `--listen` value.
 * @throws INVALID_ARGUMENT naming the accepted forms
 */
export function parseListenAddress(text: string): ListenAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!isAbsolute(path)) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${JSON.stringify(text)} names no absolute socket path; write unix:///run/berth/berth.sock (three slashes)`,
      );
    }
    return { kind: 'unix', path };
  }
  const m = /^(?:tcp:\/\/)?(\[[0-9A-Fa-f:.]+\]|[^:[\]/\s]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new BerthError('INVALID_ARGUMENT', `${JSON.stringify(text)} is not ${LISTEN_FORMS}`);
  }
  return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** True for 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: addresses other machines cannot reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(host);
}

/**
 * True when other machines may connect: a TCP address off loopback. A unix socket is
 * local by nature (and created 0600).
 */
export function isReachableFromOtherMachines(address: ListenAddress): boolean {
  return address.kind === 'tcp' && !isLoopback(address.host);
}

/** The address as `--listen` spells it (IPv6 hosts in brackets). */
export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
