/**
 * Benchmark 5, start-up: `node bin/harness --help` against `node -e 0`, interleaved, quoted as the
 * median of the paired ratios. Goal <= 3x. When it falls short: a CPU profile of `--help` by
 * package and an import-by-import probe say what is slow.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeJson, timeCommand } from './proc.js';
import { summarizeProfile } from './profile.js';
import { formatMs, formatRatio, pairedRatio, summarize } from './stats.js';
import type { ProbeResult } from './startup-probe.js';
import { overall, type BenchContext, type BenchResult, type Row } from './result.js';

const GOAL = 3;

/** Runs the start-up benchmark; see the module comment. */
export async function benchStartup(ctx: BenchContext): Promise<BenchResult> {
  const t0 = performance.now();
  const harness = path.join(ctx.root, 'bin', 'harness');
  const pairs = ctx.quick ? 15 : 40;
  ctx.log(`startup: ${pairs} interleaved pairs of node -e 0 / harness --help`);
  for (let i = 0; i < 2; i++) {
    await timeCommand(process.execPath, ['-e', '0'], { signal: ctx.signal });
    await timeCommand(process.execPath, [harness, '--help'], { signal: ctx.signal });
  }
  const bare: number[] = [];
  const help: number[] = [];
  for (let i = 0; i < pairs; i++) {
    bare.push((await timeCommand(process.execPath, ['-e', '0'], { signal: ctx.signal })).ms);
    const t = await timeCommand(process.execPath, [harness, '--help'], { signal: ctx.signal });
    if (t.code !== 0) throw new Error(`bench: harness --help exited ${t.code ?? t.signal}`);
    help.push(t.ms);
  }
  const floor: number[] = [];
  const floorBare: number[] = [];
  const floorScript = path.join(ctx.root, 'dist', 'bench', 'yargs-floor.js');
  for (let i = 0; i < Math.ceil(pairs / 2); i++) {
    floorBare.push((await timeCommand(process.execPath, ['-e', '0'], { signal: ctx.signal })).ms);
    floor.push((await timeCommand(process.execPath, [floorScript, '--help'], { signal: ctx.signal })).ms);
  }
  const ratio = pairedRatio(help, bare);
  const floorRatio = pairedRatio(floor, floorBare);
  const rows: Row[] = [
    { what: '`harness --help` / `node -e 0`', figure: formatRatio(ratio, 2), goal: `<= ${GOAL}x`, verdict: ratio.median <= GOAL ? 'met' : 'missed' },
    { what: '`node -e 0`', figure: formatMs(summarize(bare), 1) },
    { what: '`harness --help`', figure: formatMs(summarize(help), 1) },
    { what: 'floor with lazy handlers: yargs + 10 commands importing nothing (dist/bench/yargs-floor.js --help) / `node -e 0`', figure: `${formatRatio(floorRatio, 2)}; ${formatMs(summarize(floor), 1)}` },
  ];
  const data: Record<string, unknown> = { bareMs: bare, helpMs: help, ratio, floorMs: floor, floorBareMs: floorBare, floorRatio };
  const notes: string[] = ['Both spawned by the benchmark with output to /dev/null; `node bin/harness --help` (the bin is `#!/usr/bin/env node`).'];
  const probe = await nodeJson<ProbeResult>(path.join(ctx.root, 'dist', 'bench', 'startup-probe.js'), [], { signal: ctx.signal });
  data.probe = probe;
  const top = [...probe.imports].sort((a, b) => b.ms - a.ms).slice(0, 6);
  rows.push({ what: 'imports behind `--help`, slowest first (each with the dependencies it loads first)', figure: top.map((i) => `${i.module} ${i.ms.toFixed(0)} ms`).join(', ') });
  rows.push({ what: 'CommonJS packages loaded by `--help` (files)', figure: Object.entries(probe.cjsPackages).sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${n}`).join(', ') });
  if (ratio.median > GOAL) {
    const dir = path.join(ctx.tmp, 'cpu-prof');
    mkdirSync(dir, { recursive: true });
    await timeCommand(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, harness, '--help'], { signal: ctx.signal });
    const prof = summarizeProfile(dir, 8);
    data.profile = prof;
    rows.push({ what: 'CPU profile of `--help` by file/package (self time)', figure: prof.files.map((f) => `${f.name} ${f.ms.toFixed(0)} ms`).join(', ') });
  }
  return { id: 'startup', title: 'Start-up: harness --help vs node -e 0', verdict: overall(rows), rows, notes, data, seconds: (performance.now() - t0) / 1000 };
}
