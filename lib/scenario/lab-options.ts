/**
 * `lab.options` checked at load, per provider, with the providers' own resolvers: every
 * problem points at its option, so a run never starts with options its provider refuses.
 */
import { InputError } from '../errors.js';
import { LOCAL_OPTION_NAMES, resolveLocalOptions, type LocalProviderOptions } from '../lab/local/options.js';
import { parseQemuOptions, QEMU_OPTION_NAMES } from '../lab/qemu/options.js';
import type { ProviderName, Vars } from '../model/index.js';
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
      try {
        parseQemuOptions(options, { file: scenarioFile });
        return [];
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        return err.problems.map((p) => {
          const at = splitPath(p.path ?? 'lab.options');
          const atKey = at.length === 3 && !(QEMU_OPTION_NAMES as readonly string[]).includes(String(at[2]));
          return { path: at, atKey, message: atKey ? unknownKeys({ [String(at[2])]: null }, QEMU_OPTION_NAMES, 'qemu')[0]!.message : p.message };
        });
      }
    case 'static':
      return Object.keys(options).map((k) => ({ path: ['lab', 'options', k], atKey: true, message: `a static lab takes no options: remove '${k}'` }));
    default:
      return [];
  }
}
