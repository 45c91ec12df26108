import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand, commandArgv } from '../lib/stage-run/command.js';
import { controllerEnv } from '../lib/stage-run/env.js';
import { pidAlive } from './helpers/scenario.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'harness-stage-run-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

test('a shell string runs through /bin/sh -c; an argv list runs without a shell', () => {
  assert.equal(commandArgv('make lint && echo ok'), ['/bin/sh', ['-c', 'make lint && echo ok']]);
  assert.equal(commandArgv(['tox', '-e', 'py3']), ['tox', ['-e', 'py3']]);
  assert.throws(() => commandArgv([]), /at least the program/);
});

test('output of stdout and stderr is streamed as it comes, each chunk with its stream; the exit code is kept', async () => {
  const seen: Array<[string, string]> = [];
  const r = await runCommand({ command: "printf '\\033[31mred\\033[0m\\n'; echo err >&2; exit 3", cwd: dir, env, onOutput: (t, s) => seen.push([s, t]) });
  assert.is(r.exitCode, 3);
  assert.is(r.reason, 'exit');
  assert.ok(seen.some(([s, t]) => s === 'stdout' && t.includes('\x1b[31mred')), JSON.stringify(seen));
  assert.ok(seen.some(([s, t]) => s === 'stderr' && t.includes('err')));
});

test('the command runs in its folder with only the environment it is given; stdin is at end of file', async () => {
  let out = '';
  const r = await runCommand({ command: 'pwd; echo "home=${HOME:-unset} x=${X:-unset}"; read line || echo eof', cwd: dir, env: { ...env, X: '1' }, onOutput: (t) => (out += t) });
  assert.is(r.exitCode, 0);
  assert.ok(out.startsWith(`${dir}\n`), out);
  assert.match(out, /home=unset x=1/);
  assert.match(out, /^eof$/m);
});

test('a timeout stops the whole group, grandchildren included', async () => {
  const pidFile = path.join(dir, 'grandchild.pid');
  const r = await runCommand({ command: `sleep 300 & echo $! > ${pidFile}; wait`, cwd: dir, env, timeoutMs: 300, killGraceMs: 500 });
  assert.is(r.reason, 'timeout');
  assert.is(r.exitCode, null);
  const pid = Number(await readFile(pidFile, 'utf8'));
  assert.not.ok(await pidAlive(pid), `grandchild ${pid} still runs`);
});

test('an abort stops the command; what it left in the background after a normal exit is stopped too', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const r = await runCommand({ command: 'sleep 300', cwd: dir, env, signal: ac.signal, killGraceMs: 500 });
  assert.is(r.reason, 'aborted');
  const pidFile = path.join(dir, 'daemon.pid');
  const r2 = await runCommand({ command: `sleep 300 > /dev/null 2>&1 & echo $! > ${pidFile}`, cwd: dir, env, killGraceMs: 500 });
  assert.is(r2.exitCode, 0);
  assert.not.ok(await pidAlive(Number(await readFile(pidFile, 'utf8'))), 'the background sleep outlived its stage');
});

test('a program that cannot start is reported, not thrown', async () => {
  const r = await runCommand({ command: ['./no-such-tool'], cwd: dir, env });
  assert.is(r.exitCode, null);
  assert.match(r.spawnError ?? '', /ENOENT/);
});

test('the controller environment: basics kept, harness settings added, secrets only when listed', () => {
  const e = controllerEnv({
    base: { PATH: '/bin', HOME: '/root', LC_ALL: 'C', ANSIBLE_CALLBACKS_ENABLED: 'harness_events', HARNESS_EVENTS_PATH: '/x', SECRET_TOKEN: 's3cr3t' },
    inventory: '/r/inventory/hosts.yml', runDir: '/r', stageDir: '/r/stages/01-lint', published: { url: 'http://x', n: 2 }, scenario: 'demo', stage: 'lint',
    secrets: new Map([['admin_password', 'pw-1234']]),
  });
  assert.equal(e, {
    PATH: '/bin', HOME: '/root', LC_ALL: 'C',
    HARNESS_INVENTORY: '/r/inventory/hosts.yml', HARNESS_RUN_DIR: '/r', HARNESS_STAGE_DIR: '/r/stages/01-lint',
    HARNESS_VARS: '{"url":"http://x","n":2}', HARNESS_SCENARIO: 'demo', HARNESS_STAGE: 'lint', admin_password: 'pw-1234',
  });
});

test.run();
