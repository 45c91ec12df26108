// Checkpoint keys: what invalidates a stage, what does not, and how a change is explained.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, readFile, writeFile, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { checkpointInputs, explainChange, type StageInputs } from '../lib/checkpoint/index.js';
import { loadScenario } from '../lib/scenario/index.js';
import type { Vars } from '../lib/model/index.js';
import { packageFile } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';

const FIXTURE = packageFile('test', 'fixtures', 'checkpoint', 'keys');

/** A fresh copy of the fixture project, so a test can edit it. */
async function project(): Promise<{ dir: string; scenario: string; remove: () => Promise<void> }> {
  const t = await tempDir('harness-keys-');
  await cp(FIXTURE, t.dir, { recursive: true });
  return { dir: t.dir, scenario: path.join(t.dir, 'scenarios', 'three.yml'), remove: t.remove };
}

async function keysOf(file: string, opts: { overrides?: Vars; version?: string } = {}): Promise<StageInputs[]> {
  const scenario = await loadScenario(file);
  return checkpointInputs(scenario, { overrides: opts.overrides ?? {}, harnessVersion: opts.version ?? '1.2.3' });
}
const keys = (s: StageInputs[]): string[] => s.map((x) => x.key);

async function editScenario(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  assert.ok(text.includes(from), `fixture lacks '${from}'`);
  await writeFile(file, text.replace(from, to));
}

test('keys are per stage, distinct, folder-safe, and stable across calls and copies of the project', async () => {
  const a = await project();
  const b = await project();
  try {
    const first = await keysOf(a.scenario);
    assert.equal(first.map((s) => s.stage), ['one', 'two', 'three']);
    for (const s of first) assert.match(s.key, /^[0-9a-f]{20}$/);
    assert.is(new Set(keys(first)).size, 3);
    assert.equal(keys(await keysOf(a.scenario)), keys(first));
    // Another checkout in another folder: same keys (no absolute paths inside).
    assert.equal(keys(await keysOf(b.scenario)), keys(first));
    assert.equal(Object.keys(first[1]!.inputs).sort(), ['file:../playbooks/templates/two.j2', 'file:../playbooks/two.yml', 'stage:two']);
  } finally {
    await a.remove();
    await b.remove();
  }
});

test("a template only stage two uses invalidates stage two and three, not one; explainChange names it", async () => {
  const p = await project();
  try {
    const before = await keysOf(p.scenario);
    await appendFile(path.join(p.dir, 'playbooks', 'templates', 'two.j2'), 'more\n');
    const after = await keysOf(p.scenario);
    assert.is(after[0]!.key, before[0]!.key);
    assert.is.not(after[1]!.key, before[1]!.key);
    assert.is.not(after[2]!.key, before[2]!.key);
    assert.equal(explainChange(before[1]!.cumulative, after[1]!.cumulative), ['file:../playbooks/templates/two.j2 changed']);
    assert.equal(explainChange(before[2]!.cumulative, after[2]!.cumulative), ['file:../playbooks/templates/two.j2 changed']);
    assert.equal(explainChange(before[0]!.cumulative, after[0]!.cumulative), []);
  } finally {
    await p.remove();
  }
});

test('scenario vars, -e overrides, the lab and the harness version change every key', async () => {
  const p = await project();
  try {
    const base = await keysOf(p.scenario);
    const differsEverywhere = (other: StageInputs[]): boolean => other.every((s, i) => s.key !== base[i]!.key);
    assert.ok(differsEverywhere(await keysOf(p.scenario, { overrides: { release: '2.0' } })), '-e');
    assert.ok(differsEverywhere(await keysOf(p.scenario, { version: '1.2.4' })), 'harness version');
    await editScenario(p.scenario, 'release: "1.0"', 'release: "1.1"');
    const vars = await keysOf(p.scenario);
    assert.ok(differsEverywhere(vars), 'scenario vars');
    assert.equal(explainChange(base[2]!.cumulative, vars[2]!.cumulative), ['vars changed']);
    await editScenario(p.scenario, 'db_port: 5432', 'db_port: 5433');
    const lab = await keysOf(p.scenario);
    assert.equal(explainChange(vars[0]!.cumulative, lab[0]!.cumulative), ['lab changed']);
  } finally {
    await p.remove();
  }
});

test('timeouts, retries, voting and descriptions do not change keys; a stage vars change only that stage on', async () => {
  const p = await project();
  try {
    const base = await keysOf(p.scenario);
    await editScenario(p.scenario, '    hosts: [web]\n', '    hosts: [web]\n    timeout: 30m\n    retries: 2\n    voting: false\n    description: now described\n');
    assert.equal(keys(await keysOf(p.scenario)), keys(base));
    await editScenario(p.scenario, '    hosts: [db]\n', '    hosts: [db]\n    vars: { tuned: true }\n');
    const changed = await keysOf(p.scenario);
    assert.equal(keys(changed).slice(0, 2), keys(base).slice(0, 2));
    assert.is.not(changed[2]!.key, base[2]!.key);
    assert.equal(explainChange(base[2]!.cumulative, changed[2]!.cumulative), ['stage:three changed']);
  } finally {
    await p.remove();
  }
});

test('secret values never enter the inputs; their references do', async () => {
  const p = await project();
  const old = process.env.KEYS_FIXTURE_PASSWORD;
  try {
    process.env.KEYS_FIXTURE_PASSWORD = 'first-value';
    const a = await keysOf(p.scenario);
    process.env.KEYS_FIXTURE_PASSWORD = 'second-value';
    assert.equal(keys(await keysOf(p.scenario)), keys(a));
    assert.not.match(JSON.stringify(a), 'first-value');
    await editScenario(p.scenario, 'env: KEYS_FIXTURE_PASSWORD', 'env: OTHER_FIXTURE_PASSWORD');
    assert.equal(explainChange(a[0]!.cumulative, (await keysOf(p.scenario))[0]!.cumulative), ['secrets changed']);
  } finally {
    if (old === undefined) delete process.env.KEYS_FIXTURE_PASSWORD;
    else process.env.KEYS_FIXTURE_PASSWORD = old;
    await p.remove();
  }
});

test('a stage that extends an earlier one chains from it, not from the stage before', async () => {
  const p = await project();
  try {
    await editScenario(p.scenario, '    hosts: [db]\n', '    hosts: [db]\n    extends: one\n');
    const before = await keysOf(p.scenario);
    assert.not.ok('stage:two' in before[2]!.cumulative);
    await appendFile(path.join(p.dir, 'playbooks', 'templates', 'two.j2'), 'more\n');
    const after = await keysOf(p.scenario);
    assert.is.not(after[1]!.key, before[1]!.key);
    assert.is(after[2]!.key, before[2]!.key, 'stage three builds on one, not on two');
  } finally {
    await p.remove();
  }
});

test('explainChange names added, removed and changed inputs, sorted', () => {
  assert.equal(explainChange({ a: '1', b: '2', c: '3' }, { b: '2', c: '4', d: '5' }), ['a removed', 'c changed', 'd added']);
});

test.run();
