import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Where a store lives: a SQLite file or a PostgreSQL URL. */
export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/**
 * Resolves the store location: an explicit path or URL, else `BERTH_STORE`, else
 * `$XDG_DATA_HOME/berth/berth.db` (`~/.local/share/berth/berth.db`).
 */
export function resolveStoreLocation(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): StoreLocation {
  const chosen = explicit ?? (env.BERTH_STORE || undefined);
  if (chosen !== undefined) {
    if (isPostgresUrl(chosen)) return { kind: 'postgres', url: chosen };
    return { kind: 'sqlite', path: isAbsolute(chosen) ? chosen : resolve(chosen) };
  }
  const dataHome =
    env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return { kind: 'sqlite', path: join(dataHome, 'berth', 'berth.db') };
}

/** A URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}
