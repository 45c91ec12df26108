/**
 * Host validation after an allocation or a restore (seeds/001 "Validate Hosts"): every host
 * must answer SSH and run Python within a deadline. Hosts that are still booting are retried
 * with backoff; a host that never answers is named with the last thing that went wrong.
 * It logs in as Ansible will, with the OpenSSH client and the host's connection vars.
 */
import { execFile } from 'node:child_process';
import pLimit from 'p-limit';
import { LabError } from '../errors.js';
import type { Host } from '../model/index.js';
import { formatDuration } from '../util/duration.js';
import { hostConnection, hostVar } from './connection.js';
import type { AllocatedLab } from './provider.js';

/** Options of {@link validateHosts}. */
export interface ValidateHostsOptions {
  /** Every host must have answered within this long. @default 5 minutes */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Progress for the console. */
  log?: (message: string) => void;
  /** Hosts checked at once. @default 8 */
  concurrency?: number;
  /** The first pause between two tries of a host; it doubles up to 15 s. @default 1000 */
  firstBackoffMs?: number;
}

/** How one host did. */
export interface HostCheck {
  host: string;
  ok: boolean;
  tries: number;
  /** The Python version it answered with, or the last error. */
  detail: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);

/** How long the first try of a host may take; each later try may take twice the one before. */
const FIRST_TRY_MS = 30_000;

/**
 * The `ssh` argument list that runs `command` on `host` the way Ansible would reach it. `tryMs`
 * is how long the try may take: ssh's connect timeout and its patience with a silent server
 * are a third of it each (at least 10 s, as for the first try's 30 s).
 */
export function sshArgv(host: Host, lab: AllocatedLab, command: string, tryMs = FIRST_TRY_MS): string[] {
  const c = hostConnection(host, lab);
  return [
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${Math.max(10, Math.round(tryMs / 3000))}`,
    '-o', 'ServerAliveInterval=5',
    '-o', `ServerAliveCountMax=${Math.max(2, Math.round(tryMs / 15_000))}`,
    // The provider's host key handling, else Ansible's in our ansible.cfg (host key checking off), without touching ~/.ssh/known_hosts.
    ...(lab.sshExtraArgs ?? ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR']),
    ...(c.key ? ['-i', c.key, '-o', 'IdentitiesOnly=yes'] : []),
    '-p', String(c.port),
    '-l', c.user,
    '--', c.address,
    command,
  ];
}

function tryOnce(argv: string[], tryMs: number, signal?: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    execFile('ssh', argv, { timeout: tryMs, ...(signal ? { signal } : {}), encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, detail: stdout.trim() });
      const text = `${stderr}`.trim().split('\n').filter((l) => !l.startsWith('Warning: Permanently added')).pop();
      const killed = (err as { killed?: boolean }).killed && !signal?.aborted;
      resolve({ ok: false, detail: text || (killed ? `no answer within ${formatDuration(tryMs)}` : err.message) });
    });
  });
}

/**
 * Checks every host of the lab: SSH login and `python -c` with the host's interpreter
 * (`ansible_python_interpreter`, else `python3`). Resolves with each host's check when all
 * answered; throws a LabError naming every host that did not within the deadline.
 */
export async function validateHosts(lab: AllocatedLab, opts: ValidateHostsOptions = {}): Promise<HostCheck[]> {
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  const deadline = Date.now() + timeoutMs;
  const limit = pLimit(opts.concurrency ?? 8);
  const checks = await Promise.all(
    lab.lab.hosts.map((host) =>
      limit(async (): Promise<HostCheck> => {
        const python = str(hostVar(lab.lab, host, 'ansible_python_interpreter')) ?? 'python3';
        const command = `${python} -c 'import sys; print("python %d.%d" % sys.version_info[:2])'`;
        let backoff = opts.firstBackoffMs ?? 1000;
        // A host that is up but slow (a VM emulated on a busy machine: its login and Python take
        // longer than a first try allows) gets longer tries, up to what is left of the deadline
        // (a try is never shorter than the first).
        let tryMs = FIRST_TRY_MS;
        for (let tries = 1; ; tries++, tryMs *= 2) {
          opts.signal?.throwIfAborted();
          const budget = Math.max(FIRST_TRY_MS, Math.min(tryMs, deadline - Date.now()));
          const r = await tryOnce(sshArgv(host, lab, command, budget), budget, opts.signal);
          if (r.ok) return { host: host.name, ok: true, tries, detail: r.detail };
          if (Date.now() + backoff > deadline) return { host: host.name, ok: false, tries, detail: r.detail };
          if (tries === 1) opts.log?.(`validate: ${host.name} not ready yet (${r.detail}); retrying for up to ${formatDuration(Math.max(0, deadline - Date.now()))}`);
          await new Promise((res) => setTimeout(res, backoff));
          backoff = Math.min(backoff * 2, 15_000);
        }
      }),
    ),
  );
  opts.signal?.throwIfAborted();
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) {
    throw new LabError(
      `${bad.length} of ${checks.length} host(s) did not answer SSH and run Python within ${formatDuration(timeoutMs)}:\n` +
        bad.map((c) => `  ${c.host}: ${c.detail} (${c.tries} tries)`).join('\n') +
        '\nCheck that the hosts booted, that their SSH key and address are right, and raise lab.validate.timeout if they boot slowly.',
    );
  }
  return checks;
}
