import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { harness, tempDir } from './helpers/cli.js';
import { junitCases } from './helpers/junit.js';
import { copyExample, packageList, runGating } from './helpers/package-gating.js';

// The package gating flow of seeds/002 end to end on the local lab (scenarios/package-gating.yml,
// a copy of it): a real .deb built and published as an APT repository served over HTTP, the
// install test and the system test in parallel (--jobs 2); the broken switch fails the install
// test and cancels the system test, the failing bundle reproduces the failure; a package change
// restores `prepared`. Long: four real runs of a four-host lab.
const test = suite('package gating (local lab)');
const exec = promisify(execFile);

test('passes; broken fails the install test and cancels the system test; a package change restores prepared', async () => {
  const t = await tempDir('harness-gating-');
  try {
    const scenario = await copyExample(t.dir);
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };

    // 1. Cold: everything runs; the system test's own JUnit results are merged.
    const cold = await runGating(scenario, path.join(t.dir, 'cold'), ['--jobs', '2'], env);
    assert.is(cold.r.code, 0, cold.r.stdout.slice(-4000));
    for (const n of ['prepared', 'build', 'repository', 'publish', 'install-test', 'systest']) assert.is(cold.status[n], 'passed', `${n}: ${cold.reason[n]}`);
    assert.match(await packageList(cold.out), /^tinysvc 1\.0\.0 pool\/main\/t\/tinysvc\/tinysvc_1\.0\.0_all\.deb [0-9a-f]{64}$/m);
    const cases = await junitCases(path.join(cold.out, 'junit.xml'));
    const systest = cases.filter((c) => c.name.includes('reports version 1.0.0'));
    assert.is(systest.length, 4, `two checks on each of the two nodes: ${JSON.stringify(cases.map((c) => c.name))}`);
    assert.ok(systest.every((c) => c.outcome === 'passed'));
    // collect kept the repository's package list from the repo host, and the logs.
    const hosts = await readdir(path.join(cold.out, 'hosts'), { recursive: true });
    assert.ok(hosts.some((f) => String(f).endsWith('dists/bookworm/main/binary-amd64/Packages')), `the package list was collected: ${hosts.join(', ')}`);
    assert.ok(hosts.some((f) => String(f).includes('var/log/tinysvc/tinysvc.log')), 'the service log was collected');
    console.log(`  cold: ${cold.seconds.toFixed(1)} s`);

    // 2. Broken package: the install test fails, the system test is cancelled within seconds, exit 1.
    const broken = await runGating(scenario, path.join(t.dir, 'broken'), ['--jobs', '2', '-e', 'package_broken=true'], env);
    assert.is(broken.r.code, 1, broken.r.stdout.slice(-4000));
    assert.is(broken.status['install-test'], 'failed');
    assert.match(broken.r.stdout, /tinysvc --version|No module named 'tinysvc_lib'/);
    // The system test is cancelled when the install test fails first (it then ends within seconds,
    // even while running); it can also meet the broken package itself first and fail on it. Both
    // stop it; which comes first is a race of the two branches.
    assert.ok(['skipped', 'failed'].includes(broken.status.systest!), `systest: ${broken.status.systest}`);
    let how = `systest failed on its own: ${broken.reason.systest}`;
    if (broken.status.systest === 'skipped') {
      assert.match(broken.reason.systest ?? '', /cancelled: stage 'install-test' failed \(cancelled_by\)/);
      const lag = (broken.ended.systest! - broken.ended['install-test']!) / 1000;
      assert.ok(lag < 15, `systest ended ${lag} s after install-test failed`);
      how = `systest cancelled ${lag.toFixed(1)} s after the install test failed`;
    }
    // The bundle says why: its journal carries the reasons.
    const bundle = `${broken.out}.tar.gz`;
    const journal = (await exec('tar', ['-xzOf', bundle, 'broken/journal.json'], { maxBuffer: 64 << 20 })).stdout;
    assert.match(journal, /"name": "install-test",[^}]*"status": "failed"/);
    const junit = (await exec('tar', ['-xzOf', bundle, 'broken/junit.xml'], { maxBuffer: 64 << 20 })).stdout;
    assert.match(junit, /Smoke test - the command line prints its version/, 'the failing smoke step is a failed case');
    assert.match(junit, /<failure/);
    console.log(`  broken: ${broken.seconds.toFixed(1)} s, ${how}`);

    // 3. The failing bundle, reproduced: the same parameters (-e package_broken=true), the same failure.
    const again = await harness(['reproduce', bundle, '--out', path.join(t.dir, 'reproduced')], { env, timeoutMs: 1_200_000 });
    assert.is(again.code, 1, again.stdout.slice(-4000));
    const rj = JSON.parse(await readFile(path.join(t.dir, 'reproduced', 'journal.json'), 'utf8')) as { stages: { name: string; status: string; reason?: string }[] };
    assert.is(rj.stages.find((s) => s.name === 'install-test')?.status, 'failed');
    assert.ok(['skipped', 'failed'].includes(rj.stages.find((s) => s.name === 'systest')!.status));

    // 4. A package change (1.0.1): prepared restored, not prepared again; the new version tested.
    await writeFile(path.join(t.dir, 'examples', 'package-gating', 'src', 'VERSION'), '1.0.1\n');
    const warm = await runGating(scenario, path.join(t.dir, 'warm'), ['--jobs', '2'], env);
    assert.is(warm.r.code, 0, warm.r.stdout.slice(-4000));
    assert.is(warm.status.prepared, 'restored');
    for (const n of ['build', 'repository', 'publish', 'install-test', 'systest']) assert.is(warm.status[n], 'passed', `${n}: ${warm.reason[n]}`);
    assert.match(await packageList(warm.out), /^tinysvc 1\.0\.1 /m);
    assert.ok((await junitCases(path.join(warm.out, 'junit.xml'))).some((c) => c.name.includes('reports version 1.0.1') && c.outcome === 'passed'));
    console.log(`  warm (package changed, prepared restored): ${warm.seconds.toFixed(1)} s`);
  } finally {
    await t.remove();
  }
});

test.run();
