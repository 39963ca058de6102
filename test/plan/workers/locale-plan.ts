import { loadManifest, openStore } from '../../../src/index.js';

/*
 * Plans (and with `apply`, applies) a manifest in whatever locale the process was
 * started with (LANG), and prints what must not depend on it: the plan's digest, its
 * manifest digest, the order of its changes, and its drift.
 *   locale-plan.ts STORE MANIFEST [apply]
 */

const [storePath, manifestPath, mode] = process.argv.slice(2);
const store = await openStore({ path: storePath! });
const plan = await store.plan('default', loadManifest(manifestPath!));
if (mode === 'apply') await store.apply(plan);
process.stdout.write(
  JSON.stringify({
    locale: Intl.Collator().resolvedOptions().locale,
    // Proof that the locale is in effect: Czech sorts "ch" after "h".
    chAfterH: 'chat'.localeCompare('hub') > 0,
    digest: plan.digest,
    manifestDigest: plan.manifestDigest,
    keys: plan.changes.map((c) => c.key),
    specDigests: plan.changes.map((c) => c.after?.digest ?? null),
    drift: plan.drift,
    changes: plan.summary,
  }) + '\n',
);
await store.close();
