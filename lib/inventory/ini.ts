/**
 * Ansible's INI inventory plugin, line by line: `[group]`, `[group:children]`, `[group:vars]`,
 * host lines split as `shlex` splits them, `key=value` values read as Python literals (host
 * lines after shlex took their quotes off, `[group:vars]` lines as written), ranges, `host:port`,
 * comments `#` and `;`, and the check at the end that every `:children` entry and every `:vars`
 * section names a group declared somewhere.
 */
import { InputError } from '../errors.js';
import type { VarValue } from '../model/index.js';
import { InventoryBuilder, InventoryStructureError } from './builder.js';
import { parsePyLiteral } from './py-literal.js';
import { decodeBytes, PyBytes, pyToVar, UnsupportedValueError } from './py-value.js';
import { expandHostPattern, HostRangeError } from './ranges.js';
import { ShlexError, shlexSplit } from './shlex.js';
import { pyStrip, pySplitLines, PY_WS_CLASS } from './py-text.js';

const SECTION = new RegExp(String.raw`^\[([^:\]${PY_WS_CLASS}]+)(?::([\p{L}\p{N}_]+))?\][${PY_WS_CLASS}]*(?:#.*)?$`, 'su');
const GROUP_NAME = new RegExp(String.raw`^([^:\]${PY_WS_CLASS}]+)[${PY_WS_CLASS}]*(?:#.*)?$`, 'su');

/** An INI value as the plugin's `_parse_value` makes it. */
export function iniValue(text: string): VarValue {
  const v = parsePyLiteral(text);
  if (v === undefined) return text;
  if (v instanceof PyBytes) return decodeBytes(v);
  return pyToVar(v);
}

interface Pending {
  line: number;
  state: 'vars' | 'children';
  name: string;
  parents: string[];
}

/** Parses INI inventory text into `inv`; throws {@link InputError} naming `file` and the line. */
export function parseIni(text: string, file: string, inv: InventoryBuilder): void {
  const lines = pySplitLines(text);
  let lineno = 0;
  const problem = (message: string, line = lineno): InputError => new InputError([{ file, line, message }]);
  const pending = new Map<string, Pending>();
  let groupname = 'ungrouped';
  let state = 'hosts';

  const addPendingChildren = (group: string): void => {
    const decl = pending.get(group)!;
    for (const parent of decl.parents) {
      inv.addChild(parent, group);
      const p = pending.get(parent);
      if (p && p.state === 'children') addPendingChildren(parent);
    }
    pending.delete(group);
  };

  try {
    for (const raw of lines) {
      lineno++;
      const line = pyStrip(raw);
      if (!line || line[0] === '#' || line[0] === ';') continue;

      const m = SECTION.exec(line);
      if (m) {
        // to_safe_group_name changes nothing under Ansible's default TRANSFORM_INVALID_GROUP_CHARS=never
        groupname = m[1]!;
        state = m[2] ?? 'hosts';
        if (state !== 'hosts' && state !== 'children' && state !== 'vars') {
          throw problem(`Section [${m[1]}:${m[2]}] has unknown type: ${state}`);
        }
        if (!inv.groups.has(groupname)) {
          if (state === 'vars' && !pending.has(groupname)) pending.set(groupname, { line: lineno, state: 'vars', name: groupname, parents: [] });
          inv.addGroup(groupname);
        }
        const p = pending.get(groupname);
        if (p && state !== 'vars') {
          if (p.state === 'children') addPendingChildren(groupname);
          else pending.delete(groupname);
        }
        continue;
      } else if (line.startsWith('[') && line.endsWith(']')) {
        throw problem(`Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters`);
      }

      if (state === 'hosts') {
        let tokens: string[];
        try {
          tokens = shlexSplit(line);
        } catch (err) {
          if (err instanceof ShlexError) throw problem(`Error parsing host definition '${line}': ${err.message}`);
          throw err;
        }
        if (!tokens.length) throw problem(`Expected a host name, got: ${line}`);
        const hostPattern = tokens[0]!;
        let expanded: { names: string[]; port?: number };
        try {
          expanded = expandHostPattern(hostPattern);
        } catch (err) {
          if (err instanceof HostRangeError) throw problem(`${err.message} (in host pattern '${hostPattern}')`);
          throw err;
        }
        if (pyStrip(hostPattern).endsWith(':') && expanded.port === undefined) {
          throw problem(`Invalid host pattern '${hostPattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`);
        }
        if (expanded.names.some((n) => pyStrip(n) === '---')) {
          throw problem(`Invalid host pattern '${hostPattern}' supplied, '---' is normally a sign this is a YAML file.`);
        }
        const vars: Array<[string, VarValue]> = [];
        for (const t of tokens.slice(1)) {
          const eq = t.indexOf('=');
          if (eq < 0) throw problem(`Expected key=value host variable assignment, got: ${t}`);
          vars.push([t.slice(0, eq), iniValue(t.slice(eq + 1))]);
        }
        // a later `k=v` for the same key on one line wins, as in the plugin's dict
        const byKey = new Map<string, VarValue>();
        for (const [k, v] of vars) byKey.set(k, v);
        for (const name of expanded.names) {
          inv.addHost(name, groupname, expanded.port);
          for (const [k, v] of byKey) inv.setVariable(name, k, v);
        }
      } else if (state === 'vars') {
        const eq = line.indexOf('=');
        if (eq < 0) throw problem(`Expected key=value, got: ${line}`);
        inv.setVariable(groupname, pyStrip(line.slice(0, eq)), iniValue(pyStrip(line.slice(eq + 1))));
      } else {
        const cm = GROUP_NAME.exec(line);
        if (!cm) throw problem(`Expected group name, got: ${line}`);
        const child = cm[1]!;
        if (!inv.groups.has(child)) {
          const p = pending.get(child);
          if (!p) pending.set(child, { line: lineno, state: 'children', name: child, parents: [groupname] });
          else p.parents.push(groupname);
        } else inv.addChild(groupname, child);
      }
    }
  } catch (err) {
    if (err instanceof InventoryStructureError || err instanceof UnsupportedValueError) throw problem(err.message);
    throw err;
  }

  for (const decl of pending.values()) {
    if (decl.state === 'vars') throw problem(`Section [${decl.name}:vars] not valid for undefined group: ${decl.name}`, decl.line);
    throw problem(`Section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group: ${decl.name}`, decl.line);
  }
}
