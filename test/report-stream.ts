// A builder of synthetic event streams for the report tests (the sinks see only events, so a
// stream built here is exactly what the runner would hand them).
import type { HostStatus, RunEvent, StageStatus } from '../lib/model/events.js';

/** Builds a stream of events with a clock that moves 100 ms per event unless told otherwise. */
export class Stream {
  readonly events: RunEvent[] = [];
  time = Date.UTC(2024, 4, 1, 12, 0, 0);
  private task = 0;
  private readonly attempts = new Map<string, number>();

  private at(ms = 100): number {
    this.time += ms;
    return this.time;
  }
  private attemptOf(stage: string): number {
    return this.attempts.get(stage) ?? 1;
  }

  runStart(scenario: string, stages: string[], runId = 'run-1'): this {
    this.events.push({ kind: 'run_start', time: this.at(), runId, scenario, runDir: `/tmp/${runId}`, stages });
    return this;
  }
  stageStart(stage: string, index: number, attempt = 1): this {
    this.attempts.set(stage, attempt);
    this.events.push({ kind: 'stage_start', time: this.at(), stage, attempt, index, playbook: `playbooks/${stage}.yml` });
    this.events.push({ kind: 'playbook_start', time: this.at(1), stage, attempt, playbook: `playbooks/${stage}.yml` });
    return this;
  }
  output(stage: string, text: string): this {
    this.events.push({ kind: 'stage_output', time: this.at(1), stage, attempt: this.attemptOf(stage), text });
    return this;
  }
  /** One task on several hosts: `results` maps host → status (and optional message, item, ignored). */
  taskRun(
    stage: string,
    task: string,
    results: { host: string; status: HostStatus; message?: string; item?: string; ignored?: boolean; duration?: number }[],
  ): this {
    const attempt = this.attemptOf(stage);
    const taskId = `t-${++this.task}`;
    this.events.push({ kind: 'task_start', time: this.at(), stage, attempt, play: 'all', task, taskId, action: 'shell', handler: false });
    for (const r of results) {
      this.events.push({
        kind: 'host_result',
        time: this.at(),
        stage,
        attempt,
        play: 'all',
        task,
        taskId,
        action: 'shell',
        host: r.host,
        status: r.status,
        ignored: r.ignored ?? false,
        duration: r.duration ?? 1.5,
        ...(r.message !== undefined ? { message: r.message } : {}),
        ...(r.item !== undefined ? { item: r.item } : {}),
      });
    }
    return this;
  }
  resultsFile(stage: string, host: string, path: string, xml: string): this {
    this.events.push({ kind: 'results_file', time: this.at(), stage, attempt: this.attemptOf(stage), host, path, xml });
    return this;
  }
  stats(stage: string, custom: Record<string, string | number>): this {
    this.events.push({ kind: 'stats', time: this.at(), stage, attempt: this.attemptOf(stage), hosts: {}, custom });
    return this;
  }
  stageEnd(stage: string, index: number, status: StageStatus, extra: { reason?: string; exitCode?: number; checkpoint?: string; ms?: number } = {}): this {
    const { ms, ...rest } = extra;
    this.events.push({ kind: 'stage_end', time: this.at(ms ?? 1000), stage, attempt: this.attemptOf(stage), index, status, ...rest });
    return this;
  }
  runEnd(status: 'passed' | 'failed' | 'interrupted' | 'error', exitCode: number, reason?: string): this {
    this.events.push({ kind: 'run_end', time: this.at(), status, exitCode, ...(reason ? { reason } : {}) });
    return this;
  }
}

/** Text every XML writer gets wrong somewhere: markup, quotes, ANSI, NUL, CDATA ends, unicode. */
export const HOSTILE = `bad <tag> & "quotes" 'apos' \x1b[31mred\x1b[0m nul\x00 bell\x07 ]]> twice ]]> ünïcødé ✓ 🚀 \ud800 end`;

/** The big demo stream: every case the JUnit sink must get right. */
export function demoStream(): Stream {
  const s = new Stream();
  const stages = ['prepare', 'restored', 'flaky', 'test', 'timeout', 'syntax', 'upgrade', 'cleanup'];
  s.runStart('demo', stages);
  s.events.push({ kind: 'lab_ready', time: s.time, provider: 'local', hosts: ['h1', 'h2', 'h3'] });
  // 1. a passing stage with a skipped task, an ignored failure and loop items
  s.stageStart('prepare', 0)
    .output('prepare', 'PLAY [all] ***\r\n')
    .taskRun('prepare', 'Install packages', [
      { host: 'h1', status: 'ok' },
      { host: 'h2', status: 'changed' },
    ])
    .taskRun('prepare', 'Optional step', [{ host: 'h1', status: 'skipped', message: 'Conditional result was False' }])
    .taskRun('prepare', 'Probe', [{ host: 'h2', status: 'failed', ignored: true, message: 'probe failed, ignoring' }])
    .taskRun('prepare', 'Create users', [
      { host: 'h1', status: 'ok', item: 'alice', duration: 0.5 },
      { host: 'h1', status: 'changed', item: 'bob', duration: 0.25 },
      { host: 'h1', status: 'changed', duration: 0 },
    ])
    .stats('prepare', { db_port: 5432 })
    .stageEnd('prepare', 0, 'passed', { exitCode: 0 });
  // 2. restored from a checkpoint
  s.stageEnd('restored', 1, 'restored', { checkpoint: 'ck-abc123', reason: 'inputs unchanged' });
  // 3. two attempts: the first fails, the retry passes
  s.stageStart('flaky', 2, 1)
    .taskRun('flaky', 'Start service', [{ host: 'h1', status: 'failed', message: 'service did not start' }])
    .stageEnd('flaky', 2, 'failed', { exitCode: 2, reason: 'a task failed' });
  s.stageStart('flaky', 2, 2).taskRun('flaky', 'Start service', [{ host: 'h1', status: 'ok' }]).stageEnd('flaky', 2, 'passed', { exitCode: 0 });
  // 4. failures, unreachable, loop with failed items, hostile text, merged results files
  s.stageStart('test', 3)
    .taskRun('test', 'Run tests', [
      { host: 'h1', status: 'ok' },
      { host: 'h3', status: 'unreachable', message: 'Failed to connect to the host via ssh: Connection refused' },
    ])
    .taskRun('test', 'Check ports', [
      { host: 'h2', status: 'ok', item: '22' },
      { host: 'h2', status: 'failed', item: '80', message: 'port 80 closed' },
      { host: 'h2', status: 'failed', item: '443', message: 'port 443 closed' },
      { host: 'h2', status: 'failed', message: 'One or more items failed' },
    ])
    .taskRun('test', `Hostile ${HOSTILE}`, [{ host: 'h1', status: 'failed', message: `boom: ${HOSTILE}\nsecond line` }])
    .resultsFile(
      'test',
      'h1',
      '/var/lib/demo/results/unit.xml',
      `<?xml version="1.0"?>
<!-- produced by pytest -->
<testsuites name="pytest" tests="3">
  <testsuite name="unit" tests="2" failures="1" errors="0" time="0.5" timestamp="2024-05-01T12:00:00" hostname="h1">
    <properties><property name="python" value="3.11"/></properties>
    <testcase classname="tests.test_a" name="test_ok" time="0.1" file="tests/test_a.py" line="3"/>
    <testcase classname="tests.test_a" name="test_bad &amp; ugly" time="0.2">
      <failure message="assert 1 == 2" type="AssertionError"><![CDATA[def test_bad(): assert 1 == 2]]></failure>
      <system-out>captured &lt;stdout&gt;</system-out>
    </testcase>
  </testsuite>
  <testsuite name="lint" tests="1" failures="0" errors="0" skipped="1">
    <testcase classname="lint" name="flake8" time="1,234.5"><skipped message="not installed"/></testcase>
  </testsuite>
</testsuites>`,
    )
    .resultsFile(
      'test',
      'h2',
      '/var/lib/demo/results/smoke.xml',
      `<testsuite name="smoke" tests="2" failures="0" errors="1"><testcase name="api up" time="0.3"/><testcase name="db up" time="1e30"><error message="timeout" type="Timeout">waited 30s</error></testcase></testsuite>`,
    )
    .resultsFile('test', 'h2', '/var/lib/demo/results/broken.xml', '<testsuite name="x"><testcase name="y"></testsuite>')
    .stageEnd('test', 3, 'failed', { exitCode: 2, reason: '3 hosts failed' });
  // 5. a timeout, 6. a failure without a failed task, 7. a stage skipped after a failure
  s.stageStart('timeout', 4).taskRun('timeout', 'Wait forever', []).stageEnd('timeout', 4, 'error', { reason: 'the stage timed out after 30m' });
  s.stageStart('syntax', 5)
    .output('syntax', 'ERROR! We were unable to read either as JSON nor YAML\n')
    .stageEnd('syntax', 5, 'failed', { exitCode: 4, reason: 'ansible-playbook exited with code 4: ERROR! Syntax Error while loading YAML' });
  s.stageEnd('upgrade', 6, 'skipped', { reason: 'an earlier stage failed: test', ms: 0 });
  // 8. `cleanup` is planned but never reached: the sink reports it at run end
  s.runEnd('failed', 1, 'stage test failed');
  return s;
}
