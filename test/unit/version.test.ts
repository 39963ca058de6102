import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BERTH_VERSION } from '../../src/version.js';

it('the version berth records in locks and prints is package.json’s', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(BERTH_VERSION).toBe(pkg.version);
});
