import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { Stage } from '../lib/model/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { buildTree } from '../lib/plan/tree.js';
import { exportJobs, jobId, shellWord } from '../lib/export/jobs.js';
import { toGithub, toGitlab, toZuul } from '../lib/export/engines.js';

const run = promisify(execFile);
function st(name: string, more: Partial<Stage> = {}): Stage {
  return { name, index: 0, hosts: [], vars: {}, checkpoint: false, retries: 0, always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: 's.yml' }, playbook: `/p/${name}.yml`, ...more };
}
// seeds/000 case B with a variant axis on the overcloud (a non-voting ipv6 variant).
const tree = buildTree(
  [st('undercloud'), st('images'), st('overcloud'), st('e2e'), st('upgrade-undercloud', { extends: 'undercloud' })],
  { from: 'overcloud', matrix: [['ipv6', ['off', 'on']]], nonVoting: [{ ipv6: 'on' }] },
);
const jobs = exportJobs(tree, { scenario: 'scenarios/ovb.yml', storeArgs: ['--store', 'oci://registry.example.com/ci/ckpt'] });

test('one job per chain no fork splits; needs follow the tree; each job names a leaf and stops at its chain end', () => {
  assert.equal(jobs.map((j) => [j.id, j.nodes, j.needs]), [
    ['undercloud', ['undercloud'], []],
    ['images', ['images'], ['undercloud']],
    ['e2e-ipv6-off', ['overcloud[ipv6=off]', 'e2e[ipv6=off]'], ['images']],
    ['e2e-ipv6-on', ['overcloud[ipv6=on]', 'e2e[ipv6=on]'], ['images']],
    ['upgrade-undercloud', ['upgrade-undercloud'], ['undercloud']],
  ]);
  assert.equal(jobs[0]!.args, ['scenarios/ovb.yml', '--job', 'e2e[ipv6=off]', '--until', 'undercloud', '--out', 'runs/undercloud', '--store', 'oci://registry.example.com/ci/ckpt']);
  assert.equal(jobs[2]!.args.slice(0, 3), ['scenarios/ovb.yml', '--job', 'e2e[ipv6=off]']);
  assert.not.ok(jobs[2]!.args.includes('--until'));
  assert.equal(jobs.map((j) => j.voting), [true, true, true, false, true]);
  assert.is(jobId('overcloud[tls=on,ipv6=off]'), 'overcloud-tls-on-ipv6-off');
  assert.is(jobId('2nd'), 'n2nd');
  assert.is(shellWord('e2e[ipv6=off]'), "'e2e[ipv6=off]'");
  assert.is(shellWord("it's"), `'it'"'"'s'`);
});

test('GitLab: needs, allow_failure for non-voting, JUnit reports and run dirs as artifacts, stop the world', () => {
  const doc = parse(toGitlab(jobs, { name: 'ovb', failFast: true })) as Record<string, any>;
  assert.equal(doc.workflow, { auto_cancel: { on_job_failure: 'all' } });
  assert.equal(doc['e2e-ipv6-off'].needs, ['images']);
  assert.is(doc['e2e-ipv6-off'].script[0], "npx harness run scenarios/ovb.yml --job 'e2e[ipv6=off]' --out runs/e2e-ipv6-off --store oci://registry.example.com/ci/ckpt");
  assert.is(doc['e2e-ipv6-on'].allow_failure, true);
  assert.is(doc['e2e-ipv6-off'].allow_failure, undefined);
  assert.equal(doc.images.artifacts, { when: 'always', paths: ['runs/images/'], reports: { junit: 'runs/images/junit.xml' } });
  const many = Array.from({ length: 51 }, (_, i) => `j${i}`);
  assert.throws(() => toGitlab([{ ...jobs[0]!, needs: many }], { name: 'x' }), /needs 51 jobs; GitLab allows 50/);
});

test('GitHub: ids the engine accepts, needs, continue-on-error, artifacts and a summary always', () => {
  const doc = parse(toGithub(jobs, { name: 'ovb', failFast: true, command: './node_modules/.bin/harness' })) as Record<string, any>;
  const j = doc.jobs['e2e-ipv6-on'];
  assert.is(j.name, 'e2e[ipv6=on]');
  assert.equal(j.needs, ['images']);
  assert.is(j['continue-on-error'], true);
  assert.ok(j.steps.some((s: any) => s.uses === 'actions/upload-artifact@v4' && s.if === 'always()'));
  assert.match(j.steps.find((s: any) => s.name?.startsWith('harness')).run, /^\.\/node_modules\/\.bin\/harness run scenarios\/ovb\.yml --job 'e2e\[ipv6=on\]'/);
  assert.not.ok(j.steps.some((s: any) => s.name === 'Stop the world'), 'a non-voting job stops nothing');
  assert.ok(doc.jobs['e2e-ipv6-off'].steps.some((s: any) => s.name === 'Stop the world'));
  for (const id of Object.keys(doc.jobs)) assert.match(id, /^[A-Za-z_][A-Za-z0-9_-]*$/);
  assert.throws(() => toGithub(Array.from({ length: 257 }, (_, i) => ({ ...jobs[0]!, id: `j${i}` })), { name: 'x' }), /at most 256/);
});

test('Zuul: jobs, a project with dependencies and fail-fast, and a run playbook ansible-playbook accepts', async () => {
  const files = toZuul(jobs, { name: 'ovb', failFast: true });
  const project = parse(files['zuul.d/project.yaml']!) as any[];
  assert.is(project[0].project.check['fail-fast'], true);
  assert.ok(project[0].project.check.jobs.includes('harness-undercloud'));
  assert.equal(project[0].project.check.jobs.find((j: any) => typeof j === 'object' && j['harness-images']), { 'harness-images': { dependencies: ['harness-undercloud'] } });
  const zjobs = parse(files['zuul.d/jobs.yaml']!) as any[];
  const allowed = new Set(['name', 'description', 'run', 'voting', 'vars', 'parent', 'nodeset', 'timeout']);
  for (const { job } of zjobs) for (const k of Object.keys(job)) assert.ok(allowed.has(k), `unknown Zuul job attribute ${k}`);
  assert.is(zjobs.find((x) => x.job.name === 'harness-e2e-ipv6-on').job.voting, false);
  const dir = await mkdtemp(path.join(tmpdir(), 'harness-zuul-'));
  try {
    await mkdir(path.join(dir, 'playbooks'));
    await writeFile(path.join(dir, 'playbooks', 'harness-run.yaml'), files['playbooks/harness-run.yaml']!);
    // zuul_return exists only inside a Zuul executor: a stand-in module (named as such) lets the syntax check resolve it.
    const env = { ...process.env, ANSIBLE_LIBRARY: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'zuul-stubs', 'library') };
    const { stdout } = await run('ansible-playbook', ['--syntax-check', '-i', 'localhost,', path.join(dir, 'playbooks', 'harness-run.yaml')], { env });
    assert.match(stdout, /playbook: /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
