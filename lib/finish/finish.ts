/**
 * The run's end, outside the engine: `run_end`, the sinks closed, the final manifest,
 * report.html and the bundle. Each part is guarded, so one that fails (a sink that cannot close,
 * a full disk while packing) never stops the others: the manifest is always written.
 */
import { EXIT } from '../errors.js';
import type { RunResult } from '../engine/options.js';
import type { RunState } from '../engine/run-state.js';
import { releaseReserve } from '../engine/rundir.js';
import { scenarioSources } from '../engine/sources.js';
import { writeManifest } from '../report/manifest.js';
import { writeReport } from '../report/html.js';
import { packBundle } from '../bundle/pack.js';

/** Options of {@link finishRun}. */
export interface FinishOptions {
  /** Pack `<run dir>.tar.gz`. @default true */
  bundle?: boolean;
}

/** Runs `fn`; a failure becomes a warning on the console and, if the run had passed, its error (exit 1). */
async function guarded(state: RunState, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    state.opts.write?.(`harness: warning: ${what} failed: ${state.redact(message)}\n`);
    if (state.outcome.exitCode === EXIT.ok) state.outcome = { status: 'error', exitCode: EXIT.stageFailed, reason: `${what} failed: ${message}` };
  }
}

/** Ends a run the engine executed and returns its result. */
export async function finishRun(state: RunState, opts: FinishOptions = {}): Promise<RunResult> {
  const { dir } = state;
  // A warm ansible-playbook still waiting goes, whatever ran the run's body (executeRun, or
  // `lab up --failed`'s restore).
  await state.warm?.close();
  // The space held back since the run directory was made: the last records fit even when the
  // run filled its disk.
  await releaseReserve(dir);
  const end = state.outcome;
  state.emit({ kind: 'run_end', time: Date.now(), status: end.status, exitCode: end.exitCode, reason: end.reason });
  await guarded(state, 'writing the run records (journal, JUnit, events)', () => state.sinks.closeAll());
  const result = (): RunResult => ({ runId: dir.runId, runDir: dir.root, status: state.outcome.status, exitCode: state.outcome.exitCode, reason: state.outcome.reason, stages: state.reports });
  await guarded(state, 'writing manifest.json', () =>
    writeManifest(dir.manifest, {
      ...state.manifest, result: result(), ended: Date.now(), lab: state.labs[0]?.lab ?? state.scenario.lab,
      labs: state.labs.map((l) => ({ name: l.name, hosts: (l.lab ?? state.scenario.lab).hosts.map((h) => h.name), ...(l.facts ? { facts: l.facts } : {}) })),
      ...(state.plan.line ? {} : {
        tree: {
          nodes: state.plan.steps.map((s) => ({ name: s.node.name, stage: s.node.stage.name, parent: s.node.parent?.name ?? null })),
          jobs: state.plan.jobs.map((j) => ({ name: j.name, nodes: j.nodes.map((n) => n.name), start: j.start?.name ?? null })),
        },
      }),
    }),
  );
  await guarded(state, 'writing report.html', async () => {
    await writeReport(dir.root, { redact: state.redact });
  });
  let bundle: string | undefined;
  if (opts.bundle ?? true) {
    await guarded(state, 'packing the bundle', async () => {
      bundle = (await packBundle(dir.root, { redact: state.redact, scenarioFiles: await scenarioSources(state.scenario) })).file;
    });
  }
  return { ...result(), ...(bundle ? { bundle } : {}) };
}
