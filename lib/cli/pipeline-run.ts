import path from 'node:path';
import type { CliIO } from './io.js';
import { InputError } from '../errors.js';
import type { RunOptions } from '../engine/run.js';

/**
 * `harness run PIPELINE.yml` and `harness run a.yml b.yml ...` (a one-step pipeline of those
 * scenarios): loads everything first (bad input writes nothing), runs the pipeline with the
 * console, and prints each job's end and where the results are. Exit: the worst voting job's.
 */
export async function runPipelineCli(files: string[], args: Record<string, unknown>, options: Omit<RunOptions, 'out'>, io: CliIO): Promise<number> {
  for (const flag of ['resume', 'from', 'until', 'job'] as const) {
    if (args[flag] !== undefined) throw new InputError(`--${flag} goes with one scenario; a pipeline names its jobs in its file (job: [LEAF...])`);
  }
  const { loadPipeline, isPipelineFile, pipelineOf } = await import('../pipeline/load.js');
  const { runPipeline } = await import('../pipeline/run.js');
  const { withConsoleRun } = await import('./run-io.js');
  const { parseExtraVars } = await import('./extra-vars.js');
  const { formatDuration } = await import('../util/duration.js');
  const extraVars = parseExtraVars(args.extraVar as string | string[] | undefined);
  let pipeline;
  if (files.length === 1) pipeline = await loadPipeline(files[0]!);
  else {
    const { loadScenario } = await import('../scenario/index.js');
    const scenarios = [];
    for (const f of files) {
      if (await isPipelineFile(f)) throw new InputError(`${f} is a pipeline file: run it alone (harness run ${f}); list its scenarios in it instead`);
      scenarios.push(await loadScenario(f));
    }
    pipeline = pipelineOf(scenarios);
  }
  const { jobs: _jobs, ...rest } = options;
  const result = await withConsoleRun(io, (console) =>
    runPipeline(pipeline, {
      ...console,
      ...rest,
      extraVars,
      out: args.out as string | undefined,
      onJob: (j, phase) => {
        if (phase === 'start') io.out(`harness: step ${j.step}: job ${j.id} (${j.file}${j.jobs.length ? ` --job ${j.jobs.join(' --job ')}` : ''}${j.voting ? '' : ', non-voting'}) started\n`);
        else io.out(`harness: step ${j.step}: job ${j.id} ${j.status}${j.reason ? `: ${j.reason}` : ''} (${formatDuration(j.durationMs ?? 0)})\n`);
      },
    }),
  );
  io.out(`\npipeline ${pipeline.name}: ${result.status}\n`);
  for (const j of result.jobs) io.out(`  ${j.status.padEnd(11)} ${j.id}${j.voting ? '' : ' (non-voting)'}${j.status === 'skipped' && j.reason ? `: ${j.reason}` : ''}\n`);
  const rel = path.relative(process.cwd(), result.runDir);
  io.out(`results: ${!rel || rel.startsWith('..') ? result.runDir : rel}/ (pipeline.json, junit.xml, <step>/<job>/ each a run directory)\n`);
  return result.exitCode;
}
