/** An element of a parsed XML document. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  /** Child elements and text (entities decoded, CDATA unwrapped), in document order. */
  children: (XmlElement | string)[];
}

/** Malformed XML: what is wrong and where (1-based line and column). */
export class XmlSyntaxError extends Error {
  override name = 'XmlSyntaxError';
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(`line ${line}, column ${col}: ${message}`);
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][\w.-]*);/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref] ?? whole; // an entity we do not define stays as written
  });
}

const NAME = /[^\s/>=<"']+/y;
const ATTR = /\s+([^\s/>=<"']+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;

/**
 * Parses an XML document into elements: a small non-validating parser, enough for JUnit files
 * (elements, attributes, text, CDATA, comments, processing instructions; a DOCTYPE is skipped and
 * its entities are not expanded). Throws {@link XmlSyntaxError} on malformed input.
 */
export function parseXml(text: string): XmlElement {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (message: string, at = i): never => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    throw new XmlSyntaxError(message, line, at - before.lastIndexOf('\n'));
  };
  const skipPast = (end: string, what: string): number => {
    const j = text.indexOf(end, i);
    if (j < 0) fail(`unterminated ${what}`);
    return j + end.length;
  };
  const addText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.children.push(t);
    else if (t.trim() !== '') fail('text outside the root element');
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt !== i) {
      const end = lt < 0 ? text.length : lt;
      addText(decode(text.slice(i, end)));
      i = end;
      continue;
    }
    if (text.startsWith('<?', i)) {
      i = skipPast('?>', 'processing instruction');
    } else if (text.startsWith('<!--', i)) {
      i = skipPast('-->', 'comment');
    } else if (text.startsWith('<![CDATA[', i)) {
      if (!stack.length) fail('CDATA outside the root element');
      const j = text.indexOf(']]>', i + 9);
      if (j < 0) fail('unterminated CDATA section');
      stack[stack.length - 1]!.children.push(text.slice(i + 9, j));
      i = j + 3;
    } else if (text.startsWith('<!DOCTYPE', i)) {
      if (root || stack.length) fail('DOCTYPE after the root element');
      let depth = 0;
      let j = i + 9;
      for (; j < text.length; j++) {
        const c = text[j];
        if (c === '[') depth++;
        else if (c === ']') depth--;
        else if (c === '>' && depth <= 0) break;
      }
      if (j >= text.length) fail('unterminated DOCTYPE');
      i = j + 1;
    } else if (text.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(text);
      const top = stack.pop();
      if (!m || !top) fail('unexpected closing tag');
      if (m![0] !== top!.name) fail(`closing tag </${m![0]}> does not match <${top!.name}>`);
      i = NAME.lastIndex;
      while (/\s/.test(text[i] ?? '')) i++;
      if (text[i] !== '>') fail(`expected '>' to close </${m![0]}>`);
      i++;
    } else {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(text);
      if (!m) fail("expected an element name after '<'");
      if (root && !stack.length) fail('a second root element');
      const el: XmlElement = { name: m![0], attrs: {}, children: [] };
      i = NAME.lastIndex;
      for (;;) {
        ATTR.lastIndex = i;
        const a = ATTR.exec(text);
        if (!a) break;
        el.attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
        i = ATTR.lastIndex;
      }
      while (/\s/.test(text[i] ?? '')) i++;
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else root = el;
      if (text.startsWith('/>', i)) {
        i += 2;
      } else if (text[i] === '>') {
        i++;
        stack.push(el);
      } else {
        fail(`malformed start tag <${el.name}>`);
      }
    }
  }
  if (stack.length) fail(`element <${stack[stack.length - 1]!.name}> is not closed`, text.length);
  if (!root) fail('no root element', text.length);
  return root!;
}

/** The child elements of `el` named `name`. */
export function childElements(el: XmlElement, name?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name));
}

/** The concatenated text of an element's direct text children. */
export function textOf(el: XmlElement): string {
  return el.children.filter((c): c is string => typeof c === 'string').join('');
}
