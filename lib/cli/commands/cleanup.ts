import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../main.js';
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
    const { releaseRecorded } = await import('../../lab/record.js');
    const { released, skipped } = await releaseRecorded(dir);
    if (released.length) io.out(`released: ${released.join(', ')}\n`);
    for (const s of skipped) io.err(`harness: could not stop ${s.label}${s.pid !== undefined ? ` (pid ${s.pid})` : ''}: ${s.reason}\n`);
    if (!released.length && !skipped.length) io.out('nothing left to release\n');
    return skipped.length ? EXIT.lab : EXIT.ok;
  },
};
export default cleanup;
