// Loopback address blocks of local labs: two processes allocating at once get addresses of
// their own (a fixed port on each lab address, like the demo's API, binds in both), and the
// claim of a process that died is taken over. Real sshd, real child processes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../lib/paths.js';
import type { Lab } from '../lib/model/index.js';
import { createLocalProvider } from '../lib/lab/local/index.js';
import { procStartTicks } from '../lib/util/proc.js';
import { freePort } from '../lib/lab/local/address.js';

const test = suite('local lab: address claims');
let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-claims-'));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function lab(names: string[]): Lab {
  return { provider: 'local', hosts: names.map((name) => ({ name, groups: ['g'], vars: {} })), groups: [{ name: 'g', children: [], vars: {} }], vars: {} };
}

/** A child process that allocates a 2-host local lab, binds `port` on each host's address, prints what it got, and releases when its stdin closes. */
function allocator(name: string, port: number) {
  const provider = pathToFileURL(path.join(PACKAGE_ROOT, 'dist', 'lib', 'lab', 'local', 'index.js')).href;
  const script = `
import net from 'node:net';
import { createLocalProvider } from ${JSON.stringify(provider)};
const p = createLocalProvider();
const runDir = ${JSON.stringify(path.join(tmp, name))};
const a = await p.allocate({ provider: 'local', hosts: [{ name: 'x', groups: [], vars: {} }, { name: 'y', groups: [], vars: {} }], groups: [], vars: {} }, { runDir, privateDir: runDir + '/private' });
const servers = [];
const bound = [];
for (const h of a.lab.hosts) {
  const s = net.createServer();
  bound.push(await new Promise((ok) => { s.once('error', (e) => ok(e.code)); s.listen(${port}, h.address, () => ok('bound')); }));
  servers.push(s);
}
console.log(JSON.stringify({ addresses: a.lab.hosts.map((h) => h.address), bound }));
process.stdin.resume();
await new Promise((ok) => process.stdin.once('end', ok));
for (const s of servers) s.close();
await p.release();
`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = new Promise<{ addresses: string[]; bound: string[] }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l) as { addresses: string[]; bound: string[] }));
    child.once('exit', (code) => reject(new Error(`allocator ${name} exited ${code} before it printed`)));
  });
  return { child, line };
}

test('two processes allocating at once get disjoint addresses; the same fixed port binds in both', async () => {
  const port = await freePort('127.0.0.1');
  const one = allocator('one', port);
  const two = allocator('two', port);
  try {
    const [a, b] = await Promise.all([one.line, two.line]);
    assert.ok(a.addresses.every((x) => !b.addresses.includes(x)), `disjoint: ${a.addresses} / ${b.addresses}`);
    assert.equal(a.bound, ['bound', 'bound'], `port ${port} on ${a.addresses}`);
    assert.equal(b.bound, ['bound', 'bound'], `port ${port} on ${b.addresses}`);
  } finally {
    for (const c of [one.child, two.child]) {
      c.stdin!.end();
      if (c.exitCode === null) await once(c, 'exit');
    }
  }
  assert.is(one.child.exitCode, 0);
  assert.is(two.child.exitCode, 0);
});

test('a claim of a dead process is taken over; a live one is left alone; release gives the block back', async () => {
  const claims = path.join(tmp, 'claims');
  const dead = spawn('true');
  await once(dead, 'exit');
  const me = await procStartTicks(process.pid);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(claims, { recursive: true });
  const live = JSON.stringify({ pid: process.pid, startTicks: me, token: 'live', runDir: '/x', created: new Date().toISOString() });
  const stale = JSON.stringify({ pid: dead.pid, startTicks: 1, token: 'stale', runDir: '/y', created: new Date().toISOString() });
  await writeFile(path.join(claims, '127.0.0.claim'), live);
  await writeFile(path.join(claims, '127.0.1.claim'), stale);
  const provider = createLocalProvider({ addressClaims: claims });
  const runDir = path.join(tmp, 'stale');
  const a = await provider.allocate(lab(['x']), { runDir, privateDir: path.join(runDir, 'private') });
  try {
    assert.is(a.lab.hosts[0]!.address, '127.0.1.2', 'the dead process\'s block');
    const now = JSON.parse(await readFile(path.join(claims, '127.0.1.claim'), 'utf8'));
    assert.is(now.pid, process.pid);
    assert.is.not(now.token, 'stale');
    assert.is(await readFile(path.join(claims, '127.0.0.claim'), 'utf8'), live, 'the live claim is untouched');
  } finally {
    await provider.release();
  }
  assert.not.ok(existsSync(path.join(claims, '127.0.1.claim')), 'released');
  assert.ok(existsSync(path.join(claims, '127.0.0.claim')));
});

test.run();
