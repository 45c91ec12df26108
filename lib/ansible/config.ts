/**
 * The per-run `ansible.cfg` text and the environment `ansible-playbook` runs with. Both are pure:
 * the caller writes the file (into the run directory) and merges the env over its own.
 */
import { InputError } from '../errors.js';
import { packageFile } from '../paths.js';
import type { IniSections } from './user-config.js';

/** The name our callback plugin is enabled by. */
export const CALLBACK_NAME = 'harness_events';

/** The folder holding our callback plugin (`harness_events.py`), shipped with the package. */
export const CALLBACK_PLUGIN_DIR: string = packageFile('lib', 'ansible', 'plugins');

/** The environment variable naming the file or FIFO the plugin writes its JSON lines to. */
export const EVENTS_PATH_ENV = 'HARNESS_EVENTS_PATH';

/** The host key options every run uses (lab hosts are made anew; their keys change). */
const HOST_KEY_SSH_ARGS = ['-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no'];

/** What goes into a run's `ansible.cfg`. */
export interface AnsibleConfigOptions {
  /** Inventory path(s), joined with `,`. */
  inventory: string | string[];
  /** Where SSH control sockets go: a per-run tmp dir, so no master outlives or leaks across runs. */
  controlPathDir: string;
  /** How long an idle SSH master lives (ssh's ControlPersist). @default '5s' */
  controlPersist?: string;
  /** Extra ssh arguments, each one word (quoted here for Ansible's shlex split). */
  sshArgs?: string[];
  /** `private_key_file`, when the lab made a key. */
  privateKeyFile?: string;
  /** @default 5 */
  forks?: number;
  /** Connection timeout in seconds. @default 30 */
  timeout?: number;
  /** @default true */
  pipelining?: boolean;
  /** The folder of our callback plugin. @default CALLBACK_PLUGIN_DIR */
  pluginDir?: string;
  /** More callbacks to enable beside ours (e.g. `profile_tasks`). @default [] */
  callbacks?: string[];
  /** @default 'default' */
  stdoutCallback?: string;
  /** `local_tmp` (Ansible's controller-side temp files), e.g. under the run's tmp dir. */
  localTmp?: string;
  /** `interpreter_python`, e.g. `auto_silent` or `/usr/bin/python3`. Absent: Ansible's default. */
  interpreterPython?: string;
  /**
   * The project's own settings ({@link userSettings}), copied first: ours replace them only where
   * the harness must (inventory, callbacks, host keys, retry files, key, local tmp, pipelining,
   * control path, ssh_args); its callback plugins and enabled callbacks are kept beside ours, and
   * its forks, timeout and interpreter_python win over our defaults.
   */
  user?: IniSections;
}

/** Checks a value fits on one INI line that Ansible's configparser reads back unchanged. */
function iniValue(option: string, value: string | number | boolean): string {
  const text = String(value);
  if (/[\r\n]/.test(text) || /\s;/.test(text) || text !== text.trim() || text === '') {
    throw new InputError(
      `ansibleConfig: option '${option}' is ${JSON.stringify(text)}; an ansible.cfg value must be one non-empty line, ` +
        `without leading/trailing spaces or ' ;' (which starts a comment)`,
    );
  }
  return text;
}

/** Quotes one word for Python's shlex.split (what Ansible does to `ssh_args`). */
function shlexQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}

function positiveInt(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InputError(`ansibleConfig: option '${option}' is ${JSON.stringify(value)}; give a positive integer`);
  }
  return value;
}

/** The callbacks to enable: ours first, then the extra ones, without duplicates. */
function enabledCallbacks(extra: string[] | undefined): string {
  return [...new Set([CALLBACK_NAME, ...(extra ?? [])])].join(',');
}

/**
 * The `ssh_args` value: ControlMaster and ControlPersist, the extra words, then the host key
 * defaults. ssh keeps the first value of an option, so a provider's own known_hosts (extra
 * words) wins over the defaults.
 */
export function sshArgs(controlPersist = '5s', extra: string[] = []): string {
  return ['-o', 'ControlMaster=auto', '-o', `ControlPersist=${controlPersist}`, ...extra, ...HOST_KEY_SSH_ARGS].map(shlexQuote).join(' ');
}

/**
 * The text of a per-run `ansible.cfg`: inventory, no host key checking or retry files, our
 * callback enabled, pipelining, a per-run SSH control path dir and a short ControlPersist.
 */
export function ansibleConfig(opts: AnsibleConfigOptions): string {
  const inventories = typeof opts.inventory === 'string' ? [opts.inventory] : opts.inventory;
  const user = opts.user ?? new Map<string, Map<string, string>>();
  const theirs = (section: string, key: string): string | undefined => user.get(section)?.get(key);
  const userCallbacks = (theirs('defaults', 'callbacks_enabled') ?? theirs('defaults', 'callback_whitelist') ?? '').split(',').map((c) => c.trim()).filter((c) => c);
  const userPlugins = theirs('defaults', 'callback_plugins');
  const defaults: [string, string | number | boolean][] = [
    ['inventory', inventories.map((i) => iniValue('inventory', i)).join(',')],
    ['host_key_checking', 'False'],
    ['retry_files_enabled', 'False'],
    ['callback_plugins', [opts.pluginDir ?? CALLBACK_PLUGIN_DIR, ...(userPlugins ? [userPlugins] : [])].join(':')],
    ['callbacks_enabled', enabledCallbacks([...(opts.callbacks ?? []), ...userCallbacks])],
    ['stdout_callback', opts.stdoutCallback ?? 'default'],
  ];
  if (theirs('defaults', 'forks') === undefined || opts.forks !== undefined) defaults.push(['forks', positiveInt('forks', opts.forks ?? 5)]);
  if (theirs('defaults', 'timeout') === undefined || opts.timeout !== undefined) defaults.push(['timeout', positiveInt('timeout', opts.timeout ?? 30)]);
  if (opts.privateKeyFile !== undefined) defaults.push(['private_key_file', opts.privateKeyFile]);
  if (opts.localTmp !== undefined) defaults.push(['local_tmp', opts.localTmp]);
  if (opts.interpreterPython !== undefined && theirs('defaults', 'interpreter_python') === undefined) defaults.push(['interpreter_python', opts.interpreterPython]);
  const ssh: [string, string | number | boolean][] = [
    ['pipelining', opts.pipelining === false ? 'False' : 'True'],
    ['control_path_dir', opts.controlPathDir],
    ['ssh_args', sshArgs(iniValue('controlPersist', opts.controlPersist ?? '5s'), opts.sshArgs)],
  ];
  const ours = new Map<string, [string, string | number | boolean][]>([['defaults', defaults], ['ssh_connection', ssh]]);
  const superseded = new Set(['callback_whitelist']);
  const out: string[] = [];
  for (const name of new Set([...user.keys(), ...ours.keys()])) {
    const mine = ours.get(name) ?? [];
    const lines = [...(user.get(name) ?? [])]
      .filter(([k]) => !mine.some(([m]) => m === k) && !(name === 'defaults' && superseded.has(k)))
      .map(([k, v]) => `${k} = ${v.replace(/\n/g, '\n    ')}`);
    lines.push(...mine.map(([k, v]) => `${k} = ${iniValue(k, v)}`));
    out.push(`[${name}]\n${lines.join('\n')}\n`);
  }
  const from = opts.user ? ' over the project\'s ansible.cfg (its relative paths made absolute)' : '';
  return `# Written by ansible-harness for one run${from}.\n${out.join('\n')}`;
}

/** What the environment of one `ansible-playbook` run depends on. */
export interface AnsibleEnvOptions {
  /** The run's `ansible.cfg` (ANSIBLE_CONFIG). */
  configFile: string;
  /** Whether the caller shows the output on a terminal: colours on, else off. */
  tty: boolean;
  /** Per-run SSH control socket folder (same as in the cfg). */
  controlPathDir: string;
  /** The file or FIFO for the plugin's events. `runPlaybook` sets its own FIFO over this. */
  eventsPath?: string;
  /** @default CALLBACK_PLUGIN_DIR */
  pluginDir?: string;
  /** More callbacks beside ours. @default [] */
  callbacks?: string[];
  /** @default 'default' */
  stdoutCallback?: string;
  /** ANSIBLE_LOCAL_TEMP. */
  localTmp?: string;
}

/** Whether `env` asks for no colour (no-color.org: `NO_COLOR` set to anything but empty). */
export function noColorRequested(env: Record<string, string | undefined>): boolean {
  return Boolean(env.NO_COLOR);
}

/**
 * `env` (Ansible's final environment) with colours off when it holds `NO_COLOR`: Ansible's
 * FORCE_COLOR beats its own NO_COLOR handling, so the one {@link ansibleEnv} set is turned off.
 */
export function honourNoColor(env: Record<string, string>): Record<string, string> {
  if (noColorRequested(env)) Object.assign(env, { ANSIBLE_FORCE_COLOR: '0', ANSIBLE_NOCOLOR: '1' });
  return env;
}

/** What ansible-playbook's interpreter reads as it starts (the rest of {@link ansibleEnv} is Ansible's). */
export const PYTHON_STARTUP_ENV = { PYTHONUNBUFFERED: '1' } as const;

/** The environment an `ansible-playbook` process gets: `process.env` under `extra` (`undefined` removes one), colours off for NO_COLOR. */
export function playbookProcessEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...extra })) {
    if (value !== undefined) env[key] = value;
  }
  return honourNoColor(env);
}

/**
 * The variables to set over the caller's environment. The settings our event stream and cleanup
 * rely on are repeated from the cfg because an inherited `ANSIBLE_*` variable would beat the cfg.
 */
export function ansibleEnv(opts: AnsibleEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    ANSIBLE_CONFIG: opts.configFile,
    ANSIBLE_CALLBACK_PLUGINS: opts.pluginDir ?? CALLBACK_PLUGIN_DIR,
    ANSIBLE_CALLBACKS_ENABLED: enabledCallbacks(opts.callbacks),
    ANSIBLE_STDOUT_CALLBACK: opts.stdoutCallback ?? 'default',
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_SSH_CONTROL_PATH_DIR: opts.controlPathDir,
    // Ansible's FORCE_COLOR beats NOCOLOR, so both are always set, one on and one off.
    ANSIBLE_FORCE_COLOR: opts.tty ? '1' : '0',
    ANSIBLE_NOCOLOR: opts.tty ? '0' : '1',
    ...PYTHON_STARTUP_ENV,
  };
  if (opts.eventsPath !== undefined) env[EVENTS_PATH_ENV] = opts.eventsPath;
  if (opts.localTmp !== undefined) env.ANSIBLE_LOCAL_TEMP = opts.localTmp;
  return env;
}
