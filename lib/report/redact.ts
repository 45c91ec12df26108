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
  const pattern = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|');
  const re = new RegExp(pattern, 'g');
  return (text) => (typeof text === 'string' && text !== '' ? text.replace(re, REDACTED) : text);
}

/** A JSON.stringify replacer that redacts string values only (numbers, keys and structure stay intact). */
export function redactingReplacer(redact: Redact): ((key: string, value: unknown) => unknown) | undefined {
  if (redact === noRedact) return undefined;
  return (_key, value) => (typeof value === 'string' ? redact(value) : value);
}
