// The `local` lab provider against real sshd processes on loopback, real `ssh`, real `ansible`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Lab } from '../lib/model/index.js';
import { LabError, exitCodeOf } from '../lib/errors.js';
import type { AllocatedLab, LabProvider } from '../lib/lab/provider.js';
import { releaseAddressBlock } from '../lib/lab/local/claims.js';
import { createLocalProvider, procStat, procCmdline, readLabRecord, releaseRecorded, type LabRecord } from '../lib/lab/local/index.js';

const run = promisify(execFile);

/** A lab the way a scenario declares it: three hosts in groups, one with a child group. */
function threeHostLab(): Lab {
  return {
    provider: 'local',
    hosts: [
      { name: 'undercloud', groups: ['undercloud'], vars: {} },
      { name: 'controller-0', groups: ['controller'], vars: { role: 'ctl' } },
      { name: 'compute-0', groups: ['compute'], vars: { nova_cpu: 2 } },
    ],
    groups: [
      { name: 'undercloud', children: [], vars: {} },
      { name: 'controller', children: [], vars: {} },
      { name: 'compute', children: [], vars: {} },
      { name: 'overcloud', children: ['controller', 'compute'], vars: {} },
    ],
    vars: {},
  };
}

function lab(names: string[]): Lab {
  return { provider: 'local', hosts: names.map((name) => ({ name, groups: ['g'], vars: {} })), groups: [{ name: 'g', children: [], vars: {} }], vars: {} };
}

/** Every live process whose command line names `marker`. */
async function processesNaming(marker: string): Promise<number[]> {
  const out: number[] = [];
  for (const n of await readdir('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    if (!(await procStat(Number(n)))) continue;
    if ((await procCmdline(Number(n))).includes(marker)) out.push(Number(n));
  }
  return out;
}

function portRefuses(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Waits (bounded) until `check` is true; returns its last answer. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await delay(25);
  }
}

function sshArgs(a: AllocatedLab, host: { address?: string; port?: number; user?: string }, command: string, extra: string[] = []): string[] {
  return ['-F', '/dev/null', '-i', a.sshKey!, '-p', String(host.port), '-o', 'BatchMode=yes', ...a.sshExtraArgs!, ...extra, `${host.user}@${host.address}`, command];
}

const L = suite('local lab');
let tmp = '';
const providers: LabProvider[] = [];

L.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-lab-local-'));
});

L.after(async () => {
  for (const p of providers) await p.release().catch(() => {});
  // Nothing of ours may be left running, whatever a test did.
  const left = await processesNaming(tmp);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  await rm(tmp, { recursive: true, force: true });
  assert.equal(left, [], `processes left running: ${left.join(', ')}`);
});

function newRun(name: string): { runDir: string; privateDir: string } {
  const runDir = path.join(tmp, name);
  return { runDir, privateDir: path.join(runDir, 'private') };
}

L('a 3-host lab: each host answers SSH on its own 127.0.0.N, ansible pings all, release stops everything', async () => {
  const ctx = newRun('three');
  const provider = createLocalProvider();
  providers.push(provider);
  const messages: string[] = [];
  const a = await provider.allocate(threeHostLab(), { ...ctx, log: (m) => messages.push(m) });

  const hosts = a.lab.hosts;
  // Three consecutive addresses from .2 in a 127.X.Y block of the lab's own (127.0.0 when alone).
  const block = /^127\.\d+\.\d+\./.exec(hosts[0]!.address!)![0];
  assert.equal(hosts.map((h) => h.address), [`${block}2`, `${block}3`, `${block}4`]);
  assert.ok(hosts.every((h) => h.user === os.userInfo().username && Number.isInteger(h.port)));
  assert.equal(hosts[2]!.vars.nova_cpu, 2, 'declared vars are kept');
  for (const h of hosts) {
    assert.is(h.vars.harness_lab_address, h.address);
    assert.is(path.basename(h.vars.harness_host_root as string), h.name);
    assert.ok(path.relative(ctx.runDir, h.vars.harness_host_root as string).startsWith('..'), 'the host root is outside the run directory');
    assert.ok(existsSync(h.vars.harness_host_root as string), 'the host root exists');
    assert.is(h.vars.ansible_python_interpreter, '/usr/bin/python3');
  }
  assert.is(a.sshKey, path.join(ctx.privateDir, 'id_ed25519'));
  assert.ok(messages.some((m) => m.includes('compute-0')));

  // A real login on each host, checking its host key strictly against the run's known_hosts:
  // the server side of the connection is the host's own address and port.
  for (const h of hosts) {
    const { stdout } = await run('ssh', sshArgs(a, h, 'echo $SSH_CONNECTION'));
    const [, , serverIp, serverPort] = stdout.trim().split(' ');
    assert.is(serverIp, h.address);
    assert.is(Number(serverPort), h.port);
  }
  // Another key is refused.
  const other = path.join(tmp, 'other_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const refused = await run('ssh', [...sshArgs({ ...a, sshKey: other }, hosts[0]!, 'true'), '-o', 'IdentitiesOnly=yes']).then(() => false, () => true);
  assert.ok(refused, 'a key that is not the run key cannot log in');

  // ansible -m ping with an inventory written by hand, ControlPersist masters in our folder.
  const inv = [
    '[undercloud]',
    ...hosts.slice(0, 1).map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port} ansible_user=${h.user}`),
    '[controller]',
    ...hosts.slice(1, 2).map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port} ansible_user=${h.user}`),
    '[compute]',
    ...hosts.slice(2).map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port} ansible_user=${h.user}`),
    '[overcloud:children]',
    'controller',
    'compute',
    '[all:vars]',
    `ansible_ssh_private_key_file=${a.sshKey}`,
    'ansible_python_interpreter=/usr/bin/python3',
    "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
    '',
  ].join('\n');
  const invFile = path.join(tmp, 'three.ini');
  await writeFile(invFile, inv);
  const controlDir = path.join(tmp, 'cp');
  const env = {
    ...process.env,
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
    ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=60s',
    ANSIBLE_PIPELINING: 'True',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-local'),
  };
  const ping = await run('ansible', ['all', '-i', invFile, '-m', 'ping', '-o'], { cwd: tmp, env });
  for (const h of hosts) assert.match(ping.stdout, new RegExp(`^${h.name} \\| SUCCESS => .*"ping": "pong"`, 'm'));
  const masters = (await readdir(controlDir)).length;
  assert.is(masters, 3, 'one ControlPersist master per host');

  const record = (await readLabRecord(ctx.runDir))!;
  assert.is(record.provider, 'local');
  assert.equal(record.hosts.map((h) => [h.name, h.address, h.port]), hosts.map((h) => [h.name, h.address, h.port]));
  const pids = record.processes.map((p) => p.pid!);
  assert.is(pids.length, 3);
  for (const p of record.processes) assert.is((await procStat(p.pid!))?.startTicks, p.startTicks);

  assert.ok(record.local?.addressClaim && existsSync(record.local.addressClaim.file), 'the address block is claimed');
  assert.ok(record.local?.hostsDir && existsSync(record.local.hostsDir));
  await provider.release();
  for (const pid of pids) assert.is(await procStat(pid), undefined, `sshd ${pid} is gone`);
  assert.not.ok(existsSync(record.local.hostsDir), "the hosts' disks are removed at release");
  assert.not.ok(existsSync(record.local.addressClaim.file), 'the address block is given back');
  assert.not.ok(existsSync(path.join(ctx.runDir, 'lab')), 'no lab/ in the run directory');
  for (const h of hosts) assert.ok(await portRefuses(h.address!, h.port!), `${h.address}:${h.port} is closed`);
  assert.ok((await readLabRecord(ctx.runDir))!.processes.every((p) => p.state === 'stopped'));
  // The masters lose their connection with the host's sshd session and exit by themselves.
  assert.ok(await eventually(async () => (await readdir(controlDir)).length === 0), 'ControlPersist masters exit after release');

  await provider.release(); // safe twice
});

L('after a crash, releaseRecorded stops the recorded sshds and their sessions', async () => {
  const ctx = newRun('crash');
  let provider: LabProvider | undefined = createLocalProvider();
  const a = await provider.allocate(lab(['a', 'b']), ctx);
  provider = undefined; // the harness "crashed": only lab.json is left
  // A multiplexed session that would otherwise keep reaching the host.
  const control = path.join(tmp, 'crash-master');
  const h = a.lab.hosts[0]!;
  await run('ssh', sshArgs(a, h, 'true', ['-o', 'ControlMaster=auto', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=60s']));
  assert.ok(existsSync(control), 'the master runs');

  const record = (await readLabRecord(ctx.runDir))!;
  const result = await releaseRecorded(ctx.runDir);
  assert.equal(result.released.sort(), [`the hosts' disks in ${record.local!.hostsDir}`, 'sshd of host a', 'sshd of host b'].sort());
  assert.not.ok(existsSync(record.local!.hostsDir!), "the hosts' disks went with the lab");
  // Its address claim names a live process (this one: the "crash" was simulated), so it stays; give it back.
  assert.ok(existsSync(record.local!.addressClaim!.file));
  await releaseAddressBlock(record.local!.addressClaim!);
  assert.equal(result.skipped, []);
  for (const p of record.processes) assert.is(await procStat(p.pid!), undefined);
  for (const host of a.lab.hosts) assert.ok(await portRefuses(host.address!, host.port!));
  assert.ok(await eventually(async () => !existsSync(control)), 'the ControlPersist master exits once the session is gone');
  assert.ok((await readLabRecord(ctx.runDir))!.processes.every((p) => p.state === 'stopped'));
  assert.equal(await releaseRecorded(ctx.runDir), { released: [], skipped: [] }, 'a second cleanup finds nothing');
});

L('releaseRecorded never kills a pid that is not ours', async () => {
  const ctx = newRun('not-ours');
  const sleeper = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  try {
    const stat = (await procStat(sleeper.pid!))!;
    const record: LabRecord = {
      version: 1,
      provider: 'local',
      updatedAt: new Date().toISOString(),
      hosts: [],
      processes: [
        // Right pid and start time, but its command line does not name our config.
        { label: 'wrong command', pid: sleeper.pid!, startTicks: stat.startTicks, cmdlineMarker: path.join(ctx.privateDir, 'hosts/x/sshd_config'), state: 'running' },
        // Right command line, but another start time: the pid was reused.
        { label: 'reused pid', pid: sleeper.pid!, startTicks: stat.startTicks - 1, cmdlineMarker: 'sleep 300', state: 'running' },
      ],
    };
    await mkdir(ctx.runDir, { recursive: true });
    await writeFile(path.join(ctx.runDir, 'lab.json'), JSON.stringify(record));
    const result = await releaseRecorded(ctx.runDir, { graceMs: 200 });
    assert.equal(result.released, []);
    assert.equal(result.skipped.map((s) => s.label), ['wrong command', 'reused pid']);
    assert.match(result.skipped[0]!.reason, 'does not name');
    assert.match(result.skipped[1]!.reason, 'another process');
    assert.ok(await procStat(sleeper.pid!), 'the sleep process still runs');
  } finally {
    sleeper.kill('SIGKILL');
  }
});

L('a bad sshd config on the third host: LabError naming it, the first two are stopped', async () => {
  const ctx = newRun('bad-config');
  const provider = createLocalProvider({ concurrency: 1, sshdExtraConfig: (h) => (h === 'h3' ? ['NoSuchOption yes'] : []) });
  providers.push(provider);
  const messages: string[] = [];
  const err = await provider.allocate(lab(['h1', 'h2', 'h3']), { ...ctx, log: (m) => messages.push(m) }).then(() => undefined, (e: unknown) => e);
  assert.instance(err, LabError);
  assert.is(exitCodeOf(err), 3);
  assert.match((err as Error).message, /^host h3: sshd rejects the config .*sshd_config: .*NoSuchOption/s);
  assert.equal(messages.filter((m) => m.includes('listens')).length, 2, 'h1 and h2 had started');
  const record = (await readLabRecord(ctx.runDir))!;
  assert.is(record.processes.length, 2);
  for (const p of record.processes) {
    assert.is(p.state, 'stopped');
    assert.is(await procStat(p.pid!), undefined);
  }
  assert.equal(await processesNaming(ctx.privateDir), [], 'no sshd of this run runs');
  await provider.release(); // safe after a failed allocate
});

L('a host that refuses the run key: LabError naming the host with its sshd log, nothing left', async () => {
  const ctx = newRun('refuses');
  // Our lines come first in sshd_config and sshd keeps a keyword's first value.
  const provider = createLocalProvider({ sshdExtraConfig: (h) => (h === 'b' ? ['AuthorizedKeysFile /dev/null'] : []) });
  providers.push(provider);
  const err = await provider.allocate(lab(['a', 'b']), ctx).then(() => undefined, (e: unknown) => e);
  assert.instance(err, LabError);
  const msg = (err as Error).message;
  assert.match(msg, /^host b: sshd on 127\.\d+\.\d+\.3:\d+ runs but an SSH login as \S+ with \S+ failed: .*Permission denied/s);
  assert.match(msg, 'last lines of its sshd log');
  assert.match(msg, 'Connection closed by authenticating user');
  assert.equal(await processesNaming(ctx.privateDir), []);
});

L('allocation aborted by its signal stops what it started', async () => {
  const ctx = newRun('abort');
  const provider = createLocalProvider({ concurrency: 1 });
  providers.push(provider);
  const ac = new AbortController();
  const why = new Error('user pressed Ctrl-C');
  const err = await provider
    .allocate(lab(['a', 'b', 'c']), { ...ctx, signal: ac.signal, log: (m) => m.includes('listens') && ac.abort(why) })
    .then(() => undefined, (e: unknown) => e);
  assert.is(err, why, 'rejects with the abort reason');
  const record = (await readLabRecord(ctx.runDir))!;
  assert.ok(record.processes.length >= 1);
  assert.ok(record.processes.every((p) => p.state === 'stopped'));
  assert.equal(await processesNaming(ctx.privateDir), []);
});

L('a scenario that sets ansible_python_interpreter keeps it (host, group parent, or all)', async () => {
  const ctx = newRun('interp');
  const l = threeHostLab();
  l.hosts[0]!.vars.ansible_python_interpreter = '/opt/py/bin/python3';
  l.groups.find((g) => g.name === 'overcloud')!.vars.ansible_python_interpreter = 'auto_silent';
  const provider = createLocalProvider({ hostsRoot: path.join(tmp, 'roots') });
  providers.push(provider);
  const a = await provider.allocate(l, ctx);
  try {
    assert.equal(a.lab.hosts.map((h) => h.vars.ansible_python_interpreter), ['/opt/py/bin/python3', undefined, undefined]);
    assert.is(a.lab.hosts[1]!.vars.harness_host_root, path.join(tmp, 'roots', 'controller-0'));
    assert.equal(l.hosts[1]!.vars, { role: 'ctl' }, 'the declared lab is not changed');
  } finally {
    await provider.release();
  }
});

L('two labs at once get addresses of their own, and each releases only its own', async () => {
  const one = createLocalProvider();
  const two = createLocalProvider();
  providers.push(one, two);
  const [a, b] = await Promise.all([one.allocate(lab(['x', 'y']), newRun('twin-1')), two.allocate(lab(['x', 'y']), newRun('twin-2'))]);
  const theirs = new Set(b.lab.hosts.map((h) => h.address));
  assert.ok(a.lab.hosts.every((h) => !theirs.has(h.address)), `disjoint: ${a.lab.hosts.map((h) => h.address)} / ${[...theirs]}`);
  await one.release();
  for (const h of b.lab.hosts) await run('ssh', sshArgs(b, h, 'true'));
  await two.release();
});

L.run();
