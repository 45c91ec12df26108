/**
 * Whether `data`, parsed by js-yaml from `text` (a graph: js-yaml shares aliased nodes), expands
 * to more than `limit` values. A text without `&` has no anchor, so no alias: nothing to walk
 * (the walk costs ~1 s for a 100,000-host lab).
 */
export function expandsBeyond(text: string, data: unknown, limit: number): boolean {
  if (!text.includes('&')) return false;
  const sizes = new Map<object, number>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known !== undefined) return known;
    sizes.set(v, Infinity); // a node that holds itself expands without end
    let n = 1;
    for (const child of Object.values(v)) {
      n += size(child);
      if (n > limit) break;
    }
    sizes.set(v, n);
    return n;
  };
  return size(data) > limit;
}
