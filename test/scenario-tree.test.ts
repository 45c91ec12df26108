import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { InputError } from '../lib/errors.js';
import { planTree } from '../lib/engine/plan.js';
import { harness, tempDir } from './helpers/cli.js';

// Trees and variants in scenario files: what loads, and bad input named at its file:line and field.
const test = suite('scenario tree');
let t: { dir: string; remove: () => Promise<void> };
test.before.each(async () => {
  t = await tempDir('harness-stree-');
  await writeFile(path.join(t.dir, 'p.yml'), '- hosts: all\n  tasks: []\n');
});
test.after.each(async () => {
  await t.remove();
});

const LOCAL = 'lab:\n  provider: local\n  hosts:\n    h1: {}\n';

async function load(body: string, lab = LOCAL) {
  const file = path.join(t.dir, 's.yml');
  await writeFile(file, `name: s\n${lab}${body}`);
  return loadScenario(file);
}

/** The problems loading `body` gives, as `line field: message`. */
async function problems(body: string, lab = LOCAL): Promise<string[]> {
  try {
    await load(body, lab);
  } catch (err) {
    assert.instance(err, InputError);
    return (err as InputError).problems.map((p) => `${p.line ?? '?'} ${p.path ?? ''}: ${p.message}`);
  }
  assert.unreachable('no error');
  return [];
}

test('a tree with variants loads; the plan names its nodes and jobs', async () => {
  const s = await load(`stages:
  - { name: base, playbook: p.yml }
  - { name: over, playbook: p.yml }
  - { name: check, playbook: p.yml }
  - { name: upgrade, playbook: p.yml, extends: base }
  - { name: collect, playbook: p.yml, always: true }
variants:
  from: over
  matrix: { tls: [on, off], ipv6: [off, on] }
  exclude: [ { tls: off, ipv6: on } ]
  non_voting: [ { ipv6: on } ]
fail_fast: branch
`);
  const plan = planTree(s);
  assert.not.ok(plan.line);
  assert.equal(plan.jobs.map((j) => j.name), ['check[tls=on,ipv6=off]', 'check[tls=on,ipv6=on]', 'check[tls=off,ipv6=off]', 'upgrade']);
  assert.equal(plan.steps.filter((st) => st.checkpoint).map((st) => st.stage.name), ['base'], 'the fork point is checkpointed');
  assert.is(plan.byName.get('over[tls=on,ipv6=on]')!.stage.voting, false);
  assert.equal(planTree(s, { jobs: ['upgrade'] }).steps.map((st) => st.stage.name), ['base', 'upgrade']);
  assert.equal(planTree(s, { until: 'over' }).jobs.map((j) => j.name), ['over[tls=on,ipv6=off]', 'over[tls=on,ipv6=on]', 'over[tls=off,ipv6=off]'], '--until a stage name cuts every variant copy');
  assert.throws(() => planTree(s, { jobs: ['upgrad'] }), /--job upgrad: no such job \(did you mean 'upgrade'\?\)/);
});

test('bad trees: extends of a later, unknown or own stage; an always-stage in the tree; cancelled_by unknown', async () => {
  const got = await problems(`stages:
  - { name: a, playbook: p.yml, extends: c }
  - { name: b, playbook: p.yml, extends: b }
  - { name: c, playbook: p.yml, extends: nope }
  - { name: d, playbook: p.yml, always: true, extends: a }
  - { name: e, playbook: p.yml, extends: d }
  - { name: f, playbook: p.yml, cancelled_by: [zz] }
`);
  const text = got.join('\n');
  assert.match(text, /^7 stages\[0\]\.extends: 'c' comes later \(stages\[2\]\)/m);
  assert.match(text, /^8 stages\[1\]\.extends: a stage cannot extend itself/m);
  assert.match(text, /^9 stages\[2\]\.extends: 'nope' is no earlier stage/m);
  assert.match(text, /stages\[3\]\.extends: an always-stage runs at the end of every job and takes no 'extends'/);
  assert.match(text, /^11 stages\[4\]\.extends: 'd' is an always-stage/m);
  assert.match(text, /^12 stages\[5\]\.cancelled_by\[0\]: 'zz' is no stage of the scenario/m);
});

test('bad variants: an axis with no values, an unknown from/axis/value, an unknown key', async () => {
  const got = (await problems(`stages:
  - { name: a, playbook: p.yml }
variants:
  from: b
  matrix: { tls: [], ipv6: [on, on] }
  exclude: [ { tsl: on } ]
  non_voting: [ { ipv6: maybe } ]
`)).join('\n');
  assert.match(got, /^9 variants\.from: 'b' is no stage of the scenario/m);
  assert.match(got, /^10 variants\.matrix\.tls: the axis 'tls' has no values/m);
  assert.match(got, /variants\.matrix\.ipv6\[1\]: "on" is listed twice/);
  assert.match(got, /^11 variants\.exclude\[0\]\.tsl: 'tsl' is no axis of variants\.matrix \(did you mean 'tls'\?\)/m);
  assert.match(got, /^12 variants\.non_voting\[0\]\.ipv6: "maybe" is no value of the axis 'ipv6'/m);
  const unknown = (await problems(`stages:\n  - { name: a, playbook: p.yml }\nvariants:\n  form: a\n  matrix: { x: [1] }\n`)).join('\n');
  assert.match(unknown, /^9 variants\.form: unknown key 'form' \(did you mean 'from'\?\)/m, 'schema problems (first) name the key');
});

test('a static lab with a tree is refused at validate, saying why', async () => {
  await writeFile(path.join(t.dir, 'hosts.ini'), 'h1 ansible_connection=local\n');
  const got = (await problems(`stages:
  - { name: a, playbook: p.yml }
  - { name: b, playbook: p.yml }
  - { name: c, playbook: p.yml, extends: a }
`, 'lab: { provider: static, inventory: hosts.ini }\n')).join('\n');
  assert.match(got, /stages: the stages form a tree \('a' is a fork point\), and a static lab cannot take the checkpoints its branches start from/);
});

test('harness plan --json on a tree: nodes with parent and path, the jobs and where each starts, the always-stages', async () => {
  await load(`stages:
  - { name: base, playbook: p.yml }
  - { name: over, playbook: p.yml }
  - { name: upgrade, playbook: p.yml, extends: base }
  - { name: collect, playbook: p.yml, always: true }
variants: { from: over, matrix: { tls: [on, off] } }
`);
  const r = await harness(['plan', path.join(t.dir, 's.yml'), '--json'], { env: { XDG_CACHE_HOME: path.join(t.dir, 'cache') } });
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { tree: boolean; stages: { name: string; stage: string; parent: string | null; path: string[]; fork: boolean; checkpoint: boolean; variant?: Record<string, unknown> }[]; jobs: { name: string; nodes: string[]; start: string | null }[]; always: string[] };
  assert.ok(doc.tree);
  assert.equal(doc.stages.map((st) => [st.name, st.parent]), [['base', null], ['over[tls=on]', 'base'], ['over[tls=off]', 'base'], ['upgrade', 'base']]);
  const base = doc.stages[0]!;
  assert.ok(base.fork && base.checkpoint, 'the fork point is checkpointed');
  assert.equal(doc.stages[2]!.variant, { tls: 'off' });
  assert.equal(doc.stages[2]!.path, ['base', 'over[tls=off]']);
  assert.equal(doc.jobs, [
    { name: 'over[tls=on]', nodes: ['base', 'over[tls=on]'], start: null },
    { name: 'over[tls=off]', nodes: ['base', 'over[tls=off]'], start: null },
    { name: 'upgrade', nodes: ['base', 'upgrade'], start: null },
  ]);
  assert.equal(doc.always, ['collect']);
  const text = await harness(['plan', path.join(t.dir, 's.yml'), '--job', 'upgrade'], { env: { XDG_CACHE_HOME: path.join(t.dir, 'cache') } });
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /a tree of 2 node\(s\), 1 job\(s\): upgrade; at the end of every job: collect/);
});

test.run();
