/**
 * Proof, not just shape (issue 16): the GitLab pipeline `harness export` writes for the demo
 * tree, executed for real by gitlab-ci-local with its shell executor, every job in a checkout
 * of its own (`--shell-isolation`: .gitlab-ci-local/builds/<job>/) with a checkpoint cache of
 * its own, and a loopback docker-registry as the store. The fork job builds the shared nodes
 * once and pushes the fork's checkpoint; the three jobs after it pull it and restore; the JUnit
 * reports and run directories come back as artifacts. Several minutes: `npm run test:long`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readJournal } from '../lib/report/index.js';
import { readManifest } from '../lib/report/manifest.js';
import { tempDir } from './helpers/cli.js';
import { demoRepo, exportDemo, gitlabCiLocal } from './helpers/ci-engines.js';
import { junitCases } from './helpers/junit.js';
import { registryUnavailable, startRegistry } from './helpers/registry.js';

const test = suite('ci-engines (long)');

test('gitlab-ci-local runs the exported demo pipeline: dependency order, separate checkouts and caches, shared nodes once, JUnit collected', async () => {
  const why = registryUnavailable();
  if (why) return console.log(`  skipped: ${why}`);
  const t = await tempDir('harness-glci-');
  const reg = await startRegistry();
  try {
    const repo = path.join(t.dir, 'repo');
    await demoRepo(repo);
    await exportDemo(repo, 'gitlab', path.join(repo, '.gitlab-ci.yml'), ['--store', reg.store('harness/demo-tree'), '--store-insecure']);
    const r = await gitlabCiLocal(repo, path.join(t.dir, 'home'), ['--shell-executor-no-image', '--shell-isolation', '--concurrency', '2', '--variable', 'DEMO_ADMIN_PASSWORD=ci-demo-pa55'], 1_800_000);
    assert.is(r.code, 0, r.out.slice(-6000));
    const jobs = ['undercloud', 'test-nova_cpu-2', 'test-nova_cpu-4', 'test-upgraded'];
    for (const j of jobs) assert.match(r.out, new RegExp(`PASS\\s+${j.replace(/[-]/g, '\\-')}`), `job ${j} did not pass`);
    const runs = new Map<string, { journal: Awaited<ReturnType<typeof readJournal>>; started: number; ended: number }>();
    for (const j of jobs) {
      // Artifacts come back to the project folder; each job ran in its own build folder with its own cache.
      const runDir = path.join(repo, 'runs', j);
      const manifest = await readManifest(path.join(runDir, 'manifest.json'));
      runs.set(j, { journal: await readJournal(path.join(runDir, 'journal.json')), started: Date.parse(manifest.started), ended: Date.parse(manifest.ended ?? manifest.started) });
      assert.ok(existsSync(path.join(repo, '.gitlab-ci-local', 'builds', j, '.harness-cache', 'ansible-harness', 'checkpoints', 'by-key')), `job ${j} has no checkpoint cache of its own`);
      const cases = await junitCases(path.join(runDir, 'junit.xml'));
      assert.ok(cases.length > 0, `no JUnit cases from ${j}`);
      assert.not.ok(cases.some((c) => c.outcome === 'failure' || c.outcome === 'error'), `failed cases in ${j}`);
    }
    const status = (j: string, stage: string) => runs.get(j)!.journal.stages.find((s) => s.name === stage)?.status;
    // The shared nodes ran once, in the fork's job; the others restored them from the registry.
    for (const s of ['lint', 'prepare', 'undercloud']) {
      assert.is(status('undercloud', s), 'passed', s);
      for (const j of jobs.slice(1)) assert.is(status(j, s), 'restored', `${s} in ${j}`);
    }
    assert.is(status('test-nova_cpu-2', 'test[nova_cpu=2]'), 'passed');
    assert.is(status('test-nova_cpu-4', 'test[nova_cpu=4]'), 'passed');
    assert.is(status('test-upgraded', 'test-upgraded'), 'passed');
    assert.match(r.out, /undercloud\s+> harness: pushed checkpoint [0-9a-f]{12} to oci:/);
    for (const j of jobs.slice(1)) assert.match(r.out, new RegExp(`${j.replace(/[-]/g, '\\-')}\\s+> harness: pulled checkpoint [0-9a-f]{12} \\(after 'undercloud'\\)`));
    // Dependency order: every job after the fork started after the fork's job ended.
    for (const j of jobs.slice(1)) assert.ok(runs.get(j)!.started >= runs.get('undercloud')!.ended, `${j} started before undercloud ended`);
    assert.ok((await readdir(path.join(reg.dataDir, 'docker', 'registry', 'v2', 'repositories', 'harness', 'demo-tree', '_manifests', 'tags'))).length >= 1);
  } finally {
    await reg.stop();
    await t.remove();
  }
});

test.run();
