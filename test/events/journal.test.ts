import { journalSuite } from './journal.js';

journalSuite();
