import { cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { harness, type CliResult } from './cli.js';
import { readJournal } from '../../lib/report/index.js';

/** The package gating example (examples/package-gating and its scenario files), for the tests of it. */
export const EXAMPLE = path.join(PACKAGE_ROOT, 'examples', 'package-gating');

/**
 * A copy of the example in `dir` with the repository's layout (`scenarios/`, `examples/package-gating/`),
 * so a test can change the package's source without touching the checkout. Returns the scenario file.
 */
export async function copyExample(dir: string, scenario = 'package-gating.yml'): Promise<string> {
  await mkdir(path.join(dir, 'scenarios'), { recursive: true });
  await cp(EXAMPLE, path.join(dir, 'examples', 'package-gating'), { recursive: true });
  await cp(path.join(PACKAGE_ROOT, 'scenarios', scenario), path.join(dir, 'scenarios', scenario));
  return path.join(dir, 'scenarios', scenario);
}

/** One `harness run` of the example: the CLI result, the journal's stage statuses and reasons. */
export interface GatingRun {
  r: CliResult;
  out: string;
  seconds: number;
  status: Record<string, string>;
  reason: Record<string, string | undefined>;
  ended: Record<string, number>;
}

export async function runGating(scenario: string, out: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 1_200_000): Promise<GatingRun> {
  const t0 = Date.now();
  const r = await harness(['run', scenario, '--out', out, ...args], { env, timeoutMs });
  const seconds = (Date.now() - t0) / 1000;
  const journal = await readJournal(path.join(out, 'journal.json'));
  const status = Object.fromEntries(journal.stages.map((s) => [s.name, s.status]));
  const reason = Object.fromEntries(journal.stages.map((s) => [s.name, s.reason]));
  const ended = Object.fromEntries(journal.stages.filter((s) => s.ended).map((s) => [s.name, Date.parse(s.ended!)]));
  return { r, out, seconds, status, reason, ended };
}

/** The package list the `repository` stage kept (`name version path sha256` lines). */
export async function packageList(out: string): Promise<string> {
  return readFile(path.join(out, 'stages', '03-repository', 'outputs', 'packages.txt'), 'utf8');
}
