/**
 * The lab providers, each loaded on demand (providers never import each other): how to create
 * one for a scenario, and how to release what a crashed run of it left (`harness cleanup`,
 * `--resume`). Adding a provider is adding an entry here.
 */
import path from 'node:path';
import { LabError } from '../errors.js';
import type { LabSpec, ProviderName } from '../model/index.js';
import type { LabProvider } from './provider.js';
import { releaseRecordedProcesses, type LabRecord, type ReleaseReport } from './record.js';

/** What the harness needs of a provider. */
export interface ProviderEntry {
  /** A provider for the scenario's lab; `scenarioFile` resolves relative paths in its options. */
  create(spec: LabSpec, scenarioFile?: string): LabProvider;
  /** Releases what `record` (the `lab.json` of `runDir`) names and still runs. */
  releaseRecorded(runDir: string, record: LabRecord, opts: { graceMs?: number }): Promise<ReleaseReport>;
  /** Facts of this machine a checkpoint of the lab depends on beyond the scenario (qemu: the accelerator), for its key. */
  keyFacts?(spec: LabSpec): Promise<Record<string, unknown>>;
}

const REGISTRY: Partial<Record<ProviderName, () => Promise<ProviderEntry>>> = {
  local: async () => {
    const [{ createLocalProvider }, { releaseLocalRecorded }] = await Promise.all([import('./local/provider.js'), import('./local/release.js')]);
    return { create: (spec) => createLocalProvider(spec.options), releaseRecorded: releaseLocalRecorded };
  },
  qemu: async () => {
    const [{ createQemuProvider }, { releaseQemuRecorded }, { accelKeyFacts }, { GOLDEN_VERSION }] = await Promise.all([
      import('./qemu/provider.js'),
      import('./qemu/record.js'),
      import('./qemu/accel.js'),
      import('./qemu/golden.js'),
    ]);
    return {
      // The golden state's version too: a checkpoint's disks and memory sit on top of one golden
      // state, so a harness that makes another one redoes the stages instead of refusing the restore.
      keyFacts: async (spec) => {
        const a = spec.options.accel;
        return { ...(await accelKeyFacts(a === 'kvm' || a === 'tcg' ? a : 'auto')), golden: GOLDEN_VERSION };
      },
      create: (spec, scenarioFile) => createQemuProvider(spec.options, scenarioFile ? { scenarioFile } : {}),
      releaseRecorded: (runDir, _record, opts) => releaseQemuRecorded(runDir, opts),
    };
  },
  libvirt: async () => {
    const [{ createLibvirtProvider }, { releaseLibvirtRecorded }] = await Promise.all([import('./libvirt/provider.js'), import('./libvirt/record.js')]);
    return {
      create: (spec, scenarioFile) => createLibvirtProvider(spec.options, scenarioFile ? { scenarioFile } : {}),
      releaseRecorded: (runDir, _record, opts) => releaseLibvirtRecorded(runDir, opts),
    };
  },
  command: async () => {
    const { createCommandProvider, releaseCommandRecorded } = await import('./command/provider.js');
    return {
      create: (spec, scenarioFile) => {
        if (!spec.command) throw new LabError('a command lab needs its allocate and release scripts (lab.allocate, lab.release)');
        const cwd = scenarioFile ? path.dirname(scenarioFile) : process.cwd();
        const key = spec.options.ssh_key;
        return createCommandProvider({ ...spec.command, cwd, ...(typeof key === 'string' && key ? { sshKey: path.resolve(cwd, key) } : {}) });
      },
      releaseRecorded: (runDir) => releaseCommandRecorded(runDir),
    };
  },
  static: async () => {
    const { createStaticProvider } = await import('./static.js');
    return {
      create: (spec, scenarioFile) => {
        const key = spec.options.ssh_key;
        return createStaticProvider(typeof key === 'string' && key ? { sshKey: path.resolve(scenarioFile ? path.dirname(scenarioFile) : process.cwd(), key) } : {});
      },
      releaseRecorded: releaseRecordedProcesses,
    };
  },
};

/** The registry entry of a provider; a LabError naming the available ones if it has none. */
export async function providerEntry(name: ProviderName): Promise<ProviderEntry> {
  const load = REGISTRY[name];
  if (!load) throw new LabError(`the '${name}' lab provider is not available in this version of ansible-harness; use ${Object.keys(REGISTRY).join(', ')}`);
  return load();
}
