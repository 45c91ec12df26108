/**
 * A bounded, seeded subset of the chaos runner (test/chaos/runner.ts) for `npm test`: a Ctrl-C
 * at a seeded moment in a real run of the chaos pipeline, checked as `npm run chaos` checks it (exit code, records parse, nothing left running or held,
 * the next run restores, no canary secret written). `CHAOS_SEED=N` picks other seeds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { harness } from './helpers/cli.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { cleanupRun } from '../lib/engine/cleanup.js';
import { sshCheck } from '../lib/lab/local/index.js';
import { pidAlive } from './helpers/scenario.js';
import { injectOnce, oneLine, pick, replay, writeChaosScenario, type Kind } from './chaos/runner.js';

const test = suite('chaos (a seeded subset)');
const BASE = Number(process.env.CHAOS_SEED ?? 7000);
let dir = '';
let scenario = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'harness-chaos-test-'));
  scenario = await writeChaosScenario(path.join(dir, 'scenario'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The first seed from BASE on that picks `kind` at a moment the run is well under way (4 to 9 s in). */
function seedFor(kind: Kind): number {
  for (let s = BASE; ; s++) {
    const p = pick(s);
    if (p.kind === kind && p.delayMs >= 4000 && p.delayMs <= 9000) return s;
  }
}

// One injection here (each is two real runs); `npm run chaos` tries every kind.
for (const kind of ['sigint'] as const) {
  test(`${kind} at a seeded moment: the run ends as documented and leaves nothing behind`, async () => {
    const seed = seedFor(kind);
    const o = await injectOnce(seed, scenario, path.join(dir, `run-${seed}`), { log: (l) => console.log(l) });
    assert.equal(o.failures.map(oneLine), [], `seed ${seed}: ${replay(seed)}`);
  });
}

// Found by `npm run chaos` (seed 104, store-readonly): a checkpoint store that cannot be written
// crashed the run ("internal error") at the fork point's build claim; once fixed, the branch that
// starts from the fork's checkpoint was skipped and the run still said "passed" (exit 0).
test('regression (chaos seed 104): a read-only checkpoint store is no crash, and the jobs that could not start make the run exit 1', async () => {
  const cache = path.join(dir, 'ro-cache');
  const store = path.join(cache, 'ansible-harness', 'checkpoints');
  await mkdir(store, { recursive: true });
  const root = process.getuid?.() === 0;
  // root writes through mode bits: a read-only bind mount; anyone else: the folder's mode
  if (root) {
    execFileSync('mount', ['--bind', store, store]);
    execFileSync('mount', ['-o', 'remount,ro,bind', store]);
  } else await chmod(store, 0o555);
  try {
    const out = path.join(dir, 'ro-run');
    const r = await harness(['run', scenario, '--out', out], { env: { XDG_CACHE_HOME: cache, CHAOS_CANARY: 'canary-regression-104' } });
    const text = r.stdout + r.stderr;
    assert.is(r.code, 1, text);
    assert.not.match(text, /internal error/);
    assert.match(text, /base: the build claims folder .* cannot be written .*building without a claim/);
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8'));
    assert.is(journal.status, 'error');
    const off = journal.stages.find((x: { name: string }) => x.name === 'branch[tls=off]');
    assert.is(off.status, 'skipped');
    assert.match(off.reason, /the checkpoint of 'base' it starts from could not be taken/);
  } finally {
    if (root) spawnSync('umount', [store]);
    else await chmod(store, 0o755);
  }
});

/** Runs `fn` with a tmpfs of `size` mounted at a new folder `name` (root only: otherwise it says so and does nothing). */
async function onSmallDisk(name: string, size: string, fn: (disk: string) => Promise<void>): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('  (a full disk needs a tmpfs mount: run as root to check it)');
    return;
  }
  const disk = path.join(dir, name);
  await mkdir(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk]);
  try {
    await fn(disk);
  } finally {
    spawnSync('umount', [disk]);
  }
}

/** A scenario whose command lab's allocate writes `fillBytes` into the run directory just before it answers; its release runs `release`. */
async function fillingLab(name: string, fillBytes: number, release: string): Promise<string> {
  const lab = path.join(dir, 'scenario', `${name}-lab`);
  await mkdir(lab, { recursive: true });
  await writeFile(path.join(lab, 'allocate.sh'), `#!/bin/sh\necho vm-1 > "$HARNESS_RESOURCES"\nhead -c ${fillBytes} /dev/zero > "$HARNESS_RUN_DIR/filler" 2>/dev/null\necho '{"hosts":[{"name":"web-0","address":"127.0.0.1","port":9}]}'\n`, { mode: 0o755 });
  await writeFile(path.join(lab, 'release.sh'), `#!/bin/sh\n${release}\n`, { mode: 0o755 });
  const file = path.join(dir, 'scenario', `${name}.yml`);
  await writeFile(file, `name: chaos-${name}\nlab:\n  provider: command\n  allocate: ${name}-lab/allocate.sh\n  release: ${name}-lab/release.sh\nstages:\n  - { name: one, playbook: step.yml }\nvars: { canary: none }\n`);
  return file;
}

// Found by `npm run chaos` (seed 1000, disk-full): a run directory on a full disk crashed the
// run ("internal error", a trace) when a stage could not write its extra vars; a stage's
// output.log that could not be written was an unhandled 'error' event that ended the process
// with its lab still running.
test('regression (chaos seed 1000): a full disk under the run directory is a stage error, not a crash; no stage left running, the lab released', () =>
  onSmallDisk('small-disk', '2m', async (disk) => {
    // the first stage fills the disk, so the next one meets it full
    const file = path.join(dir, 'scenario', 'full.yml');
    await writeFile(file, 'name: chaos-full\nlab:\n  provider: local\n  hosts: { web-0: {} }\nstages:\n  - name: fill\n    run: head -c 50000000 /dev/zero > "$HARNESS_RUN_DIR/filler"; true\n  - { name: one, playbook: step.yml }\n  - { name: teardown, playbook: step.yml, always: true }\nvars: { canary: none }\n');
    const out = path.join(disk, 'run');
    const r = await harness(['run', file, '--out', out], { env: { XDG_CACHE_HOME: path.join(dir, 'full-cache') } });
    const text = r.stdout + r.stderr;
    assert.is(r.code, 1, text);
    assert.not.match(text, /internal error|\.js:\d+|Unhandled/);
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8'));
    assert.equal(journal.stages.map((st: { status: string }) => st.status), ['passed', 'error', 'error']);
    assert.match(journal.stages[1].reason, /could not write the stage's files \(ENOSPC/);
    const lab = await readFile(path.join(out, 'lab.json'), 'utf8');
    const pids = [...lab.matchAll(/"pid":\s*(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(pids.length > 0, 'the lab record names its sshd');
    for (const pid of pids) assert.not.ok(await pidAlive(pid), `recorded process ${pid} left running`);
  }));

// Found by `npm run chaos` (seed 5001, disk-full at 2.4 s): the disk filled while the lab was
// allocated, and writing its ansible.cfg was an "internal error" with a trace (the run itself ended
// as an error, its lab released); a run directory on a disk full from the start was the same crash.
test('regression (chaos seed 5001): a disk that fills at the lab allocation, or is full from the start, is an error naming the file, no trace; the lab released', () =>
  onSmallDisk('alloc-disk', '1m', async (disk) => {
    // a command lab whose allocate fills the run directory's disk just before it answers
    const marks = path.join(dir, 'release-marks');
    const file = await fillingLab('fill', 5_000_000, `echo "released $(cat "$HARNESS_RESOURCES")" >> ${marks}`);
    const env = { XDG_CACHE_HOME: path.join(dir, 'fill-cache') };
    const r = await harness(['run', file, '--out', path.join(disk, 'run')], { env });
    let text = r.stdout + r.stderr;
    assert.is(r.code, 1, text);
    assert.not.match(text, /internal error|\.js:\d+/);
    assert.match(text, /could not write its files \(ENOSPC/);
    assert.is(await readFile(marks, 'utf8'), 'released vm-1\n', 'the lab was released');
    // a disk full from the start (the first run gave back the space it held for its last records):
    // the next run cannot write its first manifest
    spawnSync('sh', ['-c', `head -c 5000000 /dev/zero > ${disk}/filler 2>/dev/null`]);
    const again = await harness(['run', file, '--out', path.join(disk, 'run2')], { env });
    text = again.stdout + again.stderr;
    assert.is(again.code, 1, text);
    assert.match(text, /harness: error: the harness could not write its files \(ENOSPC: .*run2\/manifest\.json'\)/);
    assert.not.match(text, /internal error|\.js:\d+/);
  }));

// Found by `npm run chaos -- --runs 200` (seed 7081, disk-full at 1.2 s): the disk filled while
// the lab was allocated; the run ended (exit 3) and released its lab, but its last records could
// not be written on the full disk, so the journal still said `running`. The run directory now
// holds space back for them (RESERVE_BYTES) from its start and gives it back just before them.
test('regression (chaos seed 7081): a run that fills its disk still ends with its journal, JUnit and manifest written', () =>
  onSmallDisk('reserve-disk', '8m', async (disk) => {
    const file = await fillingLab('fill-all', 20_000_000, 'true');
    const out = path.join(disk, 'run');
    const r = await harness(['run', file, '--out', out, '--no-bundle'], { env: { XDG_CACHE_HOME: path.join(dir, 'fill-all-cache') } });
    const text = r.stdout + r.stderr;
    assert.ok(r.code === 1 || r.code === 3, text);
    assert.not.match(text, /internal error|\.js:\d+/);
    // the disk is full still (the filler stays), and the records are whole
    assert.is((await stat(path.join(out, 'filler'))).size > 4_000_000, true);
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8')) as { status: string };
    assert.is(journal.status, 'error', text);
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')) as { status: string; exitCode: number };
    assert.is(manifest.exitCode, r.code);
    assert.is(manifest.status, 'error');
    assert.match(await readFile(path.join(out, 'junit.xml'), 'utf8'), /<testsuites[\s>]/);
    assert.is(existsSync(path.join(out, '.private', 'reserve')), false, 'the reserve is given back');
  }));

// Found by `npm run chaos` (seed 5133, kill-harness at 4.4 s, then `harness cleanup`): killed
// after its local lab claimed an address block but before lab.json recorded the claim, the run
// kept the block claimed (by a dead process) after cleanup; another run would take it over, but
// nothing gave it back.
test('regression (chaos seed 5133): cleanup gives back an address block a dead harness claimed for the run before recording it', async () => {
  const claims = path.join(os.tmpdir(), 'ansible-harness-addresses');
  await mkdir(claims, { recursive: true });
  const runDir = path.join(dir, 'claimed-run');
  await mkdir(runDir);
  // a dead process's claim on a block no run reaches (blocks are taken from 127.0.0 up)
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const file = path.join(claims, '127.254.253.claim');
  const mine = { pid: dead, startTicks: 1, token: 'chaos-5133', runDir, created: new Date().toISOString() };
  await writeFile(file, JSON.stringify(mine));
  const other = path.join(claims, '127.254.252.claim');
  await writeFile(other, JSON.stringify({ ...mine, token: 'another-run', runDir: path.join(dir, 'another') }));
  try {
    const r = await cleanupRun(runDir);
    assert.equal(r.released, ['address block 127.254.253.0/24']);
    assert.not.ok(existsSync(file), 'the claim naming the run is gone');
    assert.ok(existsSync(other), "another run's claim stays");
  } finally {
    await rm(file, { force: true });
    await rm(other, { force: true });
  }
});

// Found by `npm run chaos` (seed 5140, at load 34): the next run's local lab failed (exit 3)
// because its one SSH login check took over 15 s; the sshd log showed the login had worked.
test('regression (chaos seed 5140): a local host login that does not finish in time is tried again', async () => {
  const fake = path.join(dir, 'slow-ssh');
  const count = path.join(dir, 'slow-ssh-count');
  // the first attempt hangs (and is killed), the second answers as the host would
  await writeFile(fake, `#!/bin/sh\necho x >> ${count}\n[ "$(wc -l < ${count})" -ge 2 ] && { echo harness-ok; exit 0; }\nexec sleep 30\n`, { mode: 0o755 });
  const target = { address: '127.0.0.1', port: 9, user: 'root', key: '/k', knownHosts: '/kh' };
  await sshCheck(target, { sshPath: fake, timeoutMs: 500 });
  assert.is((await readFile(count, 'utf8')).split('\n').length - 1, 2);
  // a refusal is not retried, and a last slow attempt says how many there were
  const t0 = Date.now();
  assert.not.match(await sshCheck(target, { sshPath: '/bin/false', timeoutMs: 5000 }).then(() => 'passed', (e: Error) => e.message), /passed|attempts/);
  assert.ok(Date.now() - t0 < 4000, 'a refusal is no slow login');
  await writeFile(fake, '#!/bin/sh\nexec sleep 30\n');
  assert.is(await sshCheck(target, { sshPath: fake, timeoutMs: 300, attempts: 2 }).then(() => 'passed', (e: Error) => e.message), 'ssh did not finish in time (2 attempts)');
});

// Found by `npm run chaos` (seed 2009, sigterm at 1.7 s): a SIGTERM while the CLI still loaded
// killed it with the signal (exit 143), not the documented 130.
test('regression (chaos seed 2009): SIGTERM or SIGINT while the CLI loads is exit 130', async () => {
  // Node's own start (before bin/harness's first line) cannot be caught: the signal is sent
  // later and later until it lands after it, while the CLI's modules load or it validates.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const codes: Array<number | string | null> = [];
    for (const delay of [200, 400, 800, 1600, 3200, 6400]) {
      const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'validate', path.join(PACKAGE_ROOT, 'scenarios', 'demo-tree.yml')], { stdio: 'ignore' });
      const exited = new Promise<number | string | null>((r) => child.on('exit', (c, s) => r(c ?? s)));
      await new Promise((r) => setTimeout(r, delay));
      child.kill(sig);
      codes.push(await exited);
      if (codes.at(-1) !== sig) break; // past Node's start
    }
    assert.is(codes.at(-1), 130, `${sig}: ${codes.join(', ')}`);
  }
});

test.run();
