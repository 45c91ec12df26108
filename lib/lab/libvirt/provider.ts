/**
 * The `libvirt` lab provider: one libvirt domain per declared host (type `qemu`, TCG), each on a
 * qcow2 overlay of the qemu lab's cached image, cold-booted from its kernel; SSH on a loopback
 * port forwarded by QEMU's user network; the hosts joined by a libvirt network over a bridge of
 * the lab's own. Checkpoints are `virsh snapshot-create-as` internal snapshots (memory and disk)
 * kept in the checkpoint store with the overlays that hold them; a restore is `snapshot-revert`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import type { Lab, Vars } from '../../model/index.js';
import { procStartTicks } from '../../util/proc.js';
import type { AllocateContext, AllocatedLab, CheckpointCapable, CheckpointContext, LabProvider } from '../provider.js';
import {
  checkQemuTools,
  clockScript,
  ensureImageOf,
  freePort,
  guestHostname,
  guestSetupScript,
  KERNEL_APPEND,
  labAddress,
  labMac,
  QEMU_SSH_EXTRA_ARGS,
  vmHosts,
  run,
  sshScript,
  waitForSshBanner,
  type GuestIdentity,
  type QemuImage,
} from '../qemu/index.js';
import { readLibvirtCheckpoint, writeLibvirtCheckpoint, type LibvirtCheckpointManifest } from './checkpoint.js';
import { checkLibvirtTools, startDaemon, virsh, type LibvirtToolPaths } from './daemon.js';
import { parseLibvirtOptions, PRIVATE_URI, type LibvirtOptions } from './options.js';
import { createLibvirtRecorder, DAEMON_LABEL, teardownLibvirt, type LibvirtRecorder } from './record.js';
import { domainXml, networkXml, snapshotXml, type DomainSpec } from './xml.js';

/** Where the libvirt provider finds what the scenario does not say. */
export interface LibvirtProviderSettings {
  scenarioFile?: string;
  baseDir?: string;
  /** The cache root holding `images/` (shared with the qemu lab). @default cacheDir() */
  cacheRoot?: string;
  /** How long a cold boot may take to answer SSH. @default 900000 (TCG on a loaded machine) */
  bootTimeoutMs?: number;
}

interface Domain {
  host: string;
  index: number;
  name: string;
  uuid: string;
  identity: GuestIdentity;
  port: number;
  disk: string;
  generation: number;
}

/** The libvirt lab provider; also a checkpoint provider. */
export class LibvirtProvider implements LabProvider, CheckpointCapable {
  readonly name = 'libvirt' as const;
  readonly options: LibvirtOptions;
  private tools: LibvirtToolPaths | undefined;
  private uri = '';
  private recorder: LibvirtRecorder | undefined;
  private image: QemuImage | undefined;
  private network = '';
  private workDir = '';
  private logDir = '';
  private sshKey = '';
  private domains: Domain[] = [];
  /** Snapshots the running domains hold, by checkpoint name. */
  private snapshots = new Set<string>();
  private allocated = false;
  private closed = false;
  private releasing: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: Vars, private readonly settings: LibvirtProviderSettings = {}) {
    this.options = parseLibvirtOptions(options, {
      ...(settings.scenarioFile ? { file: settings.scenarioFile } : {}),
      ...(settings.baseDir ? { baseDir: settings.baseDir } : {}),
    });
  }

  async allocate(lab: Lab, ctx: AllocateContext): Promise<AllocatedLab> {
    if (this.allocated) throw new LabError('this libvirt provider already allocated a lab; make a new provider for another lab');
    this.allocated = true;
    if (lab.hosts.length > 253) throw new LabError(`a libvirt lab holds at most 253 hosts on its /24 lab network; this one declares ${lab.hosts.length}`);
    const sig = ctx.signal ? { signal: ctx.signal } : {};
    const t0 = Date.now();
    const tools = (this.tools = await checkLibvirtTools({ privateDaemon: this.options.uri === PRIVATE_URI }));
    const qemuTools = await checkQemuTools();
    const recorder = (this.recorder = createLibvirtRecorder(ctx.runDir, this.options.uri));
    await recorder.update(() => {});
    const image = (this.image = await ensureImageOf(this.options, { tools: qemuTools, ...(this.settings.cacheRoot ? { cacheRoot: this.settings.cacheRoot } : {}), ...sig, ...(ctx.log ? { log: ctx.log } : {}) }));

    if (this.options.uri === PRIVATE_URI) {
      const d = await startDaemon(tools, { ...sig, onFolder: (dir) => recorder.update((r) => void (r.libvirt.daemonDir = dir)) });
      this.uri = d.uri;
      await recorder.update((r) => {
        r.libvirt.uri = d.uri;
        r.processes.push({ label: DAEMON_LABEL, pid: d.pid, startTicks: d.startTicks, cmdlineMarker: d.dir, state: 'running' });
      });
      ctx.log?.(`libvirt lab: private libvirtd ${d.pid} answers on ${d.uri} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } else this.uri = this.options.uri;
    this.check();

    const id = randomBytes(4).toString('hex');
    const bridge = `hvb${id}`;
    this.network = `harness-${id}`;
    await recorder.update((r) => void (r.libvirt.bridge = bridge));
    await run(tools.ip, ['link', 'add', bridge, 'type', 'bridge'], { purpose: 'making the lab bridge', ...sig });
    // No address of this machine on the lab network, not even IPv6 link-local: only the guests talk there.
    await run(tools.ip, ['link', 'set', 'dev', bridge, 'addrgenmode', 'none'], { purpose: 'making the lab bridge', ...sig });
    await run(tools.ip, ['link', 'set', 'dev', bridge, 'up'], { purpose: 'making the lab bridge', ...sig });
    await recorder.update((r) => void (r.libvirt.network = this.network));
    const netFile = path.join(ctx.privateDir, 'libvirt-network.xml');
    await writeFile(netFile, networkXml(this.network, bridge));
    await virsh(tools, this.uri, ['net-create', netFile], sig);

    this.workDir = path.join(ctx.privateDir, 'libvirt');
    this.logDir = path.join(ctx.runDir, 'libvirt');
    await mkdir(this.workDir, { recursive: true, mode: 0o700 });
    await mkdir(this.logDir, { recursive: true });
    await recorder.update((r) => void (r.libvirt.dirs = [this.workDir]));
    this.sshKey = path.join(this.workDir, 'id_ed25519');
    await copyFile(image.privateKey, this.sshKey);
    await chmod(this.sshKey, 0o600);

    const names = new Set<string>();
    const identities: GuestIdentity[] = lab.hosts.map((h, i) => {
      let hostname = guestHostname(h.name);
      if (names.has(hostname)) hostname = `${hostname}-${i}`;
      names.add(hostname);
      return { hostname, labAddress: labAddress(this.options.network, i), mac: labMac(i), peers: [] };
    });
    for (const x of identities) x.peers = identities.map((p) => ({ hostname: p.hostname, labAddress: p.labAddress }));
    for (const [i, h] of lab.hosts.entries()) {
      this.domains.push({ host: h.name, index: i, name: `harness-${id}-${i}`, uuid: randomUUID(), identity: identities[i]!, port: await freePort(), disk: '', generation: 0 });
    }
    const t1 = Date.now();
    for (const d of this.domains) {
      this.check();
      d.disk = await this.newDisk(d);
      await run(qemuTools['qemu-img'], ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.disk, d.disk], { purpose: `making the disk of ${d.host}`, ...sig });
      await this.define(d, sig);
      await virsh(tools, this.uri, ['start', d.name], sig);
      await this.trackQemu(d);
    }
    const t2 = Date.now();
    ctx.log?.(`libvirt lab: ${this.domains.length} domain(s) defined and started in ${((t2 - t1) / 1000).toFixed(1)} s; cold boot (TCG) to sshd...`);
    await Promise.all(
      this.domains.map(async (d) => {
        await waitForSshBanner(d.port, { name: d.host, timeoutMs: this.settings.bootTimeoutMs ?? 900_000, ...sig });
        await sshScript(this.target(d), guestSetupScript(d.identity), { ssh: tools.ssh, clock: true, purpose: 'setting hostname, clock and lab address', ...sig });
      }),
    );
    ctx.log?.(`libvirt lab: ${this.domains.length} host(s) answer SSH ${((Date.now() - t2) / 1000).toFixed(1)} s after start`);
    const hosts = vmHosts(lab, this.domains);
    await recorder.update((r) => {
      r.hosts = this.domains.map((d) => ({ name: d.host, address: '127.0.0.1', port: d.port, user: 'root' }));
    });
    return { lab: { ...lab, hosts }, sshKey: this.sshKey, sshExtraArgs: [...QEMU_SSH_EXTRA_ARGS] };
  }

  private check(): void {
    if (this.closed) throw new LabError('the libvirt lab was released while it was being allocated');
  }

  private target(d: Domain) {
    return { port: d.port, key: this.sshKey, name: d.host };
  }

  private async newDisk(d: Domain): Promise<string> {
    d.generation++;
    return path.join(this.workDir, `host-${d.index}-${d.generation}.qcow2`);
  }

  private spec(d: Domain): DomainSpec {
    const image = this.image!;
    return {
      name: d.name,
      uuid: d.uuid,
      memory: this.options.memory,
      cpus: this.options.cpus,
      kernel: image.kernel,
      initrd: image.initrd,
      cmdline: KERNEL_APPEND,
      disk: d.disk,
      network: this.network,
      mac: d.identity.mac,
      sshPort: d.port,
      consoleLog: path.join(this.logDir, `${d.identity.hostname}.console.log`),
    };
  }

  /** Defines `d` as it is now (its disk, its port), recorded first so a crash leaves nothing unnamed. */
  private async define(d: Domain, sig: { signal?: AbortSignal }): Promise<string> {
    await this.recorder!.update((r) => {
      if (!r.libvirt.domains.includes(d.name)) r.libvirt.domains.push(d.name);
    });
    const xml = domainXml(this.spec(d));
    const file = path.join(this.workDir, `${d.name}.xml`);
    await writeFile(file, xml);
    await virsh(this.tools!, this.uri, ['define', file], sig);
    return xml;
  }

  /** Records the QEMU of `d` by pid (a private daemon's pid files are in its folder). */
  private async trackQemu(d: Domain): Promise<void> {
    const dir = this.recorder!.current.libvirt.daemonDir;
    if (!dir) return;
    const pid = Number((await readFile(path.join(dir, 'run', 'qemu', `${d.name}.pid`), 'utf8').catch(() => '')).trim());
    const startTicks = pid > 1 ? await procStartTicks(pid) : undefined;
    if (startTicks === undefined) return;
    await this.recorder!.update((r) => {
      if (r.processes.some((p) => p.pid === pid && p.startTicks === startTicks && p.state === 'running')) return;
      for (const p of r.processes) if (p.host === d.host && p.label !== DAEMON_LABEL) p.state = 'stopped';
      r.processes.push({ label: `qemu of host ${d.host}`, host: d.host, pid, startTicks, cmdlineMarker: `guest=${d.name},`, state: 'running' });
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private ready(what: string): LibvirtToolPaths {
    if (!this.tools || !this.image || !this.domains.length || this.closed) throw new LabError(`cannot ${what} a checkpoint: the libvirt lab is not allocated`);
    return this.tools;
  }

  private syncClocks(sig: { signal?: AbortSignal }): Promise<unknown> {
    return Promise.all(this.domains.map((d) => sshScript(this.target(d), clockScript(), { ssh: this.tools!.ssh, clock: true, purpose: 'setting the clock', ...sig })));
  }

  /**
   * Pauses every domain (one moment for the lab), takes the internal snapshot of each with
   * `virsh snapshot-create-as`, copies each overlay (which now holds it) into `dir`, resumes.
   */
  saveCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
    return this.serial(async () => {
      const tools = this.ready('save');
      const sig = ctx.signal ? { signal: ctx.signal } : {};
      const snapshot = `harness-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const t0 = Date.now();
      await Promise.all(this.domains.map((d) => virsh(tools, this.uri, ['suspend', d.name], sig)));
      const manifest: LibvirtCheckpointManifest = {
        version: 1,
        provider: 'libvirt',
        image: this.image!.key,
        imageDisk: this.image!.disk,
        memory: this.options.memory,
        cpus: this.options.cpus,
        snapshot,
        savedAt: new Date().toISOString(),
        hosts: [],
      };
      try {
        for (const d of this.domains) {
          await virsh(tools, this.uri, ['snapshot-create-as', d.name, snapshot, '--description', `ansible-harness checkpoint of ${d.host}`], sig);
          // Paused and flushed by the snapshot: the overlay is consistent while we copy it.
          const disk = `host-${d.index}.qcow2`;
          await copyFile(d.disk, path.join(dir, disk));
          manifest.hosts.push({ name: d.host, index: d.index, labAddress: d.identity.labAddress, disk });
        }
      } finally {
        await Promise.all(this.domains.map((d) => virsh(tools, this.uri, ['resume', d.name]).catch(() => {})));
      }
      this.snapshots.add(snapshot);
      await this.syncClocks(sig);
      await writeLibvirtCheckpoint(dir, manifest);
      ctx.log?.(`libvirt lab: checkpoint ${snapshot} of ${this.domains.length} domain(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }

  /**
   * Brings every domain back to the checkpoint in `dir` (left unchanged): `snapshot-revert` when
   * the domains hold its snapshot (taken or restored in this lab); else each domain is undefined,
   * defined anew on a copy of the saved overlay, the snapshot's metadata redefined for it, and
   * reverted. Clocks are set after.
   */
  restoreCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
    return this.serial(async () => {
      const tools = this.ready('restore');
      const sig = ctx.signal ? { signal: ctx.signal } : {};
      const m = await readLibvirtCheckpoint(dir, { image: this.image!.key, memory: this.options.memory, cpus: this.options.cpus, hosts: this.domains.map((d) => ({ name: d.host, labAddress: d.identity.labAddress })) });
      const t0 = Date.now();
      if (this.snapshots.has(m.snapshot)) {
        // libvirt reverts in the running QEMU when it can, else starts a new one: record whichever runs.
        await Promise.all(this.domains.map(async (d) => {
          await virsh(tools, this.uri, ['snapshot-revert', d.name, m.snapshot, '--running'], sig);
          await this.trackQemu(d);
        }));
      } else {
        await Promise.all(
          this.domains.map(async (d) => {
            const saved = m.hosts.find((h) => h.name === d.host)!;
            await virsh(tools, this.uri, ['destroy', d.name], sig).catch(() => {});
            await virsh(tools, this.uri, ['undefine', d.name, '--snapshots-metadata'], sig);
            const old = d.disk;
            d.disk = await this.newDisk(d);
            await copyFile(path.join(dir, saved.disk), d.disk);
            await rm(old, { force: true });
            const xml = await this.define(d, sig);
            const file = path.join(this.workDir, `${d.name}.snapshot.xml`);
            await writeFile(file, snapshotXml(m.snapshot, new Date(m.savedAt), xml));
            await virsh(tools, this.uri, ['snapshot-create', d.name, file, '--redefine', '--current'], sig);
            await virsh(tools, this.uri, ['snapshot-revert', d.name, m.snapshot, '--running'], sig);
            await this.trackQemu(d);
          }),
        );
        this.snapshots = new Set([m.snapshot]);
      }
      const t1 = Date.now();
      await Promise.all(this.domains.map((d) => waitForSshBanner(d.port, { name: d.host, timeoutMs: 300_000, ...sig })));
      await this.syncClocks(sig);
      ctx.log?.(`libvirt lab: restored ${m.snapshot} in ${((Date.now() - t0) / 1000).toFixed(1)} s (revert ${((t1 - t0) / 1000).toFixed(1)} s)`);
    });
  }

  /** Destroys and undefines every domain, destroys the network, stops the private daemon, deletes the bridge and overlays. Safe twice. */
  release(): Promise<void> {
    this.closed = true;
    this.releasing ??= this.doRelease();
    return this.releasing;
  }

  private async doRelease(): Promise<void> {
    const recorder = this.recorder;
    if (!recorder || !this.tools) return;
    const rec = recorder.current;
    const report = await teardownLibvirt(rec, this.tools);
    await recorder.update((r) => {
      r.processes = rec.processes;
      r.libvirt = rec.libvirt;
    });
    if (report.skipped.length) throw new LabError(`the libvirt lab was not released whole: ${report.skipped.map((s) => `${s.label}: ${s.reason}`).join('; ')}`);
  }
}

/** Makes a libvirt provider from a scenario's `lab.options`; throws InputError naming a bad field. */
export function createLibvirtProvider(options: Vars = {}, settings: LibvirtProviderSettings = {}): LibvirtProvider {
  return new LibvirtProvider(options, settings);
}
