import { actionSuite } from './actions.js';

actionSuite();
