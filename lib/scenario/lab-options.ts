/**
 * `lab.options` checked at load, per provider, with the providers' own resolvers: every
 * problem points at its option, so a run never starts with options its provider refuses.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError, type Problem } from '../errors.js';
import { parseAuthorizedKeys } from '../lab/authorized-keys.js';
import { LOCAL_OPTION_NAMES, resolveLocalOptions, type LocalProviderOptions } from '../lab/local/options.js';
import { parseQemuOptions, QEMU_OPTION_NAMES } from '../lab/qemu/options.js';
import { LIBVIRT_OPTION_NAMES, parseLibvirtOptions } from '../lab/libvirt/options.js';
import { DEFAULT_VALIDATE_TIMEOUT_MS, type LabSpec, type ProviderName, type Vars } from '../model/index.js';
import { MAX_DURATION_MS, parseDuration } from './duration.js';
import { playbookProblems } from './playbook-check.js';
import { readTextFile } from './read-text.js';
import type { FieldPath } from './positions.js';
import { didYouMean } from '../util/suggest.js';

/** One problem of `lab.options`: where, whether the key is at fault, and what. */
export interface OptionProblem {
  path: FieldPath;
  atKey: boolean;
  message: string;
}

/** Splits `lab.options.files[0].src` into `['lab', 'options', 'files', 0, 'src']`. */
function splitPath(text: string): FieldPath {
  return [...text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

function unknownKeys(options: Vars, known: readonly string[], provider: string): OptionProblem[] {
  return Object.keys(options)
    .filter((k) => !known.includes(k))
    .map((k) => {
      const hint = didYouMean(k, known);
      return { path: ['lab', 'options', k], atKey: true, message: `unknown ${provider} lab option '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}; known: ${known.join(', ')}` };
    });
}

/** The problems of a lab's `options` for `provider` (`scenarioFile` resolves relative paths). */
export function optionProblems(provider: ProviderName, options: Vars, scenarioFile: string): OptionProblem[] {
  switch (provider) {
    case 'local': {
      const out = unknownKeys(options, LOCAL_OPTION_NAMES, 'local');
      for (const [key, value] of Object.entries(options)) {
        if (!LOCAL_OPTION_NAMES.includes(key)) continue;
        try {
          resolveLocalOptions({ [key]: value } as LocalProviderOptions);
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          out.push({ path: ['lab', 'options', key], atKey: false, message: err.message.replace(/^local provider option '[^']+' /, '') });
        }
      }
      return out;
    }
    case 'qemu':
    case 'libvirt': {
      const [parse, names] = provider === 'qemu' ? [parseQemuOptions, QEMU_OPTION_NAMES] : [parseLibvirtOptions, LIBVIRT_OPTION_NAMES];
      try {
        parse(options, { file: scenarioFile });
        return [];
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        return err.problems.map((p) => {
          const at = splitPath(p.path ?? 'lab.options');
          const atKey = at.length === 3 && !(names as readonly string[]).includes(String(at[2]));
          return { path: at, atKey, message: atKey ? unknownKeys({ [String(at[2])]: null }, names, provider)[0]!.message : p.message };
        });
      }
    }
    case 'static':
    case 'command': {
      // Both reach hosts someone else made: the key for hosts without their own.
      const out = unknownKeys(options, SSH_KEY_OPTIONS, provider);
      if ('ssh_key' in options && (typeof options.ssh_key !== 'string' || !options.ssh_key)) out.push({ path: ['lab', 'options', 'ssh_key'], atKey: false, message: 'must be the path of a private key file (relative to the scenario)' });
      return out;
    }
    default:
      return [];
  }
}

/** The options of `static` and `command` labs. */
const SSH_KEY_OPTIONS: readonly string[] = ['ssh_key'];

/** The readiness keys of `lab` as a scenario file writes them. */
export interface RawLabReady {
  provider: ProviderName;
  options?: Vars;
  validate?: boolean | { timeout?: string; playbook?: string };
  authorized_keys?: string;
}

/** What {@link labReadiness} found: the spec's readiness fields and the problems, at a field or in a file of their own. */
export interface LabReadiness {
  spec: Pick<LabSpec, 'validate' | 'authorizedKeys'>;
  problems: OptionProblem[];
  /** Problems inside the files named (the validate playbook, the keys file), with their own file and line. */
  fileProblems: Problem[];
}

/**
 * Checks `lab.validate`, `lab.authorized_keys` and an `options.ssh_key` file: durations in range,
 * the playbook a list of plays, every line of the keys file a public key (paths relative to the scenario).
 */
export async function labReadiness(raw: RawLabReady, scenarioFile: string): Promise<LabReadiness> {
  const dir = path.dirname(scenarioFile);
  const out: LabReadiness = { spec: {}, problems: [], fileProblems: [] };
  const v = raw.validate ?? true;
  if (v === false) out.spec.validate = false;
  else {
    const o = v === true ? {} : v;
    let timeoutMs = DEFAULT_VALIDATE_TIMEOUT_MS;
    if (o.timeout !== undefined) {
      const ms = parseDuration(o.timeout) ?? 0;
      if (ms === 0) out.problems.push({ path: ['lab', 'validate', 'timeout'], atKey: false, message: `a timeout of ${o.timeout} gives the hosts no time to answer: give a positive duration, e.g. 5m, or 'validate: false' for no validation` });
      else if (ms > MAX_DURATION_MS) out.problems.push({ path: ['lab', 'validate', 'timeout'], atKey: false, message: `${o.timeout} is longer than the longest timeout, 24d` });
      timeoutMs = ms;
    }
    out.spec.validate = { timeoutMs };
    if (o.playbook) {
      const playbook = path.resolve(dir, o.playbook);
      const st = await stat(playbook).catch(() => undefined);
      if (!st?.isFile()) out.problems.push({ path: ['lab', 'validate', 'playbook'], atKey: false, message: `no such playbook: ${playbook} (paths are relative to the scenario file)` });
      else out.fileProblems.push(...(await playbookProblems(playbook, playbook, `lab.validate.playbook of ${scenarioFile}`)));
      out.spec.validate.playbook = playbook;
    }
  }
  if (raw.authorized_keys) {
    const file = path.resolve(dir, raw.authorized_keys);
    try {
      const parsed = parseAuthorizedKeys(await readTextFile(file, file, 'keys file'));
      for (const p of parsed.problems) out.fileProblems.push({ file, line: p.line, message: `${p.message} (lab.authorized_keys of ${scenarioFile})` });
      if (!parsed.keys.length && !parsed.problems.length) out.problems.push({ path: ['lab', 'authorized_keys'], atKey: false, message: `${file} holds no key: give a file with one SSH public key per line` });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      out.problems.push({ path: ['lab', 'authorized_keys'], atKey: false, message: `${file}: ${err.problems[0]?.message ?? err.message} (paths are relative to the scenario file)` });
    }
    out.spec.authorizedKeys = file;
  }
  const key = raw.options?.ssh_key;
  if ((raw.provider === 'static' || raw.provider === 'command') && typeof key === 'string' && key) {
    const file = path.resolve(dir, key);
    if (!(await stat(file).then((s) => s.isFile(), () => false))) out.problems.push({ path: ['lab', 'options', 'ssh_key'], atKey: false, message: `no such key file: ${file} (paths are relative to the scenario file)` });
  }
  return out;
}
