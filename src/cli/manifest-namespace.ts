import { readFileSync } from 'node:fs';
import { isMap, isScalar, parseDocument } from 'yaml';
import { BerthError } from '../errors.js';

/**
 * The `namespace:` a manifest declares (undefined when it declares none), read without
 * checking the rest of the manifest (plan and apply check it all).
 * @throws MANIFEST_INVALID when the file cannot be read or is not YAML
 */
export function manifestNamespace(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new BerthError('MANIFEST_INVALID', `cannot read manifest ${path}: ${why}`, {
      details: { file: path },
      cause: err,
    });
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new BerthError(
      'MANIFEST_INVALID',
      `${path} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it, or pass --namespace NS to choose the namespace without it`,
      { details: { file: path } },
    );
  }
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  const ns = root.get('namespace', true);
  return isScalar(ns) && typeof ns.value === 'string' ? ns.value : undefined;
}
