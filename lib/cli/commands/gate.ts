import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { EXIT, InputError } from '../../errors.js';
import { probeOptions } from '../queue-run.js';
import type { ProbeRecord } from '../../queue/search.js';
import type { GateDoc, ProbeDoc } from '../../queue/report.js';

/** The earlier gate's probes, but the ones of change `id`: results to keep for `--retry id`. */
async function keptProbes(out: string, id: string, ids: readonly string[]): Promise<{ kept: ProbeDoc[]; lastRun: number }> {
  const file = path.join(out, 'gate.json');
  let doc: GateDoc;
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as GateDoc;
  } catch (err) {
    throw new InputError(`--retry ${id}: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): --retry reruns one change of an earlier gate; name its folder with --out`);
  }
  const { GATE_FORMAT } = await import('../../queue/report.js');
  if (doc.format !== GATE_FORMAT || !Array.isArray(doc.probes)) throw new InputError(`--retry ${id}: ${file} is no gate result (format '${String(doc.format)}', expected '${GATE_FORMAT}')`);
  if (!ids.includes(id)) throw new InputError(`--retry ${id}: no change of the queue has that id; the ids are: ${ids.join(' ')}`);
  return { kept: doc.probes.filter((p) => p.applied[p.applied.length - 1] !== id), lastRun: Math.max(0, ...doc.probes.map((p) => p.run)) };
}

const gate: Command = {
  command: 'gate <scenario>',
  describe: 'Gate a queue of changes speculatively: each tested on top of those ahead that merge; the failing ones rejected',
  builder: (y) =>
    probeOptions(
      y
        .positional('scenario', { type: 'string', describe: 'Scenario file' })
        .option('changes', { type: 'string', demandOption: true, describe: 'A YAML/JSON list of changes, queue order: {id, description?, vars?, files?, depends?}' })
        .option('jobs', { type: 'number', default: 1, describe: 'Changes tested at once (each on its own lab)' })
        .option('retry', { type: 'string', describe: "Rerun one change's probe of the gate in --out, keeping every other result" }),
    ),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    const { loadChanges } = await import('../../queue/changes.js');
    const { gateQueue, setKey } = await import('../../queue/gate.js');
    const { gateDoc, gateSummary, writeGate } = await import('../../queue/report.js');
    const { checkTools, jobsArg, outputFolder, runSearch } = await import('../queue-run.js');
    const { parseExtraVars } = await import('../extra-vars.js');
    const extraVars = parseExtraVars(args.extraVar as string | string[] | undefined);
    const jobs = jobsArg(args);
    const retry = args.retry as string | undefined;
    if (retry !== undefined && args.out === undefined) throw new InputError('--retry ID reruns one change of an earlier gate: name its folder with --out');
    const file = args.scenario as string;
    const scenario = await loadScenario(file);
    const changes = await loadChanges(args.changes as string);
    await checkTools(io.env);
    const folder = retry !== undefined ? path.resolve(args.out as string) : await outputFolder(args, scenario, 'gate');
    const { kept, lastRun } = retry !== undefined ? await keptProbes(folder, retry, changes.map((c) => c.id)) : { kept: [], lastRun: 0 };
    const known = new Map<string, ProbeRecord>(
      kept.map((p) => [setKey(p.applied), { status: p.status, applied: p.applied, run: p.run, ...(p.stage ? { stage: p.stage } : {}), ...(p.message ? { message: p.message } : {}), ...(p.run_dir ? { runDir: path.resolve(folder, p.run_dir) } : {}) }]),
    );
    const source = { kind: 'changes' as const, scenarioFile: scenario.file, changes };
    io.out(`gate: ${changes.length} change(s) of ${file}${retry !== undefined ? `, rerunning ${retry}` : ''}; results in ${folder}\n`);
    let ran: ProbeRecord[] = [];
    const result = await runSearch(
      io,
      source,
      args,
      folder,
      (probe, signal) => {
        ran = probe.finished;
        return gateQueue(changes, probe.probe, { jobs, known, signal });
      },
      () => writeGate(folder, gateDoc(file, changes, folder, ran, undefined, kept)),
      { firstNumber: lastRun + 1, extraVars },
    );
    const doc = gateDoc(file, changes, folder, ran, result, kept);
    await writeGate(folder, doc);
    for (const line of gateSummary(doc)) io.out(`${line}\n`);
    io.out(`results: ${folder}/ (gate.json, junit.xml, report.html, probes/)\n`);
    if (ran.length && ran.every((p) => p.status === 'untestable')) return EXIT.lab;
    return doc.rejected.length ? EXIT.stageFailed : EXIT.ok;
  },
};
export default gate;
