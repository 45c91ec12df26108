import path from 'node:path';
import type { Command } from '../command.js';
import { InputError } from '../../errors.js';

const ACTION_WORDS = { run: 'run', restore: 'restore', 'skip-before-from': 'skip (before --from)', 'skip-after-until': 'skip (after --until)' } as const;

const plan: Command = {
  command: 'plan <scenario>',
  describe: 'Show the stages in order, their hosts and playbooks, and which checkpoints a run would restore',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file' })
      .option('extra-var', { alias: 'e', type: 'string', array: true, default: [], describe: 'KEY=VALUE, as the run would get it' })
      .option('from', { type: 'string', describe: 'Start at this stage' })
      .option('until', { type: 'string', describe: 'Stop after this stage' })
      .option('checkpoints', { type: 'boolean', default: true, describe: '--no-checkpoints: plan a run that neither restores nor takes any' }),
  async run(args, io) {
    const { loadScenario, formatDuration } = await import('../../scenario/index.js');
    const { selectHosts } = await import('../../engine/patterns.js');
    const { whyStale } = await import('../../engine/checkpoints.js');
    const { prepareRun } = await import('../../engine/prepare-run.js');
    const { parseOverrides } = await import('../../engine/vars.js');
    const s = await loadScenario(args.scenario as string);
    const { vars, bad } = parseOverrides(args.extraVar as string[]);
    if (bad.length) throw new InputError(`-e ${bad[0]}: expected KEY=VALUE`);
    const from = args.from as string | undefined;
    const until = args.until as string | undefined;
    const { ansible, ckpt, plan: steps } = await prepareRun(s, { from, until, extraVars: vars, checkpoints: args.checkpoints as boolean, env: io.env, ansibleOptional: true });
    const note = ckpt && !ansible ? 'ansible-playbook not found: checkpoint keys include its version, so they are shown without it\n' : '';
    io.out(`scenario ${s.name}: ${s.description}\nlab: ${s.spec.provider}, ${s.lab.hosts.length} host(s): ${s.lab.hosts.map((h) => h.name).join(', ')}\n${note}\n`);
    for (const { stage, action } of steps) {
      const hosts = selectHosts(s.lab, stage.hosts).map((h) => h.name);
      const what = stage.playbook ? path.relative(process.cwd(), stage.playbook) : 'collect only';
      const flags = [
        stage.checkpoint && 'checkpoint',
        stage.always && 'always',
        !stage.voting && 'non-voting',
        stage.retries && `retries ${stage.retries}`,
        stage.timeoutMs && `timeout ${formatDuration(stage.timeoutMs)}`,
      ].filter(Boolean);
      io.out(`${String(stage.index + 1).padStart(2)}. ${stage.name.padEnd(14)} ${ACTION_WORDS[action].padEnd(20)} ${what}\n    hosts: ${stage.hosts.length ? stage.hosts.join(', ') : 'all'} -> ${hosts.join(', ') || '(none)'}${flags.length ? `\n    ${flags.join(', ')}` : ''}\n`);
      if (!ckpt || !stage.checkpoint) continue;
      const key = ckpt.keys[stage.index]!;
      if (ckpt.restore && stage.index === ckpt.restore.index) {
        io.out(`    checkpoint ${key.key}: restored from it (taken ${ckpt.restore.info.created})\n`);
      } else if (await ckpt.store.find(s.name, key.key)) {
        io.out(`    checkpoint ${key.key}: stored (a later one is restored instead)\n`);
      } else {
        const why = await whyStale(ckpt.store, s, key);
        io.out(`    checkpoint ${key.key}: ${why === undefined ? 'none stored yet' : `stored one no longer valid: ${why.join('; ') || 'inputs of an earlier stage changed'}`}\n`);
      }
      if (key.unresolved.length) io.out(`    (not pinned to files: ${key.unresolved.join(', ')})\n`);
    }
    return 0;
  },
};
export default plan;
