/**
 * Speculative gating of a queue (Zuul's dependent pipeline, PIPELINES.md §5): change i is
 * tested on top of the changes ahead of it that are expected to merge, up to `jobs` at once.
 * When one fails it is rejected, and every change behind it that was tested with it in is tested
 * again without it. A change that depends on a rejected one is rejected with it. The same set of
 * changes is never probed twice (results are kept by the set applied).
 */
import { dependents, type Probe, type ProbeRecord, type QueueChange } from './search.js';

/** A change the gate rejected. */
export interface Rejected {
  id: string;
  /** The stage its probe failed in. */
  stage?: string;
  reason: string;
}

/** The outcome of a gate run. */
export interface GateResult {
  merged: string[];
  rejected: Rejected[];
  probes: ProbeRecord[];
  runs: number;
}

/** Options of {@link gateQueue}. */
export interface GateOptions {
  /** Changes tested at once (the speculative window). @default 1 */
  jobs?: number;
  /** Results kept from an earlier gate run, by set of ids (`--retry` keeps all but one change's). */
  known?: ReadonlyMap<string, ProbeRecord>;
  signal?: AbortSignal;
}

/** The key of a set of applied changes in {@link GateOptions.known}. */
export const setKey = (ids: readonly string[]): string => ids.join(' ');

/** Gates the queue: which changes merge and which are rejected, in queue order. */
export async function gateQueue(changes: readonly QueueChange[], probe: Probe, opts: GateOptions = {}): Promise<GateResult> {
  const deps = dependents(changes);
  const jobs = Math.max(1, opts.jobs ?? 1);
  const probes: ProbeRecord[] = [];
  const cache = new Map<string, Promise<ProbeRecord>>();
  for (const [k, rec] of opts.known ?? []) cache.set(k, Promise.resolve(rec));
  const accepted: number[] = [];
  const merged: string[] = [];
  const rejected: Rejected[] = [];
  const decided = new Set<number>();

  const test = (applied: number[]): Promise<ProbeRecord> => {
    const ids = applied.map((i) => changes[i]!.id);
    const key = setKey(ids);
    let p = cache.get(key);
    if (!p) {
      opts.signal?.throwIfAborted();
      p = (async () => {
        let r = await probe(applied);
        if (r.status === 'untestable') r = await probe(applied);
        const rec: ProbeRecord = { ...r, applied: ids, run: probes.length + 1 };
        probes.push(rec);
        return rec;
      })();
      cache.set(key, p);
    }
    return p;
  };
  const reject = (i: number, why: Omit<Rejected, 'id'>): void => {
    decided.add(i);
    rejected.push({ id: changes[i]!.id, ...why });
    for (const d of deps.get(i) ?? []) {
      if (decided.has(d)) continue;
      decided.add(d);
      rejected.push({ id: changes[d]!.id, reason: `depends on ${changes[i]!.id}, which was rejected` });
    }
  };

  while (decided.size < changes.length) {
    const window: number[] = [];
    for (let i = 0; i < changes.length && window.length < jobs; i++) if (!decided.has(i)) window.push(i);
    // Each change of the window on top of what merged and the window's changes ahead of it.
    const runs = window.map((i, k) => test([...accepted, ...window.slice(0, k), i].sort((a, b) => a - b)));
    for (const [k, i] of window.entries()) {
      const r = await runs[k]!;
      if (r.status === 'pass') {
        decided.add(i);
        accepted.push(i);
        merged.push(changes[i]!.id);
        continue;
      }
      reject(i, r.status === 'untestable'
        ? { reason: `could not be tested (twice): ${r.message ?? 'the lab or a tool could not be had'}` }
        : { ...(r.stage ? { stage: r.stage } : {}), reason: `stage '${r.stage ?? '?'}' failed${r.message ? `: ${r.message}` : ''}` });
      break; // the changes behind it were tested with it in: test them again without it
    }
    await Promise.allSettled(runs);
  }
  const order = new Map(changes.map((c, i) => [c.id, i]));
  rejected.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { merged, rejected, probes, runs: probes.length };
}
