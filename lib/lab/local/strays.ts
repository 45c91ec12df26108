import { readdir, readFile } from 'node:fs/promises';
import { procStat, type ProcStat } from '../../util/proc.js';

/**
 * Processes that a session on one loopback host left behind after detaching (`setsid`, a
 * double fork): they no longer descend from its sshd, but they inherit `SSH_CONNECTION`, whose
 * last two fields are the host's own address and port. Those are what the host "ran", so they
 * stop with it, as a real machine's processes stop when it goes away.
 */
export async function sessionStrays(address: string, port: number): Promise<ProcStat[]> {
  const suffix = ` ${address} ${port}`;
  const out: ProcStat[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let env: string;
    try {
      env = await readFile(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    const conn = env.split('\0').find((v) => v.startsWith('SSH_CONNECTION='));
    if (!conn?.endsWith(suffix)) continue;
    const stat = await procStat(Number(name));
    if (stat && stat.state !== 'Z') out.push(stat);
  }
  return out;
}
