/**
 * YAML read the way Ansible's loader (PyYAML, YAML 1.1) reads it: plain scalars resolved with
 * PyYAML's rules (`yes`/`on` are booleans, `0123` is octal, `1e3` is a string, `1:30` is 90,
 * dates are timestamps), `<<` merge keys, duplicate keys (the last wins), explicit `!!` tags.
 * The `yaml` package does the syntax; the values are built here.
 */
import type { Document, LineCounter, Node as YNode, Scalar } from 'yaml';
import { yamlLib } from '../util/yaml.js';
import { NO_UNSAFE, PyDict, PyUnsupported, type PyKey, type PyValue } from './py-value.js';
import type { Loaded } from './py-json.js';

/** A YAML error with the 1-based line it was found on. */
export class PyYamlError extends Error {
  override name = 'PyYamlError';
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

const RESOLVERS: Array<[string, RegExp, string]> = [
  ['bool', /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/, 'yYnNtTfFoO'],
  ['float', /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/, '-+0123456789.'],
  ['int', /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/, '-+0123456789'],
  ['merge', /^(?:<<)$/, '<'],
  ['null', /^(?:~|null|Null|NULL|)$/, '~nN'],
  ['timestamp', /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/, '0123456789'],
  ['value', /^(?:=)$/, '='],
];

/** The tag PyYAML's resolver gives a plain scalar: `str`, `int`, `float`, `bool`, `null`, `timestamp`, `merge` or `value`. */
export function resolvePlain(value: string): string {
  const first = value === '' ? '' : value[0]!;
  for (const [tag, re, firsts] of RESOLVERS) {
    if (first === '' ? tag === 'null' : firsts.includes(first)) {
      if (re.test(value)) return tag;
    }
  }
  return 'str';
}

const BOOL_VALUES: Record<string, boolean> = { yes: true, no: false, true: true, false: false, on: true, off: false };

function constructInt(text: string): bigint {
  let value = text.replace(/_/g, '');
  let sign = 1n;
  if (value[0] === '-') sign = -1n;
  if (value[0] === '+' || value[0] === '-') value = value.slice(1);
  if (value === '0') return 0n;
  const parse = (digits: string, radix: number): bigint => {
    const re = radix === 2 ? /^[01]+$/ : radix === 8 ? /^[0-7]+$/ : radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/;
    if (!re.test(digits)) throw new Error(`invalid literal for int() with base ${radix}: '${digits}'`);
    const prefix = radix === 2 ? '0b' : radix === 8 ? '0o' : radix === 16 ? '0x' : '';
    return BigInt(prefix + digits);
  };
  if (value.startsWith('0b')) return sign * parse(value.slice(2), 2);
  if (value.startsWith('0x')) return sign * parse(value.slice(2), 16);
  if (value[0] === '0') return sign * parse(value, 8);
  if (value.includes(':')) {
    let total = 0n;
    for (const part of value.split(':')) total = total * 60n + parse(part, 10);
    return sign * total;
  }
  return sign * parse(value, 10);
}

function constructFloat(text: string): number {
  let value = text.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (value[0] === '-') sign = -1;
  if (value[0] === '+' || value[0] === '-') value = value.slice(1);
  if (value === '.inf') return sign * Infinity;
  if (value === '.nan') return NaN;
  if (value.includes(':')) {
    let total = 0;
    for (const part of value.split(':')) total = total * 60 + pyFloat(part);
    return sign * total;
  }
  return sign * pyFloat(value);
}

function pyFloat(s: string): number {
  if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?$/.test(s)) throw new Error(`could not convert string to float: '${s}'`);
  return Number(s);
}

const TIMESTAMP = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;

/**
 * A YAML timestamp as the text `ansible-inventory` prints for it (Python's `isoformat()`):
 * the model has no date type, so a date becomes that string.
 */
function constructTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text);
  if (!m) throw new Error(`not a timestamp: '${text}'`);
  const [, y, mo, d, h, mi, s, frac, tz, tzSign, tzH, tzM] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const probe = new Date(Date.UTC(2000, month - 1, day));
  if (month < 1 || month > 12 || day < 1 || probe.getUTCMonth() !== month - 1 || (month === 2 && day === 29 && !isLeap(year))) {
    throw new Error(`day is out of range for month: '${text}'`);
  }
  const p2 = (n: number | string): string => String(n).padStart(2, '0');
  const date = `${String(year).padStart(4, '0')}-${p2(month)}-${p2(day)}`;
  if (h === undefined) return date;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw new Error(`time out of range: '${text}'`);
  let out = `${date}T${p2(h)}:${p2(mi!)}:${p2(s!)}`;
  const micro = Number(((frac ?? '').slice(0, 6) + '000000').slice(0, 6));
  if (micro) out += `.${String(micro).padStart(6, '0')}`;
  if (tzSign) {
    const hours = Number(tzH);
    const minutes = Number(tzM ?? 0);
    const total = hours * 60 + minutes;
    if (total >= 24 * 60) throw new Error(`offset out of range: '${text}'`);
    out += `${total === 0 ? '+' : tzSign}${p2(Math.floor(total / 60))}:${p2(total % 60)}`;
  } else if (tz) out += '+00:00';
  return out;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const STD = 'tag:yaml.org,2002:';

class Builder {
  readonly lines = new WeakMap<object, number>();
  private readonly active = new Set<YNode>();
  constructor(
    private readonly doc: Document,
    private readonly lc: LineCounter,
  ) {}

  line(node: YNode | null | undefined): number | undefined {
    const r = node?.range;
    return r ? this.lc.linePos(r[0]).line : undefined;
  }

  fail(message: string, node: YNode | null | undefined): never {
    throw new PyYamlError(message, this.line(node));
  }

  deref(node: unknown): YNode | null {
    let n = node as YNode | null;
    let hops = 0;
    while (n && yamlLib().isAlias(n)) {
      const target = n.resolve(this.doc) as YNode | undefined;
      if (!target) this.fail(`found undefined alias '${n.source}'`, n);
      n = target!;
      if (++hops > 1000) this.fail('alias loop', n);
    }
    return n;
  }

  value(raw: unknown): PyValue {
    const node = this.deref(raw);
    if (node === null || node === undefined) return null;
    if (this.active.has(node)) this.fail('a recursive structure (an alias inside its own anchor) cannot be kept as an inventory var', node);
    this.active.add(node);
    try {
      return this.build(node);
    } finally {
      this.active.delete(node);
    }
  }

  private build(node: YNode): PyValue {
    const tag = node.tag;
    if (yamlLib().isScalar(node)) return this.scalar(node);
    if (yamlLib().isSeq(node)) {
      if (tag && tag !== `${STD}seq` && tag !== '!') return this.unsupportedTag(tag, node);
      const arr = node.items.map((item) => this.value(item));
      this.lines.set(arr, this.line(node) ?? 0);
      return arr;
    }
    if (yamlLib().isMap(node)) {
      if (tag && tag !== `${STD}map` && tag !== '!') return this.unsupportedTag(tag, node);
      const d = new PyDict();
      this.lines.set(d, this.line(node) ?? 0);
      for (const [k, v] of this.flatten(node)) {
        const key = this.key(k);
        d.set(key, this.value(v));
        const line = this.line(this.deref(k));
        if (line !== undefined) d.setLine(key, line);
      }
      return d;
    }
    return this.fail('unexpected YAML node', node);
  }

  private unsupportedTag(tag: string, node: YNode): PyValue {
    if (tag === `${STD}set` || tag === `${STD}omap` || tag === `${STD}pairs` || tag === `${STD}binary`) {
      return new PyUnsupported(`a YAML ${tag.slice(STD.length)} value`);
    }
    if (tag === '!unsafe') return new PyUnsupported('an !unsafe value', NO_UNSAFE);
    if (tag === '!vault' || tag === '!vault-encrypted') return new PyUnsupported('a !vault value', NO_UNSAFE);
    return this.fail(`could not determine a constructor for the tag '${tag}'`, node);
  }

  /** PyYAML's `flatten_mapping`: `<<` merges first (earlier maps of a list win), then own keys. */
  private flatten(node: YNode): Array<[unknown, unknown]> {
    if (!yamlLib().isMap(node)) return this.fail('expected a mapping for merging', node);
    const merged: Array<[unknown, unknown]> = [];
    const own: Array<[unknown, unknown]> = [];
    for (const pair of node.items) {
      if (!yamlLib().isPair(pair)) continue;
      const k = pair.key as YNode | null;
      const isMerge = yamlLib().isScalar(k) && ((k.type === 'PLAIN' && !k.tag && k.source === '<<') || k.tag === `${STD}merge`);
      if (!isMerge) {
        own.push([pair.key, pair.value]);
        continue;
      }
      const v = this.deref(pair.value);
      if (yamlLib().isMap(v)) merged.push(...this.flatten(v));
      else if (yamlLib().isSeq(v)) {
        const parts: Array<Array<[unknown, unknown]>> = [];
        for (const sub of v.items) {
          const s = this.deref(sub);
          if (!yamlLib().isMap(s)) this.fail('expected a mapping for merging', s ?? v);
          parts.push(this.flatten(s!));
        }
        for (const part of parts.reverse()) merged.push(...part);
      } else this.fail('expected a mapping or list of mappings for merging', v ?? node);
    }
    return [...merged, ...own];
  }

  private key(raw: unknown): PyKey {
    const node = this.deref(raw);
    if (yamlLib().isScalar(node) && node.type === 'PLAIN' && !node.tag && node.source === '=') return '=';
    const v = this.value(node);
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof PyUnsupported) return this.fail(`${v.what} as a key cannot be kept as an inventory var`, node);
    return this.fail('found unacceptable key (unhashable type)', node);
  }

  private scalar(node: Scalar): PyValue {
    const text = String(node.source ?? node.value ?? '');
    let tag = node.tag;
    // a plain scalar, or any scalar tagged with the bare `!`, goes through the implicit resolver
    if (tag === '!' || (!tag && node.type === 'PLAIN')) tag = `${STD}${resolvePlain(text)}`;
    else if (!tag) tag = `${STD}str`;
    try {
      switch (tag) {
        case `${STD}str`:
        case 'tag:yaml.org,2002:python/unicode':
          return text;
        case `${STD}null`:
          return null;
        case `${STD}bool`: {
          const b = BOOL_VALUES[text.toLowerCase()];
          if (b === undefined) throw new Error(`not a boolean: '${text}'`);
          return b;
        }
        case `${STD}int`:
          return constructInt(text);
        case `${STD}float`:
          return constructFloat(text);
        case `${STD}timestamp`:
          return constructTimestamp(text);
        default:
          return this.unsupportedTag(tag, node);
      }
    } catch (err) {
      if (err instanceof PyYamlError) throw err;
      return this.fail((err as Error).message, node);
    }
  }
}

/**
 * Loads a YAML stream as Ansible's loader does (one document; an empty stream is `null`).
 * Throws {@link PyYamlError} with the line of the problem.
 */
export function parsePyYaml(text: string): Loaded {
  const { LineCounter, parseDocument } = yamlLib();
  const lc = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', version: '1.1', uniqueKeys: false, lineCounter: lc, merge: false, strict: false });
  const first = doc.errors[0];
  if (first) throw new PyYamlError(first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''), first.linePos?.[0]?.line);
  const b = new Builder(doc, lc);
  return { value: b.value(doc.contents), lines: b.lines };
}
