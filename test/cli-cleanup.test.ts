// `harness cleanup <run dir>`: a path that is not a run directory is exit 2; a process it could
// not stop is a non-zero exit naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { harness, tempDir } from './helpers/cli.js';
import { pidAlive } from './helpers/scenario.js';

test('cleanup of a path that does not exist, or is no run directory: exit 2 naming it', async () => {
  const t = await tempDir();
  try {
    const missing = path.join(t.dir, 'runs', 'demo', 'nope');
    const r = await harness(['cleanup', missing]);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, `${missing}: no such run directory`);
    assert.not.match(r.stdout, 'nothing left to release');
    const empty = path.join(t.dir, 'empty');
    await mkdir(empty);
    const e = await harness(['cleanup', empty]);
    assert.is(e.code, 2, e.stdout + e.stderr);
    assert.match(e.stderr, `${empty}: not a run directory`);
  } finally {
    await t.remove();
  }
});

test('cleanup that could not stop a recorded process: exit 3, naming it and why', async () => {
  const t = await tempDir();
  // A live process whose command line does not hold the recorded marker: cleanup must leave it alone.
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const run = path.join(t.dir, 'run');
    await mkdir(run);
    const record = {
      version: 1,
      provider: 'local',
      updatedAt: new Date().toISOString(),
      hosts: [],
      processes: [{ label: 'sshd of host web-0', host: 'web-0', pid: sleeper.pid, cmdlineMarker: '/no/such/sshd_config', state: 'running' }],
    };
    await writeFile(path.join(run, 'lab.json'), JSON.stringify(record));
    const r = await harness(['cleanup', run]);
    assert.is(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, `could not stop everything its lab started: sshd of host web-0 (pid ${sleeper.pid})`);
    assert.ok(await pidAlive(sleeper.pid!), 'a process that is not ours is left alone');
    const none = await harness(['cleanup', t.dir + '/run']);
    assert.is(none.code, 3, 'still there, still not stopped');
  } finally {
    sleeper.kill('SIGKILL');
    await t.remove();
  }
});

// Found with `npm run chaos` (seed 6038): a harness killed while a `run:` stage ran left the
// stage's scratch folder (what its command wrote, secrets included) in the run directory.
test("cleanup removes the scratch folders of run: stages an interruption left in the run directory", async () => {
  const t = await tempDir();
  try {
    const run = path.join(t.dir, 'run');
    const scratch = path.join(run, '.private', 'stages', '01-build', 'out');
    await mkdir(scratch, { recursive: true });
    await writeFile(path.join(scratch, 'artifact.txt'), 'canary-secret\n');
    // A second lab of a tree keeps its private files under .private/labs/lab-2/.
    const scratch2 = path.join(run, '.private', 'labs', 'lab-2', 'stages', '03-build', 'out');
    await mkdir(scratch2, { recursive: true });
    await mkdir(path.join(run, 'labs', 'lab-2'), { recursive: true });
    await writeFile(path.join(scratch2, 'artifact.txt'), 'canary-secret\n');
    await writeFile(path.join(run, 'lab.json'), JSON.stringify({ version: 1, provider: 'local', updatedAt: new Date().toISOString(), hosts: [], processes: [] }));
    const r = await harness(['cleanup', run]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.not.ok(existsSync(path.join(run, '.private', 'stages')), 'the scratch folder is gone');
    assert.not.ok(existsSync(path.join(run, '.private', 'labs', 'lab-2', 'stages')), "lab 2's scratch folder is gone");
  } finally {
    await t.remove();
  }
});

test.run();
