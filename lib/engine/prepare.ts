import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AllocatedLab } from '../lab/provider.js';
import { formatInventory } from '../inventory/index.js';
import { ansibleConfig, ansibleEnv, CALLBACK_PLUGIN_DIR, findUserConfig, userSettings } from '../ansible/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../errors.js';
import type { RunDir } from './rundir.js';

/** The per-run Ansible files and the environment that points Ansible at them. */
export interface AnsibleFiles {
  inventory: string;
  config: string;
  env: Record<string, string>;
}

/**
 * The folder of OpenSSH's control sockets: `.private/cp` in the run directory, unless that is too
 * deep for a Unix socket path (108 bytes, with Ansible's 10-character name and ssh's 17-character
 * temp suffix), as in CI checkouts: then a folder of its own under `<tmp>/ansible-harness-<uid>/cp/`.
 */
async function controlPathDir(privateDir: string): Promise<string> {
  const dir = path.join(privateDir, 'cp');
  if (Buffer.byteLength(dir) <= 72) return dir;
  const short = path.join(os.tmpdir(), `ansible-harness-${os.userInfo().uid}`, 'cp', createHash('sha256').update(dir).digest('hex').slice(0, 12));
  await mkdir(short, { recursive: true, mode: 0o700 });
  return short;
}

/**
 * Writes the run's inventory (YAML, and INI beside it for people) and ansible.cfg: the project's
 * own ansible.cfg (see {@link findUserConfig}; found from `scenarioFile`) with ours on top.
 */
export async function prepareAnsible(dir: RunDir, allocated: AllocatedLab, tty: boolean, scenarioFile?: string): Promise<AnsibleFiles> {
  const user = scenarioFile ? findUserConfig(scenarioFile) : undefined;
  const settings = user ? userSettings(user) : undefined;
  const inventory = path.join(dir.inventoryDir, 'hosts.yml');
  await writeFileAtomic(inventory, formatInventory(allocated.lab, 'yaml'));
  try {
    await writeFileAtomic(path.join(dir.inventoryDir, 'hosts.ini'), formatInventory(allocated.lab, 'ini'));
  } catch (err) {
    // INI cannot hold every lab (e.g. a group name with a space); the YAML one is what Ansible reads.
    if (!(err instanceof InputError)) throw err;
  }
  const controlDir = await controlPathDir(dir.privateDir);
  const cfgOptions = { inventory, privateKeyFile: allocated.sshKey, controlPathDir: controlDir, sshArgs: allocated.sshExtraArgs ?? [], localTmp: path.join(dir.privateDir, 'ansible-tmp'), ...(settings ? { user: settings } : {}) };
  await writeFileAtomic(dir.ansibleCfg, ansibleConfig(cfgOptions));
  // The env repeats our callback settings (an inherited ANSIBLE_* would beat the cfg): with the project's own kept beside ours.
  const theirPlugins = settings?.get('defaults')?.get('callback_plugins');
  const theirCallbacks = (settings?.get('defaults')?.get('callbacks_enabled') ?? settings?.get('defaults')?.get('callback_whitelist') ?? '').split(',').map((c) => c.trim()).filter((c) => c);
  const env = ansibleEnv({ configFile: dir.ansibleCfg, controlPathDir: controlDir, tty, localTmp: cfgOptions.localTmp, callbacks: theirCallbacks, ...(theirPlugins ? { pluginDir: `${CALLBACK_PLUGIN_DIR}:${theirPlugins}` } : {}) });
  return { inventory, config: dir.ansibleCfg, env };
}
