import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSecretsKey, restoreStore } from '../../src/index.js';
import { expectCode } from '../conformance/builders.js';
import { sqliteFactory, tempDir } from '../helpers/store-factory.js';
import { cliWorld, fails, failsJson, ok, okJson, requireBuiltCli } from '../cli/helpers.js';
import { secretsSuite } from './secrets.js';

secretsSuite(sqliteFactory);

requireBuiltCli();

describe('secrets (sqlite): backup and restore', () => {
  it('a backup carries the data keys: after a restore the same key still opens every secret', async () => {
    const key = generateSecretsKey();
    const store = await sqliteFactory.open({ secretsKey: key });
    await store.workspaces.writeState('default', { p: { $secret: 'before-backup' } });
    const backup = join(tempDir(), 'backup.db');
    await store.backup(backup);
    await store.workspaces.create('later');
    await store.workspaces.writeState('later', { p: { $secret: 'after-backup' } });
    await restoreStore(store, backup);
    expect((await store.workspaces.readState('default', { showSecrets: true })).state).toEqual({
      p: { $secret: 'before-backup' },
    });
    expect((await store.secrets.status()).dataKeys).toBe(1);
    await expectCode(store.workspaces.get('later'), 'NO_SUCH_WORKSPACE');
  });
});

const PASSWORD = 'cli-Pa55w0rd-unique-5d2e';

describe('secrets on the command line', () => {
  it('state show redacts, --show-secrets decrypts, export keeps them encrypted', async (t) => {
    const w = cliWorld(t);
    const key = ok(await w.run(['secrets', 'keygen'])).trim();
    const env = { BERTH_SECRETS_KEY: key };
    await w.seed(
      async (s) => void (await s.workspaces.writeState('default', { db: { password: { $secret: PASSWORD } } })),
      {
        secretsKey: key,
      },
    );

    const shown = ok(await w.run(['state', 'show']));
    expect(JSON.parse(shown)).toEqual({ db: { password: '[secret]' } });
    const json = okJson<{ state: unknown }>(await w.run(['state', 'show', '--format', 'json']));
    expect(json.state).toEqual({ db: { password: '[secret]' } });

    const revealed = okJson<{ state: unknown }>(
      await w.run(['state', 'show', '--show-secrets', '--format', 'json'], { env }),
    );
    expect(revealed.state).toEqual({ db: { password: { $secret: PASSWORD } } });

    const exported = ok(await w.run(['state', 'export']));
    expect(exported).not.toContain(PASSWORD);
    expect(JSON.parse(exported).secretsKeys).toBeDefined();
    expect(ok(await w.run(['state', 'export', '--show-secrets'], { env }))).toContain(PASSWORD);

    // Without the key, --show-secrets is a clear error.
    const err = failsJson(await w.run(['state', 'show', '--show-secrets', '--format', 'json']), 'SECRETS_KEY_MISSING');
    expect(err.message).toMatch(/BERTH_SECRETS_KEY/);
  });

  it('a key file works like the variable; a missing key file is SECRETS_KEY_INVALID', async (t) => {
    const w = cliWorld(t);
    const key = ok(await w.run(['secrets', 'keygen'])).trim();
    const file = join(w.dir, 'berth.key');
    writeFileSync(file, key + '\n', { mode: 0o600 });
    await w.seed(async (s) => void (await s.workspaces.writeState('default', { p: { $secret: PASSWORD } })), {
      secretsKey: key,
    });
    const out = ok(await w.run(['state', 'show', '--show-secrets'], { env: { BERTH_SECRETS_KEY_FILE: file } }));
    expect(out).toContain(PASSWORD);
    const msg = fails(await w.run(['state', 'show'], { env: { BERTH_SECRETS_KEY_FILE: join(w.dir, 'missing.key') } }));
    expect(msg).toMatch(/secrets key file .*missing\.key.*ENOENT/);
  });

  it('secrets status and rotate-key', async (t) => {
    const w = cliWorld(t);
    const oldKey = ok(await w.run(['secrets', 'keygen'])).trim();
    const newKey = ok(await w.run(['secrets', 'keygen'])).trim();
    expect(newKey).not.toBe(oldKey);
    await w.seed(async (s) => void (await s.workspaces.writeState('default', { p: { $secret: PASSWORD } })), {
      secretsKey: oldKey,
    });
    const status = okJson<{ keyConfigured: boolean; dataKeys: number; opens: boolean }>(
      await w.run(['secrets', 'status', '--format', 'json'], { env: { BERTH_SECRETS_KEY: oldKey } }),
    );
    expect(status).toMatchObject({ keyConfigured: true, dataKeys: 1, opens: true });
    const missing = await w.run(['secrets', 'status']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/not set/);
    expect(missing.stdout).toMatch(/set BERTH_SECRETS_KEY/);

    // doctor: without a key it notes the secrets it cannot check; with a wrong key it fails.
    const doctor = await w.run(['doctor']);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toMatch(/^note {2}secrets: key not set, 1 data key/m);
    const wrongDoctor = await w.run(['doctor'], { env: { BERTH_SECRETS_KEY: newKey } });
    expect(wrongDoctor.code).toBe(1);
    expect(wrongDoctor.stdout).toMatch(/^FAIL {2}secrets: .*not the one the data keys are wrapped with/m);

    const file = join(w.dir, 'new.key');
    writeFileSync(file, newKey, { mode: 0o600 });
    const rotated = ok(
      await w.run(['secrets', 'rotate-key', '--new-key-file', file], { env: { BERTH_SECRETS_KEY: oldKey } }),
    );
    expect(rotated).toMatch(/Re-wrapped 1 data key/);
    failsJson(
      await w.run(['state', 'show', '--show-secrets', '--format', 'json'], { env: { BERTH_SECRETS_KEY: oldKey } }),
      'SECRETS_KEY_MISMATCH',
    );
    expect(ok(await w.run(['state', 'show', '--show-secrets'], { env: { BERTH_SECRETS_KEY: newKey } }))).toContain(
      PASSWORD,
    );
    const gone = failsJson(
      await w.run(['secrets', 'rotate-key', '--new-key-file', join(w.dir, 'nowhere.key'), '--format', 'json'], {
        env: { BERTH_SECRETS_KEY: newKey },
      }),
      'SECRETS_KEY_INVALID',
    );
    expect(gone.message).toMatch(/cannot read the new key file .*nowhere\.key/);
    const bad = join(w.dir, 'bad.key');
    writeFileSync(bad, 'not a key');
    failsJson(
      await w.run(['secrets', 'rotate-key', '--new-key-file', bad, '--format', 'json'], {
        env: { BERTH_SECRETS_KEY: newKey },
      }),
      'SECRETS_KEY_INVALID',
    );
  });

  it('plan output and saved plans hold no secret; apply stores it encrypted', async (t) => {
    const w = cliWorld(t);
    const key = ok(await w.run(['secrets', 'keygen'])).trim();
    const env = { BERTH_SECRETS_KEY: key };
    const manifest = join(w.dir, 'stack.yaml');
    writeFileSync(
      manifest,
      `version: 1\ncontainers:\n  api:\n    image: shop/api:1\n    env:\n      PASSWORD:\n        secret: ${PASSWORD}\n`,
    );
    const planText = await w.run(['plan', '-f', manifest, '--out', join(w.dir, 'plan.json')], { env });
    expect(ok(planText) + planText.stderr).not.toContain(PASSWORD);
    const planJson = ok(await w.run(['plan', '-f', manifest, '--format', 'json'], { env }));
    expect(planJson).not.toContain(PASSWORD);
    ok(await w.run(['apply', join(w.dir, 'plan.json')], { env }));
    const [ctr] = await w.containers();
    expect(ctr!.config.env!.PASSWORD).toMatch(/^berth:secret:v2:/);
    expect(ok(await w.run(['container', 'inspect', 'api']))).not.toContain(PASSWORD);
    expect(ok(await w.run(['plan', '-f', manifest], { env }))).toMatch(/No changes/);
    failsJson(await w.run(['plan', '-f', manifest, '--format', 'json']), 'SECRETS_KEY_MISSING');
  });
});
