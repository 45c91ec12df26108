// Debug sessions (issue 19): failure snapshots, `harness lab up/list/login/run/down`, `cleanup` of up
// labs and `reproduce --keep-lab`, on real sshd hosts on loopback (the local lab) with real ansible.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario, type RunOptions } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { readManifest } from '../lib/report/manifest.js';
import { openStore, isFailureKey } from '../lib/checkpoint/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';
import { ENGINE_FIXTURES, pidAlive } from './helpers/scenario.js';

const test = suite('lab up');
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'lab-up');
const DAY = 86_400_000;
let t: { dir: string; remove: () => Promise<void> };
let project: string;
let scenarioFile: string;
let env: NodeJS.ProcessEnv;
let runs = 0;

const SCENARIO = `name: debugme
lab:
  provider: local
  hosts:
    h1: { groups: [nodes] }
    h2: { groups: [nodes] }
stages:
  - { name: prepare, playbook: prepare.yml, checkpoint: true }
  - { name: break, playbook: break.yml }
  - { name: teardown, playbook: teardown.yml, always: true }
`;

test.before(async () => {
  t = await tempDir('harness-labup-');
  project = path.join(t.dir, 'project');
  await cp(FIXTURE, project, { recursive: true });
  scenarioFile = path.join(project, 'scenario.yml');
  await writeFile(scenarioFile, SCENARIO);
  env = { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
});
test.after(async () => {
  // Whatever a failed assertion left up goes too.
  await harness(['cleanup', '--all-labs'], { env }).catch(() => {});
  await t.remove();
});

const store = () => openStore(path.join(t.dir, 'cache', 'ansible-harness', 'checkpoints'));
const cli = (args: string[]) => harness(args, { cwd: project, env, timeoutMs: 120_000 });

async function run(opts: RunOptions = {}) {
  const scenario = await loadScenario(scenarioFile);
  const out = path.join(t.dir, `run${++runs}`);
  let log = '';
  const result = await runScenario(scenario, { out, env, write: (s) => (log += s), bundle: false, ...opts });
  const journal = await readJournal(path.join(out, 'journal.json'));
  return { result, journal, log, statuses: journal.stages.map((s) => `${s.name}:${s.status}`) };
}

interface UpJson { name: string; state: string; runDir: string; inventory: string; hosts: { name: string; address: string; port: number; root?: string; ssh: string }[] }
async function upLabs(): Promise<UpJson[]> {
  const r = await cli(['lab', 'list', '--json']);
  assert.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { labs: UpJson[] }).labs;
}
async function upLab(name: string): Promise<UpJson> {
  const lab = (await upLabs()).find((l) => l.name === name);
  assert.ok(lab, `lab ${name} is up`);
  return lab!;
}

/** The pids a run directory's lab.json names (the sshd of each host). */
async function labPids(runDir: string): Promise<number[]> {
  const rec = JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8')) as { processes: { pid?: number }[] };
  return rec.processes.map((p) => p.pid!).filter(Boolean);
}

let failedRun = '';
let failedKey = '';

test('a failing run keeps its failed state, before the always-stages: journal, manifest, report.html, store', async () => {
  const r = await run();
  assert.is(r.result.exitCode, 1, r.log);
  assert.equal(r.statuses, ['prepare:passed', 'break:failed', 'teardown:passed']);
  const key = r.journal.stages[1]!.failedState!;
  assert.ok(key && isFailureKey(key), r.log);
  const manifest = await readManifest(path.join(r.result.runDir, 'manifest.json'));
  assert.is(manifest.stages.find((s) => s.name === 'break')!.failedState, key);
  assert.match(await readFile(path.join(r.result.runDir, 'report.html'), 'utf8'), `failed state kept as checkpoint <code>${key}</code>`);
  assert.match(r.log, `failed state kept as checkpoint ${key}`);
  const info = (await store().list()).find((c) => c.key === key)!;
  assert.ok(info.failed);
  // The lab as the failure left it, not as the teardown did.
  assert.is(await readFile(path.join(info.dataDir, 'h2', 'state.txt'), 'utf8'), 'broken by break on h2\n');
  failedRun = r.result.runDir;
  failedKey = key;
});

test('lab up --failed while a run of the same scenario runs: own addresses; the rerun never restores the failed state', async () => {
  const [up, rerun] = await Promise.all([cli(['lab', 'up', scenarioFile, '--failed', failedRun, '--name', 'dbg']), run({ keepFailed: false })]);
  assert.is(up.code, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /lab dbg is up: local, 2 host\(s\), checkpoint \S+-failed-\S+: the failed state of 'break'/);
  assert.match(up.stdout, /h1 +ssh -i \S+id_ed25519 -o IdentitiesOnly=yes -p \d+ -o UserKnownHostsFile=\S+ \S+@127\.\d+\.\d+\.2/);
  assert.match(up.stdout, /ansible: +ANSIBLE_CONFIG=\S+ansible\.cfg ansible all -i \S+hosts\.yml -m ansible\.builtin\.ping/);
  // The rerun: prepare restored from its own checkpoint, break ran again; no failure state restored, none kept.
  assert.equal(rerun.statuses, ['prepare:restored', 'break:failed', 'teardown:passed'], rerun.log);
  assert.is(rerun.journal.stages[0]!.checkpoint, (await readJournal(path.join(failedRun, 'journal.json'))).stages[0]!.checkpoint);
  assert.not.match(rerun.log, failedKey);
  assert.not.ok(rerun.journal.stages[1]!.failedState);
  const lab = await upLab('dbg');
  assert.is(lab.state, 'up');
  const runHosts = (JSON.parse(await readFile(path.join(rerun.result.runDir, 'lab.json'), 'utf8')) as { hosts: { address: string }[] }).hosts.map((h) => h.address);
  for (const h of lab!.hosts) assert.not.ok(runHosts.includes(h.address), `${h.address} is the lab's own`);
  // The failed host's files as they were at the failure (not torn down).
  const h2 = lab!.hosts.find((h) => h.name === 'h2')!;
  assert.is(await readFile(path.join(h2.root!, 'state.txt'), 'utf8'), 'broken by break on h2\n');
});

test('lab login runs a command over SSH; lab run runs a playbook with the inventory; lab down leaves no process', async () => {
  const lab = await upLab('dbg');
  const h2 = lab!.hosts.find((h) => h.name === 'h2')!;
  const login = await cli(['lab', 'login', 'dbg', 'h2', '--', 'cat', path.join(h2.root!, 'state.txt')]);
  assert.is(login.code, 0, login.stderr);
  assert.is(login.stdout, 'broken by break on h2\n');
  const first = await cli(['lab', 'login', 'dbg', '--', 'hostname; test -d', lab!.hosts[0]!.root!, '&& echo first']);
  assert.match(first.stdout, /first\n$/, first.stderr);
  const bad = await cli(['lab', 'login', 'dbg', 'h2', '--', 'false']);
  assert.is(bad.code, 1);
  const nohost = await cli(['lab', 'login', 'dbg', 'h9']);
  assert.is(nohost.code, 2);
  assert.match(nohost.stderr, /no host 'h9'; its hosts: h1, h2/);
  const play = await cli(['lab', 'run', 'dbg', '--', 'ansible-playbook', 'debug.yml']);
  assert.is(play.code, 0, play.stdout + play.stderr);
  assert.match(play.stdout, /h2 +: ok=2 +changed=\d+ +unreachable=0 +failed=0/);
  assert.is(await readFile(path.join(h2.root!, 'debugged.txt'), 'utf8'), 'broken by break on h2\n');
  const pids = await labPids(lab!.runDir);
  assert.is(pids.length, 2);
  for (const p of pids) assert.ok(await pidAlive(p));
  const down = await cli(['lab', 'down', 'dbg']);
  assert.is(down.code, 0, down.stderr);
  assert.match(down.stdout, /lab dbg released: sshd of host/);
  for (const p of pids) assert.not.ok(await pidAlive(p), `sshd ${p} stopped`);
  assert.not.ok(existsSync(h2.root!), "the hosts' disks are gone");
  assert.equal(await upLabs(), []);
  const again = await cli(['lab', 'down', 'dbg']);
  assert.is(again.code, 2);
  assert.match(again.stderr, /no lab 'dbg' is up/);
});

test('lab up --until (the checkpoint restored by the engine), then cleanup --all-labs leaves no process', async () => {
  const up = await cli(['lab', 'up', scenarioFile, '--until', 'prepare']);
  assert.is(up.code, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /lab debugme-1 is up: local, 2 host\(s\), the state after stage 'prepare'/);
  assert.match(up.stdout, /prepare\s+restored/);
  const lab = await upLab('debugme-1');
  assert.ok(existsSync(path.join(lab!.hosts[0]!.root!, 'prepared.txt')));
  assert.not.ok(existsSync(path.join(lab!.hosts[0]!.root!, 'state.txt')), 'no later stage ran');
  const pids = await labPids(lab!.runDir);
  const keep = await cli(['cleanup']);
  assert.match(keep.stdout, /no crashed up lab to release\nstill up .*debugme-1 \(up\)/);
  for (const p of pids) assert.ok(await pidAlive(p));
  const r = await cli(['cleanup', '--all-labs']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /lab debugme-1 released/);
  for (const p of pids) assert.not.ok(await pidAlive(p), `sshd ${p} stopped`);
  assert.equal(await readdir(path.join(t.dir, 'cache', 'ansible-harness', 'labs-up')), []);
});

test('a lab up killed while it comes up is crashed in lab list; cleanup releases it, no process left', async () => {
  const file = path.join(project, 'napper.yml');
  await writeFile(file, SCENARIO.replace('name: debugme', 'name: napper').replace(/  - \{ name: break.*\n/, '  - { name: nap, playbook: nap.yml }\n'));
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'lab', 'up', file, '--until', 'nap', '--name', 'crash'], { cwd: project, env, stdio: 'ignore' });
  const journal = path.join(t.dir, 'cache', 'ansible-harness', 'labs-up', 'crash', 'run', 'journal.json');
  const deadline = Date.now() + 90_000;
  while (!(await readFile(journal, 'utf8').catch(() => '')).includes('"running"') || !/"name": "nap",\s+"index": \d+,\s+"status": "running"/.test(await readFile(journal, 'utf8'))) {
    assert.ok(Date.now() < deadline, 'the nap stage started');
    await new Promise((r) => setTimeout(r, 100));
  }
  const pids = await labPids(path.dirname(journal));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.is((await upLab('crash')).state, 'crashed');
  const r = await cli(['cleanup']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /lab crash released: sshd of host/);
  for (const p of pids) assert.not.ok(await pidAlive(p), `sshd ${p} stopped`);
  assert.equal(await upLabs(), []);
});

test('reproduce --keep-lab stops before the always-stages and the release: the lab stays up failed', async () => {
  const r = await cli(['reproduce', failedRun, '--keep-lab', '--name', 'again', '--out', path.join(t.dir, 'reproduced')]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /lab again is up: local, 2 host\(s\), the reproduced run of/);
  const journal = await readJournal(path.join(t.dir, 'reproduced', 'journal.json'));
  assert.equal(journal.stages.map((s) => `${s.name}:${s.status}`), ['prepare:restored', 'break:failed', 'teardown:skipped']);
  const lab = await upLab('again');
  const h2 = lab!.hosts.find((h) => h.name === 'h2')!;
  const login = await cli(['lab', 'login', 'again', 'h2', '--', 'cat', path.join(h2.root!, 'state.txt')]);
  assert.is(login.stdout, 'broken by break on h2\n', login.stderr);
  const pids = await labPids(lab!.runDir);
  // cleanup of the run directory releases the lab held on it, and its record.
  const c = await cli(['cleanup', path.join(t.dir, 'reproduced')]);
  assert.match(c.stdout, /lab again \(held on this run\) released/, c.stderr);
  for (const p of pids) assert.not.ok(await pidAlive(p));
  assert.equal(await upLabs(), []);
});

test('prune --older-than 20d removes a failed state like any checkpoint', async () => {
  const r = await store().prune({ olderThanMs: 20 * DAY, now: Date.now() + 21 * DAY });
  const keys = r.removed.map((c) => c.key);
  assert.ok(keys.includes(failedKey), keys.join(', '));
  const gone = await cli(['lab', 'up', scenarioFile, '--failed', failedRun]);
  assert.is(gone.code, 2);
  assert.match(gone.stderr, /its failed state, checkpoint \S+, is no longer in .* \(pruned\?\)/);
});

test('a static lab says it cannot checkpoint: no failed state, and lab up --failed says why', async () => {
  const file = path.join(project, 'static.yml');
  await writeFile(file, `name: static-fail\nlab: { provider: static, inventory: ${ENGINE_FIXTURES}/local.ini }\nstages:\n  - { name: deploy, playbook: ${ENGINE_FIXTURES}/fail-one.yml }\n`);
  let log = '';
  const r = await runScenario(await loadScenario(file), { out: path.join(t.dir, 'static-run'), env, bundle: false, write: (s) => (log += s) }).then(async (res) => ({ res, journal: await readJournal(path.join(res.runDir, 'journal.json')) }));
  assert.is(r.res.exitCode, 1);
  assert.match(log, "the static lab cannot checkpoint: the failed state of 'deploy' is not kept");
  assert.not.ok(r.journal.stages[0]!.failedState);
  assert.not.match(await readFile(path.join(t.dir, 'static-run', 'events.jsonl'), 'utf8'), 'failed_state');
  const up = await cli(['lab', 'up', file, '--failed', path.join(t.dir, 'static-run')]);
  assert.is(up.code, 2);
  assert.match(up.stderr, /kept no failed state: one is kept when a voting stage fails on a lab that can checkpoint/);
});

test.run();
