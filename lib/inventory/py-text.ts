/** Python's text rules the INI plugin relies on: `splitlines`, `strip`, `\s`. */

/** The characters of Python's `str.isspace()` (and of `\s` in a `str` regex), for a regex class. */
export const PY_WS_CLASS = String.raw`\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;

const STRIP = new RegExp(`^[${PY_WS_CLASS}]+|[${PY_WS_CLASS}]+$`, 'g');

/** Python's `str.strip()`. */
export function pyStrip(s: string): string {
  return s.replace(STRIP, '');
}

/** Python's `str.splitlines()`: every Unicode line boundary, no empty last line. */
export function pySplitLines(s: string): string[] {
  const lines = s.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const INI_GROUP = new RegExp(`^(?![#;])[^:\\]${PY_WS_CLASS}]+$`, 'u');

/**
 * Whether the INI plugin reads `name` back as that group in `[name]` and in `[parent:children]`
 * lines: no `:`, `]` or whitespace, not starting with `#` or `;`.
 */
export function isIniGroupName(name: string): boolean {
  return INI_GROUP.test(name);
}
