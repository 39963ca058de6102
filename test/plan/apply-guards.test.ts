import { applyGuardSuite } from './apply-guards.js';

applyGuardSuite();
