// A stage tree on the qemu lab with --jobs 2 (issue 13: "local and qemu must support this"):
// the fork is checkpointed, the two branches run at once on two labs of their own (two VMs, two
// vde switches, their own SSH ports), each restored from the fork's checkpoint, and neither sees
// the other's changes. Real VMs (TCG), real sshd, real ansible-playbook; the guest image is the
// suite's cached one (SUITE_CACHE/images), checkpoints go to a cache of this test's own.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { harness, tempDir } from './helpers/cli.js';
import { SUITE_CACHE } from './helpers/cache.js';
import { checkQemuTools } from '../lib/lab/qemu/tools.js';

const test = suite('qemu lab: a tree with --jobs 2');

const SCENARIO = `name: qemu-tree
lab:
  provider: qemu
  options: { memory: 512 }
  hosts:
    node: {}
stages:
  - name: base
    playbook: mark.yml
    vars: { mark: base }
  - name: left
    playbook: branch.yml
    vars: { mark: left, other: right }
  - name: right
    extends: base
    playbook: branch.yml
    vars: { mark: right, other: left }
`;
const MARK = `- hosts: all
  gather_facts: false
  tasks:
    - copy: { dest: "/root/{{ mark }}", content: "{{ mark }}\\n" }
`;
const BRANCH = `- hosts: all
  gather_facts: false
  tasks:
    - stat: { path: /root/base }
      register: base
    - stat: { path: "/root/{{ other }}" }
      register: other_branch
    - assert:
        that: [base.stat.exists, not other_branch.stat.exists]
        fail_msg: "the branch must start from the fork's state only"
    - copy: { dest: "/root/{{ mark }}", content: "{{ mark }}\\n" }
    - command: sleep 5
`;

test('two branches at once on two qemu labs, each from the fork checkpoint', async () => {
  try {
    await checkQemuTools();
  } catch (err) {
    console.log(`  skipped: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  const t = await tempDir('harness-qemu-tree-');
  try {
    await writeFile(path.join(t.dir, 'tree.yml'), SCENARIO);
    await writeFile(path.join(t.dir, 'mark.yml'), MARK);
    await writeFile(path.join(t.dir, 'branch.yml'), BRANCH);
    const cache = path.join(t.dir, 'cache', 'ansible-harness');
    await mkdir(cache, { recursive: true });
    await mkdir(path.join(SUITE_CACHE, 'images'), { recursive: true });
    await symlink(path.join(SUITE_CACHE, 'images'), path.join(cache, 'images'));
    const out = path.join(t.dir, 'run');
    const t0 = Date.now();
    const r = await harness(['run', path.join(t.dir, 'tree.yml'), '--jobs', '2', '--out', out, '--no-bundle'], { env: { XDG_CACHE_HOME: path.join(t.dir, 'cache') }, timeoutMs: 1_800_000 });
    assert.is(r.code, 0, r.stdout.slice(-5000) + r.stderr.slice(-2000));
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8')) as { stages: { name: string; status: string; lab?: string; started?: string; ended?: string }[] };
    const by = Object.fromEntries(journal.stages.map((s) => [s.name, s]));
    for (const n of ['base', 'left', 'right']) assert.is(by[n]?.status, 'passed', n);
    assert.is.not(by.left!.lab, by.right!.lab, 'siblings never share a lab');
    // the branches overlapped in time (each sleeps 5 s after its checks)
    assert.ok(Date.parse(by.left!.started!) < Date.parse(by.right!.ended!) && Date.parse(by.right!.started!) < Date.parse(by.left!.ended!), 'the branches ran at once');
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')) as { labs: { name: string; facts?: Record<string, string> }[] };
    assert.is(manifest.labs.length, 2);
    for (const l of manifest.labs) assert.match(l.facts?.accel ?? '', /^(tcg|kvm)$/);
    console.log(`  qemu tree --jobs 2: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await t.remove();
  }
});

test.run();
