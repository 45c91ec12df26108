// A closed stdout (`harness run ... | head -2`) must not stop a run: the console stops writing,
// the run goes on to its end (release, journal, report, bundle) and exits with its own code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';
import { pidAlive, writeScenario } from './helpers/scenario.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'harness');

/**
 * Runs the CLI with stdout into a pipe whose reader closes: after `bytes` bytes, or (0) before
 * the CLI writes anything. Resolves with the exit code, what was read and stderr.
 */
function withClosedStdout(args: string[], bytes: number): Promise<{ code: number; read: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let read = '';
    let stderr = '';
    if (bytes === 0) child.stdout.destroy();
    else {
      child.stdout.on('data', (d: Buffer) => {
        read += d.toString();
        if (read.length >= bytes) child.stdout.destroy();
      });
    }
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), read, stderr }));
  });
}

test('run | head: the run goes to its end (release, journal, report, bundle) and keeps its exit code', async () => {
  const t = await tempDir();
  try {
    const marks = path.join(t.dir, 'marks');
    const file = await writeScenario(
      t.dir,
      `name: epipe\nlab:\n  provider: local\n  hosts:\n    web-0: {}\n    web-1: {}\nvars: { marker_dir: ${marks} }\nstages:\n` +
        `  - { name: first, playbook: @F/ok.yml }\n  - { name: broken, playbook: @F/fail-one.yml }\n  - { name: cleanup, playbook: @F/touch.yml, always: true }\n`,
    );
    const out = path.join(t.dir, 'run');
    const r = await withClosedStdout(['run', file, '--out', out], 20);
    assert.ok(r.read.length >= 20, `the reader got its bytes before closing: ${r.read}`);
    assert.not.match(r.stderr, /EPIPE|\n\s+at /, r.stderr);
    assert.is(r.code, 1, `the run's own code (a voting stage failed), not a crash: ${r.stderr}`);
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8'));
    assert.is(journal.status, 'failed');
    assert.equal(journal.stages.map((s: { status: string }) => s.status), ['passed', 'failed', 'passed']);
    assert.ok(existsSync(path.join(marks, 'cleanup-web-0')), 'the always-stage ran');
    assert.ok(existsSync(path.join(out, 'report.html')), 'report.html written');
    assert.ok(existsSync(path.join(out, 'manifest.json')), 'manifest written');
    assert.ok(existsSync(`${out}.tar.gz`), 'bundle packed');
    const lab = JSON.parse(await readFile(path.join(out, 'lab.json'), 'utf8'));
    const pids = [...JSON.stringify(lab).matchAll(/"pid":\s*(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(pids.length >= 2, 'lab.json names the sshd pids');
    for (const pid of pids) assert.not.ok(await pidAlive(pid), `sshd ${pid} left running`);
  } finally {
    await t.remove();
  }
});

test('plan | head: exit 0, no EPIPE trace', async () => {
  const r = await withClosedStdout(['plan', path.join(PACKAGE_ROOT, 'scenarios', 'demo.yml'), '--no-checkpoints'], 0);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
});

test.run();
