import { EXIT } from '../errors.js';
import type { Scenario } from '../model/index.js';
import { resolveSecrets } from '../scenario/index.js';
import { createProvider } from '../lab/create.js';
import { createConsoleSink, createEventsSink, createJournalSink, createJUnitSink, createRedactor, fanout } from '../report/index.js';
import { writeManifest } from '../report/manifest.js';
import { createWarmPool, type AnsibleInstall, type WarmPool } from '../ansible/index.js';
import { adoptPrestarted, warmPoolEnv } from '../ansible/prestart.js';
import { prepareRun } from './prepare-run.js';
import { createRunDir } from './rundir.js';
import type { RunOptions } from './options.js';
import type { RunState } from './run-state.js';

/**
 * Prepares and starts a run: secrets (env/file, never stored), {@link prepareRun}, the
 * provider, then the run directory, the sinks, the first manifest (so a crashed run can be
 * resumed) and `run_start`. Bad input and missing tools throw before anything is written.
 */
export async function startRun(scenario: Scenario, opts: RunOptions = {}): Promise<RunState> {
  const env = opts.env ?? process.env;
  const checkpoints = opts.checkpoints ?? true;
  const secrets = await resolveSecrets(scenario, env); // bad input (exit 2) before missing tools (exit 3)
  // Ansible's start-up begins as soon as it is found, beside the rest of the preparation (lib/ansible/warm.ts).
  let warm: WarmPool | undefined;
  const onAnsible = (found: AnsibleInstall): void => {
    let playbooks = scenario.stages.filter((s) => s.playbook).length + (scenario.spec.validate && scenario.spec.validate.playbook ? 1 : 0);
    const more = (): boolean => playbooks-- > 0;
    // It starts with a stage's environment before the stage's own variables; bin/harness may
    // have started its first process already (prestart.ts), which counts as the first start.
    const poolEnv = warmPoolEnv(env);
    const adopted = adoptPrestarted(found.playbook, poolEnv, more);
    if (adopted) more();
    warm = adopted ?? createWarmPool({ script: found.playbook, env: poolEnv, more });
  };
  try {
    return await startPrepared(scenario, opts, env, checkpoints, secrets, onAnsible, () => warm);
  } catch (err) {
    await warm?.close();
    throw err;
  }
}

async function startPrepared(
  scenario: Scenario, opts: RunOptions, env: NodeJS.ProcessEnv, checkpoints: boolean, secrets: Map<string, string>,
  onAnsible: (a: AnsibleInstall) => void, warm: () => WarmPool | undefined,
): Promise<RunState> {
  const prepared = await prepareRun(scenario, { sharedKeys: opts.sharedKeys, jobs: opts.jobs, from: opts.from, until: opts.until, extraVars: opts.extraVars, checkpoints, env, remote: opts.store, log: (l) => opts.write?.(`${l}\n`), onAnsible });
  const ansible = prepared.ansible!;
  // The first lab's provider is made now (a bad lab spec fails before anything is written); further labs get their own.
  const first = opts.provider ?? (await createProvider(scenario.spec, scenario.file));
  let handedOut = false;
  const newProvider = async () => {
    if (!handedOut) {
      handedOut = true;
      return first;
    }
    return opts.providerFactory ? opts.providerFactory() : createProvider(scenario.spec, scenario.file);
  };

  const dir = await createRunDir(scenario.name, { out: opts.out });
  const redact = createRedactor([...secrets.values()]);
  const started = Date.now();
  const sinks = fanout([
    createConsoleSink({ write: (t) => opts.write?.(t), tty: opts.tty ?? false, redact }),
    createJUnitSink({ file: dir.junit, scenario: scenario.name, redact }),
    createJournalSink({ file: dir.journal, redact }),
    createEventsSink({ file: dir.events, redact }),
  ]);
  const manifest = {
    scenario, ansible, started, redact,
    command: opts.command ?? [],
    extraVars: opts.extraVars ?? {},
    options: { from: opts.from, until: opts.until, checkpoints, ...(opts.jobs?.length ? { jobs: opts.jobs } : {}), ...(opts.parallel && opts.parallel > 1 ? { parallel: opts.parallel } : {}) },
  };
  const state: RunState = {
    scenario, opts, env, secrets, ansible, warm: warm(), newProvider, ckpt: prepared.ckpt, plan: prepared.plan, dir, redact, sinks, started, manifest,
    labs: [], failedNodes: new Set(), reported: new Set(),
    log: (m) => opts.write?.(`${m}\n`),
    emit: (e) => sinks.handle(e),
    reports: [],
    outcome: { status: 'passed', exitCode: EXIT.ok },
  };
  await writeManifest(dir.manifest, { ...manifest, result: { runId: dir.runId, status: 'running', exitCode: null, stages: [] }, lab: scenario.lab });
  state.emit({ kind: 'run_start', time: started, runId: dir.runId, scenario: scenario.name, runDir: dir.root, stages: prepared.plan.line ? scenario.stages.map((s) => s.name) : prepared.plan.steps.map((s) => s.stage.name) });
  return state;
}
