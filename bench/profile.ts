/** Summing up a V8 .cpuprofile (from `node --cpu-prof`): where the self time went, by function and by file. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One line of a profile summary: a function or a file, its self time and share. */
export interface ProfileEntry {
  name: string;
  ms: number;
  share: number;
}

/** The top self-time functions and files of a profile. */
export interface ProfileSummary {
  totalMs: number;
  functions: ProfileEntry[];
  files: ProfileEntry[];
}

/** Shortens a script URL: `yargs/build/lib/yargs-factory.js`, `dist/lib/report/junit.js`, `node:internal/...`. */
export function shortUrl(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Reads the one .cpuprofile in `dir` and sums self time per function and per file (top `top` of each). */
export function summarizeProfile(dir: string, top = 12): ProfileSummary {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`bench: no .cpuprofile in ${dir}`);
  const prof = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const url = shortUrl(n.callFrame.url);
    const name = `${n.callFrame.functionName || '(anonymous)'} ${url}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
    const pkg = n.callFrame.url.includes('/node_modules/') ? url.split('/')[0]! : url;
    files.set(pkg, (files.get(pkg) ?? 0) + ms);
    total += ms;
  }
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms * 10) / 10, share: Math.round((ms / total) * 1000) / 10 }));
  return { totalMs: Math.round(total), functions: rank(fn), files: rank(files) };
}

/**
 * Busy (not idle) main-thread time of the profile in `dir`, split at the epoch times `cuts`
 * (ms): segment 0 is before cuts[0], segment i between cuts[i-1] and cuts[i], the last after
 * the last cut. The profile's clock is mapped to the epoch by its end, which is `endEpochMs`.
 */
export function busyBySegment(dir: string, endEpochMs: number, cuts: readonly number[]): number[] {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`bench: no .cpuprofile in ${dir}`);
  const prof = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const idle = new Set(prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const out = new Array<number>(cuts.length + 1).fill(0);
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    const delta = prof.timeDeltas[i] ?? 0;
    t += delta;
    if (idle.has(prof.samples[i]!)) continue;
    const epoch = endEpochMs - (prof.endTime - t) / 1000;
    let seg = cuts.findIndex((c) => epoch < c);
    if (seg < 0) seg = cuts.length;
    out[seg]! += delta / 1000;
  }
  return out.map((ms) => Math.round(ms));
}
