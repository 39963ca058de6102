import { afterAll, describe, it } from 'vitest';
import { dropFreeSchemas, pgUrl, postgresFactory } from '../helpers/store-factory.js';
import { transactionSuite } from './transactions.js';

// The same suite as on SQLite, against PostgreSQL (BERTH_TEST_PG_URL; .ci/run sets it).
if (pgUrl) {
  transactionSuite(postgresFactory);
  afterAll(dropFreeSchemas);
} else {
  describe('store.transaction (postgres)', () => {
    it.skip('skipped: set BERTH_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it', () => {});
  });
}
