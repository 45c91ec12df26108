/** The duration forms a scenario accepts: a whole number with a unit, or several (`1h30m`). */
export const DURATION_PATTERN = '^(\\d+(ms|s|m|h|d))+$';

/**
 * The longest stage timeout: 24 days. Node's timers hold at most 2^31-1 ms (24.8 days); a
 * longer one fires at once, so the scenario refuses it.
 */
export const MAX_DURATION_MS = 24 * 86_400_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `30m`, `2h`, `1h30m` or `500ms` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/** One formatter for every duration the harness prints. */
export { formatDuration } from '../util/duration.js';
