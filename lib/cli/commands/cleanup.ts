import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { EXIT, InputError } from '../../errors.js';

/** Throws InputError unless `dir` is a run directory (it holds a journal, a manifest or a lab record). */
function checkRunDir(dir: string): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st) throw new InputError(`${dir}: no such run directory (name one under runs/<scenario>/)`);
  if (!st.isDirectory()) throw new InputError(`${dir}: not a directory; name a run directory (runs/<scenario>/<run id>)`);
  if (!['journal.json', 'manifest.json', 'lab.json'].some((f) => existsSync(path.join(dir, f)))) {
    throw new InputError(`${dir}: not a run directory (no journal.json, manifest.json or lab.json in it)`);
  }
}

const cleanup: Command = {
  command: 'cleanup <rundir>',
  describe: 'Release what a crashed run left allocated (sshd hosts, VMs), from its run directory',
  builder: (y) => y.positional('rundir', { type: 'string', describe: 'Run directory' }),
  async run(args, io) {
    const dir = args.rundir as string;
    checkRunDir(dir);
    // A process that could not be stopped is a LabError (exit 3) naming each one.
    const { cleanupRun } = await import('../../engine/cleanup.js');
    const { released, markedInterrupted } = await cleanupRun(dir);
    io.out(released.length ? `released: ${released.join(', ')}\n` : 'nothing left to release\n');
    if (markedInterrupted) io.out('marked the run interrupted in journal.json and manifest.json\n');
    return EXIT.ok;
  },
};
export default cleanup;
