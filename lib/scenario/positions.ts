import type { Document, LineCounter, Node } from 'yaml';
import { yamlLib } from '../util/yaml.js';

/** A path into the parsed document: keys and array indexes. */
export type FieldPath = (string | number)[];

/** Formats a path as people read it: `stages[2].timeout`, `lab.hosts["web 1"]`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Splits an ajv instancePath (`/stages/2/timeout`) into a field path. */
export function pointerToPath(pointer: string, data: unknown): FieldPath {
  if (!pointer) return [];
  const out: FieldPath = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: string | number = Array.isArray(cur) && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(key);
    cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[key] : undefined;
  }
  return out;
}

/** Finds line and column of a field in a YAML document: its value, or with `atKey` its key. */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** 1-based line and column of the node at `path` (or of the closest parent that exists). */
  locate(path: FieldPath, atKey = false): { line: number; col: number } | undefined {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const node = atKey && n === path.length ? this.keyNode(sub) : (this.doc.getIn(sub, true) as Node | undefined);
      const offset = node?.range?.[0];
      if (offset !== undefined) return this.lines.linePos(offset);
      if (n === 0 && this.doc.contents?.range) return this.lines.linePos(this.doc.contents.range[0]);
    }
    return undefined;
  }

  private keyNode(path: FieldPath): Node | undefined {
    const parent = this.doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    const { isMap, isPair, isScalar } = yamlLib();
    if (!isMap(parent)) return undefined;
    for (const item of parent.items) {
      if (isPair(item) && isScalar(item.key) && String(item.key.value) === String(last)) return item.key;
    }
    return undefined;
  }
}
