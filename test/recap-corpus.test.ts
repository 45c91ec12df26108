// The harness counts results as Ansible does: each playbook of test/fixtures/recap-corpus is run
// by plain `ansible-playbook` (its PLAY RECAP parsed) and, all of them in one scenario (one
// non-voting stage each, so every stage runs), through the harness on the same inventory; the
// two are compared bucket by bucket, with the exit code of each. Real ansible-playbook, no mocks.
// The normal suite runs a subset (each construct the issue names at least once); set
// HARNESS_RECAP_CORPUS=all (CI's long suite does) for every playbook.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { addRecap, emptyRecap, formatRecap, resultCounts, type Recap } from '../lib/report/recap.js';
import type { EventOf, RunEvent } from '../lib/model/events.js';
import { tempDir } from './helpers/cli.js';
import { junitCases, xmllintErrors } from './helpers/junit.js';
import { writeScenario } from './helpers/scenario.js';

const test = suite('recap corpus');
const CORPUS = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'recap-corpus');
const INVENTORY = path.join(CORPUS, 'inventory.ini');
/** The subset of the normal suite: rescue, items, includes, ignored + changed, ignore_unreachable, nested runs, prompts. */
const QUICK = ['01-block-rescue', '02-rescue-fails', '05-loop-items', '07-include-missing', '08-include-role-missing', '14-ignored-changed', '15-ignore-unreachable', '20-nested-run', '21-prompt', '22-handler-fails-rescue-loop'];

type HostRecaps = Record<string, Recap>;

/** Parses the PLAY RECAP of ansible-playbook's output: host → buckets. */
function parseRecap(out: string): HostRecaps {
  const at = out.lastIndexOf('PLAY RECAP');
  const recaps: HostRecaps = {};
  if (at < 0) return recaps;
  for (const line of out.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const r = emptyRecap();
    for (const [, k, v] of m[2]!.matchAll(/(\w+)=(\d+)/g)) {
      const key = k === 'failed' ? 'failures' : k!;
      if (key in r) r[key as keyof Recap] = Number(v);
    }
    recaps[m[1]!] = r;
  }
  return recaps;
}

/** Runs a playbook with plain ansible-playbook (no terminal, as in CI); its recap and exit code. */
function plainRun(playbook: string): Promise<{ recap: HostRecaps; exitCode: number; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_NOCOLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('HARNESS_') || k.startsWith('ANSIBLE_CALLBACK')) delete env[k];
  return new Promise((resolve) => {
    const child = execFile('ansible-playbook', ['-i', INVENTORY, playbook], { cwd: CORPUS, env, maxBuffer: 16 << 20, timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ recap: parseRecap(stdout), exitCode: code, out: stdout + stderr });
    });
    child.stdin?.end();
  });
}

/** Runs `jobs` two at a time. */
async function pooled<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

const sumRecaps = (recaps: HostRecaps): Recap => {
  const total = emptyRecap();
  for (const r of Object.values(recaps)) addRecap(total, r);
  return total;
};

test('every playbook: the harness counts what PLAY RECAP counts, bucket by bucket, and maps the exit code', async () => {
  const all = (await readdir(CORPUS)).filter((f) => /^\d\d-.*\.yml$/.test(f)).sort();
  const names = process.env.HARNESS_RECAP_CORPUS === 'all' ? all.map((f) => f.replace(/\.yml$/, '')) : QUICK;
  assert.ok(names.length >= 10, 'the corpus is there');
  if (names !== QUICK) assert.ok(all.length >= 20, `${all.length} playbooks`);
  const t = await tempDir('harness-recap-');
  try {
    const stages = names.map((n) => `  - { name: ${n}, playbook: ${path.join(CORPUS, `${n}.yml`)}, voting: false, timeout: 3m }\n`).join('');
    const file = await writeScenario(t.dir, `name: recap\nlab: { provider: static, inventory: ${INVENTORY}, validate: false }\nstages:\n${stages}`);
    const scenario = await loadScenario(file);
    let consoleText = '';
    const [harness, plain] = await Promise.all([
      runScenario(scenario, { out: path.join(t.dir, 'run'), write: (s) => (consoleText += s), bundle: false, checkpoints: false }),
      pooled(names.map((n) => () => plainRun(path.join(CORPUS, `${n}.yml`)))),
    ]);
    assert.is(harness.exitCode, 0, 'only non-voting stages: the run passes');
    const events: RunEvent[] = (await readFile(path.join(harness.runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const journal = await readJournal(path.join(harness.runDir, 'journal.json'));
    const junit = path.join(harness.runDir, 'junit.xml');
    assert.is(await xmllintErrors(junit), '');
    const cases = await junitCases(junit);
    const problems: string[] = [];
    const grand = emptyRecap();
    names.forEach((name, i) => {
      const want = plain[i]!;
      const of = events.filter((e) => 'stage' in e && e.stage === name);
      const stats = of.filter((e): e is EventOf<'stats'> => e.kind === 'stats');
      // The stage's own run only: one recap, and it is the plain run's.
      if (stats.length !== 1) problems.push(`${name}: ${stats.length} stats events`);
      else {
        const show = (r: HostRecaps) => Object.keys(r).sort().map((h) => `${h}: ${formatRecap(r[h]!)}`).join('; ');
        if (show(stats[0]!.hosts) !== show(want.recap)) problems.push(`${name}: the harness's recap ${show(stats[0]!.hosts)} is not the plain run's ${show(want.recap)}`);
      }
      // Result by result, the counts add up to the recap, host by host.
      const byHost: HostRecaps = {};
      for (const e of of) if (e.kind === 'host_result') addRecap((byHost[e.host] ??= emptyRecap()), resultCounts(e));
      for (const host of new Set([...Object.keys(byHost), ...Object.keys(want.recap)])) {
        const got = formatRecap(byHost[host] ?? emptyRecap());
        const exp = formatRecap(want.recap[host] ?? emptyRecap());
        if (got !== exp) problems.push(`${name} [${host}]: results count ${got}; PLAY RECAP ${exp}`);
      }
      addRecap(grand, sumRecaps(want.recap));
      // Exit code: the stage passed exactly when plain ansible-playbook exited 0, with the same code.
      const j = journal.stages.find((s) => s.name === name)!;
      if ((j.status === 'passed') !== (want.exitCode === 0) || (j.exitCode ?? -1) !== want.exitCode)
        problems.push(`${name}: stage ${j.status} (exit ${j.exitCode}) but ansible-playbook exited ${want.exitCode}`);
      // JUnit: the task cases that fail are Ansible's failed + unreachable (an include Ansible stopped on, it does not count).
      const r = sumRecaps(want.recap);
      const failing = cases.filter((c) => c.suite === name && !c.name.startsWith('[harness]') && !c.type?.startsWith('include') && (c.outcome === 'failure' || c.outcome === 'error')).length;
      if (failing !== r.failures + r.unreachable) problems.push(`${name}: ${failing} failing JUnit case(s), recap has failed ${r.failures} + unreachable ${r.unreachable}`);
    });
    assert.equal(problems, [], problems.join('\n'));
    // The console's totals are the recaps' sum (non-voting stages: on their own line).
    assert.match(consoleText, `Tasks of non-voting stages (not counted): ${formatRecap(grand)}\n`);

    const stageEvents = (n: string) => events.filter((e) => 'stage' in e && e.stage === n);
    const results = (n: string) => stageEvents(n).filter((e): e is EventOf<'host_result'> => e.kind === 'host_result');
    // A rescued failure is rescued, never a failure; the passing stage ships no failing JUnit.
    assert.ok(results('01-block-rescue').some((e) => e.task === 'boom' && e.rescued === true));
    assert.equal(cases.filter((c) => c.suite === '01-block-rescue' && c.outcome !== 'passed'), []);
    assert.not.match(consoleText, /Failed in non-voting stages[^\n]*\n(  [^\n]*\n)*  01-block-rescue:/);
    // Failure text under `reason`; a failed_when failure says so, not the module's "ok" message.
    assert.match(results('07-include-missing').find((e) => e.status === 'failed')?.message ?? '', 'Could not find or access');
    assert.match(results('05-loop-items').find((e) => e.status === 'failed' && e.item === 'b')?.message ?? '', 'failed_when condition met');
    // An include-time error: its text is the stage's reason.
    assert.match(journal.stages.find((s) => s.name === '08-include-role-missing')!.reason ?? '', "the role 'nope' was not found");
    const include = cases.find((c) => c.suite === '08-include-role-missing' && c.name === '[h1] include a missing role');
    assert.is(include?.outcome, 'failure', 'the include is the failing case');
    assert.match(include?.message ?? '', "ERROR! the role 'nope' was not found");
    assert.not.ok(cases.some((c) => c.suite === '08-include-role-missing' && c.name.startsWith('[harness]')));
    // ignore_unreachable: ok + ignored, no unreachable case.
    assert.ok(results('15-ignore-unreachable').some((e) => e.host === 'dead' && e.status === 'unreachable' && e.ignored));
    // A nested ansible-playbook's events stay out: no phantom localhost, one recap.
    assert.not.ok(results('20-nested-run').some((e) => e.host === 'localhost'), 'the nested run leaked in');
    // A prompt does not hang the stage; it reaches the output.
    assert.match(consoleText, '[21-prompt] Press enter to go on:\n');
    // A handler and a role run twice on a host are two cases each (only in the full corpus).
    if (names.includes('04-handlers-flush')) assert.ok(cases.some((c) => c.suite === '04-handlers-flush' && c.name === '[h1] restart (run 2)'), 'the handler ran twice');
  } finally {
    await t.remove();
  }
});

test.run();
