/** Binary multipliers of size suffixes: `K` = 1024 bytes, `M`, `G`, `T`. */
const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * Parses a size like `500M`, `20G`, `1.5T`, `4096` (bytes) or `20GiB`/`20GB` (both binary:
 * 1G = 1024³ bytes) into bytes; undefined when malformed.
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?|B)?\s*$/i.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? '').toUpperCase()]!);
}

/** Formats bytes for people: `512B`, `3.4K`, `120M`, `2.0G`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  for (const [unit, mult] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes >= mult) {
      const v = bytes / mult;
      return `${v < 10 ? v.toFixed(1) : Math.round(v)}${unit}`;
    }
  }
  return `${bytes}B`;
}
