import { BerthError } from '../../errors.js';

/* The NO_SUCH_* errors of the object store, worded once. */

/** No container with this id or name (in the handle's namespace). */
export function noSuchContainer(id: string): BerthError {
  return new BerthError(
    'NO_SUCH_CONTAINER',
    `no container with id or name ${JSON.stringify(id)}; list containers with \`berth ps -a\``,
    { details: { id } },
  );
}

/** No pod with this id or name (in the handle's namespace). */
export function noSuchPod(id: string): BerthError {
  return new BerthError(
    'NO_SUCH_POD',
    `no pod with id or name ${JSON.stringify(id)}; list pods with \`berth pod ls\``,
    {
      details: { id },
    },
  );
}

/** No volume with this name (in the handle's namespace). */
export function noSuchVolume(name: string): BerthError {
  return new BerthError(
    'NO_SUCH_VOLUME',
    `no volume named ${JSON.stringify(name)}; list volumes with \`berth volume ls\``,
    { details: { name } },
  );
}

/** No exec session with this id. */
export function noSuchExecSession(id: string): BerthError {
  return new BerthError('NO_SUCH_EXEC_SESSION', `no exec session with id ${JSON.stringify(id)}`, { details: { id } });
}
