/**
 * Counting results as Ansible's PLAY RECAP does: what one host result adds to the buckets (ok,
 * changed, unreachable, failed, skipped, rescued, ignored), and which results are failures.
 */
import type { EventOf, HostStats } from '../model/events.js';

/** The recap's buckets, in its order. */
export const RECAP_KEYS = ['ok', 'changed', 'unreachable', 'failures', 'skipped', 'rescued', 'ignored'] as const;

/** Totals bucket by bucket. */
export type Recap = HostStats;

/** All buckets at 0. */
export function emptyRecap(): Recap {
  return { ok: 0, changed: 0, unreachable: 0, failures: 0, skipped: 0, rescued: 0, ignored: 0 };
}

/** Adds `b` into `a`. */
export function addRecap(a: Recap, b: Partial<Recap>): void {
  for (const k of RECAP_KEYS) a[k] += b[k] ?? 0;
}

/**
 * What a task's own result (not a loop item's) adds to its host's recap: what the callback saw
 * Ansible's stats gain, else the same rules (an ignored failure is ok + ignored, and changed if it
 * changed; an ignored unreachable is ok + ignored; a rescued failure is rescued only).
 */
export function resultCounts(e: EventOf<'host_result'>): Partial<Recap> {
  if (e.item !== undefined) return {};
  if (e.counts) return e.counts;
  const changed = e.result?.changed === true ? 1 : 0;
  switch (e.status) {
    case 'ok':
      return { ok: 1 };
    case 'changed':
      return { ok: 1, changed: 1 };
    case 'skipped':
      return { skipped: 1 };
    case 'unreachable':
      return e.ignored ? { ok: 1, ignored: 1 } : { unreachable: 1 };
    case 'failed':
      if (e.ignored) return { ok: 1, ignored: 1, changed };
      return e.rescued ? { rescued: 1 } : { failures: 1 };
  }
}

/** The result is a failure of its task, as Ansible's exit code sees it (not ignored, not rescued). */
export function isFailure(e: { status: string; ignored?: boolean; rescued?: boolean }): boolean {
  return (e.status === 'failed' || e.status === 'unreachable') && !e.ignored && !e.rescued;
}

/** `12 ok, 3 changed, 0 unreachable, 1 failed, 2 skipped, 0 rescued, 1 ignored`: the recap's words. */
export function formatRecap(r: Recap): string {
  return RECAP_KEYS.map((k) => `${r[k]} ${k === 'failures' ? 'failed' : k}`).join(', ');
}
