import { chmodSync, lstatSync, rmSync, statSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { BerthError } from '../errors.js';

/*
 * `--listen unix:///path.sock`: a socket only its owner may use (0600, as docker's and
 * podman's are owner- or group-only), a stale file from a killed server replaced, a
 * socket a live server answers on never taken over, and anything else at the path left
 * alone.
 */

/** Resolves true when a server accepts connections on the socket at `path`. */
function isAnswering(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    const done = (live: boolean): void => {
      probe.destroy();
      resolve(live);
    };
    probe.setTimeout(2000, () => done(true)); // a server too busy to accept is still alive
    probe.once('connect', () => done(true));
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else
        reject(
          new BerthError('INVALID_ARGUMENT', `cannot tell whether a server uses unix://${path}: ${err.message}`, {
            cause: err,
          }),
        );
    });
  });
}

/**
 * Makes `path` free for a new socket: removes a socket file nobody answers on.
 * @throws INVALID_ARGUMENT when a live server uses it or another kind of file is there
 */
export async function claimSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new BerthError('INVALID_ARGUMENT', `cannot use unix://${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!isSocket) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `${path} exists and is not a socket; berth serve replaces only a stale socket: move the file away or choose another unix:// path`,
    );
  }
  if (await isAnswering(path)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `another server is listening on unix://${path}; stop it first, or choose another unix:// path`,
    );
  }
  rmSync(path, { force: true }); // stale: the server that made it is gone
}

/**
 * Starts `server` on the socket at `path`, created 0600 (the umask is narrowed around
 * the bind, so the socket is never open to others, not even for an instant).
 * Resolves with the socket's inode, to remove only this socket later.
 */
export async function listenOnSocket(server: Server, path: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    let umask: number | undefined;
    try {
      umask = process.umask(0o177);
    } catch {
      // Worker threads cannot change the umask: the chmod below still applies.
    }
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  });
  chmodSync(path, 0o600);
  return statSync(path).ino;
}

/** Removes the socket file if it is still the one this server made (closing usually has). */
export function removeSocket(path: string, ino: number): void {
  try {
    if (lstatSync(path).ino === ino) rmSync(path, { force: true });
  } catch {
    // Already gone.
  }
}
