/**
 * Host patterns as Ansible expands them (`parse_address` and `expand_hostname_range`): an optional
 * `:port`, then ranges such as `node[01:20]` (zero padding kept), `node[1:10:2]` (a stride) and
 * `ceph-[a:c]`, several per name.
 */

/** Thrown for a range Ansible rejects, with Ansible's message. */
export class HostRangeError extends Error {
  override name = 'HostRangeError';
}

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const v6 = String.raw`(?:[0-9a-f]{1,4}|${hexRange})`;
const v4 = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`;
const W = String.raw`[\p{L}\p{N}_]`;
const label = String.raw`(?:${W}|${alnumRange})(?:${W}|[_-]|${alnumRange})*(?<![_-])`;

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/;
const IPV4 = new RegExp(String.raw`^(?:${v4}\.){3}${v4}$`, 'i');
const IPV6 = new RegExp(
  '^(?:' +
    [
      String.raw`(?:${v6}:){7}${v6}`,
      String.raw`(?:${v6}:){1,6}:`,
      String.raw`(?:${v6}:)(?::${v6}){1,6}`,
      String.raw`(?:${v6}:){2}(?::${v6}){1,5}`,
      String.raw`(?:${v6}:){3}(?::${v6}){1,4}`,
      String.raw`(?:${v6}:){4}(?::${v6}){1,3}`,
      String.raw`(?:${v6}:){5}(?::${v6}){1,2}`,
      String.raw`(?:${v6}:){6}(?::${v6})`,
      String.raw`:(?::${v6}){1,6}`,
      String.raw`${v6}?::`,
      String.raw`(?:0:){6}(?:${v6}\.){3}${v6}`,
      String.raw`::(?:ffff:)?(?:${v6}\.){3}${v6}`,
      String.raw`(?:0:){5}ffff:(?:${v6}\.){3}${v6}`,
    ].join('|') +
    ')$',
  'i',
);
const HOSTNAME = new RegExp(String.raw`^${label}(?:\.${label})*$`, 'iu');

/**
 * Splits `host:port`, `[host]:port` (IPv6) from a pattern the way `parse_address` does; a pattern
 * that is not a valid address or host name (ranges allowed) keeps its text and gets no port.
 */
export function splitPort(pattern: string): { pattern: string; port?: number } {
  let address = pattern;
  let port: number | undefined;
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(address);
    if (m) {
      address = m[1]!;
      port = Number(m[2]);
    }
  }
  // Python's re `$` also matches before a final newline; names never hold one here
  if (IPV4.test(address) || IPV6.test(address) || HOSTNAME.test(address)) return port === undefined ? { pattern: address } : { pattern: address, port };
  return { pattern };
}

const ASCII_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Python's `int(text)` for the ASCII forms: optional sign, digits, single underscores. */
function pyInt(text: string): number {
  const t = text.trim();
  if (!/^[+-]?[0-9](?:_?[0-9])*$/.test(t)) throw new HostRangeError(`invalid literal for int() with base 10: '${text}'`);
  return Number(t.replace(/_/g, ''));
}

/** Python's `str.zfill`. */
function zfill(s: string, width: number): string {
  const sign = s[0] === '-' || s[0] === '+' ? s[0] : '';
  const body = sign ? s.slice(1) : s;
  return sign + body.padStart(width - sign.length, '0');
}

/** Expands every `[a:b(:step)]` in a name, left to right, as `expand_hostname_range` does. */
export function expandRanges(line: string): string[] {
  const out: string[] = [];
  const parts = line.replace('[', '|').replace(']', '|').split('|');
  if (parts.length !== 3) throw new HostRangeError(`not a valid host range: '${line}' (expected head[begin:end]tail)`);
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostRangeError('host range must be begin:end or begin:end:step');
  let beg = bounds[0]!;
  const end = bounds[1]!;
  const stepText = bounds.length === 3 ? bounds[2]! : '1';
  if (!beg) beg = '0';
  if (!end) throw new HostRangeError('host range must specify end value');
  let fill = (x: string | number): string => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    const rlen = beg.length;
    if (rlen !== end.length) throw new HostRangeError('host range must specify equal-length begin and end formats');
    fill = (x) => zfill(String(x), rlen);
  }
  let seq: Array<string | number>;
  const iBeg = ASCII_LETTERS.indexOf(beg);
  const iEnd = ASCII_LETTERS.indexOf(end);
  let step = NaN;
  if (iBeg >= 0 && iEnd >= 0) {
    if (iBeg > iEnd) throw new HostRangeError('host range must have begin <= end');
    try {
      step = pyInt(stepText);
    } catch {
      step = NaN;
    }
  }
  if (iBeg >= 0 && iEnd >= 0 && Number.isFinite(step) && step !== 0) {
    // Python: ascii_letters[i_beg:i_end + 1:step]
    seq = pySlice([...ASCII_LETTERS], iBeg, iEnd + 1, step);
  } else {
    const b = pyInt(beg);
    const e = pyInt(end) + 1;
    const s = pyInt(stepText);
    if (s === 0) throw new HostRangeError('range() arg 3 must not be zero');
    seq = [];
    if (s > 0) for (let x = b; x < e; x += s) seq.push(x);
    else for (let x = b; x > e; x += s) seq.push(x);
  }
  for (const r of seq) {
    const name = `${head}${fill(r)}${tail}`;
    if (name.includes('[')) out.push(...expandRanges(name));
    else out.push(name);
  }
  return out;
}

function pySlice<T>(items: T[], start: number, stop: number, step: number): T[] {
  const out: T[] = [];
  const n = items.length;
  if (step > 0) {
    for (let i = Math.max(0, start); i < Math.min(stop, n); i += step) out.push(items[i]!);
  } else {
    // a negative step over [start, stop) with start < stop yields nothing
    let i = Math.min(start, n - 1);
    const lo = stop < 0 ? stop + n : stop;
    for (; i > lo; i += step) out.push(items[i]!);
  }
  return out;
}

/**
 * A host pattern as the inventory plugins expand it: names (ranges expanded) and the port that
 * applies to all of them, if one was given.
 */
export function expandHostPattern(hostPattern: string): { names: string[]; port?: number } {
  const { pattern, port } = splitPort(hostPattern);
  const names = pattern.includes('[') ? expandRanges(pattern) : [pattern];
  return port === undefined ? { names } : { names, port };
}
