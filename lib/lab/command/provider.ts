/**
 * The `command` provider: the team's own scripts allocate and release the hosts (a cloud, a Heat
 * stack, a reserved rack). The contract, as the README documents it:
 * - `allocate` runs with `HARNESS_RESOURCES` (a file it writes: whatever `release` needs) and
 *   `HARNESS_LAB_DIR` (a folder of its own), and prints one JSON document on stdout
 *   ({@link AllocateOutput}); its stderr goes to `lab/allocate.log`.
 * - `release` runs with the same resources file on every path — after a pass, a failure, an
 *   interrupt, a timeout, a failed allocate that already wrote resources, and from `harness
 *   cleanup` after a crash. A failed release keeps the resources file for a later cleanup.
 * - `snapshot NAME` / `restore NAME` (optional, together) get `HARNESS_CHECKPOINT_DIR` too; with
 *   them the lab can take checkpoints, and the store keeps what they write into that folder.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LabError } from '../../errors.js';
import type { Host, Lab } from '../../model/index.js';
import type { AllocateContext, AllocatedLab, CheckpointCapable, CheckpointContext, LabProvider } from '../provider.js';
import { LabRecorder, readLabRecord, writeLabRecord, type LabRecord, type ReleaseReport } from '../record.js';
import { parseAllocateOutput, type AllocateOutput } from './output.js';
import { runLabScript, type ScriptRun } from './run-script.js';

/** Settings of a `command` lab, paths resolved. */
export interface CommandLabOptions {
  allocate: string;
  release: string;
  snapshot?: string;
  restore?: string;
  /** Each script is killed after this long. @default 20 minutes */
  timeoutMs?: number;
  /** Where scripts run and relative paths in their output resolve: the scenario's folder. */
  cwd: string;
  /** The environment scripts get, before the `HARNESS_*` variables. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Applied to the scripts' logs. @default identity */
  redact?: (text: string) => string;
  /** The private key (absolute) for hosts when the script names none (`lab.options.ssh_key`). */
  sshKey?: string;
}

/** The `command` section of `lab.json`: enough to release after a crash. */
export interface CommandRecordSection {
  release: string;
  cwd: string;
  /** The resources file the scripts share (in the run directory's `lab/`). */
  resources: string;
  /** `HARNESS_LAB_DIR`: the scripts' own folder, outside the run directory (keys may live there); removed after a release. */
  labDir: string;
  /** Where the scripts' logs go: `<run dir>/lab`. */
  logDir: string;
  runDir: string;
  timeoutMs: number;
  state: 'allocating' | 'allocated' | 'released' | 'release-failed';
}

/** `lab.json` of a command lab. */
export interface CommandLabRecord extends LabRecord {
  command: CommandRecordSection;
}

const DEFAULT_TIMEOUT = 20 * 60_000;
const SNAPSHOT_NAME_FILE = 'harness-snapshot.json';

function cleanEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** The hosts of the lab: the script's, with the groups and vars the scenario declares for them. */
export function mergeHosts(declared: Lab, out: AllocateOutput, cwd: string): Host[] {
  const byName = new Map(declared.hosts.map((h) => [h.name, h]));
  const missing = declared.hosts.filter((h) => !out.hosts.some((o) => o.name === h.name)).map((h) => h.name);
  if (missing.length) {
    throw new LabError(`the allocate script returned no host named ${missing.map((m) => `'${m}'`).join(', ')}, which lab.hosts declares; it returned: ${out.hosts.map((h) => h.name).join(', ')}`);
  }
  return out.hosts.map((o) => {
    const d = byName.get(o.name);
    const vars = { ...(o.vars ?? {}), ...(d?.vars ?? {}) };
    const key = o.ssh_key ?? undefined;
    if (key) vars.ansible_ssh_private_key_file = path.resolve(cwd, key);
    const host: Host = { name: o.name, address: o.address, groups: [...new Set([...(o.groups ?? []), ...(d?.groups ?? [])])], vars };
    if (o.port !== undefined) host.port = o.port;
    host.user = o.user ?? 'root';
    return host;
  });
}

/** Makes a `command` lab provider. */
export function createCommandProvider(o: CommandLabOptions): LabProvider & Partial<CheckpointCapable> {
  if (Boolean(o.snapshot) !== Boolean(o.restore)) throw new LabError('a command lab needs both snapshot and restore scripts, or neither');
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT;
  let recorder: LabRecorder<CommandLabRecord> | undefined;
  let released = false;
  let ctxOf: AllocateContext | undefined;

  const script = (what: ScriptRun['what'], argv: string[], extra: Record<string, string>, signal?: AbortSignal) => {
    const rec = recorder!.current.command;
    return runLabScript({
      what, argv, cwd: o.cwd, timeoutMs, logDir: rec.logDir,
      env: cleanEnv(o.env ?? process.env, { HARNESS_RESOURCES: rec.resources, HARNESS_LAB_DIR: rec.labDir, HARNESS_RUN_DIR: rec.runDir, ...extra }),
      ...(signal ? { signal } : {}),
      ...(o.redact ?? ctxOf?.redact ? { redact: (o.redact ?? ctxOf!.redact)! } : {}),
      ...(ctxOf?.log ? { log: ctxOf.log } : {}),
    });
  };

  const provider: LabProvider & Partial<CheckpointCapable> = {
    name: 'command',
    async allocate(lab, ctx) {
      ctxOf = ctx;
      const logDir = path.join(ctx.runDir, 'lab');
      await mkdir(logDir, { recursive: true });
      const labDir = await mkdtemp(path.join(tmpdir(), 'harness-command-lab-'));
      const section: CommandRecordSection = { release: o.release, cwd: o.cwd, resources: path.join(logDir, 'resources'), labDir, logDir, runDir: ctx.runDir, timeoutMs, state: 'allocating' };
      recorder = new LabRecorder<CommandLabRecord>(ctx.runDir, { provider: 'command', hosts: [], processes: [], command: section });
      await recorder.update(() => {});
      ctx.log?.(`command lab: allocating with ${path.relative(o.cwd, o.allocate) || o.allocate}`);
      const res = await script('allocate', [o.allocate], {}, ctx.signal);
      if (res.reason === 'aborted') throw new LabError('allocation was interrupted');
      const out = parseAllocateOutput(res.stdout, `the lab's allocate script (${o.allocate})`);
      const hosts = mergeHosts(lab, out, o.cwd);
      await recorder.update((r) => {
        r.command.state = 'allocated';
        r.hosts = hosts.map((h) => ({ name: h.name, address: h.address!, port: h.port ?? 22, user: h.user ?? 'root' }));
      });
      ctx.log?.(`command lab: ${hosts.length} host(s): ${hosts.map((h) => `${h.name} ${h.address}:${h.port ?? 22}`).join(', ')}`);
      const groups = [...lab.groups];
      for (const h of hosts) for (const g of h.groups) if (!groups.some((x) => x.name === g)) groups.push({ name: g, children: [], vars: {} });
      const allocated: AllocatedLab = { lab: { ...lab, provider: 'command', hosts, groups } };
      if (out.ssh_key) allocated.sshKey = path.resolve(o.cwd, out.ssh_key);
      else if (o.sshKey) allocated.sshKey = o.sshKey;
      if (out.known_hosts) {
        const kh = path.resolve(o.cwd, out.known_hosts);
        allocated.knownHostsFile = kh;
        allocated.sshExtraArgs = ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${kh}`];
      } else {
        // No keys given: accept each host's key the first time, in a known_hosts file of this run.
        allocated.sshExtraArgs = ['-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${path.join(ctx.privateDir, 'command-known_hosts')}`];
      }
      return allocated;
    },
    async release() {
      if (released || !recorder) return;
      released = true;
      const rec = recorder.current.command;
      // Nothing to give back: allocate never started, or failed before writing resources.
      if (rec.state === 'allocating' && !(await exists(rec.resources))) {
        await rm(rec.labDir, { recursive: true, force: true });
        await recorder.update((r) => void (r.command.state = 'released'));
        return;
      }
      try {
        await script('release', [o.release], {});
        await rm(rec.labDir, { recursive: true, force: true });
        await recorder.update((r) => void (r.command.state = 'released'));
      } catch (err) {
        await recorder.update((r) => void (r.command.state = 'release-failed'));
        throw new LabError(`${(err as Error).message}\nThe resources file ${rec.resources} is kept: run 'harness cleanup ${rec.runDir}' to try the release again`, { cause: err });
      }
    },
  };
  if (o.snapshot && o.restore) {
    const snapshot = o.snapshot;
    const restore = o.restore;
    provider.saveCheckpoint = async (dir: string, ctx: CheckpointContext) => {
      // The store's folder name is unique per save; the script gets a name it can use for its own snapshot ids.
      const name = `harness-${path.basename(path.dirname(dir)).replace(/[^A-Za-z0-9_-]/g, '')}`.slice(0, 60);
      const res = await script('snapshot', [snapshot, name], { HARNESS_CHECKPOINT_DIR: dir }, ctx.signal);
      if (res.reason === 'aborted') throw new LabError('the snapshot was interrupted');
      await writeFile(path.join(dir, SNAPSHOT_NAME_FILE), `${JSON.stringify({ name })}\n`);
    };
    provider.restoreCheckpoint = async (dir: string, ctx: CheckpointContext) => {
      const { name } = JSON.parse(await readFile(path.join(dir, SNAPSHOT_NAME_FILE), 'utf8')) as { name: string };
      const res = await script('restore', [restore, name], { HARNESS_CHECKPOINT_DIR: dir }, ctx.signal);
      if (res.reason === 'aborted') throw new LabError('the restore was interrupted');
    };
  }
  return provider;
}

/**
 * Releases a command lab that a crashed run left (`harness cleanup`, `--resume`): runs its
 * release script with the recorded resources file unless it was released already.
 */
export async function releaseCommandRecorded(runDir: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ReleaseReport> {
  const record = (await readLabRecord(runDir)) as CommandLabRecord | undefined;
  const report: ReleaseReport = { released: [], skipped: [] };
  if (!record?.command || record.command.state === 'released') return report;
  const c = record.command;
  if (record.command.state === 'allocating' && !(await exists(c.resources))) {
    await rm(c.labDir, { recursive: true, force: true });
    c.state = 'released';
    await writeLabRecord(runDir, record);
    return report;
  }
  try {
    await runLabScript({
      what: 'release', argv: [c.release], cwd: c.cwd, timeoutMs: c.timeoutMs, logDir: c.logDir,
      env: cleanEnv(opts.env ?? process.env, { HARNESS_RESOURCES: c.resources, HARNESS_LAB_DIR: c.labDir, HARNESS_RUN_DIR: runDir }),
    });
    await rm(c.labDir, { recursive: true, force: true });
    c.state = 'released';
    report.released.push(`command lab (release script ${c.release})`);
  } catch (err) {
    c.state = 'release-failed';
    report.skipped.push({ label: `command lab (release script ${c.release})`, reason: (err as Error).message });
  }
  await writeLabRecord(runDir, record);
  return report;
}
