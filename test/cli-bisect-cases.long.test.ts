import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readJournal } from '../lib/report/index.js';
import type { BisectDoc } from '../lib/queue/report.js';
import { harness, type CliResult } from './helpers/cli.js';
import { writeQueueProject } from './helpers/queue.js';

// The issue's "Done when" cases of `harness bisect`, each a real ansible-playbook run per probe on
// a local lab (one sshd host). The project is tiny: a `deploy` stage with a checkpoint and a `test`
// stage (one check on the controller, one assert) that fails when a file under conf.d/ says
// `broken`, when conf.d/feature.yml and conf.d/strict.yml are both there (an interaction), and at
// random from `flake_seed` (a flaky check: sha1 of "SEED-RUN" starting with 0-3, about 1 run in 4,
// RUN counted in a file on the controller). Changes write files of the test stage only, so every probe after the first
// restores the deploy checkpoint. One checkpoint cache for the whole file.
const test = suite('cli bisect: the issue cases');

const SCENARIO = `name: cases
lab:
  provider: local
  hosts:
    node-0: {}
stages:
  - { name: deploy, playbook: deploy.yml, checkpoint: true }
  - { name: test, playbook: test.yml }
`;
const FILES: Record<string, string> = {
  'scenario.yml': SCENARIO,
  'deploy.yml': `- name: Deploy
  hosts: all
  gather_facts: false
  tasks:
    - name: Install the service
      ansible.builtin.copy: { content: "deployed\\n", dest: "{{ harness_host_root }}/app.txt" }
`,
  'test.yml': `- name: Test
  hosts: all
  gather_facts: false
  tasks:
    - name: Look for the service
      ansible.builtin.stat: { path: "{{ harness_host_root }}/app.txt" }
      register: app
    - name: Check the components
      ansible.builtin.shell: |
        if [ -n "{{ flake_seed | default('') }}" ]; then
          n=$(cat "{{ flake_counter | default("") }}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{{ flake_counter | default("") }}"
          case $(printf '%s' "{{ flake_seed | default('') }}-$n" | sha1sum) in [0-3]*) echo "flaky failure (run $n)"; exit 0;; esac
        fi
        cd "{{ playbook_dir }}/conf.d"
        bad=$(grep -l broken *.yml | tr '\\n' ' ')
        if [ -n "$bad" ]; then echo "broken: $bad"; exit 0; fi
        if [ -e feature.yml ] && [ -e strict.yml ]; then echo "the feature breaks in strict mode"; fi
      delegate_to: localhost
      register: check
      changed_when: false
    - name: Every component is healthy
      ansible.builtin.assert: { that: [app.stat.exists, check.stdout == ''], fail_msg: "{{ check.stdout }}" }
`,
  'conf.d/base.yml': 'ok: true\n',
};

let root: string;
let env: NodeJS.ProcessEnv;
let project: string;
let n = 0;
test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'harness-bisect-cases-'));
  env = { XDG_CACHE_HOME: path.join(root, 'cache') };
  project = path.join(root, 'project');
  await writeQueueProject(project, FILES);
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A changes file: one line per change, `id: { files }` in YAML flow style. */
async function changesFile(list: { id: string; files: Record<string, string> }[]): Promise<string> {
  const file = path.join(root, `changes-${++n}.yml`);
  await writeFile(file, list.map((c) => `- id: ${c.id}\n  files: ${JSON.stringify(c.files)}\n`).join(''));
  return file;
}
const ok = (i: number): { id: string; files: Record<string, string> } => ({ id: `c${i}`, files: { [`conf.d/c${i}.yml`]: `c${i}: ok\n` } });
const broken = (i: number): { id: string; files: Record<string, string> } => ({ id: `c${i}`, files: { [`conf.d/c${i}.yml`]: `c${i}: broken\n` } });

async function bisect(changes: string, ...args: string[]): Promise<{ r: CliResult; doc: BisectDoc; out: string }> {
  const out = path.join(root, `out-${++n}`);
  const t0 = Date.now();
  const r = await harness(['bisect', path.join(project, 'scenario.yml'), '--changes', changes, '--out', out, '--no-bundle', ...args], { cwd: root, env, timeoutMs: 1_200_000 });
  console.log(`  bisect ${args.join(' ')}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const doc = existsSync(path.join(out, 'bisect.json')) ? (JSON.parse(await readFile(path.join(out, 'bisect.json'), 'utf8')) as BisectDoc) : (undefined as unknown as BisectDoc);
  return { r, doc, out };
}
const trail = (doc: BisectDoc): string => doc.probes.map((p) => `${p.prefix ?? `[${p.applied.join(' ')}]`}${p.status[0]}`).join(' ');

test('16 changes, one culprit: found within ⌈log₂16⌉+1 = 5 probes; every probe after the first restores the deploy checkpoint', async () => {
  const list = Array.from({ length: 16 }, (_, i) => (i + 1 === 11 ? broken(11) : ok(i + 1)));
  const { r, doc, out } = await bisect(await changesFile(list), '--confirm', '0');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(doc.culprits.map((c) => [c.id, c.stage, c.confidence]), [['c11', 'test', 1]]);
  assert.ok(doc.runs <= Math.ceil(Math.log2(16)) + 1, `${doc.runs} probes: ${trail(doc)}`);
  assert.is(trail(doc), '8p 12f 10p 11f [c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 c12 c13 c14 c15 c16]p');
  assert.match(doc.probes[1]!.message ?? '', /Every component is healthy: broken: c11\.yml/);
  assert.is(doc.jobs, 1);
  assert.ok((doc.wall_ms ?? 0) > 0);
  // The first probe deploys and saves; every later one restores instead of redeploying.
  const stages = async (i: number): Promise<string[]> => (await readJournal(path.join(out, doc.probes[i]!.run_dir!, 'journal.json'))).stages.map((s) => `${s.name}:${s.status}`);
  assert.equal(await stages(0), ['deploy:passed', 'test:passed']);
  for (let i = 1; i < doc.probes.length; i++) assert.is((await stages(i))[0], 'deploy:restored', `probe ${i + 1}`);
  assert.match(r.stdout, /culprit: c11, stage 'test' fails, confidence 1\.00/);
  assert.match(r.stdout, /5 probe run\(s\) for 16 change\(s\) in \d/);
});

test('--jobs 3 on the same queue: the same culprit, up to 3 probes at once, each on its own lab', async () => {
  const list = Array.from({ length: 16 }, (_, i) => (i + 1 === 11 ? broken(11) : ok(i + 1)));
  const { r, doc, out } = await bisect(await changesFile(list), '--confirm', '0', '--jobs', '3');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(doc.culprits.map((c) => c.id), ['c11']);
  assert.is(doc.jobs, 3);
  const sum = doc.probes.reduce((a, p) => a + (p.duration_ms ?? 0), 0);
  console.log(`  --jobs 3: ${doc.runs} probes (${trail(doc)}), wall ${((doc.wall_ms ?? 0) / 1000).toFixed(1)} s, probe time ${(sum / 1000).toFixed(1)} s`);
  // Rounds: {4 8 12} → {9 10 11} → the queue without c11: 7 probes in 3 rounds.
  assert.is(doc.runs, 7);
  assert.ok(sum > (doc.wall_ms ?? 0), 'probes overlapped');
  // The first round's three probes ran at once, each on loopback addresses of its own.
  const labs = new Set<string>();
  for (const p of doc.probes.slice(0, 3)) labs.add((JSON.parse(await readFile(path.join(out, p.run_dir!, 'lab.json'), 'utf8')) as { hosts: { address: string }[] }).hosts[0]!.address);
  assert.is(labs.size, 3, `three labs at once: ${[...labs].join(' ')}`);
});

test('two culprits: both found, within 2·(⌈log₂8⌉+1)+1 probes', async () => {
  const list = Array.from({ length: 8 }, (_, i) => (i + 1 === 3 || i + 1 === 6 ? broken(i + 1) : ok(i + 1)));
  const { r, doc } = await bisect(await changesFile(list), '--confirm', '0');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(doc.culprits.map((c) => c.id), ['c3', 'c6']);
  assert.ok(doc.runs <= 2 * (3 + 1) + 1, `${doc.runs} probes: ${trail(doc)}`);
  assert.match(doc.probes.find((p) => p.prefix === 6 && p.status === 'fail')?.message ?? '', /broken: c3\.yml c6\.yml/);
});

test('a revert: reported as the culprit\'s fix (fixed_by), never as a culprit', async () => {
  // c1 breaks; c2 puts c1's file back as it was meant (a revert); c3 breaks for good.
  const list = [broken(1), { id: 'c2', files: { 'conf.d/c1.yml': 'c1: ok\n' } }, broken(3)];
  const { r, doc } = await bisect(await changesFile(list), '--confirm', '0');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(doc.culprits.map((c) => [c.id, c.fixed_by ?? null]), [['c1', 'c2'], ['c3', null]], trail(doc));
  // P1 fails; without c1, c2 passes and c2 c3 fails (c3); with c3 out, c1 c2 passes: c2 is c1's fix.
  assert.is(trail(doc), '1f [c2 c3]f [c2]p 2p');
  assert.match(r.stdout, /culprit: c1, stage 'test' fails, confidence 1\.00; fixed by c2/);
});

test('a flaky test stage (failing at random from a seed): the flake is reported, not blamed; the real culprit is', async () => {
  // Seed 2 makes run 3 of the test stage fail by chance (the sha1 of "2-3" starts with 0-3): P5, which is good.
  const list = Array.from({ length: 8 }, (_, i) => (i + 1 === 6 ? broken(6) : ok(i + 1)));
  const counter = path.join(root, 'flake-counter');
  const { r, doc } = await bisect(await changesFile(list), '-e', 'flake_seed=2', '-e', `flake_counter=${counter}`);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(trail(doc), '4p 6f 5f 5p 6f 6f [c1 c2 c3 c4 c5 c7 c8]p');
  assert.equal(doc.culprits.map((c) => [c.id, c.confidence]), [['c6', 1]]);
  assert.equal(doc.flakes.map((f) => [f.prefix, f.status]), [[5, 'fail']]);
  assert.match(doc.flakes[0]!.message ?? '', /Every component is healthy: flaky failure \(run 3\)/);
  assert.match(r.stdout, /flake: probe 3 \(prefix 5\) failed in stage 'test' and did not fail again/);
});

test('an interaction: a change that breaks only together with an earlier one is blamed, the earlier one is not', async () => {
  const list = [ok(1), { id: 'c2', files: { 'conf.d/feature.yml': 'feature: on\n' } }, ok(3), ok(4), { id: 'c5', files: { 'conf.d/strict.yml': 'strict: on\n' } }, ok(6)];
  const { r, doc } = await bisect(await changesFile(list), '--confirm', '0');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(doc.culprits.map((c) => c.id), ['c5'], trail(doc));
  assert.match(doc.probes.find((p) => p.status === 'fail')?.message ?? '', /the feature breaks in strict mode/);
});

test('an untestable probe (its lab cannot be had) is retried once, then skipped like git\'s 125: never a verdict', async () => {
  // c6 points the lab at an sshd that does not exist; c7 puts the lab back and breaks the test.
  const noSshd = SCENARIO.replace('  provider: local\n', '  provider: local\n  options: { sshdPath: /nonexistent/sshd }\n');
  const list = [...Array.from({ length: 5 }, (_, i) => ok(i + 1)), { id: 'c6', files: { 'scenario.yml': noSshd } }, { id: 'c7', files: { 'scenario.yml': SCENARIO, 'conf.d/c7.yml': 'c7: broken\n' } }, ok(8)];
  const { r, doc } = await bisect(await changesFile(list), '--confirm', '0');
  assert.is(r.code, 0, r.stdout + r.stderr);
  // The last probe asks whether c7 is fixed later with c6 back in (fix detection): no.
  assert.is(trail(doc), '4p 6u 6u 5p 7f [c1 c2 c3 c4 c5 c8]p [c1 c2 c3 c4 c5 c7 c8]f');
  assert.match(doc.probes[1]!.message ?? '', /\/nonexistent\/sshd does not exist/);
  assert.equal(doc.untestable, ['c6']);
  assert.equal(doc.culprits.map((c) => [c.id, c.candidates]), [['c7', ['c6', 'c7']]]);
  assert.match(r.stdout, /could not be tested \(skipped\): c6/);
});

test('the tools or the lab cannot be had at all: one clear exit 3, not a probe per change', async () => {
  const list = Array.from({ length: 16 }, (_, i) => ok(i + 1));
  const changes = await changesFile(list);
  // No ansible-playbook on PATH (node alone): refused before the first probe, nothing run.
  const out = path.join(root, 'no-ansible');
  const nodeOnly = path.join(root, 'node-only');
  await mkdir(nodeOnly, { recursive: true });
  await symlink(process.execPath, path.join(nodeOnly, 'node'));
  const r = await harness(['bisect', path.join(project, 'scenario.yml'), '--changes', changes, '--out', out], { cwd: root, env: { ...env, PATH: nodeOnly } });
  assert.is(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /ansible-playbook not found on PATH/);
  assert.not.match(r.stdout, /probe 1/);
  assert.not.ok(existsSync(out), 'nothing written');
  // A lab no probe can have: two probes (the first tried twice), then exit 3 with the lab's words.
  const broken = path.join(root, 'broken-lab');
  await writeQueueProject(broken, { ...FILES, 'scenario.yml': SCENARIO.replace('  provider: local\n', '  provider: local\n  options: { sshdPath: /nonexistent/sshd }\n') });
  const out2 = path.join(root, 'no-lab');
  const r2 = await harness(['bisect', path.join(broken, 'scenario.yml'), '--changes', changes, '--out', out2, '--no-bundle'], { cwd: root, env });
  assert.is(r2.code, 3, r2.stdout + r2.stderr);
  assert.match(r2.stderr, /the lab could not be had at all: 2 different probes could not get one .*\/nonexistent\/sshd does not exist/);
  const doc = JSON.parse(await readFile(path.join(out2, 'bisect.json'), 'utf8')) as BisectDoc;
  assert.is(doc.complete, false);
  assert.is(doc.runs, 3, trail(doc));
  assert.equal(await readdir(path.join(out2, 'probes')), ['01', '02', '03']);
});

test.run();
