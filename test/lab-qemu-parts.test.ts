// The qemu provider's parts that need no guest: options, apt sources, the QEMU command line, the
// guest setup script, tool checks, locks, the lab record, and the QMP client against a real
// QEMU with no machine in it (`-machine none` starts in a few milliseconds).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { InputError, LabError } from '../lib/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { debianSource, readAptSources } from '../lib/lab/qemu/mirror.js';
import { labAddress, labMac, parseQemuOptions } from '../lib/lab/qemu/options.js';
import { qemuArgs, type VmSpec } from '../lib/lab/qemu/vm.js';
import { guestHostname, guestSetupScript } from '../lib/lab/qemu/guest.js';
import { checkQemuTools, QEMU_APT_COMMAND } from '../lib/lab/qemu/tools.js';
import { imageKey } from '../lib/lab/qemu/image.js';
import { withLock } from '../lib/lab/qemu/lock.js';
import { createQemuRecorder, releaseQemuRecorded } from '../lib/lab/qemu/record.js';
import { releaseRecorded } from '../lib/lab/release.js';
import { procStartTicks } from '../lib/util/proc.js';
import { QmpClient, QmpError } from '../lib/lab/qemu/qmp.js';

const FIX = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'lab-qemu');
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

test('options: defaults, and every bad field named at once', () => {
  const o = parseQemuOptions({}, { file: '/s/scenario.yml' });
  assert.equal(o, { memory: 512, cpus: 1, packages: [], files: [], network: '10.10.0.0/24', accel: 'auto' });
  const ok = parseQemuOptions({ memory: 384, packages: ['curl'], files: [{ src: 'f.txt', dest: '/etc/f', mode: '0600' }] }, { file: '/s/scenario.yml' });
  assert.equal(ok.files, [{ src: '/s/f.txt', dest: '/etc/f', mode: 0o600 }]);
  try {
    parseQemuOptions({ memory: '1G', cpus: 0, packages: ['Bad Name'], files: [{ src: 'x', dest: 'rel/path' }], netwrok: 'x' }, { file: '/s/scenario.yml' });
    assert.unreachable('bad options were accepted');
  } catch (err) {
    assert.instance(err, InputError);
    const paths = (err as InputError).problems.map((p) => p.path).sort();
    assert.equal(paths, ['lab.options.cpus', 'lab.options.files[0].dest', 'lab.options.memory', 'lab.options.netwrok', 'lab.options.packages[0]']);
    assert.match((err as Error).message, /\/s\/scenario\.yml: lab\.options\.memory: must be a whole number from 128 to 65536, got "1G"/);
  }
});

test('lab addresses and MACs follow declaration order', () => {
  assert.is(labAddress('10.10.0.0/24', 0), '10.10.0.1');
  assert.is(labAddress('192.168.7.0/24', 4), '192.168.7.5');
  assert.is(labMac(0), '52:54:00:0a:00:00');
  assert.is(labMac(10), '52:54:00:0a:00:0a');
});

test('apt sources: deb822 and one-line files, disabled and deb-src skipped', async () => {
  const sources = await readAptSources(path.join(FIX, 'apt'));
  assert.equal(
    sources.map((s) => [s.uri, s.suites.join(' ')]),
    [
      ['http://list.example.invalid/debian-security', 'bookworm-security'],
      ['http://mirror.example.invalid/debian', 'bookworm bookworm-updates'],
    ],
  );
  const src = await debianSource({ aptDir: path.join(FIX, 'apt'), osRelease: path.join(FIX, 'os-release') });
  assert.equal(src, { mirror: 'http://mirror.example.invalid/debian', suite: 'bookworm' });
  try {
    await debianSource({ suite: 'trixie', aptDir: path.join(FIX, 'apt') });
    assert.unreachable('a suite no source carries was accepted');
  } catch (err) {
    assert.instance(err, LabError);
    assert.match((err as Error).message, /lab\.options\.mirror/);
  }
});

test('the QEMU command line: TCG, the two NICs, QMP, incoming, commas escaped', () => {
  const spec: VmSpec = {
    name: 'web-0',
    disk: '/r/p,1/host-0-1.qcow2',
    kernel: '/c/vmlinuz',
    initrd: '/c/initrd.img',
    memory: 512,
    cpus: 1,
    sshPort: 2222,
    switchSocket: '/r/switch',
    qmpSocket: '/r/h0.qmp',
    consoleLog: '/l/web-0.console.log',
    qemuLog: '/l/web-0.qemu.log',
    incoming: true,
  };
  assert.equal(qemuArgs(spec), [
    '-name', 'harness-web-0',
    '-machine', 'q35',
    '-accel', 'tcg,tb-size=256',
    '-cpu', 'max',
    '-m', '512',
    '-smp', '1',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-chardev', 'file,id=console,path=/l/web-0.console.log,append=on',
    '-serial', 'chardev:console',
    '-kernel', '/c/vmlinuz',
    '-initrd', '/c/initrd.img',
    '-append', 'root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet init_on_free=1',
    '-drive', 'file=/r/p,,1/host-0-1.qcow2,if=virtio,format=qcow2,cache=writeback',
    '-netdev', 'user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22',
    '-device', 'virtio-net-pci,netdev=n0',
    '-netdev', 'vde,id=n1,sock=/r/switch',
    '-device', 'virtio-net-pci,netdev=n1,mac=52:54:00:0a:ff:ff',
    '-qmp', 'unix:/r/h0.qmp,server=on,wait=off',
    '-incoming', 'defer',
  ]);
});

test('the guest setup script sets clock, name, lab MAC and address, and /etc/hosts', () => {
  assert.is(guestHostname('db_0'), 'db-0');
  assert.is(guestHostname('__'), 'host');
  const s = guestSetupScript({ hostname: 'web-0', labAddress: '10.10.0.1', mac: '52:54:00:0a:00:00', peers: [{ hostname: 'web-0', labAddress: '10.10.0.1' }, { hostname: 'db-0', labAddress: '10.10.0.2' }] });
  const lines = s.split('\n');
  assert.equal(lines.slice(0, 4), ['set -e', 'echo "CLOCK?"', 'read t', 'date -u -s "@$t" >/dev/null']);
  assert.ok(lines.includes('ip link set eth1 address 52:54:00:0a:00:00'));
  assert.ok(lines.includes('ip addr add 10.10.0.1/24 dev eth1'));
  assert.match(s, /'10\.10\.0\.2 db-0'/);
  // The script really is valid sh.
  assert.is(spawnSync('sh', ['-n', '-c', s]).status, 0);
});

test('missing tools: the error names them and the apt-get command', async () => {
  try {
    await checkQemuTools({ PATH: '/nonexistent' });
    assert.unreachable('tools were found on an empty PATH');
  } catch (err) {
    assert.instance(err, LabError);
    const msg = (err as Error).message;
    assert.match(msg, /qemu-system-x86_64/);
    assert.ok(msg.includes(QEMU_APT_COMMAND), msg);
  }
});

test('image key: stable under package order, changes with a file content', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qemu-key-'));
  try {
    const f = path.join(dir, 'f');
    await writeFile(f, 'one');
    const a = await imageKey({ suite: 'bookworm', packages: ['curl', 'jq'], files: [{ src: f, dest: '/etc/f', mode: 0o644 }] });
    const b = await imageKey({ suite: 'bookworm', packages: ['jq', 'curl', 'jq'], files: [{ src: f, dest: '/etc/f', mode: 0o644 }] });
    assert.is(a, b);
    await writeFile(f, 'two');
    const c = await imageKey({ suite: 'bookworm', packages: ['curl', 'jq'], files: [{ src: f, dest: '/etc/f', mode: 0o644 }] });
    assert.is.not(a, c);
    assert.is.not(a, await imageKey({ suite: 'trixie', packages: ['curl', 'jq'], files: [{ src: f, dest: '/etc/f', mode: 0o644 }] }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('lock: holders take turns; a lock left by a dead process is taken over', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qemu-lock-'));
  try {
    const lock = path.join(dir, 'x.lock');
    const order: string[] = [];
    const one = withLock(lock, async () => {
      order.push('a-in');
      await delay(100);
      order.push('a-out');
    });
    await delay(10);
    const two = withLock(lock, async () => {
      order.push('b-in');
    });
    // Two takers in one process wait for each other just as two processes do.
    await Promise.all([one, two]);
    assert.equal(order, ['a-in', 'a-out', 'b-in']);
    // Pid 1's real start time differs from 12345: the lock is stale and is taken at once.
    await writeFile(lock, '1 12345\n');
    let ran = false;
    await withLock(lock, async () => {
      ran = true;
    }, { timeoutMs: 2000 });
    assert.ok(ran);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A run directory and detached processes to record in it; the processes are killed and the folder removed afterwards. */
async function withRunDir(fn: (runDir: string, start: (command: string) => Promise<{ pid: number; startTicks: number }>) => Promise<void>): Promise<void> {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'qemu-rec-'));
  const children: ChildProcess[] = [];
  const start = async (command: string) => {
    const child = spawn('sh', ['-c', command], { detached: true, stdio: 'ignore' });
    children.push(child);
    await delay(50);
    return { pid: child.pid!, startTicks: (await procStartTicks(child.pid!))! };
  };
  try {
    await fn(runDir, start);
  } finally {
    for (const c of children) {
      try {
        process.kill(-c.pid!, 'SIGKILL'); // its group: the `sleep` a released `sh` leaves behind too
      } catch {
        /* gone */
      }
    }
    await rm(runDir, { recursive: true, force: true });
  }
}

test('releaseQemuRecorded stops a recorded process, leaves one whose command line is not ours', () =>
  withRunDir(async (runDir, start) => {
    const marker = path.join(runDir, 'marker-sock');
    const ours = await start(`sleep 60; echo ${marker}`);
    const other = await start('exec sleep 61');
    const rec = createQemuRecorder(runDir);
    const workDir = path.join(runDir, 'private');
    await writeFile(path.join(runDir, 'keep.txt'), 'x');
    await rec.update((r) => {
      r.processes.push({ label: 'qemu of host a', host: 'a', ...ours, cmdlineMarker: marker, state: 'running' });
      r.processes.push({ label: 'vde_switch', ...other, cmdlineMarker: '/not/in/its/cmdline', state: 'running' });
      r.qemu.dirs.push(workDir);
    });
    const report = await releaseQemuRecorded(runDir, { graceMs: 2000 });
    assert.equal(report.released, ['qemu of host a']);
    assert.equal(report.skipped.map((s) => s.label), ['vde_switch']);
    assert.is(await procStartTicks(ours.pid), undefined);
    assert.is(await procStartTicks(other.pid), other.startTicks);
    const after = JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8'));
    assert.is(after.processes[0].state, 'stopped');
    assert.is(after.processes[1].state, 'running');
    // A second call is harmless.
    const again = await releaseQemuRecorded(runDir, { graceMs: 500 });
    assert.equal(again.released, []);
  }),
);

test('releaseRecorded (harness cleanup) releases a qemu record the qemu way: processes, then its folders', () =>
  withRunDir(async (runDir, start) => {
    const marker = path.join(runDir, 'qmp-sock');
    const vm = await start(`sleep 60; echo ${marker}`);
    const workDir = path.join(runDir, 'private', 'qemu');
    await mkdir(workDir, { recursive: true });
    await writeFile(path.join(workDir, 'overlay.qcow2'), 'x');
    const rec = createQemuRecorder(runDir);
    await rec.update((r) => {
      r.processes.push({ label: 'qemu of host a', host: 'a', ...vm, cmdlineMarker: marker, state: 'running' });
      r.qemu.dirs.push(workDir);
    });
    const report = await releaseRecorded(runDir, { graceMs: 2000 });
    assert.equal(report, { released: ['qemu of host a'], skipped: [] });
    assert.is(await procStartTicks(vm.pid), undefined, 'the recorded process is stopped');
    assert.not.ok(existsSync(workDir), 'the qemu folders are deleted');
    const after = JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8'));
    assert.equal([after.provider, after.processes[0].state, after.qemu.dirs], ['qemu', 'stopped', []]);
  }),
);

test('QMP against a real QEMU: greeting, commands, refusals, events, HMP', async () => {
  if (!hasQemu) {
    console.log('  skipped: qemu-system-x86_64 is not installed (' + QEMU_APT_COMMAND + ')');
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qemu-qmp-'));
  const sock = path.join(dir, 'qmp');
  const child = spawn('qemu-system-x86_64', ['-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], { detached: true, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const qmp = await QmpClient.connect(sock, { exited, timeoutMs: 10_000 });
    const st = await qmp.execute<{ status: string }>('query-status');
    assert.is(st.status, 'prelaunch');
    try {
      await qmp.execute('no-such-command');
      assert.unreachable('an unknown command succeeded');
    } catch (err) {
      assert.instance(err, QmpError);
      assert.is((err as QmpError).errorClass, 'CommandNotFound');
    }
    const resumed = qmp.waitEvent('RESUME', { timeoutMs: 5000 });
    await qmp.execute('cont');
    assert.is((await resumed).event, 'RESUME');
    assert.match(await qmp.hmp('info version'), /^\d+\.\d+/);
    await qmp.execute('quit');
    await exited;
    try {
      await qmp.execute('query-status');
      assert.unreachable('a command on a closed connection succeeded');
    } catch (err) {
      assert.instance(err, LabError);
    }
  } finally {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
