/**
 * The host side of a lab's networks: a free TCP port on loopback for each VM's SSH forward, and
 * the vde_switch that joins the VMs' second NICs (a switch of its own, with no host interface).
 */
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { LabError } from '../../errors.js';
import { run } from './exec.js';
import { procStartTicks, type ProcId } from '../../util/proc.js';

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A running vde_switch. */
export interface VdeSwitch extends ProcId {
  /** Its socket folder, given to `-netdev vde,sock=`. */
  socket: string;
}

/**
 * Starts a vde_switch daemon on the socket folder `socket`; resolves once it listens (its
 * parent exits after the switch is ready) with its pid from `pidFile`.
 */
export async function startSwitch(socket: string, pidFile: string, opts: { vdeSwitch?: string; signal?: AbortSignal } = {}): Promise<VdeSwitch> {
  await run(opts.vdeSwitch ?? 'vde_switch', ['--sock', socket, '--dirmode', '0700', '--mode', '0600', '--daemon', '--pidfile', pidFile], {
    timeoutMs: 30_000,
    purpose: 'starting the lab network switch',
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  // The parent exits once the switch listens, but the daemon writes its pid file a moment later.
  let pid = 0;
  for (let step = 2, waited = 0; waited < 5000; waited += step, step = Math.min(step * 2, 100)) {
    pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (pid > 1) break;
    await delay(step);
  }
  const startTicks = pid > 1 ? await procStartTicks(pid) : undefined;
  if (startTicks === undefined) throw new LabError(`vde_switch on ${socket} did not stay up (pid file ${pidFile}: '${pid || ''}')`);
  return { pid, startTicks, socket };
}
