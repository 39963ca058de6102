import { postgresFactory, sqliteFactory } from '../helpers/store-factory.js';
import { describePg } from './helpers.js';
import { eventSuite, planSuite } from './suites.js';

/*
 * The same plan/apply and event-journal suites (test/postgres/suites.ts) on both
 * backends: SQLite always, PostgreSQL when BERTH_TEST_PG_URL is set.
 */

planSuite(sqliteFactory);
eventSuite(sqliteFactory);

describePg('plan/apply and events (postgres)', () => {
  planSuite(postgresFactory);
  eventSuite(postgresFactory);
});
