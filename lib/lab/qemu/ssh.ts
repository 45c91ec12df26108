/**
 * Reaching a guest over its forwarded SSH port: waiting for sshd's banner (no ssh process per
 * try), and running a shell script as root with the `ssh` client, optionally handing the guest
 * the host's clock at the moment it asks for it.
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { LabError } from '../../errors.js';

/** Where a guest's sshd is, and the key that opens it. */
export interface SshTarget {
  /** Host port on 127.0.0.1. */
  port: number;
  /** Private key file. */
  key: string;
  /** For messages. */
  name: string;
}

/** The ssh options every connection to a lab VM uses (VM host keys are shared by clones). */
export const SSH_OPTIONS = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=20'];

/** The ssh arguments that run `command` as root on `t`. */
export function sshArgs(t: SshTarget, command: string): string[] {
  return ['-i', t.key, '-p', String(t.port), ...SSH_OPTIONS, 'root@127.0.0.1', command];
}

function readBanner(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.startsWith('SSH-')) done(true);
      else if (got.length >= 4) done(false);
    });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}

/**
 * Resolves when sshd answers with its banner on 127.0.0.1:`port`. QEMU's user network accepts
 * the connection before the guest does, so each try waits for the banner itself. Throws
 * LabError after `timeoutMs`, on abort, or when `exited` resolves (the VM is gone).
 */
export async function waitForSshBanner(port: number, opts: { name: string; timeoutMs?: number; signal?: AbortSignal; exited?: Promise<unknown> }): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void opts.exited?.then(() => {
    gone = true;
  });
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) throw new LabError(`waiting for ssh on ${opts.name} was aborted`, { cause: opts.signal.reason });
    if (gone) throw new LabError(`the VM of ${opts.name} exited while waiting for its sshd`);
    if (await readBanner(port, Math.min(15_000, Math.max(1000, deadline - Date.now())))) return;
    await delay(100);
  }
  throw new LabError(`the sshd of ${opts.name} (127.0.0.1:${port}) did not answer within ${Math.round(timeoutMs / 1000)} s; look at its console log`);
}

/** Options of {@link sshScript}. */
export interface SshScriptOptions {
  /** Absolute path of ssh. @default 'ssh' */
  ssh?: string;
  /** Answer the script's first `read` with the host's time (seconds since the epoch, ms precision) once it prints `CLOCK?`. */
  clock?: boolean;
  /** @default 120000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** What this is for, for messages. */
  purpose: string;
}

/**
 * Runs `script` as root on the guest (the remote command of ssh) and resolves with its stdout. With `clock`, the
 * script's line `CLOCK?` is answered on its stdin with the host's current time, so `read t;
 * date -s @$t` sets the guest clock within milliseconds. Throws LabError with the script's stderr.
 */
export function sshScript(t: SshTarget, script: string, opts: SshScriptOptions): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    // The script is ssh's remote command (run by root's login shell); stdin only carries the clock.
    const child = spawn(opts.ssh ?? 'ssh', sshArgs(t, script), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let answered = false;
    let why: string | undefined;
    child.stdin.on('error', () => {});
    if (!opts.clock) child.stdin.end();
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (opts.clock && !answered && out.includes('CLOCK?\n')) {
        answered = true;
        child.stdin.end(`${(Date.now() / 1000).toFixed(3)}\n`);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const kill = (reason: string): void => {
      why = reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`timed out after ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const onAbort = (): void => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new LabError(`${opts.purpose} on ${t.name}: cannot run ssh: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (code === 0 && !why) resolve(out.replace('CLOCK?\n', ''));
      else reject(new LabError(`${opts.purpose} on ${t.name} (ssh 127.0.0.1:${t.port}) ${why ?? `exited with status ${code}`}${err.trim() ? `:\n${err.trim().slice(-2000)}` : ''}`));
    });
  });
}
