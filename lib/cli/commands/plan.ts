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

/** One stage in `plan --json`. */
interface PlanStageJson {
  index: number;
  name: string;
  action: StepAction;
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

/** The document `harness plan --json` prints (version 1, docs/cli-json.md). */
interface PlanJson {
  version: 1;
  scenario: { name: string; description: string; file: string };
  lab: { provider: string; hosts: string[] };
  checkpoints: boolean;
  note?: string;
  stages: PlanStageJson[];
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
      .option('checkpoints', { type: 'boolean', default: true, describe: '--no-checkpoints: plan a run that neither restores nor takes any' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON (docs/cli-json.md)' }),
  async run(args, io) {
    const { loadScenario, formatDuration } = await import('../../scenario/index.js');
    const { selectHosts } = await import('../../inventory/patterns.js');
    const { whyStale } = await import('../../engine/checkpoints.js');
    const { prepareRun } = await import('../../engine/prepare-run.js');
    const { commandText } = await import('../../stage-run/command.js');
    const { parseExtraVars } = await import('../extra-vars.js');
    const vars = parseExtraVars(args.extraVar as string | string[] | undefined);
    const s = await loadScenario(args.scenario as string);
    const from = args.from as string | undefined;
    const until = args.until as string | undefined;
    const { ansible, ckpt, plan: steps } = await prepareRun(s, { from, until, extraVars: vars, checkpoints: args.checkpoints as boolean, env: io.env, ansibleOptional: true });
    const note = ckpt && !ansible ? 'ansible-playbook not found: checkpoint keys include its version, so they are shown without it\n' : '';
    const stages: PlanStageJson[] = [];
    for (const { stage, action } of steps) {
      let checkpoint: PlanCheckpointJson | null = null;
      if (ckpt && stage.checkpoint) {
        const key = ckpt.keys[stage.index]!;
        const base = { key: key.key, unresolved: key.unresolved };
        if (ckpt.restore && stage.index === ckpt.restore.index) checkpoint = { ...base, state: 'restore', taken: ckpt.restore.info.created };
        else if (await ckpt.store.find(s.name, key.key)) checkpoint = { ...base, state: 'stored' };
        else {
          const why = await whyStale(ckpt.store, s, key);
          checkpoint = why === undefined ? { ...base, state: 'none' } : { ...base, state: 'stale', changed: why };
        }
      }
      stages.push({
        index: stage.index + 1,
        name: stage.name,
        action,
        playbook: stage.playbook ?? null,
        ...(stage.run !== undefined ? { run: stage.run } : {}),
        hosts: { patterns: stage.hosts, selected: stage.run !== undefined ? [] : selectHosts(s.lab, stage.hosts).map((h) => h.name) },
        checkpoint: stage.checkpoint,
        always: stage.always,
        voting: stage.voting,
        retries: stage.retries ?? 0,
        timeoutMs: stage.timeoutMs ?? null,
        ...(checkpoint ? { key: checkpoint } : {}),
      });
    }
    if (args.json) {
      const doc: PlanJson = {
        version: 1,
        scenario: { name: s.name, description: s.description, file: s.file },
        lab: { provider: s.spec.provider, hosts: s.lab.hosts.map((h) => h.name) },
        checkpoints: Boolean(args.checkpoints),
        ...(note ? { note: note.trim() } : {}),
        stages,
      };
      io.out(`${JSON.stringify(doc, null, 2)}\n`);
      return 0;
    }
    io.out(`scenario ${s.name}: ${s.description}\nlab: ${s.spec.provider}, ${s.lab.hosts.length} host(s): ${s.lab.hosts.map((h) => h.name).join(', ')}\n${note}\n`);
    for (const st of stages) {
      const what = st.playbook ? path.relative(process.cwd(), st.playbook) : st.run !== undefined ? `run: ${commandText(st.run)} (on the controller)` : 'collect only';
      const flags = [
        st.checkpoint && 'checkpoint',
        st.always && 'always',
        !st.voting && 'non-voting',
        st.retries && `retries ${st.retries}`,
        st.timeoutMs && `timeout ${formatDuration(st.timeoutMs)}`,
      ].filter(Boolean);
      io.out(`${String(st.index).padStart(2)}. ${st.name.padEnd(14)} ${ACTION_WORDS[st.action].padEnd(20)} ${what}${st.run !== undefined ? '' : `\n    hosts: ${st.hosts.patterns.length ? st.hosts.patterns.join(', ') : 'all'} -> ${st.hosts.selected.join(', ') || '(none)'}`}${flags.length ? `\n    ${flags.join(', ')}` : ''}\n`);
      const key = st.key;
      if (!key) continue;
      const state = {
        restore: `restored from it (taken ${key.taken})`,
        stored: 'stored (a later one is restored instead)',
        none: 'none stored yet',
        stale: `stored one no longer valid: ${key.changed?.join('; ') || 'inputs of an earlier stage changed'}`,
      }[key.state];
      io.out(`    checkpoint ${key.key}: ${state}\n`);
      if (key.unresolved.length) io.out(`    (not pinned to files: ${key.unresolved.join(', ')})\n`);
    }
    return 0;
  },
};
export default plan;
