/**
 * The real probe of `harness bisect` and `harness gate`: one `runScenario` of the scenario with a
 * set of changes applied, in a source tree of its own (a git worktree at the candidate commit, or
 * a copy of the scenario's folder with the changed files written over it), removed afterwards on
 * every path, Ctrl-C included. Its run directory and bundle stay under `OUT/probes/NN`.
 *
 * The run's outcome is the probe's status: passed → pass; a voting stage failed → fail (that
 * stage named); a scenario that no longer loads at that change → fail in stage `validate`; the
 * lab or a tool that could not be had (exit 3) → cannot test. An interrupted run stops the whole
 * search ({@link QueueInterrupted}). A lab that could not be had by two different probes, none
 * having had one yet, stops it too: a LabError (exit 3), not a queue of "cannot test" probes.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { childElements, parseXml, textOf } from '../report/xml-parse.js';
import { EXIT, HarnessError, InputError, LabError } from '../errors.js';
import type { Scenario, Vars } from '../model/index.js';
import { runScenario, type RunOptions, type RunResult } from '../run.js';
import { loadScenario } from '../scenario/index.js';
import { formatDuration } from '../util/duration.js';
import { applyChanges, type Change } from './changes.js';
import { addWorktree, type GitQueue } from './git.js';
import { overlayTree } from './overlay.js';
import type { Probe, ProbeRecord, ProbeResult, QueueChange } from './search.js';

/** Where the changes come from. */
export type QueueSource = { kind: 'git'; queue: GitQueue } | { kind: 'changes'; scenarioFile: string; changes: Change[] };

/** The queue's changes as the search sees them. */
export function queueChanges(source: QueueSource): QueueChange[] {
  return source.kind === 'git' ? source.queue.changes : source.changes;
}

/** The search was stopped by Ctrl-C or SIGTERM: exit 130. */
export class QueueInterrupted extends HarnessError {
  override readonly exitCode: number = EXIT.interrupted;
  override name = 'QueueInterrupted';
}

/** What every probe's run gets from the command line. */
export type ProbeRunOptions = Pick<RunOptions, 'extraVars' | 'checkpoints' | 'verbosity' | 'killGraceMs' | 'env' | 'signal' | 'forceSignal' | 'command' | 'bundle'>;

/** Options of {@link realProbe}. */
export interface RealProbeOptions extends ProbeRunOptions {
  /** The output folder: probes go to `OUT/probes/NN`. */
  out: string;
  /** One line per probe as it starts and ends. */
  say?: (line: string) => void;
  /** Number of the first probe (a `gate --retry` continues after the earlier ones). @default 1 */
  firstNumber?: number;
}

/** A probe of a real run, and a way to wait for the ones still running (after an error). */
export interface RealProbe {
  probe: Probe;
  /** Waits until no probe runs any more (each removes its source tree first). */
  settle(): Promise<void>;
  /** Every probe that ended, numbered as its folder (what an interrupted search leaves to report). */
  readonly finished: ProbeRecord[];
}

/** The first voting stage that failed, and why. */
function failedStage(result: RunResult): { stage?: string; message?: string } {
  const s = result.stages.find((x) => x.voting && (x.status === 'failed' || x.status === 'error'));
  return s ? { stage: s.name, ...(s.reason ? { message: s.reason } : {}) } : { ...(result.reason ? { message: result.reason } : {}) };
}

/**
 * The first failing case of `stage` in a probe's junit.xml (`[host] task: message`, redacted
 * as the run wrote it), the words a culprit is reported with; undefined when there is none.
 */
async function failingCase(runDir: string, stage: string): Promise<string | undefined> {
  const file = path.join(runDir, 'junit.xml');
  try {
    if ((await stat(file)).size > 16 << 20) return undefined;
    const root = parseXml(await readFile(file, 'utf8'));
    for (const suite of childElements(root, 'testsuite').filter((x) => x.attrs.name === stage)) {
      for (const c of childElements(suite, 'testcase')) {
        const f = childElements(c, 'failure')[0] ?? childElements(c, 'error')[0];
        if (f) return `${c.attrs.name ?? ''}: ${f.attrs.message ?? textOf(f)}`.slice(0, 500);
      }
    }
  } catch {
    /* no junit.xml, or not one we can read: the stage's reason stays */
  }
  return undefined;
}

/** Makes the probe for `source` (see the module comment). */
export function realProbe(source: QueueSource, opts: RealProbeOptions): RealProbe {
  const changes = queueChanges(source);
  const active = new Set<Promise<unknown>>();
  const finished: ProbeRecord[] = [];
  let next = opts.firstNumber ?? 1;
  /** Whether any probe has had its lab; until one has, the sets whose lab could not be had. */
  let labHad = false;
  const labLost = new Set<string>();
  const LAB_LOST_LIMIT = 2;
  const noLab = (applied: readonly number[], why: string): void => {
    if (labHad) return;
    labLost.add(applied.join(','));
    if (labLost.size >= LAB_LOST_LIMIT) throw new LabError(`the lab could not be had at all: ${labLost.size} different probes could not get one (each tried twice) and no probe has had one; the last said: ${why}`);
  };

  const label = (applied: readonly number[]): string => {
    if (!applied.length) return 'base';
    const prefix = applied.every((i, k) => i === k);
    const ids = applied.map((i) => changes[i]!.id);
    return prefix ? `prefix ${applied.length} (..${ids[ids.length - 1]})` : `${ids.length} changes (${ids.length > 4 ? `${ids.slice(0, 2).join(' ')} .. ${ids.slice(-2).join(' ')}` : ids.join(' ')})`;
  };

  /** The scenario with `applied` in, and the function that removes its source tree. */
  const prepare = async (applied: readonly number[]): Promise<{ scenario?: Scenario; untestable?: string; loadError?: string; remove(): Promise<void> }> => {
    let file: string;
    let vars: Vars = {};
    let remove = async (): Promise<void> => {};
    let untestable: string | undefined;
    if (source.kind === 'git') {
      const wt = await addWorktree(source.queue, applied);
      remove = wt.remove;
      untestable = wt.untestable;
      file = path.join(wt.dir, source.queue.scenario);
    } else {
      const set = applyChanges(applied.map((i) => source.changes[i]!));
      vars = set.vars;
      file = source.scenarioFile;
      if (Object.keys(set.files).length) {
        const tree = await overlayTree(await loadScenario(source.scenarioFile), set.files, [path.resolve(opts.out)]);
        remove = tree.remove;
        file = tree.scenarioFile;
      }
    }
    if (untestable) return { untestable, remove };
    try {
      const scenario = await loadScenario(file);
      scenario.vars = { ...scenario.vars, ...vars };
      return { scenario, remove };
    } catch (err) {
      if (err instanceof InputError) return { loadError: err.message, remove };
      await remove();
      throw err;
    }
  };

  const one = async (applied: readonly number[]): Promise<ProbeResult> => {
    opts.signal?.throwIfAborted();
    const n = next++;
    const name = String(n).padStart(2, '0');
    const runDir = path.join(opts.out, 'probes', name);
    const started = Date.now();
    const what = label(applied);
    opts.say?.(`probe ${n}: ${what}: running\n`);
    const end = (r: ProbeResult): ProbeResult => {
      const durationMs = Date.now() - started;
      opts.say?.(`probe ${n}: ${what}: ${r.status}${r.stage ? ` (stage ${r.stage})` : ''}${r.status !== 'pass' && r.message ? `: ${r.message}` : ''} in ${formatDuration(durationMs)}\n`);
      finished.push({ ...r, durationMs, applied: applied.map((i) => changes[i]!.id), run: n });
      return { ...r, durationMs };
    };
    const src = await prepare(applied);
    try {
      if (src.untestable) return end({ status: 'untestable', message: src.untestable });
      if (src.loadError) return end({ status: 'fail', stage: 'validate', message: src.loadError.split('\n')[0]! });
      let result: RunResult;
      try {
        result = await runScenario(src.scenario!, { ...opts, out: runDir, write: undefined });
      } catch (err) {
        if (!(err instanceof LabError)) throw err;
        const r = end({ status: 'untestable', message: err.message });
        noLab(applied, err.message);
        return r;
      }
      if (result.status === 'interrupted' || opts.signal?.aborted) throw new QueueInterrupted(`interrupted during probe ${n} (${what}); its run: ${result.runDir}`);
      const where = { runDir: result.runDir, ...(result.bundle ? { bundle: result.bundle } : {}) };
      if (result.status === 'passed') return end({ status: 'pass', ...where });
      if (result.status === 'error' && result.exitCode === EXIT.lab) {
        const r = end({ status: 'untestable', message: result.reason ?? 'the lab could not be had', ...where });
        noLab(applied, r.message!);
        return r;
      }
      labHad = true;
      const failed = failedStage(result);
      const detail = failed.stage ? await failingCase(result.runDir, failed.stage) : undefined;
      return end({ status: 'fail', ...failed, ...(detail ? { message: detail } : {}), ...where });
    } finally {
      await src.remove();
    }
  };

  return {
    finished,
    probe: (applied) => {
      const p = one(applied);
      active.add(p);
      void p.finally(() => active.delete(p)).catch(() => {});
      return p;
    },
    async settle() {
      while (active.size) await Promise.allSettled([...active]);
    },
  };
}
