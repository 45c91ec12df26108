import path from 'node:path';
import type { Command } from '../command.js';
import type { CliIO } from '../io.js';
import type { Scenario, Vars } from '../../model/index.js';
import type { StepAction } from '../../engine/plan.js';
import { InputError } from '../../errors.js';

const ACTION_WORDS = { run: 'run', restore: 'restore', wait: 'wait (another run builds it)', 'skip-before-from': 'skip (before --from)', 'skip-after-until': 'skip (after --until)' } as const;

/** A stage's checkpoint in `plan --json` (docs/cli-json.md). */
interface PlanCheckpointJson {
  key: string;
  /** restore: the run restores it; stored: kept, a later one is restored; none: never taken; stale: one was taken with other inputs. */
  state: 'restore' | 'stored' | 'none' | 'stale';
  /** When the restored one was taken (ISO time). */
  taken?: string;
  /** For `stale`: which inputs changed. */
  changed?: string[];
  /** Playbook references the key could not pin to files. */
  unresolved: string[];
}

/** One node in `plan --json` (a stage; a variant copy is a node of its own). */
interface PlanStageJson {
  /** Position: the list's for a line, depth-first for a tree (1-based). */
  index: number;
  /** The node name: the stage's, or `STAGE[axis=value,...]` for a variant copy. */
  name: string;
  /** The stage it runs. */
  stage: string;
  /** The node it continues from (null: the fresh lab). */
  parent: string | null;
  /** Node names from the fresh lab down to it. */
  path: string[];
  /** Several nodes continue from it. */
  fork: boolean;
  /** The variant's axis values, for a variant copy. */
  variant?: Record<string, unknown>;
  /** `wait`: it would run, but another run is building it now (its claim is live): this run waits and restores it. */
  action: StepAction | 'wait';
  /** For `wait`: who builds it (the claim's words, pid and host). */
  waitFor?: string;
  /** In a pipeline: the job (id) that shows this node first; this job restores or waits for it there. */
  sharedWith?: string;
  playbook: string | null;
  /** A `run:` stage's command (shell line or argv list); absent for playbook stages. */
  run?: string | string[];
  hosts: { patterns: string[]; selected: string[] };
  checkpoint: boolean;
  always: boolean;
  voting: boolean;
  retries: number;
  timeoutMs: number | null;
  key?: PlanCheckpointJson;
}

/** One job (a path from the fresh lab to a leaf) in `plan --json`. */
interface PlanJobJson {
  name: string;
  nodes: string[];
  /** The node whose checkpoint it starts from (null: a fresh lab). */
  start: string | null;
}

/** What a plan of one scenario is made with. */
interface PlanInput {
  jobs: string[];
  from?: string;
  until?: string;
  extraVars: Vars;
  checkpoints: boolean;
  env: NodeJS.ProcessEnv;
  sharedKeys?: ReadonlySet<string>;
}

/** The document `harness plan --json` prints (version 1, docs/cli-json.md). */
interface PlanJson {
  version: 1;
  scenario: { name: string; description: string; file: string };
  lab: { provider: string; hosts: string[] };
  checkpoints: boolean;
  note?: string;
  /** The stages form a tree (branches or variants), not one line. */
  tree: boolean;
  /** The nodes, in plan order (a parent before its children). */
  stages: PlanStageJson[];
  jobs: PlanJobJson[];
  /** The always-stages, run at the end of every job. */
  always: string[];
}

/** The plan of one scenario as its JSON document (nothing written, nothing run). */
async function scenarioPlan(s: Scenario, o: PlanInput): Promise<PlanJson> {
  const { selectHosts } = await import('../../inventory/patterns.js');
  const { whyStale } = await import('../../engine/checkpoints.js');
  const { prepareRun } = await import('../../engine/prepare-run.js');
  const { CLAIMS_DIR, liveClaim } = await import('../../checkpoint/claim.js');
  const { from, until } = o;
  const { ansible, ckpt, plan: tplan } = await prepareRun(s, { jobs: o.jobs, from, until, extraVars: o.extraVars, checkpoints: o.checkpoints, env: o.env, ansibleOptional: true, sharedKeys: o.sharedKeys });
  const note = ckpt && !ansible ? 'ansible-playbook not found: checkpoint keys include its version, so they are shown without it\n' : '';
  const stages: PlanStageJson[] = [];
  const starts = new Set(tplan.jobs.map((j) => j.start?.name).filter((n): n is string => n !== undefined));
  const stepsShown = tplan.line ? [...tplan.steps, ...tplan.tree.always.map((a) => ({ stage: a, index: a.index, node: undefined, action: 'run' as const, checkpoint: false, path: [a.name] }))].sort((x, y) => x.index - y.index) : tplan.steps;
  for (const step of stepsShown) {
    const { stage, action } = step;
    let checkpoint: PlanCheckpointJson | null = null;
    const key = step.node ? ckpt?.keys.get(step.node.name) : undefined;
    if (ckpt && key && step.checkpoint) {
      const base = { key: key.key, unresolved: key.unresolved };
      const stored = ckpt.stored.get(stage.name);
      if (stored && starts.has(stage.name)) checkpoint = { ...base, state: 'restore', taken: stored.created };
      else if (stored) checkpoint = { ...base, state: 'stored' };
      else {
        const why = ckpt.persistent ? await whyStale(ckpt.store, s, key) : undefined;
        checkpoint = why === undefined ? { ...base, state: 'none' } : { ...base, state: 'stale', changed: why };
      }
    }
    // A node another run is building now: this run would wait for it and restore its checkpoint.
    const claim = action === 'run' && checkpoint && ckpt?.persistent ? await liveClaim(path.join(ckpt.store.root, CLAIMS_DIR), checkpoint.key) : undefined;
    stages.push({
      index: step.index + 1,
      name: stage.name,
      stage: step.node?.stage.name ?? stage.name,
      parent: step.node?.parent?.name ?? null,
      path: step.path,
      fork: step.node ? step.node.children.filter((c) => tplan.byName.has(c.name)).length > 1 : false,
      ...(step.node?.variant ? { variant: Object.fromEntries(step.node.variant) } : {}),
      action: claim ? 'wait' : action,
      ...(claim ? { waitFor: `${claim.what}, pid ${claim.pid} on ${claim.host}` } : {}),
      playbook: stage.playbook ?? null,
      ...(stage.run !== undefined ? { run: stage.run } : {}),
      hosts: { patterns: stage.hosts, selected: stage.run !== undefined ? [] : selectHosts(s.lab, stage.hosts).map((h) => h.name) },
      checkpoint: step.checkpoint,
      always: stage.always,
      voting: step.node ? step.node.voting : stage.voting,
      retries: stage.retries ?? 0,
      timeoutMs: stage.timeoutMs ?? null,
      ...(checkpoint ? { key: checkpoint } : {}),
    });
  }
  const jobs: PlanJobJson[] = tplan.jobs.map((j) => ({ name: j.name, nodes: j.nodes.map((n) => n.name), start: j.start?.name ?? null }));
  return {
      version: 1,
      scenario: { name: s.name, description: s.description, file: s.file },
      lab: { provider: s.spec.provider, hosts: s.lab.hosts.map((h) => h.name) },
      checkpoints: o.checkpoints,
      ...(note ? { note: note.trim() } : {}),
      tree: !tplan.line,
      stages,
      jobs,
      always: tplan.tree.always.map((a) => a.name),
    };
}

/** Prints one scenario's plan; `pad` indents it (a job of a pipeline). */
async function printScenarioPlan(io: CliIO, doc: PlanJson, pad = ''): Promise<void> {
  const { formatDuration } = await import('../../scenario/index.js');
  const { commandText } = await import('../../stage-run/command.js');
  const { stages, jobs } = doc;
  const out = (text: string): void => io.out(text.replace(/^(?=.)/gm, pad));
  out(`scenario ${doc.scenario.name}: ${doc.scenario.description}\nlab: ${doc.lab.provider}, ${doc.lab.hosts.length} host(s): ${doc.lab.hosts.join(', ')}\n${doc.note ? `${doc.note}\n` : ''}\n`);
  if (doc.tree) out(`a tree of ${stages.length} node(s), ${jobs.length} job(s): ${jobs.map((j) => j.name).join(', ')}${doc.always.length ? `; at the end of every job: ${doc.always.join(', ')}` : ''}\n\n`);
  for (const st of stages) {
    const depth = doc.tree ? st.path.length - 1 : 0;
    const indent = '  '.repeat(depth);
    const lead = `${String(st.index).padStart(2)}. ${indent}${depth ? '└ ' : ''}${st.name.padEnd(Math.max(1, 14 - indent.length))}`;
    if (st.sharedWith) {
      out(`${lead} shared with ${st.sharedWith} (built once: shown there)\n`);
      continue;
    }
    const what = st.playbook ? path.relative(process.cwd(), st.playbook) : st.run !== undefined ? `run: ${commandText(st.run)} (on the controller)` : 'collect only';
    const flags = [
      st.fork && 'fork point',
      st.checkpoint && 'checkpoint',
      st.always && 'always',
      !st.voting && 'non-voting',
      st.retries && `retries ${st.retries}`,
      st.timeoutMs && `timeout ${formatDuration(st.timeoutMs)}`,
    ].filter(Boolean);
    const hostsLine = st.run !== undefined ? '' : `\n    ${indent}hosts: ${st.hosts.patterns.length ? st.hosts.patterns.join(', ') : 'all'} -> ${st.hosts.selected.join(', ') || '(none)'}`;
    out(`${lead} ${ACTION_WORDS[st.action].padEnd(20)} ${what}${hostsLine}${flags.length ? `\n    ${indent}${flags.join(', ')}` : ''}\n`);
    if (st.waitFor) out(`    ${indent}built now by ${st.waitFor}: this run would wait and restore it\n`);
    const key = st.key;
    if (!key) continue;
    const state = {
      restore: `restored from it (taken ${key.taken})`,
      stored: 'stored (a later one is restored instead)',
      none: 'none stored yet',
      stale: `stored one no longer valid: ${key.changed?.join('; ') || 'inputs of an earlier stage changed'}`,
    }[key.state];
    out(`    ${indent}checkpoint ${key.key}: ${state}\n`);
    if (key.unresolved.length) out(`    ${indent}(not pinned to files: ${key.unresolved.join(', ')})\n`);
  }
}

/** One job of `plan --json` of a pipeline. */
interface PipelinePlanJobJson {
  id: string;
  voting: boolean;
  /** The tree's jobs it runs (empty: all). */
  jobs: string[];
  /** Extra vars of the job (from the pipeline file). */
  vars: Vars;
  plan: PlanJson;
}

/** The document `harness plan PIPELINE --json` (or of several scenarios) prints (version 1, docs/cli-json.md). */
interface PipelinePlanJson {
  version: 1;
  pipeline: { name: string; description: string; file: string };
  checkpoints: boolean;
  steps: { name: string; jobs: PipelinePlanJobJson[] }[];
}

/**
 * The merged forest of a pipeline: each job's plan, with the keys every job has in common with
 * another checkpointed (as the run does), and a node whose key an earlier job (in pipeline order)
 * shows already marked `sharedWith` it instead of shown again.
 */
async function pipelinePlan(files: string[], o: Omit<PlanInput, 'jobs' | 'sharedKeys'>): Promise<PipelinePlanJson> {
  const { loadPipeline, isPipelineFile, pipelineOf } = await import('../../pipeline/load.js');
  const { loadScenario } = await import('../../scenario/index.js');
  let pipeline;
  if (files.length === 1) pipeline = await loadPipeline(files[0]!);
  else {
    const scenarios = [];
    for (const f of files) {
      if (await isPipelineFile(f)) throw new InputError(`${f} is a pipeline file: plan it alone (harness plan ${f})`);
      scenarios.push(await loadScenario(f));
    }
    pipeline = pipelineOf(scenarios);
  }
  const varsOf = (v: Vars): Vars => ({ ...v, ...o.extraVars });
  let shared: ReadonlySet<string> | undefined;
  if (o.checkpoints) {
    const { sharedKeys } = await import('../../engine/shared.js');
    shared = await sharedKeys(pipeline.steps.flatMap((st) => st.jobs.map((j) => ({ scenario: j.scenario, extraVars: varsOf(j.vars), jobs: j.jobs }))), { env: o.env }).catch(() => undefined);
  }
  const firstBy = new Map<string, string>();
  const steps: PipelinePlanJson['steps'] = [];
  for (const step of pipeline.steps) {
    const jobs: PipelinePlanJobJson[] = [];
    for (const j of step.jobs) {
      const plan = await scenarioPlan(j.scenario, { ...o, jobs: j.jobs, extraVars: varsOf(j.vars), sharedKeys: shared });
      for (const st of plan.stages) {
        const key = st.key?.key;
        if (!key || st.action === 'skip-after-until' || st.action === 'skip-before-from') continue;
        const first = firstBy.get(key);
        if (first !== undefined) st.sharedWith = first;
        else firstBy.set(key, j.id);
      }
      jobs.push({ id: j.id, voting: j.voting, jobs: j.jobs, vars: j.vars, plan });
    }
    steps.push({ name: step.name, jobs });
  }
  return { version: 1, pipeline: { name: pipeline.name, description: pipeline.description, file: pipeline.file }, checkpoints: o.checkpoints, steps };
}

const plan: Command = {
  command: 'plan <scenario> [more..]',
  describe: 'Show the stages in order, their hosts and playbooks, and which checkpoints a run would restore; of a pipeline file (or several scenarios) the merged forest',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file, or a pipeline file' })
      .positional('more', { type: 'string', array: true, describe: 'More scenario files, planned as one pipeline step' })
      .option('extra-var', { alias: 'e', type: 'string', requiresArg: true, describe: "KEY=VALUE, @FILE or '{...}', as the run would get it" })
      .option('from', { type: 'string', describe: 'Start at this stage' })
      .option('until', { type: 'string', describe: 'Stop after this stage' })
      .option('job', { type: 'string', array: true, requiresArg: true, describe: 'Only this job (a leaf of the tree; repeatable)' })
      .option('checkpoints', { type: 'boolean', default: true, describe: '--no-checkpoints: plan a run that neither restores nor takes any' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON (docs/cli-json.md)' }),
  async run(args, io) {
    const { parseExtraVars } = await import('../extra-vars.js');
    const vars = parseExtraVars(args.extraVar as string | string[] | undefined);
    const files = [args.scenario as string, ...((args.more as string[] | undefined) ?? [])];
    const { isPipelineFile } = await import('../../pipeline/load.js');
    const input = { from: args.from as string | undefined, until: args.until as string | undefined, extraVars: vars, checkpoints: Boolean(args.checkpoints), env: io.env };
    if (files.length > 1 || (await isPipelineFile(files[0]!))) {
      for (const flag of ['from', 'until', 'job'] as const) {
        if (args[flag] !== undefined) throw new InputError(`--${flag} goes with one scenario; a pipeline names its jobs in its file (job: [LEAF...])`);
      }
      const doc = await pipelinePlan(files, input);
      if (args.json) {
        io.out(`${JSON.stringify(doc, null, 2)}\n`);
        return 0;
      }
      const count = doc.steps.reduce((n, st) => n + st.jobs.length, 0);
      io.out(`pipeline ${doc.pipeline.name}${doc.pipeline.description ? `: ${doc.pipeline.description}` : ''}\n${doc.steps.length} step(s) in order, ${count} job(s); a failing voting job stops the later steps; a node shared by jobs is built once\n\n`);
      for (const step of doc.steps) {
        io.out(`step ${step.name}\n`);
        for (const j of step.jobs) {
          io.out(`  job ${j.id}${j.jobs.length ? ` (--job ${j.jobs.join(', ')})` : ''}${j.voting ? '' : ' non-voting'}\n`);
          await printScenarioPlan(io, j.plan, '    ');
          io.out('\n');
        }
      }
      return 0;
    }
    const { loadScenario } = await import('../../scenario/index.js');
    const s = await loadScenario(files[0]!);
    const doc = await scenarioPlan(s, { ...input, jobs: (args.job as string[] | undefined) ?? [] });
    if (args.json) {
      io.out(`${JSON.stringify(doc, null, 2)}\n`);
      return 0;
    }
    await printScenarioPlan(io, doc);
    return 0;
  },
};
export default plan;
