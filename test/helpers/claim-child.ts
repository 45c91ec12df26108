/**
 * A child process for the claim tests: claims key K in DIR or waits for it, then (if it claimed)
 * "builds" for BUILD_MS and writes DIR/K.done unless FAIL is set. Prints one word a step.
 * Usage: node claim-child.js DIR KEY BUILD_MS [fail]
 */
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { claimOrWait } from '../../lib/checkpoint/claim.js';

const [dir, key, buildMs, mode] = process.argv.slice(2) as [string, string, string, string | undefined];
const done = path.join(dir, `${key}.done`);
const ac = new AbortController();
process.on('SIGTERM', () => ac.abort(new Error('SIGTERM')));
try {
  const out = await claimOrWait(dir, key, {
    isDone: () => access(done).then(() => true, () => false),
    what: `test ${process.pid}`,
    heartbeatMs: 200,
    staleMs: 1500,
    signal: ac.signal,
    onWait: (h) => console.log(`waiting ${h.pid}`),
  });
  if (out.state === 'done') console.log(`done${out.waitedFor ? ` after ${out.waitedFor.pid}` : ''}`);
  else {
    console.log(`claimed${out.tookOver ? ` over ${out.tookOver.pid}` : ''}`);
    await new Promise((r) => setTimeout(r, Number(buildMs)));
    if (mode !== 'fail') await writeFile(done, `${process.pid}\n`);
    await out.claim.release();
    console.log(mode === 'fail' ? 'failed' : 'built');
  }
} catch (err) {
  console.log(`aborted ${(err as Error).message}`);
}
