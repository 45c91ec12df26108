/**
 * The `local` lab provider: every declared host is a real sshd on its own loopback address
 * (127.X.Y.N in a block the lab claimed for itself, see claims.ts; N from 2 up, in declaration
 * order) and a random free high port, logged in to as the current user with one ed25519 key made
 * for the run. What runs is recorded in `<runDir>/lab.json` on every change, so
 * `releaseRecorded` (lib/lab/release.ts) can stop it (and give back its addresses and disks) after a crash.
 *
 * Layout: `<privateDir>/id_ed25519` (client key, 0600), `<privateDir>/known_hosts`,
 * `<privateDir>/hosts/<host>/{sshd_config,ssh_host_ed25519_key,sshd.pid,sshd.log}`; each host's
 * own root directory (`harness_host_root`, its "disk") is `<hostsRoot>/<host>`, by default in a
 * folder of the lab's own outside the run directory (host-roots.ts), removed at release unless
 * the run keeps it (`keepLab`): the run directory gets only what a stage collects.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Host, Lab } from '../../model/index.js';
import { LabError } from '../../errors.js';
import type { AllocateContext, AllocatedLab, CheckpointCapable, CheckpointContext, LabProvider } from '../provider.js';
import { LabRecorder, readLabRecord, type RecordedHost, type RecordedProcess } from '../record.js';
import { releaseLocalRecorded } from './release.js';
import { freePort, loopbackAddress } from './address.js';
import { claimAddressBlock, releaseAddressBlock, type AddressClaim } from './claims.js';
import { makeHostsDir, removeHostsDir } from './host-roots.js';
import { waitForSshBanner } from './banner.js';
import { sshCheck } from './check.js';
import { placeHost } from './host-vars.js';
import { ensureKeyPair, type KeyPair } from './keys.js';
import { writeKnownHosts } from './known-hosts.js';
import { resolveLocalOptions, type LocalProviderOptions, type ResolvedLocalOptions } from './options.js';
import { procStat, stopTree } from '../../util/proc.js';
import { sessionStrays } from './strays.js';
import { restoreLocalCheckpoint, saveLocalCheckpoint } from './checkpoint.js';
import { renderSshdConfig } from './sshd-config.js';
import { ensurePrivsepDir, logTail, spawnSshd, validateSshdConfig, type SshdProcess } from './sshd.js';

/** The login user's authorized_keys on a host's own disk (`lab.authorized_keys` go there): `<root>/home/<user>/.ssh/authorized_keys`. */
function userKeysFile(root: string, user: string): string {
  return path.join(root, 'home', user, '.ssh', 'authorized_keys');
}

/** How many times a host's sshd is restarted on another port when its port was taken meanwhile. */
const PORT_ATTEMPTS = 5;

/** A host whose sshd we started. */
interface RunningHost {
  name: string;
  address: string;
  port: number;
  proc: SshdProcess;
  entry: RecordedProcess;
}

/** Files of one host under the private folder. */
interface HostFiles {
  dir: string;
  config: string;
  pidFile: string;
  log: string;
  hostKey: string;
}

function hostFiles(privateDir: string, host: string): HostFiles {
  const dir = path.join(privateDir, 'hosts', host);
  return {
    dir,
    config: path.join(dir, 'sshd_config'),
    pidFile: path.join(dir, 'sshd.pid'),
    log: path.join(dir, 'sshd.log'),
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
  };
}

function checkHostName(name: string): void {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new LabError(`the local lab cannot make a folder for host '${name}': rename it (letters, digits, '.', '-', '_')`);
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new LabError('allocation of the local lab was aborted');
}

/** The `local` provider; see the module comment for what it makes and where. */
class LocalProvider implements LabProvider, CheckpointCapable {
  readonly name = 'local' as const;
  private readonly opts: ResolvedLocalOptions;
  private running: RunningHost[] = [];
  private recorder: LabRecorder | undefined;
  private allocating: Promise<unknown> | undefined;
  private cancel: AbortController | undefined;
  /** The address block claimed, the lab's own folder of host roots, and what release does with them. */
  private claim: AddressClaim | undefined;
  private hostsDir: { dir: string; runDir: string; keep: boolean; log: (m: string) => void } | undefined;

  constructor(opts: ResolvedLocalOptions) {
    this.opts = opts;
  }

  async allocate(lab: Lab, ctx: AllocateContext): Promise<AllocatedLab> {
    if (this.allocating || this.running.length) {
      throw new LabError('this local provider already holds a lab: release() it first, or use one provider per run');
    }
    this.cancel = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, this.cancel.signal]) : this.cancel.signal;
    const job = this.allocateAll(lab, ctx, signal);
    this.allocating = job.catch(() => {});
    try {
      return await job;
    } catch (err) {
      // A failed or interrupted allocation gives back what it took (the engine releases only
      // allocated labs): the processes, the address block, the hosts' disks.
      try {
        await this.stopAll();
      } finally {
        await this.releaseOwn();
      }
      throw err;
    } finally {
      this.allocating = undefined;
    }
  }

  saveCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
    return saveLocalCheckpoint(dir, ctx);
  }

  restoreCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
    return restoreLocalCheckpoint(dir, ctx);
  }

  async release(): Promise<void> {
    if (this.allocating) {
      this.cancel?.abort(new LabError('allocation of the local lab was cancelled by release()'));
      await this.allocating;
    }
    try {
      await this.stopAll();
    } finally {
      await this.releaseOwn();
    }
  }

  /** Gives back the address block and removes the hosts' disks (unless kept); after the processes are stopped. */
  private async releaseOwn(): Promise<void> {
    const claim = this.claim;
    const roots = this.hostsDir;
    this.claim = undefined;
    this.hostsDir = undefined;
    if (claim) await releaseAddressBlock(claim);
    if (!roots) return;
    if (roots.keep) roots.log(`local lab: kept the hosts' disks (--keep-lab) in ${roots.dir}; remove it when done (rm -r, or harness cleanup ${roots.runDir})`);
    else await removeHostsDir(roots.dir, roots.runDir);
  }

  private async allocateAll(lab: Lab, ctx: AllocateContext, signal: AbortSignal): Promise<AllocatedLab> {
    const log = ctx.log ?? (() => {});
    const o = this.opts;
    lab.hosts.forEach((h) => checkHostName(h.name));
    const previous = await readLabRecord(ctx.runDir);
    const stale = previous ? await releaseLocalRecorded(ctx.runDir, previous, { graceMs: o.stopGraceMs }) : { released: [] };
    if (stale.released.length) log(`local lab: stopped what a previous allocation left running: ${stale.released.join(', ')}`);

    // Addresses of its own (two labs at once never share one) and disks outside the run directory.
    this.claim = await claimAddressBlock({ dir: o.addressClaims, runDir: ctx.runDir, first: o.firstAddress, count: lab.hosts.length, signal });
    const claim = this.claim;
    const addresses = lab.hosts.map((_, i) => loopbackAddress(i, o.firstAddress, claim.prefix));
    let hostsRoot = o.hostsRoot;
    if (hostsRoot === undefined) {
      hostsRoot = await makeHostsDir(ctx.runDir);
      this.hostsDir = { dir: hostsRoot, runDir: ctx.runDir, keep: ctx.keepLab ?? false, log };
    }
    const ownHostsDir = this.hostsDir?.dir;

    await mkdir(ctx.privateDir, { recursive: true, mode: 0o700 });
    await ensurePrivsepDir();
    const clientKey = await ensureKeyPair(path.join(ctx.privateDir, 'id_ed25519'), `ansible-harness run ${path.basename(ctx.runDir)}`, signal);

    const recorder = new LabRecorder(ctx.runDir, {
      provider: 'local', hosts: [], processes: [],
      local: { addressClaim: { file: claim.file, token: claim.token }, ...(ownHostsDir ? { hostsDir: ownHostsDir } : {}), ...(ctx.keepLab ? { keep: true } : {}) },
    });
    this.recorder = recorder;
    await recorder.update((r) => {
      r.hosts = lab.hosts.map((h, i): RecordedHost => {
        const f = hostFiles(ctx.privateDir, h.name);
        return { name: h.name, address: addresses[i]!, port: 0, user: o.user, config: f.config, root: path.join(hostsRoot, h.name), log: f.log };
      });
    });

    // Start every sshd; the first real failure stops the ones not started yet.
    const failFast = new AbortController();
    const hostSignal = AbortSignal.any([signal, failFast.signal]);
    let firstError: unknown;
    const limit = pLimit(o.concurrency);
    const hostKeys = new Map<string, KeyPair>();
    const results = await Promise.allSettled(
      lab.hosts.map((h, i) =>
        limit(async () => {
          hostSignal.throwIfAborted();
          try {
            const { key, port } = await this.startHost(h, addresses[i]!, path.join(hostsRoot, h.name), clientKey, ctx, hostSignal);
            hostKeys.set(h.name, key);
            log(`local lab: ${h.name} listens on ${addresses[i]}:${port}`);
            return port;
          } catch (err) {
            if (!hostSignal.aborted) {
              firstError ??= err;
              failFast.abort(err);
            }
            throw err;
          }
        }),
      ),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed || signal.aborted) {
      await this.stopAll();
      if (signal.aborted) throw abortError(signal);
      throw firstError ?? (failed as PromiseRejectedResult).reason;
    }
    const ports = results.map((r) => (r as PromiseFulfilledResult<number>).value);

    try {
      const knownHosts = path.join(ctx.privateDir, 'known_hosts');
      await writeKnownHosts(
        knownHosts,
        lab.hosts.map((h, i) => ({ address: addresses[i]!, port: ports[i]!, publicKey: hostKeys.get(h.name)!.publicKey })),
      );
      await this.checkLogins(lab.hosts, addresses, ports, clientKey.privateKey, knownHosts, signal);
      const hosts: Host[] = lab.hosts.map((h, i) =>
        placeHost(lab, h, { address: addresses[i]!, port: ports[i]!, user: o.user, root: path.join(hostsRoot, h.name) }),
      );
      log(`local lab: ${hosts.length} host(s) answer SSH as ${o.user}`);
      return {
        lab: { ...lab, hosts },
        sshKey: clientKey.privateKey,
        sshExtraArgs: ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`],
        knownHostsFile: knownHosts,
        verified: true,
        authorizedKeysFiles: Object.fromEntries(hosts.map((h) => [h.name, userKeysFile(path.join(hostsRoot, h.name), o.user)])),
      };
    } catch (err) {
      await this.stopAll();
      if (signal.aborted) throw abortError(signal);
      throw err;
    }
  }

  /** Makes one host's files and starts its sshd until it shows an SSH banner. */
  private async startHost(
    host: Host,
    address: string,
    root: string,
    clientKey: KeyPair,
    ctx: AllocateContext,
    signal: AbortSignal,
  ): Promise<{ key: KeyPair; port: number }> {
    const o = this.opts;
    const f = hostFiles(ctx.privateDir, host.name);
    await mkdir(f.dir, { recursive: true, mode: 0o700 });
    await mkdir(root, { recursive: true });
    const key = await ensureKeyPair(f.hostKey, `ansible-harness host ${host.name}`, signal);
    const extra = o.sshdExtraConfig(host.name);

    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      const port = await freePort(address, signal);
      const text = renderSshdConfig({ address, port, hostKey: f.hostKey, pidFile: f.pidFile, authorizedKeys: clientKey.publicKeyFile, moreAuthorizedKeys: [userKeysFile(root, o.user)], user: o.user, extra });
      await writeFile(f.config, text, { mode: 0o600 });
      try {
        await validateSshdConfig(o.sshdPath, f.config, signal);
      } catch (err) {
        if (err instanceof LabError) throw new LabError(`host ${host.name}: ${err.message}`, { cause: err });
        throw err;
      }

      const entry: RecordedProcess = { label: `sshd of host ${host.name}`, host: host.name, cmdlineMarker: f.config, pidFile: f.pidFile, state: 'starting' };
      await this.recorder!.update((r) => {
        r.processes.push(entry);
        const h = r.hosts.find((x) => x.name === host.name);
        if (h) h.port = port;
      });
      const proc = await spawnSshd(o.sshdPath, f.config, f.log);
      const running: RunningHost = { name: host.name, address, port, proc, entry };
      this.running.push(running);
      await this.recorder!.update(() => {
        entry.pid = proc.pid;
        entry.startTicks = proc.startTicks;
        entry.state = 'running';
      });

      try {
        await waitForSshBanner(address, port, { timeoutMs: o.startTimeoutMs, signal, stopWhen: proc.exited });
        return { key, port };
      } catch (err) {
        if (signal.aborted) throw abortError(signal);
        const tail = await logTail(f.log, proc.log.offset);
        await this.stopHost(running);
        this.running = this.running.filter((r) => r !== running);
        if (/Address already in use/i.test(tail) && attempt < PORT_ATTEMPTS) continue;
        throw new LabError(
          `host ${host.name}: sshd on ${address}:${port} did not come up: ${(err as Error).message}\n` +
            `last lines of ${f.log}:\n${tail || '(empty)'}\ncheck the config ${f.config}`,
          { cause: err },
        );
      }
    }
  }

  /** Logs in to every host with `ssh` and the run's key; throws LabError naming the first host that refuses. */
  private async checkLogins(hosts: Host[], addresses: string[], ports: number[], key: string, knownHosts: string, signal: AbortSignal): Promise<void> {
    const limit = pLimit(this.opts.concurrency);
    const results = await Promise.allSettled(
      hosts.map((h, i) =>
        limit(() => sshCheck({ address: addresses[i]!, port: ports[i]!, user: this.opts.user, key, knownHosts }, { sshPath: this.opts.sshPath, signal })),
      ),
    );
    signal.throwIfAborted();
    const bad = results.findIndex((r) => r.status === 'rejected');
    if (bad < 0) return;
    const h = hosts[bad]!;
    const why = ((results[bad] as PromiseRejectedResult).reason as Error).message;
    const run = this.running.find((r) => r.name === h.name);
    const tail = run ? await logTail(run.proc.log.file, run.proc.log.offset) : '';
    throw new LabError(
      `host ${h.name}: sshd on ${addresses[bad]}:${ports[bad]} runs but an SSH login as ${this.opts.user} with ${key} failed: ${why}\n` +
        `last lines of its sshd log:\n${tail || '(empty)'}`,
    );
  }

  /** Stops one sshd and everything under it, if it is still the process we started. */
  private async stopHost(h: RunningHost): Promise<string | undefined> {
    let problem: string | undefined;
    const { child } = h.proc;
    // An exited child we have not reaped keeps its pid, so an unreaped pid is surely ours.
    if (child.exitCode === null && child.signalCode === null) {
      const stat = await procStat(h.proc.pid);
      if (stat && stat.startTicks === h.proc.startTicks) {
        const outcome = await stopTree(stat, this.opts.stopGraceMs);
        if (outcome === 'stuck') problem = `sshd of host ${h.name} (pid ${h.proc.pid}) or a child survived SIGKILL`;
      }
    }
    if (!problem) await this.recorder?.update(() => void (h.entry.state = 'stopped')).catch(() => {});
    return problem;
  }

  /** Stops what sessions on the host detached from its sshd (daemons a playbook started). */
  private async stopStrays(h: RunningHost): Promise<string | undefined> {
    const strays = await sessionStrays(h.address, h.port);
    const outcomes = await Promise.all(strays.map((p) => stopTree(p, this.opts.stopGraceMs)));
    return outcomes.includes('stuck') ? `a process host ${h.name} started survived SIGKILL` : undefined;
  }

  private async stopAll(): Promise<void> {
    const list = this.running.splice(0);
    const problems = (await Promise.all(list.map(async (h) => (await this.stopHost(h)) ?? (await this.stopStrays(h))))).filter((p): p is string => !!p);
    if (problems.length) throw new LabError(`the local lab could not stop everything: ${problems.join('; ')}; stop them by hand (ps -ef | grep sshd)`);
  }
}

/** A `local` lab provider: hosts as real sshd processes on 127.X.Y.N, a loopback block of the lab's own. */
export function createLocalProvider(opts?: LocalProviderOptions): LabProvider {
  return new LocalProvider(resolveLocalOptions(opts));
}
