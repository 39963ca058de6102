/**
 * Takes a workspace lock and exits without releasing it, so the lock's holder process is
 * gone: `node --import tsx take-lock-and-exit.ts STORE WORKSPACE`. Creates the workspace
 * when missing, prints `{"lock":ID,"pid":PID}`, closes the store and exits 0.
 */
import { isBerthError, openStore } from '../../../src/index.js';

const [path, workspace] = process.argv.slice(2);
const store = await openStore({ path: path!, actor: `holder-${process.pid}@test` });
await store.workspaces.create(workspace!).catch((err: unknown) => {
  if (!isBerthError(err, 'WORKSPACE_EXISTS')) throw err;
});
const lock = await store.workspaces.lock(workspace!, { operation: 'apply', info: 'exits without unlocking' });
process.stdout.write(JSON.stringify({ lock: lock.id, pid: process.pid }) + '\n');
await store.close();
