/**
 * A controller stage (`run: COMMAND`): the command runs in the scenario's folder, in its own
 * process group (lib/stage-run), with the documented environment; its output goes through the
 * same events and log as a playbook's. Exit 0 passes. After each attempt the files its
 * `outputs` globs match in `HARNESS_STAGE_DIR` are kept in the stage folder (`outputs/`, with
 * their digests in `outputs.json`), and its `results` JUnit files are merged into the run's.
 */
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RunEvent, Scenario, Stage, StageStatus, Vars } from '../model/index.js';
import { isUnwritableDisk } from '../errors.js';
import { commandText, runCommand } from '../stage-run/command.js';
import { controllerEnv } from '../stage-run/env.js';
import { globFiles } from '../util/glob.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatDuration } from '../util/duration.js';
import { sha256, sha256File } from '../checkpoint/hash.js';
import { createRedactor, redactEvent } from '../report/redact.js';
import { countResults } from '../report/junit-results.js';
import { CONTROLLER_CASE_HOST } from '../report/junit.js';
import { scrubFileInPlace } from '../bundle/scrub.js';
import { scratchRoot, type RunDir } from './rundir.js';
import type { AnsibleFiles } from './prepare.js';
import { openStageLog, stageLogName } from './stage-log.js';

/** What a controller stage needs of the run (a part of the engine's StageContext). */
export interface ControllerStageContext {
  scenario: Scenario;
  stage: Stage;
  dir: RunDir;
  ansibleFiles: AnsibleFiles;
  /** Data earlier stages published with set_stats. */
  published: Vars;
  overrides: Vars;
  /** Every secret of the scenario, by name; only those the stage lists reach the command. */
  secrets: Map<string, string>;
  redact: (text: string) => string;
  emit: (event: RunEvent) => void;
  signal?: AbortSignal;
  killGraceMs?: number;
  env: NodeJS.ProcessEnv;
  /** Why the stage was cancelled, once `signal` aborted it for that (`cancelled_by`, `fail_fast: all`): it is then skipped, not errored. */
  cancelled?: () => string | undefined;
  /** Called when an attempt passed, before its stage_end: takes the checkpoint, returns its key. */
  onPassed?: (published: Vars) => Promise<string | undefined>;
}

/** How the stage ended after all its attempts (the engine's StageOutcome). */
export interface ControllerStageOutcome {
  status: StageStatus;
  attempts: number;
  reason?: string;
  published: Vars;
  checkpoint?: string;
}

/** One kept output: its path below `outputs/`, size and sha256. */
export interface KeptOutput {
  path: string;
  bytes: number;
  sha256: string;
}

/** `outputs.json` of a `run:` stage's folder. */
export interface OutputsRecord {
  /** sha256 over the kept files' paths and hashes (sorted): the stage_end event and the journal carry it. */
  digest: string;
  attempt: number;
  files: KeptOutput[];
}

/** The folder names inside a `run:` stage's folder. */
const OUTPUTS_DIR = 'outputs';
const RESULTS_DIR = 'results';
const OUTPUTS_FILE = 'outputs.json';

/**
 * The vars a command sees in `HARNESS_VARS`: scenario vars < published data < stage vars < `-e`
 * (the precedence playbooks get), with every secret it does not list masked.
 */
function commandVars(ctx: ControllerStageContext, listed: ReadonlySet<string>): Vars {
  const { scenario, stage } = ctx;
  const vars: Vars = { ...scenario.vars, ...ctx.published, ...stage.vars, ...ctx.overrides, harness_scenario: scenario.name, harness_stage: stage.name };
  const unlisted = [...ctx.secrets].filter(([name]) => !listed.has(name)).map(([, value]) => value);
  return redactEvent(vars, createRedactor(unlisted));
}

/** Relative `/`-separated path of `file` below `dir`. */
const relTo = (dir: string, file: string): string => path.relative(dir, file).split(path.sep).join('/');

/** Copies what `patterns` match below `from` into `to` (emptied first), redacted; returns the copies' records. */
async function keepFiles(ctx: ControllerStageContext, attempt: number, from: string, patterns: readonly string[], to: string, what: string): Promise<{ kept: KeptOutput[]; files: string[] }> {
  await rm(to, { recursive: true, force: true });
  if (!patterns.length) return { kept: [], files: [] };
  const found = await globFiles(from, patterns, { ...(ctx.signal ? { signal: ctx.signal } : {}) });
  for (const p of found.unmatched) warn(ctx, attempt, `${what}: ${p} matched no file in HARNESS_STAGE_DIR`);
  const kept: KeptOutput[] = [];
  const files: string[] = [];
  for (const f of found.files) {
    const rel = relTo(from, f);
    const dest = path.join(to, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(f, dest);
    // As collected files are: the run directory holds no secret, text files redacted in place.
    await scrubFileInPlace(dest, ctx.redact);
    kept.push({ path: rel, bytes: (await stat(dest)).size, sha256: await sha256File(dest, ctx.signal) });
    files.push(dest);
  }
  return { kept, files };
}

function warn(ctx: ControllerStageContext, attempt: number, message: string): void {
  ctx.emit({ kind: 'warning', time: Date.now(), stage: ctx.stage.name, attempt, message });
  ctx.emit({ kind: 'stage_output', time: Date.now(), stage: ctx.stage.name, attempt, text: `harness: warning: ${message}\n` });
}

/** Merges the stage's local JUnit files (kept under `results/`); why they fail the stage, if they do. */
async function mergeResults(ctx: ControllerStageContext, attempt: number, files: string[], resultsDir: string): Promise<string | undefined> {
  const bad: string[] = [];
  for (const f of files) {
    const rel = relTo(resultsDir, f);
    const xml = ctx.redact(await readFile(f, 'utf8'));
    const counted = countResults(xml, rel);
    if (counted.problem) bad.push(`${rel} cannot be read (${counted.problem})`);
    else if (counted.failures || counted.errors) bad.push(`${rel} has ${counted.failures} failed and ${counted.errors} errored test(s)`);
    ctx.emit({ kind: 'results_file', time: Date.now(), stage: ctx.stage.name, attempt, host: CONTROLLER_CASE_HOST, path: rel, xml, ...counted });
  }
  if (!bad.length || ctx.stage.resultsFail === false) return undefined;
  return `results: ${bad.join('; ')}`;
}

/** What one attempt came to. */
interface Attempt {
  status: StageStatus;
  reason?: string;
  exitCode?: number;
  outputs?: string;
}

/** Runs the command once, then keeps its outputs and merges its results (on every path). */
async function runAttempt(ctx: ControllerStageContext, attempt: number, stageDir: string): Promise<Attempt> {
  const { stage } = ctx;
  // A fresh scratch folder per attempt, private (0700, never bundled): only `outputs` are kept.
  const work = path.join(scratchRoot(ctx.dir.privateDir), path.basename(stageDir));
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true, mode: 0o700 });
  const listed = new Set(stage.secrets ?? []);
  const env = controllerEnv({
    base: ctx.env,
    inventory: ctx.ansibleFiles.inventory,
    runDir: ctx.dir.root,
    stageDir: work,
    published: commandVars(ctx, listed),
    scenario: ctx.scenario.name,
    stage: stage.name,
    secrets: new Map([...ctx.secrets].filter(([name]) => listed.has(name))),
  });
  const log = openStageLog({ stage: stage.name, attempt, file: path.join(stageDir, stageLogName(attempt)), redact: ctx.redact, emit: ctx.emit });
  let r: Attempt;
  try {
    const result = await runCommand({
      command: stage.run!,
      cwd: path.dirname(ctx.scenario.file),
      env,
      onOutput: (text) => log.write(text),
      ...(stage.timeoutMs !== undefined ? { timeoutMs: stage.timeoutMs } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.killGraceMs !== undefined ? { killGraceMs: ctx.killGraceMs } : {}),
    });
    const exitCode = result.exitCode ?? undefined;
    if (result.spawnError) {
      log.write(`harness: the command could not start: ${result.spawnError}\n`);
      r = { status: 'failed', reason: `the command could not start: ${result.spawnError}` };
    } else if (result.reason === 'timeout') r = { status: 'error', reason: `timed out after ${formatDuration(stage.timeoutMs ?? 0)}; the command's process group was killed`, exitCode };
    else if (result.reason === 'aborted' && ctx.cancelled?.()) r = { status: 'skipped', reason: ctx.cancelled()!, exitCode };
    else if (result.reason === 'aborted') r = { status: 'error', reason: `interrupted (${String(ctx.signal?.reason ?? 'signal')})`, exitCode };
    else if (result.exitCode === 0) r = { status: 'passed', exitCode: 0 };
    else r = { status: 'failed', reason: result.signal ? `the command was killed by ${result.signal}` : `the command exited ${result.exitCode}`, exitCode };
  } finally {
    await log.close();
  }

  try {
    const out = await keepFiles(ctx, attempt, work, stage.outputs ?? [], path.join(stageDir, OUTPUTS_DIR), 'outputs');
    if (stage.outputs?.length) {
      const digest = sha256(out.kept.map((k) => `${k.path}\0${k.sha256}\n`).join(''));
      const record: OutputsRecord = { digest, attempt, files: out.kept };
      await writeFileAtomic(path.join(stageDir, OUTPUTS_FILE), `${JSON.stringify(record, null, 2)}\n`);
      r.outputs = digest;
      ctx.emit({ kind: 'stage_output', time: Date.now(), stage: stage.name, attempt, text: `harness: kept ${out.kept.length} output file(s), ${out.kept.reduce((n, k) => n + k.bytes, 0)} bytes, digest ${digest.slice(0, 12)}\n` });
    }
    if (stage.results.length) {
      const resultsDir = path.join(stageDir, RESULTS_DIR);
      const res = await keepFiles(ctx, attempt, work, stage.results, resultsDir, 'results');
      const problem = await mergeResults(ctx, attempt, res.files, resultsDir);
      if (problem && r.status === 'passed') r = { ...r, status: 'failed', reason: problem };
    }
  } catch (err) {
    const problem = `the outputs could not be kept: ${(err as Error).message}`;
    warn(ctx, attempt, problem);
    if (r.status === 'passed') r = { ...r, status: 'error', reason: problem };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return r;
}

/**
 * A stage attempt that could not write its files (the run directory's disk is full or read-only):
 * the attempt is a stage error naming why, not a crash; anything else is rethrown.
 */
export function unwritableAttempt(err: unknown): { status: 'error'; reason: string; published: Vars } {
  if (!isUnwritableDisk(err)) throw err;
  return { status: 'error', reason: `the harness could not write the stage's files (${(err as Error).message})`, published: {} };
}

/** Runs a `run:` stage with its retries; emits stage_start/stage_end for every attempt. */
export async function runControllerStage(ctx: ControllerStageContext): Promise<ControllerStageOutcome> {
  const { stage } = ctx;
  const stageDir = ctx.dir.stageDir(stage.index, stage.name);
  await mkdir(stageDir, { recursive: true }).catch((err: unknown) => void unwritableAttempt(err)); // a full disk: the attempt reports it
  const command = commandText(stage.run!);
  // An `inputs` glob that matches nothing hashes nothing into the key: most likely a typo.
  const unmatched = stage.inputs?.length ? (await globFiles(path.dirname(ctx.scenario.file), stage.inputs, { followFileLinks: true })).unmatched : [];
  let last: ControllerStageOutcome = { status: 'skipped', attempts: 0, published: {} };
  for (let attempt = 1; attempt <= stage.retries + 1; attempt++) {
    const voting = stage.voting === false ? { voting: false } : {};
    ctx.emit({ kind: 'stage_start', time: Date.now(), stage: stage.name, attempt, index: stage.index, command, ...voting });
    if (attempt === 1) for (const p of unmatched) warn(ctx, attempt, `inputs: ${p} matched no file in the scenario's folder, so no file of it is in the checkpoint key`);
    const r: Awaited<ReturnType<typeof runAttempt>> = await runAttempt(ctx, attempt, stageDir).catch(unwritableAttempt);
    let checkpoint: string | undefined;
    if (r.status === 'passed' && ctx.onPassed) {
      try {
        checkpoint = await ctx.onPassed({});
      } catch (err) {
        warn(ctx, attempt, `no checkpoint taken: ${(err as Error).message}`);
      }
    }
    const retrying = r.status !== 'passed' && !ctx.signal?.aborted && attempt <= stage.retries;
    ctx.emit({
      kind: 'stage_end', time: Date.now(), stage: stage.name, attempt, index: stage.index, status: r.status, reason: r.reason, exitCode: r.exitCode,
      ...(checkpoint ? { checkpoint } : {}), ...voting, ...(retrying ? { retrying } : {}), ...(r.outputs ? { outputs: r.outputs } : {}),
    });
    last = { status: r.status, attempts: attempt, reason: r.reason, published: {}, ...(checkpoint ? { checkpoint } : {}) };
    if (!retrying) break;
  }
  return last;
}
