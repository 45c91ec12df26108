/**
 * Model values written as Python literals that `ast.literal_eval` reads back as the same value:
 * what an INI inventory needs, since its plugin evaluates every var value as a literal.
 */
import { WholeFloat, type VarValue } from '../model/index.js';
import { isIntNumber, pyFloatRepr } from './py-value.js';

/** Thrown for a value no Python literal can express (NaN). */
export class NotExpressibleError extends Error {
  override name = 'NotExpressibleError';
}

/** A Python `str` literal: `'...'`, control and line-breaking characters escaped, the rest as is. */
export function pyStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += `\\${q}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029 || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + q;
}

/** A Python number literal: an int (see {@link isIntNumber}) in digits, a float as Python's `repr`, infinities as `1e999`. */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) throw new NotExpressibleError('NaN has no Python literal');
  if (n === Infinity) return '1e999';
  if (n === -Infinity) return '-1e999';
  return isIntNumber(n) ? String(n) : pyFloatRepr(n);
}

/** The Python literal of a model value. */
export function pyRepr(v: VarValue): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (v instanceof WholeFloat) return String(v);
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${pyStr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}
