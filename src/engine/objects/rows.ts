import { BerthError } from '../../errors.js';
import type { Container, Pod, Volume } from '../types.js';

interface DocumentRow {
  config_json: string;
  state_json: string;
}

function parseDocument<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new BerthError('STORE_CORRUPT', `stored ${what} is not valid JSON; run \`berth doctor\``, { cause: err });
  }
}

/** Turns a containers row into the domain object. */
export function toContainer(row: DocumentRow): Container {
  return {
    config: parseDocument(row.config_json, 'container config'),
    state: parseDocument(row.state_json, 'container state'),
  };
}

/** Turns a pods row into the domain object. */
export function toPod(row: DocumentRow): Pod {
  return { config: parseDocument(row.config_json, 'pod config'), state: parseDocument(row.state_json, 'pod state') };
}

/** Turns a volumes row into the domain object. */
export function toVolume(row: DocumentRow): Volume {
  return {
    config: parseDocument(row.config_json, 'volume config'),
    state: parseDocument(row.state_json, 'volume state'),
  };
}

/** Parses a stored JSON document of the given kind. */
export function parseStored<T>(text: string, what: string): T {
  return parseDocument<T>(text, what);
}
