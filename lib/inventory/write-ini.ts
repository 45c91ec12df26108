/**
 * A lab as an INI inventory: every host once at the top with its vars (so host order is kept),
 * then a `[group]` section per group (so groups are created in order), then `[group:children]`
 * and `[group:vars]`. Values are Python literals (plain text where the plugin keeps text as it
 * is), shlex-quoted on host lines, so the INI plugin reads back each value with its type.
 */
import { InputError } from '../errors.js';
import type { Lab, VarValue, Vars } from '../model/index.js';
import { parsePyLiteral } from './py-literal.js';
import { prepareInventory } from './prepare.js';
import { NotExpressibleError, pyRepr } from './py-repr.js';
import { isIniGroupName, PY_WS_CLASS } from './py-text.js';
import { shlexQuote } from './shlex.js';

const LINE_BREAK = /[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
const EDGE_WS = new RegExp(`^[${PY_WS_CLASS}]|[${PY_WS_CLASS}]$`);

function bad(message: string): never {
  throw new InputError(`cannot write the inventory as INI: ${message}; write it as yaml or json instead`);
}

/** Text the INI plugin keeps as it is: no quotes, brackets, spaces or `#`, and not a Python literal. */
const BARE = /^[\p{L}\p{N}_.\/@:,+%-]+$/u;

function literal(v: VarValue, where: string): string {
  if (typeof v === 'string' && BARE.test(v) && parsePyLiteral(v) === undefined) return v;
  try {
    return pyRepr(v);
  } catch (err) {
    if (err instanceof NotExpressibleError) bad(`${where}: ${err.message}`);
    throw err;
  }
}

function hostLine(name: string, vars: Vars): string {
  const parts = [shlexQuote(name)];
  for (const [k, v] of Object.entries(vars)) {
    if (k.includes('=')) bad(`host '${name}' has a var named '${k}'; INI cannot hold '=' in a var name`);
    parts.push(`${k === '' ? '' : shlexQuote(k)}=${shlexQuote(literal(v, `var '${k}' of host '${name}'`))}`);
  }
  const line = parts.join(' ');
  if (line.startsWith('#') || line.startsWith(';')) bad(`host '${name}' would read as a comment`);
  if (name.endsWith(':')) bad(`host '${name}' ends in ':', which INI reserves for a port`);
  if (name.trim() === '---') bad(`host '${name}' reads as a YAML document marker`);
  return line;
}

function varLines(owner: string, vars: Vars): string[] {
  return Object.entries(vars).map(([k, v]) => {
    if (k.includes('=') || LINE_BREAK.test(k) || EDGE_WS.test(k) || /^[[#;]/.test(k)) {
      bad(`the var '${k}' of ${owner} cannot be a key in a [${owner}:vars] section`);
    }
    return `${k}=${literal(v, `var '${k}' of group '${owner}'`)}`;
  });
}

/** The lab as an INI inventory. Throws {@link InputError} for what INI cannot hold (group names with `:`, `]` or spaces, NaN, some var names). */
export function toIni(lab: Lab): string {
  const inv = prepareInventory(lab);
  for (const g of inv.groups) {
    if (!isIniGroupName(g.name)) bad(`group name '${g.name}' cannot be an INI section (no ':', ']' or spaces, not starting with '#' or ';')`);
  }
  const out: string[] = [];
  for (const h of inv.hosts) out.push(hostLine(h.name, h.vars));
  for (const g of inv.groups) {
    out.push('', `[${g.name}]`, ...g.hosts.map(shlexQuote));
  }
  for (const g of inv.groups) {
    if (g.children.length) out.push('', `[${g.name}:children]`, ...g.children);
  }
  if (Object.keys(inv.vars).length) out.push('', '[all:vars]', ...varLines('all', inv.vars));
  for (const g of inv.groups) {
    if (Object.keys(g.vars).length) out.push('', `[${g.name}:vars]`, ...varLines(g.name, g.vars));
  }
  while (out[0] === '') out.shift();
  return out.length ? out.join('\n') + '\n' : '';
}
