import { sqliteFactory } from '../helpers/store-factory.js';
import { namespaceConformance } from './namespaces.js';
import { objectConformance } from './objects.js';

objectConformance(sqliteFactory);
namespaceConformance(sqliteFactory);
