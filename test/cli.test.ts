import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';
import { xmllintErrors } from './helpers/junit.js';
import { pidAlive, writeScenario } from './helpers/scenario.js';

const DEMO = path.join(PACKAGE_ROOT, 'scenarios', 'demo.yml');

test('--help and --version', async () => {
  const help = await harness(['--help']);
  assert.is(help.code, 0);
  for (const cmd of ['run', 'validate', 'plan', 'inventory', 'list', 'schema', 'cleanup']) assert.match(help.stdout, new RegExp(`harness ${cmd}`));
  const v = await harness(['--version']);
  assert.is(v.code, 0);
  assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('usage errors are exit 2 without a stack trace', async () => {
  for (const args of [['frobnicate'], [], ['inventory', DEMO, '--format', 'xml'], ['run']]) {
    const r = await harness(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

test('plan lists the stages in order with hosts and playbooks', async () => {
  const t = await tempDir();
  // An empty checkpoint cache of its own, so every stage is planned to run.
  const r = await harness(['plan', DEMO], { env: { XDG_CACHE_HOME: t.dir } });
  await t.remove();
  assert.is(r.code, 0, r.stderr);
  const order = [...r.stdout.matchAll(/^\s*\d+\. (\S+)/gm)].map((m) => m[1]);
  assert.equal(order, ['prepare', 'undercloud', 'overcloud', 'test', 'upgrade', 'test-upgraded', 'collect', 'teardown']);
  assert.match(r.stdout, /overcloud\s+run\s+playbooks\/overcloud\.yml\n\s+hosts: undercloud, overcloud -> undercloud-0, controller-0, compute-0/);
  assert.match(r.stdout, /checkpoint [0-9a-f]{20}: none stored yet/);
});

test('inventory of the demo in three formats; schema is JSON; list shows the demo', async () => {
  const yaml = await harness(['inventory', DEMO]);
  assert.is(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /compute-0/);
  const json = await harness(['inventory', DEMO, '--format', 'json']);
  assert.ok(JSON.parse(json.stdout));
  const ini = await harness(['inventory', DEMO, '--format', 'ini']);
  assert.match(ini.stdout, /\[overcloud:children\]/);
  const schema = JSON.parse((await harness(['schema'])).stdout);
  assert.equal(schema.required, ['name', 'lab', 'stages']);
  const list = await harness(['list']);
  assert.match(list.stdout, /scenarios\/demo\.yml\s+demo\s+local, 8 stages/);
});

test('no ansible-playbook on PATH: exit 3, naming the tool, nothing written', async () => {
  const t = await tempDir();
  try {
    const bin = path.join(t.dir, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, path.join(bin, 'node'));
    const file = await writeScenario(t.dir, `name: x\nlab: { provider: static, inventory: @F/local.ini }\nstages:\n  - { name: a, playbook: @F/ok.yml }\n`);
    const r = await harness(['run', file, '--out', path.join(t.dir, 'out')], { env: { PATH: bin } });
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, /ansible-playbook/);
    assert.match(r.stderr, /apt-get install/);
    assert.not.ok(existsSync(path.join(t.dir, 'out')));
  } finally {
    await t.remove();
  }
});

test('a secret too short to mask is exit 2 before anything runs; an unset one names its variable', async () => {
  const t = await tempDir();
  try {
    const file = await writeScenario(t.dir, `name: sec\nlab: { provider: static, inventory: @F/local.ini }\nsecrets: { tok: { env: SHORT_TOK } }\nstages:\n  - { name: a, playbook: @F/ok.yml }\n`);
    const short = await harness(['run', file, '--out', path.join(t.dir, 'out')], { env: { SHORT_TOK: 'x' } });
    assert.is(short.code, 2, short.stderr);
    assert.match(short.stderr, /secrets\.tok: secret 'tok' is 1 character\(s\) long/);
    const unset = await harness(['run', file, '--out', path.join(t.dir, 'out')], { env: { SHORT_TOK: undefined } });
    assert.is(unset.code, 2, unset.stderr);
    assert.match(unset.stderr, /environment variable SHORT_TOK, which is not set/);
    assert.not.ok(existsSync(path.join(t.dir, 'out')), 'nothing written');
  } finally {
    await t.remove();
  }
});

test('SIGINT in the middle of a stage: always-stages and release run, JUnit valid, exit 130', async () => {
  const t = await tempDir();
  try {
    const pidFile = path.join(t.dir, 'hang.pid');
    const marks = path.join(t.dir, 'marks');
    const file = await writeScenario(
      t.dir,
      `name: sigint\nlab:\n  provider: local\n  hosts:\n    web-0: {}\nvars: { marker_dir: ${marks}, pid_file: ${pidFile} }\nstages:\n` +
        `  - { name: hang, playbook: @F/hang.yml }\n  - { name: later, playbook: @F/touch.yml }\n  - { name: cleanup, playbook: @F/touch.yml, always: true }\n`,
    );
    const out = path.join(t.dir, 'run');
    const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'run', file, '--out', out, '--kill-grace', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
    // Wait until the hung task really runs (it writes its pid), then press Ctrl-C.
    const deadline = Date.now() + 120_000;
    while (!existsSync(pidFile) || !(await readFile(pidFile, 'utf8')).trim()) {
      if (Date.now() > deadline) throw new Error(`the hung task never started:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const hung = Number(await readFile(pidFile, 'utf8'));
    child.kill('SIGINT');
    const code = await exited;
    assert.is(code, 130, output);
    assert.not.ok(await pidAlive(hung), 'the hung task was killed');
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8'));
    assert.is(journal.status, 'interrupted');
    assert.equal(journal.stages.map((s: { status: string }) => s.status), ['error', 'skipped', 'passed']);
    assert.equal(await readdir(marks), ['cleanup-web-0']);
    assert.is(await xmllintErrors(path.join(out, 'junit.xml')), '');
    const lab = JSON.parse(await readFile(path.join(out, 'lab.json'), 'utf8'));
    for (const m of JSON.stringify(lab).matchAll(/"pid":\s*(\d+)/g)) assert.not.ok(await pidAlive(Number(m[1])), `sshd ${m[1]} left running`);
  } finally {
    await t.remove();
  }
});

test.run();
