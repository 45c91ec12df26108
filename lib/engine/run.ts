import path from 'node:path';
import { HarnessError, LabError } from '../errors.js';
import type { RunEvent, Scenario, Stage, StageStatus, Vars } from '../model/index.js';
import { canCheckpoint, type AllocatedLab, type LabProvider } from '../lab/provider.js';
import { createProvider } from '../lab/create.js';
import { findAnsible } from '../ansible/index.js';
import { formatDuration, resolveSecrets } from '../scenario/index.js';
import { openStore } from '../checkpoint/index.js';
import { cacheDir } from '../paths.js';
import { planCheckpoints, type CheckpointPlan } from './checkpoints.js';
import { createConsoleSink, createEventsSink, createJournalSink, createJUnitSink, createRedactor, fanout } from '../report/index.js';
import { writeManifest } from '../report/manifest.js';
import { writeReport } from '../report/html.js';
import { packBundle } from '../bundle/index.js';
import { scenarioSources } from './sources.js';
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
  /** Pack `<run dir>.tar.gz` beside the run directory at the end. @default true */
  bundle?: boolean;
  /** Restore the newest valid checkpoint and take new ones (false: `--no-checkpoints`). @default true */
  checkpoints?: boolean;
  /** Ansible's verbosity, 0-4 (`-v` to `-vvvv`); secrets stay redacted at every level. @default 0 */
  verbosity?: number;
}

/** How a stage ended, as the run reports it. */
export interface StageReport {
  name: string;
  status: StageStatus;
  attempts: number;
  reason?: string;
  voting: boolean;
  /** The checkpoint the stage was restored from or saved to. */
  checkpoint?: string;
}

/** The outcome of a run: exit code as the CLI uses it, and where everything is. */
export interface RunResult {
  runId: string;
  runDir: string;
  /** The bundle beside the run directory, when one was packed. */
  bundle?: string;
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
  planRun(scenario, { from: opts.from, until: opts.until }); // stage names checked before anything else
  const secrets = await resolveSecrets(scenario, env);
  const ansible = await findAnsible({ env });
  const provider = opts.provider ?? (await createProvider(scenario.spec, scenario.file));
  const useCheckpoints = opts.checkpoints ?? true;
  const ckpt = useCheckpoints
    ? await planCheckpoints(scenario, { overrides: opts.extraVars ?? {}, from: opts.from, until: opts.until, ansibleVersion: ansible.version, store: openStore(path.join(cacheDir(env), 'checkpoints')) })
    : undefined;
  const plan = planRun(scenario, { from: opts.from, until: opts.until, restoreThrough: ckpt?.restore?.index });

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
  // The manifest is written at the start too, so a crashed run can be resumed with its parameters.
  const manifestBase = {
    scenario, ansible, started, redact,
    command: opts.command ?? [],
    extraVars: opts.extraVars ?? {},
    options: { from: opts.from, until: opts.until, checkpoints: useCheckpoints },
  };
  await writeManifest(dir, { ...manifestBase, result: { runId: dir.runId, status: 'running', exitCode: null, stages: [] }, lab: scenario.lab });
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
  const log = (m: string): void => opts.write?.(`${m}\n`);

  /** Restores the planned checkpoint into the allocated lab; returns its data folder. */
  async function restoreCheckpoint(plan: CheckpointPlan, lab: AllocatedLab, published: Vars): Promise<string> {
    const info = plan.restore!.info;
    if (!canCheckpoint(provider)) throw new LabError(`the ${provider.name} lab cannot restore checkpoints`);
    const got = await plan.store.findAndLease(scenario.name, info.key, { signal: opts.signal });
    if (!got) throw new LabError(`checkpoint ${info.key} was pruned while the run started; run again to redo its stages`);
    try {
      const t0 = Date.now();
      await provider.restoreCheckpoint(got.info.dataDir, { lab, signal: opts.signal, log });
      await plan.store.touch(got.info);
      log(`harness: restored checkpoint ${info.key} (stages up to '${info.stage}') in ${formatDuration(Date.now() - t0)}`);
    } finally {
      await got.lease.release();
    }
    Object.assign(published, got.info.published);
    return got.info.dataDir;
  }

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
      const lab = allocated;
      const ansibleFiles = await prepareAnsible(dir, allocated, opts.tty ?? false, scenario.file);
      const published: Vars = {};
      let failedStage: string | undefined;
      let lastCheckpointDir: string | undefined;
      const stageContext = { scenario, dir, ansible, ansibleFiles, lab, published, secrets, redact, emit, overrides: opts.extraVars ?? {}, killGraceMs: opts.killGraceMs, env, verbosity: opts.verbosity ?? 0 };
      if (ckpt?.restore) {
        lastCheckpointDir = await restoreCheckpoint(ckpt, lab, published);
        for (const step of plan.filter((p) => p.action === 'restore')) {
          const s = step.stage;
          const why = `restored from checkpoint ${ckpt.restore.info.key} (after stage '${ckpt.restore.info.stage}', taken ${ckpt.restore.info.created})`;
          emit({ kind: 'stage_end', time: Date.now(), stage: s.name, attempt: 1, index: s.index, status: 'restored', reason: why, checkpoint: ckpt.restore.info.key });
          reports.push({ name: s.name, status: 'restored', attempts: 0, reason: why, voting: s.voting, checkpoint: ckpt.restore.info.key });
        }
        if (scenario.spec.onRestore) {
          // What the hosts run at boot: a stage of its own, so it is logged and reported like one.
          const boot: Stage = { ...onRestoreStage(scenario.spec.onRestore, ckpt.restore.index) };
          const outcome = await runStage({ ...stageContext, stage: boot, signal: opts.signal });
          reports.push({ name: boot.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: true });
          Object.assign(published, outcome.published);
          if (outcome.status !== 'passed') failedStage = boot.name;
        }
      }
      const takeCheckpoint = async (index: number, stagePublished: Vars): Promise<string | undefined> => {
        const stage = scenario.stages[index]!;
        if (!stage.checkpoint || !ckpt) return undefined;
        if (!canCheckpoint(provider)) throw new Error(`the ${provider.name} lab cannot take checkpoints`);
        const key = ckpt.keys[index]!;
        const meta = { scenario: scenario.name, stage: stage.name, key: key.key, inputs: key.cumulative, published: { ...published, ...stagePublished }, provider: provider.name, run: dir.runId };
        const t0 = Date.now();
        const saved = await ckpt.store.save(meta, (data) => provider.saveCheckpoint(data, { lab, previous: lastCheckpointDir, signal: opts.signal, log }), { signal: opts.signal });
        lastCheckpointDir = saved.dataDir;
        emit({ kind: 'stage_output', time: Date.now(), stage: stage.name, attempt: 1, text: `harness: checkpoint ${key.key} ${saved.saved ? 'saved' : 'was saved already'} (${formatDuration(Date.now() - t0)})\n` });
        return key.key;
      };
      for (const step of plan) {
        const stage = step.stage;
        const interrupted = Boolean(opts.signal?.aborted);
        if (step.action === 'restore') continue;
        if (step.action === 'skip-before-from') skip(stage.index, `--from ${opts.from}: starts later`);
        else if (step.action === 'skip-after-until') skip(stage.index, `--until ${opts.until}: stopped before it`);
        else if (interrupted && !stage.always) skip(stage.index, 'the run was interrupted');
        else if (failedStage && !stage.always) skip(stage.index, `stage '${failedStage}' failed`);
        else {
          const outcome: StageOutcome = await runStage({
            ...stageContext,
            stage,
            signal: stage.always ? opts.forceSignal : opts.signal,
            onPassed: stage.checkpoint && ckpt ? (p) => takeCheckpoint(stage.index, p) : undefined,
          });
          reports.push({ name: stage.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: stage.voting, ...(outcome.checkpoint ? { checkpoint: outcome.checkpoint } : {}) });
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
    await writeManifest(dir, { ...manifestBase, result, ended: Date.now(), lab: allocated?.lab ?? scenario.lab });
    await writeReport(dir.root, { redact });
    if (opts.bundle ?? true) {
      const packed = await packBundle(dir.root, { redact, scenarioFiles: await scenarioSources(scenario) });
      result.bundle = packed.file;
    }
    return result;
  }
}


/** The stage that runs `lab.on_restore` after a checkpoint is restored (numbered after the restored stage). */
function onRestoreStage(playbook: string, restoredIndex: number): Stage {
  return {
    name: 'on-restore', index: restoredIndex, playbook, hosts: [], vars: {}, checkpoint: false, retries: 0,
    always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: playbook },
  };
}
