/**
 * `harness run --store oci://...` (issue 16): two machines, i.e. two runs with separate local
 * caches, share one loopback registry; the second restores what the first pushed without
 * running its stages. Encrypted: the registry's files hold no plain secret. A registry that
 * refuses pushes is a warning, and the local checkpoint stays. Where the store comes from.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../lib/errors.js';
import { openStore } from '../lib/checkpoint/index.js';
import { layeredStore } from '../lib/store/layered.js';
import { resolveStore } from '../lib/store/config.js';
import type { RemoteStore } from '../lib/store/remote.js';
import { readJournal } from '../lib/report/index.js';
import { harness, tempDir } from './helpers/cli.js';
import { allFiles, fileContains } from './helpers/scenario.js';
import { registryUnavailable, startRegistry, type TestRegistry } from './helpers/registry.js';

const test = suite('store-run');
const why = registryUnavailable();
const CANARY = 'canary-7f3e-secret-in-the-host-disk';
let reg: TestRegistry | undefined;
let t: { dir: string; remove: () => Promise<void> };

test.before(async () => {
  if (!why) reg = await startRegistry();
});
test.after(async () => {
  await reg?.stop();
});
test.before.each(async () => {
  t = await tempDir('harness-store-run-');
  await mkdir(path.join(t.dir, 'project'));
  await mkdir(path.join(t.dir, 'counters'));
  await writeFile(
    path.join(t.dir, 'project', 'deploy.yml'),
    `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: { content: "token = {{ token }}\\n", dest: "{{ harness_host_root }}/app.conf" }\n    - shell: "echo run >> ${t.dir}/counters/deploy-{{ inventory_hostname }}"\n    - set_stats: { data: { deployed_token: "{{ token }}" } }\n      run_once: true\n`,
  );
  await writeFile(path.join(t.dir, 'project', 'check.yml'), '- hosts: all\n  gather_facts: false\n  tasks:\n    - command: "grep -q token {{ harness_host_root }}/app.conf"\n      changed_when: false\n');
  await writeFile(
    path.join(t.dir, 'project', 'scenario.yml'),
    `name: remote\nlab:\n  provider: local\n  hosts: { h1: { groups: [nodes] } }\nvars: { token: "${CANARY}" }\nstages:\n  - { name: deploy, playbook: deploy.yml, checkpoint: true }\n  - { name: check, playbook: check.yml }\n`,
  );
});
test.after.each(async () => {
  await t.remove();
});

/** One "machine": a run with its own cache folder. */
async function runOn(machine: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = path.join(t.dir, `run-${machine}-${randomBytes(3).toString('hex')}`);
  const r = await harness(['run', path.join(t.dir, 'project', 'scenario.yml'), '--out', out, '--no-bundle', ...args], { cwd: t.dir, env: { XDG_CACHE_HOME: path.join(t.dir, `cache-${machine}`), ...env } });
  const journal = await readJournal(path.join(out, 'journal.json')).catch(() => undefined);
  return { ...r, statuses: journal?.stages.map((s) => `${s.name}:${s.status}`) ?? [], journal };
}
const ran = async (): Promise<number> => (await readFile(path.join(t.dir, 'counters', 'deploy-h1'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

test('two machines share one registry: the second restores what the first pushed, without running the stage', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const store = reg!.store('team/two-machines');
  const a = await runOn('a', ['--store', store, '--store-insecure']);
  assert.is(a.code, 0, a.stdout + a.stderr);
  assert.equal(a.statuses, ['deploy:passed', 'check:passed']);
  assert.match(a.stdout, /harness: pushed checkpoint [0-9a-f]{12} to oci:\/\/127\.0\.0\.1:\d+\/team\/two-machines: \d+ of \d+ blobs sent/);
  // Machine b's cache is empty: the checkpoint comes from the registry.
  const b = await runOn('b', ['--store', store, '--store-insecure']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.equal(b.statuses, ['deploy:restored', 'check:passed'], b.stdout);
  assert.match(b.journal!.stages[0]!.reason ?? '', /restored from checkpoint/);
  assert.match(b.stdout, /harness: pulled checkpoint [0-9a-f]{12} \(after 'deploy'\) from oci:/);
  assert.is(await ran(), 1, 'the deploy stage ran on machine b too');
  const cached = await readdir(path.join(t.dir, 'cache-b', 'ansible-harness', 'checkpoints', 'by-key'));
  assert.is(cached.length, 1, 'the pulled checkpoint is in machine b\'s cache');
  // A third machine through HARNESS_CHECKPOINT_STORE, its flags still from the command line.
  const c = await runOn('c', ['--store-insecure'], { HARNESS_CHECKPOINT_STORE: store });
  assert.equal(c.statuses, ['deploy:restored', 'check:passed'], c.stdout + c.stderr);
  assert.is(await ran(), 1);
});

test('encrypted store (--store-key): a restore works, and no file of the registry holds the secret in plain', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const sealed = await startRegistry();
  try {
    const key = path.join(t.dir, 'store.key');
    await writeFile(key, randomBytes(32), { mode: 0o600 });
    const flags = ['--store', sealed.store('team/sealed'), '--store-insecure', '--store-key', key];
    const a = await runOn('a', flags);
    assert.is(a.code, 0, a.stdout + a.stderr);
    const files = await allFiles(sealed.dataDir);
    assert.ok(files.some((f) => f.includes('blobs')), 'the registry holds blobs');
    for (const f of files) assert.not.ok(await fileContains(path.join(sealed.dataDir, f), CANARY), `plain secret in the registry: ${f}`);
    const b = await runOn('b', flags);
    assert.equal(b.statuses, ['deploy:restored', 'check:passed'], b.stdout + b.stderr);
    // Without the key, machine c cannot read it: a clear error, exit 3, before anything runs.
    const c = await runOn('c', ['--store', sealed.store('team/sealed'), '--store-insecure']);
    assert.is(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /cannot look up checkpoint [0-9a-f]{12} in oci:.*is encrypted: give the key it was pushed with \(--store-key FILE\)/);
    assert.equal(c.statuses, ['deploy:passed', 'check:passed']);
  } finally {
    await sealed.stop();
  }
});

test('a registry that refuses the push: a warning with its reason, the run passes, the local checkpoint stays', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const ro = await startRegistry({ readonly: true });
  try {
    const a = await runOn('a', ['--store', ro.store('team/ro'), '--store-insecure']);
    assert.is(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /harness: warning: checkpoint [0-9a-f]{12} \(after 'deploy'\) was not pushed to oci:\/\/127\.0\.0\.1:\d+\/team\/ro: .*HTTP 405.*; it stays in the local cache/);
    const again = await runOn('a', []);
    assert.equal(again.statuses, ['deploy:restored', 'check:passed']);
  } finally {
    await ro.stop();
  }
});

test('harness checkpoints push / list --remote / pull move one checkpoint between two caches', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const a = openStore(path.join(t.dir, 'cache-a', 'ansible-harness', 'checkpoints'));
  const meta = { scenario: 'demo', stage: 'undercloud', key: 'feedbeef00112233aabb', inputs: {}, published: { url: 'http://uc' }, provider: 'local' };
  await a.save(meta, (dir) => writeFile(path.join(dir, 'uc.conf'), 'deployed\n'));
  const store = ['--store', reg!.store('team/cli'), '--store-insecure'];
  const cli = (machine: string, args: string[]) => harness(['checkpoints', ...args], { cwd: t.dir, env: { XDG_CACHE_HOME: path.join(t.dir, `cache-${machine}`) } });
  const push = await cli('a', ['push', 'feedbeef', ...store]);
  assert.is(push.code, 0, push.stderr);
  assert.match(push.stdout, /pushed feedbeef00112233aabb \(demo\/undercloud\) to oci:.*: 1 of 1 blobs sent/);
  const listed = await cli('b', ['list', '--remote', ...store]);
  assert.match(listed.stdout, /demo\s+undercloud\s+feedbeef00112233aabb/);
  assert.match(listed.stdout, /1 checkpoint in oci:/);
  const pull = await cli('b', ['pull', 'feedbe', ...store]);
  assert.is(pull.code, 0, pull.stderr);
  const b = await openStore(path.join(t.dir, 'cache-b', 'ansible-harness', 'checkpoints')).find('demo', meta.key);
  assert.is(await readFile(path.join(b!.dataDir, 'uc.conf'), 'utf8'), 'deployed\n');
  assert.equal(b!.published, { url: 'http://uc' });
  const none = await cli('b', ['pull', 'ffff', ...store]);
  assert.is(none.code, 2);
  assert.match(none.stderr, /holds no checkpoint with that key/);
  const noStore = await cli('b', ['list', '--remote']);
  assert.is(noStore.code, 2);
  assert.match(noStore.stderr, /name the store: --store oci:/);
});

test('a pull cut short leaves nothing in the local cache', async () => {
  const local = openStore(path.join(t.dir, 'cache', 'checkpoints'));
  const meta = { scenario: 's', stage: 'deploy', key: 'aaaabbbbccccdddd0002', inputs: {}, published: {}, provider: 'local' };
  const remote: RemoteStore = {
    url: 'oci://127.0.0.1:1/broken',
    push: async () => ({ blobs: 0, moved: 0, movedBytes: 0, reusedBytes: 0 }),
    has: async () => true,
    keys: async () => [meta.key],
    describe: async () => ({ ...meta, created: new Date().toISOString(), lastUsed: '', size: 10, ageMs: 0, dir: '', dataDir: '', uses: [] }),
    pull: (key, into) =>
      into.save(meta, async (dir) => {
        await writeFile(path.join(dir, 'half'), 'x'.repeat(100));
        throw new Error('connection reset after 100 bytes');
      }).then(() => undefined),
  };
  const store = layeredStore(local, remote);
  assert.ok(await store.find('s', meta.key), 'the remote checkpoint is found (not pulled yet)');
  try {
    await store.findAndLease('s', meta.key);
    assert.unreachable('the pull should fail');
  } catch (err) {
    assert.match((err as Error).message, /connection reset/);
  }
  assert.is(await local.find('s', meta.key), undefined);
  assert.equal(await allFiles(path.join(t.dir, 'cache', 'checkpoints')).catch(() => []), []);
});

test('where the store comes from: --store, HARNESS_CHECKPOINT_STORE, then checkpoint_store in .ansible-harness.yml (paths relative to it)', async () => {
  const proj = path.join(t.dir, 'repo');
  await mkdir(path.join(proj, 'sub'), { recursive: true });
  assert.is(resolveStore({}, {}, proj), undefined);
  assert.throws(() => resolveStore({ storeKey: 'k' }, {}, proj), (e: Error) => e instanceof InputError && /go with a store/.test(e.message));
  await writeFile(path.join(proj, '.ansible-harness.yml'), 'checkpoint_store:\n  url: oci://reg.example.com/ci/ckpt\n  key: .ci/store.key\n  auth: auth.json\n');
  assert.equal(resolveStore({}, {}, path.join(proj, 'sub')), { url: 'oci://reg.example.com/ci/ckpt', keyFile: path.join(proj, '.ci', 'store.key'), authFile: path.join(proj, 'auth.json'), env: {} });
  assert.equal(resolveStore({}, { HARNESS_CHECKPOINT_STORE: 'oci://other/x' }, proj)?.url, 'oci://other/x');
  assert.equal(resolveStore({ store: 'oci://flag/x', storeCa: 'ca.pem' }, { HARNESS_CHECKPOINT_STORE: 'oci://other/x' }, proj), { url: 'oci://flag/x', caFile: 'ca.pem', env: { HARNESS_CHECKPOINT_STORE: 'oci://other/x' } });
  await writeFile(path.join(proj, '.ansible-harness.yml'), 'checkpoint_store: { url: oci://r/x, keyfile: k }\n');
  assert.throws(() => resolveStore({}, {}, proj), /checkpoint_store has no setting keyfile \(it takes url, auth, key, ca, insecure\)/);
  await writeFile(path.join(proj, '.ansible-harness.yml'), 'checkpoint_store: oci://short/form\n');
  assert.is(resolveStore({}, {}, proj)?.url, 'oci://short/form');
});

test.run();
