import { afterAll, describe, it } from 'vitest';
import { dropFreeSchemas, pgUrl, postgresFactory } from '../helpers/store-factory.js';
import { useFactory } from './helpers.js';
import { journalSuite } from './journal.js';

// The same suite as on SQLite, against PostgreSQL (BERTH_TEST_PG_URL; .ci/run sets it).
if (pgUrl) {
  useFactory(postgresFactory);
  journalSuite();
  afterAll(dropFreeSchemas);
} else {
  describe('journal (postgres)', () => {
    it.skip('skipped: set BERTH_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it', () => {});
  });
}
