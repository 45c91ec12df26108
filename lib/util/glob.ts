/**
 * The regular expression source for one shell-glob path segment: `*` any run of characters, `?`
 * one, `[abc]`/`[a-z]`/`[!x]`/`[^x]` a class; never `/`. An unclosed `[` is a literal.
 */
export function globSegmentSource(seg: string): string {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, close);
      const negate = body[0] === '!' || body[0] === '^';
      if (negate) body = body.slice(1);
      re += `[${negate ? '^/' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return re;
}
