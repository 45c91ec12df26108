import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario, type RunOptions } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { InputError } from '../lib/errors.js';
import { releaseRecorded } from '../lib/lab/release.js';
import { tempDir } from './helpers/cli.js';
import { pidAlive } from './helpers/scenario.js';

const test = suite('engine checkpoints');
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'checkpoint-e2e');
let t: { dir: string; remove: () => Promise<void> };
let project: string;
let env: NodeJS.ProcessEnv;
let runs = 0;

const SCENARIO = `name: ckpt
lab:
  provider: local
  hosts:
    h1: { groups: [nodes] }
    h2: { groups: [nodes] }
vars: { counter_dir: "@COUNTERS" }
stages:
  - { name: one, playbook: one.yml, checkpoint: true }
  - { name: two, playbook: two.yml, checkpoint: true }
  - { name: three, playbook: three.yml }
`;

test.before.each(async () => {
  t = await tempDir('harness-ckpt-');
  project = path.join(t.dir, 'project');
  await cp(FIXTURE, project, { recursive: true });
  await mkdir(path.join(t.dir, 'counters'));
  await writeFile(path.join(project, 'scenario.yml'), SCENARIO.replace('@COUNTERS', path.join(t.dir, 'counters')));
  // Checkpoints go to a cache of this test only.
  env = { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
});
test.after.each(async () => {
  await t.remove();
});

async function run(opts: RunOptions = {}) {
  const scenario = await loadScenario(path.join(project, 'scenario.yml'));
  const out = path.join(t.dir, `run${++runs}`);
  let log = '';
  const result = await runScenario(scenario, { out, env, write: (s) => (log += s), bundle: false, ...opts });
  const journal = await readJournal(path.join(out, 'journal.json'));
  return { result, journal, log, statuses: journal.stages.map((s) => `${s.name}:${s.status}`) };
}

async function count(name: string): Promise<number> {
  return (await readFile(path.join(t.dir, 'counters', name), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
}

/** Where a local host's disk was (kept with keepLab), from the run's lab.json. */
async function hostRoot(runDir: string, host: string): Promise<string> {
  const record = JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8')) as { hosts: { name: string; root: string }[] };
  return record.hosts.find((h) => h.name === host)!.root;
}

test('run, then rerun: the rerun restores instead of redeploying, with the same result', async () => {
  const first = await run({ keepLab: true });
  assert.is(first.result.exitCode, 0, first.log);
  assert.equal(first.statuses, ['one:passed', 'two:passed', 'three:passed']);
  assert.ok(first.journal.stages[1]!.checkpoint, 'stage two saved a checkpoint');
  // Damage the first run's host: the checkpoint is a copy, so the restored run must not see it.
  await writeFile(path.join(await hostRoot(first.result.runDir, 'h1'), 'one.txt'), 'damaged\n');
  const second = await run({ keepLab: true });
  assert.is(second.result.exitCode, 0, second.log);
  assert.equal(second.statuses, ['one:restored', 'two:restored', 'three:passed']);
  assert.is(second.journal.stages[1]!.checkpoint, first.journal.stages[1]!.checkpoint);
  assert.match(second.journal.stages[0]!.reason ?? '', /restored from checkpoint/);
  assert.is(await count('one-h1'), 1, 'stage one ran once in all');
  assert.is(await count('two-h2'), 1, 'stage two ran once in all');
  // The restored host root is a real copy with the first run's content.
  const root2 = await hostRoot(second.result.runDir, 'h1');
  assert.is(await readFile(path.join(root2, 'two.txt'), 'utf8'), 'stage two wrote this for h1 (plain)\n');
  assert.not.equal(root2, await hostRoot(first.result.runDir, 'h1'), 'each lab has disks of its own');
  // The kept disks go with harness cleanup.
  for (const r of [first, second]) await releaseRecorded(r.result.runDir);
  assert.not.ok(existsSync(root2), 'cleanup removed the kept disks');
});

test('a change to a template of stage two invalidates from stage two on, not before', async () => {
  assert.is((await run()).result.exitCode, 0);
  await writeFile(path.join(project, 'templates', 'two.j2'), "stage two wrote this for {{ inventory_hostname }} (edited)\n");
  const r = await run();
  assert.is(r.result.exitCode, 0, r.log);
  assert.equal(r.statuses, ['one:restored', 'two:passed', 'three:passed']);
  assert.is(await count('one-h1'), 1);
  assert.is(await count('two-h1'), 2);
});

test('--from restores the checkpoint just before the stage; without one it is exit 2 naming what exists', async () => {
  const none = await run({ from: 'three' }).catch((e: unknown) => e);
  assert.instance(none, InputError);
  assert.match((none as Error).message, /--from three: it starts from the checkpoint of stage 'two', and there is none.*no checkpoint of scenario 'ckpt' exists yet/);
  assert.is((await run({ until: 'one' })).result.exitCode, 0);
  const missing = await run({ from: 'three' }).catch((e: unknown) => e);
  assert.match((missing as Error).message, /checkpoints of 'ckpt': one \(/);
  const r = await run({ from: 'two' });
  assert.is(r.result.exitCode, 0, r.log);
  assert.equal(r.statuses, ['one:restored', 'two:passed', 'three:passed']);
});

test('--no-checkpoints neither restores nor takes any', async () => {
  assert.is((await run()).result.exitCode, 0);
  const r = await run({ checkpoints: false });
  assert.equal(r.statuses, ['one:passed', 'two:passed', 'three:passed']);
  assert.not.ok(r.journal.stages.some((s) => s.checkpoint));
});

test('two runs restoring one checkpoint at once both pass', async () => {
  assert.is((await run()).result.exitCode, 0);
  const [a, b] = await Promise.all([run(), run()]);
  assert.is(a.result.exitCode, 0, a.log);
  assert.is(b.result.exitCode, 0, b.log);
  assert.equal(a.statuses, ['one:restored', 'two:restored', 'three:passed']);
  assert.equal(b.statuses, ['one:restored', 'two:restored', 'three:passed']);
});

test('--resume after kill -9 of the harness in the middle of a stage', async () => {
  const hold = path.join(t.dir, 'hold');
  await mkdir(hold);
  await writeFile(path.join(hold, 'hold'), '');
  const holdPid = path.join(hold, 'hold.pid');
  const out = path.join(t.dir, 'killed');
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'run', path.join(project, 'scenario.yml'), '--out', out, '-e', `hold_dir=${hold}`], {
    env,
    stdio: 'ignore',
  });
  const deadline = Date.now() + 180_000;
  while (!existsSync(holdPid) || !(await readFile(holdPid, 'utf8')).trim()) {
    if (Date.now() > deadline) throw new Error('stage three never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8'));
  assert.equal(journal.stages.map((s: { status: string }) => s.status), ['passed', 'passed', 'running'], 'the journal stayed readable');
  // Resume through the CLI, as a user would: the same parameters come from the killed run.
  await rm(path.join(hold, 'hold'));
  const resumed = await new Promise<{ code: number | null; out: string }>((resolve) => {
    let text = '';
    const c = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'run', path.join(project, 'scenario.yml'), '--resume', out, '--out', path.join(t.dir, 'resumed')], { env });
    c.stdout.on('data', (d) => (text += d));
    c.stderr.on('data', (d) => (text += d));
    c.on('exit', (code) => resolve({ code, out: text }));
  });
  assert.match(resumed.out, /resuming .*killed \(stopped what it left running: /);
  const lab = JSON.parse(await readFile(path.join(out, 'lab.json'), 'utf8'));
  for (const m of JSON.stringify(lab).matchAll(/"pid":\s*(\d+)/g)) assert.not.ok(await pidAlive(Number(m[1])), `sshd ${m[1]} of the killed run stopped`);
  const rj = JSON.parse(await readFile(path.join(t.dir, 'resumed', 'journal.json'), 'utf8'));
  assert.is(resumed.code, 0, resumed.out);
  assert.equal(rj.stages.map((s: { status: string }) => s.status), ['restored', 'restored', 'passed'], resumed.out);
  assert.not.ok(await pidAlive(Number(await readFile(holdPid, 'utf8'))), 'the held task of the killed run was stopped');
});

test.run();
