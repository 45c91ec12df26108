/**
 * Using an up lab: `lab login` (ssh to a host, or one command there), `lab run` (a command such
 * as ansible-playbook with the lab's inventory and ansible.cfg), `lab down` (release, as
 * `harness cleanup` releases a run's lab) and the release of labs whose `lab up` crashed.
 */
import { spawn } from 'node:child_process';
import { EXIT, InputError, LabError } from '../errors.js';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { cleanupRun } from '../engine/cleanup.js';
import { controlPathDir } from '../engine/prepare.js';
import { LABS_DIR } from '../engine/labs.js';
import { runDirPaths } from '../rundir.js';
import { listUpLabs, readUpLab, removeUpLab, upState, type UpHost, type UpLab } from './record.js';

/** The host `name` of the lab (the first by default), or an InputError naming the hosts. */
export function pickHost(lab: UpLab, name?: string): UpHost {
  if (!lab.hosts.length) throw new LabError(`lab ${lab.name} has no hosts recorded (state ${lab.state}); release it: harness lab down ${lab.name}`);
  if (name === undefined) return lab.hosts[0]!;
  const host = lab.hosts.find((h) => h.name === name || `${h.lab}/${h.name}` === name);
  if (!host) throw new InputError(`lab ${lab.name} has no host '${name}'; its hosts: ${lab.hosts.map((h) => h.name).join(', ')}`);
  return host;
}

/** The `ssh` arguments that log in to `host` (then `command`, if any). */
export function sshArgv(lab: UpLab, host: UpHost, command: string[], tty: boolean): string[] {
  const args = [...(host.key ? ['-i', host.key, '-o', 'IdentitiesOnly=yes'] : []), '-p', String(host.port)];
  args.push(...(lab.knownHosts ? ['-o', `UserKnownHostsFile=${lab.knownHosts}`, '-o', 'StrictHostKeyChecking=yes'] : ['-o', 'StrictHostKeyChecking=accept-new']));
  if (command.length) args.push('-o', 'BatchMode=yes');
  else if (tty) args.push('-t');
  args.push(`${host.user}@${host.address}`);
  // ssh joins the words with spaces for the remote shell, as `ssh host cmd args` always does.
  if (command.length) args.push('--', ...command);
  return args;
}

/**
 * Runs `argv` with the terminal (stdin, stdout, stderr inherited) and returns its exit status;
 * Ctrl-C goes to it (the foreground process group), not to us.
 */
export function runAttached(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const ignore = () => {};
    process.on('SIGINT', ignore);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    child.on('error', (err) => {
      process.off('SIGINT', ignore);
      reject(new LabError(`cannot run ${argv[0]}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve({ code, signal });
    });
  });
}

/** An exit code of our table for what an attached command returned (ssh's 255: the host, exit 3). */
export function exitOf(r: { code: number | null; signal: NodeJS.Signals | null }, what: string, log: (m: string) => void, sshFailed = false): number {
  if (r.code === 0) return EXIT.ok;
  if (r.signal === 'SIGINT') return EXIT.interrupted;
  log(`harness: ${what} ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.code}`}\n`);
  return sshFailed && r.code === 255 ? EXIT.lab : EXIT.stageFailed;
}

/** The environment a command run against the lab gets: its ansible.cfg and inventory. */
export function labEnv(lab: UpLab, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!lab.inventory || !lab.ansibleConfig) throw new LabError(`lab ${lab.name} has no inventory recorded (state ${lab.state})`);
  return { ...env, ANSIBLE_CONFIG: lab.ansibleConfig, ANSIBLE_INVENTORY: lab.inventory, HARNESS_INVENTORY: lab.inventory };
}

/** Reads an up lab that is usable now (up, its processes running). */
export async function usableLab(name: string, env: NodeJS.ProcessEnv): Promise<UpLab> {
  const lab = await readUpLab(name, env);
  const state = await upState(lab);
  if (state === 'up') return lab;
  const why = { starting: 'is still coming up', crashed: 'never came up (its harness lab up died)', stopped: 'is gone: its processes stopped (a reboot?)' }[state];
  throw new LabError(`lab ${name} ${why}; release it with harness lab down ${name}`);
}

/** What {@link labDown} released. */
export interface DownReport {
  name: string;
  released: string[];
}

/**
 * Releases the up lab `name` the way `harness cleanup` releases a run's lab (every lab of its run
 * directory), marks that run interrupted if it still says running, and removes the record (and
 * the lab's own run directory). A process that cannot be stopped is a LabError; the record stays.
 */
export async function labDown(name: string, env: NodeJS.ProcessEnv): Promise<DownReport> {
  const lab = await readUpLab(name, env);
  const released: string[] = [];
  if (lab.runDir) {
    const report = await cleanupRun(lab.runDir, { reason: `interrupted: the harness stopped before lab ${name} was up (released by harness lab down)` });
    released.push(...report.released);
  }
  // A deep run directory's SSH control sockets live in a short temp folder (prepare.ts): it goes too.
  if (lab.runDir) for (const d of await labPrivateDirs(lab.runDir)) await rm(controlPathDir(d), { recursive: true, force: true }).catch(() => {});
  await removeUpLab(name, env);
  return { name, released };
}

/** The private folders of a run directory's labs (`.private`, `.private/labs/lab-N`). */
async function labPrivateDirs(runDir: string): Promise<string[]> {
  const top = runDirPaths(runDir).privateDir;
  const more = await readdir(path.join(top, LABS_DIR)).catch(() => [] as string[]);
  return [top, ...more.map((n) => path.join(top, LABS_DIR, n))];
}

/** Releases every up lab whose `lab up` died before it came up, or, with `all`, every up lab. */
export async function releaseUpLabs(env: NodeJS.ProcessEnv, opts: { all?: boolean } = {}): Promise<{ down: DownReport[]; still: { lab: UpLab; state: string }[] }> {
  const down: DownReport[] = [];
  const still: { lab: UpLab; state: string }[] = [];
  for (const lab of await listUpLabs(env)) {
    const state = await upState(lab);
    if (opts.all || state === 'crashed' || state === 'stopped') down.push(await labDown(lab.name, env));
    else still.push({ lab, state });
  }
  return { down, still };
}

/** The up lab whose run directory is `runDir`, if any (`harness cleanup RUN_DIR` removes its record too). */
export async function upLabOfRun(runDir: string, env: NodeJS.ProcessEnv): Promise<UpLab | undefined> {
  const want = path.resolve(runDir);
  return (await listUpLabs(env)).find((l) => l.runDir && path.resolve(l.runDir) === want);
}
