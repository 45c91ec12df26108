/**
 * Python's `ast.literal_eval` (3.11), as Ansible's INI plugin applies it to every var value:
 * strings (all prefixes, escapes, implicit concatenation), ints (all bases, `_`), floats, complex,
 * True/False/None, tuples, lists, dicts, sets and `set()`. Anything that is not such a literal
 * (a syntax error or any other expression) gives `undefined`: the INI plugin then keeps the text.
 */
import { PyBytes, PyDict, PyUnsupported, UnsupportedValueError, type PyKey, type PyValue } from './py-value.js';

/** Python's limit on the digits of a decimal int literal (`sys.int_info.default_max_str_digits`). */
const MAX_INT_DIGITS = 4300;
/** Python's parser gives up past this nesting. */
const MAX_DEPTH = 200;

class NotLiteral extends Error {}
const fail = (): never => {
  throw new NotLiteral();
};

const ID_CHAR = /[\p{L}\p{N}_\p{Mn}\p{Mc}\p{Pc}]/u;
const STRING_PREFIX = /^(?:[rRuUbBfF]|[bB][rR]|[rR][bB]|[fF][rR]|[rR][fF])?(?='|")/;
const NUMBER = [
  // imaginary, float and int, longest first; each must not run into a name or another number
  /^(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*\.(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*[eE][+-]?[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*)[jJ]/,
  /^(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*\.(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*[eE][+-]?[0-9](?:_?[0-9])*)/,
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0(?:_?0)*)/,
];

type Imag = { imag: true };
/** `num` is a Constant int/float/complex, `signed` a unary +/- on one (literal_eval tells them apart). */
type Node = { value: PyValue | Imag; kind: 'num' | 'signed' | 'bool' | 'other' };

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  parseTop(): PyValue {
    this.ws();
    const v = this.tupleOrExpr(true);
    this.ws();
    if (this.i < this.s.length) fail();
    return v;
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === ' ' || c === '\t' || c === '\f') this.i++;
      else if (c === '#') this.i = s.length;
      else if (c === '\\' && (s[this.i + 1] === '\n' || s[this.i + 1] === '\r')) this.i += 2;
      else break;
    }
  }

  private peek(): string | undefined {
    return this.s[this.i];
  }

  /** `a, b, c` (a tuple) or one expression; `top` allows the bare tuple of eval mode. */
  private tupleOrExpr(top: boolean, closer?: string): PyValue {
    const first = this.expr();
    this.ws();
    if (this.peek() !== ',') return first;
    const items = [first];
    while (this.peek() === ',') {
      this.i++;
      this.ws();
      const c = this.peek();
      if (c === undefined || c === closer || (!top && c === ')')) break;
      items.push(this.expr());
      this.ws();
    }
    return items;
  }

  /** One expression: a signed number, `num ± imag`, or an atom. */
  private expr(): PyValue {
    const left = this.signed();
    this.ws();
    const c = this.peek();
    if (c === '+' || c === '-') {
      // BinOp is a literal only as `signed number ± imaginary number`
      if (left.kind !== 'num' && left.kind !== 'signed') fail();
      this.i++;
      this.ws();
      const right = this.atom();
      if (right.kind !== 'num' || !isImag(right.value)) fail();
      this.ws();
      const n = this.peek();
      if (n === '+' || n === '-') fail();
      return new PyUnsupported('a complex number');
    }
    if (isImag(left.value)) return new PyUnsupported('a complex number');
    return left.value as PyValue;
  }

  private signed(): Node {
    const c = this.peek();
    if (c === '+' || c === '-') {
      this.i++;
      this.ws();
      const operand = this.atom();
      if (operand.kind !== 'num') fail();
      const v = operand.value;
      if (isImag(v) || c === '+') return { kind: 'signed', value: v };
      return { kind: 'signed', value: typeof v === 'bigint' ? -v : -(v as number) };
    }
    return this.atom();
  }

  private atom(): Node {
    if (++this.depth > MAX_DEPTH) fail();
    try {
      return this.atomInner();
    } finally {
      this.depth--;
    }
  }

  private atomInner(): Node {
    const s = this.s;
    const c = this.peek();
    if (c === undefined) return fail();
    if (c === '(') {
      this.i++;
      this.ws();
      if (this.peek() === ')') {
        this.i++;
        return { kind: 'other', value: [] };
      }
      const first = this.exprNode();
      this.ws();
      if (this.peek() === ')') {
        this.i++;
        return first;
      }
      if (this.peek() !== ',') fail();
      return { kind: 'other', value: this.moreItems([nodeValue(first)], ')') };
    }
    if (c === '[') {
      this.i++;
      const items = this.sequence(']');
      return { kind: 'other', value: items };
    }
    if (c === '{') return { kind: 'other', value: this.braces() };
    if (c === '.' && s.startsWith('...', this.i)) {
      this.i += 3;
      return { kind: 'other', value: new PyUnsupported('Ellipsis (...)') };
    }
    const rest = s.slice(this.i);
    if (/^[0-9]/.test(c) || (c === '.' && /^[0-9]/.test(s[this.i + 1] ?? ''))) return this.number(rest);
    if (STRING_PREFIX.test(rest)) return { kind: 'other', value: this.strings() };
    const name = /^[\p{L}\p{Nl}_][\p{L}\p{N}_\p{Mn}\p{Mc}\p{Pc}]*/u.exec(rest)?.[0];
    if (name) {
      this.i += name.length;
      if (name === 'True') return { kind: 'bool', value: true };
      if (name === 'False') return { kind: 'bool', value: false };
      if (name === 'None') return { kind: 'other', value: null };
      if (name === 'set') {
        this.ws();
        if (this.peek() !== '(') fail();
        this.i++;
        this.ws();
        if (this.peek() !== ')') fail();
        this.i++;
        return { kind: 'other', value: new PyUnsupported('a set') };
      }
    }
    return fail();
  }

  /** A parenthesized item keeps its node kind: `-(1)` is a literal, `-(True)` is not. */
  private exprNode(): Node {
    const start = this.i;
    const node = this.signed();
    this.ws();
    const c = this.peek();
    if (c === '+' || c === '-') {
      this.i = start;
      return { kind: 'other', value: this.expr() };
    }
    return node;
  }

  private number(rest: string): Node {
    for (let k = 0; k < NUMBER.length; k++) {
      const m = NUMBER[k]!.exec(rest);
      if (!m) continue;
      const text = m[0];
      const after = rest[text.length];
      if (after !== undefined && (ID_CHAR.test(after) || after === '.')) fail();
      this.i += text.length;
      if (k === 0) return { kind: 'num', value: { imag: true } };
      const clean = text.replace(/_/g, '');
      if (k === 1) return { kind: 'num', value: Number(clean) };
      if (/^[1-9]/.test(clean) && clean.length > MAX_INT_DIGITS) fail();
      return { kind: 'num', value: BigInt(/^0+$/.test(clean) ? 0 : clean) };
    }
    return fail();
  }

  /** After a first item: `, item` ... (a trailing comma allowed) up to `close`, which is consumed. */
  private moreItems(items: PyValue[], close: string): PyValue[] {
    while (this.peek() === ',') {
      this.i++;
      this.ws();
      if (this.peek() === close) break;
      items.push(this.expr());
      this.ws();
    }
    if (this.peek() !== close) fail();
    this.i++;
    return items;
  }

  /** Items up to `close`, for `[...]`. */
  private sequence(close: string): PyValue[] {
    const items: PyValue[] = [];
    this.ws();
    while (this.peek() !== close) {
      items.push(this.expr());
      this.ws();
      if (this.peek() === ',') {
        this.i++;
        this.ws();
      } else if (this.peek() !== close) fail();
    }
    this.i++;
    return items;
  }

  /** `{}` a dict, `{k: v}` a dict, `{a, b}` a set. */
  private braces(): PyValue {
    this.i++;
    this.ws();
    if (this.peek() === '}') {
      this.i++;
      return new PyDict();
    }
    const first = this.expr();
    this.ws();
    if (this.peek() === ':') {
      const dict = new PyDict();
      let key = first;
      for (;;) {
        this.i++;
        this.ws();
        const value = this.expr();
        dict.set(hashable(key), value);
        this.ws();
        if (this.peek() === ',') {
          this.i++;
          this.ws();
        } else if (this.peek() !== '}') fail();
        if (this.peek() === '}') break;
        key = this.expr();
        this.ws();
        if (this.peek() !== ':') fail();
      }
      this.i++;
      return dict;
    }
    for (const item of this.moreItems([first], '}')) hashable(item);
    return new PyUnsupported('a set');
  }

  /** Adjacent string literals, concatenated; mixing bytes and str is a syntax error. */
  private strings(): PyValue {
    let text = '';
    const bytes: number[] = [];
    let isBytes: boolean | undefined;
    let isF = false;
    for (;;) {
      const rest = this.s.slice(this.i);
      const pm = STRING_PREFIX.exec(rest);
      if (!pm) break;
      const prefix = pm[0].toLowerCase();
      this.i += pm[0].length;
      const b = prefix.includes('b');
      if (isBytes !== undefined && isBytes !== b) fail();
      isBytes = b;
      if (prefix.includes('f')) isF = true;
      const body = this.stringBody();
      const raw = prefix.includes('r');
      if (b) {
        for (const ch of body) if (ch.charCodeAt(0) > 0x7f) fail();
        bytes.push(...(raw ? [...body].map((ch) => ch.charCodeAt(0)) : unescapeBytes(body)));
      } else {
        text += raw ? body : unescapeStr(body);
      }
      this.ws();
    }
    if (isF) fail(); // an f-string is a JoinedStr, never a literal
    return isBytes ? new PyBytes(Uint8Array.from(bytes)) : text;
  }

  /** The raw text between the quotes (escapes not applied), the index moved past the close. */
  private stringBody(): string {
    const s = this.s;
    const q = s[this.i]!;
    const triple = s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    let j = this.i + close.length;
    const start = j;
    for (;;) {
      if (j >= s.length) fail();
      const c = s[j]!;
      if (c === '\\') {
        j += 2;
        continue;
      }
      if (!triple && (c === '\n' || c === '\r')) fail();
      if (s.startsWith(close, j)) break;
      j++;
    }
    this.i = j + close.length;
    return s.slice(start, j);
  }
}

function isImag(v: unknown): v is Imag {
  return typeof v === 'object' && v !== null && (v as Imag).imag === true;
}

function nodeValue(n: Node): PyValue {
  return isImag(n.value) ? new PyUnsupported('a complex number') : n.value;
}

function hashable(v: PyValue): PyKey {
  if (v === null || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) {
    v.forEach(hashable);
    throw new UnsupportedValueError('a dict key that is a tuple cannot be kept as an inventory var');
  }
  if (v instanceof PyDict) throw new UnsupportedValueError("unhashable type: 'dict' as a dict key (Ansible fails on it too)");
  if (v instanceof PyBytes) throw new UnsupportedValueError('a bytes dict key cannot be kept as an inventory var');
  throw new UnsupportedValueError(`${v.what} as a dict key cannot be kept as an inventory var`);
}

const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function unescapeStr(body: string): string {
  let out = '';
  for (let j = 0; j < body.length; j++) {
    const c = body[j]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++j]!;
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === '\n') continue;
    else if (e === '\r') {
      if (body[j + 1] === '\n') j++;
    } else if (/[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(j))![0];
      j += m.length - 1;
      out += String.fromCodePoint(parseInt(m, 8));
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(j + 1, j + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail();
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) fail();
      out += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
      j += n;
    } else if (e === 'N') {
      if (body[j + 1] !== '{' || !body.includes('}', j)) fail();
      throw new UnsupportedValueError('a \\N{...} escape in a Python string is not supported here; write the character itself or a \\u escape');
    } else out += `\\${e}`;
  }
  return out;
}

function unescapeBytes(body: string): number[] {
  const out: number[] = [];
  for (let j = 0; j < body.length; j++) {
    const c = body[j]!;
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      continue;
    }
    const e = body[++j]!;
    if (e in SIMPLE_ESCAPES) out.push(SIMPLE_ESCAPES[e]!.charCodeAt(0));
    else if (e === '\n') continue;
    else if (e === '\r') {
      if (body[j + 1] === '\n') j++;
    } else if (/[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(j))![0];
      j += m.length - 1;
      out.push(parseInt(m, 8) & 0xff);
    } else if (e === 'x') {
      const hex = body.slice(j + 1, j + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail();
      out.push(parseInt(hex, 16));
      j += 2;
    } else out.push(0x5c, e.charCodeAt(0));
  }
  return out;
}

/**
 * Evaluates `text` as `ast.literal_eval` does, or returns `undefined` where Python would raise
 * ValueError or SyntaxError. Throws {@link UnsupportedValueError} for `\N{...}` escapes and
 * unhashable dict keys (Python raises other errors there, which Ansible does not catch).
 */
export function parsePyLiteral(text: string): PyValue | undefined {
  // literal_eval strips leading spaces and tabs; a NUL byte is always an error
  const src = text.replace(/^[ \t]+/, '');
  if (src.includes('\0')) return undefined;
  try {
    return new Parser(src).parseTop();
  } catch (err) {
    if (err instanceof NotLiteral) return undefined;
    throw err;
  }
}
