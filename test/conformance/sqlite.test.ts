import { sqliteFactory } from '../helpers/store-factory.js';
import { namespaceConformance } from './namespaces.js';
import { listingConformance } from './listing.js';
import { objectConformance } from './objects.js';

objectConformance(sqliteFactory);
namespaceConformance(sqliteFactory);
listingConformance(sqliteFactory);
