// runPlaybook against the real ansible-playbook, on hosts of this machine (connection=local) and
// one SSH host on a closed loopback port. Fixtures: test/fixtures/ansible/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ansibleConfig,
  ansibleEnv,
  findAnsible,
  playbookArgv,
  runPlaybook,
  type PlaybookArgvOptions,
  type PlaybookResult,
  type RunPlaybookOptions,
} from '../lib/ansible/index.js';
import { LabError } from '../lib/errors.js';
import type { AnsibleEvent, EventOf } from '../lib/model/events.js';
import { stripVTControlCharacters } from 'node:util';

// dist/test/x.js -> <root>/test/fixtures/ansible (fixtures are not compiled)
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'ansible');
const fixture = (name: string): string => path.join(FIXTURES, name);

interface Run {
  result: PlaybookResult;
  events: AnsibleEvent[];
  output: string;
  log: string;
  dir: string;
}

const dirs: string[] = [];

async function run(
  playbook: string,
  inventory = 'local.ini',
  more: Partial<PlaybookArgvOptions> = {},
  runOpts: Partial<RunPlaybookOptions> & { tty?: boolean } = {},
): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-run-'));
  dirs.push(dir);
  const tmp = path.join(dir, 'tmp');
  const cfg = path.join(dir, 'ansible.cfg');
  fs.mkdirSync(tmp);
  fs.writeFileSync(cfg, ansibleConfig({ inventory: fixture(inventory), controlPathDir: path.join(tmp, 'cp'), localTmp: path.join(tmp, 'local') }));
  const events: AnsibleEvent[] = [];
  let output = '';
  const result = await runPlaybook({
    args: playbookArgv({ playbook: path.isAbsolute(playbook) ? playbook : fixture(playbook), inventory: fixture(inventory), ...more }),
    env: ansibleEnv({ configFile: cfg, tty: runOpts.tty ?? false, controlPathDir: path.join(tmp, 'cp') }),
    cwd: dir,
    tmpDir: tmp,
    stage: 'deploy',
    attempt: 1,
    onEvent: (e) => events.push(e),
    onOutput: (t) => {
      output += t;
    },
    killGraceMs: 2000,
    ...runOpts,
  });
  // The output as the engine's output.log keeps it (lib/engine/stage.ts): no ANSI codes, no CR.
  const log = stripVTControlCharacters(output).replace(/\r/g, '');
  return { result, events, output, log, dir };
}

/** Rejects if `p` has not settled after `ms`: catches a hang, measures nothing. */
function notHanging<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

const results = (events: AnsibleEvent[], task: string): EventOf<'host_result'>[] =>
  events.filter((e): e is EventOf<'host_result'> => e.kind === 'host_result' && e.task === task);

/** The processes (not zombies) in process group `pgid`. Zombies are dead, awaiting their reaper. */
function liveInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') live.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return live;
}

/** A pid is gone when /proc has no entry or only a zombie (this container's PID 1 reaps no orphans). */
function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('findAnsible: the real ansible-core and its python', async () => {
  const found = await findAnsible();
  assert.match(found.version, /^2\.\d+\.\d+/);
  assert.match(found.python, /^3\.\d+/);
  assert.ok(path.isAbsolute(found.playbook) && fs.existsSync(found.playbook), found.playbook);
});

test('findAnsible: a missing tool is a LabError (exit 3) naming it and how to install it', async () => {
  try {
    await findAnsible({ binary: 'ansible-playbook-nowhere' });
    assert.unreachable('no error');
  } catch (err) {
    assert.instance(err, LabError);
    assert.is((err as LabError).exitCode, 3);
    assert.match((err as Error).message, /ansible-playbook-nowhere not found/);
    assert.match((err as Error).message, /apt-get install -y --no-install-recommends ansible-core/);
  }
});

test('a passing playbook: events in order, ok/changed per host, a handler, stats, exit 0', async () => {
  const r = await run('pass.yml', 'local.ini', {}, { tty: true });
  assert.equal(r.result.reason, 'exit');
  assert.is(r.result.exitCode, 0);
  const kinds = r.events.map((e) => (e.kind === 'host_result' ? `${e.kind}:${e.host}:${e.status}` : e.kind));
  const sorted = (a: string[]): string[] => [...a].sort();
  // hosts of one task may answer in either order
  assert.equal(kinds.slice(0, 3), ['playbook_start', 'play_start', 'task_start']);
  assert.equal(sorted(kinds.slice(3, 5)), ['host_result:h1:ok', 'host_result:h2:ok']);
  assert.is(kinds[5], 'task_start');
  assert.equal(sorted(kinds.slice(6, 8)), ['host_result:h1:changed', 'host_result:h2:changed']);
  assert.is(kinds[8], 'task_start');
  assert.equal(sorted(kinds.slice(9, 11)), ['host_result:h1:ok', 'host_result:h2:ok']);
  assert.equal(kinds.slice(11), ['stats']);

  for (const e of r.events) {
    assert.is(e.stage, 'deploy');
    assert.is(e.attempt, 1);
  }
  const [pb, play, t1] = r.events;
  assert.equal(pb, { ...pb!, kind: 'playbook_start', playbook: fixture('pass.yml') });
  assert.equal(play, { ...play!, kind: 'play_start', play: 'pass', patterns: ['web'] });
  assert.ok(t1?.kind === 'task_start' && t1.task === 'say hello' && t1.action === 'ansible.builtin.debug' && !t1.handler);
  assert.is(t1.path, `${fixture('pass.yml')}:5`);
  const handler = r.events[8];
  assert.ok(handler?.kind === 'task_start' && handler.task === 'announce' && handler.handler, JSON.stringify(handler));
  const hello = results(r.events, 'say hello').find((e) => e.host === 'h2')!;
  assert.is(hello.message, 'hello h2');
  assert.is(hello.taskId, t1.taskId);
  assert.ok(hello.duration >= 0 && hello.duration < 60);
  assert.ok(r.result.stats);
  assert.equal(r.result.stats!.hosts.h1, { ok: 3, changed: 1, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 });
  assert.equal(r.result.stats!.custom, {});

  // raw output is a terminal's (colours, CRLF); the log is plain
  assert.ok(r.output.includes('\x1b[') && r.output.includes('\r\n'), 'raw pty output has ANSI and CRLF');
  assert.match(r.log, /TASK \[say hello\]/);
  assert.match(r.log, /h2\s+: ok=3\s+changed=1/);
  assert.equal(fs.readdirSync(path.join(r.dir, 'tmp')).filter((f) => f.endsWith('.fifo')), [], 'the FIFO is removed');
});

test('failures, ignore_errors, loops, skips, no_log and set_stats', async () => {
  const r = await run('mixed.yml');
  assert.is(r.result.exitCode, 2);
  assert.not.ok(r.output.includes('\x1b['), 'no colours when the caller has no terminal');
  assert.is(r.result.reason, 'exit');

  const fail = results(r.events, 'fail on h2');
  assert.equal(fail.map((e) => [e.host, e.status, e.ignored]).sort(), [['h1', 'skipped', false], ['h2', 'failed', false]]);
  const h2 = fail.find((e) => e.host === 'h2')!;
  assert.match(h2.message ?? '', /non-zero return code/);
  assert.match(h2.message ?? '', /boom on h2/);
  assert.is(h2.result?.rc, 3);
  assert.is(h2.result?.invocation, undefined, 'invocation is trimmed');
  assert.is(h2.result?.stderr_lines, undefined, 'stderr_lines is trimmed');

  // h2 failed, so only h1 goes on
  const ignored = results(r.events, 'ignored failure');
  assert.equal(ignored.map((e) => [e.host, e.status, e.ignored, e.message]), [['h1', 'failed', true, 'this one is ignored']]);

  const loop = results(r.events, 'loop');
  assert.equal(loop.map((e) => [e.item, e.status, e.message]), [
    ['a', 'ok', 'item a'],
    ['b', 'ok', 'item b'],
    ['c', 'ok', 'item c'],
    [undefined, 'ok', 'All items completed'],
  ]);
  assert.is(loop[3]!.result?.results, undefined, 'the items are not repeated in the task result');

  const skipped = results(r.events, 'skipped task');
  assert.equal(skipped.map((e) => [e.host, e.status]), [['h1', 'skipped']]);

  const secret = results(r.events, 'secret');
  assert.is(secret.length, 1);
  assert.ok(!JSON.stringify(secret).includes('s3cr3t'), 'no secret in the event');
  assert.match(String(secret[0]!.result?.censored), /no_log: true/);
  const secretLoop = results(r.events, 'secret loop');
  assert.equal(secretLoop.map((e) => e.item), ['(censored due to no_log)', undefined]);
  assert.ok(!r.events.some((e) => JSON.stringify(e).includes('s3cr3t')), 'no secret in any event');
  assert.ok(!r.log.includes('s3cr3t'), 'no secret in the log');

  const big = results(r.events, 'big output')[0]!;
  const stdout = String(big.result?.stdout);
  assert.ok(stdout.startsWith('xxxx') && stdout.length < 70_000, `stdout of ${stdout.length} characters`);
  assert.match(stdout, /truncated 34464 characters/);

  const stats = r.events.at(-1);
  assert.ok(stats?.kind === 'stats');
  assert.equal(stats.custom, { _run: { release: '2.0' }, h1: { node: 'h1' } });
  assert.equal(stats.hosts.h2, { ok: 0, changed: 0, failures: 1, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 });
  assert.is(stats.hosts.h1?.ignored, 1);
  assert.equal(r.result.stats, stats);
});

test('an unreachable host: unreachable result with its reason, exit 4', async () => {
  const r = await run('ping.yml', 'unreachable.ini');
  assert.is(r.result.exitCode, 4);
  const ping = results(r.events, 'ping');
  assert.equal(ping.map((e) => [e.host, e.status]).sort(), [['dead', 'unreachable'], ['h1', 'ok']]);
  const dead = ping.find((e) => e.host === 'dead')!;
  // With pipelining Ansible says either "connect to host ... Connection refused" or, when ssh died
  // before it wrote the module, "Data could not be sent to remote host ... Broken pipe".
  assert.ok(/127\.0\.0\.1/.test(dead.message ?? '') && /ssh/.test(dead.message ?? ''), JSON.stringify(dead));
  assert.is(r.result.stats?.hosts.dead?.unreachable, 1);
});

/** Calls `then` once `file` exists and is not empty, watching its folder (no polling loop). */
function whenFile(file: string, then: () => void): { close(): void } {
  const check = (): boolean => {
    try {
      return fs.readFileSync(file, 'utf8').trim() !== '';
    } catch {
      return false;
    }
  };
  const watcher = fs.watch(path.dirname(file), () => {
    if (check()) {
      watcher.close();
      then();
    }
  });
  return { close: () => watcher.close() };
}

/** The process group of a running process, from /proc. */
function pgidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** Runs hang.yml (a task that writes its pid, then sleeps 600 s); `started` is called with that pid. */
async function runHung(runOpts: Partial<RunPlaybookOptions>, started?: (pid: number) => void): Promise<Run & { pid: number; pgid: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-hang-'));
  dirs.push(dir);
  const pidFile = path.join(dir, 'sleep.pid');
  let pgid = 0;
  const watch = whenFile(pidFile, () => {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    try {
      pgid = pgidOf(pid);
    } catch {
      /* already gone: pgid stays 0 and the test says so */
    }
    started?.(pid);
  });
  const r = await run('hang.yml', 'local.ini', { extraVars: { pidfile: pidFile } }, runOpts).finally(() => watch.close());
  assert.ok(fs.existsSync(pidFile), 'the hung task started before the run was stopped');
  return { ...r, pid: Number(fs.readFileSync(pidFile, 'utf8').trim()), pgid };
}

test('a timeout stops the whole process group: reason timeout, the hung command is gone', async () => {
  // long enough for Ansible to start the task on a loaded machine (the test checks it did)
  const r = await runHung({ timeoutMs: 10_000 });
  assert.is(r.result.reason, 'timeout');
  assert.is(r.result.exitCode, null);
  assert.is(r.result.signal, 'SIGTERM');
  assert.ok(r.pgid > 1);
  assert.ok(gone(r.pid), `sleep ${r.pid} still runs`);
  assert.equal(liveInGroup(r.pgid), [], 'no process left in the group');
  assert.match(r.log, /TASK \[hang forever\]/);
});

test('an AbortSignal stops the run: reason aborted, nothing left', async () => {
  const controller = new AbortController();
  const r = await runHung({ signal: controller.signal, timeoutMs: 60_000 }, () => controller.abort());
  assert.is(r.result.reason, 'aborted');
  assert.is(r.result.exitCode, null);
  assert.ok(gone(r.pid), `sleep ${r.pid} still runs`);
  assert.equal(liveInGroup(r.pgid), []);
  assert.is(r.result.stats, undefined, 'no recap from a killed run');
});

test('an already aborted signal runs nothing', async () => {
  const controller = new AbortController();
  controller.abort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-pre-'));
  dirs.push(dir);
  let output = '';
  const result = await runPlaybook({
    args: ['--version'],
    tmpDir: dir,
    stage: 's',
    attempt: 1,
    signal: controller.signal,
    onOutput: (t) => {
      output += t;
    },
  });
  assert.equal(result, { exitCode: null, reason: 'aborted', durationMs: 0, unfinished: [], warm: false });
  assert.is(output, '');
});

test("a missing playbook: Ansible's own error in the log, non-zero exit, no hang", async () => {
  // a drain limit of 10 minutes: only the EOF the runner causes itself ends this in time
  const r = await notHanging(run(path.join(FIXTURES, 'no-such-playbook.yml'), 'local.ini', {}, { killGraceMs: 600_000 }), 30_000);
  assert.is(r.result.reason, 'exit');
  assert.ok(r.result.exitCode !== null && r.result.exitCode !== 0, `exit ${r.result.exitCode}`);
  assert.match(r.log, /no-such-playbook\.yml.*could not be found/);
  assert.equal(r.events, []);
});

test('a command that cannot be run: exit 127 (the shell that gives it /dev/null as stdin says so), the reason in the log', async () => {
  const r = await run('pass.yml', 'local.ini', {}, { command: 'ansible-playbook-nowhere' });
  assert.is(r.result.exitCode, 127);
  assert.match(r.log, /ansible-playbook-nowhere: not found/);
  assert.equal(r.events, []);
});

test('a callback that throws stops the run and the error comes out', async () => {
  const boom = new Error('sink broke');
  try {
    await run('pass.yml', 'local.ini', {}, {
      onEvent: (e) => {
        if (e.kind === 'task_start') throw boom;
      },
    });
    assert.unreachable('no error');
  } catch (err) {
    assert.is(err, boom);
  }
});

test.run();
