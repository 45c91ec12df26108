import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { harness, tempDir } from './helpers/cli.js';
import { copyExample, EXAMPLE } from './helpers/package-gating.js';

// The package gating example (seeds/002) without a lab: its build and repository scripts make a
// real .deb and APT repository, and its checkpoint keys keep `prepared` across package changes.
// The runs on the local lab are in package-gating.long.test.ts, on qemu in package-gating-vm.long.test.ts.
const test = suite('package gating');
const exec = promisify(execFile);

/** The checkpoint key of every node (empty for a node that takes no checkpoint), from `harness plan --json`. */
async function keys(scenario: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<Record<string, string>> {
  const r = await harness(['plan', scenario, '--json', ...extra], { env });
  assert.is(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { stages: { name: string; key?: { key: string } }[] };
  return Object.fromEntries(plan.stages.map((s) => [s.name, s.key?.key ?? '']));
}

test('a package change keeps the key of prepared (the cluster prepared ahead) and changes every key after it', async () => {
  const t = await tempDir('harness-gating-keys-');
  try {
    const scenario = await copyExample(t.dir);
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const before = await keys(scenario, env);
    assert.equal(Object.keys(before), ['prepared', 'build', 'repository', 'publish', 'install-test', 'systest']);
    await writeFile(path.join(t.dir, 'examples', 'package-gating', 'src', 'VERSION'), '1.0.1\n');
    const after = await keys(scenario, env);
    assert.is(after.prepared, before.prepared, 'the package is no input of prepared');
    // publish (the fork point, checkpointed) chains build's key, which hashes the source.
    assert.ok(before.publish);
    assert.is.not(after.publish, before.publish, 'publish depends on the package');
    // A change of what prepares the cluster does change prepared.
    await writeFile(path.join(t.dir, 'examples', 'package-gating', 'playbooks', 'prepared.yml'), `${await readFile(path.join(EXAMPLE, 'playbooks', 'prepared.yml'), 'utf8')}# edited\n`);
    assert.is.not((await keys(scenario, env)).prepared, before.prepared);
  } finally {
    await t.remove();
  }
});

test('build.sh makes a real .deb of the source (the broken switch leaves the library out); repository.sh an APT repository of it', async () => {
  const t = await tempDir('harness-gating-build-');
  try {
    const run = path.join(t.dir, 'run');
    const build = path.join(run, 'stages', '02-build', 'outputs');
    const broken = path.join(t.dir, 'broken');
    const repo = path.join(t.dir, 'repo');
    await Promise.all([build, broken, repo].map((d) => mkdir(d, { recursive: true })));
    const env = (stageDir: string, vars: object = {}) => ({ ...process.env, HARNESS_STAGE_DIR: stageDir, HARNESS_RUN_DIR: run, HARNESS_VARS: JSON.stringify(vars) });
    const version = (await readFile(path.join(EXAMPLE, 'src', 'VERSION'), 'utf8')).trim();
    const deb = path.join(build, `tinysvc_${version}_all.deb`);

    const built = await exec(path.join(EXAMPLE, 'build.sh'), [], { env: env(build) });
    assert.match(built.stdout, /lintian|lint skipped: lintian is not installed/);
    const contents = (await exec('dpkg-deb', ['--contents', deb])).stdout;
    for (const f of ['./usr/bin/tinysvc', './usr/sbin/tinysvcd', './usr/lib/tinysvc/tinysvc_lib.py', './lib/systemd/system/tinysvc.service', './etc/tinysvc/tinysvc.json']) assert.ok(contents.includes(f), `${f} in the package:\n${contents}`);
    assert.is((await exec('dpkg-deb', ['--field', deb, 'Version'])).stdout.trim(), version);
    // The library carries the version (stamped at build).
    const lib = (await exec('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -xOf - ./usr/lib/tinysvc/tinysvc_lib.py`])).stdout;
    assert.match(lib, new RegExp(`VERSION = "${version.replaceAll('.', '\\.')}"`));

    await exec(path.join(EXAMPLE, 'build.sh'), [], { env: env(broken, { package_broken: 'true' }) });
    const brokenContents = (await exec('dpkg-deb', ['--contents', path.join(broken, `tinysvc_${version}_all.deb`)])).stdout;
    assert.not.ok(brokenContents.includes('tinysvc_lib.py'), 'the broken package has no library');

    await exec(path.join(EXAMPLE, 'repository.sh'), [], { env: env(repo, { pkg_codename: 'bookworm' }) });
    const list = await readFile(path.join(repo, 'packages.txt'), 'utf8');
    assert.match(list, new RegExp(`^tinysvc ${version.replaceAll('.', '\\.')} pool/main/t/tinysvc/tinysvc_${version.replaceAll('.', '\\.')}_all\\.deb [0-9a-f]{64}\\n$`));
    const arch = (await exec('dpkg', ['--print-architecture'])).stdout.trim();
    const release = await readFile(path.join(repo, 'repo', 'dists', 'bookworm', 'Release'), 'utf8');
    assert.match(release, /^Codename: bookworm$/m);
    assert.match(release, /^Components: main$/m);
    // The Release file's checksum of the index is the index's.
    const index = path.join(repo, 'repo', 'dists', 'bookworm', 'main', `binary-${arch}`, 'Packages');
    const sha = (await exec('sha256sum', [index])).stdout.split(' ')[0]!;
    assert.match(release, new RegExp(`^ ${sha} +\\d+ main/binary-${arch}/Packages$`, 'm'));
    assert.match(await readFile(index, 'utf8'), /^Package: tinysvc$/m);
    // The same repository as one archive, for the publish stage.
    const archived = (await exec('tar', ['-tzf', path.join(repo, 'repo.tar.gz')])).stdout;
    assert.ok(archived.includes(`./pool/main/t/tinysvc/tinysvc_${version}_all.deb`) && archived.includes('./dists/bookworm/Release'), archived);
  } finally {
    await t.remove();
  }
});

test.run();
