// Debug sessions (issue 19): failure snapshots, `harness lab up/list/login/run/down`, cleanup of up
// labs, on real sshd hosts on loopback (the local lab) with real ansible-playbook.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario, type RunOptions } from '../lib/run.js';
import { readJournal } from '../lib/report/index.js';
import { readManifest } from '../lib/report/manifest.js';
import { openStore, isFailureKey } from '../lib/checkpoint/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';

const test = suite('lab up');
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'lab-up');
let t: { dir: string; remove: () => Promise<void> };
let project: string;
let env: NodeJS.ProcessEnv;
let runs = 0;

const SCENARIO = `name: debugme
lab:
  provider: local
  hosts:
    h1: { groups: [nodes] }
    h2: { groups: [nodes] }
stages:
  - { name: prepare, playbook: prepare.yml, checkpoint: true }
  - { name: break, playbook: break.yml }
  - { name: teardown, playbook: teardown.yml, always: true }
`;

test.before(async () => {
  t = await tempDir('harness-labup-');
  project = path.join(t.dir, 'project');
  await cp(FIXTURE, project, { recursive: true });
  await writeFile(path.join(project, 'scenario.yml'), SCENARIO);
  env = { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
});
test.after(async () => {
  await t.remove();
});

async function run(opts: RunOptions = {}) {
  const scenario = await loadScenario(path.join(project, 'scenario.yml'));
  const out = path.join(t.dir, `run${++runs}`);
  let log = '';
  const result = await runScenario(scenario, { out, env, write: (s) => (log += s), bundle: false, ...opts });
  const journal = await readJournal(path.join(out, 'journal.json'));
  return { result, journal, log, statuses: journal.stages.map((s) => `${s.name}:${s.status}`) };
}

let failedRun = '';
let failedKey = '';

test('a failing run keeps its failed state: journal, manifest, report.html; before the always-stages', async () => {
  const r = await run();
  assert.is(r.result.exitCode, 1, r.log);
  assert.equal(r.statuses, ['prepare:passed', 'break:failed', 'teardown:passed']);
  const key = r.journal.stages[1]!.failedState;
  assert.ok(key && isFailureKey(key), r.log);
  assert.ok(key.startsWith(`${r.journal.stages[0]!.checkpoint!.slice(0, 0)}`));
  const manifest = await readManifest(path.join(r.result.runDir, 'manifest.json'));
  assert.is(manifest.stages.find((s) => s.name === 'break')!.failedState, key);
  assert.match(await readFile(path.join(r.result.runDir, 'report.html'), 'utf8'), `failed state kept as checkpoint <code>${key}</code>`);
  assert.match(r.log, `failed state kept as checkpoint ${key}`);
  const info = (await openStore(path.join(t.dir, 'cache', 'ansible-harness', 'checkpoints')).list()).find((c) => c.key === key)!;
  assert.ok(info.failed);
  // The snapshot is the lab as the failure left it, not as the teardown did.
  assert.is(await readFile(path.join(info.dataDir, 'h2', 'state.txt'), 'utf8'), 'broken by break on h2\n');
  failedRun = r.result.runDir;
  failedKey = key;
});

test('an ordinary rerun never restores the failure state; --no-keep-failed keeps none', async () => {
  const r = await run({ keepFailed: false });
  assert.equal(r.statuses, ['prepare:restored', 'break:failed', 'teardown:passed']);
  assert.not.ok(r.journal.stages[1]!.failedState);
  assert.not.match(r.journal.stages[0]!.reason ?? '', failedKey);
  assert.not.match(r.log, /failed state kept/);
});

test.run();
