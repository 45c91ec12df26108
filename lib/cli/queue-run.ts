/**
 * What `harness bisect` and `harness gate` share: `run`'s options applied to every probe, the
 * output folder, and running a search with Ctrl-C wired (the probes still running are waited
 * for, so every worktree and lab is gone, and the document is written with the probes that ran).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Argv } from 'yargs';
import { InputError } from '../errors.js';
import { newRunId } from '../rundir.js';
import type { Scenario } from '../model/index.js';
import type { QueueSource, RealProbe, RealProbeOptions } from '../queue/probe.js';
import type { CliIO } from './io.js';
import { withConsoleRun } from './run-io.js';

/** `run`'s options that every probe takes. */
export function probeOptions(y: Argv): Argv {
  return y
    .option('out', { type: 'string', describe: 'Output folder (default runs/<scenario>/<command>-<id>): the result, junit.xml, report.html, probes/NN/' })
    .option('extra-var', { alias: 'e', type: 'string', requiresArg: true, describe: 'As for run: applied to every probe' })
    .option('checkpoints', { type: 'boolean', default: true, describe: 'Restore and take checkpoints in the probes (--no-checkpoints: neither)' })
    .option('bundle', { type: 'boolean', default: true, describe: "Pack each probe's bundle (--no-bundle: leave the run directories only)" })
    .option('verbose', { alias: 'v', type: 'count', describe: "Ansible's verbosity in the probes: -v to -vvvv" })
    .option('kill-grace', { type: 'number', default: 5, hidden: true });
}

/**
 * What every probe needs before the first one runs: `ansible-playbook` (a LabError, exit 3, with
 * how to install it). A lab that cannot be had stops the search at the second probe (probe.ts).
 */
export async function checkTools(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { findAnsible } = await import('../ansible/index.js');
  await findAnsible({ env });
}

/** `--jobs N`: a whole number from 1 to 64. */
export function jobsArg(args: Record<string, unknown>): number {
  const jobs = args.jobs as number;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new InputError(`--jobs ${String(args.jobs)}: give a whole number from 1 to 64`);
  return jobs;
}

/** The output folder: `--out` (new or empty) or a fresh one under runs/. */
export async function outputFolder(args: Record<string, unknown>, scenario: Scenario, command: string, existing = false): Promise<string> {
  const out = path.resolve((args.out as string | undefined) ?? path.join('runs', scenario.name, `${command}-${newRunId()}`));
  if (!existing && existsSync(out) && readdirSync(out).length) throw new InputError(`--out ${out}: the folder exists and is not empty; name a new one so no earlier result is overwritten`);
  await mkdir(out, { recursive: true });
  return out;
}

/**
 * Runs `search` with a real probe (`extra` carries the parsed `-e`, parsed before anything is written). On any error (Ctrl-C included) the probes still running are
 * waited for and `partial` is written before the error goes on.
 */
export async function runSearch<T>(
  io: CliIO,
  source: QueueSource,
  args: Record<string, unknown>,
  out: string,
  search: (probe: RealProbe, signal: AbortSignal) => Promise<T>,
  partial: () => Promise<void>,
  extra: Partial<RealProbeOptions> = {},
): Promise<T> {
  const { realProbe, QueueInterrupted } = await import('../queue/probe.js');
  return withConsoleRun(io, async (console) => {
    const probe = realProbe(source, {
      out,
      checkpoints: args.checkpoints as boolean,
      bundle: args.bundle as boolean,
      verbosity: Math.min(4, (args.verbose as number | undefined) ?? 0),
      killGraceMs: (args.killGrace as number) * 1000,
      env: console.env,
      signal: console.signal,
      forceSignal: console.forceSignal,
      command: console.command,
      say: (line) => io.out(line),
      ...extra,
    });
    try {
      return await search(probe, console.signal!);
    } catch (err) {
      await probe.settle();
      await partial();
      if (console.signal?.aborted && !(err instanceof QueueInterrupted)) throw new QueueInterrupted(`interrupted (${String(console.signal.reason ?? 'signal')})`);
      throw err;
    }
  });
}
