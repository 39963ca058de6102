// Preloaded (NODE_OPTIONS=--require) into a berth child process by the fault suite: at
// exit it writes the CPU time the process used, in milliseconds, to BERTH_TEST_CPU_FILE.
// CPU time, unlike wall-clock time, does not grow while a busy machine keeps the
// process waiting, so "fails fast" can be asserted without flakiness.
'use strict';
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  writeFileSync(process.env.BERTH_TEST_CPU_FILE, String((user + system) / 1000));
});
