#!/usr/bin/env node
// Runs the uvu suites compiled to dist/test and ends with the plain line `tests: N passed, N failed`.
// Usage: node scripts/test.mjs [pattern]   (a regex on the test file's path under dist/test;
// default: every *.test.js but the long end-to-end ones, *.long.test.js, which `npm run
// test:long` runs)
//
// Each test file runs in a uvu process of its own, HARNESS_TEST_JOBS of them at once (default 2,
// this suite's machines have 2 cores; the files claim their own addresses, ports and folders, as
// every lab does). The slowest files start first (test/durations.json, the seconds each took when
// it was last recorded; HARNESS_TEST_RECORD=1 rewrites it), so that the workers end together.
// A file's output is printed whole when it ends, so that two files never interleave. A file that
// runs longer than HARNESS_TEST_FILE_TIMEOUT seconds (default 900) is stopped and counts as failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const uvuBin = path.join(root, 'node_modules', 'uvu', 'bin.js');
const testDir = path.join(root, 'dist', 'test');
const durationsFile = path.join(root, 'test', 'durations.json');
const pattern = new RegExp(process.argv[2] ?? '^(?!.*\\.long\\.test\\.js$).*\\.test\\.js$');
const jobs = Math.max(1, Number(process.env.HARNESS_TEST_JOBS) || 2);
const fileTimeoutMs = (Number(process.env.HARNESS_TEST_FILE_TIMEOUT) || 900) * 1000;

/** Every compiled .js under dist/test (but fixtures) whose path relative to it matches. */
function testFiles(dir, rel = '') {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== 'fixtures') found.push(...testFiles(path.join(dir, entry.name), r));
    } else if (entry.name.endsWith('.js') && pattern.test(r)) found.push(r);
  }
  return found;
}

let known = {};
try {
  known = JSON.parse(readFileSync(durationsFile, 'utf8'));
} catch {
  // No record yet: every file weighs the same.
}
const files = testFiles(testDir);
if (files.length === 0) {
  console.log(`no test file under dist/test matches ${pattern}`);
  console.log('\ntests: 0 passed, 1 failed');
  process.exit(1);
}
const weight = (f) => known[f.replace(/\.js$/, '.ts')] ?? 10;
const queue = [...files].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));

// The suite never touches the user's cache (~/.cache/ansible-harness): what it caches goes to a
// folder of its own (one per test file), removed at the end (the qemu image cache is
// test/helpers/cache.ts's).
const cache = mkdtempSync(path.join(os.tmpdir(), 'harness-test-cache-'));
const running = new Map();
const results = [];
let stopping = false;

const num = (out, label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? NaN);

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Own process group: a file that is stopped takes the sshd, qemu and ansible it started with it.
    const child = spawn(process.execPath, [uvuBin, 'dist/test', `^${escaped}$`, '-i', 'fixtures', '-c', 'false'], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A cache folder of the file's own: files that run at once never share a checkpoint store.
      env: { ...process.env, FORCE_COLOR: '0', XDG_CACHE_HOME: path.join(cache, file.replace(/[/.]/g, '_')) },
    });
    running.set(child.pid, child);
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop(child, 'SIGTERM');
      setTimeout(() => stop(child, 'SIGKILL'), 10_000).unref();
    }, fileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child.pid);
      const seconds = (Date.now() - started) / 1000;
      const total = num(out, 'Total');
      const passed = num(out, 'Passed');
      const skipped = num(out, 'Skipped');
      let failed = Number.isNaN(total) ? 1 : total - passed - skipped;
      if (code !== 0 && failed === 0) failed = 1;
      const note = timedOut
        ? `\n${file}: stopped after ${fileTimeoutMs / 1000} s (HARNESS_TEST_FILE_TIMEOUT)\n`
        : Number.isNaN(total)
          ? `\n${file}: ended without a summary (exit ${code ?? signal})\n`
          : '';
      process.stdout.write(`${out.trimEnd()}\n${note}  (${file}: ${seconds.toFixed(1)} s)\n`);
      const r = { file, seconds, passed: passed || 0, skipped: skipped || 0, failed };
      results.push(r);
      resolve(r);
    });
  });
}

function stop(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    queue.length = 0;
    for (const child of running.values()) stop(child, 'SIGTERM');
    setTimeout(() => {
      for (const child of running.values()) stop(child, 'SIGKILL');
    }, 10_000).unref();
  });
}

async function worker() {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runFile(file);
}

const suiteStarted = Date.now();
await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker));
rmSync(cache, { recursive: true, force: true });

const passed = results.reduce((n, r) => n + r.passed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
let failed = results.reduce((n, r) => n + r.failed, 0);
if (stopping) failed = Math.max(failed, 1);
const slow = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 16);
if (slow.length > 1) console.log(`\nslowest files: ${slow.map((r) => `${r.file} ${r.seconds.toFixed(0)}s`).join(', ')}`);
const bad = results.filter((r) => r.failed > 0).map((r) => r.file);
if (bad.length) console.log(`\nfiles with failures: ${bad.join(', ')}`);
console.log(`\n${results.length} files, ${jobs} at once, ${((Date.now() - suiteStarted) / 1000).toFixed(0)} s`);
if (process.env.HARNESS_TEST_RECORD === '1' && !stopping) {
  const record = { ...known };
  for (const r of results) record[r.file.replace(/\.js$/, '.ts')] = Math.round(r.seconds);
  const sorted = Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(durationsFile, `${JSON.stringify(sorted, null, 2)}\n`);
  console.log(`recorded ${results.length} durations in test/durations.json`);
}
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
