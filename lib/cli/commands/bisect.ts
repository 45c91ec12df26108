import type { Command } from '../command.js';
import { EXIT, InputError } from '../../errors.js';
import { probeOptions } from '../queue-run.js';

const bisect: Command = {
  command: 'bisect <scenario>',
  describe: 'Find the change that broke the scenario: real runs of it over --git GOOD..BAD or a --changes FILE',
  builder: (y) =>
    probeOptions(
      y
        .positional('scenario', { type: 'string', describe: 'Scenario file (with --git: in the repository, read from each commit)' })
        .option('git', { type: 'string', describe: 'GOOD..BAD: the commits of the repository holding the scenario, oldest first; GOOD passes' })
        .option('changes', { type: 'string', describe: 'A YAML/JSON list of changes, oldest first: {id, description?, vars?, files?, depends?}' })
        .option('jobs', { type: 'number', default: 1, describe: 'Prefixes probed at once (n-ary search), each on its own lab' })
        .option('confirm', { type: 'number', default: 1, describe: "Extra failing runs of a culprit's prefix before it is blamed (flaky tests)" })
        .option('check-base', { type: 'boolean', default: false, describe: 'Probe the base (no change) too; exit 2 if it fails' })
        .option('fail-on-culprit', { type: 'boolean', default: false, describe: 'Exit 1 when a culprit was found' }),
    ),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    const { loadChanges } = await import('../../queue/changes.js');
    const { readGitQueue } = await import('../../queue/git.js');
    const { queueChanges } = await import('../../queue/probe.js');
    const { findCulprits } = await import('../../queue/search.js');
    const { bisectDoc, bisectSummary, writeBisect } = await import('../../queue/report.js');
    const { checkTools, jobsArg, outputFolder, runSearch } = await import('../queue-run.js');
    const { parseExtraVars } = await import('../extra-vars.js');
    const extraVars = parseExtraVars(args.extraVar as string | string[] | undefined);
    if ((args.git === undefined) === (args.changes === undefined)) throw new InputError('harness bisect: give the changes to search: --git GOOD..BAD or --changes FILE (one of them)');
    const jobs = jobsArg(args);
    const confirm = args.confirm as number;
    if (!Number.isInteger(confirm) || confirm < 0 || confirm > 10) throw new InputError(`--confirm ${String(args.confirm)}: give a whole number of extra runs, 0 to 10`);
    const file = args.scenario as string;
    const scenario = await loadScenario(file);
    const source =
      args.git !== undefined
        ? { kind: 'git' as const, queue: await readGitQueue(file, args.git as string) }
        : { kind: 'changes' as const, scenarioFile: scenario.file, changes: await loadChanges(args.changes as string) };
    const changes = source.kind === 'git' ? source.queue.changes : source.changes;
    await checkTools(io.env);
    const out = await outputFolder(args, scenario, 'bisect');
    io.out(`bisect: ${changes.length} change(s) of ${file}; results in ${out}\n`);
    let ran: import('../../queue/search.js').ProbeRecord[] = [];
    const started = Date.now();
    const timing = (): { jobs: number; wallMs: number } => ({ jobs, wallMs: Date.now() - started });
    const result = await runSearch(
      io,
      source,
      args,
      out,
      (probe, signal) => {
        ran = probe.finished;
        return findCulprits(queueChanges(source), probe.probe, { confirm, jobs, checkBase: args.checkBase as boolean, signal });
      },
      () => writeBisect(out, bisectDoc(file, changes, out, ran, undefined, timing())),
      { extraVars },
    );
    const doc = bisectDoc(file, changes, out, ran, result, timing());
    await writeBisect(out, doc);
    for (const line of bisectSummary(doc)) io.out(`${line}\n`);
    io.out(`results: ${out}/ (bisect.json, junit.xml, report.html, probes/)\n`);
    if (ran.length && ran.every((p) => p.status === 'untestable')) return EXIT.lab;
    return doc.culprits.length && args.failOnCulprit ? EXIT.stageFailed : EXIT.ok;
  },
};
export default bisect;
