/**
 * Hosts that are ready (lib/engine/ready.ts): validation after allocation with retries, the
 * team's validate playbook, lab.authorized_keys; on real sshd hosts on loopback (the example
 * command lab, labs/loopback-sshd) and real ansible-playbook.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { InputError } from '../lib/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { createCommandProvider } from '../lib/lab/command/index.js';
import { addAuthorizedKeys, parseAuthorizedKeys } from '../lib/lab/authorized-keys.js';
import { sshArgv } from '../lib/lab/validate-hosts.js';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { tempDir } from './helpers/cli.js';
import { pidAlive } from './helpers/scenario.js';

const run = promisify(execFile);
const test = suite('lab-ready');
const LAB = path.join(PACKAGE_ROOT, 'labs', 'loopback-sshd');
let t: { dir: string; remove: () => Promise<void> };
test.before.each(async () => {
  t = await tempDir('harness-ready-');
});
test.after.each(async () => {
  await t.remove();
});

/** An allocate script of our own around the example lab's: `LAB_HOSTS` set, then `extra` (bash) run with the JSON in $out. */
async function allocateScript(hosts: string, extra = ''): Promise<string> {
  const file = path.join(t.dir, 'allocate.sh');
  await writeFile(file, `#!/usr/bin/env bash\nset -euo pipefail\nexport LAB_HOSTS="${hosts}"\nout=$(${LAB}/allocate.sh)\n${extra}\nprintf '%s\\n' "$out"\n`);
  await chmod(file, 0o755);
  return file;
}

/** The sshd pids the resources file of a run named (what release.sh stops). */
async function resourcePids(logDir: string): Promise<number[]> {
  const text = await readFile(path.join(logDir, 'allocate.log'), 'utf8');
  return [...text.matchAll(/sshd pid (\d+)/g)].map((m) => Number(m[1]));
}

async function newKey(name: string): Promise<{ key: string; pub: string }> {
  const key = path.join(t.dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  return { key, pub: (await readFile(`${key}.pub`, 'utf8')).trim() };
}

async function runFile(yaml: string): Promise<{ exitCode: number; out: string; runDir: string; reason?: string }> {
  const file = path.join(t.dir, 'scenario.yml');
  await writeFile(file, yaml);
  const scenario = await loadScenario(file);
  let out = '';
  const r = await runScenario(scenario, { out: path.join(t.dir, `run-${Date.now()}`), env: { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') }, write: (s: string) => (out += s), bundle: false });
  return { exitCode: r.exitCode, out, runDir: r.runDir, reason: r.reason };
}

const OK_PLAYBOOK = '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n';

test('the keys file is checked at load: a private key or a line that is no key is named by file and line', async () => {
  const parsed = parseAuthorizedKeys('# ours\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB a@b\nfrom="10.0.0.1" ssh-rsa AAAAB3Nz x\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB a@b\nnot a key\n');
  assert.equal(parsed.keys, ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB a@b', 'from="10.0.0.1" ssh-rsa AAAAB3Nz x']);
  assert.equal(parsed.problems.map((p) => p.line), [6]);
  assert.not.match(parsed.problems[0]!.message, /not a key/, 'a line that is no key is not shown');
  // A private key by mistake: one problem, no line of it shown.
  const priv = parseAuthorizedKeys('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n');
  assert.equal(priv.keys, []);
  assert.equal(priv.problems, [{ line: 1, message: 'this file holds a private key: give the public half (the .pub file), never a private key' }]);
  await writeFile(path.join(t.dir, 'keys'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB a@b\nhello world\n');
  await writeFile(path.join(t.dir, 'p.yml'), OK_PLAYBOOK);
  await writeFile(path.join(t.dir, 's.yml'), `name: s\nlab:\n  provider: static\n  inventory: hosts.ini\n  authorized_keys: keys\n  validate: { timeout: 0s, playbook: nope.yml }\n  options: { ssh_key: missing-key, sshkey: x }\nstages:\n  - { name: a, playbook: p.yml }\n`);
  await writeFile(path.join(t.dir, 'hosts.ini'), 'a ansible_connection=local\n');
  try {
    await loadScenario(path.join(t.dir, 's.yml'));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InputError);
    const m = (err as Error).message;
    assert.match(m, /keys:2: is no SSH public key/);
    assert.not.match(m, /hello world/);
    assert.match(m, /lab\.validate\.timeout: a timeout of 0s gives the hosts no time/);
    assert.match(m, /lab\.validate\.playbook: no such playbook: .*nope\.yml/);
    assert.match(m, /lab\.options\.ssh_key: no such key file: .*missing-key/);
    assert.match(m, /unknown static lab option 'sshkey' \(did you mean 'ssh_key'\?\)/);
  }
});

test('validation retries a host that comes up late; one that never does is named: exit 3, stages skipped, the lab released', async () => {
  await writeFile(path.join(t.dir, 'p.yml'), OK_PLAYBOOK);
  // `late`'s sshd is stopped as soon as it is up, and started again 2 s after the script ended.
  const late = await allocateScript('early late', [
    'read -r pid cfg < <(sed -n 2p "$HARNESS_RESOURCES")',
    'kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done',
    '( sleep 2; /usr/sbin/sshd -D -e -f "$cfg" </dev/null >/dev/null 2>&1 & echo "$! $cfg" >> "$HARNESS_RESOURCES" ) >/dev/null 2>&1 &',
  ].join('\n'));
  const r = await runFile(`name: late\nlab:\n  provider: command\n  allocate: ${late}\n  release: ${LAB}/release.sh\n  validate: { timeout: 1m }\nstages:\n  - { name: a, playbook: p.yml }\n`);
  assert.is(r.exitCode, 0, r.out);
  assert.match(r.out, /validate: late not ready yet \(.*Connection refused.*\); retrying for up to/);
  assert.not.match(r.out, /validate: early not ready/);
  assert.match(r.out, /harness: 2 host\(s\) answer SSH and run Python/);

  // A host that never answers: named with its last error, every stage skipped, the lab's sshd stopped.
  const ghost = await allocateScript('node-0', `out=$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["hosts"].append({"name": "ghost", "address": "127.0.0.1", "port": 1}); print(json.dumps(d))')`);
  const g = await runFile(`name: ghost\nlab:\n  provider: command\n  allocate: ${ghost}\n  release: ${LAB}/release.sh\n  validate: { timeout: 3s }\nstages:\n  - { name: a, playbook: p.yml }\n  - { name: b, playbook: p.yml, always: true }\n`);
  assert.is(g.exitCode, 3, g.out);
  assert.match(g.reason ?? '', /the lab's hosts were not ready after allocation: 1 of 2 host\(s\) did not answer SSH and run Python within 3\.0s/);
  assert.match(g.reason ?? '', /ghost: .*Connection refused \(\d+ tries\)/);
  assert.not.match(g.reason ?? '', /node-0:/);
  const j = await readJournal(path.join(g.runDir, 'journal.json'));
  assert.equal(j.stages.map((s) => [s.name, s.status]), [['a', 'skipped'], ['b', 'skipped']]);
  assert.match(j.stages[0]!.reason ?? '', /hosts were not ready after allocation/);
  const rec = JSON.parse(await readFile(path.join(g.runDir, 'lab.json'), 'utf8'));
  assert.is(rec.command.state, 'released');
  const pids = await resourcePids(path.join(g.runDir, 'lab'));
  assert.is(pids.length, 1);
  for (const pid of pids) assert.not.ok(await pidAlive(pid), `sshd ${pid} still runs`);
});

test('lab.validate.playbook: the team\'s checks run as lab-validate; failing is a lab error naming it (exit 3, released)', async () => {
  await writeFile(path.join(t.dir, 'p.yml'), OK_PLAYBOOK);
  await writeFile(path.join(t.dir, 'checks.yml'), '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Disks are clean\n      ansible.builtin.assert:\n        that: "lookup(\'ansible.builtin.env\', \'READY_FAIL\') == \'\' or inventory_hostname != \'node-1\'"\n        fail_msg: "node-1 has a dirty disk"\n');
  const alloc = await allocateScript('node-0 node-1');
  const yaml = `name: checks\nlab:\n  provider: command\n  allocate: ${alloc}\n  release: ${LAB}/release.sh\n  validate: { playbook: checks.yml }\nstages:\n  - { name: a, playbook: p.yml }\n`;
  const ok = await runFile(yaml);
  assert.is(ok.exitCode, 0, ok.out);
  let j = await readJournal(path.join(ok.runDir, 'journal.json'));
  // The journal lists the planned stages first, then lab-validate.
  assert.equal(j.stages.map((s) => [s.name, s.status]), [['a', 'passed'], ['lab-validate', 'passed']]);
  assert.match(await readFile(path.join(ok.runDir, 'stages', '01-lab-validate', 'output.log'), 'utf8'), /Disks are clean/);

  process.env.READY_FAIL = '1';
  let bad;
  try {
    bad = await runFile(yaml);
  } finally {
    delete process.env.READY_FAIL;
  }
  assert.is(bad.exitCode, 3, bad.out);
  assert.match(bad.reason ?? '', /lab\.validate\.playbook \S+checks\.yml failed: ansible-playbook exited 2 \(1 task result\(s\) failed or unreachable\) \(see stages\/01-lab-validate\/output\.log\)/);
  j = await readJournal(path.join(bad.runDir, 'journal.json'));
  assert.equal(j.stages.map((s) => [s.name, s.status]), [['a', 'skipped'], ['lab-validate', 'failed']]);
  assert.match(await readFile(path.join(bad.runDir, 'stages', '01-lab-validate', 'output.log'), 'utf8'), /node-1 has a dirty disk/);
  assert.is(JSON.parse(await readFile(path.join(bad.runDir, 'lab.json'), 'utf8')).command.state, 'released');
});

test('lab.authorized_keys: added once to each host\'s file, and they log in (command lab)', async () => {
  const runDir = path.join(t.dir, 'run');
  await mkdir(path.join(runDir, '.private'), { recursive: true });
  const p = createCommandProvider({ allocate: path.join(LAB, 'allocate.sh'), release: path.join(LAB, 'release.sh'), cwd: LAB, env: { ...process.env, LAB_HOSTS: 'a b' } });
  const lab = await p.allocate({ provider: 'command', hosts: [], groups: [], vars: {} }, { runDir, privateDir: path.join(runDir, '.private') });
  try {
    const team = await newKey('team');
    const labPub = (await readFile(`${lab.sshKey}.pub`, 'utf8')).trim();
    // The team's key twice (another comment), and the lab's own key, which the hosts have already.
    const keys = parseAuthorizedKeys(`${team.pub}\n${team.pub.replace(/ team$/, ' team-again')}\n${labPub}\n`).keys;
    const first = await addAuthorizedKeys(lab, keys);
    assert.equal(first.map((d) => [d.host, d.added, d.had]), [['a', 1, 2], ['b', 1, 2]]);
    assert.match(first[0]!.file, /\/a\/authorized_keys$/);
    const again = await addAuthorizedKeys(lab, keys);
    assert.equal(again.map((d) => [d.added, d.had]), [[0, 3], [0, 3]]);
    const text = await readFile(first[0]!.file, 'utf8');
    assert.is(text.split('\n').filter((l) => l.includes(team.pub.split(' ')[1]!)).length, 1, text);
    // The team's key alone logs in.
    for (const host of lab.lab.hosts) {
      const argv = sshArgv({ ...host, vars: { ...host.vars, ansible_ssh_private_key_file: team.key } }, lab, 'echo in');
      const { stdout } = await run('ssh', argv);
      assert.is(stdout.trim(), 'in');
    }
  } finally {
    await p.release();
  }
});

/** A playbook that logs in to every host from the controller with `key` alone. */
const LOGIN_WITH = (key: string): string =>
  `- hosts: all\n  gather_facts: false\n  tasks:\n    - name: The team's key logs in\n      ansible.builtin.command: ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -i ${key} -p {{ ansible_port }} {{ ansible_user }}@{{ ansible_host }} echo in\n      delegate_to: localhost\n      changed_when: false\n`;

test('lab.authorized_keys in a scenario: before the first stage, on a command lab and on a local lab (the connecting user\'s, on the host\'s own disk)', async () => {
  const team = await newKey('team');
  await writeFile(path.join(t.dir, 'team.keys'), `# the team\n${team.pub}\n`);
  await writeFile(path.join(t.dir, 'login.yml'), LOGIN_WITH(team.key));
  const alloc = await allocateScript('node-0 node-1');
  const cmd = await runFile(`name: keys\nlab:\n  provider: command\n  allocate: ${alloc}\n  release: ${LAB}/release.sh\n  authorized_keys: team.keys\nstages:\n  - { name: login, playbook: login.yml }\n`);
  assert.is(cmd.exitCode, 0, cmd.out);
  assert.match(cmd.out, /harness: lab\.authorized_keys: 1 key\(s\) of team\.keys on 2 host\(s\), 2 added/);

  const local = await runFile(`name: keys-local\nlab:\n  provider: local\n  authorized_keys: team.keys\n  hosts: { h1: {}, h2: {} }\nstages:\n  - { name: login, playbook: login.yml }\n`);
  assert.is(local.exitCode, 0, local.out);
  assert.match(local.out, /2 added \(h1: \S+\/h1\/home\/[^/]+\/\.ssh\/authorized_keys/);
});

test('after a checkpoint restore the hosts are validated again and the keys added again, before the next stage', async () => {
  const team = await newKey('team');
  await writeFile(path.join(t.dir, 'team.keys'), `${team.pub}\n`);
  await writeFile(path.join(t.dir, 'p.yml'), OK_PLAYBOOK);
  await writeFile(path.join(t.dir, 'login.yml'), LOGIN_WITH(team.key));
  const alloc = await allocateScript('node-0');
  const yaml = `name: restore\nlab:\n  provider: command\n  allocate: ${alloc}\n  release: ${LAB}/release.sh\n  snapshot: ${LAB}/snapshot.sh\n  restore: ${LAB}/restore.sh\n  authorized_keys: team.keys\nstages:\n  - { name: a, playbook: p.yml, checkpoint: true }\n  - { name: login, playbook: login.yml }\n`;
  const first = await runFile(yaml);
  assert.is(first.exitCode, 0, first.out);
  const second = await runFile(yaml);
  assert.is(second.exitCode, 0, second.out);
  const j = await readJournal(path.join(second.runDir, 'journal.json'));
  assert.equal(j.stages.map((s) => s.status), ['restored', 'passed']);
  // Once after allocation, once after the restore (which came before the login stage).
  assert.is(second.out.match(/harness: 1 host\(s\) answer SSH and run Python/g)?.length, 2, second.out);
  let at = 0;
  for (const w of ['answer SSH', 'restored checkpoint', 'answer SSH', 'lab.authorized_keys', 'stage login']) {
    const next = second.out.indexOf(w, at);
    assert.ok(next >= 0, `'${w}' after position ${at}:\n${second.out}`);
    at = next + 1;
  }
});

test.run();
