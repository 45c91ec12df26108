import { readJournal } from './journal.js';
import { writeFileAtomic } from '../util/atomic.js';
import { EXIT } from '../errors.js';

/**
 * Marks a journal that still says `running` (its harness was killed) as `interrupted`: the
 * running stage becomes `error` with `reason`, pending ones `skipped`. Returns false when the
 * journal is missing or says the run ended. Written atomically.
 */
export async function markJournalInterrupted(file: string, reason: string, now = Date.now()): Promise<boolean> {
  const journal = await readJournal(file).catch(() => undefined);
  if (!journal || journal.status !== 'running') return false;
  const at = new Date(now).toISOString();
  for (const s of journal.stages) {
    if (s.status === 'running') Object.assign(s, { status: 'error', ended: at, reason });
    else if (s.status === 'pending') Object.assign(s, { status: 'skipped', reason: 'the run was interrupted' });
  }
  Object.assign(journal, { status: 'interrupted', ended: at, exitCode: EXIT.interrupted, reason });
  await writeFileAtomic(file, `${JSON.stringify(journal, null, 2)}\n`, 0o644);
  return true;
}
