import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSecretsKey, type BerthEvent, type LockInfo, type StateVersion } from '../../src/index.js';
import { requireBuiltCli, type RunResult } from '../cli/helpers.js';
import { makeCerts, request } from '../server/helpers.js';
import {
  backendBlock,
  fileDir,
  startBerthServe,
  TERRAFORM_MISSING,
  tfDir,
  type Serve,
  type TfDir,
} from './terraform.js';

/*
 * The real terraform binary keeps its state in `berth serve` (API.md "HTTP", DESIGN.md
 * §10): init, apply, plan, state list/pull/push, two applies racing for the lock, a killed
 * apply's lock broken with terraform force-unlock, workspaces per address, berth's
 * rollback seen by terraform plan, TLS with client certificates, and secrets encrypted at
 * rest. Only the built-in terraform_data resource is used: no provider is downloaded.
 */

/**
 * The configuration every working directory applies: `sleep`, and `wait_for` (a file to
 * wait for), hold the lock in a provisioner; `with_b` adds a resource.
 */
const CONFIG = `
variable "sleep" {
  type    = number
  default = 0
}
variable "wait_for" {
  type    = string
  default = ""
}
variable "with_b" {
  type    = bool
  default = false
}
resource "terraform_data" "a" {
  input = "alpha"
  provisioner "local-exec" {
    command = "sleep \${var.sleep}; until [ -z '\${var.wait_for}' ] || [ -e '\${var.wait_for}' ]; do sleep 0.1; done"
  }
}
resource "terraform_data" "b" {
  count = var.with_b ? 1 : 0
  input = "bravo"
}
output "greeting" {
  value = terraform_data.a.output
}
`;

/** Terraform's own Who: user@host of the machine running it. */
const WHO = `${userInfo().username}@${hostname()}`;

function expectOk(r: RunResult, what: string): RunResult {
  expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** The lock on `key` once berth holds it (polled through GET /v1/locks). */
async function waitForLock(url: string, key: string, timeoutMs = 30_000): Promise<LockInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lock = ((await request(url, '/v1/locks')).json as LockInfo[]).find((l) => l.key === key);
    if (lock) return lock;
    if (Date.now() > deadline) throw new Error(`no lock on ${key} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function berthJson<T>(serve: Serve, args: readonly string[], env: Record<string, string> = {}): Promise<T> {
  const r = await serve.berth([...args, '--format', 'json'], env);
  expect(r.code, `berth ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

if (TERRAFORM_MISSING !== undefined) {
  describe('terraform against berth serve', () => {
    it.skip(`skipped: ${TERRAFORM_MISSING}; install Terraform 1.x to run it`, () => {});
  });
} else {
  requireBuiltCli();

  describe.concurrent('terraform against berth serve', () => {
    const root = fileDir('berth-tf-');
    let serve: Serve;
    beforeAll(async () => {
      serve = await startBerthServe(root, []);
    });
    const dirFor = (name: string, workspace = name): Promise<TfDir> =>
      tfDir(root, name, { backend: backendBlock(serve.url, workspace), hcl: CONFIG });

    /** The state berth serves for `workspace` (null when none), read over HTTP. */
    const served = async (workspace: string): Promise<Record<string, unknown> | null> => {
      const r = await request(serve.url, `/v1/terraform/${workspace}`);
      return r.status === 404 ? null : (r.json as Record<string, unknown>);
    };

    it('init, apply, plan -detailed-exitcode, state list, state pull, and state push of a newer and of a stale copy', async () => {
      const tf = await dirFor('basic');
      expectOk(await tf.run(['apply', '-auto-approve']), 'apply');
      const plan = await tf.run(['plan', '-detailed-exitcode']);
      expect(plan.code, plan.stdout + plan.stderr).toBe(0);
      expect(plan.stdout).toContain('No changes');
      expect(expectOk(await tf.run(['state', 'list']), 'state list').stdout.trim()).toBe('terraform_data.a');
      const pulled = JSON.parse(expectOk(await tf.run(['state', 'pull']), 'state pull').stdout) as Record<
        string,
        unknown
      >;
      expect(pulled).toMatchObject({ version: 4, lineage: expect.any(String), serial: expect.any(Number) });
      expect(await served('basic')).toEqual(pulled);

      const history = await berthJson<{ history: StateVersion[] }>(serve, ['state', 'history'], {
        BERTH_WORKSPACE: 'basic',
      });
      expect(history.history[0]).toMatchObject({ who: WHO, operation: 'OperationTypeApply' });

      const edited = {
        ...pulled,
        serial: (pulled.serial as number) + 1,
        outputs: { greeting: { value: 'edited', type: 'string' } },
      };
      writeFileSync(join(tf.dir, 'edited.tfstate'), JSON.stringify(edited));
      expectOk(await tf.run(['state', 'push', 'edited.tfstate']), 'push of a newer copy');
      const pushed = await served('basic');
      expect(pushed).toMatchObject({ lineage: pulled.lineage, outputs: { greeting: { value: 'edited' } } });

      writeFileSync(join(tf.dir, 'stale.tfstate'), JSON.stringify(pulled));
      const stale = await tf.run(['state', 'push', 'stale.tfstate']);
      expect(stale.code).toBe(1);
      // Forced, Terraform skips its own check: berth's compare-and-set refuses it.
      const forced = await tf.run(['state', 'push', '-force', 'stale.tfstate']);
      expect(forced.code).toBe(1);
      expect(forced.stderr).toContain('409');
      expect(await served('basic')).toEqual(pushed);
    });

    it('two applies at once: one runs, the other fails on the lock naming its holder; with -lock-timeout it waits, then succeeds', async () => {
      const [first, second] = await Promise.all([dirFor('race-1', 'race'), dirFor('race-2', 'race')]);
      // The first apply holds the lock until the test creates `release`.
      const release = join(first.dir, 'release');
      const running = first.start(['apply', '-auto-approve', '-var', `wait_for=${release}`]);
      const holder = await waitForLock(serve.url, 'workspace:/race');
      expect(holder).toMatchObject({ who: WHO, operation: 'OperationTypeApply', pid: 0, host: '127.0.0.1' });
      const refused = await second.run(['apply', '-auto-approve']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Error acquiring the state lock');
      expect(refused.stderr.replace(/\s+/g, ' ')).toContain(`ID=${holder.id}`);
      const waiting = second.start(['apply', '-auto-approve', '-no-color', '-lock-timeout=60s']);
      let waitingEnded = false;
      void waiting.done.then(() => (waitingEnded = true));
      await waiting.waitFor('Acquiring state lock', 30_000);
      // Let it find the lock held (and retry) before the holder finishes.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      writeFileSync(release, '');
      expect((await running.done).code).toBe(0);
      expect(waitingEnded, 'the apply with -lock-timeout still waits when the holder is done').toBe(false);
      const waited = await waiting.done;
      expectOk(waited, 'apply -lock-timeout=60s');
      expect(waited.stdout).toContain('No changes');
    });

    it('kill -9 of an apply holding the lock: berth state locks shows it, terraform force-unlock breaks it, the journal names who; the next apply succeeds', async () => {
      const tf = await dirFor('killed');
      const apply = tf.start(['apply', '-auto-approve', '-var', 'sleep=60']);
      await apply.waitFor("Provisioning with 'local-exec'", 30_000);
      const held = await waitForLock(serve.url, 'workspace:/killed');
      apply.killGroup('SIGKILL');
      await apply.done;

      const table = expectOk(await serve.berth(['state', 'locks']), 'berth state locks').stdout;
      expect(table).toMatch(new RegExp(`${held.id}\\s+workspace:/killed\\s+OperationTypeApply\\s+${WHO}\\s.*held`));
      const locks = (await request(serve.url, '/v1/locks')).json as LockInfo[];
      expect(locks.find((l) => l.key === 'workspace:/killed')).toEqual({ ...held, stale: false });
      expect(held).toMatchObject({ who: WHO, operation: 'OperationTypeApply', pid: 0, host: '127.0.0.1' });

      const unlocked = expectOk(await tf.run(['force-unlock', '-force', held.id]), 'force-unlock');
      expect(unlocked.stdout).toContain('successfully unlocked');
      const journal = await request(serve.url, '/v1/events?since=0&type=lock.force_unlock&follow=false');
      const events = journal.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as BerthEvent);
      expect(events.find((e) => e.subject.id === held.id)?.data).toMatchObject({
        brokenBy: '127.0.0.1',
        holder: WHO,
      });
      expectOk(await tf.run(['apply', '-auto-approve']), 'the next apply');
    });

    it('two addresses are two workspaces; berth workspace delete of a non-empty one needs --force', async () => {
      const [alpha, beta] = await Promise.all([dirFor('alpha'), dirFor('beta')]);
      await Promise.all([alpha, beta].map(async (tf) => expectOk(await tf.run(['apply', '-auto-approve']), 'apply')));
      const { workspaces } = await berthJson<{ workspaces: { name: string; serial: number }[] }>(serve, [
        'workspace',
        'list',
      ]);
      expect(workspaces.filter((w) => ['alpha', 'beta'].includes(w.name)).map((w) => w.name)).toEqual([
        'alpha',
        'beta',
      ]);
      const refused = await serve.berth(['workspace', 'delete', 'alpha']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/not empty.*--force/);
      expectOk(await serve.berth(['workspace', 'delete', '--force', 'alpha']), 'workspace delete --force');
      expect(await served('alpha')).toBeNull();
      expect(await served('beta')).toMatchObject({ resources: [{ name: 'a' }] });
    });

    it('berth state rollback, then terraform plan sees the rolled-back resources; the copy rolled back from is refused', async () => {
      const tf = await dirFor('rollback');
      expectOk(await tf.run(['apply', '-auto-approve']), 'first apply');
      const env = { BERTH_WORKSPACE: 'rollback' };
      const [first] = (await berthJson<{ history: StateVersion[] }>(serve, ['state', 'history'], env)).history;
      expectOk(await tf.run(['apply', '-auto-approve', '-var', 'with_b=true']), 'second apply');
      const before = (await served('rollback'))!;
      expect((before.resources as { name: string }[]).map((r) => r.name)).toEqual(['a', 'b']);

      expectOk(await serve.berth(['state', 'rollback', String(first!.serial), '--force'], env), 'berth state rollback');
      expect(expectOk(await tf.run(['state', 'list']), 'state list').stdout.trim()).toBe('terraform_data.a');
      const plan = await tf.run(['plan', '-detailed-exitcode', '-var', 'with_b=true']);
      expect(plan.code, plan.stdout + plan.stderr).toBe(2);
      expect(plan.stdout).toContain('terraform_data.b[0] will be created');
      expect(await served('rollback')).toMatchObject({ serial: (before.serial as number) + 1 });

      // The state rolled back from, pushed over the rollback, is refused.
      writeFileSync(join(tf.dir, 'before.tfstate'), JSON.stringify(before));
      const undo = await tf.run(['state', 'push', '-force', 'before.tfstate']);
      expect(undo.code).toBe(1);
      expect(undo.stderr).toContain('409');
    });
  });

  describe.concurrent(
    'terraform against berth serve over TLS, with client certificates, a token and a secrets key',
    () => {
      const root = fileDir('berth-tf-tls-');
      const certs = makeCerts();
      const token = randomBytes(16).toString('hex');
      const secret = `hunter2-${randomBytes(6).toString('hex')}`;
      const tokenFile = join(root, 'token');
      writeFileSync(tokenFile, token, { mode: 0o600 });
      let serve: Serve;
      beforeAll(async () => {
        serve = await startBerthServe(
          root,
          ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.caCert],
          { BERTH_SECRETS_KEY: generateSecretsKey(), BERTH_TOKEN: token },
        );
      });
      const hcl = `${CONFIG}
variable "password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "db" {
  input = var.password
}
output "pw" {
  value     = terraform_data.db.output
  sensitive = true
}
`;
      /** A working directory whose backend sends the token (basic auth) and, unless told not to, the client certificate. */
      const dirFor = (name: string, opts: { clientCert?: boolean; trustCa?: boolean } = {}) => {
        const pem = (file: string): string => `<<EOT\n${readFileSync(file, 'utf8').trim()}\nEOT\n`;
        const backendConfig =
          opts.clientCert === false
            ? ''
            : `client_certificate_pem = ${pem(certs.clientCert)}client_private_key_pem = ${pem(certs.clientKey)}`;
        return tfDir(
          root,
          name,
          {
            backend: backendBlock(serve.url, 'secret', { username: 'ci', password: token }),
            hcl,
            extra: { 'backend.hcl': backendConfig, 'terraform.tfvars': `password = "${secret}"\n` },
          },
          {
            env: opts.trustCa === false ? {} : { SSL_CERT_FILE: certs.caCert },
            initArgs: ['-backend-config=backend.hcl'],
            init: opts.clientCert !== false && opts.trustCa !== false,
          },
        );
      };

      it('applies with the CA trusted and a client certificate; the store holds no plain text of a sensitive output, which terraform reads back', async () => {
        expect(serve.url).toMatch(/^https:/);
        const tf = await dirFor('tls');
        expectOk(await tf.run(['apply', '-auto-approve']), 'apply over TLS');
        expect(expectOk(await tf.run(['output', '-raw', 'pw']), 'output').stdout).toBe(secret);
        const dir = join(serve.store, '..');
        for (const file of readdirSync(dir)) {
          expect(readFileSync(join(dir, file)).includes(secret), `${file} holds the secret in plain text`).toBe(false);
        }
        const shown = expectOk(await serve.berth(['state', 'show'], { BERTH_WORKSPACE: 'secret' }), 'state show');
        expect(shown.stdout).not.toContain(secret);
        expect(shown.stdout).toContain('[secret]');
      });

      it('without the client certificate, or without trusting the CA, terraform is refused', async () => {
        const [noCert, noCa] = await Promise.all([
          dirFor('no-cert', { clientCert: false }),
          dirFor('no-ca', { trustCa: false }),
        ]);
        const [a, b] = await Promise.all([noCert.run(['init']), noCa.run(['init', '-backend-config=backend.hcl'])]);
        expect(a.code).toBe(1);
        expect(a.stderr).toMatch(/certificate|tls/i);
        expect(b.code).toBe(1);
        expect(b.stderr).toMatch(/certificate|x509/i);
      });
    },
  );
}
