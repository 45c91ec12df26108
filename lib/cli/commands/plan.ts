import path from 'node:path';
import type { Command } from '../command.js';
import type { StepAction } from '../../engine/plan.js';

const ACTION_WORDS = { run: 'run', restore: 'restore', 'skip-before-from': 'skip (before --from)', 'skip-after-until': 'skip (after --until)' } as const;

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
  action: StepAction;
  playbook: string | null;
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

const plan: Command = {
  command: 'plan <scenario>',
  describe: 'Show the stages in order, their hosts and playbooks, and which checkpoints a run would restore',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file' })
      .option('extra-var', { alias: 'e', type: 'string', requiresArg: true, describe: "KEY=VALUE, @FILE or '{...}', as the run would get it" })
      .option('from', { type: 'string', describe: 'Start at this stage' })
      .option('until', { type: 'string', describe: 'Stop after this stage' })
      .option('job', { type: 'string', array: true, requiresArg: true, describe: 'Only this job (a leaf of the tree; repeatable)' })
      .option('checkpoints', { type: 'boolean', default: true, describe: '--no-checkpoints: plan a run that neither restores nor takes any' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON (docs/cli-json.md)' }),
  async run(args, io) {
    const { loadScenario, formatDuration } = await import('../../scenario/index.js');
    const { selectHosts } = await import('../../inventory/patterns.js');
    const { whyStale } = await import('../../engine/checkpoints.js');
    const { prepareRun } = await import('../../engine/prepare-run.js');
    const { parseExtraVars } = await import('../extra-vars.js');
    const vars = parseExtraVars(args.extraVar as string | string[] | undefined);
    const s = await loadScenario(args.scenario as string);
    const from = args.from as string | undefined;
    const until = args.until as string | undefined;
    const { ansible, ckpt, plan: tplan } = await prepareRun(s, { jobs: (args.job as string[] | undefined) ?? [], from, until, extraVars: vars, checkpoints: args.checkpoints as boolean, env: io.env, ansibleOptional: true });
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
      stages.push({
        index: step.index + 1,
        name: stage.name,
        stage: step.node?.stage.name ?? stage.name,
        parent: step.node?.parent?.name ?? null,
        path: step.path,
        fork: step.node ? step.node.children.filter((c) => tplan.byName.has(c.name)).length > 1 : false,
        ...(step.node?.variant ? { variant: Object.fromEntries(step.node.variant) } : {}),
        action,
        playbook: stage.playbook ?? null,
        hosts: { patterns: stage.hosts, selected: selectHosts(s.lab, stage.hosts).map((h) => h.name) },
        checkpoint: step.checkpoint,
        always: stage.always,
        voting: step.node ? step.node.voting : stage.voting,
        retries: stage.retries ?? 0,
        timeoutMs: stage.timeoutMs ?? null,
        ...(checkpoint ? { key: checkpoint } : {}),
      });
    }
    const jobs: PlanJobJson[] = tplan.jobs.map((j) => ({ name: j.name, nodes: j.nodes.map((n) => n.name), start: j.start?.name ?? null }));
    if (args.json) {
      const doc: PlanJson = {
        version: 1,
        scenario: { name: s.name, description: s.description, file: s.file },
        lab: { provider: s.spec.provider, hosts: s.lab.hosts.map((h) => h.name) },
        checkpoints: Boolean(args.checkpoints),
        ...(note ? { note: note.trim() } : {}),
        tree: !tplan.line,
        stages,
        jobs,
        always: tplan.tree.always.map((a) => a.name),
      };
      io.out(`${JSON.stringify(doc, null, 2)}\n`);
      return 0;
    }
    io.out(`scenario ${s.name}: ${s.description}\nlab: ${s.spec.provider}, ${s.lab.hosts.length} host(s): ${s.lab.hosts.map((h) => h.name).join(', ')}\n${note}\n`);
    if (!tplan.line) io.out(`a tree of ${stages.length} node(s), ${jobs.length} job(s): ${jobs.map((j) => j.name).join(', ')}${tplan.tree.always.length ? `; at the end of every job: ${tplan.tree.always.map((a) => a.name).join(', ')}` : ''}\n\n`);
    for (const st of stages) {
      const depth = tplan.line ? 0 : st.path.length - 1;
      const indent = '  '.repeat(depth);
      const what = st.playbook ? path.relative(process.cwd(), st.playbook) : 'collect only';
      const flags = [
        st.fork && 'fork point',
        st.checkpoint && 'checkpoint',
        st.always && 'always',
        !st.voting && 'non-voting',
        st.retries && `retries ${st.retries}`,
        st.timeoutMs && `timeout ${formatDuration(st.timeoutMs)}`,
      ].filter(Boolean);
      io.out(`${String(st.index).padStart(2)}. ${indent}${depth ? '└ ' : ''}${st.name.padEnd(Math.max(1, 14 - indent.length))} ${ACTION_WORDS[st.action].padEnd(20)} ${what}\n    ${indent}hosts: ${st.hosts.patterns.length ? st.hosts.patterns.join(', ') : 'all'} -> ${st.hosts.selected.join(', ') || '(none)'}${flags.length ? `\n    ${indent}${flags.join(', ')}` : ''}\n`);
      const key = st.key;
      if (!key) continue;
      const state = {
        restore: `restored from it (taken ${key.taken})`,
        stored: 'stored (a later one is restored instead)',
        none: 'none stored yet',
        stale: `stored one no longer valid: ${key.changed?.join('; ') || 'inputs of an earlier stage changed'}`,
      }[key.state];
      io.out(`    ${indent}checkpoint ${key.key}: ${state}\n`);
      if (key.unresolved.length) io.out(`    ${indent}(not pinned to files: ${key.unresolved.join(', ')})\n`);
    }
    return 0;
  },
};
export default plan;
