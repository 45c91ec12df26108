/**
 * Ansible's YAML inventory plugin (also used for `.json` files): top-level keys are groups, each
 * with `hosts` (patterns with ranges, each with its vars), `vars` and `children` (nested groups),
 * a string where a mapping is expected meaning `{string: null}`, unknown keys skipped.
 */
import { InputError } from '../errors.js';
import { InventoryBuilder, InventoryStructureError } from './builder.js';
import type { Loaded } from './py-json.js';
import { PyDict, pyToVar, UnsupportedValueError, jsonKey, type PyKey, type PyValue } from './py-value.js';
import { expandHostPattern, HostRangeError } from './ranges.js';

/** Why the YAML plugin refused a file; the INI plugin gets its turn after it, as in Ansible. */
export class NotYamlInventoryError extends InputError {}

function pyTypeName(v: PyValue | undefined): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyDict) return 'dict';
  return 'object';
}

function isTruthy(v: PyValue): boolean {
  if (v === null || v === false || v === '' || v === 0n || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof PyDict) return v.size > 0;
  return true;
}

/** Fills `inv` from a loaded YAML (or JSON) inventory; throws {@link InputError} naming `file` and a line. */
export function parseYamlInventory(loaded: Loaded, file: string, inv: InventoryBuilder): void {
  const { value: data, lines } = loaded;
  const lineOf = (obj: unknown, key?: PyKey): number | undefined => {
    if (obj instanceof PyDict && key !== undefined) {
      const l = obj.lineOf(key);
      if (l !== undefined) return l;
    }
    return obj && typeof obj === 'object' ? lines.get(obj) : undefined;
  };
  const problem = (message: string, at?: unknown, kind: typeof InputError = InputError, key?: PyKey): InputError => {
    // a problem of the whole document (empty, not a mapping, a plugin's config) is at its first line
    const line = lineOf(at, key) ?? (at === undefined || at === data ? 1 : undefined);
    return new kind([{ file, ...(line ? { line } : {}), message }]);
  };
  if (!isTruthy(data)) throw problem('Parsed empty YAML file', undefined, NotYamlInventoryError);
  if (!(data instanceof PyDict)) throw problem(`YAML inventory has invalid structure, it should be a dictionary, got: ${pyTypeName(data)}`, data, NotYamlInventoryError);
  const plugin = data.get('plugin');
  if (plugin !== undefined && isTruthy(plugin)) throw problem(`Plugin configuration YAML file, not YAML inventory (inventory plugins such as '${String(plugin)}' are not supported; point at a static inventory)`, data, NotYamlInventoryError);

  const parseGroup = (group: PyKey, groupData: PyValue | undefined, where: PyDict): string | undefined => {
    if (!(groupData === null || groupData === undefined || groupData instanceof PyDict)) {
      // Ansible warns and skips it; a parent naming it as a child then fails in add_child
      return typeof group === 'string' ? group : undefined;
    }
    if (typeof group !== 'string' || group === '') throw problem(`Unable to add group ${jsonKey(group)}: Invalid group name supplied, expected a non-empty string`, where, InputError, group);
    const name = inv.addGroup(group);
    if (!(groupData instanceof PyDict)) return name;
    for (const section of ['vars', 'children', 'hosts']) {
      const v = groupData.get(section);
      if (v === undefined) continue;
      if (typeof v === 'string') {
        const d = new PyDict();
        d.set(v, null);
        groupData.set(section, d);
      } else if (!(v === null || v instanceof PyDict)) {
        throw problem(`Invalid "${section}" entry for "${name}" group, requires a dictionary, found "${pyTypeName(v)}" instead.`, groupData, InputError, section);
      }
    }
    for (const [key, value] of groupData.entries()) {
      if (!(value instanceof PyDict)) continue; // None is skipped; anything else Ansible skips with a warning
      if (key === 'vars') {
        for (const [k, v] of value.entries()) inv.setVariable(name, jsonKey(k), toVar(v, value, k));
      } else if (key === 'children') {
        for (const [sub, subData] of value.entries()) {
          const child = parseGroup(sub, subData, value);
          if (child === undefined) throw problem(`${jsonKey(sub)} is not a known host nor group`, value, InputError, sub);
          inv.addChild(name, child);
        }
      } else if (key === 'hosts') {
        for (const [pattern, hostVars] of value.entries()) {
          if (typeof pattern !== 'string') throw problem(`Host pattern ${jsonKey(pattern)} must be a string. Enclose integers/floats in quotation marks.`, value, InputError, pattern);
          let expanded: { names: string[]; port?: number };
          try {
            expanded = expandHostPattern(pattern);
          } catch (err) {
            if (err instanceof HostRangeError) throw problem(`${err.message} (in host pattern '${pattern}')`, value, InputError, pattern);
            throw err;
          }
          const vars = hostVars === null || !isTruthy(hostVars) ? new PyDict() : hostVars;
          if (!(vars instanceof PyDict)) throw problem(`Invalid data from file, expected dictionary and got: ${pyTypeName(vars)} (vars of host '${pattern}')`, value, InputError, pattern);
          for (const host of expanded.names) {
            inv.addHost(host, name, expanded.port);
            for (const [k, v] of vars.entries()) inv.setVariable(host, jsonKey(k), toVar(v, vars, k));
          }
        }
      }
    }
    return name;
  };

  const toVar = (v: PyValue, where: PyDict, key: PyKey) => {
    try {
      return pyToVar(v);
    } catch (err) {
      if (err instanceof UnsupportedValueError) throw problem(`${jsonKey(key)}: ${err.message}`, where, InputError, key);
      throw err;
    }
  };

  try {
    for (const [group, groupData] of data.entries()) parseGroup(group, groupData, data);
  } catch (err) {
    if (err instanceof InventoryStructureError) throw problem(err.message, data);
    throw err;
  }
}
