/**
 * Model values written as YAML (read by PyYAML, YAML 1.1, as Ansible does) and as JSON (read by
 * Python's `json`): strings that would resolve to anything else are quoted, floats keep a float
 * form, infinities and NaN use each format's spelling, every character survives.
 */
import { WholeFloat, type VarValue } from '../model/index.js';
import { resolvePlain } from './py-yaml.js';
import { isIntNumber, pyFloatRepr } from './py-value.js';

/** A structural null written as an empty value (`host:`), where `null` would only be noise. */
export const EMPTY: unique symbol = Symbol('empty');
/** A tree to write: model values, plus {@link EMPTY}. */
export type Tree = VarValue | typeof EMPTY | { [key: string]: Tree } | Tree[];

const PLAIN = /^[\p{L}\p{N}_/](?:[\p{L}\p{N}_./@+ -]*[\p{L}\p{N}_./@+-])?$/u;
const CORE_NON_STR = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|null|Null|NULL|~|true|True|TRUE|false|False|FALSE|[yYnN])$/;

/** A YAML scalar for `s`: plain where every YAML reader takes it as this string, else double-quoted. */
export function yamlStr(s: string): string {
  if (PLAIN.test(s) && resolvePlain(s) === 'str' && !CORE_NON_STR.test(s)) return s;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029 || c === 0xfeff || c === 0xfffe || c === 0xffff || (c >= 0xd800 && c <= 0xdfff)) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return out + '"';
}

/** A YAML number PyYAML reads back as the same int or float. */
export function yamlNumber(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (n === Infinity) return '.inf';
  if (n === -Infinity) return '-.inf';
  if (isIntNumber(n)) return String(n);
  // PyYAML's float needs a '.' in the mantissa and a sign in the exponent
  const s = pyFloatRepr(n);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const mant = s.slice(0, e);
  return `${mant.includes('.') ? mant : `${mant}.0`}${s.slice(e)}`;
}

function yamlScalar(v: Tree): string | undefined {
  if (v === EMPTY) return '';
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') return yamlNumber(v);
  if (v instanceof WholeFloat) return String(v);
  if (typeof v === 'string') return yamlStr(v);
  if (Array.isArray(v)) return v.length ? undefined : '[]';
  return Object.keys(v).length ? undefined : '{}';
}

function yamlLines(v: Tree, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = yamlScalar(item);
      if (s !== undefined) {
        out.push(`${pad}-${s ? ` ${s}` : ''}`);
      } else if (Array.isArray(item)) {
        out.push(`${pad}-`);
        yamlLines(item, indent + 2, out);
      } else {
        const start = out.length;
        yamlLines(item, indent + 2, out);
        out[start] = `${pad}- ${out[start]!.slice(indent + 2)}`;
      }
    }
    return;
  }
  for (const [k, val] of Object.entries(v as Record<string, Tree>)) {
    const key = yamlStr(k);
    // PyYAML takes an implicit key of at most 1024 characters; longer ones use `? key`
    const head = key.length > 1000 ? `${pad}? ${key}\n${pad}:` : `${pad}${key}:`;
    const s = yamlScalar(val);
    if (s !== undefined) out.push(s ? `${head} ${s}` : head);
    else {
      out.push(head);
      yamlLines(val, indent + 2, out);
    }
  }
}

/** A YAML document of `tree` (a mapping at the top), block style, two-space indents. */
export function emitYaml(tree: Record<string, Tree>): string {
  const out: string[] = [];
  yamlLines(tree, 0, out);
  return out.join('\n') + '\n';
}

/** A JSON number Python's `json` reads back as the same int or float (`NaN` and `Infinity` as Python writes them). */
export function jsonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return isIntNumber(n) ? String(n) : pyFloatRepr(n);
}

function jsonValue(v: Tree, indent: number): string {
  if (v === EMPTY || v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return jsonNumber(v);
  if (v instanceof WholeFloat) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  const pad = ' '.repeat(indent + 2);
  const end = ' '.repeat(indent);
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[\n${v.map((x) => pad + jsonValue(x, indent + 2)).join(',\n')}\n${end}]`;
  }
  const entries = Object.entries(v as Record<string, Tree>);
  if (!entries.length) return '{}';
  return `{\n${entries.map(([k, x]) => `${pad}${JSON.stringify(k)}: ${jsonValue(x, indent + 2)}`).join(',\n')}\n${end}}`;
}

/** A JSON document of `tree`, two-space indents. */
export function emitJson(tree: Record<string, Tree>): string {
  return jsonValue(tree, 0) + '\n';
}
