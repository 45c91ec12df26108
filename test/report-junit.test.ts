import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createJUnitSink } from '../lib/report/junit.js';
import { createRedactor } from '../lib/report/redact.js';
import { firstLine } from '../lib/report/text.js';
import { childElements, parseXml, textOf, type XmlElement } from '../lib/report/xml-parse.js';
import { xmllintErrorsSync } from './helpers/junit.js';
import { demoStream, Stream } from './report-stream.js';

const test = suite('report: junit');
let dir: string;
test.before.each(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'report-junit-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

/** Validates with the real xmllint against the Jenkins xUnit schema; fails the test with its output. */
function assertValid(file: string): void {
  const errors = xmllintErrorsSync(file);
  assert.is(errors, '', `xmllint rejected ${file}:\n${errors}`);
}
function load(file: string): XmlElement {
  const root = parseXml(readFileSync(file, 'utf8'));
  assert.is(root.name, 'testsuites');
  return root;
}
const suites = (root: XmlElement) => childElements(root, 'testsuite');
const cases = (s: XmlElement) => childElements(s, 'testcase');
function suiteNamed(root: XmlElement, name: string): XmlElement {
  const s = suites(root).find((x) => x.attrs.name === name);
  assert.ok(s, `no suite named ${name}; have ${suites(root).map((x) => x.attrs.name).join(' | ')}`);
  return s!;
}
function caseNamed(s: XmlElement, name: string): XmlElement {
  const c = cases(s).find((x) => x.attrs.name === name);
  assert.ok(c, `no case ${name} in ${s.attrs.name}; have ${cases(s).map((x) => x.attrs.name).join(' | ')}`);
  return c!;
}
const counts = (s: XmlElement) => [s.attrs.tests, s.attrs.failures, s.attrs.errors, s.attrs.skipped].map(Number);
const child = (c: XmlElement, name: string) => childElements(c, name)[0];

test('a whole run: valid against junit-10.xsd, one suite per stage attempt, the right cases', async () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, scenario: 'demo' });
  for (const e of demoStream().events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const root = load(file);
  assert.is(root.attrs.skipped, undefined, 'the schema forbids skipped on <testsuites>');
  assert.is(root.attrs.name, 'demo');
  assert.equal(
    suites(root).map((s) => s.attrs.name),
    ['prepare', 'restored', 'flaky', 'flaky (attempt 2)', 'test', '[h1] unit', '[h1] lint', '[h2] smoke', '[h2] /var/lib/demo/results/broken.xml', 'timeout', 'syntax', 'upgrade', 'cleanup'],
  );
  const sum = (k: string) => suites(root).reduce((n, s) => n + Number(s.attrs[k]), 0);
  assert.equal([root.attrs.tests, root.attrs.failures, root.attrs.errors].map(Number), [sum('tests'), sum('failures'), sum('errors')]);

  // a passing stage: 5 cases, the skipped task skipped, the ignored failure passing with a note
  const prepare = suiteNamed(root, 'prepare');
  assert.equal(counts(prepare), [5, 0, 0, 1]);
  for (const c of cases(prepare)) assert.is(c.attrs.classname, 'demo.prepare');
  assert.is(child(caseNamed(prepare, '[h1] Optional step'), 'skipped')!.attrs.message, 'Conditional result was False');
  const probe = caseNamed(prepare, '[h2] Probe');
  assert.is(child(probe, 'failure'), undefined);
  assert.match(textOf(child(probe, 'system-out')!), 'ignored failure: probe failed, ignoring');
  const users = caseNamed(prepare, '[h1] Create users');
  assert.is(child(users, 'failure'), undefined);
  assert.is(users.attrs.time, '0.75', 'loop items fold into one case whose time is their sum');
  assert.is(caseNamed(prepare, '[h1] Install packages').attrs.time, '1.5');
  assert.ok(/^\d+(\.\d+)?$/.test(prepare.attrs.time!), prepare.attrs.time);

  // restored: one passing case naming the checkpoint
  const restored = suiteNamed(root, 'restored');
  assert.equal(counts(restored), [1, 0, 0, 0]);
  assert.match(textOf(child(caseNamed(restored, '[harness] restored from checkpoint ck-abc123'), 'system-out')!), 'ck-abc123');

  // retries: both attempts reported; the first attempt's failure is a flakyFailure (shown, not counted)
  const flaky = suiteNamed(root, 'flaky');
  assert.equal(counts(flaky), [1, 0, 0, 0]);
  const start = caseNamed(flaky, '[h1] Start service');
  assert.is(child(start, 'failure'), undefined);
  assert.is(child(start, 'flakyFailure')!.attrs.message, 'service did not start');
  assert.match(textOf(child(start, 'system-out')!), 'the stage was retried and passed');
  assert.equal(counts(suiteNamed(root, 'flaky (attempt 2)')), [1, 0, 0, 0]);

  // failures, unreachable, loop items, hostile text
  const t = suiteNamed(root, 'test');
  assert.equal(counts(t), [4, 3, 0, 0]);
  assert.is(child(caseNamed(t, '[h1] Run tests'), 'failure'), undefined);
  const unreachable = child(caseNamed(t, '[h3] Run tests'), 'failure')!;
  assert.is(unreachable.attrs.type, 'unreachable');
  assert.match(unreachable.attrs.message!, 'Connection refused');
  const ports = child(caseNamed(t, '[h2] Check ports'), 'failure')!;
  assert.is(ports.attrs.type, 'failed');
  assert.match(ports.attrs.message!, /2 loop item\(s\) failed: 80: port 80 closed; 443: port 443 closed/);
  assert.match(textOf(ports), 'One or more items failed');
  const hostile = cases(t).find((c) => c.attrs.name!.startsWith('[h1] Hostile'))!;
  const clean = 'bad <tag> & "quotes" \'apos\' red nul bell ]]> twice ]]> ünïcødé ✓ 🚀  end';
  assert.is(hostile.attrs.name, `[h1] Hostile ${clean}`);
  const f = child(hostile, 'failure')!;
  assert.is(f.attrs.type, 'failed');
  assert.is(f.attrs.message, `boom: ${clean}`);
  assert.is(textOf(f), `boom: ${clean}\nsecond line`, 'the whole message, two CDATA ends and all, survives');

  // merged results files, both root forms, only schema attributes kept
  const unit = suiteNamed(root, '[h1] unit');
  assert.equal(counts(unit), [2, 1, 0, 0]);
  const bad = caseNamed(unit, 'test_bad & ugly');
  assert.is(bad.attrs.classname, 'tests.test_a');
  assert.is(child(bad, 'failure')!.attrs.type, 'AssertionError');
  assert.is(textOf(child(bad, 'system-out')!), 'captured <stdout>');
  assert.is(caseNamed(unit, 'test_ok').attrs.file, undefined, 'pytest attributes the schema forbids are dropped');
  assert.is(caseNamed(suiteNamed(root, '[h1] lint'), 'flake8').attrs.time, '1234.5');
  const smoke = suiteNamed(root, '[h2] smoke');
  assert.equal(counts(smoke), [2, 0, 1, 0]);
  assert.is(caseNamed(smoke, 'db up').attrs.time, '0', 'an absurd time (1e30) would break the schema: 0');
  const broken = suiteNamed(root, '[h2] /var/lib/demo/results/broken.xml');
  const err = child(cases(broken)[0]!, 'error')!;
  assert.is(err.attrs.type, 'results');
  assert.match(err.attrs.message!, /could not read the JUnit results \/var\/lib\/demo\/results\/broken.xml from h2: line 1, column \d+: closing tag <\/testsuite> does not match <testcase>/);

  // a timeout as an error, a failure without a failed task, skipped stages
  const timeout = child(caseNamed(suiteNamed(root, 'timeout'), '[harness] stage error'), 'error')!;
  assert.is(timeout.attrs.type, 'timeout');
  assert.is(timeout.attrs.message, 'the stage timed out after 30m');
  const syntax = suiteNamed(root, 'syntax');
  assert.equal(counts(syntax), [1, 1, 0, 0]);
  const syntaxCase = caseNamed(syntax, '[harness] stage failed');
  const sf = child(syntaxCase, 'failure')!;
  assert.is(sf.attrs.type, 'stage');
  assert.is(sf.attrs.message, 'ansible-playbook exited with code 4: ERROR! Syntax Error while loading YAML');
  assert.match(textOf(child(syntaxCase, 'system-out')!), 'ERROR! We were unable to read either as JSON nor YAML', "the stage's last output explains it");
  const upgrade = suiteNamed(root, 'upgrade');
  assert.equal(counts(upgrade), [1, 0, 0, 1]);
  assert.is(child(caseNamed(upgrade, '[harness] not run: an earlier stage failed: test'), 'skipped')!.attrs.message, 'an earlier stage failed: test');
  const cleanup = suiteNamed(root, 'cleanup');
  assert.equal(counts(cleanup), [1, 0, 0, 1]);
  assert.match(cases(cleanup)[0]!.attrs.name!, 'not run: the run ended (failed: stage test failed) before this stage');
  assert.equal(readdirSync(dir), ['junit.xml'], 'no temp files left behind');
});

test('an aborted run (no run_end, close never called) leaves a valid file at each stage end', () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, scenario: 'demo' });
  const s = new Stream().runStart('demo', ['one', 'two']);
  for (const e of s.events) sink.handle(e);
  assertValid(file);
  assert.equal(suites(load(file)), []);
  const s2 = new Stream();
  s2.stageStart('one', 0).taskRun('one', 'A', [{ host: 'h1', status: 'failed', message: 'nope' }]).stageEnd('one', 0, 'failed', { exitCode: 2 });
  s2.stageStart('two', 1).taskRun('two', 'B', [{ host: 'h1', status: 'ok' }]);
  for (const e of s2.events) sink.handle(e);
  // the process "dies" here: no run_end, no close
  assertValid(file);
  const root = load(file);
  assert.equal(suites(root).map((x) => x.attrs.name), ['one'], 'the running stage waits for the throttled rewrite');
  assert.equal(counts(suiteNamed(root, 'one')), [1, 1, 0, 0]);
});

test('while a stage runs the file is rewritten (throttle set to none) and stays valid; close ends the open stage', async () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, intervalMs: 0, costFactor: 0 });
  const s = new Stream().runStart('live', ['one', 'two']);
  s.stageStart('one', 0).taskRun('one', 'A', [{ host: 'h1', status: 'ok' }]);
  for (const e of s.events) sink.handle(e);
  assertValid(file);
  let root = load(file);
  assert.is(root.attrs.name, 'live', 'the scenario comes from run_start when not given');
  assert.equal(counts(suiteNamed(root, 'one')), [1, 0, 0, 0]);
  assert.is(caseNamed(suiteNamed(root, 'one'), '[h1] A').attrs.classname, 'live.one');
  await sink.close!();
  assertValid(file);
  root = load(file);
  const err = child(caseNamed(suiteNamed(root, 'one'), '[harness] stage error'), 'error')!;
  assert.match(err.attrs.message!, 'the run ended without a run_end event before the stage finished');
  assert.equal(counts(suiteNamed(root, 'two')), [1, 0, 0, 1]);
  sink.handle(new Stream().runEnd('passed', 0).events[0]!); // after close: ignored, no throw
});

test('secrets are redacted from every text, including merged results and names', async () => {
  const file = path.join(dir, 'junit.xml');
  const redact = createRedactor(['hunter2', 'p&ss']);
  const sink = createJUnitSink({ file, scenario: 'demo', redact });
  const s = new Stream().runStart('demo', ['one']);
  s.stageStart('one', 0)
    .taskRun('one', 'Login with hunter2', [{ host: 'h1', status: 'failed', message: 'denied for hunter2 and p&ss' }])
    .resultsFile('one', 'h1', 'r.xml', '<testsuite name="s"><testcase name="t hunter2"><failure message="p&amp;ss leaked">hunter2</failure></testcase></testsuite>')
    .stageEnd('one', 0, 'failed', { reason: 'hunter2 failed' })
    .runEnd('failed', 1);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const xml = readFileSync(file, 'utf8');
  assert.not.match(xml, 'hunter2');
  assert.not.match(xml, 'p&amp;ss');
  assert.match(xml, 'denied for ******** and ********');
  assert.match(xml, '[h1] Login with ********');
});

test('a big stage (cases built in chunks) and results that arrive after their stage ended', async () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, scenario: 'big' });
  const s = new Stream().runStart('big', ['one', 'two']);
  s.stageStart('one', 0);
  for (let i = 0; i < 2345; i++) {
    const status = i % 300 === 7 ? 'failed' : i % 500 === 9 ? 'skipped' : 'ok';
    s.taskRun('one', `task ${i}`, [{ host: `h${i % 3}`, status, message: `m${i}` }]);
  }
  s.stageEnd('one', 0, 'failed', { exitCode: 2 });
  s.resultsFile('one', 'h1', 'late.xml', '<testsuite name="late"><testcase name="t"/></testsuite>');
  s.stageStart('two', 1).stageEnd('two', 1, 'passed').runEnd('failed', 1);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const root = load(file);
  assert.equal(suites(root).map((x) => x.attrs.name), ['one', '[h1] late', 'two'], 'late results of a sealed stage go after what was there when they came');
  const one = suiteNamed(root, 'one');
  assert.equal(counts(one), [2345, 8, 0, 5]);
  assert.is(new Set(cases(one).map((c) => c.attrs.name)).size, 2345);
  assert.equal(cases(one).map((c) => c.attrs.name).slice(998, 1002), ['[h2] task 998', '[h0] task 999', '[h1] task 1000', '[h2] task 1001']);
  assert.equal([root.attrs.tests, root.attrs.failures].map(Number), [2345 + 1, 8], 'stage two ran no task: an empty suite');
});

test('finished suites bigger than the copy buffer: every rewrite whole and valid, no file left beside the report', async () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, scenario: 'spill' });
  const stages = ['one', 'two', 'three'];
  const hosts = Array.from({ length: 50 }, (_, i) => `host-${i}`);
  const s = new Stream().runStart('spill', stages);
  for (const e of s.events) sink.handle(e);
  for (const [i, stage] of stages.entries()) {
    const st = new Stream();
    st.time = s.time + i * 1e6;
    st.stageStart(stage, i);
    for (let t = 0; t < 100; t++) st.taskRun(stage, `a fairly long task name to make the suite big, number ${t} & <co> "quoted"`, hosts.map((host) => ({ host, status: t % 10 === 3 ? 'skipped' : 'ok', message: 'cond & <false>' })));
    st.stageEnd(stage, i, 'passed');
    for (const e of st.events) sink.handle(e);
    // as if the process died here: the file on disk is the rewrite at this stage end
    assertValid(file);
    const root = load(file);
    assert.equal(suites(root).map((x) => x.attrs.name), stages.slice(0, i + 1));
    assert.is(Number(root.attrs.tests), 5000 * (i + 1));
  }
  assert.ok(readFileSync(file).length > 2 * 2 ** 20, 'the finished suites span several copy buffers');
  await sink.close!();
  assertValid(file);
  const root = load(file);
  const c = caseNamed(suiteNamed(root, 'three'), '[host-7] a fairly long task name to make the suite big, number 13 & <co> "quoted"');
  assert.is(child(c, 'skipped')!.attrs.message, 'cond & <false>');
  assert.equal(readdirSync(dir), ['junit.xml'], 'no spill or temp file left');
});

test('plain cases written directly: names with every character that needs escaping read back as written', async () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, scenario: 's&<"' });
  const names = ['a&b', 'x<y>z', 'q"uo\'te', 'tab\there', 'line\nbreak', 'ünïcødé 😀', ']]>'];
  const s = new Stream().runStart('s', ['one']).stageStart('one', 0);
  for (const n of names) s.taskRun('one', n, [{ host: 'h', status: 'ok' }, { host: 'k', status: 'skipped', message: n }]);
  s.stageEnd('one', 0, 'passed').runEnd('passed', 0);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const one = suiteNamed(load(file), 'one');
  for (const n of names) {
    assert.is(caseNamed(one, `[h] ${n}`).attrs.classname, 's&<".one');
    assert.is(child(caseNamed(one, `[k] ${n}`), 'skipped')!.attrs.message, firstLine(n));
  }
});

test('a results file that is XML but not JUnit becomes an error case', async () => {
  const file = path.join(dir, 'junit.xml');
  const sink = createJUnitSink({ file, scenario: 'demo' });
  const s = new Stream().runStart('demo', ['one']);
  s.stageStart('one', 0).resultsFile('one', 'h1', 'r.xml', '<html><body/></html>').stageEnd('one', 0, 'passed').runEnd('passed', 0);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const err = child(cases(suiteNamed(load(file), '[h1] r.xml'))[0]!, 'error')!;
  assert.match(err.attrs.message!, 'the root element is <html>, not <testsuites> or <testsuite>');
});

test("the repository's schema has teeth: what the Jenkins xUnit schema rejects, it rejects", () => {
  const write = (name: string, xml: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, xml);
    return file;
  };
  const ok = '<testsuites name="s" time="1,234.5" tests="1"><testsuite name="a" tests="1" failures="0" errors="0" skipped="0" time="0.5"><properties><property name="k" value="v"/></properties><testcase name="t" classname="c" time="whatever"><skipped message="m"/><system-out>o</system-out></testcase></testsuite></testsuites>';
  assert.is(xmllintErrorsSync(write('ok.xml', ok)), '');
  const bad: [string, string][] = [
    ['skipped on <testsuites>', '<testsuites skipped="0"/>'],
    ['a suite without tests', '<testsuites><testsuite name="a" failures="0" errors="0"/></testsuites>'],
    ['a suite time with an exponent', '<testsuites><testsuite name="a" tests="0" failures="0" errors="0" time="1e30"/></testsuites>'],
    ['a case without a name', '<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase classname="c"/></testsuite></testsuites>'],
    ['an attribute the schema does not know', '<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="t" file="x.py"/></testsuite></testsuites>'],
    ['an unknown element in a case', '<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="t"><note/></testcase></testsuite></testsuites>'],
    ['a rerunFailure without type', '<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="t"><rerunFailure/></testcase></testsuite></testsuites>'],
    ['a property without value', '<testsuites><testsuite name="a" tests="0" failures="0" errors="0"><properties><property name="k"/></properties></testsuite></testsuites>'],
  ];
  for (const [what, xml] of bad) assert.ok(xmllintErrorsSync(write('bad.xml', xml)), `the schema accepts ${what}`);
});

test('counted as Ansible counts: rescued and ignored-unreachable pass, non-voting marked, a task run twice is two cases, a hung task named, a retry that failed again keeps rerunFailure', async () => {
  const file = path.join(dir, 'counting.xml');
  const sink = createJUnitSink({ file, scenario: 'demo' });
  const s = new Stream().runStart('demo', ['a', 'nv', 'slow', 'again']);
  const base = { play: 'p', action: 'command', duration: 0.1 };
  s.stageStart('a', 0);
  const result = (stage: string, attempt: number, taskId: string, task: string, host: string, status: 'ok' | 'failed' | 'unreachable', extra: object = {}) =>
    s.events.push({ kind: 'host_result', time: (s.time += 10), stage, attempt, taskId, task, host, status, ignored: false, ...base, ...extra });
  result('a', 1, 't1', 'boom', 'h1', 'failed', { rescued: true, message: 'boom' });
  result('a', 1, 't2', 'ping', 'dead', 'unreachable', { ignored: true, message: 'Connection refused' });
  result('a', 1, 'h', 'restart', 'h1', 'ok');
  result('a', 1, 'h', 'restart', 'h1', 'ok');
  s.stageEnd('a', 0, 'passed', { exitCode: 0 });
  s.events.push({ kind: 'stage_start', time: (s.time += 10), stage: 'nv', attempt: 1, index: 1, voting: false });
  result('nv', 1, 't3', 'check', 'h1', 'failed', { message: 'nope' });
  s.events.push({ kind: 'stage_end', time: (s.time += 10), stage: 'nv', attempt: 1, index: 1, status: 'failed', exitCode: 2, voting: false });
  s.stageStart('slow', 2);
  s.events.push({ kind: 'stage_end', time: (s.time += 10), stage: 'slow', attempt: 1, index: 2, status: 'error', reason: 'timed out after 1.0s', hung: [{ task: 'sleep forever', hosts: ['h1', 'h2'] }] });
  for (const attempt of [1, 2]) {
    s.stageStart('again', 3, attempt);
    result('again', attempt, 't4', 'flap', 'h1', 'failed', { message: `no ${attempt}` });
    s.events.push({ kind: 'stage_end', time: (s.time += 10), stage: 'again', attempt, index: 3, status: 'failed', exitCode: 2, ...(attempt === 1 ? { retrying: true } : {}) });
  }
  s.runEnd('failed', 1);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const root = load(file);
  const a = suiteNamed(root, 'a');
  assert.equal(counts(a), [4, 0, 0, 0]);
  assert.match(textOf(child(caseNamed(a, '[h1] boom'), 'system-out')!), 'rescued failure: boom');
  assert.match(textOf(child(caseNamed(a, '[dead] ping'), 'system-out')!), 'ignored failure: unreachable: Connection refused');
  caseNamed(a, '[h1] restart');
  caseNamed(a, '[h1] restart (run 2)');
  const nv = suiteNamed(root, 'nv');
  const f = child(caseNamed(nv, '[h1] check'), 'failure')!;
  assert.is(f.attrs.type, 'failed (non-voting)');
  assert.is(f.attrs.message, '[non-voting] nope');
  assert.ok(childElements(childElements(nv, 'properties')[0]!, 'property').some((p) => p.attrs.name === 'voting' && p.attrs.value === 'false'));
  const slow = suiteNamed(root, 'slow');
  assert.equal(cases(slow).map((c) => c.attrs.name), ['[h1] sleep forever', '[h2] sleep forever'], 'the hung task, not a [harness] case');
  assert.is(child(caseNamed(slow, '[h2] sleep forever'), 'error')!.attrs.type, 'timeout');
  const first = suiteNamed(root, 'again');
  assert.equal(counts(first), [1, 0, 0, 0]);
  assert.is(child(caseNamed(first, '[h1] flap'), 'rerunFailure')!.attrs.message, 'no 1');
  assert.equal(counts(suiteNamed(root, 'again (attempt 2)')), [1, 1, 0, 0]);
  assert.is(root.attrs.failures, '2', 'the non-voting failure and the last attempt of again');
});

test('parallel labs: a stage retried while another stage starts and ends keeps its first attempt as a flakyFailure', async () => {
  const file = path.join(dir, 'interleaved.xml');
  const sink = createJUnitSink({ file, scenario: 'tree' });
  const s = new Stream().runStart('tree', ['a', 'b']);
  const base = { play: 'p', action: 'command', duration: 0.1, ignored: false };
  s.stageStart('a', 0);
  s.events.push({ kind: 'host_result', time: (s.time += 10), stage: 'a', attempt: 1, taskId: 't1', task: 'flap', host: 'h1', status: 'failed', message: 'no', ...base });
  s.events.push({ kind: 'stage_end', time: (s.time += 10), stage: 'a', attempt: 1, index: 0, status: 'failed', exitCode: 2, retrying: true });
  // b, on another lab, starts and ends before a's retry starts
  s.stageStart('b', 1);
  s.events.push({ kind: 'host_result', time: (s.time += 10), stage: 'b', attempt: 1, taskId: 't2', task: 'ok', host: 'h2', status: 'ok', ...base });
  s.stageEnd('b', 1, 'passed', { exitCode: 0 });
  s.stageStart('a', 0, 2);
  s.events.push({ kind: 'host_result', time: (s.time += 10), stage: 'a', attempt: 2, taskId: 't1', task: 'flap', host: 'h1', status: 'ok', ...base });
  s.stageEnd('a', 0, 'passed', { exitCode: 0 });
  s.runEnd('passed', 0);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const root = load(file);
  const first = suiteNamed(root, 'a');
  assert.equal(counts(first), [1, 0, 0, 0], 'the first attempt counts no failure');
  assert.is(child(caseNamed(first, '[h1] flap'), 'flakyFailure')!.attrs.message, 'no');
  assert.equal(counts(suiteNamed(root, 'a (attempt 2)')), [1, 0, 0, 0]);
  assert.is(root.attrs.failures, '0');
});

test('an error Ansible stops on while loading an include fails that include, not a [harness] case', async () => {
  const file = path.join(dir, 'include.xml');
  const sink = createJUnitSink({ file, scenario: 'demo' });
  const s = new Stream().runStart('demo', ['inc']);
  s.stageStart('inc', 0);
  s.events.push({ kind: 'task_start', time: (s.time += 10), stage: 'inc', attempt: 1, play: 'p', task: 'load role', taskId: 'i1', action: 'include_role', handler: false });
  for (const host of ['h1', 'h2'])
    s.events.push({ kind: 'host_result', time: (s.time += 10), stage: 'inc', attempt: 1, play: 'p', task: 'load role', taskId: 'i1', action: 'include_role', host, status: 'ok', ignored: false, duration: 0 });
  s.stageEnd('inc', 0, 'failed', { exitCode: 2, reason: "ansible-playbook exited 2 (ERROR! the role 'nope' was not found in /x/roles)" });
  s.runEnd('failed', 1);
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  assertValid(file);
  const inc = suiteNamed(load(file), 'inc');
  assert.equal(cases(inc).map((c) => c.attrs.name), ['[h1] load role', '[h2] load role']);
  const f = child(caseNamed(inc, '[h2] load role'), 'failure')!;
  assert.is(f.attrs.type, 'include');
  assert.is(f.attrs.message, "ERROR! the role 'nope' was not found in /x/roles");
});

test.run();
