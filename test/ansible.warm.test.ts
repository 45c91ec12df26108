// Warm starts (lib/ansible/warm.ts): an ansible-playbook started ahead of its run, then handed its
// argv, env and folder, runs the real playbook as a cold one would (same output, events, exit
// code, environment), falls back to a cold start in the same process when the interpreter's own
// settings differ, and leaves no process behind when it is never used.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopWarm } from '../lib/ansible/warm.js';
import { ansibleConfig, ansibleEnv, createWarmPool, findAnsible, playbookProcessEnv, PYTHON_STARTUP_ENV, runPlaybook, type PlaybookResult, type WarmPool, type WarmProcess } from '../lib/ansible/index.js';
import type { AnsibleEvent } from '../lib/model/events.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'ansible');
const dirs: string[] = [];
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const baseEnv = (extra: Record<string, string> = {}): Record<string, string> => playbookProcessEnv({ ...PYTHON_STARTUP_ENV, ...extra });

/** A pool's `more`: start `n` warm processes in all. */
const starts = (n: number) => () => n-- > 0;

/** Waits until the pool has a warm process waiting. */
async function readyPool(pool: WarmPool): Promise<void> {
  assert.ok(await pool.ready(), 'a warm process is waiting');
}

/** The pids of warm-start processes whose parent is this test process. */
function warmChildren(): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (ppid === process.pid && cmd.includes('warm_start.py')) found.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

async function run(playbook: string, pool: WarmPool | undefined, script: string, extraEnv: Record<string, string | undefined> = {}): Promise<{ result: PlaybookResult; events: AnsibleEvent[]; log: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-warm-'));
  dirs.push(dir);
  const cfg = path.join(dir, 'ansible.cfg');
  fs.writeFileSync(cfg, ansibleConfig({ inventory: path.join(FIXTURES, 'local.ini'), controlPathDir: path.join(dir, 'cp'), localTmp: path.join(dir, 'local') }));
  const events: AnsibleEvent[] = [];
  let output = '';
  const result = await runPlaybook({
    // A playbook path relative to cwd: only found if the warm process moved to the folder given.
    args: ['-i', path.join(FIXTURES, 'local.ini'), playbook],
    command: script,
    env: { ...ansibleEnv({ configFile: cfg, tty: false, controlPathDir: path.join(dir, 'cp') }), ...extraEnv },
    cwd: FIXTURES,
    tmpDir: dir,
    stage: 'warm',
    attempt: 1,
    onEvent: (e) => events.push(e),
    onOutput: (t) => (output += t),
    killGraceMs: 2000,
    ...(pool ? { warm: pool } : {}),
  });
  return { result, events, log: stripVTControlCharacters(output).replace(/\r/g, '') };
}

test('a warm ansible-playbook runs the playbook with the env and folder of its run, like a cold one', async () => {
  const { playbook: script } = await findAnsible();
  // WARM_GONE is in the env the warm process started with, not in the run's: Ansible must not see it.
  const pool = createWarmPool({ script, env: baseEnv({ WARM_GONE: 'stale' }), more: starts(1) });
  try {
    const cold = await run('warm.yml', undefined, script, { WARM_PROBE: 'given', WARM_GONE: undefined });
    await readyPool(pool);
    const warm = await run('warm.yml', pool, script, { WARM_PROBE: 'given', WARM_GONE: undefined });
    assert.is(warm.result.warm, true, 'the warm process ran it');
    assert.is(cold.result.warm, false);
    assert.is(warm.result.exitCode, 0, warm.log);
    assert.match(warm.log, /probe=given gone= unbuffered=1"/);
    assert.match(cold.log, /probe=given gone= unbuffered=1"/);
    // The warm run was that process (no second start); the cold one was a fresh ansible-playbook.
    assert.match(warm.log, /cmdline=\S*python\S* \S*warm_start\.py /);
    assert.match(cold.log, /cmdline=\S*python\S* \S*ansible-playbook /);
    const kinds = (e: AnsibleEvent[]): string[] => e.map((x) => x.kind);
    assert.equal(kinds(warm.events), kinds(cold.events));
    assert.equal(warm.result.stats?.hosts, cold.result.stats?.hosts);
  } finally {
    await pool.close();
  }
  assert.equal(warmChildren(), [], 'no warm process left');
});

test('a failing playbook gives the same exit code warm as cold', async () => {
  const { playbook: script } = await findAnsible();
  const pool = createWarmPool({ script, env: baseEnv(), more: starts(1) });
  try {
    await readyPool(pool);
    const warm = await run('mixed.yml', pool, script);
    const cold = await run('mixed.yml', undefined, script);
    assert.is(warm.result.warm, true);
    assert.is(warm.result.exitCode, cold.result.exitCode);
    assert.is(warm.result.exitCode, 2, warm.log);
  } finally {
    await pool.close();
  }
});

test("an interpreter setting that differs from the warm process's start: a cold start in the same terminal, same result", async () => {
  const { playbook: script } = await findAnsible();
  const pool = createWarmPool({ script, env: baseEnv(), more: starts(1) });
  try {
    await readyPool(pool);
    // PYTHONUNBUFFERED is read only as Python starts: the warm process execs a fresh ansible-playbook.
    const warm = await run('warm.yml', pool, script, { WARM_PROBE: 'again', PYTHONUNBUFFERED: '' });
    assert.is(warm.result.warm, true);
    assert.is(warm.result.exitCode, 0, warm.log);
    assert.match(warm.log, /probe=again gone= unbuffered="/);
    // It exec'd a fresh ansible-playbook: not the warm-start script any more.
    assert.match(warm.log, /cmdline=\S*python\S* \S*ansible-playbook /);
    assert.not.match(warm.log, /warm_start\.py/);
  } finally {
    await pool.close();
  }
});

test('a pool closed unused stops its waiting process; a pool keeps one ready while more() says so', async () => {
  const { playbook: script } = await findAnsible();
  const pool = createWarmPool({ script, env: baseEnv(), more: starts(2) });
  const taken: WarmProcess[] = [];
  try {
    await readyPool(pool);
    const first = pool.take(script);
    assert.ok(first, 'a warm process is ready');
    taken.push(first);
    assert.is(pool.take('/elsewhere/ansible-playbook'), undefined, 'only for its own script');
    // It starts the next one in the background, and no third.
    await readyPool(pool);
    const second = pool.take(script);
    assert.ok(second);
    taken.push(second);
    assert.not.ok(await pool.ready(), 'more() said no more');
  } finally {
    await pool.close();
  }
  // Those taken are the caller's: hand them nothing and stop them as a run would.
  for (const w of taken) {
    stopWarm(w.term.pid, 'SIGTERM');
    await w.exit;
  }
  const deadline = Date.now() + 5000;
  while (warmChildren().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(warmChildren(), [], 'no warm process left');
});

/**
 * A stand-in for ansible-playbook (a Python script; a mock, named so: it only exits), run by a
 * `python3` that starts 0.4 s late, so that the run's go comes before the warm process has made
 * its FIFO. The script leaves behind what an interpreter's exit must do: an atexit handler, a
 * thread still running, output without a newline; its exit is FAKE_EXIT's (a number or a text).
 */
function fakeAnsible(dir: string): string {
  const python = path.join(dir, 'python3');
  fs.writeFileSync(python, '#!/bin/sh\nsleep 0.4\nexec /usr/bin/python3 "$@"\n', { mode: 0o755 });
  const script = path.join(dir, 'ansible-playbook');
  fs.writeFileSync(
    script,
    [
      `#!${python}`,
      'import atexit, os, sys, threading, time',
      "out = os.environ['FAKE_OUT']",
      "atexit.register(lambda: open(os.path.join(out, 'atexit'), 'w').write('ran'))",
      'def late():',
      '    time.sleep(0.3)',
      "    open(os.path.join(out, 'thread'), 'w').write('done')",
      'threading.Thread(target=late).start()',
      "sys.stdout.write('argv0=%s tail without a newline' % os.path.basename(sys.argv[0]))",
      "code = os.environ['FAKE_EXIT']",
      'sys.exit(int(code) if code.isdigit() else code)',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

test('a warm process ends as the interpreter would: threads joined, atexit run, output flushed, the exit code of sys.exit; a go before its FIFO exists still arrives', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-warm-fake-'));
  dirs.push(dir);
  const script = fakeAnsible(dir);
  for (const [exit, code] of [['7', 7], ['why not', 1]] as const) {
    const out = fs.mkdtempSync(path.join(dir, 'out-'));
    const pool = createWarmPool({ script, env: baseEnv(), more: starts(1) });
    try {
      await readyPool(pool);
      const warm = await run('warm.yml', pool, script, { FAKE_OUT: out, FAKE_EXIT: exit });
      assert.is(warm.result.warm, true, 'the warm process ran it');
      assert.is(warm.result.exitCode, code, warm.log);
      assert.match(warm.log, 'argv0=ansible-playbook tail without a newline');
      if (code === 1) assert.match(warm.log, /why not/);
      assert.is(fs.readFileSync(path.join(out, 'atexit'), 'utf8'), 'ran');
      assert.is(fs.readFileSync(path.join(out, 'thread'), 'utf8'), 'done');
      const cold = await run('warm.yml', undefined, script, { FAKE_OUT: out, FAKE_EXIT: exit });
      assert.is(cold.result.exitCode, code, 'the same exit cold');
    } finally {
      await pool.close();
    }
  }
  assert.equal(warmChildren(), [], 'no warm process left');
});

test('HARNESS_WARM_START=0 turns warm starts off', async () => {
  const { playbook: script } = await findAnsible();
  const pool = createWarmPool({ script, env: baseEnv({ HARNESS_WARM_START: '0' }) });
  assert.not.ok(await pool.ready());
  assert.is(pool.take(script), undefined);
  assert.equal(warmChildren(), []);
  await pool.close();
});

test.run();
