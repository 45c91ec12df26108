import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { EXIT, InputError } from '../../errors.js';

/** Throws InputError unless `dir` is a run directory (it holds a journal, a manifest or a lab record). */
function checkRunDir(dir: string): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st) throw new InputError(`${dir}: no such run directory (name one under runs/<scenario>/, or an up lab: harness lab list)`);
  if (!st.isDirectory()) throw new InputError(`${dir}: not a directory; name a run directory (runs/<scenario>/<run id>)`);
  if (!['journal.json', 'manifest.json', 'lab.json'].some((f) => existsSync(path.join(dir, f)))) {
    throw new InputError(`${dir}: not a run directory (no journal.json, manifest.json or lab.json in it)`);
  }
}

const cleanup: Command = {
  command: 'cleanup [target]',
  describe: 'Release what a crashed run left allocated (sshd hosts, VMs), from its run directory; an up lab by name; without one, the up labs whose harness lab up crashed',
  builder: (y) =>
    y
      .positional('target', { type: 'string', describe: 'A run directory, or the name of an up lab (harness lab list)' })
      .option('all-labs', { type: 'boolean', default: false, describe: 'Without a target: release every up lab, not only the crashed ones' }),
  async run(args, io) {
    const target = args.target as string | undefined;
    const { labDown, releaseUpLabs, upLabOfRun } = await import('../../lab-up/use.js');
    if (target === undefined) {
      const { down, still } = await releaseUpLabs(io.env, { all: args.allLabs as boolean });
      for (const d of down) io.out(`lab ${d.name} released${d.released.length ? `: ${d.released.join(', ')}` : ''}\n`);
      if (!down.length) io.out('no crashed up lab to release\n');
      if (still.length) io.out(`still up (harness lab down NAME, or cleanup --all-labs): ${still.map((s) => `${s.lab.name} (${s.state})`).join(', ')}\n`);
      return EXIT.ok;
    }
    if (!existsSync(target) && !target.includes('/')) {
      const { listUpLabs } = await import('../../lab-up/record.js');
      if ((await listUpLabs(io.env)).some((l) => l.name === target)) {
        const d = await labDown(target, io.env);
        io.out(`lab ${d.name} released${d.released.length ? `: ${d.released.join(', ')}` : ''}\n`);
        return EXIT.ok;
      }
    }
    checkRunDir(target);
    // A process that could not be stopped is a LabError (exit 3) naming each one.
    const { cleanupRun } = await import('../../engine/cleanup.js');
    const up = await upLabOfRun(target, io.env);
    if (up) {
      const d = await labDown(up.name, io.env);
      io.out(`lab ${d.name} (held on this run) released${d.released.length ? `: ${d.released.join(', ')}` : ''}\n`);
      return EXIT.ok;
    }
    const { released, markedInterrupted } = await cleanupRun(target);
    io.out(released.length ? `released: ${released.join(', ')}\n` : 'nothing left to release\n');
    if (markedInterrupted) io.out('marked the run interrupted in journal.json and manifest.json\n');
    return EXIT.ok;
  },
};
export default cleanup;
