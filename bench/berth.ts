/*
 * berth as the benches load it: the built library (dist/), what `npm install berth` gives
 * a user. bench/run.ts rebuilds dist/ first when it is older than src/ (bench/build.ts).
 */
export * from '../dist/index.js';
export { startServer } from '../dist/server/http-server.js';
