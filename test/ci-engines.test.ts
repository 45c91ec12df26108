/**
 * The exported CI files of the demo tree, checked by the engines' own tools (the cheap part;
 * test/ci-engines.long.test.ts runs the GitLab pipeline for real): GitHub's workflow passes
 * action-validator, GitLab's passes gitlab-ci-local's schema validation and lists the jobs and
 * needs of the tree (its variants included), Zuul's run playbook passes `--syntax-check`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';
import { ACTION_VALIDATOR, demoRepo, exportDemo, gitlabCiLocal, runProgram } from './helpers/ci-engines.js';

const test = suite('ci-engines');
let t: { dir: string; remove: () => Promise<void> };
let repo: string;
const STORE = ['--store', 'oci://127.0.0.1:5000/harness/demo', '--store-insecure'];
test.before(async () => {
  t = await tempDir('harness-ci-engines-');
  repo = path.join(t.dir, 'repo');
  await demoRepo(repo);
});
test.after(async () => {
  await t.remove();
});

test('GitHub: the exported workflow of the demo tree passes action-validator (and a broken one does not)', async () => {
  const file = path.join(t.dir, 'demo.yml');
  await exportDemo(repo, 'github', file, STORE);
  const ok = await runProgram(ACTION_VALIDATOR, [file]);
  assert.is(ok.code, 0, ok.out);
  await import('node:fs/promises').then((fs) => fs.writeFile(path.join(t.dir, 'bad.yml'), 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: [missing]\n    steps: [{ run: echo }]\n'));
  const bad = await runProgram(ACTION_VALIDATOR, [path.join(t.dir, 'bad.yml')]);
  assert.is.not(bad.code, 0, 'action-validator accepted a workflow with an unknown need');
  assert.match(bad.out, /unresolved_job/);
});

test('GitLab: gitlab-ci-local validates the exported pipeline against its schema and lists the jobs and needs of the tree', async () => {
  await exportDemo(repo, 'gitlab', path.join(repo, '.gitlab-ci.yml'), STORE);
  const r = await gitlabCiLocal(repo, path.join(t.dir, 'home'), ['--list-json']);
  assert.is(r.code, 0, r.out);
  const jobs = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as Array<{ name: string; needs: Array<{ job: string }> | null }>;
  assert.equal(
    jobs.map((j) => `${j.name}<${(j.needs ?? []).map((n) => n.job).join(',')}`).sort(),
    ['test-nova_cpu-2<undercloud', 'test-nova_cpu-4<undercloud', 'test-upgraded<undercloud', 'undercloud<'],
  );
  const text = await readFile(path.join(repo, '.gitlab-ci.yml'), 'utf8');
  assert.match(text, /run scenarios\/demo-tree\.yml --job 'test\[nova_cpu=2\]' --until undercloud --out runs\/undercloud --store oci:\/\/127\.0\.0\.1:5000\/harness\/demo --store-insecure/);
});

test('Zuul: the run playbook written by the real command passes ansible-playbook --syntax-check', async () => {
  const out = path.join(t.dir, 'zuul');
  await exportDemo(repo, 'zuul', out, STORE);
  const env = { ANSIBLE_LIBRARY: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'zuul-stubs', 'library') };
  const r = await runProgram('ansible-playbook', ['--syntax-check', '-i', 'localhost,', path.join(out, 'playbooks', 'harness-run.yaml')], { env });
  assert.is(r.code, 0, r.out);
  assert.match(await readFile(path.join(out, 'zuul.d', 'project.yaml'), 'utf8'), /harness-test-nova_cpu-4:\n\s+dependencies:\n\s+- harness-undercloud/);
});

test.run();
