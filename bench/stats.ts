/** Medians, quantiles and paired ratios of repeated measurements. */

/** The q-quantile (0..1) of `values` by linear interpolation; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** A set of measurements summed up: median, quartiles, extremes and how many. */
export interface Summary {
  n: number;
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

/** Sums up `values` (all fields NaN for an empty list). */
export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    median: median(values),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
  };
}

/** The ratios a[i] / b[i] of paired runs, summed up (the pairs ran side by side, interleaved). */
export function pairedRatio(a: readonly number[], b: readonly number[]): Summary {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a[i]! / b[i]!);
  return summarize(ratios);
}

/** `1.012 (0.995–1.031, n=10)`: a ratio's median with its min–max spread. */
export function formatRatio(s: Summary, digits = 3): string {
  if (!s.n) return 'n/a';
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)}, n=${s.n})`;
}

/** `123 ms (p25–p75 120–130)`: a time's median with its interquartile spread. */
export function formatMs(s: Summary, digits = 0): string {
  if (!s.n) return 'n/a';
  if (s.n === 1) return `${s.median.toFixed(digits)} ms`;
  return `${s.median.toFixed(digits)} ms (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}
