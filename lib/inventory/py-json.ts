/**
 * Python's `json.loads`, which Ansible tries on every YAML or JSON file before YAML: ints and
 * floats told apart, `NaN`, `Infinity` and `-Infinity` accepted, control characters in strings
 * refused, the last of duplicate keys kept. Lines of objects and arrays are recorded for errors.
 */
import { NO_UNSAFE, PyDict, PyUnsupported, type PyValue } from './py-value.js';

/** Thrown when the text is not JSON as Python reads it. */
export class PyJsonError extends Error {
  override name = 'PyJsonError';
}

/** The parsed value and the 1-based line where each dict and list starts. */
export interface Loaded {
  value: PyValue;
  lines: WeakMap<object, number>;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses `text` as Python's `json.loads` does; throws {@link PyJsonError}. */
export function parsePyJson(text: string): Loaded {
  const lines = new WeakMap<object, number>();
  let i = 0;
  const err = (msg: string): never => {
    throw new PyJsonError(`${msg} at char ${i}`);
  };
  const lineAt = lineCounter(text);
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) err('Unterminated string');
      const c = text[i]!;
      const code = c.charCodeAt(0);
      if (c === '"') {
        i++;
        return out;
      }
      if (code < 0x20) err('Invalid control character');
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === undefined) err('Unterminated string');
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) err('Invalid \\uXXXX escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e! in ESCAPES) {
        out += ESCAPES[e!];
        i += 2;
      } else err('Invalid \\escape');
    }
  };
  const value = (depth: number): PyValue => {
    if (depth > 900) err('too deeply nested');
    ws();
    const c = text[i];
    if (c === '{') {
      const line = lineAt(i);
      i++;
      const d = new PyDict();
      lines.set(d, line);
      ws();
      if (text[i] === '}') {
        i++;
        return finishObject(d);
      }
      for (;;) {
        ws();
        if (text[i] !== '"') err('Expecting property name enclosed in double quotes');
        const keyLine = lineAt(i);
        const k = str();
        d.setLine(k, keyLine);
        ws();
        if (text[i] !== ':') err("Expecting ':' delimiter");
        i++;
        d.set(k, value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return finishObject(d);
        }
        err("Expecting ',' delimiter");
      }
    }
    if (c === '[') {
      const line = lineAt(i);
      i++;
      const arr: PyValue[] = [];
      lines.set(arr, line);
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        err("Expecting ',' delimiter");
      }
    }
    if (c === '"') return str();
    for (const [word, v] of [['null', null], ['true', true], ['false', false], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m) {
      i += m[0].length;
      if (m[1] || m[2]) return Number(m[0]);
      const digits = m[0].replace('-', '');
      if (digits.length > 4300) err('Exceeds the limit (4300 digits) for integer string conversion');
      return BigInt(m[0]);
    }
    return err('Expecting value');
  };
  if (text.startsWith('\ufeff')) err('Unexpected UTF-8 BOM (decode using utf-8-sig)');
  const v = value(0);
  ws();
  if (i < text.length) err('Extra data');
  return { value: v, lines };
}

/** Ansible's JSON decoder turns these objects into vault and unsafe values. */
function finishObject(d: PyDict): PyValue {
  if (d.has('__ansible_vault')) return new PyUnsupported('a vault-encrypted value (__ansible_vault)', NO_UNSAFE);
  if (d.has('__ansible_unsafe')) return new PyUnsupported('an unsafe value (__ansible_unsafe)', NO_UNSAFE);
  return d;
}

/** A function from an offset in `text` to its 1-based line. */
export function lineCounter(text: string): (pos: number) => number {
  const starts = [0];
  for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) starts.push(k + 1);
  return (pos) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}
