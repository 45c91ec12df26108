/**
 * `-e` as `ansible-playbook` reads it: `@FILE` (YAML or JSON, typed), an inline YAML/JSON mapping
 * (`{...}`, typed), or `key=value` pairs split on spaces (values stay strings). Several `-e`
 * merge left to right, the later one winning key by key (Ansible's default `replace`).
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { Vars } from '../model/index.js';
import { loadData } from '../inventory/load-data.js';
import { PyDict, pyToVar, setVar, UnsupportedValueError } from '../inventory/py-value.js';

/** Splits on whitespace outside quotes and outside `{{ }}`, `{% %}`, `{# #}` (Ansible's `split_args`). */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let jinja = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const two = text.slice(i, i + 2);
    if (!quote && ['{{', '{%', '{#'].includes(two)) jinja++;
    else if (!quote && jinja && ['}}', '%}', '#}'].includes(two)) jinja--;
    if (quote) {
      if (c === quote && text[i - 1] !== '\\') quote = '';
    } else if ((c === '"' || c === "'") && !jinja) quote = c;
    if (!quote && !jinja && /\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (quote) throw new InputError(`-e ${text}: unbalanced ${quote}`);
  if (cur) out.push(cur);
  return out;
}

/** Ansible's `unquote`: drops one pair of matching outer quotes. */
function unquote(s: string): string {
  return s.length > 1 && (s[0] === '"' || s[0] === "'") && s.at(-1) === s[0] && s.at(-2) !== '\\' ? s.slice(1, -1) : s;
}

/** `a=1 b='two words'`: every value a string, as Ansible's `parse_kv` keeps them. */
function parseKeyValues(text: string): Vars {
  const vars: Vars = {};
  for (const token of splitArgs(text)) {
    const eq = token.indexOf('=');
    if (eq <= 0) throw new InputError(`-e ${text}: '${token}' is not KEY=VALUE (or give @FILE, or a YAML/JSON mapping in {...})`);
    setVar(vars, token.slice(0, eq), unquote(token.slice(eq + 1)));
  }
  return vars;
}

/** Loads YAML/JSON `text` (from `where`) that must be a mapping; values typed as Ansible types them. */
function parseMapping(text: string, where: string, file: string): Vars {
  const { value } = loadData(text, file);
  if (!(value instanceof PyDict)) throw new InputError(`-e ${where}: not a mapping of vars (got ${value === null ? 'nothing' : Array.isArray(value) ? 'a list' : 'a scalar'}); write {"name": value, ...}`);
  try {
    return pyToVar(value) as Vars;
  } catch (err) {
    if (err instanceof UnsupportedValueError) throw new InputError(`-e ${where}: ${err.message}`);
    throw err;
  }
}

/** Reads one `-e` value as ansible-playbook does; throws {@link InputError} (exit 2) naming it. */
export function parseExtraVar(arg: string): Vars {
  if (!arg.trim()) throw new InputError('-e needs a value: KEY=VALUE, @FILE (YAML or JSON) or a mapping {...}');
  if (arg.startsWith('@')) {
    const file = arg.slice(1);
    if (!file) throw new InputError('-e @: name the vars file after the @ (e.g. -e @vars.yml)');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(`-e @${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a vars file' : (err as Error).message}`, { cause: err });
    }
    return parseMapping(text, arg, file);
  }
  if (arg[0] === '/' || arg[0] === '.') throw new InputError(`-e ${arg}: a vars file is named with @ before it: -e @${arg}`);
  if (arg[0] === '{' || arg[0] === '[') return parseMapping(arg, arg, '-e');
  return parseKeyValues(arg);
}

/** All `-e` values of a command line, merged left to right (the later wins key by key). */
export function parseExtraVars(args: string | string[] | undefined): Vars {
  const list = args === undefined ? [] : Array.isArray(args) ? args : [args];
  const vars: Vars = {};
  for (const arg of list) for (const [k, v] of Object.entries(parseExtraVar(arg))) setVar(vars, k, v);
  return vars;
}
