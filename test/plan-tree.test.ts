import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../lib/errors.js';
import type { Stage } from '../lib/model/index.js';
import { buildTree, isLine, pathTo, nodesOf, selectJobs, variantCombinations, type VariantSpec } from '../lib/plan/tree.js';

/** A stage as the loader builds it, with only what the tree looks at set. */
function st(name: string, more: Partial<Stage> = {}): Stage {
  return { name, index: 0, hosts: [], vars: {}, checkpoint: false, retries: 0, always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: 's.yml' }, playbook: `/p/${name}.yml`, ...more };
}

const names = (ns: { name: string }[]): string[] => ns.map((n) => n.name);

test('a list without extends is one job through every stage; always-stages are not nodes', () => {
  const tree = buildTree([st('a'), st('b'), st('c'), st('collect', { always: true })]);
  assert.equal(names(tree.nodes), ['a', 'b', 'c']);
  assert.equal(tree.jobs.map((j) => [j.name, names(j.nodes)]), [['c', ['a', 'b', 'c']]]);
  assert.equal(names(tree.always), ['collect']);
  assert.ok(isLine(tree));
  assert.not.ok(tree.nodes.some((n) => n.fork));
});

test('the seeds/000 case B tree: six nodes run once, against 17 executions as six linear jobs', () => {
  // check-2 undercloud; 3 images extends 2; 4 overcloud extends 3; 5 uc-upgrade extends 2; 6 oc-upgrade extends 4; 7 e2e extends 6
  const tree = buildTree([
    st('undercloud'),
    st('images'),
    st('overcloud'),
    st('upgrade-overcloud'),
    st('e2e'),
    st('upgrade-undercloud', { extends: 'undercloud' }),
  ]);
  assert.equal(names(tree.nodes), ['undercloud', 'images', 'overcloud', 'upgrade-overcloud', 'e2e', 'upgrade-undercloud']);
  assert.equal(tree.jobs.map((j) => j.name), ['e2e', 'upgrade-undercloud']);
  assert.equal(names(tree.jobs[1]!.nodes), ['undercloud', 'upgrade-undercloud']);
  assert.equal(names(tree.nodes.filter((n) => n.fork)), ['undercloud']);
  assert.not.ok(isLine(tree));
  // Each check job of the seed as a linear scenario runs the whole path to its node: 1+2+3+4+5+2.
  const linear = tree.nodes.reduce((sum, n) => sum + pathTo(n).length, 0);
  assert.is(nodesOf(tree, tree.jobs).length, 6);
  assert.is(linear, 17);
});

test('a stage after a branch continues from the branch, not from the stage before the fork', () => {
  const tree = buildTree([st('a'), st('b'), st('c', { extends: 'a' }), st('d')]);
  const d = tree.nodes.find((n) => n.name === 'd')!;
  assert.is(d.parent?.name, 'c');
  assert.equal(tree.jobs.map((j) => [j.name, names(j.nodes)]), [['b', ['a', 'b']], ['d', ['a', 'c', 'd']]]);
  assert.ok(tree.nodes.find((n) => n.name === 'a')!.fork);
});

test('--job selects paths; shared nodes are executed once', () => {
  const tree = buildTree([st('a'), st('b'), st('c', { extends: 'a' }), st('d', { extends: 'a' })]);
  assert.equal(names(nodesOf(tree, selectJobs(tree, ['b', 'd']))), ['a', 'b', 'd']);
  assert.equal(names(nodesOf(tree, selectJobs(tree, []))), ['a', 'b', 'c', 'd']);
  try {
    selectJobs(tree, ['bb']);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InputError);
    assert.match((err as Error).message, /--job bb: no such job \(did you mean 'b'\?\); the jobs \(leaves of the tree\) are: b, c, d/);
  }
});

test('extends of a later or unknown stage, and an always-stage with extends, are input errors', () => {
  assert.throws(() => buildTree([st('a', { extends: 'b' }), st('b')]), (e: Error) => e instanceof InputError && /extends 'b', which is no earlier stage/.test(e.message));
  assert.throws(() => buildTree([st('a'), st('b', { extends: 'aa' })]), /did you mean 'a'/);
  assert.throws(() => buildTree([st('a'), st('c', { always: true, extends: 'a' })]), /takes no 'extends'/);
});

const matrix: VariantSpec = {
  from: 'overcloud',
  matrix: [['tls', ['on', 'off']], ['ipv6', ['off', 'on']]],
  exclude: [{ tls: 'off', ipv6: 'on' }],
  nonVoting: [{ ipv6: 'on' }],
};

test('variant combinations: first axis slowest, excludes removed', () => {
  assert.equal(variantCombinations(matrix).map((c) => c.map(([a, v]) => `${a}=${String(v)}`).join(',')), ['tls=on,ipv6=off', 'tls=on,ipv6=on', 'tls=off,ipv6=off']);
  assert.throws(() => variantCombinations({ from: 'x', matrix: [['tls', []]] }), /variants.matrix.tls: an axis needs at least one value/);
});

test('variants copy the subtree of `from`; stages before it are shared; non-voting combinations marked', () => {
  const tree = buildTree([st('undercloud'), st('overcloud'), st('test'), st('uc-upgrade', { extends: 'undercloud' })], matrix);
  assert.equal(names(tree.nodes), [
    'undercloud',
    'overcloud[tls=on,ipv6=off]',
    'test[tls=on,ipv6=off]',
    'overcloud[tls=on,ipv6=on]',
    'test[tls=on,ipv6=on]',
    'overcloud[tls=off,ipv6=off]',
    'test[tls=off,ipv6=off]',
    'uc-upgrade',
  ]);
  const t = tree.nodes.find((n) => n.name === 'test[tls=on,ipv6=on]')!;
  assert.is(t.parent?.name, 'overcloud[tls=on,ipv6=on]');
  assert.equal(t.variant, [['tls', 'on'], ['ipv6', 'on']]);
  assert.is(t.voting, false);
  assert.is(tree.nodes.find((n) => n.name === 'test[tls=on,ipv6=off]')!.voting, true);
  assert.is(tree.nodes.find((n) => n.name === 'uc-upgrade')!.variant, undefined);
  assert.equal(tree.jobs.map((j) => j.name), ['test[tls=on,ipv6=off]', 'test[tls=on,ipv6=on]', 'test[tls=off,ipv6=off]', 'uc-upgrade']);
  assert.ok(tree.nodes[0]!.fork);
});

test('variants from an unknown stage, or every combination excluded, are input errors', () => {
  assert.throws(() => buildTree([st('a'), st('overclod')], matrix), /variants.from: 'overcloud' is no stage of the tree \(did you mean 'overclod'\?\)/);
  assert.throws(() => buildTree([st('overcloud')], { from: 'overcloud', matrix: [['tls', ['on']]], exclude: [{ tls: 'on' }] }), /every combination of the matrix is excluded/);
});

test('variants starting at the first stage give several roots', () => {
  const tree = buildTree([st('deploy'), st('test')], { from: 'deploy', matrix: [['ha', [true, false]]] });
  assert.equal(names(tree.roots), ['deploy[ha=true]', 'deploy[ha=false]']);
  assert.equal(tree.jobs.map((j) => names(j.nodes)), [['deploy[ha=true]', 'test[ha=true]'], ['deploy[ha=false]', 'test[ha=false]']]);
});

test.run();
