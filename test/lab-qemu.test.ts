// The qemu lab for real: one image build (cached in the suite's own cache folder, see
// helpers/cache.ts, never the user's ~/.cache), two VMs cloned from its golden state, a real
// ansible-playbook across their lab network, a checkpoint taken, the state changed, the checkpoint restored, and everything released.
// Skips (printing why) when QEMU and friends are not installed or we are not root.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { SUITE_CACHE } from './helpers/cache.js';
import type { Lab } from '../lib/model/index.js';
import type { AllocatedLab } from '../lib/lab/provider.js';
import { canCheckpoint } from '../lib/lab/provider.js';
import { createQemuProvider, type QemuProvider } from '../lib/lab/qemu/index.js';
import { checkQemuTools } from '../lib/lab/qemu/tools.js';
import { procStartTicks } from '../lib/util/proc.js';
import type { QemuLabRecord } from '../lib/lab/qemu/record.js';

const exec = promisify(execFile);
const FIX = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'lab-qemu');

const skipReason = await checkQemuTools().then(
  () => (process.getuid?.() === 0 ? undefined : 'not root: building the qemu image runs debootstrap, which needs root'),
  (err: Error) => err.message,
);

const qemu = suite('qemu lab');

interface Shared {
  tmp: string;
  runDir: string;
  privateDir: string;
  provider: QemuProvider;
  allocated: AllocatedLab;
  /** The checkpoint taken by the checkpoint test, restored again in a later "run". */
  checkpoint?: string;
}
let S: Shared | undefined;
const shared = (): Shared => {
  if (!S) throw new Error('the lab was not allocated (see the first failure)');
  return S;
};

const declared: Lab = {
  provider: 'qemu',
  hosts: [
    { name: 'client-0', groups: ['client'], vars: { role_note: 'fetches' } },
    { name: 'server_0', groups: ['server'], vars: {} },
  ],
  groups: [
    { name: 'client', children: [], vars: {} },
    { name: 'server', children: [], vars: {} },
  ],
  vars: {},
};

async function ssh(hostIndex: number, command: string): Promise<string> {
  const { allocated } = shared();
  const h = allocated.lab.hosts[hostIndex]!;
  const { stdout } = await exec(
    'ssh',
    ['-i', allocated.sshKey!, '-p', String(h.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${h.user}@${h.address}`, command],
    { timeout: 60_000 },
  );
  return stdout;
}

/** The guest clock minus the host's, in seconds (bounded by the time the ssh round trip took). */
async function clockSkew(hostIndex: number): Promise<{ low: number; high: number }> {
  const before = Date.now() / 1000;
  const guest = Number((await ssh(hostIndex, 'date +%s.%N')).trim());
  const after = Date.now() / 1000;
  return { low: guest - after, high: guest - before };
}

async function recordOf(runDir: string): Promise<QemuLabRecord> {
  return JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8')) as QemuLabRecord;
}

/** Names, sizes and modification times of every file in `dir`: what "unchanged" means here. */
async function listing(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (n) => {
    const s = await stat(path.join(dir, n));
    return `${n} ${s.size} ${s.mtimeMs}`;
  }));
}

qemu.before(async () => {
  if (skipReason) return;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-qemu-test-'));
  const runDir = path.join(tmp, 'run');
  const privateDir = path.join(runDir, 'private');
  await mkdir(privateDir, { recursive: true, mode: 0o700 });
  const provider = createQemuProvider({ memory: 512 }, { cacheRoot: SUITE_CACHE });
  const t0 = Date.now();
  try {
    const allocated = await provider.allocate(declared, { runDir, privateDir, log: (m) => console.log(`  [qemu] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${m}`) });
    S = { tmp, runDir, privateDir, provider, allocated };
    console.log(`  [qemu] allocated 2 VMs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    await provider.release().catch(() => {});
    throw err;
  }
});

qemu.after(async () => {
  if (!S) return;
  await S.provider.release().catch(() => {});
  await rm(S.tmp, { recursive: true, force: true });
});

if (skipReason) {
  console.log(`qemu lab tests skipped: ${skipReason}`);
  qemu.skip('qemu lab', () => {});
} else {
  qemu('allocate: each host has its connection, lab vars, its own name and lab address', async () => {
    const { allocated, runDir } = shared();
    const [a, b] = allocated.lab.hosts;
    for (const h of [a!, b!]) {
      assert.is(h.address, '127.0.0.1');
      assert.is(h.user, 'root');
      assert.ok(h.port! > 0);
      assert.is(h.vars.harness_host_root, '/');
      assert.is(h.vars.ansible_python_interpreter, '/usr/bin/python3');
    }
    assert.is(a!.vars.harness_lab_address, '10.10.0.1');
    assert.is(b!.vars.harness_lab_address, '10.10.0.2');
    assert.is(a!.vars.role_note, 'fetches');
    assert.equal(a!.groups, ['client']);
    assert.is.not(a!.port, b!.port);
    assert.is((await stat(allocated.sshKey!)).mode & 0o777, 0o600);
    // accel: auto probed KVM with a real guest boot (on this machine QEMU refuses KVM or the guest hangs: TCG)
    assert.match(allocated.facts?.accel_why ?? '', /^auto: (TCG|KVM), /);
    assert.ok(['tcg', 'kvm'].includes(allocated.facts?.accel ?? ''), `accel decided: ${JSON.stringify(allocated.facts)}`);
    const probe = JSON.parse(await readFile(path.join(SUITE_CACHE, 'qemu-accel.json'), 'utf8')) as { accel: string; probeMs: number; identity: { kernel: string } };
    assert.is(probe.accel, allocated.facts!.accel);
    assert.is(probe.identity.kernel, os.release());
    console.log(`  [qemu] accel probe: ${allocated.facts!.accel_why} in ${probe.probeMs} ms`);
    const who = 'hostname; ip -4 -br addr show eth1; cat /sys/class/net/eth1/address';
    const [sa, sb] = await Promise.all([ssh(0, who), ssh(1, who)]);
    assert.is(sa.split('\n')[0], 'client-0');
    assert.match(sa, /10\.10\.0\.1\/24/);
    assert.is(sb.split('\n')[0], 'server-0');
    assert.match(sb, /10\.10\.0\.2\/24/);
    assert.match(sb, /52:54:00:0a:00:01/);
    const skew = await clockSkew(0);
    assert.ok(skew.low < 3 && skew.high > -3, `guest clock off by ${skew.low.toFixed(2)}..${skew.high.toFixed(2)} s`);
    const rec = await recordOf(runDir);
    const running = rec.processes.filter((p) => p.state === 'running');
    assert.equal(running.map((p) => p.label).sort(), ['qemu of host client-0', 'qemu of host server_0', 'vde_switch']);
    for (const p of running) assert.is(await procStartTicks(p.pid), p.startTicks, `${p.label} runs`);
  });

  qemu('a real playbook runs across the lab network: the client fetches what the server serves', async () => {
    const { allocated, tmp } = shared();
    const inv = {
      all: {
        children: {
          client: { hosts: { 'client-0': null } },
          server: { hosts: { server_0: null } },
        },
        hosts: Object.fromEntries(
          allocated.lab.hosts.map((h) => [
            h.name,
            {
              ansible_host: h.address,
              ansible_port: h.port,
              ansible_user: h.user,
              ansible_ssh_private_key_file: allocated.sshKey,
              ansible_ssh_common_args: allocated.sshExtraArgs!.join(' '),
              ...h.vars,
            },
          ]),
        ),
      },
    };
    const invFile = path.join(tmp, 'inventory.json');
    await writeFile(invFile, JSON.stringify(inv));
    const env = {
      ...process.env,
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(tmp, 'cp'),
      ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=5s',
    };
    try {
      const t = Date.now();
      await exec('ansible-playbook', ['-i', invFile, path.join(FIX, 'lab-network.yml')], { env, timeout: 300_000 });
      console.log(`  [qemu] playbook across the lab network: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.unreachable(`ansible-playbook failed:\n${e.stdout}\n${e.stderr}`);
    }
    assert.is((await ssh(0, 'cat /root/fetched.txt')).trim(), 'served by server_0 on 10.10.0.2');
  });

  qemu('checkpoint, change, restore: the change is gone, earlier state and the network are back, the clock is right', async () => {
    const { provider, allocated, tmp, runDir } = shared();
    assert.ok(canCheckpoint(provider));
    const dir = path.join(tmp, 'checkpoint');
    await mkdir(dir);
    shared().checkpoint = dir;
    await ssh(0, 'echo before > /root/before.txt; sync');
    let t = Date.now();
    await provider.saveCheckpoint(dir, { lab: allocated });
    console.log(`  [qemu] checkpoint of 2 VMs saved in ${Date.now() - t} ms`);
    const saved = await listing(dir);
    assert.ok(saved.some((l) => l.startsWith('qemu-checkpoint.json ')));
    // The VMs run on after the save, with their clock set.
    const skew0 = await clockSkew(0);
    assert.ok(skew0.low < 3 && skew0.high > -3, `guest clock after save off by ${skew0.low.toFixed(2)} s`);
    await Promise.all([ssh(0, 'echo after > /root/after.txt; rm /root/before.txt; sync'), ssh(1, 'echo after > /srv/www/index.txt; sync')]);
    const pidsBefore = (await recordOf(runDir)).processes.filter((p) => p.label.startsWith('qemu') && p.state === 'running').map((p) => p.pid);

    t = Date.now();
    await provider.restoreCheckpoint(dir, { lab: allocated });
    console.log(`  [qemu] checkpoint of 2 VMs restored in ${Date.now() - t} ms`);

    assert.equal(await listing(dir), saved, 'the checkpoint folder is left unchanged');
    // One ssh for the lot (each costs about a second on an emulated CPU). The server process
    // lives on in the restored memory and answers over the lab network.
    const fetch = `python3 -c "import urllib.request; print(urllib.request.urlopen('http://10.10.0.2:8080/index.txt', timeout=20).read().decode(), end='')"`;
    const out = (await ssh(0, `ls /root/after.txt 2>/dev/null || echo gone; cat /root/before.txt /root/fetched.txt; hostname; ${fetch}`)).trim().split('\n');
    assert.equal(out, ['gone', 'before', 'served by server_0 on 10.10.0.2', 'client-0', 'served by server_0 on 10.10.0.2']);
    for (const i of [0, 1]) {
      const skew = await clockSkew(i);
      assert.ok(skew.low < 3 && skew.high > -3, `guest ${i} clock after restore off by ${skew.low.toFixed(2)}..${skew.high.toFixed(2)} s`);
    }
    // The VMs are new processes; the old ones are gone and marked stopped.
    const rec = await recordOf(runDir);
    for (const pid of pidsBefore) {
      assert.ok(rec.processes.some((p) => p.pid === pid && p.state === 'stopped'), `old VM ${pid} marked stopped`);
    }
    const running = rec.processes.filter((p) => p.label.startsWith('qemu') && p.state === 'running');
    assert.is(running.length, 2);
    for (const p of running) assert.ok(!pidsBefore.includes(p.pid));
  });

  qemu('release: no VM or switch left, private files gone, safe twice', async () => {
    const { provider, runDir, privateDir } = shared();
    const rec = await recordOf(runDir);
    const started = rec.processes.map((p) => ({ pid: p.pid, startTicks: p.startTicks, label: p.label }));
    await provider.release();
    await provider.release();
    for (const p of started) assert.is(await procStartTicks(p.pid), undefined, `${p.label} (pid ${p.pid}) is gone`);
    const after = await recordOf(runDir);
    assert.ok(after.processes.every((p) => p.state === 'stopped'));
    assert.equal(after.qemu.dirs, []);
    await assert.not.ok(await stat(path.join(privateDir, 'qemu')).then(() => true, () => false), 'private qemu folder removed');
    // Console logs stay with the run.
    assert.ok((await readdir(path.join(runDir, 'qemu'))).some((n) => n.endsWith('.console.log')));
  });

  qemu('a later run allocates its lab straight into the checkpoint: no VM booted from the golden state first', async () => {
    const { tmp, checkpoint } = shared();
    assert.ok(checkpoint, 'the checkpoint test ran');
    assert.ok(createQemuProvider().allocatesFromCheckpoint);
    const runDir = path.join(tmp, 'run2');
    const privateDir = path.join(runDir, 'private');
    await mkdir(privateDir, { recursive: true, mode: 0o700 });
    const provider = createQemuProvider({ memory: 512 }, { cacheRoot: SUITE_CACHE });
    const logged: string[] = [];
    try {
      const saved = await listing(checkpoint!);
      const allocated = await provider.allocate(declared, { runDir, privateDir, checkpoint: checkpoint!, log: (m) => logged.push(m) });
      assert.equal(await listing(checkpoint!), saved);
      assert.ok(logged.some((m) => m.includes(`from the checkpoint in ${checkpoint!}`)), logged.join('\n'));
      assert.not.ok(logged.some((m) => m.includes('from the golden state')), logged.join('\n'));
      // Two VMs in all: the checkpoint's, none booted before them only to be replaced.
      assert.is((await recordOf(runDir)).processes.filter((p) => p.label.startsWith('qemu')).length, 2);
      S = { ...shared(), allocated };
      const out = (await ssh(0, 'cat /root/before.txt /root/fetched.txt; hostname')).trim().split('\n');
      assert.equal(out, ['before', 'served by server_0 on 10.10.0.2', 'client-0']);
      const skew = await clockSkew(1);
      assert.ok(skew.low < 3 && skew.high > -3, `guest clock off by ${skew.low.toFixed(2)} s`);
    } finally {
      await provider.release();
    }
    const rec = await recordOf(runDir);
    for (const p of rec.processes) assert.is(await procStartTicks(p.pid), undefined, `${p.label} (pid ${p.pid}) is gone`);
  });
}

qemu.run();
