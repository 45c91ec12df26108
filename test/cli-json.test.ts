// `--json` of plan, validate and list: version 1 documents (docs/cli-json.md), parsed and checked
// field by field. (`checkpoints list --json` is in checkpoint-cli.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';

const DEMO = path.join(PACKAGE_ROOT, 'scenarios', 'demo.yml');

test('plan --json: the stages with action, playbook, hosts and checkpoint state', async () => {
  const t = await tempDir();
  try {
    const r = await harness(['plan', DEMO, '--json', '--until', 'test'], { env: { XDG_CACHE_HOME: t.dir } });
    assert.is(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.is(doc.version, 1);
    assert.equal(doc.scenario, { name: 'demo', description: 'undercloud, then a two-node overcloud, then an upgrade', file: DEMO });
    assert.is(doc.lab.provider, 'local');
    assert.is(doc.lab.hosts.length, 3);
    assert.is(doc.checkpoints, true);
    assert.equal(doc.stages.map((s: { name: string }) => s.name), ['prepare', 'undercloud', 'overcloud', 'test', 'upgrade', 'test-upgraded', 'collect', 'teardown']);
    // (What --until does to the always-stages is the engine's; only the stages before them here.)
    assert.equal(doc.stages.slice(0, 6).map((s: { action: string }) => s.action), ['run', 'run', 'run', 'run', 'skip-after-until', 'skip-after-until']);
    const over = doc.stages[2];
    assert.is(over.index, 3);
    assert.is(over.playbook, path.join(PACKAGE_ROOT, 'playbooks', 'overcloud.yml'));
    assert.equal(over.hosts.patterns, ['undercloud', 'overcloud']);
    assert.is(over.hosts.selected.length, 3);
    assert.equal([over.checkpoint, over.always, over.voting, over.retries, over.timeoutMs], [true, false, true, 0, 300_000]);
    assert.match(over.key.key, /^[0-9a-f]{20}$/);
    assert.is(over.key.state, 'none', 'an empty cache holds no checkpoint');
    assert.equal(over.key.unresolved, []);
    assert.is(doc.stages[0].key, undefined, 'no checkpoint on prepare');
    const collect = doc.stages[6];
    assert.equal([collect.playbook, collect.always], [null, true]);
    const off = JSON.parse((await harness(['plan', DEMO, '--json', '--no-checkpoints'])).stdout);
    assert.is(off.checkpoints, false);
    assert.ok(off.stages.every((s: { key?: unknown }) => s.key === undefined));
  } finally {
    await t.remove();
  }
});

test('validate --json: one entry per file, problems with file and line; exit code as without --json', async () => {
  const t = await tempDir();
  try {
    const bad = path.join(t.dir, 'bad.yml');
    await writeFile(bad, 'name: bad\nlab:\n  provider: local\n  hosts: { web-0: {} }\nstages:\n  - name: one\n    playbok: x.yml\n');
    const r = await harness(['validate', DEMO, bad, '--json']);
    assert.is(r.code, 2);
    assert.is(r.stderr, '', 'everything is in the JSON');
    const doc = JSON.parse(r.stdout);
    assert.is(doc.version, 1);
    assert.is(doc.ok, false);
    assert.equal(doc.files[0], { file: DEMO, ok: true, scenario: 'demo', hosts: 3, stages: 8 });
    const b = doc.files[1];
    assert.equal([b.file, b.ok, b.exitCode], [bad, false, 2]);
    assert.ok(b.problems.length >= 1);
    assert.is(b.problems[0].file, bad);
    assert.is(b.problems[0].line, 7);
    assert.match(b.problems[0].message, 'playbok');
    const good = await harness(['validate', DEMO, '--json']);
    assert.is(good.code, 0);
    assert.is(JSON.parse(good.stdout).ok, true);
  } finally {
    await t.remove();
  }
});

test('list --json: each scenario file with its name, provider and stage count, or invalid', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'a.yml'), 'name: a\ndescription: first\nlab:\n  provider: local\n  hosts: { web-0: {} }\nstages:\n  - { name: one, playbook: one.yml }\n');
    await writeFile(path.join(t.dir, 'b.yml'), 'name: b\nlab: {}\n');
    await writeFile(path.join(t.dir, 'one.yml'), '- hosts: all\n  tasks: []\n');
    const r = await harness(['list', '--dir', t.dir, '--json']);
    assert.is(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.is(doc.version, 1);
    assert.is(doc.dir, t.dir);
    assert.equal(doc.scenarios[0], { file: path.join(t.dir, 'a.yml'), valid: true, name: 'a', description: 'first', provider: 'local', stages: 1 });
    assert.is(doc.scenarios[1].file, path.join(t.dir, 'b.yml'));
    assert.is(doc.scenarios[1].valid, false);
    assert.ok(doc.scenarios[1].problems >= 1);
    assert.is(doc.scenarios.length, 3, 'one.yml is listed (as invalid): every .yml in the folder is');
  } finally {
    await t.remove();
  }
});

test.run();
