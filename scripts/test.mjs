#!/usr/bin/env node
// Runs the uvu suites compiled to dist/test and ends with the plain line `N passed, N failed`.
// Usage: node scripts/test.mjs [pattern]   (a regex on the test file's path; default: every
// *.test.js but the long end-to-end ones, *.long.test.js, which `npm run test:long` runs)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const uvuBin = path.join(root, 'node_modules', 'uvu', 'bin.js');
const pattern = process.argv[2] ?? '^(?!.*\\.long\\.test\\.js$).*\\.test\\.js$';
// The suite never touches the user's cache (~/.cache/ansible-harness): what it caches goes to a
// folder of its own, removed at the end (the qemu image cache is test/helpers/cache.ts's).
const cache = mkdtempSync(path.join(os.tmpdir(), 'harness-test-cache-'));
const child = spawn(process.execPath, [uvuBin, 'dist/test', pattern, '-i', 'fixtures', '-c', 'false'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0', XDG_CACHE_HOME: cache },
});
let out = '';
// How long each test file took (uvu prints a file's name as it starts it): the slowest are listed at the end.
const times = [];
let current;
let lineRest = '';
const mark = (name) => {
  const now = Date.now();
  if (current) times.push([current[0], now - current[1]]);
  current = name ? [name, now] : undefined;
};
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  lineRest += chunk.toString();
  const lines = lineRest.split('\n');
  lineRest = lines.pop() ?? '';
  for (const l of lines) if (/^[\w.-]+\.test\.js$/.test(l.trim())) mark(l.trim());
  out += chunk.toString();
  if (out.length > 1 << 16) out = out.slice(-4096);
});
child.on('close', (code, signal) => {
  rmSync(cache, { recursive: true, force: true });
  const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped');
  if (Number.isNaN(total)) {
    console.log(`\ntest runner ended without a summary (exit ${code ?? signal})`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  mark(undefined);
  const slow = times.sort((a, b) => b[1] - a[1]).slice(0, 16).map(([f, ms]) => `${f} ${(ms / 1000).toFixed(0)}s`);
  if (slow.length > 1) console.log(`\nslowest files: ${slow.join(', ')}`);
  const failed = Math.max(total - passed - skipped, code === 0 ? 0 : 1);
  console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
