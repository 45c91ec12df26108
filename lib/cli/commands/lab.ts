import type { Command } from '../command.js';
import { EXIT, InputError } from '../../errors.js';

const ACTIONS = ['up', 'list', 'login', 'run', 'down'] as const;

const USAGE = `harness lab up SCENARIO [--until STAGE | --from STAGE | --failed RUN_DIR | --checkpoint KEY] [--name NAME]
harness lab list [--json]
harness lab login NAME [HOST] [-- COMMAND...]
harness lab run NAME -- ansible-playbook PLAYBOOK.yml [ARGS...]
harness lab down NAME`;

/** The words after `--` (yargs keeps them apart with populate--). */
function rest(args: Record<string, unknown>): string[] {
  return ((args['--'] as unknown[] | undefined) ?? []).map(String);
}

function one<T>(flags: Record<string, T | undefined>): [string, T] | undefined {
  const given = Object.entries(flags).filter(([, v]) => v !== undefined) as [string, T][];
  if (given.length > 1) throw new InputError(`harness lab up: give one of ${given.map(([k]) => `--${k}`).join(', ')}, not several`);
  return given[0];
}

const lab: Command = {
  command: 'lab <action> [args..]',
  describe: 'Debug sessions: bring a lab up in a failed run\'s state (or any checkpoint), log in, run playbooks against it, release it',
  builder: (y) =>
    y
      .parserConfiguration({ 'populate--': true })
      .positional('action', { type: 'string', choices: ACTIONS as unknown as string[], describe: 'up | list | login | run | down' })
      .positional('args', { type: 'string', array: true, describe: 'up: SCENARIO; login: NAME [HOST]; run, down: NAME' })
      .option('until', { type: 'string', describe: 'up: the state after this stage (its checkpoint, else the stages run up to it)' })
      .option('from', { type: 'string', describe: 'up: the state this stage starts from' })
      .option('failed', { type: 'string', describe: 'up: the failed state a run directory kept (--keep-failed)' })
      .option('checkpoint', { type: 'string', describe: 'up: this checkpoint (a key, or a unique prefix of one)' })
      .option('name', { type: 'string', describe: 'up: the name of the lab (default <scenario>-N)' })
      .option('json', { type: 'boolean', default: false, describe: 'list: as JSON (docs/cli-json.md)' })
      .epilogue(USAGE),
  async run(args, io) {
    const words = ((args.args as unknown[] | undefined) ?? []).map(String);
    const action = args.action as (typeof ACTIONS)[number];
    const need = (n: number, what: string) => {
      if (words.length < n || words.length > n + (action === 'login' ? 1 : 0)) throw new InputError(`harness lab ${action}: ${what}\nUsage:\n${USAGE}`);
    };
    const env = io.env;
    if (action === 'up') {
      need(1, 'name the scenario file');
      const { loadScenario } = await import('../../scenario/index.js');
      const { labUp, describeUpLab } = await import('../../lab-up/up.js');
      const { withConsoleRun } = await import('../run-io.js');
      const scenario = await loadScenario(words[0]!);
      const picked = one({ until: args.until as string | undefined, from: args.from as string | undefined, failed: args.failed as string | undefined, checkpoint: args.checkpoint as string | undefined });
      const source = !picked ? { kind: 'fresh' as const } : picked[0] === 'failed' ? { kind: 'failed' as const, runDir: picked[1] } : picked[0] === 'checkpoint' ? { kind: 'checkpoint' as const, key: picked[1] } : { kind: picked[0] as 'until' | 'from', stage: picked[1] };
      const { lab: up, result } = await withConsoleRun(io, (console) => labUp(scenario, source, console, { ...(args.name ? { name: args.name as string } : {}) }));
      if (result.status === 'failed') io.out(`harness: ${result.reason}: the lab is as that stage left it\n`);
      io.out(describeUpLab(up));
      return EXIT.ok;
    }
    if (action === 'list') {
      need(0, 'takes no arguments');
      const { listUpLabs, upLabsDir, upState } = await import('../../lab-up/record.js');
      const { sshCommand } = await import('../../lab-up/up.js');
      const { formatDuration } = await import('../../util/duration.js');
      const labs = await listUpLabs(env);
      const rows = await Promise.all(labs.map(async (l) => ({ lab: l, state: await upState(l), ageMs: Math.max(0, Date.now() - Date.parse(l.created)) })));
      if (args.json) {
        const doc = {
          version: 1, root: upLabsDir(env),
          labs: rows.map(({ lab: l, state, ageMs }) => ({
            name: l.name, scenario: l.scenario.name, scenarioFile: l.scenario.file, provider: l.provider, state, created: l.created, ageSeconds: Math.round(ageMs / 1000), from: l.from,
            runDir: l.runDir ?? null, inventory: l.inventory ?? null, ansibleConfig: l.ansibleConfig ?? null,
            hosts: l.hosts.map((h) => ({ name: h.name, ...(h.lab ? { lab: h.lab } : {}), address: h.address, port: h.port, user: h.user, key: h.key ?? null, ...(h.root ? { root: h.root } : {}), ssh: sshCommand(h, l.knownHosts) })),
          })),
        };
        io.out(`${JSON.stringify(doc, null, 2)}\n`);
        return EXIT.ok;
      }
      if (!rows.length) {
        io.out('no lab is up (harness lab up SCENARIO)\n');
        return EXIT.ok;
      }
      const table = [['NAME', 'SCENARIO', 'STATE', 'AGE', 'HOSTS'], ...rows.map(({ lab: l, state, ageMs }) => [l.name, l.scenario.name, state, formatDuration(ageMs), l.hosts.map((h) => h.name).join(',') || '-'])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
      for (const r of table) io.out(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
      return EXIT.ok;
    }
    if (action === 'down') {
      need(1, 'name the lab (harness lab list)');
      const { labDown } = await import('../../lab-up/use.js');
      const r = await labDown(words[0]!, env);
      io.out(`lab ${r.name} released${r.released.length ? `: ${r.released.join(', ')}` : ''}\n`);
      return EXIT.ok;
    }
    const { usableLab, pickHost, sshArgv, runAttached, exitOf, labEnv } = await import('../../lab-up/use.js');
    if (action === 'login') {
      need(1, 'name the lab (harness lab list), and a host if not the first');
      const up = await usableLab(words[0]!, env);
      const host = pickHost(up, words[1]);
      const command = rest(args);
      const r = await runAttached(['ssh', ...sshArgv(up, host, command, io.isTTY)], env);
      return exitOf(r, command.length ? `'${command.join(' ')}' on ${host.name}` : `ssh to ${host.name}`, io.err, true);
    }
    need(1, 'name the lab, then the command after --: harness lab run NAME -- ansible-playbook PLAYBOOK.yml');
    const command = rest(args);
    if (!command.length) throw new InputError(`harness lab run ${words[0]}: give the command after --: harness lab run ${words[0]} -- ansible-playbook PLAYBOOK.yml`);
    const up = await usableLab(words[0]!, env);
    const r = await runAttached(command, labEnv(up, env));
    return exitOf(r, `'${command.join(' ')}'`, io.err);
  },
};
export default lab;
