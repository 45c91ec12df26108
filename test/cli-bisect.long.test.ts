import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { readJournal } from '../lib/report/index.js';
import type { BisectDoc } from '../lib/queue/report.js';
import { harness, tempDir } from './helpers/cli.js';
import { junitCases, xmllintErrors } from './helpers/junit.js';
import { gitIn, queueRepo, writeQueueProject } from './helpers/queue.js';

const test = suite('cli bisect');
let t: { dir: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
test.before.each(async () => {
  t = await tempDir('harness-bisect-');
  // Checkpoints and the Ansible lookup in a cache of this test only.
  env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
});
test.after.each(async () => {
  await t.remove();
});

const worktrees = async (repo: string): Promise<string[]> => (await gitIn(repo, 'worktree', 'list', '--porcelain')).split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9));

test('--git over a real repository: commit 5 of 8 is the culprit, within the bound, checkpoints restored, no worktree left; --jobs 2 on part of it', async () => {
  const repo = path.join(t.dir, 'repo');
  const ids = await queueRepo(repo, 8, 5);
  const out = path.join(t.dir, 'out');
  const r = await harness(['bisect', path.join(repo, 'scenario.yml'), '--git', `${ids[0]}..main`, '--out', out], { cwd: t.dir, env });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(await readFile(path.join(out, 'bisect.json'), 'utf8')) as BisectDoc;
  assert.is(doc.format, 'ansible-harness bisect v1');
  assert.ok(doc.complete);
  assert.equal(doc.changes.map((c) => c.id), ids.slice(1).map((c) => c.slice(0, 12)));
  assert.equal(doc.culprits.map((c) => [c.id, c.stage, c.confidence]), [[ids[5]!.slice(0, 12), 'test', 1]]);
  // Binary search P4 pass, P6 fail, P5 fail; P5 confirmed once more; the tip without the culprit passes.
  assert.is(doc.runs, 5);
  assert.ok(doc.runs <= 1 * (Math.ceil(Math.log2(8)) + 1) + 1, 'within k·(⌈log₂N⌉+1)+1');
  assert.equal(doc.probes.map((p) => [p.prefix, p.status]), [[4, 'pass'], [6, 'fail'], [5, 'fail'], [5, 'fail'], [null, 'pass']]);
  assert.equal(doc.probes[4]!.applied, ids.slice(1).filter((_, i) => i !== 4).map((c) => c.slice(0, 12)), 'the last probe is the queue without the culprit (cherry-picked)');
  assert.match(doc.probes[1]!.message ?? '', /the service is unhealthy/);
  assert.match(r.stdout, new RegExp(`culprit: ${ids[5]!.slice(0, 12)} "change 5: breaks the test", stage 'test' fails, confidence 1\\.00`));
  // Every probe is a real run with its bundle; the test stage's changes never redeploy.
  for (const p of doc.probes) {
    assert.ok(existsSync(path.join(out, p.run_dir!, 'junit.xml')), p.run_dir);
    assert.ok(existsSync(path.join(out, p.bundle!)), p.bundle);
  }
  const later = await readJournal(path.join(out, doc.probes[1]!.run_dir!, 'journal.json'));
  assert.equal(later.stages.map((s) => `${s.name}:${s.status}`), ['deploy:restored', 'test:failed']);
  // JUnit: one case per change (the culprit failed) and one per probe; valid against the schema.
  const junit = path.join(out, 'junit.xml');
  assert.is(await xmllintErrors(junit), '');
  const cases = await junitCases(junit);
  const changeCases = cases.filter((c) => c.suite === 'bisect.changes');
  assert.is(changeCases.length, 8);
  assert.equal(changeCases.filter((c) => c.outcome === 'failure').map((c) => c.name), [ids[5]!.slice(0, 12)]);
  assert.is(cases.filter((c) => c.suite === 'bisect.probes').length, 5);
  assert.match(await readFile(path.join(out, 'report.html'), 'utf8'), /class="culprit">culprit \(stage test\)/);
  assert.equal(await worktrees(repo), [repo]);
  // --fail-on-culprit: the same search (its probes now known only to a new run) exits 1. With
  // --jobs 2 the two prefixes of commits 4..6 are probed at once, each in a worktree of its own.
  const again = await harness(['bisect', path.join(repo, 'scenario.yml'), '--git', `${ids[3]}..${ids[6]}`, '--out', path.join(t.dir, 'out2'), '--fail-on-culprit', '--no-bundle', '--jobs', '2'], { cwd: t.dir, env });
  assert.is(again.code, 1, again.stdout + again.stderr);
  assert.match(again.stdout, new RegExp(`culprit: ${ids[5]!.slice(0, 12)}`));
  const doc2 = JSON.parse(await readFile(path.join(t.dir, 'out2', 'bisect.json'), 'utf8')) as BisectDoc;
  assert.equal(doc2.probes.slice(0, 2).map((p) => [p.prefix, p.status]).sort(), [[1, 'pass'], [2, 'fail']]);
  assert.is(doc2.jobs, 2);
  assert.equal(await worktrees(repo), [repo]);
});

test('Ctrl-C during a probe: exit 130, the worktree removed, bisect.json marked incomplete', async () => {
  const repo = path.join(t.dir, 'repo');
  const ids = await queueRepo(repo, 4, 3);
  const out = path.join(t.dir, 'out');
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'bisect', path.join(repo, 'scenario.yml'), '--git', `${ids[0]}..main`, '--out', out, '--no-checkpoints', '-e', 'deploy_sleep=120'], {
    cwd: t.dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Wait until the probe's deploy stage runs (the sleep), then interrupt the harness alone.
  const journal = path.join(out, 'probes', '01', 'journal.json');
  let seen: string[] = [];
  for (let i = 0; i < 600; i++) {
    if (existsSync(journal) && (await readFile(journal, 'utf8')).includes('"running"')) {
      seen = await worktrees(repo);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.is(seen.length, 2, `a probe worktree while it runs: ${seen.join(' ')}\n${output}`);
  child.kill('SIGINT');
  assert.is(await exited, 130, output);
  assert.match(output, /interrupted during probe 1/);
  assert.equal(await worktrees(repo), [repo]);
  assert.not.ok(existsSync(seen[1]!), `${seen[1]} removed`);
  const doc = JSON.parse(await readFile(path.join(out, 'bisect.json'), 'utf8')) as BisectDoc;
  assert.is(doc.complete, false);
  assert.equal(doc.culprits, []);
  assert.is((await readJournal(journal)).status, 'interrupted');
});

test('a probe whose commits do not apply without the culprit cannot test: skipped, never a verdict', async () => {
  const repo = path.join(t.dir, 'repo');
  const ids = await queueRepo(repo, 1, 1);
  // Commit 2 edits the line commit 1 broke: without commit 1 it does not cherry-pick.
  await writeFile(path.join(repo, 'settings.yml'), 'healthy: false\nlevel: 2\n');
  await gitIn(repo, 'commit', '-q', '-am', 'change 2: builds on change 1');
  const out = path.join(t.dir, 'out');
  const r = await harness(['bisect', path.join(repo, 'scenario.yml'), '--git', `${ids[0]}..main`, '--out', out, '--no-bundle'], { cwd: t.dir, env });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(await readFile(path.join(out, 'bisect.json'), 'utf8')) as BisectDoc;
  assert.equal(doc.culprits.map((c) => c.id), [ids[1]!.slice(0, 12)]);
  // P1 fails, is confirmed; the queue without it cannot be made: tried twice, no run directory.
  assert.equal(doc.probes.map((p) => [p.prefix, p.status]), [[1, 'fail'], [1, 'fail'], [null, 'untestable'], [null, 'untestable']]);
  assert.match(doc.probes[2]!.message ?? '', /do not apply without the ones left out/);
  assert.is(doc.probes[2]!.run_dir, undefined);
  const probes = (await junitCases(path.join(out, 'junit.xml'))).filter((c) => c.suite === 'bisect.probes');
  assert.equal(probes.map((c) => c.outcome), ['failure', 'failure', 'skipped', 'skipped']);
  assert.equal(await worktrees(repo), [repo]);
});

test('bad input (a bad git range, an empty queue, unknown or cyclic depends, --jobs 0): exit 2 naming the argument or the file and line, nothing run', async () => {
  const repo = path.join(t.dir, 'repo');
  await queueRepo(repo, 2, 2);
  const scenario = path.join(repo, 'scenario.yml');
  const bad = async (args: string[], re: RegExp): Promise<void> => {
    const r = await harness(['bisect', scenario, ...args], { cwd: t.dir, env });
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  };
  await bad(['--git', 'nosuchcommit..main'], /--git nosuchcommit\.\.main: 'nosuchcommit' is no commit of/);
  await bad(['--git', 'main..main'], /the range holds no commit: the queue is empty/);
  await bad(['--git', 'main'], /give a range GOOD\.\.BAD/);
  await bad([], /--git GOOD\.\.BAD or --changes FILE/);
  const changes = path.join(t.dir, 'changes.yml');
  await writeFile(changes, '- { id: a, vars: { x: 1 } }\n- id: b\n  vars: { x: 2 }\n  depends: [nope]\n');
  await bad(['--changes', changes], new RegExp(`${changes.replace(/[.]/g, '\\.')}:4:\\d+: \\[1\\]\\.depends: depends on 'nope', which is no change of the queue`));
  await writeFile(changes, '- { id: a, vars: { x: 1 }, depends: [b] }\n- { id: b, vars: { x: 2 }, depends: [a] }\n');
  await bad(['--changes', changes], /changes\.yml:1:\d+: \[0\]\.depends: depends on 'b', which comes later in the queue \(a cycle/);
  await bad(['--changes', changes, '--jobs', '0'], /--jobs 0: give a whole number from 1 to 64/);
  await writeFile(changes, '[]\n');
  await bad(['--changes', changes], /changes\.yml:1: the queue is empty/);
  const project = path.join(t.dir, 'project');
  await writeQueueProject(project);
  await bad(['--changes', path.join(t.dir, 'missing.yml')], /missing\.yml: cannot be read \(ENOENT\)/);
  assert.equal(await readdir(t.dir).then((l) => l.filter((x) => x === 'runs')), [], 'nothing written');
});

test.run();
