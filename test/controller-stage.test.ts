import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario, type RunOptions } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { checkpointInputs, explainChange } from '../lib/checkpoint/index.js';
import { harness, tempDir } from './helpers/cli.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { junitCases, xmllintErrors } from './helpers/junit.js';
import { allFiles, fileContains, pidAlive, writeScenario } from './helpers/scenario.js';

/** Controller stages (`run:`), issue 13: real commands beside real sshd hosts of a local lab. */
const test = suite('controller stages');
let t: { dir: string; remove: () => Promise<void> };
let runs = 0;
test.before.each(async () => {
  t = await tempDir('harness-runstage-');
});
test.after.each(async () => {
  await t.remove();
});

const LAB = 'lab:\n  provider: local\n  hosts:\n    node-a: { groups: [nodes] }\n';

async function script(name: string, body: string): Promise<void> {
  const file = path.join(t.dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\n${body}`);
  await chmod(file, 0o755);
}

async function run(yaml: string, opts: RunOptions = {}) {
  const file = await writeScenario(t.dir, yaml);
  const scenario = await loadScenario(file);
  let console = '';
  const env = { ...(opts.env ?? process.env), XDG_CACHE_HOME: path.join(t.dir, 'cache') };
  const result = await runScenario(scenario, { out: path.join(t.dir, `run${++runs}`), write: (s) => (console += s), killGraceMs: 1000, ...opts, env });
  const journal = await readJournal(path.join(result.runDir, 'journal.json'));
  return { result, journal, console, junit: path.join(result.runDir, 'junit.xml'), statuses: journal.stages.map((s) => `${s.name}:${s.status}`) };
}

test('a run: stage beside playbook stages: its environment, output, JUnit case, results, outputs kept and bundled; secrets only when listed', async () => {
  const listed = 'listed-secret-4c1d9e';
  const other = 'other-secret-77ab02';
  await script(
    'build.sh',
    `echo "cwd=$(pwd)"
echo "listed=$tok other=\${other_pw:-unset} ansible=\${ANSIBLE_CONFIG:-unset}"
grep -q node-a "$HARNESS_INVENTORY" && echo inventory-names-node-a
case "$HARNESS_VARS" in *'"release":"1.0"'*) echo vars-have-release;; esac
case "$HARNESS_VARS" in *"$tok"*) echo vars-keep-listed-secret;; esac
case "$HARNESS_VARS" in *'"leak_other":"********"'*) echo vars-mask-other-secret;; esac
test -d "$HARNESS_RUN_DIR/stages" && echo run-dir-ok
echo to-stderr >&2
mkdir -p "$HARNESS_STAGE_DIR/dist" "$HARNESS_STAGE_DIR/reports"
echo "package 1.0 built with $tok" > "$HARNESS_STAGE_DIR/dist/pkg.txt"
echo scratch > "$HARNESS_STAGE_DIR/not-kept.tmp"
cat > "$HARNESS_STAGE_DIR/reports/unit.xml" <<'XML'
<testsuite name="unit"><testcase name="adds" classname="calc"/><testcase name="skips" classname="calc"><skipped/></testcase></testsuite>
XML
`,
  );
  const r = await run(
    `name: ctl\n${LAB}vars: { release: "1.0" }\nsecrets: { tok: { env: CS_LISTED }, other_pw: { env: CS_OTHER } }\nstages:\n` +
      `  - { name: build, run: ./build.sh, inputs: [build.sh, "missing/*.c"], outputs: [dist/*.txt], results: [reports/*.xml], secrets: [tok] }\n` +
      `  - { name: deploy, playbook: @F/ok.yml }\n` +
      `  - { name: lint, voting: false, run: [sh, -c, 'echo "lint: problem on line 3"; exit 4'] }\n`,
    { env: { ...process.env, CS_LISTED: listed, CS_OTHER: other }, extraVars: { leak_other: other, leak_listed: listed } },
  );
  assert.is(r.result.exitCode, 0, r.console);
  assert.equal(r.statuses, ['build:passed', 'deploy:passed', 'lint:failed']);
  assert.is(r.journal.stages[2]!.reason, 'the command exited 4');
  assert.is(r.journal.stages[2]!.exitCode, 4);

  const stageDir = path.join(r.result.runDir, 'stages', '01-build');
  const log = await readFile(path.join(stageDir, 'output.log'), 'utf8');
  assert.ok(log.includes(`cwd=${t.dir}\n`), log);
  assert.match(log, /listed=\*{8} other=unset ansible=unset/);
  for (const line of ['inventory-names-node-a', 'vars-have-release', 'vars-keep-listed-secret', 'vars-mask-other-secret', 'run-dir-ok']) assert.ok(log.includes(line), `${line} in ${log}`);
  assert.match(r.console, /--- stage build \(1\/3\): \$ \.\/build\.sh ---/);
  assert.match(r.console, /\[build\] listed=\*{8}/);
  assert.match(await readFile(path.join(r.result.runDir, 'stages', '03-lint', 'output.log'), 'utf8'), /^lint: problem on line 3$/m);
  assert.match(log, /^to-stderr$/m, 'stderr is in the log too');

  // The declared outputs are kept (redacted), with their digest; the rest of the scratch folder is not.
  const kept = await allFiles(stageDir);
  assert.equal(kept, ['output.log', 'outputs.json', 'outputs/dist/pkg.txt', 'results/reports/unit.xml']);
  assert.is(await readFile(path.join(stageDir, 'outputs', 'dist', 'pkg.txt'), 'utf8'), 'package 1.0 built with ********\n');
  const record = JSON.parse(await readFile(path.join(stageDir, 'outputs.json'), 'utf8'));
  assert.equal(record.files.map((f: { path: string }) => f.path), ['dist/pkg.txt']);
  assert.match(record.digest, /^[0-9a-f]{64}$/);
  assert.is(r.journal.stages[0]!.outputs, record.digest);
  assert.not.ok((await allFiles(r.result.runDir)).some((f) => f.includes('not-kept')), 'scratch files are not kept');

  // JUnit: one case per command (its output on failure), the merged results suite.
  assert.is(await xmllintErrors(r.junit), '');
  const cases = await junitCases(r.junit);
  assert.ok(cases.some((c) => c.suite === 'build' && c.name === '[controller] ./build.sh' && c.outcome === 'passed'), JSON.stringify(cases));
  const lint = cases.find((c) => c.suite === 'lint');
  assert.ok(lint, JSON.stringify(cases));
  assert.is(lint?.name, `[controller] sh -c 'echo "lint: problem on line 3"; exit 4'`);
  assert.is(lint?.outcome, 'failure');
  assert.match(lint?.message ?? '', /\[non-voting\] the command exited 4/);
  const xml = await readFile(r.junit, 'utf8');
  assert.match(xml, /<system-out><!\[CDATA\[last output of the stage:\nlint: problem on line 3/);
  assert.ok(cases.some((c) => c.suite === '[controller] unit' && c.name === 'adds' && c.outcome === 'passed'));
  assert.ok(cases.some((c) => c.suite === '[controller] unit' && c.name === 'skips' && c.outcome === 'skipped'));
  assert.ok(cases.some((c) => c.suite === 'deploy' && c.name === '[node-a] Say hello'));
  assert.match(r.console, /results from controller: reports\/unit\.xml: 2 test\(s\), 0 failed, 0 errored/);
  assert.match(r.console, /warning: inputs: missing\/\*\.c matched no file in the scenario's folder/);

  // The bundle carries the outputs and the script; no secret anywhere.
  const bundle = r.result.bundle!;
  const entries = execFileSync('tar', ['tzf', bundle], { encoding: 'utf8' }).split('\n');
  assert.ok(entries.some((e) => e.endsWith('stages/01-build/outputs/dist/pkg.txt')), entries.join('\n'));
  assert.ok(entries.some((e) => e.endsWith('stages/01-build/outputs.json')));
  assert.ok(entries.some((e) => /source\/.*build\.sh$/.test(e)), 'the script is in source/');
  const unpacked = path.join(t.dir, 'unpacked');
  await mkdir(unpacked);
  execFileSync('tar', ['xzf', bundle, '-C', unpacked]);
  for (const root of [r.result.runDir, unpacked]) {
    for (const f of await allFiles(root)) {
      for (const secret of [listed, other]) assert.not.ok(await fileContains(path.join(root, f), secret), `a secret in ${f}`);
    }
  }
  assert.not.ok(r.console.includes(listed) || r.console.includes(other), 'a secret on the console');
});

test('timeout kills the command group, retries rerun it, always-stages still run; skipped after the failure', async () => {
  const counter = path.join(t.dir, 'counter');
  const pidFile = path.join(t.dir, 'sleep.pid');
  await script('flaky.sh', `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "attempt $n"; [ $n -ge 2 ]\n`);
  const r = await run(
    `name: ctltime\n${LAB}stages:\n  - { name: flaky, run: ./flaky.sh, retries: 2 }\n` +
      `  - { name: hang, run: "sleep 300 & echo $! > ${pidFile}; echo started; wait", timeout: 2s }\n` +
      `  - { name: after, run: "echo never" }\n  - { name: cleanup, always: true, run: [echo, cleaning up] }\n`,
  );
  assert.is(r.result.exitCode, 1, r.console);
  assert.equal(r.statuses, ['flaky:passed', 'hang:error', 'after:skipped', 'cleanup:passed']);
  assert.is(r.journal.stages[0]!.attempts, 2);
  assert.is((await readFile(counter, 'utf8')).trim(), '2');
  assert.match(r.journal.stages[1]!.reason ?? '', /timed out after 2\.0s; the command's process group was killed/);
  assert.match(r.journal.stages[2]!.reason ?? '', /stage 'hang' failed/);
  const pid = Number(await readFile(pidFile, 'utf8'));
  assert.ok(pid > 0);
  assert.not.ok(await pidAlive(pid), 'the background sleep was killed with its group');
  const flakyDir = path.join(r.result.runDir, 'stages', '01-flaky');
  assert.match(await readFile(path.join(flakyDir, 'output.log'), 'utf8'), /attempt 1/);
  assert.match(await readFile(path.join(flakyDir, 'output.attempt2.log'), 'utf8'), /attempt 2/);
  assert.match(await readFile(path.join(r.result.runDir, 'stages', '04-cleanup', 'output.log'), 'utf8'), /^cleaning up$/m);
  assert.is(await xmllintErrors(r.junit), '');
  const cases = await junitCases(r.junit);
  const hang = cases.find((c) => c.suite === 'hang');
  assert.is(hang?.outcome, 'error');
  assert.is(hang?.type, 'timeout');
  const xml = await readFile(r.junit, 'utf8');
  assert.ok(/<flakyFailure type="command" message="the command exited 1">/.test(xml), xml);
  assert.ok(cases.some((c) => c.suite === 'after' && c.outcome === 'skipped'));
});

test('the key of a run: stage hashes its inputs and script: an edit reruns it instead of restoring its checkpoint', async () => {
  const marks = path.join(t.dir, 'lint-runs');
  await mkdir(path.join(t.dir, 'src'));
  await writeFile(path.join(t.dir, 'src', 'a.txt'), 'one\n');
  await script('lint.sh', `echo ran >> ${marks}; cat src/*.txt\n`);
  const yaml = `name: ctlkey\n${LAB}stages:\n  - { name: lint, run: ./lint.sh, inputs: ["src/**"], checkpoint: true }\n  - { name: deploy, playbook: @F/ok.yml }\n`;
  const keyOf = async () => (await checkpointInputs(await loadScenario(path.join(t.dir, 'scenario.yml')), { overrides: {}, harnessVersion: 'test' }))[0]!;
  const first = await run(yaml);
  assert.is(first.result.exitCode, 0, first.console);
  const k1 = await keyOf();
  assert.ok(first.journal.stages[0]!.checkpoint, 'the lint stage took a checkpoint');
  assert.ok('file:src/a.txt' in k1.inputs && 'file:lint.sh' in k1.inputs, JSON.stringify(k1.inputs));

  const second = await run(yaml);
  assert.equal(second.statuses, ['lint:restored', 'deploy:passed'], second.console);
  assert.is((await readFile(marks, 'utf8')).split('\n').filter(Boolean).length, 1, 'restored, not run again');

  await writeFile(path.join(t.dir, 'src', 'a.txt'), 'two\n');
  const k2 = await keyOf();
  assert.not.equal(k2.key, k1.key);
  assert.equal(explainChange(k1.cumulative, k2.cumulative), ['file:src/a.txt changed']);
  const third = await run(yaml);
  assert.equal(third.statuses, ['lint:passed', 'deploy:passed'], third.console);
  assert.is((await readFile(marks, 'utf8')).split('\n').filter(Boolean).length, 2, 'the edit made it run');
  assert.not.equal(third.journal.stages[0]!.checkpoint, first.journal.stages[0]!.checkpoint);

  // A new input file and an edit of the script it names by path change the key too.
  await writeFile(path.join(t.dir, 'src', 'b.txt'), 'new\n');
  const k3 = await keyOf();
  assert.equal(explainChange(k2.cumulative, k3.cumulative), ['file:src/b.txt added']);
  await script('lint.sh', `echo ran >> ${marks}; cat src/*.txt; echo edited\n`);
  assert.equal(explainChange(k3.cumulative, (await keyOf()).cumulative), ['file:lint.sh changed']);
});

test('Ctrl-C while a run: stage runs: its group is stopped, its output kept, the always-stage runs, exit 130', async () => {
  const pidFile = path.join(t.dir, 'long.pid');
  const file = await writeScenario(
    t.dir,
    `name: ctlint\n${LAB}stages:\n  - { name: long, run: "echo before-the-interrupt; sleep 300 & echo $! > ${pidFile}; wait" }\n` +
      `  - { name: never, run: "echo never" }\n  - { name: teardown, always: true, run: "echo tearing down" }\n`,
  );
  const out = path.join(t.dir, 'out');
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), 'run', file, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') } });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // No timing is asserted: the deadline only ends a hung test.
  const deadline = Date.now() + 120_000;
  while (!(await readFile(pidFile, 'utf8').catch(() => '')).trim()) {
    if (Date.now() > deadline) throw new Error(`the command never started:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = Number(await readFile(pidFile, 'utf8'));
  child.kill('SIGINT');
  assert.is(await exited, 130, output);
  assert.not.ok(await pidAlive(pid), 'the sleep was stopped with its group');
  const journal = await readJournal(path.join(out, 'journal.json'));
  assert.equal(journal.stages.map((s) => `${s.name}:${s.status}`), ['long:error', 'never:skipped', 'teardown:passed']);
  assert.match(journal.stages[0]!.reason ?? '', /^interrupted/);
  assert.match(await readFile(path.join(out, 'stages', '01-long', 'output.log'), 'utf8'), /^before-the-interrupt$/m);
  assert.match(await readFile(path.join(out, 'stages', '03-teardown', 'output.log'), 'utf8'), /^tearing down$/m);
  assert.is(await xmllintErrors(path.join(out, 'junit.xml')), '');
});

test('run: stages in a tree: a fork of its own, extends, and cancelled_by skipping a branch when the stage it names failed', async () => {
  const marks = path.join(t.dir, 'system-ran');
  const r = await run(
    `name: ctltree\n${LAB}stages:\n  - { name: base, run: "echo base > $HARNESS_STAGE_DIR/base.txt", outputs: [base.txt] }\n` +
      `  - { name: install, extends: base, run: "echo install broke; exit 3" }\n` +
      `  - { name: system, extends: base, cancelled_by: [install], run: "echo ran > ${marks}" }\n` +
      `  - { name: docs, extends: base, run: "echo docs built" }\n`,
  );
  assert.is(r.result.exitCode, 1, r.console);
  const byName = new Map(r.journal.stages.map((s) => [s.name, s]));
  assert.is(byName.get('base')?.status, 'passed', r.console);
  assert.ok(byName.get('base')?.checkpoint, 'the fork point was checkpointed');
  assert.ok(byName.get('base')?.outputs, 'the fork kept its output');
  assert.is(byName.get('install')?.status, 'failed');
  assert.is(byName.get('system')?.status, 'skipped');
  assert.match(byName.get('system')?.reason ?? '', /cancelled: stage 'install' failed \(cancelled_by\)/);
  assert.is(byName.get('docs')?.status, 'passed', 'a sibling branch still runs');
  assert.not.ok(await readFile(marks, 'utf8').catch(() => ''), 'the cancelled command never ran');
  assert.is(await xmllintErrors(r.junit), '');
});

test('--jobs 2: a running run: stage is aborted when a stage of its cancelled_by fails: skipped, its group stopped', async () => {
  const pidFile = path.join(t.dir, 'system.pid');
  // install waits (at most 2 minutes: no timing is asserted, the bound only ends a broken run) until the system test runs, then fails.
  const r = await run(
    `name: ctlcancel\n${LAB}stages:\n  - { name: base, run: "echo base" }\n` +
      `  - { name: install, extends: base, run: "for i in $(seq 1 1200); do [ -s ${pidFile} ] && break; sleep 0.1; done; echo install broke; exit 3" }\n` +
      `  - { name: system, extends: base, cancelled_by: [install], timeout: 5m, run: "sleep 300 & echo $! > ${pidFile}; wait" }\n`,
    { parallel: 2 },
  );
  assert.is(r.result.exitCode, 1, r.console);
  const byName = new Map(r.journal.stages.map((s) => [s.name, s]));
  assert.is(byName.get('install')?.status, 'failed');
  assert.is(byName.get('system')?.status, 'skipped');
  assert.match(byName.get('system')?.reason ?? '', /cancelled: stage 'install' failed \(cancelled_by\)/);
  const pid = Number(await readFile(pidFile, 'utf8'));
  assert.ok(pid > 0, 'the system test was running when install failed');
  assert.not.ok(await pidAlive(pid), 'the cancelled command was stopped with its group');
  assert.is(await xmllintErrors(r.junit), '');
});

const GOOD = `name: t
lab:
  provider: local
  hosts:
    web-0: { groups: [web] }
secrets:
  tok: { env: TOK }
stages:
  - name: lint
    run: make lint
`;

const BAD: { name: string; yaml: string; line: number; message: RegExp }[] = [
  { name: 'hosts on a run: stage', yaml: GOOD + '    hosts: [web]\n', line: 11, message: /stages\[0\]\.hosts: a 'run:' stage runs its command on the controller and takes no 'hosts'/ },
  { name: 'a playbook and a run command', yaml: GOOD + '    playbook: site.yml\n', line: 11, message: /stages\[0\]\.playbook: a 'run:' stage .* takes no 'playbook'/ },
  { name: 'tags on a run: stage', yaml: GOOD + '    tags: [x]\n', line: 11, message: /stages\[0\]\.tags: a 'run:' stage .* takes no 'tags'/ },
  { name: 'skip_tags on a run: stage', yaml: GOOD + '    skip_tags: [x]\n', line: 11, message: /stages\[0\]\.skip_tags: a 'run:' stage .* takes no 'skip_tags'/ },
  { name: 'collect on a run: stage', yaml: GOOD + '    collect: { web: [/var/log] }\n', line: 11, message: /stages\[0\]\.collect: a 'run:' stage .* takes no 'collect'/ },
  { name: 'neither playbook nor run', yaml: GOOD.replace('    run: make lint\n', '    timeout: 5m\n'), line: 9, message: /stage 'lint' does nothing: give it a 'playbook' to run, a 'run' command, or files to 'collect'/ },
  { name: 'an empty argv list', yaml: GOOD.replace('run: make lint', 'run: []'), line: 10, message: /stages\[0\]\.run: must list at least 1 item/ },
  { name: 'an unknown secret', yaml: GOOD + '    secrets: [tokk]\n', line: 11, message: /stages\[0\]\.secrets\[0\]: 'tokk' is no secret of the scenario \(did you mean 'tok'\?\)/ },
  { name: 'outputs leaving the stage folder', yaml: GOOD + '    outputs: [dist/*, ../x]\n', line: 11, message: /stages\[0\]\.outputs\[1\]: '\.\.\/x' leaves the stage's folder/ },
  { name: 'absolute results', yaml: GOOD + '    results: /tmp/junit.xml\n', line: 11, message: /stages\[0\]\.results: '\/tmp\/junit\.xml' is an absolute path/ },
  { name: 'inputs on a playbook stage', yaml: GOOD.replace('    run: make lint\n', '    playbook: site.yml\n    inputs: [src/*]\n'), line: 11, message: /stages\[0\]\.inputs: 'inputs' belongs to 'run:' stages/ },
  { name: 'a misspelt key', yaml: GOOD + '    ouputs: [x]\n', line: 11, message: /unknown key 'ouputs' \(did you mean 'outputs'\?\)/ },
];

for (const c of BAD) {
  test(`bad input: ${c.name} -> exit 2 with file:line and field`, async () => {
    await writeFile(path.join(t.dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
    const file = path.join(t.dir, 'broken.yml');
    await writeFile(file, c.yaml);
    const r = await harness(['validate', file], { cwd: t.dir });
    assert.is(r.code, 2, r.stderr);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.match(r.stderr, new RegExp(`broken\\.yml:${c.line}:\\d+: `), r.stderr);
    assert.match(r.stderr, c.message);
  });
}

test('a valid run: stage validates, and plan shows it as a controller command', async () => {
  const file = path.join(t.dir, 'ok.yml');
  await writeFile(file, GOOD + '    inputs: [src/*]\n    outputs: [dist/*]\n    secrets: [tok]\n');
  const v = await harness(['validate', file], { cwd: t.dir });
  assert.is(v.code, 0, v.stderr);
  const p = await harness(['plan', file, '--no-checkpoints'], { cwd: t.dir });
  assert.is(p.code, 0, p.stderr);
  assert.match(p.stdout, /lint .*run: make lint \(on the controller\)/);
});

test.run();
