import { stripVTControlCharacters } from 'node:util';

// Characters XML 1.0 forbids: C0 controls but tab/LF/CR, lone surrogates, U+FFFE and U+FFFF.
const XML_ILLEGAL = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const HAS_SPECIAL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u009b\uD800-\uDFFF\uFFFE\uFFFF]/;

/** Text made safe for XML 1.0: ANSI sequences removed, CRLF made LF, illegal characters dropped. */
export function xmlSafe(text: string): string {
  if (!HAS_SPECIAL.test(text) && !text.includes('\r')) return text;
  return stripVTControlCharacters(text).replace(/\r\n?/g, '\n').replace(XML_ILLEGAL, '');
}

/** Cuts `text` to at most `max` characters, saying how much was cut. @default max 8192 */
export function cap(text: string, max = 8192): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
}

/** The first non-empty line of a text, capped for use in an attribute. */
export function firstLine(text: string, max = 500): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return cap(line.trim(), max);
}

/** Escapes a value for an XML attribute in double quotes (text must already be {@link xmlSafe}). */
export function xmlAttr(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

/** Seconds as JUnit wants them: finite, not negative, at most 3 decimals, never in exponent form (absurd values become 0). */
export function junitSeconds(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds >= 1e12) return 0;
  return Number(seconds.toFixed(3));
}
