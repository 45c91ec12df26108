import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import { planTree } from '../lib/engine/plan.js';
import { readJournal } from '../lib/report/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';
import { pidAlive, writeScenario } from './helpers/scenario.js';

// Runs that end early: Ctrl-C while the lab starts, a killed harness cleaned up, `--until`.
const test = suite('engine interrupts');
let t: { dir: string; remove: () => Promise<void> };
test.before.each(async () => {
  t = await tempDir('harness-intr-');
});
test.after.each(async () => {
  await t.remove();
});

/** Starts `harness ARGS` and collects its output; `exited` resolves to its exit code. */
function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache'), ...env } });
  const io = { output: '' };
  child.stdout.on('data', (d) => (io.output += d));
  child.stderr.on('data', (d) => (io.output += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  return { child, io, exited };
}

/** Waits until `file` exists and holds text (a pid); no timing is asserted, the deadline only ends a hung test. */
async function waitForFile(file: string, what: string, io: { output: string }): Promise<string> {
  const deadline = Date.now() + 120_000;
  while (!existsSync(file) || !(await readFile(file, 'utf8')).trim()) {
    if (Date.now() > deadline) throw new Error(`${what} never happened:\n${io.output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return (await readFile(file, 'utf8')).trim();
}

/** Every pid `lab.json` of a run names. */
async function recordedPids(runDir: string): Promise<number[]> {
  const lab = await readFile(path.join(runDir, 'lab.json'), 'utf8');
  return [...lab.matchAll(/"pid":\s*(\d+)/g)].map((m) => Number(m[1]));
}

test('Ctrl-C while the local lab starts: exit 130, an interruption (no internal error), the lab released', async () => {
  // A real sshd that starts slowly: the wrapper writes its pid, then waits before it becomes
  // sshd, so Ctrl-C lands while the provider still waits for the host to come up.
  const marker = path.join(t.dir, 'sshd-started');
  const wrapper = path.join(t.dir, 'slow-sshd');
  await writeFile(wrapper, `#!/bin/sh\ncase " $* " in *" -t "*) exec /usr/sbin/sshd "$@";; esac\necho $$ > ${marker}\nsleep 60\nexec /usr/sbin/sshd "$@"\n`);
  await chmod(wrapper, 0o755);
  const file = await writeScenario(
    t.dir,
    `name: slowlab\nlab:\n  provider: local\n  options: { sshdPath: ${wrapper}, startTimeoutMs: 120000 }\n  hosts:\n    web-0: {}\nstages:\n  - { name: hello, playbook: @F/ok.yml }\n  - { name: teardown, playbook: @F/ok.yml, always: true }\n`,
  );
  const out = path.join(t.dir, 'run');
  const run = start(['run', file, '--out', out]);
  const sshd = Number(await waitForFile(marker, 'the sshd start', run.io));
  run.child.kill('SIGINT');
  const code = await run.exited;
  assert.is(code, 130, run.io.output);
  assert.not.match(run.io.output, /internal error/);
  assert.not.ok(await pidAlive(sshd), 'the starting sshd was stopped');
  for (const pid of await recordedPids(out)) assert.not.ok(await pidAlive(pid), `recorded process ${pid} left running`);
  // chaos seed 2006: the interrupted allocation kept its address block and the hosts' disks
  const rec = JSON.parse(await readFile(path.join(out, 'lab.json'), 'utf8'));
  const claim = rec.local.addressClaim as { file: string; token: string };
  const held = await readFile(claim.file, 'utf8').catch(() => '');
  assert.not.ok(held.includes(claim.token), `the address claim ${claim.file} is still held`);
  for (const h of rec.hosts as Array<{ root: string }>) assert.not.ok(existsSync(h.root), `the host disk ${h.root} is left`);
  const journal = await readJournal(path.join(out, 'journal.json'));
  assert.is(journal.status, 'interrupted');
  assert.equal(journal.stages.map((s) => s.status), ['skipped', 'skipped']);
  assert.ok(existsSync(path.join(out, 'manifest.json')) && existsSync(path.join(out, 'report.html')), 'the run still finished its records');
});

test('harness cleanup of a killed run stops its lab and marks the run and its running stage interrupted', async () => {
  const pidFile = path.join(t.dir, 'hang.pid');
  const file = await writeScenario(
    t.dir,
    `name: killed\nlab:\n  provider: local\n  hosts:\n    web-0: {}\nvars: { pid_file: ${pidFile} }\nstages:\n  - { name: hang, playbook: @F/hang.yml }\n  - { name: later, playbook: @F/ok.yml }\n`,
  );
  const out = path.join(t.dir, 'run');
  const run = start(['run', file, '--out', out]);
  const hung = Number(await waitForFile(pidFile, 'the hung task', run.io));
  run.child.kill('SIGKILL');
  await run.exited;
  assert.is((await readJournal(path.join(out, 'journal.json'))).status, 'running', 'the killed run left its journal at running');

  const cleaned = await harness(['cleanup', out]);
  assert.is(cleaned.code, 0, cleaned.stderr + cleaned.stdout);
  assert.match(cleaned.stdout, /released: .*sshd of host web-0/);
  assert.match(cleaned.stdout, /marked the run interrupted/);
  const journal = await readJournal(path.join(out, 'journal.json'));
  assert.is(journal.status, 'interrupted');
  assert.equal(journal.stages.map((s) => s.status), ['error', 'skipped']);
  assert.match(journal.stages[0]!.reason ?? '', /interrupted/);
  const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
  assert.is(manifest.status, 'interrupted');
  assert.is(manifest.exitCode, 130);
  for (const pid of await recordedPids(out)) assert.not.ok(await pidAlive(pid), `recorded process ${pid} left running`);
  assert.not.ok(await pidAlive(hung), 'the task the killed run left was stopped with its host');
  const again = await harness(['cleanup', out]);
  assert.is(again.code, 0);
  assert.match(again.stdout, /nothing left to release/);
  assert.not.match(again.stdout, /marked/);
});

test('cleanup that cannot stop a process it recorded is not a success', async () => {
  // A record naming a live process whose command line does not carry the marker: it may be ours, so it is left alone, and said so.
  const out = path.join(t.dir, 'run');
  await writeFile(path.join(t.dir, 'x'), '');
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(out);
    const record = { version: 1, provider: 'local', updatedAt: new Date().toISOString(), hosts: [], processes: [{ label: 'sshd of host web-0', host: 'web-0', pid: sleeper.pid, cmdlineMarker: '/no/such/sshd_config', state: 'running' }] };
    await writeFile(path.join(out, 'lab.json'), JSON.stringify(record));
    const r = await harness(['cleanup', out]);
    assert.is.not(r.code, 0, r.stdout);
    assert.match(r.stderr, /could not stop .*sshd of host web-0 \(pid \d+\)/);
    assert.not.match(r.stderr, /internal error/);
    assert.ok(await pidAlive(sleeper.pid!), 'a process that is not provably ours is left alone');
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('--until STAGE: the always-stages after it still run (logs, teardown); the others are skipped', async () => {
  const marks = path.join(t.dir, 'marks');
  const file = await writeScenario(
    t.dir,
    `name: until\nlab: { provider: static, inventory: @F/local.ini }\nvars: { marker_dir: ${marks} }\nstages:\n` +
      `  - { name: deploy, playbook: @F/ok.yml }\n  - { name: test, playbook: @F/touch.yml }\n  - { name: teardown, playbook: @F/touch.yml, always: true, hosts: [web-0] }\n`,
  );
  const scenario = await loadScenario(file);
  assert.equal(planTree(scenario, { until: 'deploy' }).steps.map((s) => s.action), ['run', 'skip-after-until'], 'the plan says so too (the always-stage ends the job)');
  const result = await runScenario(scenario, { out: path.join(t.dir, 'run'), until: 'deploy', bundle: false, env: { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') } });
  assert.is(result.exitCode, 0, JSON.stringify(result));
  assert.equal(result.stages.map((s) => `${s.name}:${s.status}`), ['deploy:passed', 'test:skipped', 'teardown:passed']);
  assert.equal(await readdir(marks), ['teardown-web-0']);
});

test('a sink that fails to close still leaves the final manifest and report; the run is not called passed', async () => {
  const file = await writeScenario(t.dir, `name: sinkfail\nlab: { provider: static, inventory: @F/local.ini }\nstages:\n  - { name: hello, playbook: @F/ok.yml }\n`);
  const out = path.join(t.dir, 'run');
  let blocked = false;
  // The first console line comes before the JUnit sink writes: a folder where junit.xml goes makes every write of it fail.
  const write = (): void => {
    if (blocked) return;
    blocked = true;
    mkdirSync(path.join(out, 'junit.xml'));
  };
  const result = await runScenario(await loadScenario(file), { out, write, bundle: false, env: { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') } });
  assert.ok(blocked);
  assert.is(result.exitCode, 1, JSON.stringify(result));
  assert.match(result.reason ?? '', /writing the run records/);
  const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
  assert.is(manifest.status, 'error', 'the final manifest, not the one of the start');
  assert.is.not(manifest.ended, null);
  assert.ok(existsSync(path.join(out, 'report.html')));
});

test.run();
