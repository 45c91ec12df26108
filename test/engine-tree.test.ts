import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, readdir, readFile, writeFile, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario, type RunOptions } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';
import { junitCases } from './helpers/junit.js';

// Stage trees on a real local lab (sshd on loopback) with real ansible-playbook: each node runs
// once, branches start from exactly their fork's state, failures stay in their subtree.
const test = suite('engine tree');
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'tree');
let t: { dir: string; remove: () => Promise<void> };
let project: string;
let counters: string;
let env: NodeJS.ProcessEnv;
let runs = 0;

const LAB = `lab:\n  provider: local\n  hosts:\n    h1: { groups: [nodes] }\n`;

test.before.each(async () => {
  t = await tempDir('harness-tree-');
  project = path.join(t.dir, 'project');
  counters = path.join(t.dir, 'counters');
  await cp(FIXTURE, project, { recursive: true });
  await mkdir(counters);
  env = { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
});
test.after.each(async () => {
  await t.remove();
});

async function writeTree(body: string): Promise<void> {
  await writeFile(path.join(project, 'scenario.yml'), `name: tree\n${LAB}vars: { counter_dir: "${counters}" }\n${body}`);
}

async function run(opts: RunOptions = {}) {
  const scenario = await loadScenario(path.join(project, 'scenario.yml'));
  const out = path.join(t.dir, `run${++runs}`);
  let log = '';
  const result = await runScenario(scenario, { out, env, write: (s) => (log += s), bundle: false, ...opts });
  const journal = await readJournal(path.join(out, 'journal.json'));
  return { result, journal, log, out, statuses: Object.fromEntries(journal.stages.map((s) => [s.name, s.status])) };
}

/** How often a node ran, and what state it started from. */
async function runsOf(node: string): Promise<number> {
  return (await readFile(path.join(counters, `${node}.runs`), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
}
async function seen(node: string): Promise<string[]> {
  return (await readFile(path.join(counters, `${node}.seen`), 'utf8')).trim().split(/\s+/).filter(Boolean).sort();
}

const TREE = `stages:
  - { name: a, playbook: step.yml }
  - { name: b, playbook: b.yml, checkpoint: true }
  - { name: c, playbook: step.yml, extends: a, checkpoint: true }
`;

test('a tree runs each node once; a branch starts from its fork, not from the stage listed before it', async () => {
  await writeTree(TREE);
  const first = await run();
  assert.is(first.result.exitCode, 0, first.log);
  assert.equal(first.statuses, { a: 'passed', b: 'passed', c: 'passed' });
  assert.equal([await runsOf('a'), await runsOf('b'), await runsOf('c')], [1, 1, 1], 'each node once per run');
  assert.equal(await seen('b'), ['a']);
  assert.equal(await seen('c'), ['a'], 'c extends a: it never sees b');
  assert.ok(first.journal.stages.find((s) => s.name === 'a')!.checkpoint, 'the fork point a is checkpointed without checkpoint: true');
  assert.equal(first.journal.stages.find((s) => s.name === 'c')!.path, ['a', 'c']);
  const manifest = JSON.parse(await readFile(path.join(first.out, 'manifest.json'), 'utf8')) as { tree: { nodes: { name: string; parent: string | null }[]; jobs: { name: string }[] } };
  assert.equal(manifest.tree.nodes, [{ name: 'a', stage: 'a', parent: null }, { name: 'b', stage: 'b', parent: 'a' }, { name: 'c', stage: 'c', parent: 'a' }]);
  assert.equal(manifest.tree.jobs.map((j) => j.name), ['b', 'c']);
  const cases = await junitCases(path.join(first.out, 'junit.xml'));
  assert.ok(cases.some((c) => c.suite === 'a > c'), `the suite of c is named by its path: ${JSON.stringify([...new Set(cases.map((c) => c.suite))])}`);

  // The defect: editing b must rerun b only; c (extends a) is restored and still never saw b.
  await appendFile(path.join(project, 'b.yml'), '# edited\n');
  const second = await run();
  assert.is(second.result.exitCode, 0, second.log);
  assert.equal(second.statuses, { a: 'restored', b: 'passed', c: 'restored' });
  assert.equal([await runsOf('a'), await runsOf('b'), await runsOf('c')], [1, 2, 1], 'only the edited branch ran again');
});

test('a failed node skips its own subtree only; its sibling branch starts from the fork and passes', async () => {
  await writeTree(`stages:
  - { name: a, playbook: step.yml }
  - { name: b, playbook: b.yml, vars: { node_fail: true } }
  - { name: b2, playbook: step.yml }
  - { name: c, playbook: step.yml, extends: a }
  - { name: collect, playbook: step.yml, always: true }
`);
  const r = await run();
  assert.is(r.result.exitCode, 1, r.log);
  assert.is(r.statuses.b, 'failed');
  assert.is(r.statuses.b2, 'skipped');
  assert.match(r.journal.stages.find((s) => s.name === 'b2')!.reason ?? '', /stage 'b' failed/);
  assert.is(r.statuses.c, 'passed');
  assert.equal(await seen('c'), ['a'], 'the sibling started from the fork state, not from the failed branch');
  // The always-stage is the end of each branch: once where b failed, once after c.
  assert.is(r.statuses['collect@b'], 'passed');
  assert.is(r.statuses['collect@c'], 'passed');
  assert.equal(r.journal.stages.find((s) => s.name === 'collect@b')!.jobs, ['b2']);
  assert.equal(await seen('collect@c'), ['a', 'c']);
});

test('fail_fast: all cancels every node not finished yet', async () => {
  await writeTree(`fail_fast: all
stages:
  - { name: a, playbook: step.yml }
  - { name: b, playbook: b.yml, vars: { node_fail: true } }
  - { name: c, playbook: step.yml, extends: a }
`);
  const r = await run();
  assert.is(r.result.exitCode, 1, r.log);
  assert.is(r.statuses.b, 'failed');
  assert.is(r.statuses.c, 'skipped');
  assert.match(r.journal.stages.find((s) => s.name === 'c')!.reason ?? '', /fail_fast: all/);
  assert.is(await runsOf('c'), 0);
});

test('--jobs 2 runs sibling branches at once on two labs; cancelled_by aborts a running node', async () => {
  await writeTree(`stages:
  - { name: a, playbook: step.yml }
  - { name: b, playbook: b.yml, vars: { node_sleep: 4, node_fail: true } }
  - { name: c, playbook: step.yml, extends: a, cancelled_by: [b], vars: { node_sleep: 120 } }
`);
  const t0 = Date.now();
  const r = await run({ parallel: 2 });
  assert.is(r.result.exitCode, 1, r.log);
  assert.is(r.statuses.b, 'failed');
  assert.is(r.statuses.c, 'skipped', 'c was aborted while it ran');
  assert.match(r.journal.stages.find((s) => s.name === 'c')!.reason ?? '', /cancelled: stage 'b' failed/);
  assert.ok(Date.now() - t0 < 100_000, 'c did not sleep its 120 s');
  const labs = new Set(r.journal.stages.filter((s) => s.name === 'b' || s.name === 'c').map((s) => s.lab));
  assert.equal([...labs].sort(), ['lab-1', 'lab-2'], 'each sibling on a lab of its own');
  const b = r.journal.stages.find((s) => s.name === 'b')!;
  const c = r.journal.stages.find((s) => s.name === 'c')!;
  assert.ok(Date.parse(c.started!) < Date.parse(b.ended!), 'the branches overlapped in time');
  assert.equal(await seen('c'), ['a']);
  const html = await readFile(path.join(r.out, 'report.html'), 'utf8');
  assert.match(html, /<text class="lane"[^>]*>lab-2<\/text>/, 'report.html has a timeline lane per lab');
  // Both labs were released: no sshd of the run is left (their records name none running).
  for (const rec of [path.join(r.out, 'lab.json'), path.join(r.out, 'labs', 'lab-2', 'lab.json')]) {
    const text = await readFile(rec, 'utf8');
    assert.not.match(text, /"state":\s*"running"/, rec);
  }
});

test('variants: the subtree from `from` runs once per combination with its vars; --job picks one path', async () => {
  await writeTree(`stages:
  - { name: a, playbook: step.yml }
  - { name: b, playbook: b.yml }
  - { name: check, playbook: step.yml }
variants:
  from: b
  matrix: { tls: [on, off] }
  non_voting: [ { tls: off } ]
`);
  const r = await run();
  assert.is(r.result.exitCode, 0, r.log);
  assert.equal(Object.keys(r.statuses).sort(), ['a', 'b[tls=off]', 'b[tls=on]', 'check[tls=off]', 'check[tls=on]']);
  assert.is(await runsOf('a'), 1, 'the shared prefix ran once for both variants');
  assert.is((await readFile(path.join(counters, 'b[tls=on].tls'), 'utf8')).trim(), 'on');
  assert.is((await readFile(path.join(counters, 'check[tls=off].tls'), 'utf8')).trim(), 'off');
  assert.equal(await seen('check[tls=off]'), ['a', 'b_tls_off_'], 'each variant on its own state');
  assert.is(r.journal.stages.find((s) => s.name === 'b[tls=off]')!.voting, false, 'non_voting combination');

  const one = await run({ jobs: ['check[tls=on]'], checkpoints: false });
  assert.is(one.result.exitCode, 0, one.log);
  assert.equal(Object.keys(one.statuses).sort(), ['a', 'b[tls=on]', 'check[tls=on]']);
});

test('--no-checkpoints: branches still start from the fork state, and no checkpoint outlives the run', async () => {
  await writeTree(TREE);
  const r = await run({ checkpoints: false });
  assert.is(r.result.exitCode, 0, r.log);
  assert.equal(await seen('c'), ['a']);
  const left = await readdir(path.join(t.dir, 'cache', 'ansible-harness'), { recursive: true }).catch(() => [] as string[]);
  assert.not.ok(left.some((f) => /run-checkpoints\/.+/.test(String(f))), `nothing left of the run's fork checkpoints: ${left.join(', ')}`);
  assert.not.ok(left.some((f) => /^checkpoints\/.+/.test(String(f))), 'and nothing in the shared store');
});

test.run();
