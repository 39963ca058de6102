import { BerthError } from '../errors.js';
import { paint, useColour } from './output.js';

/**
 * Prints an error for a person (`Error: <message>`) or, with --format json, as
 * `{"error":{"code","message","details"}}`, on stderr. A stack trace only with BERTH_DEBUG=1.
 */
export function reportError(err: unknown, json: boolean): void {
  const berth =
    err instanceof BerthError
      ? err
      : new BerthError(
          'INTERNAL',
          `unexpected error: ${err instanceof Error ? err.message : String(err)}; rerun with BERTH_DEBUG=1 and report it`,
          {
            cause: err,
          },
        );
  if (json) {
    process.stderr.write(JSON.stringify({ error: berth.toJSON() }) + '\n');
  } else {
    process.stderr.write(`${paint(useColour(process.stderr), 'red', 'Error:')} ${berth.message}\n`);
  }
  if (process.env.BERTH_DEBUG === '1') {
    process.stderr.write(`${(err instanceof Error && err.stack) || String(err)}\n`);
    if (berth.cause instanceof Error && berth.cause !== err) process.stderr.write(`caused by: ${berth.cause.stack}\n`);
  }
}
