// Records every module a Node process loads (bench/cli-start.ts):
//   BENCH_MODULE_TRACE=<out file> node --import ./bench/module-trace.mjs <script> ...
// ES modules through a load hook (module.register), CommonJS through Module.prototype.require.
// One line per module: its file URL or path.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const out = process.env.BENCH_MODULE_TRACE;
if (out) {
  register('./module-trace-hooks.mjs', import.meta.url, { data: { out } });
  const require = Module.prototype.require;
  Module.prototype.require = function traced(id) {
    const loaded = require.call(this, id);
    if (!Module.isBuiltin(id)) {
      try {
        appendFileSync(out, `${pathToFileURL(Module._resolveFilename(id, this)).href}\n`);
      } catch {
        // Not resolvable as a file (e.g. a native addon found another way): skip it.
      }
    }
    return loaded;
  };
}
