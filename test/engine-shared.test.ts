import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readJournal } from '../lib/report/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';

// One execution per distinct node across scenarios and runs: the store is addressed by key, a
// pipeline of scenario files checkpoints what they share, a run waits for another that builds
// the same node, and takes over when that one is killed. Real sshd hosts, real ansible-playbook.
const test = suite('engine shared nodes');
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'tree');
let t: { dir: string; remove: () => Promise<void> };
let project: string;
let counters: string;
let env: NodeJS.ProcessEnv;

test.before.each(async () => {
  t = await tempDir('harness-shared-');
  project = path.join(t.dir, 'project');
  counters = path.join(t.dir, 'counters');
  await cp(FIXTURE, project, { recursive: true });
  await mkdir(counters);
  env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
});
test.after.each(async () => {
  await t.remove();
});

/** A scenario `name` whose first node `a` (with `aVars`) is the same in every file; then its own node. */
async function scenario(name: string, own: string, aExtra = ''): Promise<string> {
  const file = path.join(project, `${name}.yml`);
  await writeFile(file, `name: ${name}\nlab:\n  provider: local\n  hosts:\n    h1: {}\nvars: { counter_dir: "${counters}" }\nstages:\n  - { name: a, playbook: step.yml${aExtra} }\n  - { name: ${own}, playbook: b.yml }\n`);
  return file;
}

async function runsOf(node: string): Promise<number> {
  return (await readFile(path.join(counters, `${node}.runs`), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
}

function start(args: string[]) {
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const io = { output: '' };
  child.stdout.on('data', (d) => (io.output += d));
  child.stderr.on('data', (d) => (io.output += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  return { child, io, exited };
}

/** Waits for `check`; the deadline only ends a hung test (no timing is asserted). */
async function until(check: () => Promise<boolean> | boolean, what: string, io: { output: string }): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} never happened:\n${io.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Two scenarios whose first node `a` (checkpointed) is the same: the first run builds it and is
 * held inside it (the file `hold`), the second runs until it says it waits for the first.
 */
async function builderAndWaiter() {
  const one = await scenario('one', 'b', ', checkpoint: true');
  const two = await scenario('two', 'c', ', checkpoint: true');
  const hold = path.join(counters, 'hold');
  await writeFile(hold, '');
  const first = start(['run', one, '--out', path.join(t.dir, 'r1')]);
  await until(async () => (await runsOf('a')) === 1, 'the first run starting a', first.io);
  const waiter = start(['run', two, '--out', path.join(t.dir, 'r2')]);
  await until(() => /waiting for one: a/.test(waiter.io.output), 'the second run waiting', waiter.io);
  return { hold, first, waiter };
}

test('harness run a.yml b.yml: the node both files share runs once, the second restores it', async () => {
  const one = await scenario('one', 'b');
  const two = await scenario('two', 'c');
  const r = await harness(['run', one, two], { cwd: t.dir, env });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(await runsOf('a'), 1, 'a ran once for both scenarios');
  assert.is(await runsOf('b'), 1);
  assert.is(await runsOf('c'), 1);
  const list = await harness(['checkpoints', 'list', '--json'], { env });
  const doc = JSON.parse(list.stdout) as { checkpoints: { stage: string; usedBy: { scenario: string; stage: string }[] }[] };
  const a = doc.checkpoints.find((c) => c.stage === 'a');
  assert.ok(a, list.stdout);
  assert.equal(a!.usedBy.map((u) => u.scenario).sort(), ['one', 'two'], 'the list says which scenarios use the shared checkpoint');
});

test('two concurrent runs sharing a prefix build it once: the second waits and restores', async () => {
  const { hold, first, waiter: second } = await builderAndWaiter();
  await rm(hold);
  const [c1, c2] = await Promise.all([first.exited, second.exited]);
  assert.is(c1, 0, first.io.output);
  assert.is(c2, 0, second.io.output);
  assert.is(await runsOf('a'), 1, 'a was built once');
  const j2 = await readJournal(path.join(t.dir, 'r2', 'journal.json'));
  const a2 = j2.stages.find((s) => s.name === 'a')!;
  assert.is(a2.status, 'restored', second.io.output);
  assert.match(a2.reason ?? '', /while this run waited/);
});

test('kill -9 of the builder while another run waits: the waiter takes the claim over and builds', async () => {
  const { hold, first, waiter } = await builderAndWaiter();
  first.child.kill('SIGKILL');
  await first.exited;
  // The killed run's lab is taken down as a user would (its hosts stop; its ansible-playbook fails).
  const cleaned = await harness(['cleanup', path.join(t.dir, 'r1')], { env });
  assert.is(cleaned.code, 0, cleaned.stdout + cleaned.stderr);
  await rm(hold);
  const code = await waiter.exited;
  assert.is(code, 0, waiter.io.output);
  assert.match(waiter.io.output, /took over the build from one: a/);
  const j2 = await readJournal(path.join(t.dir, 'r2', 'journal.json'));
  assert.is(j2.stages.find((s) => s.name === 'a')!.status, 'passed', 'the waiter built a itself');
  assert.is(await runsOf('a'), 2);
});

test.run();
