/**
 * `harness export --to gitlab|github|zuul SCENARIO [-o FILE]`, run as users run it: the files it
 * writes parse, their dependencies are the scenario's stage tree, and bad input is exit 2.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { harness, tempDir } from './helpers/cli.js';

const test = suite('cli: export');

let dir = '';
let remove = async (): Promise<void> => {};

// A tree (seeds/000 case B): undercloud → images → overcloud → e2e, and upgrade-undercloud
// branching off undercloud; collect is an always-stage (no node).
const SCENARIO = `name: ovb
lab:
  provider: local
  hosts:
    h1: {}
stages:
  - { name: undercloud, playbook: play.yml }
  - { name: images, playbook: play.yml }
  - { name: overcloud, playbook: play.yml }
  - { name: e2e, playbook: play.yml }
  - { name: tempest, playbook: play.yml, extends: overcloud, voting: false }
  - { name: upgrade-undercloud, playbook: play.yml, extends: undercloud }
  - { name: collect, playbook: play.yml, always: true }
`;

/** The tree as job → the job it needs: chains no fork splits, named after their last node. */
const TREE: Record<string, string[]> = {
  undercloud: [],
  overcloud: ['undercloud'],
  e2e: ['overcloud'],
  tempest: ['overcloud'],
  'upgrade-undercloud': ['undercloud'],
};

test.before(async () => {
  ({ dir, remove } = await tempDir('harness-export-'));
  await mkdir(path.join(dir, 'scenarios'));
  await writeFile(path.join(dir, 'scenarios', 'ovb.yml'), SCENARIO);
  await writeFile(path.join(dir, 'scenarios', 'hosts.ini'), 'h1 ansible_connection=local\n');
  await writeFile(path.join(dir, 'scenarios', 'play.yml'), '- hosts: all\n  gather_facts: false\n  tasks: []\n');
});
test.after(() => remove());

/** Whether `needs` (job → jobs it needs) has no cycle and names only known jobs. */
function isDag(needs: Record<string, string[]>): boolean {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (j: string): boolean => {
    if (!(j in needs)) return false;
    if (state.get(j) === 'done') return true;
    if (state.get(j) === 'visiting') return false;
    state.set(j, 'visiting');
    const ok = needs[j]!.every(visit);
    state.set(j, 'done');
    return ok;
  };
  return Object.keys(needs).every(visit);
}

test('gitlab to stdout: YAML whose jobs and needs are the stage tree (a DAG), a run line per job, JUnit artifacts', async () => {
  const r = await harness(['export', '--to', 'gitlab', 'scenarios/ovb.yml', '--store', 'oci://registry.example.com/ci/ckpt'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  const doc = parse(r.stdout) as Record<string, any>;
  const jobs = Object.keys(doc).filter((k) => k !== 'stages' && k !== 'workflow');
  const needs = Object.fromEntries(jobs.map((j) => [j, doc[j].needs as string[]]));
  assert.equal(needs, TREE);
  assert.ok(isDag(needs));
  assert.equal(doc.workflow, { auto_cancel: { on_job_failure: 'all' } });
  assert.is(doc.undercloud.script[0], 'npx harness run scenarios/ovb.yml --job e2e --until undercloud --out runs/undercloud --store oci://registry.example.com/ci/ckpt');
  assert.is(doc.overcloud.variables.HARNESS_NODES, 'images overcloud');
  assert.is(doc.tempest.allow_failure, true);
  assert.is(doc.e2e.artifacts.reports.junit, 'runs/e2e/junit.xml');
});

test('github to a file (-o): jobs with needs as the tree, store flags and the harness command carried', async () => {
  const out = path.join(dir, 'workflow.yml');
  const r = await harness(['export', '--to', 'github', 'scenarios/ovb.yml', '-o', out, '--store', 'oci://127.0.0.1:5000/ckpt', '--store-insecure', '--harness-command', './node_modules/.bin/harness', '--no-fail-fast'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /wrote .*workflow\.yml \(5 jobs\)/);
  const doc = parse(readFileSync(out, 'utf8')) as { jobs: Record<string, any> };
  const needs = Object.fromEntries(Object.entries(doc.jobs).map(([id, j]) => [id, (j.needs as string[] | undefined) ?? []]));
  assert.equal(needs, TREE);
  assert.ok(isDag(needs));
  const run = doc.jobs.e2e.steps.find((s: any) => s.name?.startsWith('harness')).run as string;
  assert.is(run, './node_modules/.bin/harness run scenarios/ovb.yml --job e2e --out runs/e2e --store oci://127.0.0.1:5000/ckpt --store-insecure');
  assert.is(doc.jobs.tempest['continue-on-error'], true);
  assert.not.ok(Object.values(doc.jobs).some((j: any) => j.steps.some((s: any) => s.name === 'Stop the world')), '--no-fail-fast: no cancel step');
});

test('zuul to a folder: zuul.d/ jobs and project whose dependencies are the tree, and the run playbook', async () => {
  const out = path.join(dir, 'zuul-out');
  const r = await harness(['export', '--to', 'zuul', 'scenarios/ovb.yml', '-o', out], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  const zjobs = parse(readFileSync(path.join(out, 'zuul.d', 'jobs.yaml'), 'utf8')) as { job: { name: string; voting?: boolean } }[];
  assert.equal(zjobs.map((j) => j.job.name).sort(), Object.keys(TREE).map((j) => `harness-${j}`).sort());
  assert.is(zjobs.find((j) => j.job.name === 'harness-tempest')!.job.voting, false);
  const project = parse(readFileSync(path.join(out, 'zuul.d', 'project.yaml'), 'utf8')) as any[];
  const check = project[0].project.check;
  assert.is(check['fail-fast'], true);
  const deps = Object.fromEntries((check.jobs as (string | Record<string, { dependencies: string[] }>)[]).map((j) => (typeof j === 'string' ? [j, []] : [Object.keys(j)[0]!, Object.values(j)[0]!.dependencies])));
  assert.equal(deps, Object.fromEntries(Object.entries(TREE).map(([j, n]) => [`harness-${j}`, n.map((x) => `harness-${x}`)])));
  assert.ok(isDag(deps));
  assert.ok(Array.isArray(parse(readFileSync(path.join(out, 'playbooks', 'harness-run.yaml'), 'utf8'))));
});

test('bad input: exit 2 with a message naming what to fix, no stack trace, nothing written', async () => {
  const cases: [string[], RegExp][] = [
    [['export', '--to', 'jenkins', 'scenarios/ovb.yml'], /--to|jenkins/],
    [['export', 'scenarios/ovb.yml'], /to/],
    [['export', '--to', 'gitlab'], /scenario/],
    [['export', '--to', 'zuul', 'scenarios/ovb.yml'], /-o DIR/],
    [['export', '--to', 'gitlab', 'scenarios/ovb.yml', '--store', 'https://registry.example.com/x'], /oci:\/\/HOST/],
    [['export', '--to', 'gitlab', 'scenarios/ovb.yml', '--store-insecure'], /go with --store/],
    [['export', '--to', 'gitlab', 'scenarios/missing.yml', '-o', 'never.yml'], /missing\.yml/],
    [['export', '--to', 'github', '../scenarios/ovb.yml'], /top folder/],
  ];
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  for (const [args, message] of cases) {
    const r = await harness(args, { cwd: args.includes('../scenarios/ovb.yml') ? path.join(dir, 'sub') : dir });
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.not.match(r.stderr, /\n\s+at /, `${args.join(' ')}: a stack trace`);
  }
  assert.not.ok(existsSync(path.join(dir, 'never.yml')));
});

test.run();
