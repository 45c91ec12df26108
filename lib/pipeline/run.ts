/**
 * Runs a pipeline: its steps in order, the jobs of a step at once on at most `--jobs N` labs in
 * all (a job takes one lab to start; its tree's further branches get a lab only when one is to
 * spare, as the tree scheduler does within one run), a failing voting job stops the later steps.
 * Each job is one `runScenario` with its run directory inside the pipeline's
 * (`<top>/<step>/<job>/`); nodes several jobs share (same key) are checkpointed and built once:
 * the first to reach one claims it, the others wait and restore it (lib/checkpoint/claim.ts).
 * The pipeline's own files: `pipeline.json` (its manifest) and a merged `junit.xml`.
 */
import path from 'node:path';
import { EXIT, exitCodeOf, HarnessError, InputError } from '../errors.js';
import { newRunId } from '../rundir.js';
import { createFreshDir } from '../engine/rundir.js';
import { runScenario, type RunOptions } from '../run.js';
import { sharedKeys } from '../engine/shared.js';
import { findAnsible } from '../ansible/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatDuration } from '../util/duration.js';
import { writePipelineJunit } from './junit.js';
import type { Pipeline, PipelineJob } from './load.js';
import type { PipelineJobResult, PipelineManifest } from './manifest.js';

export type { PipelineJobResult, PipelineManifest } from './manifest.js';

/** Options of {@link runPipeline}: those of every job's run, and the pipeline's own. */
export interface PipelineRunOptions extends Omit<RunOptions, 'out' | 'jobs' | 'sharedKeys' | 'labBudget' | 'from' | 'until' | 'provider' | 'providerFactory'> {
  /** The pipeline's run directory. @default runs/<pipeline>/<run id> */
  out?: string;
  /** Called when a job starts and ends (the CLI prints a line). */
  onJob?: (job: PipelineJobResult, phase: 'start' | 'end') => void;
}

/** The outcome of a pipeline run. */
export interface PipelineResult {
  runId: string;
  runDir: string;
  status: PipelineManifest['status'];
  exitCode: number;
  reason?: string;
  jobs: PipelineJobResult[];
}

/** `--jobs N` labs shared by a step's jobs. */
class LabPool {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}
  async take(): Promise<void> {
    while (this.free === 0) await new Promise<void>((r) => this.waiters.push(r));
    this.free--;
  }
  tryTake(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }
  give(n: number): void {
    this.free += n;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A console writer that prefixes each whole line with `[job]` (jobs of a step write at once). */
function prefixed(write: ((t: string) => void) | undefined, prefix: string): { write?: (t: string) => void; flush: () => void } {
  if (!write) return { flush: () => {} };
  let rest = '';
  return {
    write: (t) => {
      const lines = (rest + t).split('\n');
      rest = lines.pop()!;
      if (lines.length) write(lines.map((l) => `${prefix}${l}\n`).join(''));
    },
    flush: () => {
      if (rest) write(`${prefix}${rest}\n`);
      rest = '';
    },
  };
}

/** The pipeline's run directory: `out` (must not exist or be empty) or runs/<name>/<run id>. */
function createTop(name: string, out: string | undefined, runId: string): Promise<string> {
  return createFreshDir(path.resolve(out ?? path.join('runs', name, runId)));
}

/** The worst exit code: an interruption over everything, else the highest. */
function worst(codes: number[]): number {
  return codes.includes(EXIT.interrupted) ? EXIT.interrupted : Math.max(EXIT.ok, ...codes);
}

/**
 * Runs `pipeline` (see the file comment). Bad input and missing tools throw before anything is
 * written; a job that fails to start (its lab, a crash) is that job's error, not the pipeline's end.
 */
export async function runPipeline(pipeline: Pipeline, opts: PipelineRunOptions = {}): Promise<PipelineResult> {
  const parallel = Math.max(1, opts.parallel ?? 1);
  const cli = opts.extraVars ?? {};
  const varsOf = (j: PipelineJob) => ({ ...j.vars, ...cli });
  const all = pipeline.steps.flatMap((s) => s.jobs);
  const checkpoints = opts.checkpoints ?? true;
  if (!checkpoints) await findAnsible({ env: opts.env ?? process.env }); // a missing tool writes nothing (sharedKeys finds it otherwise)
  const shared = checkpoints ? await sharedKeys(all.map((j) => ({ scenario: j.scenario, extraVars: varsOf(j), jobs: j.jobs })), { env: opts.env }) : new Set<string>();
  const runId = newRunId();
  const top = await createTop(pipeline.name, opts.out, runId);
  const t0 = Date.now();
  const manifest: PipelineManifest = {
    version: 1, kind: 'pipeline', pipeline: { name: pipeline.name, file: pipeline.file, description: pipeline.description }, runId,
    startedAt: new Date(t0).toISOString(), status: 'running', options: { parallel, checkpoints }, ...(opts.command ? { command: opts.command } : {}),
    steps: pipeline.steps.map((s) => ({
      name: s.name, status: 'pending' as const,
      jobs: s.jobs.map((j) => ({ id: j.id, step: s.name, scenario: j.scenario.name, file: j.scenario.file, jobs: j.jobs, voting: j.voting, status: 'skipped' as const, reason: 'not reached' })),
    })),
  };
  const save = () => writeFileAtomic(path.join(top, 'pipeline.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await save();
  let stopped: string | undefined;
  let crash: unknown;
  for (const [si, step] of pipeline.steps.entries()) {
    const results = manifest.steps[si]!.jobs;
    if (stopped || opts.signal?.aborted) {
      const why = opts.signal?.aborted ? 'the pipeline was interrupted' : stopped!;
      for (const r of results) Object.assign(r, { status: 'skipped', reason: why });
      manifest.steps[si]!.status = 'skipped';
      continue;
    }
    const pool = new LabPool(parallel);
    const together = parallel > 1 && step.jobs.length > 1;
    const running: Promise<void>[] = [];
    for (const [ji, job] of step.jobs.entries()) {
      await pool.take();
      const r = results[ji]!;
      if (opts.signal?.aborted) {
        pool.give(1);
        Object.assign(r, { status: 'skipped', reason: 'the pipeline was interrupted' });
        continue;
      }
      let taken = 1;
      const out = prefixed(opts.write, together ? `[${job.id}] ` : '');
      const started = Date.now();
      Object.assign(r, { status: 'running', reason: undefined, runDir: job.id, startedAt: new Date(started).toISOString() });
      opts.onJob?.(r, 'start');
      const run = runScenario(job.scenario, {
        ...opts,
        write: out.write,
        out: path.join(top, job.id),
        jobs: job.jobs,
        extraVars: varsOf(job),
        sharedKeys: shared,
        parallel,
        labBudget: () => pool.tryTake() && ++taken > 0,
      })
        .then((res) => Object.assign(r, { status: res.status, exitCode: res.exitCode, reason: res.reason }))
        .catch((err: unknown) => {
          if (!(err instanceof HarnessError)) crash ??= err;
          const why = err instanceof Error ? err.message : String(err);
          out.write?.(`harness: job ${job.id}: ${why}\n`);
          Object.assign(r, { status: 'error', exitCode: exitCodeOf(err), reason: why });
          if (err instanceof InputError) delete r.runDir; // nothing was written
        })
        .finally(() => {
          out.flush();
          pool.give(taken);
          r.durationMs = Date.now() - started;
          opts.onJob?.(r, 'end');
        });
      running.push(run.then(() => {}));
    }
    await Promise.all(running);
    const failed = results.find((r) => r.voting && r.status !== 'passed' && r.status !== 'skipped');
    manifest.steps[si]!.status = failed ? 'failed' : 'passed';
    if (failed) stopped = `step '${step.name}': voting job ${failed.id} ${failed.status === 'failed' ? 'failed' : `ended ${failed.status}`}`;
    await save();
  }
  const jobs = manifest.steps.flatMap((s) => s.jobs);
  const counted = jobs.filter((j) => j.exitCode !== undefined && (j.voting || j.exitCode === EXIT.interrupted)).map((j) => j.exitCode!);
  const exitCode = opts.signal?.aborted ? EXIT.interrupted : worst(counted);
  manifest.status = exitCode === EXIT.ok ? 'passed' : exitCode === EXIT.interrupted ? 'interrupted' : exitCode === EXIT.stageFailed ? 'failed' : 'error';
  manifest.exitCode = exitCode;
  if (stopped) manifest.reason = stopped;
  manifest.endedAt = new Date().toISOString();
  await writePipelineJunit(top, pipeline.name, jobs, (Date.now() - t0) / 1000);
  await save();
  opts.write?.(`harness: pipeline ${pipeline.name} ${manifest.status} in ${formatDuration(Date.now() - t0)}${stopped ? ` (${stopped}: later steps skipped)` : ''}\n`);
  if (crash !== undefined) throw crash;
  return { runId, runDir: top, status: manifest.status, exitCode, ...(stopped ? { reason: stopped } : {}), jobs };
}
