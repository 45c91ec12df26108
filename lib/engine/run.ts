import { HarnessError } from '../errors.js';
import type { RunEvent, Scenario, StageStatus, Vars } from '../model/index.js';
import type { AllocatedLab, LabProvider } from '../lab/provider.js';
import { createProvider } from '../lab/create.js';
import { findAnsible } from '../ansible/index.js';
import { resolveSecrets } from '../scenario/index.js';
import { createConsoleSink, createEventsSink, createJournalSink, createJUnitSink, createRedactor, fanout } from '../report/index.js';
import { writeManifest } from '../report/manifest.js';
import { createRunDir } from './rundir.js';
import { planRun } from './plan.js';
import { prepareAnsible } from './prepare.js';
import { runStage, type StageOutcome } from './stage.js';

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** The run directory to create. @default runs/<scenario>/<run id> */
  out?: string;
  /** `-e KEY=VALUE` overrides, above every other var. */
  extraVars?: Vars;
  /** Start at this stage. */
  from?: string;
  /** Stop after this stage. */
  until?: string;
  /** Stops the run: the running stage is killed, always-stages and the lab release still run. */
  signal?: AbortSignal;
  /** Stops always-stages too (a second Ctrl-C). */
  forceSignal?: AbortSignal;
  /** Where console output goes. @default nothing */
  write?: (text: string) => void;
  /** Console output for a terminal (Ansible's colours) rather than plain prefixed lines. @default false */
  tty?: boolean;
  /** The environment secrets and Ansible see. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The command line, for the manifest. */
  command?: string[];
  /** Use this provider instead of the scenario's (tests, `reproduce --lab`). */
  provider?: LabProvider;
  /** Grace between SIGTERM and SIGKILL when a stage is stopped. @default 5000 */
  killGraceMs?: number;
}

/** How a stage ended, as the run reports it. */
export interface StageReport {
  name: string;
  status: StageStatus;
  attempts: number;
  reason?: string;
  voting: boolean;
}

/** The outcome of a run: exit code as the CLI uses it, and where everything is. */
export interface RunResult {
  runId: string;
  runDir: string;
  status: 'passed' | 'failed' | 'interrupted' | 'error';
  exitCode: number;
  /** Why the run failed or errored, in words. */
  reason?: string;
  stages: StageReport[];
}

/**
 * Runs a scenario: allocates its lab, runs the stages in order (fail fast, always-stages,
 * retries, timeouts), streams events to the console, JUnit, journal and events.jsonl, and
 * releases the lab on every path. Bad input and missing tools throw before anything is written.
 */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const env = opts.env ?? process.env;
  const plan = planRun(scenario, { from: opts.from, until: opts.until });
  const secrets = await resolveSecrets(scenario, env);
  const ansible = await findAnsible();
  const provider = opts.provider ?? (await createProvider(scenario.spec));

  const dir = await createRunDir(scenario.name, { out: opts.out });
  const redact = createRedactor([...secrets.values()]);
  const started = Date.now();
  const sinks = fanout([
    createConsoleSink({ write: (t) => opts.write?.(t), tty: opts.tty ?? false, redact }),
    createJUnitSink({ file: dir.junit, scenario: scenario.name, redact }),
    createJournalSink({ file: dir.journal, redact }),
    createEventsSink({ file: dir.events, redact }),
  ]);
  const emit = (e: RunEvent): void => sinks.handle(e);
  emit({ kind: 'run_start', time: started, runId: dir.runId, scenario: scenario.name, runDir: dir.root, stages: scenario.stages.map((s) => s.name) });

  const reports: StageReport[] = [];
  let runStatus: RunResult['status'] = 'passed';
  let reason: string | undefined;
  let exitCode = 0;
  let allocated: AllocatedLab | undefined;
  const skip = (index: number, why: string): void => {
    const s = scenario.stages[index]!;
    emit({ kind: 'stage_end', time: Date.now(), stage: s.name, attempt: 1, index, status: 'skipped', reason: why });
    reports.push({ name: s.name, status: 'skipped', attempts: 0, reason: why, voting: s.voting });
  };

  let crash: unknown;
  try {
    try {
      allocated = await provider.allocate(scenario.lab, { runDir: dir.root, privateDir: dir.privateDir, signal: opts.signal, log: (m) => opts.write?.(`${m}\n`) });
    } catch (err) {
      if (!(err instanceof HarnessError)) throw err;
      runStatus = opts.signal?.aborted ? 'interrupted' : 'error';
      exitCode = opts.signal?.aborted ? 130 : err.exitCode;
      reason = `the ${scenario.spec.provider} lab could not be allocated: ${err.message}`;
      for (const step of plan) skip(step.stage.index, 'the lab could not be allocated');
    }
    if (allocated) {
      emit({ kind: 'lab_ready', time: Date.now(), provider: provider.name, hosts: allocated.lab.hosts.map((h) => h.name) });
      const ansibleFiles = await prepareAnsible(dir, allocated, opts.tty ?? false);
      const published: Vars = {};
      let failedStage: string | undefined;
      for (const step of plan) {
        const stage = step.stage;
        const interrupted = Boolean(opts.signal?.aborted);
        if (step.action === 'skip-before-from') skip(stage.index, `--from ${opts.from}: starts later`);
        else if (step.action === 'skip-after-until') skip(stage.index, `--until ${opts.until}: stopped before it`);
        else if (interrupted && !stage.always) skip(stage.index, 'the run was interrupted');
        else if (failedStage && !stage.always) skip(stage.index, `stage '${failedStage}' failed`);
        else {
          const outcome: StageOutcome = await runStage({
            scenario, stage, dir, ansible, ansibleFiles, lab: allocated, published, secrets, redact, emit,
            overrides: opts.extraVars ?? {},
            signal: stage.always ? opts.forceSignal : opts.signal,
            killGraceMs: opts.killGraceMs,
            env,
          });
          reports.push({ name: stage.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: stage.voting });
          Object.assign(published, outcome.published);
          if ((outcome.status === 'failed' || outcome.status === 'error') && stage.voting && !failedStage) failedStage = stage.name;
        }
      }
      if (opts.signal?.aborted) {
        runStatus = 'interrupted';
        exitCode = 130;
        reason = `interrupted (${String(opts.signal.reason ?? 'signal')})`;
      } else if (failedStage) {
        runStatus = 'failed';
        exitCode = 1;
        reason = `stage '${failedStage}' failed`;
      }
    }
  } catch (err) {
    crash = err;
    runStatus = 'error';
    exitCode = err instanceof HarnessError ? err.exitCode : 1;
    reason = `the harness failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    try {
      await provider.release();
    } catch (err) {
      opts.write?.(`harness: warning: releasing the lab failed: ${(err as Error).message}\n`);
      if (exitCode === 0) {
        exitCode = 3;
        runStatus = 'error';
        reason = `releasing the lab failed: ${(err as Error).message}`;
      }
    }
  }
  const result = await finish();
  if (crash && !(crash instanceof HarnessError)) throw crash;
  return result;

  async function finish(): Promise<RunResult> {
    emit({ kind: 'run_end', time: Date.now(), status: runStatus, exitCode, reason });
    await sinks.closeAll();
    const result: RunResult = { runId: dir.runId, runDir: dir.root, status: runStatus, exitCode, reason, stages: reports };
    await writeManifest(dir, { scenario, result, ansible, started, ended: Date.now(), command: opts.command ?? [], extraVars: opts.extraVars ?? {}, lab: allocated?.lab ?? scenario.lab, redact });
    return result;
  }
}

