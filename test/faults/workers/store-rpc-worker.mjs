/*
 * A berth store in a process of its own, driven over stdio by the PostgreSQL fault suite
 * with one JSON command per line, so that a crash of the process (an unhandled 'error'
 * event of the driver) is seen as what it is: the process dies. Plain JavaScript on the
 * built library (dist/, as the CLI suite runs the built binary): a dozen of these start
 * per run, and loading src/ through tsx would cost each a second of CPU more.
 *
 * Commands ({"id": N, "op": …}) and what they answer ({"id": N, …}):
 * - open {options}: openStore(options) → {ok} or {ok: false, error}; again after a failure.
 * - call {path, args, tx?}: a method by path ("workspaces.readState"), on the open
 *   transaction's tx when `tx` is set → {ok, value} or {ok: false, error}.
 * - begin: opens store.transaction; its outcome is answered under this id once it settles.
 * - commit / abort: returns from (or throws in) the open transaction's callback → {ok}.
 * - writer {prefix, pauseMs}: adds containers `<prefix>-<i>` in a loop, answering
 *   {ack: name} per committed add and {fail: error} per failed one, until stop {target}.
 * - follow {since, retry}: follows the journal → {event: seq} per event, {retry: code} per
 *   retry, until stop {target}; {ok: false, error} if it throws.
 * - ping → {pong: pid}. close → {ok} after store.close().
 *
 * An error is {berth, code, name, message, details}: `berth` false (a raw error) fails the suite.
 */
import { createInterface } from 'node:readline';
import { isBerthError, openStore } from '../../../dist/index.js';

let store;
let tx;
let endTransaction;
const loops = new Map();

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function wire(err) {
  if (isBerthError(err))
    return { berth: true, code: err.code, name: err.name, message: err.message, details: err.details };
  return {
    berth: false,
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
    name: typeof err?.name === 'string' ? err.name : typeof err,
    message: typeof err?.message === 'string' ? err.message : String(err),
  };
}

function opened() {
  if (!store) throw new Error('no store is open: send {"op":"open"} first');
  return store;
}

async function call(on, path, args) {
  const parts = path.split('.');
  let owner = on;
  for (const part of parts.slice(0, -1)) owner = owner[part];
  const fn = owner[parts[parts.length - 1]];
  if (typeof fn !== 'function') throw new Error(`${path} is not a method of the store`);
  return fn.apply(owner, args);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function writer(cmd) {
  let running = true;
  loops.set(cmd.id, () => (running = false));
  void (async () => {
    let acks = 0;
    let fails = 0;
    for (let i = 0; running; i++) {
      const name = `${cmd.prefix}-${i}`;
      try {
        await opened().addContainer({ config: { name, image: 'busybox' } });
        acks++;
        send({ id: cmd.id, ack: name });
      } catch (err) {
        fails++;
        send({ id: cmd.id, fail: wire(err), name });
        // An outage is no reason to spin: the next attempt waits a little.
        await sleep(50);
      }
      if (cmd.pauseMs) await sleep(cmd.pauseMs);
    }
    send({ id: cmd.id, stopped: true, acks, fails });
  })();
}

function follow(cmd) {
  const ctl = new AbortController();
  loops.set(cmd.id, () => ctl.abort());
  void (async () => {
    try {
      for await (const e of opened().events.follow({
        ...(cmd.since !== undefined ? { since: cmd.since } : {}),
        ...(cmd.retry !== undefined ? { retry: cmd.retry } : {}),
        signal: ctl.signal,
        onRetry: (err) => send({ id: cmd.id, retry: err.code }),
      })) {
        send({ id: cmd.id, event: e.seq });
      }
      send({ id: cmd.id, stopped: true });
    } catch (err) {
      send({ id: cmd.id, ok: false, error: wire(err) });
    }
  })();
}

async function handle(cmd) {
  switch (cmd.op) {
    case 'ping':
      return send({ id: cmd.id, pong: process.pid });
    case 'open':
      try {
        store = await openStore(cmd.options ?? {});
        return send({ id: cmd.id, ok: true });
      } catch (err) {
        return send({ id: cmd.id, ok: false, error: wire(err) });
      }
    case 'call':
      try {
        const on = cmd.tx ? tx : opened();
        if (!on) throw new Error('no transaction is open');
        const value = await call(on, cmd.path, cmd.args ?? []);
        return send({ id: cmd.id, ok: true, value: value ?? null });
      } catch (err) {
        return send({ id: cmd.id, ok: false, error: wire(err) });
      }
    case 'begin':
      opened()
        .transaction(
          (t) =>
            new Promise((resolve, reject) => {
              tx = t;
              endTransaction = (outcome) => (outcome === 'commit' ? resolve() : reject(new Error('aborted')));
              send({ id: cmd.id, begun: true });
            }),
        )
        .then(
          () => send({ id: cmd.id, ok: true }),
          (err) => send({ id: cmd.id, ok: false, error: wire(err) }),
        )
        .finally(() => {
          tx = undefined;
          endTransaction = undefined;
        });
      return;
    case 'commit':
    case 'abort':
      endTransaction?.(cmd.op);
      return send({ id: cmd.id, ok: true });
    case 'writer':
      return writer(cmd);
    case 'follow':
      return follow(cmd);
    case 'stop':
      loops.get(cmd.target)?.();
      loops.delete(cmd.target);
      return send({ id: cmd.id, ok: true });
    case 'close':
      await store?.close();
      return send({ id: cmd.id, ok: true });
    default:
      return send({ id: cmd.id, ok: false, error: wire(new Error(`unknown op ${cmd.op}`)) });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  void handle(JSON.parse(line));
});
send({ ready: true, pid: process.pid });
