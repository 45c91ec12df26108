// The libvirt lab for real: a private libvirtd, two domains on overlays of the qemu lab's cached
// image (the suite's own cache, helpers/cache.ts), a real ansible-playbook across their libvirt
// network, a checkpoint (virsh snapshot-create-as) reverted in the same run, the run "killed" and
// cleaned up from its lab.json the way `harness cleanup` does, then a second run restoring the
// checkpoint from the store's folder, and afterwards no domain, network, bridge, daemon or QEMU.
// Skips (printing why) when libvirt, QEMU or root are missing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { SUITE_CACHE } from './helpers/cache.js';
import type { Lab } from '../lib/model/index.js';
import type { AllocatedLab } from '../lib/lab/provider.js';
import { canCheckpoint } from '../lib/lab/provider.js';
import { releaseRecorded } from '../lib/lab/release.js';
import { createLibvirtProvider } from '../lib/lab/libvirt/provider.js';
import { checkLibvirtTools } from '../lib/lab/libvirt/daemon.js';
import type { LibvirtLabRecord } from '../lib/lab/libvirt/record.js';
import { checkQemuTools } from '../lib/lab/qemu/tools.js';
import { procStartTicks } from '../lib/util/proc.js';

const exec = promisify(execFile);
const FIX = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'lab-qemu');

const skipReason = await Promise.all([checkLibvirtTools({ privateDaemon: true }), checkQemuTools()]).then(
  () => undefined,
  (err: Error) => err.message,
);

const lv = suite('libvirt lab');

const declared: Lab = {
  provider: 'libvirt',
  hosts: [
    { name: 'client-0', groups: ['client'], vars: {} },
    { name: 'server_0', groups: ['server'], vars: {} },
  ],
  groups: [
    { name: 'client', children: [], vars: {} },
    { name: 'server', children: [], vars: {} },
  ],
  vars: {},
};

let tmp = '';
const t0 = Date.now();
const log = (m: string): void => console.log(`  [libvirt] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${m}`);
const secs = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

async function ssh(a: AllocatedLab, i: number, command: string): Promise<string> {
  const h = a.lab.hosts[i]!;
  const { stdout } = await exec('ssh', ['-i', a.sshKey!, '-p', String(h.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${h.address}`, command], { timeout: 120_000 });
  return stdout;
}

const record = async (runDir: string): Promise<LibvirtLabRecord> => JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8')) as LibvirtLabRecord;
const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** Everything a record ever named is gone: processes, bridge, daemon folder, overlays. */
async function assertNothingLeft(runDir: string, seen: LibvirtLabRecord): Promise<void> {
  for (const p of seen.processes) assert.is.not(await procStartTicks(p.pid!), p.startTicks, `${p.label} (pid ${p.pid}) still runs`);
  assert.ok(seen.libvirt.bridge, 'the record named the bridge');
  assert.not.ok(await exists(`/sys/class/net/${seen.libvirt.bridge}`), `bridge ${seen.libvirt.bridge} is gone`);
  assert.ok(seen.libvirt.daemonDir);
  assert.not.ok(await exists(seen.libvirt.daemonDir!), 'the daemon folder is gone');
  for (const d of seen.libvirt.dirs) assert.not.ok(await exists(d), `${d} is gone`);
  const { stdout } = await exec('ps', ['-eo', 'args']);
  for (const d of seen.libvirt.domains) assert.not.match(stdout, `guest=${d},`, `no QEMU of ${d}`);
  assert.not.match(stdout, seen.libvirt.daemonDir!, 'no libvirtd of the lab');
  const after = await record(runDir);
  assert.equal(after.libvirt.domains, []);
  assert.is(after.libvirt.network, undefined);
  assert.ok(after.processes.every((p) => p.state === 'stopped'));
}

async function playbook(a: AllocatedLab): Promise<void> {
  const hosts = Object.fromEntries(a.lab.hosts.map((h) => [h.name, { ansible_host: h.address, ansible_port: h.port, ansible_user: h.user, ansible_ssh_private_key_file: a.sshKey, ansible_ssh_common_args: a.sshExtraArgs!.join(' '), ...h.vars }]));
  const inv = { all: { hosts, children: { client: { hosts: { 'client-0': null } }, server: { hosts: { server_0: null } } } } };
  const invFile = path.join(tmp, 'inventory.json');
  await writeFile(invFile, JSON.stringify(inv));
  const env = { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_PIPELINING: 'True', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_NOCOLOR: '1', ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(tmp, 'cp'), ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=5s' };
  try {
    await exec('ansible-playbook', ['-i', invFile, path.join(FIX, 'lab-network.yml')], { env, timeout: 900_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.unreachable(`ansible-playbook failed:\n${e.stdout}\n${e.stderr}`);
  }
}

lv.before(async () => {
  if (!skipReason) tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-libvirt-test-'));
});
lv.after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

if (skipReason) {
  console.log(`libvirt lab tests skipped: ${skipReason}`);
  lv.skip('libvirt lab', () => {});
} else {
  lv('two domains, a playbook across the libvirt network, a checkpoint reverted; then killed, cleaned up from lab.json, and restored in a second run', async () => {
    const cpDir = path.join(tmp, 'checkpoint');
    await mkdir(cpDir);
    // Run 1.
    const run1 = path.join(tmp, 'run1');
    await mkdir(path.join(run1, 'private'), { recursive: true, mode: 0o700 });
    const p1 = createLibvirtProvider({ memory: 512 }, { cacheRoot: SUITE_CACHE });
    let seen1: LibvirtLabRecord;
    try {
      let t = Date.now();
      const a = await p1.allocate(declared, { runDir: run1, privateDir: path.join(run1, 'private'), log });
      log(`allocate, 2 domains (daemon, network, define, start, cold boot, setup): ${secs(t)}`);
      const [c, s] = a.lab.hosts;
      assert.is(c!.address, '127.0.0.1');
      assert.is.not(c!.port, s!.port);
      assert.is(s!.vars.harness_lab_address, '10.10.0.2');
      const who = 'hostname; ip -4 -br addr show eth1';
      assert.match(await ssh(a, 0, who), /^client-0\n.*10\.10\.0\.1\/24/s);
      assert.match(await ssh(a, 1, who), /^server-0\n.*10\.10\.0\.2\/24/s);
      seen1 = await record(run1);
      assert.equal(seen1.processes.filter((p) => p.state === 'running').map((p) => p.label).sort(), ['libvirtd', 'qemu of host client-0', 'qemu of host server_0']);
      assert.is(seen1.libvirt.domains.length, 2);
      const uri = seen1.libvirt.uri;
      assert.match(uri, /^qemu:\/\/\/system\?socket=\/.*harness-libvirt-/);
      assert.is((await exec('virsh', ['-q', '-c', uri, 'list', '--name'])).stdout.trim().split('\n').sort().join(','), [...seen1.libvirt.domains].sort().join(','));
      assert.match((await exec('virsh', ['-q', '-c', uri, 'net-list'])).stdout, seen1.libvirt.network!);
      assert.not.match((await exec('ip', ['addr', 'show', 'dev', seen1.libvirt.bridge!])).stdout, /inet/, 'no address of this machine on the lab bridge');

      t = Date.now();
      await playbook(a);
      log(`playbook across the libvirt network: ${secs(t)}`);
      assert.is((await ssh(a, 0, 'cat /root/fetched.txt')).trim(), 'served by server_0 on 10.10.0.2');

      assert.ok(canCheckpoint(p1));
      t = Date.now();
      await p1.saveCheckpoint(cpDir, { lab: a, log });
      log(`checkpoint (suspend, snapshot-create-as, overlay copies, resume, clocks): ${secs(t)}`);
      const files = (await readdir(cpDir)).sort();
      assert.equal(files, ['host-0.qcow2', 'host-1.qcow2', 'libvirt-checkpoint.json']);
      await ssh(a, 0, 'echo later > /root/later.txt');
      t = Date.now();
      await p1.restoreCheckpoint(cpDir, { lab: a, log });
      log(`restore in the same run (snapshot-revert, sshd, clocks): ${secs(t)}`);
      assert.is((await ssh(a, 0, 'test -e /root/later.txt && echo yes || echo no')).trim(), 'no');
      assert.is((await ssh(a, 0, 'cat /root/fetched.txt')).trim(), 'served by server_0 on 10.10.0.2');
      seen1 = await record(run1);
    } catch (err) {
      await p1.release().catch(() => {});
      throw err;
    }
    // "kill -9": the provider never releases; harness cleanup releases from lab.json.
    let t = Date.now();
    const report = await releaseRecorded(run1);
    log(`cleanup from lab.json: ${secs(t)}; released ${report.released.join(', ')}`);
    assert.equal(report.skipped, []);
    await assertNothingLeft(run1, seen1);
    await p1.release(); // the dead run's provider: nothing left to do, no error

    // Run 2: a new lab, the checkpoint restored from the folder.
    const run2 = path.join(tmp, 'run2');
    await mkdir(path.join(run2, 'private'), { recursive: true, mode: 0o700 });
    const p2 = createLibvirtProvider({ memory: 512 }, { cacheRoot: SUITE_CACHE });
    let seen2: LibvirtLabRecord;
    try {
      t = Date.now();
      const a = await p2.allocate(declared, { runDir: run2, privateDir: path.join(run2, 'private'), log });
      log(`allocate in run 2: ${secs(t)}`);
      assert.is((await ssh(a, 0, 'test -e /root/fetched.txt && echo yes || echo no')).trim(), 'no');
      const before = (await readdir(cpDir)).sort();
      t = Date.now();
      await p2.restoreCheckpoint(cpDir, { lab: a, log });
      log(`restore in a second run (undefine, define on the saved overlay, snapshot redefine, revert, sshd, clocks): ${secs(t)}`);
      assert.equal((await readdir(cpDir)).sort(), before);
      assert.is((await ssh(a, 0, 'hostname; cat /root/fetched.txt')).trim(), 'client-0\nserved by server_0 on 10.10.0.2');
      // The server's process came back with the memory: the client fetches again over the lab network.
      const got = await ssh(a, 0, `python3 -c "import urllib.request; print(urllib.request.urlopen('http://10.10.0.2:8080/index.txt', timeout=30).read().decode().strip())"`);
      assert.is(got.trim(), 'served by server_0 on 10.10.0.2');
      const skew = Number((await ssh(a, 1, 'date +%s')).trim()) - Date.now() / 1000;
      assert.ok(Math.abs(skew) < 5, `guest clock off by ${skew.toFixed(1)} s`);
      seen2 = await record(run2);
    } finally {
      t = Date.now();
      await p2.release();
      log(`release: ${secs(t)}`);
    }
    await assertNothingLeft(run2, seen2!);
    const { stdout } = await exec('uptime');
    log(`load: ${stdout.trim()}`);
  });
}

lv.run();
