/**
 * Culprit finding over a queue of changes (PIPELINES.md §5), as a search over *probes*: a probe
 * runs the scenario with a set of changes applied (always in queue order) and says pass, fail or
 * cannot test. The search never runs Ansible itself: `harness bisect` hands it a probe that runs
 * the scenario, the simulator in bench/ a fake one.
 *
 * The rules:
 * - The base (no change) is good and the whole queue is bad: that is why one bisects (the base is
 *   probed only with `checkBase`). Binary search over prefixes finds the first change whose prefix
 *   fails: the culprit candidate.
 * - A pass is trusted. A failure is believed only when confirmed: the candidate's prefix must fail
 *   `confirm` more times (and it must have failed at least once). A failure that does not come
 *   back is a flake: reported with its probe, and the search goes on above it.
 * - Cannot test (an infrastructure error, git's exit 125) is retried once, then the prefix is
 *   skipped: never a verdict. When skips leave several candidates, the result names them all.
 * - After a culprit, the search goes on with the culprit (and the changes that depend on it) left
 *   out, until the queue without culprits passes.
 * - A change after a culprit that makes its prefix pass again, the culprit still in, is the
 *   culprit's fix (a revert): reported as `fixedBy`, never as a culprit.
 * Every probe result is kept by the set of changes applied, so no set is probed twice unless a
 * confirmation asks for it.
 */
import { InputError } from '../errors.js';

/** What a probe says. */
export type ProbeStatus = 'pass' | 'fail' | 'untestable';

/** One probe's result. */
export interface ProbeResult {
  status: ProbeStatus;
  /** The stage that failed, for `fail`. */
  stage?: string;
  /** Words about the failure or why it could not test. */
  message?: string;
  /** Where the probe's run directory is, if it made one. */
  runDir?: string;
  /** The probe run's bundle, if one was packed. */
  bundle?: string;
  durationMs?: number;
}

/** Runs the scenario with the changes at these queue indexes (0-based, ascending) applied. */
export type Probe = (applied: readonly number[]) => Promise<ProbeResult>;

/** A change of the queue, as the search needs it. */
export interface QueueChange {
  id: string;
  /** Ids of earlier changes this one needs. */
  depends?: readonly string[];
}

/** A probe as the report lists it. */
export interface ProbeRecord extends ProbeResult {
  /** The ids applied. */
  applied: string[];
  /** 1-based count of the run. */
  run: number;
}

/** A change found to break the system. */
export interface Culprit {
  id: string;
  /** The stage its failing probes failed in. */
  stage?: string;
  /** Failing runs of its prefix over all runs of it; 1 when every run failed. */
  confidence: number;
  /** When skipped probes left the search unsure: every change that may be the culprit. */
  candidates?: string[];
  /** A later change that makes its prefix pass again (a revert). */
  fixedBy?: string;
  /** Changes left out with it because they depend on it. */
  rejectedWithIt: string[];
}

/** The outcome of a search. */
export interface SearchResult {
  culprits: Culprit[];
  /** Failures that did not reproduce. */
  flakes: ProbeRecord[];
  /** Change ids whose prefix could not be tested. */
  untestable: string[];
  probes: ProbeRecord[];
  runs: number;
}

/** Options of {@link findCulprits}. */
export interface SearchOptions {
  /** Extra failing runs a candidate's prefix needs before it is blamed. @default 1 */
  confirm?: number;
  /** Probe the base too (it is assumed good otherwise). @default false */
  checkBase?: boolean;
  /**
   * Look for fixes: a change that fails only without an earlier culprit, or that makes the
   * queue pass again with the culprit in (a revert). Costs at most one probe per culprit after
   * the first and one per culprit at the end. @default true
   */
  detectFixes?: boolean;
  /**
   * Probes run at once (`--jobs`): each step of the search probes up to this many prefixes
   * together, splitting the range into jobs+1 parts (n-ary search); confirmation runs go together
   * too. With 1 the search is plain binary search and its bounds hold. @default 1
   */
  jobs?: number;
  signal?: AbortSignal;
}

/** Checks ids and `depends` (unknown, later, or cyclic), returning each change's dependents. */
export function dependents(changes: readonly QueueChange[]): Map<number, Set<number>> {
  const index = new Map<string, number>();
  changes.forEach((c, i) => {
    if (index.has(c.id)) throw new InputError(`change '${c.id}' is listed twice (changes[${index.get(c.id)}] and changes[${i}])`);
    index.set(c.id, i);
  });
  const direct = new Map<number, number[]>();
  changes.forEach((c, i) => {
    for (const d of c.depends ?? []) {
      const j = index.get(d);
      if (j === undefined) throw new InputError(`changes[${i}] (${c.id}): depends on '${d}', which is no change of the queue`);
      if (j === i) throw new InputError(`changes[${i}] (${c.id}): depends on itself`);
      if (j > i) throw new InputError(`changes[${i}] (${c.id}): depends on '${d}', which comes later in the queue (a cycle, or the queue is out of order)`);
      direct.set(j, [...(direct.get(j) ?? []), i]);
    }
  });
  const out = new Map<number, Set<number>>();
  for (let i = changes.length - 1; i >= 0; i--) {
    const all = new Set<number>();
    for (const d of direct.get(i) ?? []) {
      all.add(d);
      for (const x of out.get(d) ?? []) all.add(x);
    }
    out.set(i, all);
  }
  return out;
}

/** Finds the culprits of a queue whose tip fails (see the module comment). */
export async function findCulprits(changes: readonly QueueChange[], probe: Probe, opts: SearchOptions = {}): Promise<SearchResult> {
  if (!changes.length) throw new InputError('the queue is empty: give at least one change');
  const deps = dependents(changes);
  const confirm = opts.confirm ?? 1;
  const jobs = Math.max(1, Math.floor(opts.jobs ?? 1));
  const n = changes.length;
  const probes: ProbeRecord[] = [];
  const flakes: ProbeRecord[] = [];
  const untestable = new Set<string>();
  const culprits: Culprit[] = [];
  /** Results by applied set. */
  const seen = new Map<string, ProbeRecord[]>();
  const excluded = new Set<number>();

  const appliedFor = (prefix: number, out: ReadonlySet<number>): number[] => {
    const a: number[] = [];
    for (let i = 0; i < prefix; i++) if (!out.has(i)) a.push(i);
    return a;
  };
  const run = async (applied: number[], fresh = false): Promise<ProbeRecord> => {
    const k = applied.join(',');
    const prior = seen.get(k);
    if (prior?.length && !fresh) return prior[prior.length - 1]!;
    opts.signal?.throwIfAborted();
    let r = await probe(applied);
    if (r.status === 'untestable') r = await probe(applied); // once more: infrastructure errors pass
    const rec: ProbeRecord = { ...r, applied: applied.map((i) => changes[i]!.id), run: probes.length + 1 };
    probes.push(rec);
    seen.set(k, [...(seen.get(k) ?? []), rec]); // read again: probes of the same set may run at once
    return rec;
  };
  const statusOf = async (prefix: number, out: ReadonlySet<number>, fresh = false): Promise<ProbeStatus> => (await run(appliedFor(prefix, out), fresh)).status;
  /** The latest verdict on a prefix without running it (a pass is trusted). */
  const known = (prefix: number, out: ReadonlySet<number>): ProbeStatus | undefined => {
    const recs = seen.get(appliedFor(prefix, out).join(','));
    if (!recs?.length) return prefix === n && out.size === 0 ? 'fail' : undefined; // the whole queue is bad: why one bisects
    if (recs.some((r) => r.status === 'pass')) return 'pass';
    return recs[recs.length - 1]!.status;
  };

  if (opts.checkBase && (await statusOf(0, excluded)) !== 'pass') {
    throw new InputError('the base (no change applied) does not pass: culprits cannot be told from a broken base; fix the base or bisect from a good one');
  }

  /**
   * The first failing prefix in (lo, hi], P(lo) good, P(hi) taken as bad: binary search, skipping
   * untestable prefixes. Returns the candidate range [first, last] (one change when nothing skipped).
   */
  const bisect = async (lo: number, hi: number, out: ReadonlySet<number>): Promise<[number, number]> => {
    const skipped = new Set<number>();
    while (true) {
      const open: number[] = [];
      for (let i = lo + 1; i < hi; i++) if (!skipped.has(i) && !out.has(i - 1)) open.push(i);
      if (!open.length) return [lo + 1, hi];
      // The open prefixes nearest the points splitting (lo, hi) into jobs+1 parts (the middle for 1).
      const points: number[] = [];
      for (let k = 1; k <= Math.min(jobs, open.length); k++) {
        const at = lo + ((hi - lo) * k) / (Math.min(jobs, open.length) + 1);
        const free = open.filter((i) => !points.includes(i));
        points.push(free.reduce((best, i) => (Math.abs(i - at) < Math.abs(best - at) ? i : best), free[0]!));
      }
      points.sort((a, b) => a - b);
      const status = await Promise.all(points.map(async (p) => known(p, out) ?? (await statusOf(p, out))));
      // The lowest failing point is the new top; the highest passing point below it the new bottom.
      const firstFail = status.findIndex((s) => s === 'fail');
      const top = firstFail < 0 ? points.length : firstFail;
      points.forEach((p, k) => {
        if (status[k] === 'untestable' && k < top) {
          skipped.add(p);
          untestable.add(changes[p - 1]!.id);
        }
      });
      for (let k = 0; k < top; k++) if (status[k] === 'pass') lo = points[k]!;
      if (firstFail >= 0) hi = points[firstFail]!;
    }
  };

  /** The longest prefix up to `upTo` known to pass with the changes left out now (the base: 0). */
  const lastGood = (upTo: number): number => {
    for (let p = upTo; p > 0; p--) if (known(p, excluded) === 'pass') return p;
    return 0;
  };
  // A queue whose failures keep moving (very flaky) is not searched forever.
  const maxRuns = 20 * n + 50;

  let lo = 0;
  while (probes.length < maxRuns) {
    // Is there anything left to find? The tip is bad by assumption only on the first round.
    if (culprits.length || flakes.length) {
      const tip = known(n, excluded) ?? (await statusOf(n, excluded));
      if (tip !== 'fail') break;
    }
    const [first, last] = await bisect(lo, n, excluded);
    const c = last; // prefix `last` is the first failing one (as far as the probes could tell)
    // Confirmation: the candidate's prefix must fail confirm more times (at least once in all).
    const recs = () => seen.get(appliedFor(c, excluded).join(',')) ?? [];
    let flaked = false;
    if (!recs().some((r) => r.status === 'fail')) {
      if ((await statusOf(c, excluded, true)) !== 'fail') flaked = true;
    }
    // Once flakes were seen, a failure needs more confirmation (up to two more runs).
    const needed = confirm + Math.min(2, flakes.length);
    for (let k = 0; k < needed && !flaked; k += jobs) {
      const batch = Array.from({ length: Math.min(jobs, needed - k) }, () => statusOf(c, excluded, true));
      if ((await Promise.all(batch)).some((s) => s !== 'fail')) flaked = true;
    }
    if (flaked) {
      for (const r of recs()) if (r.status === 'fail' && !flakes.includes(r)) flakes.push(r);
      // A pass is trusted: search above it.
      if (c >= n) break;
      lo = lastGood(c);
      if (lo < c) lo = c; // its confirmation passed: P(c) is good now
      continue;
    }
    const changeIndex = c - 1;
    // A change that fails only without an earlier culprit is that culprit's fix (a revert that
    // cannot apply alone): it goes out with the culprit, and is never blamed.
    let fixOf: Culprit | undefined;
    for (const earlier of opts.detectFixes === false ? [] : [...culprits].reverse()) {
      const ei = changes.findIndex((x) => x.id === earlier.id);
      const back = new Set([...excluded].filter((i) => i !== ei));
      if ((known(c, back) ?? (await statusOf(c, back))) === 'pass') {
        fixOf = earlier;
        break;
      }
    }
    if (fixOf) {
      fixOf.fixedBy = changes[changeIndex]!.id;
      excluded.add(changeIndex);
      lo = lastGood(c);
      if (c >= n) break;
      continue;
    }
    const all = recs();
    const fails = all.filter((r) => r.status === 'fail');
    const rejected = [...(deps.get(changeIndex) ?? [])].filter((i) => !excluded.has(i));
    const culprit: Culprit = {
      id: changes[changeIndex]!.id,
      ...(fails[0]?.stage ? { stage: fails[0].stage } : {}),
      confidence: fails.length / all.length,
      rejectedWithIt: rejected.map((i) => changes[i]!.id),
    };
    if (first < last) culprit.candidates = changes.slice(first - 1, last).map((x) => x.id);
    culprits.push(culprit);
    // Skips left several candidates: they go out together (any may be the one), reported as one.
    for (let i = first - 1; i <= changeIndex; i++) excluded.add(i);
    for (const i of rejected) excluded.add(i);
    lo = lastGood(c);
    if (c >= n) break;
  }

  // Fixes: with the other culprits out, does the queue pass with this culprit in? Then the first
  // change after it that makes its prefix pass is its fix.
  for (const cu of opts.detectFixes === false ? [] : culprits) {
    if (cu.fixedBy) continue;
    const ci = changes.findIndex((x) => x.id === cu.id);
    const others = new Set([...excluded].filter((i) => i !== ci && !(deps.get(ci)?.has(i) ?? false)));
    if (ci >= n - 1) continue;
    const tip = known(n, others) ?? (await statusOf(n, others));
    if (tip !== 'pass') continue;
    // P(ci + 1) fails (the culprit's own prefix), P(n) passes: find the first passing prefix.
    let bad = ci + 1;
    let good = n;
    while (good - bad > 1) {
      const mid = Math.floor((bad + good) / 2);
      const s = known(mid, others) ?? (await statusOf(mid, others));
      if (s === 'pass') good = mid;
      else bad = mid; // untestable counts as not proven fixed
    }
    cu.fixedBy = changes[good - 1]!.id;
  }
  return { culprits, flakes, untestable: [...untestable], probes, runs: probes.length };
}
