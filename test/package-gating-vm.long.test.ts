import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/cli.js';
import { SUITE_CACHE } from './helpers/cache.js';
import { junitCases } from './helpers/junit.js';
import { copyExample, packageList, runGating } from './helpers/package-gating.js';

// The package gating flow of seeds/002 on QEMU virtual machines (scenarios/package-gating-vm.yml):
// four Debian VMs, the repository served by the repo VM on the lab network, apt, dpkg and systemd
// on whole machines. One run (--jobs 1: the system test restores the publish checkpoint after the
// install test). The guest image is the suite's cached one (SUITE_CACHE/images, built if missing);
// checkpoints go to a cache of this test's own.
const test = suite('package gating (qemu lab)');

test('the flow passes on virtual machines; the system test runs on the cluster prepared ahead', async () => {
  const t = await tempDir('harness-gating-vm-');
  try {
    const scenario = await copyExample(t.dir, 'package-gating-vm.yml');
    const cache = path.join(t.dir, 'cache', 'ansible-harness');
    await mkdir(cache, { recursive: true });
    await mkdir(path.join(SUITE_CACHE, 'images'), { recursive: true });
    await symlink(path.join(SUITE_CACHE, 'images'), path.join(cache, 'images'));
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    // Hours, not minutes, under TCG on a busy machine (an Ansible task took 1-4 min at load 20-30).
    const run = await runGating(scenario, path.join(t.dir, 'run'), [], env, 3 * 3_600_000);
    assert.is(run.r.code, 0, run.r.stdout.slice(-6000));
    for (const n of ['prepared', 'build', 'repository', 'publish', 'install-test', 'systest']) assert.is(run.status[n], 'passed', `${n}: ${run.reason[n]}`);
    assert.match(await packageList(run.out), /^tinysvc 1\.0\.0 /m);
    const cases = await junitCases(path.join(run.out, 'junit.xml'));
    assert.is(cases.filter((c) => c.name.includes('every node of the cluster answers') && c.outcome === 'passed').length, 2, 'each node saw the whole cluster over the lab network');
    console.log(`  qemu: ${run.seconds.toFixed(0)} s`);
  } finally {
    await t.remove();
  }
});

test.run();
