import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { scenarioFileOfRun } from '../lib/engine/resume.js';
import { harness, tempDir } from './helpers/cli.js';

const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'engine');

test('a reproduced run keeps its sources beside it: its manifest names files that exist, and --resume of it works', async () => {
  const t = await tempDir('harness-repro-resume-');
  try {
    const project = path.join(t.dir, 'project');
    await mkdir(project);
    for (const f of ['ok.yml', 'fail-one.yml', 'local.ini']) await cp(path.join(FIXTURES, f), path.join(project, f));
    await writeFile(
      path.join(project, 'scenario.yml'),
      `name: reprores\nlab: { provider: static, inventory: local.ini }\nsecrets: { token: { env: RR_TOKEN } }\nstages:\n  - { name: hello, playbook: ok.yml }\n  - { name: deploy, playbook: fail-one.yml }\n`,
    );
    const env = { RR_TOKEN: 'canary-rr-5d1f', XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const first = await harness(['run', path.join(project, 'scenario.yml'), '--out', path.join(t.dir, 'first')], { env });
    assert.is(first.code, 1, first.stderr + first.stdout);
    await rm(project, { recursive: true }); // the bundle alone from here on

    const replay = path.join(t.dir, 'elsewhere', 'replay');
    const again = await harness(['reproduce', path.join(t.dir, 'first.tar.gz'), '--out', replay], { env, cwd: t.dir });
    assert.is(again.code, 1, again.stderr + again.stdout);
    const manifest = JSON.parse(await readFile(path.join(replay, 'manifest.json'), 'utf8'));
    assert.ok(existsSync(manifest.scenario.file), `the manifest's scenario ${manifest.scenario.file} exists after reproduce`);
    assert.ok(manifest.scenario.file.startsWith(`${replay}.source${path.sep}`), manifest.scenario.file);
    for (const p of Object.keys(manifest.playbooks)) assert.ok(existsSync(p), `playbook ${p} exists`);
    for (const f of ['manifest.json', 'report.html', 'journal.json']) {
      assert.not.match(await readFile(path.join(replay, f), 'utf8'), /harness-reproduce-/, `${f} names no temporary folder`);
    }
    assert.is(await scenarioFileOfRun(replay), manifest.scenario.file, 'the library finds the scenario from the run directory alone');

    // Resume the reproduced run, from what its run directory names.
    const resumed = await harness(['run', manifest.scenario.file, '--resume', replay, '--out', path.join(t.dir, 'resumed')], { env, cwd: t.dir });
    assert.is(resumed.code, 1, resumed.stderr + resumed.stdout);
    assert.match(resumed.stdout, /resuming .*replay/);
    const journal = JSON.parse(await readFile(path.join(t.dir, 'resumed', 'journal.json'), 'utf8'));
    assert.equal(journal.stages.map((s: { status: string }) => s.status), ['passed', 'failed']);
  } finally {
    await t.remove();
  }
});

test('reproduce of a hostile bundle keeps nothing beside the run it never started', async () => {
  const t = await tempDir('harness-repro-resume-');
  try {
    await writeFile(path.join(t.dir, 'not-a-bundle.tar.gz'), 'plain text, not gzip\n');
    const r = await harness(['reproduce', path.join(t.dir, 'not-a-bundle.tar.gz'), '--out', path.join(t.dir, 'out')], { cwd: t.dir });
    assert.is(r.code, 2, r.stderr);
    assert.not.ok(existsSync(path.join(t.dir, 'out.source')), 'no kept sources');
    assert.not.ok(existsSync(path.join(t.dir, 'out')), 'no run directory');
    const left = (await import('node:fs')).readdirSync(t.dir).filter((n) => n.startsWith('.reproduce-'));
    assert.equal(left, [], 'no staging folder left');
  } finally {
    await t.remove();
  }
});

test.run();
