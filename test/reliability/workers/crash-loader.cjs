'use strict';
/*
 * Starts the crash worker bundle with V8's code cache (crash-harness.ts builds both):
 *
 *   node --no-opt crash-loader.cjs BUNDLE [--make-cache]
 *
 * The worker is started once per kill, hundreds of times a run: compiling its megabyte
 * of JavaScript from the cache instead of from source saves about a third of its start.
 * With --make-cache the loader saves the cache when the worker ends (a warm-up run that
 * ends by itself), so the cache holds every function the warm-up compiled. Node 20 has
 * no compile cache of its own (module.enableCompileCache came in Node 22), and none for
 * ES modules, hence CommonJS and vm.Script.
 */
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const [bundle, mode] = process.argv.slice(2);
const cacheFile = `${bundle}.cache`;
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // No cache yet: the warm-up run makes it.
}
const script = new vm.Script(Module.wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
if (mode === '--make-cache') process.once('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
const module_ = { exports: {} };
script
  .runInThisContext()
  .call(module_.exports, module_.exports, Module.createRequire(bundle), module_, bundle, path.dirname(bundle));
