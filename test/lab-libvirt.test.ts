// The libvirt lab's cheap parts: the XML it hands virsh (checked against libvirt's own schema
// with virt-xml-validate when libvirt-clients is installed), its options with file:line errors,
// the private daemon's config, checkpoint manifests checked against the lab, and the teardown of
// a record whose daemon is already gone. No daemon, no VM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { InputError, LabError } from '../lib/errors.js';
import { loadScenario } from '../lib/scenario/load.js';
import { daemonConfig, privateUri } from '../lib/lab/libvirt/daemon.js';
import { parseLibvirtOptions } from '../lib/lab/libvirt/options.js';
import { domainXml, networkXml, snapshotXml, xmlEscape, type DomainSpec } from '../lib/lab/libvirt/xml.js';
import { readLibvirtCheckpoint, writeLibvirtCheckpoint, type LibvirtCheckpointManifest } from '../lib/lab/libvirt/checkpoint.js';
import { teardownLibvirt, type LibvirtLabRecord } from '../lib/lab/libvirt/record.js';

const exec = promisify(execFile);
const validator = await access('/usr/bin/virt-xml-validate').then(() => '/usr/bin/virt-xml-validate', () => undefined);
if (!validator) console.log('lab-libvirt: virt-xml-validate (libvirt-clients) not installed: the XML is checked by content only');

const SPEC: DomainSpec = {
  name: 'harness-0a1b2c3d-0',
  uuid: '6f2b1c1e-3d4a-4f5e-9a8b-0c1d2e3f4a5b',
  memory: 512,
  cpus: 2,
  kernel: '/cache/images/k/vmlinuz',
  initrd: '/cache/images/k/initrd.img',
  cmdline: 'root=/dev/vda rw console=ttyS0 net.ifnames=0',
  disk: "/tmp/it's & <odd>/host-0-1.qcow2",
  network: 'harness-0a1b2c3d',
  mac: '52:54:00:0a:00:00',
  sshPort: 40222,
  consoleLog: '/run/x/client-0.console.log',
};

async function validate(xml: string, kind: 'domain' | 'network' | 'domainsnapshot'): Promise<void> {
  if (!validator) return;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'harness-lv-xml-'));
  try {
    await writeFile(path.join(dir, 'x.xml'), xml);
    await exec(validator, [path.join(dir, 'x.xml'), kind]).catch((e: { stderr?: string; stdout?: string }) => assert.unreachable(`virt-xml-validate ${kind}:\n${e.stderr}${e.stdout}\n${xml}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('domain XML: TCG, q35, direct kernel boot, fixed NIC order, SSH forward on loopback only, paths escaped; valid for libvirt', async () => {
  const xml = domainXml(SPEC);
  assert.match(xml, /<domain type='qemu'/);
  assert.match(xml, /<uuid>6f2b1c1e-3d4a-4f5e-9a8b-0c1d2e3f4a5b<\/uuid>/);
  assert.match(xml, /machine='q35'/);
  assert.match(xml, /<cpu mode='maximum'\/>/);
  assert.match(xml, /<vcpu>2<\/vcpu>/);
  assert.match(xml, /<source file='\/tmp\/it&apos;s &amp; &lt;odd&gt;\/host-0-1.qcow2'\/>/);
  assert.match(xml, /hostfwd=tcp:127\.0\.0\.1:40222-:22/);
  assert.match(xml, /virtio-net-pci,netdev=harness-ssh,bus=pcie\.0,addr=0x3/);
  assert.match(xml, /<source network='harness-0a1b2c3d'\/>\s*<mac address='52:54:00:0a:00:00'\/>\s*<model type='virtio'\/>\s*<address type='pci' domain='0' bus='0' slot='0x04'/);
  assert.not.match(xml, /0\.0\.0\.0|hostfwd=tcp::/);
  await validate(xml, 'domain');
});

test('network XML: a bridge-mode network over the lab bridge (no address, no DHCP); snapshot XML wraps the new domain', async () => {
  const net = networkXml('harness-0a1b2c3d', 'hvb0a1b2c3d');
  assert.match(net, /<forward mode='bridge'\/>/);
  assert.not.match(net, /<ip|<dhcp/);
  await validate(net, 'network');
  const snap = snapshotXml('harness-x', new Date(1_700_000_000_500), domainXml(SPEC));
  assert.match(snap, /<creationTime>1700000000<\/creationTime>/);
  assert.match(snap, /<memory snapshot='internal'\/>/);
  assert.match(snap, /<domain type='qemu'/);
  await validate(snap, 'domainsnapshot');
  assert.is(xmlEscape(`a'b"c<&>`), 'a&apos;b&quot;c&lt;&amp;&gt;');
});

test('options: the qemu lab image and machine options with the same checks, plus uri; every problem at once', () => {
  const o = parseLibvirtOptions({});
  assert.is(o.uri, 'private');
  assert.is(o.memory, 512);
  assert.is(o.network, '10.10.0.0/24');
  assert.is(parseLibvirtOptions({ uri: 'qemu+unix:///system?socket=/x/sock', cpus: 2 }).uri, 'qemu+unix:///system?socket=/x/sock');
  try {
    parseLibvirtOptions({ uri: 'qemu+ssh://far/system', memory: 3, colour: 'red' }, { file: 's.yml' });
    assert.unreachable('bad options accepted');
  } catch (err) {
    assert.instance(err, InputError);
    const p = (err as InputError).problems.map((x) => `${x.path}: ${x.message}`).join('\n');
    assert.match(p, /lab\.options\.colour: is not a libvirt lab option/);
    assert.match(p, /lab\.options\.uri: must be 'private'/);
    assert.match(p, /lab\.options\.memory: must be a whole number from 128/);
  }
});

test('a scenario with bad libvirt options fails to load with file:line for each', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'harness-lv-scn-'));
  try {
    await writeFile(path.join(dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
    const file = path.join(dir, 's.yml');
    await writeFile(file, 'name: t\nlab:\n  provider: libvirt\n  options:\n    memory: 64\n    uri: lxc:///\n  hosts:\n    a: {}\nstages:\n  - name: one\n    playbook: site.yml\n');
    const err = await loadScenario(file).then(() => undefined, (e: unknown) => e);
    assert.instance(err, InputError);
    const msg = (err as Error).message;
    assert.match(msg, /s\.yml:5:\d+: lab\.options\.memory: must be a whole number/);
    assert.match(msg, /s\.yml:6:\d+: lab\.options\.uri: must be 'private'/);
    await writeFile(file, 'name: t\nlab:\n  provider: libvirt\n  options: { memory: 256 }\n  hosts:\n    a: {}\nstages:\n  - name: one\n    playbook: site.yml\n');
    assert.is((await loadScenario(file)).lab.provider, 'libvirt');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the private daemon: sockets and logs in its own folder, QEMU as root without chown, no virtlogd', () => {
  const c = daemonConfig('/tmp/harness-libvirt-X');
  assert.match(c.libvirtd, /unix_sock_dir = "\/tmp\/harness-libvirt-X\/sock"/);
  assert.match(c.libvirtd, /unix_sock_rw_perms = "0700"/);
  assert.match(c.qemu, /dynamic_ownership = 0/);
  assert.match(c.qemu, /stdio_handler = "file"/);
  assert.match(c.qemu, /user = "root"/);
  assert.is(privateUri('/tmp/harness-libvirt-X'), 'qemu:///system?socket=/tmp/harness-libvirt-X/sock/libvirt-sock');
});

test('checkpoint manifest: read back, and a lab that differs is told what differs', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'harness-lv-cp-'));
  try {
    const imageDisk = path.join(dir, 'disk.qcow2');
    await writeFile(imageDisk, '');
    const m: LibvirtCheckpointManifest = { version: 1, provider: 'libvirt', image: 'k1', imageDisk, memory: 512, cpus: 1, snapshot: 'harness-s', savedAt: new Date().toISOString(), hosts: [{ name: 'b', index: 1, labAddress: '10.10.0.2', disk: 'host-1.qcow2' }, { name: 'a', index: 0, labAddress: '10.10.0.1', disk: 'host-0.qcow2' }] };
    await writeLibvirtCheckpoint(dir, m);
    const lab = { image: 'k1', memory: 512, cpus: 1, hosts: [{ name: 'a', labAddress: '10.10.0.1' }, { name: 'b', labAddress: '10.10.0.2' }] };
    const back = await readLibvirtCheckpoint(dir, lab);
    assert.equal(back.hosts.map((h) => h.name), ['a', 'b']);
    const fails = async (l: typeof lab, re: RegExp): Promise<void> => {
      const e = await readLibvirtCheckpoint(dir, l).then(() => undefined, (x: unknown) => x);
      assert.instance(e, LabError);
      assert.match((e as Error).message, re);
    };
    await fails({ ...lab, image: 'k2' }, /taken on the image k1, this lab runs k2/);
    await fails({ ...lab, memory: 1024 }, /512 MiB .* this lab has 1024 MiB/);
    await fails({ ...lab, hosts: [lab.hosts[0]!] }, /holds hosts a, b, this lab has a/);
    await fails({ ...lab, hosts: [lab.hosts[0]!, { name: 'b', labAddress: '10.20.0.2' }] }, /gave b the lab address 10\.10\.0\.2/);
    await rm(imageDisk);
    await fails(lab, /no longer in the image cache/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('teardown of a record whose daemon is gone: nothing to ask virsh, folders removed, record emptied', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'harness-lv-rec-'));
  try {
    const daemonDir = path.join(dir, 'daemon');
    const overlays = path.join(dir, 'overlays');
    await mkdir(daemonDir);
    await mkdir(overlays);
    await writeFile(path.join(overlays, 'host-0-1.qcow2'), 'x');
    const rec: LibvirtLabRecord = {
      version: 1,
      provider: 'libvirt',
      updatedAt: '',
      hosts: [],
      processes: [{ label: 'libvirtd', pid: 999_999_999, startTicks: 1, cmdlineMarker: daemonDir, state: 'running' }],
      libvirt: { uri: privateUri(daemonDir), daemonDir, network: 'harness-dead', bridge: 'hvbdeadbeef', domains: ['harness-dead-0'], dirs: [overlays] },
    };
    const report = await teardownLibvirt(rec, { virsh: '/nonexistent/virsh', ip: '/nonexistent/ip' });
    assert.equal(report.skipped, []);
    assert.equal(rec.libvirt.domains, []);
    assert.is(rec.libvirt.network, undefined);
    assert.is(rec.libvirt.bridge, undefined);
    assert.is(rec.libvirt.daemonDir, undefined);
    assert.ok(rec.processes.every((p) => p.state === 'stopped'));
    assert.not.ok(await access(overlays).then(() => true, () => false));
    assert.not.ok(await access(daemonDir).then(() => true, () => false));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
