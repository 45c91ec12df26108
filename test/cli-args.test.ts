// The CLI's arguments as ansible-playbook reads them (`-e` in its three forms) and `run --resume
// RUN_DIR` without the scenario (the run directory names it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { parseExtraVars } from '../lib/cli/extra-vars.js';
import { InputError } from '../lib/errors.js';
import { harness, tempDir } from './helpers/cli.js';
import { writeScenario } from './helpers/scenario.js';

const DEMO = path.join(PACKAGE_ROOT, 'scenarios', 'demo.yml');

test('-e key=value pairs are strings, split on spaces outside quotes, as parse_kv splits them', () => {
  assert.equal(parseExtraVars(['n=1', "a=1 b='two words' c=\"x y\"", 'url=http://h/?q=1', "j={{ a | default('x y') }}"]), {
    n: '1',
    a: '1',
    b: 'two words',
    c: 'x y',
    url: 'http://h/?q=1',
    j: "{{ a | default('x y') }}",
  });
});

test('-e {...} and -e @FILE keep their types (YAML 1.1 as Ansible reads it); later -e wins key by key', async () => {
  const t = await tempDir();
  try {
    const yml = path.join(t.dir, 'vars.yml');
    const json = path.join(t.dir, 'vars.json');
    await writeFile(yml, 'port: 5432\nflag: yes\nmode: 0755\nnested: { list: [1, two], none: ~ }\nshared: from-yaml\n');
    await writeFile(json, '{"shared": "from-json", "ratio": 0.5}');
    assert.equal(parseExtraVars([`@${yml}`, `@${json}`, '{"k": {"deep": [1, true]}}', 'shared=kv']), {
      port: 5432,
      flag: true,
      mode: 0o755,
      nested: { list: [1, 'two'], none: null },
      shared: 'kv',
      ratio: 0.5,
      k: { deep: [1, true] },
    });
    // Replace, not deep merge (Ansible's default hash_behaviour).
    assert.equal(parseExtraVars(['{"k": {"a": 1}}', '{"k": {"b": 2}}']), { k: { b: 2 } });
  } finally {
    await t.remove();
  }
});

test('-e mistakes are InputErrors naming the argument', async () => {
  const cases: [string, string][] = [
    ['', '-e needs a value'],
    ['@/no/such/vars.yml', '-e @/no/such/vars.yml: no such file'],
    ['./vars.yml', '-e ./vars.yml: a vars file is named with @ before it: -e @./vars.yml'],
    ['[1, 2]', 'not a mapping'],
    ['justaword', "'justaword' is not KEY=VALUE"],
    ['{"a": ', 'not valid YAML'],
  ];
  for (const [arg, message] of cases) {
    try {
      parseExtraVars([arg]);
      assert.unreachable(`-e ${arg} was accepted`);
    } catch (err) {
      assert.instance(err, InputError, `-e ${arg}: ${String(err)}`);
      assert.match((err as Error).message, message);
    }
  }
});

test('the CLI: a bare -e and a missing @FILE are exit 2 naming them, no stack', async () => {
  const bare = await harness(['plan', DEMO, '--no-checkpoints', '-e']);
  assert.is(bare.code, 2, bare.stderr);
  assert.match(bare.stderr, '-e needs a value');
  assert.not.match(bare.stderr, /\n\s+at /);
  const missing = await harness(['plan', DEMO, '--no-checkpoints', '-e', '@nope/vars.yml']);
  assert.is(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, '-e @nope/vars.yml: no such file');
  assert.not.match(missing.stderr, /\n\s+at /);
});

test('harness run: Ansible gets -e typed as ansible-playbook would (a real playbook asserts the types)', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'vars.yml'), 'port: 5432\nflag: yes\n');
    await writeFile(
      path.join(t.dir, 'types.yml'),
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - ansible.builtin.assert:',
        '        that:',
        "          - (n | type_debug) == 'str'",
        "          - n == '1'",
        "          - (port | type_debug) == 'int'",
        '          - flag is sameas true',
        "          - (k.deep | type_debug) == 'list'",
        '          - k.deep[0] == 1',
        "          - words == 'two words'",
        '',
      ].join('\n'),
    );
    const file = await writeScenario(t.dir, 'name: types\nlab:\n  provider: local\n  hosts:\n    web-0: {}\nstages:\n  - { name: types, playbook: types.yml }\n');
    const out = path.join(t.dir, 'run');
    const r = await harness(['run', file, '--out', out, '-e', 'n=1', '-e', `@${path.join(t.dir, 'vars.yml')}`, '-e', '{"k": {"deep": [1, 2]}}', '-e', "words='two words'"]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.extraVars, { n: '1', port: 5432, flag: true, k: { deep: [1, 2] }, words: 'two words' });
  } finally {
    await t.remove();
  }
});

test('run --resume RUN_DIR without the scenario: the run directory names it', async () => {
  const t = await tempDir();
  try {
    const counter = path.join(t.dir, 'counter');
    const file = await writeScenario(t.dir, `name: resume-cli\nlab:\n  provider: local\n  hosts:\n    web-0: {}\nvars: { counter: ${counter} }\nstages:\n  - { name: flaky, playbook: @F/flaky.yml }\n`);
    const first = path.join(t.dir, 'runs', 'first');
    const failed = await harness(['run', file, '--out', first]);
    assert.is(failed.code, 1, failed.stdout + failed.stderr);
    const again = await harness(['run', '--resume', first, '--out', path.join(t.dir, 'runs', 'second')], { cwd: t.dir });
    assert.is(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, `resuming ${first}`);
    const journal = JSON.parse(await readFile(path.join(t.dir, 'runs', 'second', 'journal.json'), 'utf8'));
    assert.is(journal.status, 'passed');

    const bare = await harness(['run', '--resume'], { cwd: t.dir });
    assert.is(bare.code, 2, bare.stderr);
    assert.match(bare.stderr, 'harness run SCENARIO --resume');
    const notRun = await harness(['run', '--resume', t.dir], { cwd: t.dir });
    assert.is(notRun.code, 2, notRun.stderr);
    assert.match(notRun.stderr, `--resume ${t.dir}: no manifest.json there`);
    const swapped = await harness(['run', '--resume', file], { cwd: t.dir });
    assert.is(swapped.code, 2, swapped.stderr);
    assert.match(swapped.stderr, `harness run ${file} --resume`);
    const nothing = await harness(['run'], { cwd: t.dir });
    assert.is(nothing.code, 2, nothing.stderr);
    assert.match(nothing.stderr, 'name the scenario file');
    assert.equal((await readdir(path.join(t.dir, 'runs'))).sort(), ['first', 'first.tar.gz', 'second', 'second.tar.gz']);
  } finally {
    await t.remove();
  }
});

test.run();
