/**
 * Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI plugin applies to
 * every host line before it looks at `key=value` pairs, and the quoting that survives it.
 */

const WHITESPACE = ' \t\r\n';

/** Thrown for an unclosed quote or a trailing backslash, with Python's message. */
export class ShlexError extends Error {
  override name = 'ShlexError';
}

/** Splits `line` as `shlex.split(line, comments=True)` does: quotes removed, `#` starts a comment. */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  for (;;) {
    let token = '';
    let quoted = false;
    let state: string | null = ' ';
    let escapedState = ' ';
    let done = false;
    while (!done) {
      const c = i < line.length ? line[i++]! : '';
      if (state === ' ') {
        if (!c) {
          state = null;
          break;
        } else if (WHITESPACE.includes(c)) {
          if (token || quoted) break;
        } else if (c === '#') {
          i = skipLine(line, i);
        } else if (c === '\\') {
          escapedState = 'a';
          state = c;
        } else if (c === "'" || c === '"') {
          state = c;
        } else {
          token = c;
          state = 'a';
        }
      } else if (state === "'" || state === '"') {
        quoted = true;
        if (!c) throw new ShlexError('No closing quotation');
        if (c === state) state = 'a';
        else if (c === '\\' && state === '"') {
          escapedState = state;
          state = c;
        } else token += c;
      } else if (state === '\\') {
        if (!c) throw new ShlexError('No escaped character');
        if (escapedState === '"' && c !== '\\' && c !== '"') token += '\\';
        token += c;
        state = escapedState;
      } else {
        // word state 'a'
        if (!c) {
          state = null;
          break;
        } else if (WHITESPACE.includes(c)) {
          state = ' ';
          if (token || quoted) break;
        } else if (c === '#') {
          i = skipLine(line, i);
          state = ' ';
          if (token || quoted) break;
        } else if (c === "'" || c === '"') {
          state = c;
        } else if (c === '\\') {
          escapedState = 'a';
          state = c;
        } else token += c;
      }
      done = state === null;
    }
    if (state === null && !quoted && token === '') return tokens;
    tokens.push(token);
    if (state === null) return tokens;
  }
}

function skipLine(line: string, i: number): number {
  const nl = line.indexOf('\n', i);
  return nl < 0 ? line.length : nl + 1;
}

const SAFE = /^[\p{L}\p{N}_@%+=:,./-]+$/u;

/** Quotes `s` so that {@link shlexSplit} gives it back as one token (bare when nothing needs quoting). */
export function shlexQuote(s: string): string {
  if (s !== '' && SAFE.test(s)) return s;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
