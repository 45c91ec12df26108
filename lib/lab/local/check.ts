/**
 * The proof a local host works: a real `ssh` login with the run's key, checking the host key
 * against the run's `known_hosts`, running one command.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How to reach one host with `ssh`. */
export interface SshTarget {
  address: string;
  port: number;
  user: string;
  /** Private key file. */
  key: string;
  /** A `known_hosts` file holding the host's key. */
  knownHosts: string;
}

/** The `ssh` arguments that log in to `t` non-interactively and run `command` (pure). */
export function sshCheckArgs(t: SshTarget, command: string, connectTimeoutSec = 10): string[] {
  return [
    '-F', '/dev/null',
    '-i', t.key,
    '-p', String(t.port),
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${t.knownHosts}`,
    '-o', `ConnectTimeout=${connectTimeoutSec}`,
    '-o', 'ControlMaster=no',
    '-o', 'ControlPath=none',
    '-o', 'LogLevel=ERROR',
    `${t.user}@${t.address}`,
    command,
  ];
}

/** How often a login that did not finish in time is tried (a loaded machine): ~1 min in all. */
const LOGIN_ATTEMPTS = 4;

/**
 * Logs in to `t` and has Python print `harness-ok` (what Ansible needs of a host: SSH and
 * Python); resolves when it printed that, otherwise rejects with ssh's own error text. A login
 * that did not finish within `timeoutMs` is tried again, up to `attempts` times: on a machine
 * under heavy load ssh and Python can take longer than one attempt. @default timeoutMs 15000
 */
export async function sshCheck(t: SshTarget, opts: { sshPath?: string; timeoutMs?: number; signal?: AbortSignal; attempts?: number } = {}): Promise<void> {
  const attempts = opts.attempts ?? LOGIN_ATTEMPTS;
  for (let i = 1; ; i++) {
    try {
      return await sshCheckOnce(t, opts);
    } catch (err) {
      if (i >= attempts || opts.signal?.aborted || !(err as Error & { slow?: boolean }).slow) throw i > 1 ? new Error(`${(err as Error).message} (${i} attempts)`) : err;
    }
  }
}

async function sshCheckOnce(t: SshTarget, opts: { sshPath?: string; timeoutMs?: number; signal?: AbortSignal }): Promise<void> {
  const { stdout } = await run(opts.sshPath ?? 'ssh', sshCheckArgs(t, `python3 -c "print('harness-ok')"`), {
    signal: opts.signal,
    timeout: opts.timeoutMs ?? 15_000,
    killSignal: 'SIGKILL',
  }).catch((err: NodeJS.ErrnoException & { stderr?: string; killed?: boolean }) => {
    if (err.code === 'ENOENT') throw new Error(`${opts.sshPath ?? 'ssh'} is not installed (apt-get install openssh-client)`);
    if (err.killed && !opts.signal?.aborted) throw Object.assign(new Error('ssh did not finish in time'), { slow: true });
    throw new Error((err.stderr || err.message).trim());
  });
  if (stdout.trim() !== 'harness-ok') throw new Error(`the login ran but printed '${stdout.trim().slice(0, 200)}' instead of 'harness-ok'`);
}
