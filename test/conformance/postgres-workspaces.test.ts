import { afterAll, describe, it } from 'vitest';
import { dropFreeSchemas, pgUrl, postgresFactory } from '../helpers/store-factory.js';
import { workspaceConformance } from './workspaces.js';

// The same suite as on SQLite, against PostgreSQL (BERTH_TEST_PG_URL; .ci/run sets it).
if (pgUrl) {
  workspaceConformance(postgresFactory);
  afterAll(dropFreeSchemas);
} else {
  describe('workspaces conformance (postgres)', () => {
    it.skip('skipped: set BERTH_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it', () => {});
  });
}
