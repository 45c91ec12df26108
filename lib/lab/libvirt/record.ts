/**
 * `<runDir>/lab.json` of a libvirt lab (the common version 1 record plus a `libvirt` section),
 * and the one teardown both `release()` and `harness cleanup` run from it: domains destroyed and
 * undefined with their snapshot metadata, the network destroyed, QEMU and the private libvirtd
 * stopped by pid, the bridge deleted, overlays and the daemon's folder removed.
 */
import { access, rm } from 'node:fs/promises';
import { LabError } from '../../errors.js';
import { LabRecorder, readLabRecord, stopRecorded, writeLabRecord, type LabRecord, type RecordedProcess } from '../record.js';
import { run } from '../qemu/index.js';
import { virsh, which, type LibvirtToolPaths } from './daemon.js';

/** What a libvirt lab made besides processes. */
export interface LibvirtSection {
  /** The connection the domains live on. */
  uri: string;
  /** The private daemon's folder, when the lab started its own. */
  daemonDir?: string;
  /** The libvirt network of the lab. */
  network?: string;
  /** The bridge under it, made by the lab. */
  bridge?: string;
  /** Domains defined (names). */
  domains: string[];
  /** Folders to remove (overlays). */
  dirs: string[];
}

/** The content of `lab.json` for a libvirt lab. */
export interface LibvirtLabRecord extends LabRecord {
  provider: 'libvirt';
  libvirt: LibvirtSection;
}

/** The recorder of a libvirt lab's `lab.json`. */
export type LibvirtRecorder = LabRecorder<LibvirtLabRecord>;

/** A recorder for the libvirt lab of `runDir`. */
export function createLibvirtRecorder(runDir: string, uri: string): LibvirtRecorder {
  return new LabRecorder<LibvirtLabRecord>(runDir, { provider: 'libvirt', hosts: [], processes: [], libvirt: { uri, domains: [], dirs: [] } });
}

/** The label of the private daemon in the record. */
export const DAEMON_LABEL = 'libvirtd';

/** What a teardown did. */
export interface LibvirtReleaseReport {
  released: string[];
  skipped: { label: string; pid?: number; reason: string }[];
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/**
 * Releases everything `rec` names (changing `rec` to say so). The daemon is asked to destroy
 * and undefine the domains first; whatever it cannot reach is stopped by pid. Safe to repeat.
 */
export async function teardownLibvirt(rec: LibvirtLabRecord, tools: Pick<LibvirtToolPaths, 'virsh' | 'ip'>, graceMs = 3000): Promise<LibvirtReleaseReport> {
  const report: LibvirtReleaseReport = { released: [], skipped: [] };
  const lv = rec.libvirt;
  const daemon = rec.processes.find((p) => p.label === DAEMON_LABEL && p.state !== 'stopped');
  const reachable = (!lv.daemonDir || daemon !== undefined) && (await virsh(tools, lv.uri, ['version'], { timeoutMs: 30_000 }).then(() => true, () => false));
  if (reachable) {
    for (const d of lv.domains) {
      await virsh(tools, lv.uri, ['destroy', d], { timeoutMs: 60_000 }).catch(() => {});
      await virsh(tools, lv.uri, ['undefine', d, '--snapshots-metadata'], { timeoutMs: 60_000 }).catch(() => {});
    }
    if (lv.network) await virsh(tools, lv.uri, ['net-destroy', lv.network], { timeoutMs: 60_000 }).catch(() => {});
    const left = new Set((await virsh(tools, lv.uri, ['list', '--all', '--name']).catch(() => '')).split('\n').map((s) => s.trim()));
    const stuck = lv.domains.filter((d) => left.has(d));
    for (const d of stuck) report.skipped.push({ label: `domain ${d}`, reason: `still defined on ${lv.uri}; virsh destroy/undefine it by hand` });
    if (!stuck.length) report.released.push(...lv.domains.map((d) => `domain ${d}`));
    lv.domains = stuck;
    if (lv.network) report.released.push(`network ${lv.network}`);
    delete lv.network;
  } else if (!lv.daemonDir && (lv.domains.length || lv.network)) {
    report.skipped.push({ label: `domains ${lv.domains.join(', ')}`, reason: `${lv.uri} does not answer; destroy and undefine them there by hand` });
  }
  // QEMU first, the daemon last: a killed daemon leaves its QEMUs running.
  const live = rec.processes.filter((p) => p.state !== 'stopped').sort((a, b) => Number(a.label === DAEMON_LABEL) - Number(b.label === DAEMON_LABEL));
  for (const p of live) {
    const r = await stopRecorded(p, { graceMs, tree: false });
    if (r.outcome === 'skipped') {
      report.skipped.push({ label: p.label, ...(p.pid !== undefined ? { pid: p.pid } : {}), reason: r.reason });
      continue;
    }
    if (r.outcome === 'stopped') report.released.push(p.label);
    p.state = 'stopped';
  }
  if (lv.daemonDir && !report.skipped.length) {
    // The private daemon is gone, and with it the domains and network it knew.
    lv.domains = [];
    delete lv.network;
  }
  if (lv.bridge) {
    if (await exists(`/sys/class/net/${lv.bridge}`)) {
      try {
        await run(tools.ip, ['link', 'del', lv.bridge], { timeoutMs: 30_000, purpose: 'deleting the lab bridge' });
        report.released.push(`bridge ${lv.bridge}`);
        delete lv.bridge;
      } catch (err) {
        report.skipped.push({ label: `bridge ${lv.bridge}`, reason: (err as Error).message });
      }
    } else delete lv.bridge;
  }
  if (!report.skipped.length) {
    await Promise.all([...lv.dirs, ...(lv.daemonDir ? [lv.daemonDir] : [])].map((d) => rm(d, { recursive: true, force: true })));
    lv.dirs = [];
    delete lv.daemonDir;
  }
  return report;
}

/** `harness cleanup` / `--resume` for a libvirt run directory: the teardown from its `lab.json`. */
export async function releaseLibvirtRecorded(runDir: string, opts: { graceMs?: number } = {}): Promise<LibvirtReleaseReport> {
  const rec = (await readLabRecord(runDir)) as LibvirtLabRecord | undefined;
  if (rec?.provider !== 'libvirt') return { released: [], skipped: [] };
  if (!rec.libvirt) throw new LabError(`the lab record of ${runDir} is a libvirt record without its 'libvirt' section; look for its domains with virsh list --all`);
  const report = await teardownLibvirt(rec, { virsh: (await which('virsh')) ?? 'virsh', ip: (await which('ip')) ?? 'ip' }, opts.graceMs);
  await writeLabRecord(runDir, rec);
  return report;
}

/** A process of the record (for typing the provider's entries). */
export type LibvirtRecordedProcess = RecordedProcess & { pid: number; startTicks: number; state: 'running' | 'stopped' };
