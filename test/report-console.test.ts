import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createConsoleSink, formatDuration } from '../lib/report/console.js';
import { createRedactor } from '../lib/report/redact.js';
import { demoStream, Stream } from './report-stream.js';

const test = suite('report: console');

function run(tty: boolean, events = demoStream().events, color?: boolean): string {
  let out = '';
  const sink = createConsoleSink({ write: (s) => (out += s), tty, ...(color !== undefined ? { color } : {}) });
  for (const e of events) sink.handle(e);
  sink.close?.();
  return out;
}

test('without a TTY: plain lines, no ANSI, each prefixed by its stage; CRLF becomes LF', () => {
  const out = run(false);
  assert.not.match(out, '\x1b');
  assert.not.match(out, '\r');
  assert.match(out, '[prepare] PLAY [all] ***\n');
  assert.match(out, '[prepare] --- stage prepare (1/8): playbooks/prepare.yml ---\n');
  assert.match(out, '[flaky] --- stage flaky (3/8), attempt 2: playbooks/flaky.yml ---\n');
  assert.match(out, '[syntax] stage syntax failed after 1.0s (exit code 4): ansible-playbook exited with code 4');
  assert.match(out, '[restored] stage restored restored from checkpoint ck-abc123: inputs unchanged\n');
  assert.match(out, '[test] results from h1: /var/lib/demo/results/unit.xml\n');
  // every line before the summary carries a prefix
  const body = out.slice(0, out.indexOf('\nSummary'));
  for (const line of body.split('\n').filter(Boolean)) assert.match(line, /^\[[a-z]+\] /, line);
  assert.match(out, `[h1] Hostile bad <tag> & "quotes" 'apos' red nul bell ]]> twice`, 'control characters and colours dropped');
});

test('partial lines wait for their newline; stripped of colours; a CR redraw keeps what shows', () => {
  const s = new Stream().runStart('demo', ['one']);
  s.stageStart('one', 0)
    .output('one', 'TASK [x] \x1b[0;32mok')
    .output('one', ': [h1]\x1b[0m\r')
    .output('one', '\nprogress 10%\rprogress 100%\r\nlast line without newline');
  const out = run(false, s.events);
  assert.match(out, '[one] TASK [x] ok: [h1]\n[one] progress 100%\n[one] last line without newline\n');
  s.stageEnd('one', 0, 'passed');
  const out2 = run(false, s.events);
  assert.match(out2, '[one] last line without newline\n[one] stage one passed');
});

test('the summary: each stage with status and duration, totals, failed hosts and tasks', () => {
  const out = run(false);
  const summary = out.slice(out.indexOf('\nSummary'));
  assert.match(summary, /passed\s+prepare\s+2\.2s/);
  assert.match(summary, /restored\s+restored\s+0\.0s\s+from checkpoint ck-abc123/);
  assert.match(summary, /passed\s+flaky\s+2\.5s\s+2 attempts/, 'the time of both attempts');
  assert.match(summary, /failed\s+test\s+2\.3s\s+exit code 2; 3 hosts failed/);
  assert.match(summary, /error\s+timeout\s+1\.1s\s+the stage timed out after 30m/);
  assert.match(summary, /skipped\s+upgrade\s+0\.0s\s+an earlier stage failed: test/);
  assert.match(summary, /skipped\s+cleanup\s+-\s+not reached/);
  assert.match(summary, 'Stages: 2 passed, 1 restored, 2 failed, 1 error, 2 skipped');
  // As Ansible's recap counts: the ignored failure is ok + ignored; the flaky stage's last attempt only.
  assert.match(summary, 'Tasks: 6 ok, 2 changed, 1 unreachable, 2 failed, 1 skipped, 0 rescued, 1 ignored');
  assert.match(summary, 'Failed (3):\n  test: [h3] Run tests (unreachable): Failed to connect');
  assert.match(summary, 'Failed in earlier attempts (retried) (1):\n  flaky: [h1] Start service: service did not start (attempt 1)\n');
  assert.match(summary, '  test: [h2] Check ports: One or more items failed\n');
  assert.match(summary, 'Run failed (exit code 1): stage test failed');
});

test('on a TTY: output as is, coloured headers', () => {
  const out = run(true);
  assert.match(out, 'PLAY [all] ***\r\n', 'raw output, CRLF kept');
  assert.not.match(out, '[prepare] PLAY');
  assert.match(out, '\x1b[1m\x1b[36m━━ stage prepare (1/8): playbooks/prepare.yml ━━');
  const plain = run(true, demoStream().events, false);
  assert.match(plain, '━━ stage prepare (1/8): playbooks/prepare.yml ━━');
  assert.not.match(plain.replace(/PLAY \[all\] \*\*\*\r\n/, ''), '\x1b[1m');
});

test('secrets are redacted from what is written', () => {
  let out = '';
  const sink = createConsoleSink({ write: (s) => (out += s), tty: false, redact: createRedactor(['hunter2']) });
  const s = new Stream().runStart('demo', ['one']);
  s.stageStart('one', 0).output('one', 'password is hunter2\n').taskRun('one', 'x', [{ host: 'h', status: 'failed', message: 'bad hunter2' }]).runEnd('failed', 1);
  for (const e of s.events) sink.handle(e);
  assert.not.match(out, 'hunter2');
  assert.match(out, '[one] password is ********\n');
  assert.match(out, '[h] x: bad ********');
});

test('durations read well', () => {
  assert.is(formatDuration(1234), '1.2s');
  assert.is(formatDuration(125_000), '2m 05s');
  assert.is(formatDuration(3_723_000), '1h 02m 03s');
  assert.is(formatDuration(NaN), '-');
});

test('counted as the recap: rescued and ignored-unreachable are no failures, non-voting apart, the stats event is the total, a restore said once', () => {
  const s = new Stream().runStart('demo', ['a', 'nv', 'r']);
  const base = { play: 'p', action: 'command', duration: 0.1, ignored: false };
  s.stageStart('a', 0);
  s.events.push({ kind: 'host_result', time: 1, stage: 'a', attempt: 1, taskId: 't1', task: 'boom', host: 'h1', status: 'failed', ...base, rescued: true, counts: { rescued: 1 } });
  s.events.push({ kind: 'host_result', time: 2, stage: 'a', attempt: 1, taskId: 't2', task: 'ping', host: 'dead', status: 'unreachable', ...base, ignored: true });
  s.events.push({ kind: 'stats', time: 3, stage: 'a', attempt: 1, custom: {}, hosts: { h1: { ok: 1, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 1, ignored: 0 }, dead: { ok: 1, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 1 } } });
  s.stageEnd('a', 0, 'passed', { exitCode: 0 });
  s.events.push({ kind: 'stage_start', time: 4, stage: 'nv', attempt: 1, index: 1, voting: false });
  s.events.push({ kind: 'host_result', time: 5, stage: 'nv', attempt: 1, taskId: 't3', task: 'check', host: 'h1', status: 'failed', ...base, message: 'nope' });
  s.events.push({ kind: 'stage_end', time: 6, stage: 'nv', attempt: 1, index: 1, status: 'failed', exitCode: 2, voting: false });
  s.stageEnd('r', 2, 'restored', { checkpoint: 'ck-1', reason: 'restored from checkpoint ck-1 (after stage a)' });
  s.runEnd('passed', 0);
  const out = run(false, s.events);
  assert.match(out, 'Tasks: 2 ok, 0 changed, 0 unreachable, 0 failed, 0 skipped, 1 rescued, 1 ignored\n');
  assert.match(out, 'Tasks of non-voting stages (not counted): 0 ok, 0 changed, 0 unreachable, 1 failed, 0 skipped, 0 rescued, 0 ignored\n');
  assert.not.match(out, 'Failed (');
  assert.match(out, 'Failed in non-voting stages (not counted) (1):\n  nv: [h1] check: nope\n');
  assert.match(out, '[nv] stage nv failed (non-voting: does not fail the run)');
  assert.match(out, /failed\s+nv\s+\S+\s+non-voting; exit code 2/);
  assert.match(out, '[r] stage r restored: restored from checkpoint ck-1 (after stage a)\n', 'the checkpoint named once');
});

test.run();
