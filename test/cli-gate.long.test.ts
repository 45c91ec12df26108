import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readJournal } from '../lib/report/index.js';
import type { GateDoc } from '../lib/queue/report.js';
import { harness, tempDir } from './helpers/cli.js';
import { junitCases, xmllintErrors } from './helpers/junit.js';
import { QUEUE_FILES, writeQueueProject } from './helpers/queue.js';

const test = suite('cli gate');
let t: { dir: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
test.before.each(async () => {
  t = await tempDir('harness-gate-');
  env = { XDG_CACHE_HOME: path.join(t.dir, 'cache'), TMPDIR: path.join(t.dir, 'tmp') };
  await mkdir(env.TMPDIR!);
});
test.after.each(async () => {
  await t.remove();
});

/** The probe copies in this test's own temporary folder (other test files make theirs meanwhile). */
const probeTrees = async (): Promise<string[]> => (await readdir(env.TMPDIR!)).filter((n) => n.startsWith('harness-probe-'));

test('a bad change in the middle of five is rejected, the others merge; --retry reruns it alone once its dependency is back', async () => {
  const project = path.join(t.dir, 'project');
  await writeQueueProject(project);
  await writeFile(path.join(t.dir, 'settings-2.yml'), 'healthy: true\nlevel: 2\n');
  const dep = path.join(t.dir, 'dependency');
  const changes = path.join(t.dir, 'changes.yml');
  await writeFile(
    changes,
    `- { id: c1, description: a package version, vars: { pkg_version: "1.1" } }
- { id: c2, files: { settings.yml: { from: settings-2.yml } } }
- { id: c3, description: needs an external service, vars: { needs_file: ${dep} } }
- { id: c4, files: { notes/x.txt: "x\\n" } }
- { id: c5, vars: { pkg_version: "1.2" } }
`,
  );
  const before = await probeTrees();
  const out = path.join(t.dir, 'out');
  const scenario = path.join(project, 'scenario.yml');
  const r = await harness(['gate', scenario, '--changes', changes, '--out', out], { cwd: t.dir, env });
  assert.is(r.code, 1, r.stdout + r.stderr);
  const doc = JSON.parse(await readFile(path.join(out, 'gate.json'), 'utf8')) as GateDoc;
  assert.is(doc.format, 'ansible-harness gate v1');
  assert.ok(doc.complete);
  assert.equal(doc.merged, [{ id: 'c1' }, { id: 'c2' }, { id: 'c4' }, { id: 'c5' }]);
  assert.is(doc.rejected.length, 1);
  assert.is(doc.rejected[0]!.id, 'c3');
  assert.is(doc.rejected[0]!.stage, 'test');
  assert.match(doc.rejected[0]!.reason, new RegExp(`stage 'test' failed: \\[node-0\\] The external dependency is there: missing ${dep}`));
  assert.ok(existsSync(path.join(out, doc.rejected[0]!.bundle!)), 'the rejected change has its bundle');
  // c3 was in the speculative set of none behind it (window 1): c4 and c5 tested without it.
  assert.equal(doc.probes.map((p) => p.applied.join(' ')), ['c1', 'c1 c2', 'c1 c2 c3', 'c1 c2 c4', 'c1 c2 c4 c5']);
  assert.is(doc.runs, 5);
  assert.match(r.stdout, /merged: c1 c2 c4 c5\nrejected: c3: stage 'test' failed/);
  // A file change of the test stage restores the deploy checkpoint of the probe before it.
  const j4 = await readJournal(path.join(out, doc.probes[3]!.run_dir!, 'journal.json'));
  assert.equal(j4.stages.map((s) => `${s.name}:${s.status}`), ['deploy:restored', 'test:passed']);
  // The overlay wrote into a copy: the project itself is untouched, and no copy is left.
  assert.is(await readFile(path.join(project, 'settings.yml'), 'utf8'), QUEUE_FILES['settings.yml']);
  assert.not.ok(existsSync(path.join(project, 'notes')));
  assert.equal(await probeTrees(), before);
  const junit = path.join(out, 'junit.xml');
  assert.is(await xmllintErrors(junit), '');
  const cases = await junitCases(junit);
  assert.equal(cases.filter((c) => c.suite === 'gate.changes').map((c) => `${c.name}:${c.outcome}`), ['c1:passed', 'c2:passed', 'c3:failure', 'c4:passed', 'c5:passed']);
  assert.is(cases.filter((c) => c.suite === 'gate.probes').length, 5);

  // The dependency is back (a flaky service): --retry c3 reruns c3's probe and keeps the rest.
  await writeFile(dep, 'up\n');
  const again = await harness(['gate', scenario, '--changes', changes, '--out', out, '--retry', 'c3', '--no-bundle'], { cwd: t.dir, env });
  assert.is(again.code, 0, again.stdout + again.stderr);
  const doc2 = JSON.parse(await readFile(path.join(out, 'gate.json'), 'utf8')) as GateDoc;
  assert.equal(doc2.merged.map((m) => m.id), ['c1', 'c2', 'c3', 'c4', 'c5']);
  assert.equal(doc2.rejected, []);
  // c1 and c1 c2 are kept, not run again; c3 and the changes behind it run on top of it.
  assert.is(doc2.runs, 3);
  assert.equal(doc2.probes.filter((p) => !p.reused).map((p) => [p.run, p.applied.join(' ')]), [[6, 'c1 c2 c3'], [7, 'c1 c2 c3 c4'], [8, 'c1 c2 c3 c4 c5']]);
  assert.ok(doc2.probes.filter((p) => p.reused).every((p) => p.applied[p.applied.length - 1] !== 'c3'), 'the old probe of c3 is not kept');
  assert.ok(existsSync(path.join(out, 'probes', '06', 'journal.json')));
  assert.ok(existsSync(path.join(out, 'probes', '03', 'journal.json')), 'the earlier probe directories stay');
});

test('bad input: exit 2 naming the argument or the file and line', async () => {
  const project = path.join(t.dir, 'project');
  await writeQueueProject(project);
  const scenario = path.join(project, 'scenario.yml');
  const changes = path.join(t.dir, 'changes.yml');
  const bad = async (args: string[], re: RegExp): Promise<void> => {
    const r = await harness(['gate', scenario, ...args], { cwd: t.dir, env });
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  };
  await bad([], /Missing required argument: changes/);
  await writeFile(changes, '- { id: a, vars: { x: 1 }, depends: [b] }\n- { id: b, vars: { x: 2 } }\n');
  await bad(['--changes', changes], /changes\.yml:1:\d+: \[0\]\.depends: depends on 'b', which comes later in the queue \(a cycle/);
  await writeFile(changes, '- { id: a, vars: { x: 1 } }\n- { id: b, files: { ../x.yml: "" } }\n- { id: c, colour: red, vars: {} }\n');
  await bad(['--changes', changes], /changes\.yml:2:\d+: .*'\.\.\/x\.yml' leaves the project[\s\S]*changes\.yml:3:\d+: .*unknown key 'colour'/);
  await writeFile(changes, '- { id: a, vars: { x: 1 } }\n');
  await bad(['--changes', changes, '--retry', 'a'], /--retry ID reruns one change of an earlier gate: name its folder with --out/);
  await bad(['--changes', changes, '--retry', 'a', '--out', path.join(t.dir, 'none')], /--retry a: .*gate\.json cannot be read \(ENOENT\)/);
  await bad(['--changes', changes, '--jobs', '0'], /--jobs 0: give a whole number from 1 to 64/);
  assert.not.ok(existsSync(path.join(t.dir, 'runs')), 'nothing written');
});

test.run();
