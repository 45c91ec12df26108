/**
 * `npm run bench [-- --quick] [-- --only overhead,events,model,checkpoints,startup,tree,vm,store]`: runs the
 * benchmarks one after another (never two at once), writes bench/results/<date>[-quick].json and
 * rewrites the generated table of BENCHMARKS.md.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../lib/util/atomic.js';
import { describeMachine } from './machine.js';
import { updateBenchmarksMd } from './markdown.js';
import type { BenchContext, BenchResult } from './result.js';

/** The package root: dist/bench/run.js → ../.. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type Bench = (ctx: BenchContext) => Promise<BenchResult>;

/** The benchmarks in the order they run; each module is imported only when it runs. */
const BENCHES: [string, () => Promise<Bench>][] = [
  ['startup', async () => (await import('./startup.js')).benchStartup],
  ['model', async () => (await import('./model.js')).benchModel],
  ['events', async () => (await import('./events.js')).benchEvents],
  ['overhead', async () => (await import('./overhead.js')).benchOverhead],
  ['checkpoints', async () => (await import('./checkpoints.js')).benchCheckpoints],
  ['tree', async () => (await import('./tree.js')).benchTree],
  ['vm', async () => (await import('./vm.js')).benchVm],
  ['store', async () => (await import('./store.js')).benchStore],
];

/** The whole bench run as written to bench/results/. */
export interface BenchRun {
  date: string;
  mode: 'quick' | 'full';
  machine: ReturnType<typeof describeMachine>;
  /** Load averages when the last benchmark ended. */
  loadAtEnd: number[];
  seconds: number;
  results: BenchResult[];
}

const USAGE = 'npm run bench -- [--quick] [--only NAME,...] [--no-md]\n';

function parseArgs(argv: string[]): { quick: boolean; only?: Set<string>; noMd: boolean; help: boolean } {
  let quick = false;
  let help = false;
  let noMd = false;
  let only: Set<string> | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--no-md') noMd = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      only = new Set((value ?? '').split(',').filter(Boolean));
      const unknown = [...only].filter((n) => !BENCHES.some(([name]) => name === n));
      if (unknown.length) throw new Error(`bench: unknown benchmark(s) ${unknown.join(', ')}; choose from ${BENCHES.map(([n]) => n).join(', ')}`);
    } else if (a === '--help' || a === '-h') help = true;
    else throw new Error(`bench: unknown option ${a}; use --quick, --only NAME,... or --no-md`);
  }
  return { quick, only, noMd, help };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const t0 = performance.now();
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'harness-bench-'));
  const machine = describeMachine();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(`bench: ${args.quick ? 'quick' : 'full'} mode on ${machine.cpuModel} x${machine.cores}, load ${machine.loadAtStart.join(' ')}; scratch ${tmp}`);
  const results: BenchResult[] = [];
  try {
    for (const [name, load] of BENCHES) {
      if (args.only && !args.only.has(name)) continue;
      if (stop.signal.aborted) break;
      const bench = await load();
      const ctx: BenchContext = { quick: args.quick, root: ROOT, tmp: path.join(tmp, name), log, signal: stop.signal };
      mkdirSync(ctx.tmp, { recursive: true });
      const result = await bench(ctx);
      results.push(result);
      log(`bench: ${name}: ${result.verdict} (${result.seconds.toFixed(1)} s)`);
      for (const r of result.rows) log(`  ${r.what}: ${r.figure}${r.goal ? ` [goal ${r.goal}: ${r.verdict}]` : ''}`);
    }
  } catch (err) {
    log(`bench: failed; its scratch folder is kept for inspection: ${tmp}`);
    throw err;
  }
  rmSync(tmp, { recursive: true, force: true });
  const now = new Date();
  const run: BenchRun = {
    date: now.toISOString(),
    mode: args.quick ? 'quick' : 'full',
    machine,
    loadAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    seconds: (performance.now() - t0) / 1000,
    results,
  };
  const file = path.join(ROOT, 'bench', 'results', `${now.toISOString().slice(0, 10)}${args.quick ? '-quick' : ''}${args.only ? `-${[...args.only].join('+')}` : ''}.json`);
  await writeFileAtomic(file, `${JSON.stringify(run, null, 2)}\n`);
  log(`bench: results in ${path.relative(process.cwd(), file)} (${run.seconds.toFixed(0)} s in all)`);
  if (!args.noMd && !args.only) {
    await updateBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), run, path.relative(ROOT, file));
    log('bench: BENCHMARKS.md updated');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
