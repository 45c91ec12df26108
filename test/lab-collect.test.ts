/**
 * Results and collection on a `static` lab: each host reached over SFTP with its own connection
 * vars and key (else the lab's `ssh_key` option); a host that cannot be reached is a warning on
 * the console and in the stage's output.log, never silence. Real sshd hosts on loopback (started
 * with the example lab's scripts, labs/loopback-sshd), real ansible-playbook.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { tempDir } from './helpers/cli.js';
import { allFiles } from './helpers/scenario.js';

const run = promisify(execFile);
const test = suite('lab-collect');
const LAB = path.join(PACKAGE_ROOT, 'labs', 'loopback-sshd');

interface LoopbackHost {
  name: string;
  port: number;
  root: string;
  /** The file its sshd reads keys from. */
  keys: string;
}
let t: { dir: string; remove: () => Promise<void> };
let labEnv: Record<string, string>;
let hosts: LoopbackHost[];
let labKey: string;

test.before(async () => {
  t = await tempDir('harness-collect-');
  labEnv = { ...(process.env as Record<string, string>), HARNESS_RESOURCES: path.join(t.dir, 'resources'), HARNESS_LAB_DIR: path.join(t.dir, 'lab'), LAB_HOSTS: 'a b' };
  const { stdout } = await run(path.join(LAB, 'allocate.sh'), [], { env: labEnv });
  const out = JSON.parse(stdout) as { hosts: { name: string; port: number; vars: Record<string, string> }[]; ssh_key: string };
  labKey = out.ssh_key;
  hosts = out.hosts.map((h) => ({ name: h.name, port: h.port, root: h.vars.harness_host_root!, keys: h.vars.harness_authorized_keys_file! }));
  // Host a takes its own key only: the lab's key no longer logs in there.
  const own = path.join(t.dir, 'a_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'a', '-f', own]);
  await writeFile(hosts[0]!.keys, await readFile(`${own}.pub`));
});
test.after(async () => {
  await run(path.join(LAB, 'release.sh'), [], { env: labEnv }).catch(() => {});
  await t.remove();
});

const line = (h: LoopbackHost, extra = ''): string => `${h.name} ansible_host=127.0.0.1 ansible_port=${h.port} ansible_user=root harness_host_root=${h.root} ansible_python_interpreter=/usr/bin/python3${extra}`;

const WRITE = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.file: { path: "{{ harness_host_root }}/log", state: directory }
    - ansible.builtin.copy: { dest: "{{ harness_host_root }}/log/app.log", content: "log of {{ inventory_hostname }}\\n" }
    - ansible.builtin.copy:
        dest: "{{ harness_host_root }}/results.xml"
        content: '<testsuite name="s" tests="1"><testcase classname="c" name="{{ inventory_hostname }}-ok"/></testsuite>'
`;

async function runFile(name: string, yaml: string): Promise<{ exitCode: number; out: string; runDir: string }> {
  const file = path.join(t.dir, `${name}.yml`);
  await writeFile(file, yaml);
  let out = '';
  const r = await runScenario(await loadScenario(file), { out: path.join(t.dir, `run-${name}`), env: { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') }, write: (s: string) => (out += s), bundle: false });
  return { exitCode: r.exitCode, out, runDir: r.runDir };
}

test('a static lab of real sshd hosts, each with its own key (or the lab ssh_key): results merged and files collected from every host', async () => {
  await writeFile(path.join(t.dir, 'write.yml'), WRITE);
  await writeFile(path.join(t.dir, 'hosts.ini'), `[web]\n${line(hosts[0]!, ` ansible_ssh_private_key_file=${path.join(t.dir, 'a_key')}`)}\n${line(hosts[1]!)}\n`);
  const r = await runFile('ok', `name: static-collect\nlab:\n  provider: static\n  inventory: hosts.ini\n  options: { ssh_key: ${labKey} }\nstages:\n  - name: deploy\n    playbook: write.yml\n    results: "{{ harness_host_root }}/results.xml"\n  - { name: gather, collect: { web: ["{{ harness_host_root }}/log/"] } }\n`);
  assert.is(r.exitCode, 0, r.out);
  for (const h of hosts) {
    assert.match(r.out, new RegExp(`results from ${h.name}: \\S+results\\.xml: 1 test\\(s\\)`));
    const files = await allFiles(path.join(r.runDir, 'hosts', h.name));
    const log = files.find((f) => f.endsWith('log/app.log'));
    assert.ok(log, `${h.name}: ${files.join(', ')}`);
    assert.is(await readFile(path.join(r.runDir, 'hosts', h.name, log!), 'utf8'), `log of ${h.name}\n`);
  }
  assert.match(r.out, /collected 1 file\(s\), \d+ bytes, from a/);
  assert.not.match(r.out, /warning/);
  const junit = await readFile(path.join(r.runDir, 'junit.xml'), 'utf8');
  assert.match(junit, /a-ok/);
  assert.match(junit, /b-ok/);
});

test('a host SFTP cannot reach, and one Ansible reaches without SSH: a warning on the console and in the stage output, never silence', async () => {
  await writeFile(path.join(t.dir, 'hosts-bad.ini'), `[web]\n${line(hosts[1]!)}\ngone ansible_host=127.0.0.1 ansible_port=1 ansible_user=root harness_host_root=/nonexistent\nhere ansible_connection=local harness_host_root=/nonexistent\n`);
  const r = await runFile('bad', `name: static-bad\nlab:\n  provider: static\n  inventory: hosts-bad.ini\n  options: { ssh_key: ${labKey} }\n  validate: false\nstages:\n  - { name: gather, collect: { all: ["{{ harness_host_root }}/log/"] } }\n`);
  assert.is(r.exitCode, 1, r.out);
  assert.match(r.out, /\[gather\] harness: warning: collect: nothing collected from gone: cannot open SFTP to root@127\.0\.0\.1:1: .*ECONNREFUSED/);
  assert.match(r.out, /\[gather\] harness: warning: collect: nothing fetched from here: Ansible reaches it with ansible_connection=local, and the harness fetches files over SFTP only/);
  const log = await readFile(path.join(r.runDir, 'stages', '01-gather', 'output.log'), 'utf8');
  assert.match(log, /harness: warning: collect: nothing collected from gone/);
  assert.match(log, /harness: warning: collect: nothing fetched from here/);
  const j = await readJournal(path.join(r.runDir, 'journal.json'));
  assert.match(j.stages[0]!.reason ?? '', /^collection failed: gone: cannot open SFTP/);
  const events = (await readFile(path.join(r.runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; message?: string });
  assert.ok(events.some((e) => e.kind === 'warning' && /nothing collected from gone/.test(e.message ?? '')));
  // b was still collected.
  assert.ok((await allFiles(path.join(r.runDir, 'hosts', 'b'))).some((f) => f.endsWith('log/app.log')));
});

test.run();
