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

/** Every form a secret may take in our outputs: raw, JSON-escaped (as JS and as Python's ascii json), XML-escaped. */
function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const asciiJson = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [secret, json, asciiJson, xmlEscaped(secret)];
}

/**
 * Makes a redactor that replaces every occurrence of each secret (and of its JSON- and
 * XML-escaped forms) with `********`. Longest values win; empty values are ignored. One combined
 * regular expression serves all calls, so it is cheap to call per line.
 */
export function createRedactor(secrets: readonly string[]): Redact {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    for (const form of formsOf(secret)) forms.add(form);
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
