import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../lib/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { createCommandProvider } from '../lib/lab/command/index.js';
import { sshArgv, validateHosts } from '../lib/lab/validate-hosts.js';
import type { AllocatedLab } from '../lib/lab/provider.js';
import { tempDir } from './helpers/cli.js';

const test = suite('validate-hosts');
const LAB = path.join(PACKAGE_ROOT, 'labs', 'loopback-sshd');
let t: { dir: string; remove: () => Promise<void> };
test.before.each(async () => {
  t = await tempDir('harness-validate-');
});
test.after.each(async () => {
  await t.remove();
});

test('ssh is called as Ansible would: the host\'s key, port and user, batch mode', () => {
  const lab: AllocatedLab = { lab: { provider: 'static', hosts: [], groups: [], vars: {} }, sshKey: '/k/lab', sshExtraArgs: ['-o', 'StrictHostKeyChecking=yes'] };
  assert.equal(sshArgv({ name: 'a', address: '10.1.1.1', port: 2200, user: 'cloud', groups: [], vars: { ansible_ssh_private_key_file: '/k/a' } }, lab, 'true'), [
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2',
    '-o', 'StrictHostKeyChecking=yes', '-i', '/k/a', '-o', 'IdentitiesOnly=yes', '-p', '2200', '-l', 'cloud', '--', '10.1.1.1', 'true',
  ]);
  assert.equal(sshArgv({ name: 'b', groups: [], vars: { ansible_host: 'b.lab', ansible_port: 22 } }, lab, 'true').slice(-7), ['-p', '22', '-l', 'root', '--', 'b.lab', 'true']);
  // A later, longer try (a slow host: an emulated VM on a busy machine) waits longer for the connection and a silent server.
  assert.equal(sshArgv({ name: 'b', groups: [], vars: {} }, lab, 'true', 120_000).slice(0, 8), [
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=40', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=8',
  ]);
});

test('a host that comes up late is retried; one that never does is named, with the last error', async () => {
  const runDir = path.join(t.dir, 'run');
  await mkdir(path.join(runDir, '.private'), { recursive: true });
  const p = createCommandProvider({ allocate: path.join(LAB, 'allocate.sh'), release: path.join(LAB, 'release.sh'), cwd: LAB, env: { ...process.env, LAB_HOSTS: 'early late' } });
  const lab = await p.allocate({ provider: 'command', hosts: [], groups: [], vars: {} }, { runDir, privateDir: path.join(runDir, '.private') });
  try {
    const ok = await validateHosts(lab, { timeoutMs: 60_000 });
    assert.equal(ok.map((c) => [c.host, c.ok, c.tries]), [['early', true, 1], ['late', true, 1]]);
    assert.match(ok[0]!.detail, /^python 3\.\d+$/);
    // Stop `late`'s sshd; start it again on the same port 1.5 s into the validation.
    const lines = (await readFile(path.join(runDir, 'lab', 'resources'), 'utf8')).trim().split('\n');
    const [pid, cfg] = lines[1]!.split(' ') as [string, string];
    process.kill(Number(pid), 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const later = setTimeout(() => {
      const d = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: 'ignore', detached: true });
      d.unref();
      // release.sh stops what resources name: add the new one.
      void import('node:fs/promises').then((fs) => fs.appendFile(path.join(runDir, 'lab', 'resources'), `${d.pid} ${cfg}\n`));
    }, 1500);
    let logged = '';
    const again = await validateHosts(lab, { timeoutMs: 60_000, firstBackoffMs: 500, log: (m) => (logged += m) });
    clearTimeout(later);
    const late = again.find((c) => c.host === 'late')!;
    assert.ok(late.ok && late.tries > 1, JSON.stringify(again));
    assert.match(logged, /validate: late not ready yet \(.*Connection refused.*\); retrying/);
    // A host whose address answers nothing, with a short deadline.
    const dead = { ...lab, lab: { ...lab.lab, hosts: [...lab.lab.hosts, { name: 'ghost', address: '127.0.0.1', port: 1, user: 'root', groups: [], vars: {} }] } };
    try {
      await validateHosts(dead, { timeoutMs: 1500, firstBackoffMs: 200 });
      assert.unreachable();
    } catch (err) {
      assert.instance(err, LabError);
      assert.match((err as Error).message, /1 of 3 host\(s\) did not answer SSH and run Python within 1\.5s|1 of 3 host\(s\) did not answer SSH and run Python within/);
      assert.match((err as Error).message, /ghost: .*Connection refused \(\d+ tries\)/);
      assert.not.match((err as Error).message, /early:|late:/);
    }
  } finally {
    await p.release();
  }
});

test.run();
