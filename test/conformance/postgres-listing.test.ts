import { afterAll, describe, it } from 'vitest';
import { dropFreeSchemas, pgUrl, postgresFactory } from '../helpers/store-factory.js';
import { listingConformance } from './listing.js';

// The same suite as on SQLite, against PostgreSQL (BERTH_TEST_PG_URL; .ci/run sets it).
if (pgUrl) {
  listingConformance(postgresFactory);
  afterAll(dropFreeSchemas);
} else {
  describe('listing conformance (postgres)', () => {
    it.skip('skipped: set BERTH_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it', () => {});
  });
}
