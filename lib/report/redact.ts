/** A function that hides secret values in a text. */
export type Redact = (text: string) => string;

/** What a secret is replaced with. */
export const REDACTED = '********';

/** The identity redactor: for sinks given no secrets. */
export const noRedact: Redact = (text) => text;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function xmlEscaped(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const hex2 = (c: string, upper = false): string => {
  const h = c.charCodeAt(0).toString(16).padStart(2, '0');
  return upper ? h.toUpperCase() : h;
};

/** The inside of a JSON string, as JavaScript writes it (non-ASCII kept). */
function jsonInner(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** The inside of a JSON string as Python's `json.dumps` writes it by default (`ensure_ascii`: `\uXXXX`, surrogate pairs beyond the BMP). */
function asciiJsonInner(s: string): string {
  return jsonInner(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The inside of Python's `repr` of a str, quoted with `quote` (`'` escapes it; `"` is used when the text holds `'` and no `"`). */
function pyReprInner(s: string, quote: "'" | '"'): string {
  let out = '';
  for (const c of s) {
    if (c === '\\') out += '\\\\';
    else if (c === quote) out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (/[\u0000-\u001f\u007f-\u00a0\u00ad]/.test(c)) out += `\\x${hex2(c)}`;
    else if (/[\u2028\u2029]/.test(c)) out += `\\u${c.charCodeAt(0).toString(16)}`;
    else out += c;
  }
  return out;
}

const YAML_ESCAPES: Record<string, string> = {
  '\0': '0', '\x07': 'a', '\b': 'b', '\t': 't', '\n': 'n', '\v': 'v', '\f': 'f', '\r': 'r', '\x1b': 'e',
  '"': '"', '\\': '\\', '\x85': 'N', '\xa0': '_', '\u2028': 'L', '\u2029': 'P',
};

/** The inside of a double-quoted YAML scalar as PyYAML writes it (`to_yaml`/`to_nice_yaml`: unicode kept). */
function yamlDoubleInner(s: string): string {
  let out = '';
  for (const c of s) {
    const named = YAML_ESCAPES[c];
    if (named !== undefined) out += `\\${named}`;
    else if (/[\u0000-\u001f\u007f-\u009f]/.test(c)) out += `\\x${hex2(c, true)}`;
    else out += c;
  }
  return out;
}

/**
 * Every form a secret may take in what Ansible prints and we write: raw; JSON-escaped (as
 * JavaScript writes it and as Python's `json.dumps` does, `\uXXXX` for non-ASCII); Python repr
 * (single- and double-quoted); YAML single-quoted (`''`) and double-quoted (PyYAML's escapes);
 * shell-quoted (`shlex.quote`, the `quote` filter: `'` becomes `'"'"'`); XML-escaped. Then each of
 * those once more JSON-escaped: a `to_json` or repr result shown inside a JSON result.
 */
function formsOf(secret: string): string[] {
  const first = new Set([
    secret,
    jsonInner(secret),
    asciiJsonInner(secret),
    pyReprInner(secret, "'"),
    pyReprInner(secret, '"'),
    secret.replaceAll("'", "''"),
    yamlDoubleInner(secret),
    secret.replaceAll("'", `'"'"'`),
    xmlEscaped(secret),
  ]);
  const all = new Set(first);
  for (const f of first) {
    all.add(jsonInner(f));
    all.add(asciiJsonInner(f));
  }
  return [...all];
}

/** Lines of a multi-line secret shorter than this (trimmed) are not masked on their own: they would garble every log. */
export const MIN_LINE_LENGTH = 4;

/**
 * The values masked for one secret: the whole value and, for a multi-line one (a PEM key),
 * each of its lines trimmed, when at least {@link MIN_LINE_LENGTH} long (Ansible prints a
 * command's output line by line too, in `stdout_lines`).
 */
export function secretPieces(secret: string): string[] {
  const pieces = [secret];
  if (/[\r\n]/.test(secret)) {
    for (const line of secret.split(/\r\n|\r|\n/)) {
      const t = line.trim();
      if (t.length >= MIN_LINE_LENGTH && t !== secret) pieces.push(t);
    }
  }
  return pieces;
}

/**
 * Makes a redactor that replaces every occurrence of each secret, of each line of a multi-line
 * one ({@link secretPieces}), and of every encoded form of those (JSON, Python repr, YAML,
 * shell-quoted, XML) with `********`. Longest values win; empty values are ignored. One combined
 * regular expression serves all calls, so it is cheap to call per line.
 */
export function createRedactor(secrets: readonly string[]): Redact {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    for (const piece of secretPieces(secret)) for (const form of formsOf(piece)) forms.add(form);
  }
  if (forms.size === 0) return noRedact;
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  const re = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
  const shortest = sorted[sorted.length - 1]!.length;
  // Most texts hold no secret: a few indexOf scans (much cheaper than the regex) say so first.
  const precheck = sorted.length <= 16 ? sorted : undefined;
  return (text) => {
    if (typeof text !== 'string' || text.length < shortest) return text;
    if (precheck) {
      let found = false;
      for (let i = 0; i < precheck.length && !found; i++) found = text.includes(precheck[i]!);
      if (!found) return text;
    }
    return text.replace(re, REDACTED);
  };
}

/** A JSON.stringify replacer that redacts string values only (numbers, keys and structure stay intact). */
export function redactingReplacer(redact: Redact): ((key: string, value: unknown) => unknown) | undefined {
  if (redact === noRedact) return undefined;
  return (_key, value) => (typeof value === 'string' ? redact(value) : value);
}

/** A value with every string (and key) inside redacted; the same value (not a copy) when nothing changed. */
function redactValue(value: unknown, redact: Redact): unknown {
  if (typeof value === 'string') return value === '' ? value : redact(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i] as unknown;
      const r = redactValue(v, redact);
      if (r !== v) (out ??= value.slice())[i] = r;
    }
    return out ?? value;
  }
  // First a pass that allocates nothing (most events hold no secret), then a rebuild if one did.
  const obj = value as Record<string, unknown>;
  let changed = false;
  for (const key in obj) {
    const v = obj[key];
    if (redactValue(v, redact) !== v || (key !== '' && redact(key) !== key)) {
      changed = true;
      break;
    }
  }
  if (!changed) return value;
  // Keys may hold secrets too (a result keyed by a value): rebuild the object in its key order.
  const out: Record<string, unknown> = {};
  for (const key in obj) out[key === '' ? key : redact(key)] = redactValue(obj[key], redact);
  return out;
}

/**
 * An event (or any JSON-like value) with every string inside it redacted, keys included, as a JSON
 * round trip through the redactor would. Free with {@link noRedact}; otherwise one pass over its
 * strings that copies only the objects on the way to a secret (no secret: the event itself).
 */
export function redactEvent<T>(event: T, redact: Redact): T {
  return redact === noRedact ? event : (redactValue(event, redact) as T);
}
