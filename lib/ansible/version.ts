/** Finding `ansible-playbook` and the versions of ansible-core and Python it runs on. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { LabError } from '../errors.js';
import { cacheDir } from '../paths.js';
import { ansibleCacheKey, cachedAnsible, rememberAnsible } from './version-cache.js';

/** The `ansible-playbook` a run uses. */
export interface AnsibleInstall {
  /** The executable's path (Ansible's "executable location", else the name that was run). */
  playbook: string;
  /** The ansible-core (or old ansible) version, e.g. `2.14.18`. */
  version: string;
  /** The Python version Ansible runs on, e.g. `3.11.2`. */
  python: string;
}

/** How to look for `ansible-playbook`. */
export interface FindAnsibleOptions {
  /** The program to run. @default 'ansible-playbook' */
  binary?: string;
  /** The environment (PATH) to look in. @default process.env */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** @default 30000 */
  timeoutMs?: number;
  /**
   * The file caching the answer (keyed by the files of ansible-playbook and its interpreter, see
   * version-cache.ts); `false` always runs `--version`. @default `<cacheDir(env)>/ansible.json`
   */
  cacheFile?: string | false;
}

const INSTALL_HINT = 'install it with `apt-get install -y --no-install-recommends ansible-core` (or `pip install ansible-core`)';

/**
 * Parses `ansible-playbook --version` output (`ansible-playbook [core 2.14.18]` or the older
 * `ansible-playbook 2.9.6`); undefined when the ansible version is not there.
 */
export function parseAnsibleVersion(text: string): { version: string; python: string; executable?: string; moduleDir?: string } | undefined {
  const version = /^ansible-playbook\s+(?:\[core\s+([^\]\s]+)\]|([0-9][^\s]*))/m.exec(text);
  if (!version) return undefined;
  const python = /^\s*python version = ([0-9][^\s]*)/m.exec(text)?.[1] ?? 'unknown';
  const executable = /^\s*executable location = (.+?)\s*$/m.exec(text)?.[1];
  const moduleDir = /^\s*ansible python module location = (.+?)\s*$/m.exec(text)?.[1];
  return { version: (version[1] ?? version[2])!, python, ...(executable ? { executable } : {}), ...(moduleDir ? { moduleDir } : {}) };
}

/**
 * Where `ansible-playbook` is and its versions: from the cache when ansible-playbook and its
 * interpreter are the files they were, else by running `ansible-playbook --version`. Throws
 * {@link LabError} (exit 3) naming the tool and how to install it when it is missing or broken.
 */
export async function findAnsible(opts: FindAnsibleOptions = {}): Promise<AnsibleInstall> {
  const binary = opts.binary ?? 'ansible-playbook';
  const env = opts.env ?? process.env;
  const { hit, file, key } = await lookUp(binary, env, opts);
  if (hit) return hit;
  const found = await runVersion(binary, env, opts);
  const install: AnsibleInstall = { playbook: found.executable ?? binary, version: found.version, python: found.python };
  if (file && key) await rememberAnsible(file, key, install, found.moduleDir);
  return install;
}

/** The cache's answer for `binary` on `env`, with the file and key to remember a new one under. */
async function lookUp(binary: string, env: NodeJS.ProcessEnv, opts: FindAnsibleOptions): Promise<{ hit?: AnsibleInstall; file?: string; key?: string }> {
  const file = opts.cacheFile === false ? undefined : (opts.cacheFile ?? path.join(cacheDir(env), 'ansible.json'));
  const key = file ? await ansibleCacheKey(binary, env).catch(() => undefined) : undefined;
  const hit = file && key ? await cachedAnsible(file, key) : undefined;
  return { ...(hit ? { hit } : {}), ...(file ? { file } : {}), ...(key ? { key } : {}) };
}

/** {@link findAnsible}'s answer when the cache has it (nothing is run); undefined on a miss. */
export async function findCachedAnsible(opts: Omit<FindAnsibleOptions, 'signal' | 'timeoutMs'> = {}): Promise<AnsibleInstall | undefined> {
  return (await lookUp(opts.binary ?? 'ansible-playbook', opts.env ?? process.env, opts)).hit;
}

/** Runs `binary --version` and parses it. */
function runVersion(binary: string, env: NodeJS.ProcessEnv, opts: FindAnsibleOptions): Promise<NonNullable<ReturnType<typeof parseAnsibleVersion>>> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ['--version'],
      { env, timeout: opts.timeoutMs ?? 30_000, signal: opts.signal, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            reject(new LabError(`${binary} not found on PATH: ${INSTALL_HINT}`, { cause: err }));
          } else if (code === 'ABORT_ERR') {
            reject(err);
          } else {
            const detail = String(stderr || stdout).trim().split('\n').slice(-3).join('\n');
            reject(new LabError(`\`${binary} --version\` failed (${err.message.split('\n')[0]})${detail ? `:\n${detail}` : ''}\n${INSTALL_HINT}`, { cause: err }));
          }
          return;
        }
        const parsed = parseAnsibleVersion(String(stdout));
        if (!parsed) {
          reject(new LabError(`\`${binary} --version\` printed no ansible-playbook version; is it Ansible? ${INSTALL_HINT}`));
          return;
        }
        resolve(parsed);
      },
    );
  });
}
