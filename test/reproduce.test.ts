import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';

const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'engine');

test('a failed run leaves one bundle with no secret in it, and reproduce replays it elsewhere', async () => {
  const t = await tempDir('harness-repro-');
  try {
    // A project of its own (scenario, playbooks, inventory), which is deleted before the replay.
    const project = path.join(t.dir, 'project');
    await mkdir(project);
    for (const f of ['ok.yml', 'fail-one.yml', 'consume.yml', 'publish.yml', 'local.ini']) await cp(path.join(FIXTURES, f), path.join(project, f));
    await writeFile(
      path.join(project, 'scenario.yml'),
      `name: repro\nlab: { provider: static, inventory: local.ini }\nvars: { release: "3.1" }\nsecrets: { secret_token: { env: REPRO_TOKEN } }\nstages:\n` +
        `  - { name: publish, playbook: publish.yml, hosts: [db] }\n  - { name: consume, playbook: consume.yml, hosts: [web] }\n  - { name: deploy, playbook: fail-one.yml }\n`,
    );
    const token = 'canary-9c1e-repro-secret';
    const env = { REPRO_TOKEN: token, ENGINE_TEST_TOKEN: token, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const first = await harness(['run', path.join(project, 'scenario.yml'), '--out', path.join(t.dir, 'runs', 'first'), '-e', 'extra=yes'], { env });
    assert.is(first.code, 1, first.stderr + first.stdout);
    assert.not.ok(first.stdout.includes(token) || first.stderr.includes(token), 'no secret on the console');
    const bundle = path.join(t.dir, 'runs', 'first.tar.gz');
    const raw = gunzipSync(await readFile(bundle));
    assert.not.ok(raw.includes(token), 'no secret anywhere in the bundle');
    assert.not.ok(raw.includes('PRIVATE KEY'), 'no private key in the bundle');
    const listing = execFileSync('tar', ['tzf', bundle], { encoding: 'utf8' });
    for (const f of ['first/junit.xml', 'first/journal.json', 'first/manifest.json', 'first/report.html', 'first/source/scenario.yml', 'first/source/fail-one.yml', 'first/source/index.json']) {
      assert.ok(listing.split('\n').includes(f), `${f} in the bundle:\n${listing}`);
    }
    // Elsewhere: the bundle alone, without the project.
    await rm(project, { recursive: true });
    const elsewhere = path.join(t.dir, 'elsewhere');
    await mkdir(elsewhere);
    await cp(bundle, path.join(elsewhere, 'first.tar.gz'));
    const again = await harness(['reproduce', path.join(elsewhere, 'first.tar.gz'), '--out', path.join(elsewhere, 'replay')], { env, cwd: elsewhere });
    assert.is(again.code, 1, again.stderr + again.stdout);
    assert.match(again.stdout, /same versions and hosts as the original run/);
    const manifest = JSON.parse(await readFile(path.join(elsewhere, 'replay', 'manifest.json'), 'utf8'));
    assert.equal(manifest.extraVars, { extra: 'yes' }, 'same parameters');
    const journal = JSON.parse(await readFile(path.join(elsewhere, 'replay', 'journal.json'), 'utf8'));
    assert.equal(journal.stages.map((s: { status: string }) => s.status), ['passed', 'passed', 'failed'], 'same outcome');
    // On another lab: the differences are named.
    const other = path.join(elsewhere, 'other.ini');
    await writeFile(other, '[web]\nweb-0\nweb-9\n[db]\ndb-0\n[all:vars]\nansible_connection=local\nansible_python_interpreter=/usr/bin/python3\n');
    const onOther = await harness(['reproduce', path.join(elsewhere, 'first.tar.gz'), '--lab', other, '--out', path.join(elsewhere, 'other-run')], { env, cwd: elsewhere });
    assert.match(onOther.stdout, /hosts of the original run missing here: web-1/);
    assert.match(onOther.stdout, /hosts here that the original run did not have: web-9/);
  } finally {
    await t.remove();
  }
});

test('reproduce refuses a hostile bundle with exit 2', async () => {
  const t = await tempDir('harness-repro-');
  try {
    const evil = path.join(t.dir, 'evil.tar');
    // A tar entry that climbs out of the target folder.
    const header = Buffer.alloc(512);
    header.write('../../escaped.txt', 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write('00000000005\0', 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    const body = Buffer.alloc(512);
    body.write('evil\n');
    await writeFile(evil, Buffer.concat([header, body, Buffer.alloc(1024)]));
    execFileSync('gzip', [evil]);
    const r = await harness(['reproduce', `${evil}.gz`, '--out', path.join(t.dir, 'out')], { cwd: t.dir });
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /escaped\.txt/);
    assert.not.ok(await readFile(path.join(t.dir, '..', 'escaped.txt')).then(() => true, () => false));
  } finally {
    await t.remove();
  }
});

test.run();
