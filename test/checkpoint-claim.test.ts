import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claimOrWait } from '../lib/checkpoint/claim.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'claim-child.js');
let dir = '';
test.before.each(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'harness-claim-'));
});
test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching `re`. */
  line(re: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

function child(key: string, buildMs: number, mode?: 'fail'): Child {
  const proc = spawn(process.execPath, [CHILD, dir, key, String(buildMs), ...(mode ? [mode] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: Array<[RegExp, (l: string) => void]> = [];
  let rest = '';
  proc.stdout!.on('data', (c: Buffer) => {
    rest += c.toString();
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const l = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      lines.push(l);
      for (const [re, fn] of waiters) if (re.test(l)) fn(l);
    }
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc, lines, exited,
    line: (re) => {
      const found = lines.find((l) => re.test(l));
      return found ? Promise.resolve(found) : new Promise((r) => waiters.push([re, r]));
    },
  };
}

test('two processes needing one node: one builds it, the other waits and takes the result', async () => {
  const a = child('k1', 800);
  await a.line(/^claimed/);
  const b = child('k1', 800);
  await Promise.all([a.exited, b.exited]);
  assert.equal(a.lines, ['claimed', 'built']);
  assert.equal(b.lines, [`waiting ${a.proc.pid}`, `done after ${a.proc.pid}`]);
  assert.is((await readFile(path.join(dir, 'k1.done'), 'utf8')).trim(), String(a.proc.pid));
});

test('a failed build is no result: the waiter builds the node itself', async () => {
  const a = child('k2', 600, 'fail');
  await a.line(/^claimed/);
  const b = child('k2', 100);
  await Promise.all([a.exited, b.exited]);
  assert.equal(a.lines, ['claimed', 'failed']);
  assert.equal(b.lines, [`waiting ${a.proc.pid}`, 'claimed', 'built']);
});

test('a claimant killed with SIGKILL loses its claim: a waiter takes over within seconds', async () => {
  const a = child('k3', 60_000);
  await a.line(/^claimed/);
  const b = child('k3', 100);
  await b.line(/^waiting/);
  const t0 = Date.now();
  a.proc.kill('SIGKILL');
  await b.exited;
  assert.equal(b.lines, [`waiting ${a.proc.pid}`, `claimed over ${a.proc.pid}`, 'built']);
  assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
});

test('interrupting a waiter leaves the claimant alone', async () => {
  const a = child('k4', 1200);
  await a.line(/^claimed/);
  const b = child('k4', 100);
  await b.line(/^waiting/);
  b.proc.kill('SIGTERM');
  await b.exited;
  assert.match(b.lines.at(-1)!, /^aborted SIGTERM/);
  await a.exited;
  assert.equal(a.lines, ['claimed', 'built']);
  assert.equal((await readdir(dir)).sort(), ['k4.done']); // no claim or lock file left
});

test('a claim left by a dead process, and a torn claim file past the heartbeat, are taken over', async () => {
  await writeFile(path.join(dir, 'k5.claim'), JSON.stringify({ id: 'old', pid: 2 ** 22 + 17, host: hostname(), what: 'x', since: 'then' }));
  const out = await claimOrWait(dir, 'k5', { isDone: async () => false, what: 'me', staleMs: 60_000 });
  assert.is(out.state, 'claimed');
  assert.is(out.state === 'claimed' && out.tookOver?.id, 'old');
  if (out.state === 'claimed') await out.claim.release();
  await writeFile(path.join(dir, 'k6.claim'), '{"id": "to'); // its writer died mid-write
  const { utimes } = await import('node:fs/promises');
  await utimes(path.join(dir, 'k6.claim'), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  const out2 = await claimOrWait(dir, 'k6', { isDone: async () => false, what: 'me', staleMs: 2000 });
  assert.is(out2.state, 'claimed');
  if (out2.state === 'claimed') await out2.claim.release();
  assert.equal(await readdir(dir), []);
});

test('a node already built is not claimed at all', async () => {
  const out = await claimOrWait(dir, 'k7', { isDone: async () => true, what: 'me' });
  assert.equal(out, { state: 'done' });
  assert.equal(await readdir(dir), []);
});

test('a claims folder that cannot be written (chaos seed 104: a read-only store) builds unclaimed and says so, no crash', async () => {
  // a folder under a regular file cannot be made, for root too (ENOTDIR)
  await writeFile(path.join(dir, 'file'), '');
  const said: string[] = [];
  const out = await claimOrWait(path.join(dir, 'file', 'claims'), 'k8', { isDone: async () => false, what: 'me', onUnclaimed: (why) => said.push(why) });
  assert.is(out.state, 'claimed');
  if (out.state === 'claimed') await out.claim.release();
  assert.is(said.length, 1);
  assert.match(said[0]!, /cannot be written \(ENOTDIR\); building without a claim/);
});

test('a claim whose folder became unwritable (chaos seed 2027: the store made read-only mid-build) releases without a crash', async () => {
  const claims = path.join(dir, 'claims');
  const out = await claimOrWait(claims, 'k9', { isDone: async () => false, what: 'me' });
  assert.is(out.state, 'claimed');
  await rm(claims, { recursive: true, force: true });
  await writeFile(claims, ''); // the lock file cannot be made under it (ENOTDIR), for root too
  if (out.state === 'claimed') await out.claim.release();
});

test.run();
