import { sqliteFactory } from '../helpers/store-factory.js';
import { transactionSuite } from './transactions.js';

transactionSuite(sqliteFactory);
