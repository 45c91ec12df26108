/**
 * Waits until an SSH server accepts a TCP connection and sends its `SSH-` banner.
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** Connects once; resolves with the banner line, rejects on refusal or a wrong greeting. */
function readBanner(address: string, port: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    let data = '';
    const done = (err?: Error, banner?: string) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(banner!);
    };
    const onAbort = () => done(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0 && data.length < 256) return;
      const line = (nl < 0 ? data : data.slice(0, nl)).replace(/\r$/, '');
      if (line.startsWith('SSH-')) done(undefined, line);
      else done(new Error(`the server greeted with '${line.slice(0, 80)}', not an SSH banner`));
    });
    socket.on('error', (err) => done(err));
    socket.on('end', () => done(new Error('the server closed the connection before its banner')));
  });
}

/** Options of {@link waitForSshBanner}. */
export interface BannerWaitOptions {
  /** Give up after this long. @default 10000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Stop waiting when this settles (e.g. the server process exited). */
  stopWhen?: Promise<unknown>;
}

/**
 * Connects to `address:port` until it answers with an SSH banner (retrying refused connects
 * every 20 ms); resolves with the banner. Rejects with the last error on timeout, on abort,
 * or when `stopWhen` settles first.
 */
export async function waitForSshBanner(address: string, port: number, opts: BannerWaitOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const local = new AbortController();
  const signals = [local.signal, AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])];
  const signal = AbortSignal.any(signals);
  let stopped = false;
  opts.stopWhen?.then(
    () => ((stopped = true), local.abort(new Error('the server process exited'))),
    () => ((stopped = true), local.abort(new Error('the server process failed'))),
  );
  let last: Error | undefined;
  while (!signal.aborted) {
    try {
      return await readBanner(address, port, signal);
    } catch (err) {
      last = err as Error;
      const code = (err as NodeJS.ErrnoException).code;
      // Refused (not listening yet) is worth a retry; a wrong greeting is not.
      if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET' && !signal.aborted) throw err;
    }
    await delay(20, undefined, { signal }).catch(() => {});
  }
  opts.signal?.throwIfAborted();
  if (stopped) throw local.signal.reason as Error;
  throw new Error(`no SSH banner from ${address}:${port} within ${timeoutMs} ms${last ? ` (last error: ${last.message})` : ''}`);
}
