/**
 * The change-queue simulator (issue 15): thousands of random queues run through the same search
 * code as `harness bisect`, with a fake probe (no Ansible): N changes, k real culprits, a flake
 * rate, infrastructure errors, reverts and dependencies. It reports accuracy (exactly the right
 * culprits, no false ones) and runs used, for the harness's search and for plain bisection
 * (no confirmation, no flake handling: what oVirt and git do) on the same queues.
 * A second table runs the n-ary search (`--jobs J`: J probes a round, each on a lab of its own)
 * on the same kind of queues: rounds (the wall time, one probe long each) against probes (the
 * machine time), for J = 1, 2, 4, 8.
 * Usage: node dist/bench/queue-sim.js [--queues 2000] [--seed 1] [--jobs-queues 600]
 */
import { findCulprits, type Probe, type QueueChange } from '../lib/queue/search.js';

interface Case {
  n: number;
  culprits: number[];
  flake: number;
  infra: number;
  revert?: { of: number; at: number };
}

/** A seeded PRNG (LCG), so every figure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

function probeFor(c: Case, rand: () => number): Probe {
  return async (applied) => {
    if (rand() < c.infra) return { status: 'untestable' };
    const has = new Set(applied.map((i) => i + 1));
    if (c.revert && has.has(c.revert.at) && !has.has(c.revert.of)) return { status: 'fail', stage: 'apply' };
    const broken = c.culprits.some((b) => has.has(b) && !(c.revert?.of === b && has.has(c.revert.at)));
    if (broken) return { status: 'fail', stage: 'test' };
    return rand() < c.flake ? { status: 'fail', stage: 'test' } : { status: 'pass' };
  };
}

interface Tally {
  queues: number;
  exact: number;
  falseCulprit: number;
  missed: number;
  runs: number[];
  overBound: number;
}

/** A probe counting rounds: a round starts when a probe starts with none running. */
function counted(p: Probe): { probe: Probe; rounds: () => number } {
  let running = 0;
  let rounds = 0;
  return {
    probe: async (a) => {
      if (running++ === 0) rounds++;
      await Promise.resolve(); // the probes of a round all start before any ends
      try {
        return await p(a);
      } finally {
        running--;
      }
    },
    rounds: () => rounds,
  };
}

const newTally = (): Tally => ({ queues: 0, exact: 0, falseCulprit: 0, missed: 0, runs: [], overBound: 0 });

async function main(): Promise<void> {
  const arg = (name: string, d: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const queues = arg('queues', 2000);
  const rand = rng(arg('seed', 1));
  const groups = new Map<string, { ours: Tally; plain: Tally }>();
  const t0 = Date.now();
  for (let q = 0; q < queues; q++) {
    const n = [8, 32, 128, 500][Math.floor(rand() * 4)]!;
    const flake = [0, 0, 0.1, 0.3][Math.floor(rand() * 4)]!;
    const k = [0, 1, 1, 2, 3][Math.floor(rand() * 5)]!;
    const culprits = [...new Set(Array.from({ length: k }, () => 1 + Math.floor(rand() * n)))].sort((a, b) => a - b);
    const c: Case = { n, culprits, flake, infra: rand() < 0.2 ? 0.02 : 0 };
    if (k === 0 && flake === 0) continue; // a queue that passes is not bisected
    const changes: QueueChange[] = Array.from({ length: n }, (_, i) => ({ id: `c${i + 1}` }));
    const key = `flake ${flake * 100}%, k=${k}`;
    const g = groups.get(key) ?? { ours: newTally(), plain: newTally() };
    groups.set(key, g);
    for (const [tally, opts] of [[g.ours, { confirm: flake > 0 ? 2 : 1 }], [g.plain, { confirm: 0, detectFixes: false }]] as const) {
      const r = await findCulprits(changes, probeFor(c, rng(q * 7919 + 1)), opts);
      if (process.env.SIM_DEBUG && r.runs > 1000) console.log(JSON.stringify({ c, opts, culprits: r.culprits, flakes: r.flakes.length, probes: r.probes.slice(0, 60).map((p) => `${p.applied.length}${p.status[0]}`).join(" ") }));
      // A culprit reported as a range of candidates (skipped probes) counts for every change in it.
      const found = new Set(r.culprits.flatMap((x) => (x.candidates ?? [x.id]).map((id) => Number(id.slice(1)))));
      tally.queues++;
      tally.runs.push(r.runs);
      const falseOnes = r.culprits.filter((x) => !(x.candidates ?? [x.id]).some((id) => culprits.includes(Number(id.slice(1))))).length;
      const missed = culprits.filter((x) => !found.has(x)).length;
      if (!falseOnes && !missed) tally.exact++;
      if (falseOnes) tally.falseCulprit++;
      if (missed) tally.missed++;
      // The bound: k·(⌈log₂N⌉+1)+1, plus the confirmation runs and (harness) fix detection's 2 a culprit.
      const extra = k * (opts.confirm + ('detectFixes' in opts ? 0 : 2));
      if (flake === 0 && c.infra === 0 && r.runs > Math.max(1, k) * (Math.ceil(Math.log2(n)) + 1) + 1 + extra) tally.overBound++;
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const pct = (a: number, b: number): string => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;
  console.log(`queue simulator: ${queues} random queues (N 8-500), seed ${arg('seed', 1)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log('| queues | search | n | exact | false culprit | missed | runs (median / max) | over the bound |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [key, g] of [...groups].sort()) {
    for (const [name, t] of [['harness', g.ours], ['plain bisection', g.plain]] as const) {
      console.log(`| ${key} | ${name} | ${t.queues} | ${pct(t.exact, t.queues)} | ${pct(t.falseCulprit, t.queues)} | ${pct(t.missed, t.queues)} | ${median(t.runs)} / ${Math.max(...t.runs)} | ${t.overBound} |`);
    }
  }
  await nary(arg('jobs-queues', 600), arg('seed', 1));
}

/** The n-ary search: rounds and probes by --jobs, on random queues with one or two culprits. */
async function nary(queues: number, seed: number): Promise<void> {
  const rand = rng(seed + 1);
  const JOBS = [1, 2, 4, 8];
  type Row = { rounds: number[]; probes: number[]; exact: number; n: number };
  const rows = new Map<string, Row>();
  const t0 = Date.now();
  for (let q = 0; q < queues; q++) {
    const n = [32, 128, 500][Math.floor(rand() * 3)]!;
    const flake = [0, 0.1][Math.floor(rand() * 2)]!;
    const k = 1 + Math.floor(rand() * 2);
    const culprits = [...new Set(Array.from({ length: k }, () => 1 + Math.floor(rand() * n)))].sort((a, b) => a - b);
    const c: Case = { n, culprits, flake, infra: 0 };
    const changes: QueueChange[] = Array.from({ length: n }, (_, i) => ({ id: `c${i + 1}` }));
    for (const jobs of JOBS) {
      const key = `${String(n).padStart(3)} | ${flake * 100}% | ${jobs}`;
      const row = rows.get(key) ?? { rounds: [], probes: [], exact: 0, n: 0 };
      rows.set(key, row);
      const p = counted(probeFor(c, rng(q * 7919 + 1)));
      const r = await findCulprits(changes, p.probe, { confirm: flake > 0 ? 2 : 0, jobs });
      const found = r.culprits.map((x) => Number(x.id.slice(1))).sort((a, b) => a - b);
      row.n++;
      if (found.join() === culprits.join()) row.exact++;
      row.rounds.push(p.rounds());
      row.probes.push(r.runs);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const mean = (xs: number[]): string => (xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)).toFixed(1);
  console.log(`\nn-ary search (--jobs J): ${queues} random queues, 1-2 culprits, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log('| N | flakes | jobs | queues | exact | rounds (mean / median / max) | probes (mean / median / max) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [key, r] of [...rows].sort()) {
    console.log(`| ${key} | ${r.n} | ${((100 * r.exact) / r.n).toFixed(1)}% | ${mean(r.rounds)} / ${median(r.rounds)} / ${Math.max(...r.rounds)} | ${mean(r.probes)} / ${median(r.probes)} / ${Math.max(...r.probes)} |`);
  }
}

await main();
