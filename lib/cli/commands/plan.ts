import path from 'node:path';
import type { Command } from '../main.js';
import { loadScenario, formatDuration } from '../../scenario/index.js';
import { planRun } from '../../engine/plan.js';
import { selectHosts } from '../../engine/patterns.js';

const plan: Command = {
  command: 'plan <scenario>',
  describe: 'Show the stages in order, their hosts and playbooks, and what a run would do',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file' })
      .option('from', { type: 'string', describe: 'Start at this stage' })
      .option('until', { type: 'string', describe: 'Stop after this stage' }),
  async run(args, io) {
    const s = await loadScenario(args.scenario as string);
    const steps = planRun(s, { from: args.from as string | undefined, until: args.until as string | undefined });
    io.out(`scenario ${s.name}: ${s.description}\nlab: ${s.spec.provider}, ${s.lab.hosts.length} host(s): ${s.lab.hosts.map((h) => h.name).join(', ')}\n\n`);
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
      const act = action === 'run' ? 'run' : action === 'skip-before-from' ? 'skip (before --from)' : 'skip (after --until)';
      io.out(`${String(stage.index + 1).padStart(2)}. ${stage.name.padEnd(14)} ${act.padEnd(20)} ${what}\n    hosts: ${stage.hosts.length ? stage.hosts.join(', ') : 'all'} -> ${hosts.join(', ') || '(none)'}${flags.length ? `\n    ${flags.join(', ')}` : ''}\n`);
    }
    return 0;
  },
};
export default plan;
