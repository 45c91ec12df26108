/**
 * The project's own `ansible.cfg`, which a run honours: found as the user's `ANSIBLE_CONFIG`, else
 * `ansible.cfg` beside the scenario, else `./ansible.cfg` (`~/.ansible.cfg` and
 * `/etc/ansible/ansible.cfg` are machine-wide and not read: a run depends on the project only).
 * Its settings are copied into the run's `ansible.cfg`, its relative paths made absolute against
 * its own folder (as Ansible resolves them), and the harness's own settings layered on top.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

/** A user's `ansible.cfg`: where it is and its text. */
export interface UserConfig {
  file: string;
  text: string;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The `ansible.cfg` a run of `scenarioFile` honours, or undefined: `env.ANSIBLE_CONFIG` (must
 * exist), else `ansible.cfg` in the scenario's folder, else in `cwd`.
 */
export function findUserConfig(scenarioFile: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): UserConfig | undefined {
  let file: string | undefined;
  if (env.ANSIBLE_CONFIG) {
    file = path.resolve(cwd, env.ANSIBLE_CONFIG);
    if (!isFile(file)) throw new InputError(`ANSIBLE_CONFIG is ${env.ANSIBLE_CONFIG}, which is no file: fix or unset it`);
  } else {
    file = [path.join(path.dirname(path.resolve(scenarioFile)), 'ansible.cfg'), path.join(cwd, 'ansible.cfg')].find(isFile);
  }
  if (!file) return undefined;
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch (err) {
    throw new InputError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code}); fix its permissions or unset ANSIBLE_CONFIG`, { cause: err });
  }
}

/** Settings by section, then by key (lower case, as configparser keeps them), in file order. */
export type IniSections = Map<string, Map<string, string>>;

/** Parses an `ansible.cfg` as Python's configparser does (`=` or `:`, `#`/`;` comments, ` ;` inline, indented continuation lines). */
export function parseIni(text: string, file: string): IniSections {
  const sections: IniSections = new Map();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/\s;.*$/, '');
    if (!line.trim() || /^\s*[#;]/.test(line)) return;
    if (/^\s/.test(line) && current && lastKey !== undefined) {
      current.set(lastKey, `${current.get(lastKey)}\n${line.trim()}`);
      return;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      const name = header[1]!;
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      lastKey = undefined;
      return;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!kv || !current) throw new InputError([{ file, line: i + 1, message: `is not an INI line Ansible reads (${kv ? 'a setting before any [section]' : "expected 'key = value'"})` }]);
    lastKey = kv[1]!.trim().toLowerCase();
    current.set(lastKey, kv[2]!.trim());
  });
  return sections;
}

/** Options whose value is a path (or paths: `:`-separated pathspec, `,`-separated pathlist), from Ansible's config/base.yml. */
const PATH_OPTIONS: Record<string, ':' | ',' | ''> = {
  'defaults.become_password_file': '', 'defaults.connection_password_file': '', 'defaults.home': '', 'defaults.log_path': '',
  'defaults.playbook_dir': '', 'defaults.plugin_filters_cfg': '', 'defaults.private_key_file': '', 'defaults.retry_files_save_path': '',
  'defaults.vault_password_file': '', 'galaxy.cache_dir': '', 'galaxy.collection_skeleton': '', 'galaxy.gpg_keyring': '',
  'galaxy.role_skeleton': '', 'galaxy.token_path': '', 'persistent_connection.ansible_connection_path': '',
  'persistent_connection.control_path_dir': '', 'defaults.local_tmp': '', 'defaults.inventory': ',',
  ...Object.fromEntries(
    ['action_plugins', 'become_plugins', 'cache_plugins', 'callback_plugins', 'cliconf_plugins', 'collections_path', 'collections_paths',
      'connection_plugins', 'doc_fragment_plugins', 'filter_plugins', 'httpapi_plugins', 'inventory_plugins', 'library', 'lookup_plugins',
      'module_utils', 'netconf_plugins', 'roles_path', 'strategy_plugins', 'terminal_plugins', 'test_plugins', 'vars_plugins'].map((k) => [`defaults.${k}`, ':' as const]),
  ),
};

/** `value` with each relative path made absolute against `dir` (`~` and `$VAR` paths are left to Ansible). */
function absolutePaths(value: string, sep: ':' | ',' | '', dir: string): string {
  const one = (p: string): string => {
    const t = p.trim();
    return !t || path.isAbsolute(t) || t.startsWith('~') || t.startsWith('$') ? t : path.resolve(dir, t);
  };
  return sep ? value.split(sep).map(one).join(sep) : one(value);
}

/** The user's settings, relative paths made absolute against the folder of their file. */
export function userSettings(cfg: UserConfig): IniSections {
  const sections = parseIni(cfg.text, cfg.file);
  const dir = path.dirname(cfg.file);
  for (const [name, entries] of sections) {
    for (const [key, value] of entries) {
      const sep = PATH_OPTIONS[`${name}.${key}`];
      if (sep !== undefined) entries.set(key, absolutePaths(value, sep, dir));
    }
  }
  return sections;
}
