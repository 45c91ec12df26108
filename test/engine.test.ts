import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { tempDir } from './helpers/cli.js';
import { junitCases, xmllintErrors } from './helpers/junit.js';
import { allFiles, fileContains, pidAlive, writeScenario } from './helpers/scenario.js';

const test = suite('engine');
let t: { dir: string; remove: () => Promise<void> };
test.before.each(async () => {
  t = await tempDir('harness-engine-');
});
test.after.each(async () => {
  await t.remove();
});

const STATIC = (inventory = 'local.ini'): string => `lab: { provider: static, inventory: @F/${inventory} }\n`;

async function run(yaml: string, opts: Parameters<typeof runScenario>[1] = {}) {
  const file = await writeScenario(t.dir, yaml);
  const scenario = await loadScenario(file);
  let console = '';
  // A cache folder of its own (checkpoints, the Ansible lookup), never the user's ~/.cache.
  const env = { ...(opts.env ?? process.env), XDG_CACHE_HOME: path.join(t.dir, 'cache') };
  const result = await runScenario(scenario, { out: path.join(t.dir, 'run'), write: (s) => (console += s), killGraceMs: 1000, ...opts, env });
  const journal = await readJournal(path.join(result.runDir, 'journal.json'));
  return { result, journal, console, junit: path.join(result.runDir, 'junit.xml') };
}

test('a passing run: set_stats data reaches a later stage, secrets are never written', async () => {
  const token = 'canary-7f3a9e1c-token';
  const r = await run(
    `name: pass\n${STATIC()}vars: { release: "1.0" }\nsecrets: { secret_token: { env: ENGINE_TEST_TOKEN } }\nstages:\n` +
      `  - { name: hello, playbook: @F/ok.yml }\n  - { name: publish, playbook: @F/publish.yml, hosts: [db] }\n  - { name: consume, playbook: @F/consume.yml, hosts: [web] }\n`,
    // -vvv: Ansible prints every var it templates; the secret must still never show.
    { env: { ...process.env, ENGINE_TEST_TOKEN: token }, verbosity: 3 },
  );
  assert.is(r.result.exitCode, 0, r.console);
  assert.equal(r.journal.stages.map((s) => s.status), ['passed', 'passed', 'passed']);
  assert.is(r.journal.status, 'passed');
  assert.is(await xmllintErrors(r.junit), '');
  const cases = await junitCases(r.junit);
  assert.ok(cases.some((c) => c.suite === 'hello' && c.name === '[web-1] Say hello' && c.outcome === 'passed'), JSON.stringify(cases));
  assert.ok(cases.some((c) => c.suite === 'consume' && c.name === '[web-0] Check the endpoint arrived with its type' && c.outcome === 'passed'));
  // The secret reached Ansible (the assert compared it) but no file of the run holds it.
  for (const f of await allFiles(r.result.runDir)) assert.not.ok(await fileContains(path.join(r.result.runDir, f), token), `secret in ${f}`);
  assert.not.ok(r.console.includes(token), 'secret on the console');
  assert.ok(r.console.includes('token is ********'), 'redacted in the output');
  assert.ok(r.console.includes('ESTABLISH LOCAL CONNECTION'), 'the output really is -vvv');
  const journal = JSON.parse(await readFile(path.join(r.result.runDir, 'journal.json'), 'utf8'));
  assert.ok(JSON.stringify(journal).includes('db://db-0:5432'), 'published data kept in the journal');
  const events = (await readFile(path.join(r.result.runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(events.some((e) => e.kind === 'host_result' && e.host === 'db-0' && e.stage === 'publish'));
  assert.ok((await readFile(path.join(r.result.runDir, 'stages', '01-hello', 'output.log'), 'utf8')).includes('PLAY RECAP'));
});

test('fail fast: a failed host stops later stages, always-stages still run', async () => {
  const marks = path.join(t.dir, 'marks');
  const r = await run(
    `name: failfast\n${STATIC()}vars: { marker_dir: ${marks} }\nstages:\n  - { name: deploy, playbook: @F/fail-one.yml }\n` +
      `  - { name: later, playbook: @F/touch.yml }\n  - { name: cleanup, playbook: @F/touch.yml, always: true }\n`,
  );
  assert.is(r.result.exitCode, 1);
  assert.is(r.result.status, 'failed');
  assert.equal(r.journal.stages.map((s) => s.status), ['failed', 'skipped', 'passed']);
  assert.match(r.journal.stages[1]!.reason ?? '', /stage 'deploy' failed/);
  assert.is(await xmllintErrors(r.junit), '');
  const cases = await junitCases(r.junit);
  const failed = cases.find((c) => c.name === '[web-1] Fail on web-1');
  assert.is(failed?.outcome, 'failure');
  assert.match(failed?.message ?? '', /web-1 is broken on purpose/);
  assert.is(cases.find((c) => c.name === '[web-0] Fail on web-1')?.outcome, 'skipped');
  assert.ok(cases.some((c) => c.suite === 'later' && c.outcome === 'skipped'));
  const written = await allFiles(marks).catch(() => []);
  assert.equal(written, ['cleanup-db-0', 'cleanup-web-0', 'cleanup-web-1'], 'only the always-stage ran after the failure');
});

test('a non-voting failure is reported but the run passes', async () => {
  const r = await run(`name: nonvoting\n${STATIC()}stages:\n  - { name: flaky, playbook: @F/fail-one.yml, voting: false }\n  - { name: next, playbook: @F/ok.yml }\n`);
  assert.is(r.result.exitCode, 0);
  assert.equal(r.journal.stages.map((s) => s.status), ['failed', 'passed']);
});

test('an unreachable host is a failure of type unreachable in JUnit', async () => {
  const r = await run(`name: unreach\nlab: { provider: static, inventory: @F/unreachable.ini, validate: false }\nstages:\n  - { name: deploy, playbook: @F/ok.yml }\n`);
  assert.is(r.result.exitCode, 1);
  assert.is(await xmllintErrors(r.junit), '');
  const cases = await junitCases(r.junit);
  // `debug` runs on the controller, so the first task passes even for the dead host.
  const dead = cases.find((c) => c.name === '[web-dead] Change something');
  assert.is(dead?.outcome, 'failure', JSON.stringify(cases));
  assert.is(dead?.type, 'unreachable');
  // JUnit carries Ansible's own words for it (ssh's "connect to host 127.0.0.1 port 1: Connection
  // refused", in whichever of Ansible's wrappings this run got).
  const events = (await readFile(path.join(r.result.runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; host?: string; status?: string; message?: string });
  const said = events.find((e) => e.kind === 'host_result' && e.host === 'web-dead' && e.status === 'unreachable');
  assert.ok(said?.message, JSON.stringify(said));
  assert.ok((dead?.message ?? '').includes(said!.message!.split('\n')[0]!.trim()), `${JSON.stringify(dead)} against ${JSON.stringify(said)}`);
  assert.match(said!.message!, /ssh|port 1|127\.0\.0\.1/);
  assert.ok(cases.some((c) => c.name === '[web-0] Say hello' && c.outcome === 'passed'));
});

test('a stage timeout kills the hung task and is an error; no process left', async () => {
  const pidFile = path.join(t.dir, 'hang.pid');
  const r = await run(`name: hang\n${STATIC()}stages:\n  - { name: hang, playbook: @F/hang.yml, timeout: 10s, vars: { pid_file: ${pidFile} } }\n  - { name: after, playbook: @F/ok.yml }\n`);
  assert.is(r.result.exitCode, 1);
  assert.equal(r.journal.stages.map((s) => s.status), ['error', 'skipped']);
  assert.match(r.journal.stages[0]!.reason ?? '', /timed out after 10\.0s/);
  const pid = Number(await readFile(pidFile, 'utf8'));
  assert.ok(pid > 0);
  assert.not.ok(await pidAlive(pid), 'the hung sleep was killed');
  assert.is(await xmllintErrors(r.junit), '');
  assert.ok((await junitCases(r.junit)).some((c) => c.suite === 'hang' && c.outcome === 'error'));
});

test('retries rerun a failed stage; every attempt is reported', async () => {
  const counter = path.join(t.dir, 'counter');
  const r = await run(`name: retry\n${STATIC()}stages:\n  - { name: flaky, playbook: @F/flaky.yml, retries: 2, vars: { counter: ${counter} } }\n`);
  assert.is(r.result.exitCode, 0, r.console);
  assert.is(r.journal.stages[0]!.status, 'passed');
  assert.is(r.journal.stages[0]!.attempts, 2);
  assert.is((await readFile(counter, 'utf8')).trim(), '2');
  const cases = await junitCases(r.junit);
  // The run passed: attempt 1's failure is shown as a flakyFailure, not counted as a failure.
  assert.ok(cases.some((c) => c.suite === 'flaky' && c.name === '[web-0] Count attempts' && c.outcome === 'passed'), 'attempt 1 reported');
  assert.ok(cases.some((c) => c.suite === 'flaky (attempt 2)' && c.outcome === 'passed'), 'attempt 2 passed');
  const xml = await readFile(r.junit, 'utf8');
  assert.match(xml, /<flakyFailure type="failed"/);
  assert.match(xml, /<testsuites [^>]*failures="0"/);
  assert.not.match(r.console, 'Failed (');
  assert.match(r.console, 'Failed in earlier attempts (retried) (1):');
  assert.is(await xmllintErrors(r.junit), '');
});

test('local lab: real sshd hosts, results merged from the hosts, nothing left running', async () => {
  const r = await run(
    `name: locallab\nlab:\n  provider: local\n  hosts:\n    node-a: { groups: [nodes] }\n    node-b: { groups: [nodes] }\nstages:\n` +
      `  - name: deploy\n    playbook: @F/daemon.yml\n    results: "{{ harness_host_root }}/results.xml"\n    results_fail: false\n  - { name: gather, collect: { nodes: ["{{ harness_host_root }}/daemon.pid", /nonexistent/file] } }\n` +
      // Without results_fail: false, a failed merged test fails its stage (non-voting here, so the run passes).
      `  - { name: strict, voting: false, playbook: @F/ok.yml, results: ["{{ harness_host_root }}/results.xml", "{{ harness_host_root }}/none-*.xml"] }\n`,
  );
  assert.is(r.result.exitCode, 0, r.console);
  const lab = JSON.parse(await readFile(path.join(r.result.runDir, 'lab.json'), 'utf8'));
  const sshdPids: number[] = JSON.stringify(lab).match(/"pid":\s*(\d+)/g)!.map((m) => Number(m.replace(/\D/g, '')));
  assert.ok(sshdPids.length >= 2);
  for (const pid of sshdPids) assert.not.ok(await pidAlive(pid), `sshd ${pid} stopped`);
  for (const host of ['node-a', 'node-b']) {
    const collected = (await allFiles(path.join(r.result.runDir, 'hosts', host))).find((f) => f.endsWith('daemon.pid'))!;
    const pid = Number(await readFile(path.join(r.result.runDir, 'hosts', host, collected), 'utf8'));
    assert.not.ok(await pidAlive(pid), `the daemon ${host} detached was stopped with the lab`);
  }
  const files = await allFiles(path.join(r.result.runDir, 'hosts'));
  assert.ok(files.some((f) => f.startsWith('node-a/') && f.endsWith('daemon.pid')), files.join(','));
  assert.ok(files.some((f) => f.startsWith('node-b/') && f.endsWith('daemon.pid')), files.join(','));
  const events = (await readFile(path.join(r.result.runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  for (const host of ['node-a', 'node-b']) {
    assert.ok(events.some((e) => e.kind === 'warning' && e.message === `${host}: /nonexistent/file is missing`), `missing path noted for ${host}`);
  }
  assert.equal(r.journal.stages.map((s) => s.status), ['passed', 'passed', 'failed'], 'a missing path is not fatal; a failed merged test is');
  assert.match(r.journal.stages[2]!.reason ?? '', /^results: node-a:\S+results\.xml has 1 failed and 0 errored test\(s\)/);
  assert.match(r.console, /\[deploy\] results from node-a: \S+results\.xml: 2 test\(s\), 1 failed, 0 errored/);
  assert.ok(events.some((e) => e.kind === 'warning' && /none-\*\.xml matched no file on node-b/.test(e.message)), 'a results glob matching nothing is a warning');
  assert.is(await xmllintErrors(r.junit), '');
  const cases = await junitCases(r.junit);
  assert.ok(cases.some((c) => c.suite === '[node-a] system-tests' && c.name === 'breaks' && c.outcome === 'failure'), JSON.stringify(cases.map((c) => c.suite)));
  assert.ok(cases.some((c) => c.suite === '[node-b] system-tests' && c.name === 'works' && c.outcome === 'passed'));
});

test('--from and --until run a slice (without checkpoints: from a fresh lab); unknown stage names are input errors', async () => {
  const marks = path.join(t.dir, 'marks');
  const yaml = `name: slice\n${STATIC()}vars: { marker_dir: ${marks} }\nstages:\n  - { name: a, playbook: @F/touch.yml, hosts: [db] }\n  - { name: b, playbook: @F/touch.yml, hosts: [db] }\n  - { name: c, playbook: @F/touch.yml, hosts: [db] }\n`;
  const r = await run(yaml, { from: 'b', until: 'b', checkpoints: false });
  assert.is(r.result.exitCode, 0);
  assert.equal(r.journal.stages.map((s) => s.status), ['skipped', 'passed', 'skipped']);
  assert.equal(await allFiles(marks), ['b-db-0']);
  const file = await writeScenario(t.dir, yaml, 'again.yml');
  const err = await runScenario(await loadScenario(file), { out: path.join(t.dir, 'run2'), from: 'bb' }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.match((err as Error).message, /--from bb: no such stage .*did you mean 'b'/);
});

test.run();
