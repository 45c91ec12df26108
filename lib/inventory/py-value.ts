/**
 * Values as Python holds them while an inventory is parsed, before they become model vars: ints
 * stay `bigint` and floats `number`, so the two are told apart until the model boundary, and
 * dicts compare their keys the way Python does (`1`, `1.0` and `True` are one key).
 */
import { floatValue, type VarValue, type Vars } from '../model/index.js';

/** A hashable Python value: what a dict key can be here. */
export type PyKey = null | boolean | bigint | number | string;

/** A Python value Ansible may produce that the model cannot hold (a set, an `!unsafe` string, ...). */
export class PyUnsupported {
  /**
   * @param what names the value, e.g. `a set`
   * @param why says why it cannot be kept and what to write instead
   */
  constructor(
    readonly what: string,
    readonly why = 'ansible-inventory cannot print it either; write it as a list or a string',
  ) {}
}

/** Why an `!unsafe` or vault value cannot be kept. */
export const NO_UNSAFE = 'the lab model has no unsafe or encrypted strings; use a static inventory without them, or plain values';

/** Top-level `b'...'` from an INI value; the INI plugin decodes it to a string. */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** A Python value: int is `bigint`, float is `number`, tuple is an array. */
export type PyValue = PyKey | PyValue[] | PyDict | PyBytes | PyUnsupported;

let nanKeys = 0;
/** The identity of a key under Python's `==` and `hash` (`1 == 1.0 == True`). */
function keyId(key: PyKey): string {
  if (key === null) return 'N';
  if (typeof key === 'boolean') return key ? 'n:1' : 'n:0';
  if (typeof key === 'bigint') return `n:${key}`;
  if (typeof key === 'number') {
    if (Number.isNaN(key)) return `nan:${++nanKeys}`;
    if (Number.isInteger(key)) return `n:${BigInt(key)}`;
    return `f:${key}`;
  }
  return `s:${key}`;
}

/** A Python dict: insertion order; re-setting an equal key keeps the first key and the last value. */
export class PyDict {
  private readonly map = new Map<string, [PyKey, PyValue]>();
  private readonly keyLines = new Map<string, number>();
  /** Records the 1-based line where `key` was written (for error messages). */
  setLine(key: PyKey, line: number): void {
    this.keyLines.set(keyId(key), line);
  }
  /** The line recorded for `key`, if any. */
  lineOf(key: PyKey): number | undefined {
    return this.keyLines.get(keyId(key));
  }
  /** Sets `key` as `d[key] = value` does in Python. */
  set(key: PyKey, value: PyValue): void {
    const id = keyId(key);
    const old = this.map.get(id);
    if (old) old[1] = value;
    else this.map.set(id, [key, value]);
  }
  /** The value of `key`, if present. */
  get(key: PyKey): PyValue | undefined {
    return this.map.get(keyId(key))?.[1];
  }
  /** Whether `key` is present. */
  has(key: PyKey): boolean {
    return this.map.has(keyId(key));
  }
  /** The entries in insertion order. */
  entries(): Array<[PyKey, PyValue]> {
    return [...this.map.values()];
  }
  /** How many keys. */
  get size(): number {
    return this.map.size;
  }
}

/** Python's `repr(float)`: `1.0`, `1e+16`, `1e-05`, `inf`, `-0.0`. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant!.replace('.', '');
  const exp = Number(expText);
  const decpt = exp + 1;
  if (decpt <= -4 || decpt > 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/** The string `json.dumps` makes of a dict key (what `ansible-inventory --list` shows). */
export function jsonKey(key: PyKey): string {
  if (key === null) return 'null';
  if (typeof key === 'boolean') return key ? 'true' : 'false';
  if (typeof key === 'bigint') return key.toString();
  if (typeof key === 'number') {
    if (Number.isNaN(key)) return 'NaN';
    if (key === Infinity) return 'Infinity';
    if (key === -Infinity) return '-Infinity';
    return pyFloatRepr(key);
  }
  return key;
}

/** Sets `obj[key] = value` as an own property, even for `__proto__`. */
export function setVar(obj: Record<string, VarValue>, key: string, value: VarValue): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Thrown when a Python value has no model equivalent; callers add the file and line. */
export class UnsupportedValueError extends Error {
  override name = 'UnsupportedValueError';
}

const decoder = new TextDecoder('utf-8');

/**
 * Whether a model number stands for a Python int: an integral value within ±(2^53 − 1), not -0.
 * Any other number is a float (an integral double beyond 2^53 is a float, as in JavaScript).
 */
export function isIntNumber(n: number): boolean {
  return Number.isSafeInteger(n) && !Object.is(n, -0);
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Converts a Python value to a model value: int and float become `number` (a whole-number float a
 * {@link WholeFloat}), tuples lists, dict
 * keys strings as `json.dumps` writes them. What the model cannot keep exactly throws
 * {@link UnsupportedValueError} rather than change silently: an int beyond 2^53, sets, complex numbers,
 * `...` and nested bytes (the last four `ansible-inventory` itself cannot print).
 */
export function pyToVar(value: PyValue): VarValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    return floatValue(value);
  }
  if (typeof value === 'bigint') {
    if (value > MAX_EXACT || value < -MAX_EXACT) throw new UnsupportedValueError(`the int ${value} is beyond 2^53, which the lab model cannot keep exactly; quote it to make it a string`);
    return Number(value);
  }
  if (Array.isArray(value)) return value.map(pyToVar);
  if (value instanceof PyDict) {
    const out: Vars = {};
    for (const [k, v] of value.entries()) setVar(out, jsonKey(k), pyToVar(v));
    return out;
  }
  if (value instanceof PyBytes) throw new UnsupportedValueError('a bytes value inside a list or dict cannot be kept (ansible-inventory cannot print it either); write it as a string');
  throw new UnsupportedValueError(`${value.what} cannot be kept as an inventory var: ${value.why}`);
}

/** Decodes a top-level bytes value the way the INI plugin's `to_text` does (UTF-8). */
export function decodeBytes(b: PyBytes): string {
  return decoder.decode(b.bytes);
}
