import { sqliteFactory } from '../helpers/store-factory.js';
import { lockConformance } from './locks.js';
import { workspaceConformance } from './workspaces.js';

workspaceConformance(sqliteFactory);
lockConformance(sqliteFactory);
