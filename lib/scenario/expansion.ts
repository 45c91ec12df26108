/** Whether `data` (a graph: js-yaml shares aliased nodes) expands to more than `limit` values. */
export function expandsBeyond(data: unknown, limit: number): boolean {
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
