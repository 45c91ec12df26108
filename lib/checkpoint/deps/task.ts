/**
 * How a task names the module it calls and that module's arguments, in all the forms Ansible
 * accepts: `module: {args}`, `module: k=v free form`, FQCN (`ansible.builtin.copy`),
 * `action:`/`local_action:` (string or mapping), and the `args:` keyword.
 */

/** A module call found in a task. */
export interface ModuleCall {
  /** The short module name (`copy` for `ansible.builtin.copy`). */
  module: string;
  /** Arguments by name; free-form words that are not `k=v` are joined in `_raw_params`. */
  args: Record<string, unknown>;
}

const PREFIXES = ['ansible.builtin.', 'ansible.legacy.', 'ansible.posix.'];

/** The short module name of a (possibly fully qualified) module name. */
export function shortModule(name: string): string {
  for (const p of PREFIXES) if (name.startsWith(p)) return name.slice(p.length);
  return name;
}

/**
 * Splits free-form arguments into words the way Ansible's `split_args` does: on whitespace,
 * but not inside quotes or inside Jinja `{{ }}` / `{% %}` blocks.
 */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const two = text.slice(i, i + 2);
    if (!quote && (two === '{{' || two === '{%')) {
      depth++;
      cur += two;
      i++;
      continue;
    }
    if (!quote && depth > 0 && (two === '}}' || two === '%}')) {
      depth--;
      cur += two;
      i++;
      continue;
    }
    if (quote) {
      if (c === '\\' && i + 1 < text.length) {
        cur += c + text[++i]!;
        continue;
      }
      if (c === quote) quote = '';
      cur += c;
      continue;
    }
    if ((c === '"' || c === "'") && depth === 0) {
      quote = c;
      cur += c;
      continue;
    }
    if (/\s/.test(c) && depth === 0) {
      if (cur) words.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) return s.slice(1, -1);
  return s;
}

/** Parses `k=v` free-form arguments; words that are not `k=v` are joined in `_raw_params`. */
export function parseFreeForm(text: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const raw: string[] = [];
  for (const word of splitArgs(text)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(word);
    if (m) args[m[1]!] = unquote(m[2]!);
    else raw.push(unquote(word));
  }
  if (raw.length) args._raw_params = raw.join(' ');
  return args;
}

function argsOf(value: unknown): Record<string, unknown> {
  if (typeof value === 'string') return parseFreeForm(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) return { ...(value as Record<string, unknown>) };
  return {};
}

/**
 * The call in `task` to one of the `modules` (short names), or undefined if the task calls
 * none of them.
 */
export function findCall(task: Record<string, unknown>, modules: ReadonlySet<string>): ModuleCall | undefined {
  const extra = argsOf(task.args);
  for (const kw of ['action', 'local_action']) {
    const v = task[kw];
    if (typeof v === 'string') {
      const [first = '', ...rest] = splitArgs(v);
      const module = shortModule(first);
      if (modules.has(module)) return { module, args: { ...parseFreeForm(rest.join(' ')), ...extra } };
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      const { module: name, ...args } = v as Record<string, unknown>;
      const module = typeof name === 'string' ? shortModule(name) : '';
      if (modules.has(module)) return { module, args: { ...args, ...extra } };
    }
  }
  for (const [key, value] of Object.entries(task)) {
    const module = shortModule(key);
    if (modules.has(module)) return { module, args: { ...argsOf(value), ...extra } };
  }
  return undefined;
}

/** Whether a YAML boolean-ish value is true the way Ansible reads it (`yes`, `true`, `1`, `on`). */
export function truthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  return typeof value === 'string' && /^(y|yes|true|on|1)$/i.test(value.trim());
}
