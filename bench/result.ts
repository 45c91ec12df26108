/** The shape of one benchmark's outcome, as written to bench/results/<date>.json. */

/** Whether a benchmark met its goal. */
export type Verdict = 'met' | 'missed' | 'not measured';

/** One row of a benchmark's table: what was measured, the figure, and its goal. */
export interface Row {
  what: string;
  figure: string;
  goal?: string;
  verdict?: Verdict;
}

/** The outcome of one benchmark. */
export interface BenchResult {
  /** `overhead`, `events`, `model`, `checkpoints`, `startup`. */
  id: string;
  title: string;
  verdict: Verdict;
  rows: Row[];
  /** What each side ran, how the figures were taken, what falls short and why. */
  notes: string[];
  /** Raw figures (every sample), for whoever wants to recompute. */
  data: Record<string, unknown>;
  /** Wall time the benchmark itself took (s). */
  seconds: number;
}

/** What every benchmark module gets. */
export interface BenchContext {
  quick: boolean;
  /** The package root (where bin/harness and dist/ are). */
  root: string;
  /** A scratch folder of this bench run, removed at the end. */
  tmp: string;
  /** Progress lines. */
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** The verdict of several rows: missed if any missed, met if all measured rows met. */
export function overall(rows: readonly Row[]): Verdict {
  const judged = rows.filter((r) => r.verdict !== undefined);
  if (!judged.length || judged.every((r) => r.verdict === 'not measured')) return 'not measured';
  return judged.some((r) => r.verdict === 'missed') ? 'missed' : 'met';
}
