/**
 * Pipeline files (`pipeline:` key): load errors with file:line and "did you mean", `plan --json`
 * (the merged forest, `shared with`, `wait` for a node another run builds), a real run of a
 * 3-step pipeline of two tiny scenarios on the local lab (real sshd hosts, real ansible-playbook:
 * a node both scenarios share runs once, a failing non-voting job lets step 3 run, a failing
 * voting one stops it), and `harness export` of a pipeline (shapes; GitHub through action-validator).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';
import { junitCases, xmllintErrors } from './helpers/junit.js';

const test = suite('pipeline files');
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'tree');
let t: { dir: string; remove: () => Promise<void> };
let project: string;
let counters: string;
let env: NodeJS.ProcessEnv;

test.before(async () => {
  t = await tempDir('harness-pipeline-');
  project = path.join(t.dir, 'project');
  counters = path.join(t.dir, 'counters');
  await cp(FIXTURE, project, { recursive: true });
  await mkdir(counters);
  env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
  const lab = `lab:\n  provider: local\n  hosts:\n    h1: {}\nvars: { counter_dir: "${counters}" }\n`;
  // `base` is the same node in both files (same lab, vars, playbook): built once for both.
  await writeFile(path.join(project, 'one.yml'), `name: one\n${lab}stages:\n  - { name: base, playbook: step.yml }\n  - { name: a1, playbook: step.yml, checkpoint: true }\n`);
  await writeFile(
    path.join(project, 'two.yml'),
    `name: two\n${lab}stages:\n  - { name: base, playbook: step.yml }\n  - { name: b1, playbook: step.yml, vars: { node_fail: true } }\n  - { name: b2, playbook: step.yml, extends: base, checkpoint: true }\n  - { name: b3, playbook: step.yml, extends: base }\n`,
  );
  const pipeline = (name: string, step2: string): string =>
    `pipeline: ${name}\nsteps:\n  - name: check-1\n    jobs:\n      - { scenario: one.yml }\n      - { scenario: two.yml, job: b2 }\n  - name: check-2\n    jobs:\n${step2}  - name: check-3\n    jobs:\n      - { scenario: two.yml, job: [b3] }\n`;
  await writeFile(path.join(project, 'nonvoting.yml'), pipeline('nonvoting', '      - { scenario: two.yml, job: b1, voting: false }\n'));
  await writeFile(path.join(project, 'voting.yml'), pipeline('voting', '      - { scenario: two.yml, job: b1 }\n'));
});
test.after(async () => {
  await t.remove();
});

async function runsOf(node: string): Promise<number> {
  return (await readFile(path.join(counters, `${node}.runs`), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
}

test('bad pipeline files: exit 2, every problem with file:line and a did-you-mean, nothing run or written', async () => {
  const bad = path.join(project, 'bad.yml');
  await writeFile(
    bad,
    'pipeline: bad\nsteps:\n  - name: s1\n    jobs:\n      - { scenario: onee.yml }\n      - { scenario: two.yml, job: [b4] }\n  - name: s1\n    jobs:\n      - { scenario: one.yml, voting: maybe }\n',
  );
  const schema = path.join(project, 'schema.yml');
  await writeFile(schema, 'pipeline: bad\nsteps:\n  - name: s1\n    jobz: []\n');
  for (const cmd of ['validate', 'run']) {
    const r = await harness([cmd, schema], { cwd: t.dir, env });
    assert.is(r.code, 2, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /schema\.yml:4:5: steps\[0\]\.jobz: unknown key 'jobz' \(did you mean 'jobs'\?\)/);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const r = await harness(['validate', bad], { cwd: t.dir, env });
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /bad\.yml:9:\d+: steps\[1\]\.jobs\[0\]\.voting: expected true or false/);
  const fixed = 'pipeline: bad\nsteps:\n  - name: s1\n    jobs:\n      - { scenario: onee.yml }\n      - { scenario: two.yml, job: [b4] }\n  - name: s1\n    jobs:\n      - { scenario: one.yml }\n';
  await writeFile(bad, fixed);
  const r2 = await harness(['run', bad], { cwd: t.dir, env });
  assert.is(r2.code, 2, r2.stdout + r2.stderr);
  assert.match(r2.stderr, /bad\.yml:5:21: steps\[0\]\.jobs\[0\]\.scenario: no such scenario file: .*onee\.yml .*did you mean 'one\.yml'\?/);
  assert.match(r2.stderr, /bad\.yml:6:36: steps\[0\]\.jobs\[1\]\.job\[0\]: scenario 'two' has no job 'b4' \(did you mean 'b1'\?\); its jobs .*: b1, b2, b3/);
  assert.match(r2.stderr, /bad\.yml:7:11: steps\[1\]\.name: a second step named 's1'/);
  assert.not.ok(existsSync(path.join(t.dir, 'runs')), 'nothing written');
  // A scenario's own errors come with the scenario's file:line.
  await writeFile(path.join(project, 'broken.yml'), 'name: broken\nlab: { provider: local, hosts: { h1: {} } }\nstages:\n  - { name: x, playbok: step.yml }\n');
  await writeFile(bad, 'pipeline: bad\nsteps:\n  - name: s1\n    jobs: [ { scenario: broken.yml } ]\n');
  const r3 = await harness(['validate', bad, '--json'], { cwd: t.dir, env });
  assert.is(r3.code, 2);
  const doc = JSON.parse(r3.stdout) as { files: { problems: { file: string; line: number; message: string }[] }[] };
  assert.ok(doc.files[0]!.problems.some((p) => p.file.endsWith('broken.yml') && p.line === 4 && /playbok/.test(p.message)), r3.stdout);
  const ok = await harness(['validate', path.join(project, 'voting.yml')], { cwd: t.dir, env });
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok .*voting\.yml: pipeline 'voting', 3 step\(s\), 4 job\(s\) over 2 scenario\(s\)/);
});

interface PlanDoc {
  version: number;
  pipeline: { name: string };
  steps: { name: string; jobs: { id: string; voting: boolean; jobs: string[]; plan: { scenario: { name: string }; stages: { name: string; action: string; sharedWith?: string; waitFor?: string; key?: { key: string } }[] } }[] }[];
}

test('plan --json of a pipeline: the merged forest (a shared node shown once, then "shared with"), and "wait" for a node another run builds', async () => {
  const r = await harness(['plan', path.join(project, 'nonvoting.yml'), '--json'], { cwd: t.dir, env });
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as PlanDoc;
  assert.is(doc.version, 1);
  assert.is(doc.pipeline.name, 'nonvoting');
  assert.equal(doc.steps.map((s) => s.name), ['check-1', 'check-2', 'check-3']);
  assert.equal(doc.steps.map((s) => s.jobs.map((j) => j.id)), [['check-1/one', 'check-1/two-b2'], ['check-2/two-b1'], ['check-3/two-b3']]);
  assert.is(doc.steps[1]!.jobs[0]!.voting, false);
  const [one, twoB2] = doc.steps[0]!.jobs;
  const base = one!.plan.stages.find((s) => s.name === 'base')!;
  assert.is(base.action, 'run');
  assert.is(base.sharedWith, undefined, 'shown in full where it comes first');
  assert.equal(twoB2!.plan.stages.map((s) => s.name), ['base', 'b2'], 'only the path to b2');
  assert.is(twoB2!.plan.stages[0]!.sharedWith, 'check-1/one');
  assert.is(twoB2!.plan.stages[0]!.key!.key, base.key!.key, 'one key for both files');
  assert.is(doc.steps[2]!.jobs[0]!.plan.stages[0]!.sharedWith, 'check-1/one');
  // Another run (this test process, alive) holds the build claim of base: the plan says wait.
  const claims = path.join(t.dir, 'cache', 'ansible-harness', 'checkpoints', 'claims');
  await mkdir(claims, { recursive: true });
  const claim = path.join(claims, `${base.key!.key}.claim`);
  await writeFile(claim, JSON.stringify({ id: 'test', pid: process.pid, host: hostname(), what: 'other: base (run x)', since: new Date().toISOString() }));
  // Its heartbeat, as a live claimant renews it (a claim older than 5 s is stale).
  const beat = setInterval(() => void utimes(claim, new Date(), new Date()).catch(() => {}), 500);
  try {
    const w = await harness(['plan', path.join(project, 'one.yml'), path.join(project, 'two.yml'), '--json'], { cwd: t.dir, env });
    assert.is(w.code, 0, w.stderr);
    const wd = JSON.parse(w.stdout) as PlanDoc;
    const wbase = wd.steps[0]!.jobs[0]!.plan.stages.find((s) => s.name === 'base')!;
    assert.is(wbase.action, 'wait');
    assert.match(wbase.waitFor ?? '', new RegExp(`other: base \\(run x\\), pid ${process.pid}`));
    assert.is(wd.steps[0]!.jobs[1]!.plan.stages[0]!.sharedWith, 'scenarios/one');
    const text = await harness(['plan', path.join(project, 'nonvoting.yml')], { cwd: t.dir, env });
    assert.match(text.stdout, /base\s+wait \(another run builds it\)/);
    assert.match(text.stdout, /base\s+shared with check-1\/one/);
  } finally {
    clearInterval(beat);
    await rm(claim, { force: true });
  }
});

interface PipelineJson {
  kind: string;
  status: string;
  exitCode: number;
  reason?: string;
  steps: { name: string; status: string; jobs: { id: string; status: string; reason?: string; runDir?: string; startedAt?: string; durationMs?: number }[] }[];
}

test('a 3-step pipeline on the local lab: the shared node runs once; a failing non-voting job lets step 3 run, a failing voting one stops it', async () => {
  const out = path.join(t.dir, 'p1');
  const r = await harness(['run', path.join(project, 'nonvoting.yml'), '--jobs', '2', '--out', out], { cwd: t.dir, env });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(await runsOf('base'), 1, 'base (in both files, two jobs at once) ran once');
  for (const n of ['a1', 'b1', 'b2', 'b3']) assert.is(await runsOf(n), 1, n);
  const p1 = JSON.parse(readFileSync(path.join(out, 'pipeline.json'), 'utf8')) as PipelineJson;
  assert.is(p1.kind, 'pipeline');
  assert.is(p1.status, 'passed');
  assert.equal(p1.steps.map((s) => s.jobs.map((j) => j.status)), [['passed', 'passed'], ['failed'], ['passed']]);
  const [j1, j2] = p1.steps[0]!.jobs;
  // With --jobs 2 the two jobs of step 1 ran at once (one waited for the other's base).
  assert.ok(Date.parse(j2!.startedAt!) < Date.parse(j1!.startedAt!) + j1!.durationMs!, 'the jobs of a step overlap');
  for (const j of p1.steps.flatMap((s) => s.jobs)) assert.ok(existsSync(path.join(out, j.runDir!, 'manifest.json')), `${j.id} has its run directory inside`);
  assert.is(await xmllintErrors(path.join(out, 'junit.xml')), '');
  const cases = await junitCases(path.join(out, 'junit.xml'));
  const pipelineCases = cases.filter((c) => c.suite === 'pipeline nonvoting');
  assert.equal(pipelineCases.map((c) => [c.name, c.outcome]), [['check-1/one', 'passed'], ['check-1/two-b2', 'passed'], ['check-2/two-b1', 'failure'], ['check-3/two-b3', 'passed']]);
  assert.ok(cases.some((c) => c.suite.startsWith('check-2/two-b1: ') && c.outcome === 'failure'), 'the jobs\' own suites are merged in, named by job');

  const out2 = path.join(t.dir, 'p2');
  const v = await harness(['run', path.join(project, 'voting.yml'), '--jobs', '2', '--out', out2], { cwd: t.dir, env });
  assert.is(v.code, 1, v.stdout + v.stderr);
  const p2 = JSON.parse(readFileSync(path.join(out2, 'pipeline.json'), 'utf8')) as PipelineJson;
  assert.is(p2.status, 'failed');
  assert.equal(p2.steps.map((s) => s.status), ['passed', 'failed', 'skipped']);
  const skipped = p2.steps[2]!.jobs[0]!;
  assert.is(skipped.status, 'skipped');
  assert.match(skipped.reason ?? '', /step 'check-2': voting job check-2\/two-b1 failed/);
  assert.not.ok(existsSync(path.join(out2, 'check-3')), 'step 3 never started');
  assert.is(await runsOf('b3'), 1, 'b3 did not run again');
  assert.is(await runsOf('b1'), 2);
  for (const n of ['base', 'a1', 'b2']) assert.is(await runsOf(n), 1, `${n} restored, never rebuilt`);
  assert.match(v.stdout, /skipped\s+check-3\/two-b3: step 'check-2'/);
});

test('export of a pipeline: steps become dependencies for GitLab (stages, needs), GitHub (needs; action-validator) and Zuul', async () => {
  const file = path.relative(t.dir, path.join(project, 'nonvoting.yml'));
  const gl = await harness(['export', '--to', 'gitlab', file], { cwd: t.dir, env });
  assert.is(gl.code, 0, gl.stderr);
  const doc = parse(gl.stdout) as Record<string, any>;
  assert.equal(doc.stages, ['check-1', 'check-2', 'check-3']);
  const jobs = Object.keys(doc).filter((k) => k !== 'stages' && k !== 'workflow');
  const needs = Object.fromEntries(jobs.map((j) => [j, doc[j].needs as string[]]));
  // one's tree is a line (one chain); two-b2's path too; the non-voting b1 job never holds step 3 back.
  assert.equal(needs, {
    'check-1-one-a1': [],
    'check-1-two-b2-b2': [],
    'check-2-two-b1-b1': ['check-1-one-a1', 'check-1-two-b2-b2'],
    'check-3-two-b3-b3': ['check-1-one-a1', 'check-1-two-b2-b2'],
  });
  assert.is(doc['check-2-two-b1-b1'].stage, 'check-2');
  assert.is(doc['check-2-two-b1-b1'].allow_failure, true);
  assert.is(doc['check-3-two-b3-b3'].script[0], 'npx harness run project/two.yml --job b3 --out runs/check-3-two-b3-b3');
  const vgl = await harness(['export', '--to', 'gitlab', path.relative(t.dir, path.join(project, 'voting.yml'))], { cwd: t.dir, env });
  assert.equal((parse(vgl.stdout) as Record<string, any>)['check-3-two-b3-b3'].needs, ['check-2-two-b1-b1'], 'a voting step-2 job gates step 3');

  const gh = path.join(t.dir, 'workflow.yml');
  const g = await harness(['export', '--to', 'github', file, '-o', gh], { cwd: t.dir, env });
  assert.is(g.code, 0, g.stderr);
  const wf = parse(readFileSync(gh, 'utf8')) as { jobs: Record<string, any> };
  assert.equal(wf.jobs['check-3-two-b3-b3'].needs, ['check-1-one-a1', 'check-1-two-b2-b2']);
  assert.is(wf.jobs['check-2-two-b1-b1']['continue-on-error'], true);
  const validator = path.join(PACKAGE_ROOT, 'node_modules', '.bin', 'action-validator');
  const checked = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(validator, [gh], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(stdout) + String(stderr) })),
  );
  assert.is(checked.code, 0, checked.out);

  const zo = path.join(t.dir, 'zuul');
  const z = await harness(['export', '--to', 'zuul', file, '-o', zo], { cwd: t.dir, env });
  assert.is(z.code, 0, z.stderr);
  const project_ = parse(readFileSync(path.join(zo, 'zuul.d', 'project.yaml'), 'utf8')) as any[];
  const entries = project_[0].project.check.jobs as (string | Record<string, { dependencies: string[] }>)[];
  const deps = Object.fromEntries(entries.map((j) => (typeof j === 'string' ? [j, []] : [Object.keys(j)[0]!, Object.values(j)[0]!.dependencies])));
  assert.equal(deps['harness-check-3-two-b3-b3'], ['harness-check-1-one-a1', 'harness-check-1-two-b2-b2']);
  const zjobs = parse(readFileSync(path.join(zo, 'zuul.d', 'jobs.yaml'), 'utf8')) as { job: { name: string; voting?: boolean } }[];
  assert.is(zjobs.find((j) => j.job.name === 'harness-check-2-two-b1-b1')!.job.voting, false);
});

test.run();
