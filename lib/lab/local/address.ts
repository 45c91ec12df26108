/**
 * Where a local host listens: its own loopback address 127.X.Y.N (in the block its lab claimed,
 * see claims.ts) and a random high port that was free when checked.
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { LabError } from '../../errors.js';

/** The loopback address of the host at `index` (0-based): `<prefix><first + index>`, prefix `127.X.Y.`. @default prefix '127.0.0.' */
export function loopbackAddress(index: number, first: number, prefix = '127.0.0.'): string {
  const n = first + index;
  if (n > 254) throw new LabError(`the local lab has no loopback address left for host number ${index + 1} (${prefix}${n}); declare fewer hosts`);
  return `${prefix}${n}`;
}

/** Ports we pick from: high, but below Linux's ephemeral range (32768+) used for outgoing connections. */
export const PORT_RANGE = { min: 10_000, max: 32_767 } as const;

function tryListen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(new LabError(`cannot listen on ${address}:${port} to check it is free: ${err.message}`, { cause: err }));
    });
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A random port in {@link PORT_RANGE} that nothing listens on at `address` right now. */
export async function freePort(address: string, signal?: AbortSignal): Promise<number> {
  for (let i = 0; i < 50; i++) {
    signal?.throwIfAborted();
    const port = randomInt(PORT_RANGE.min, PORT_RANGE.max + 1);
    if (await tryListen(address, port)) return port;
  }
  throw new LabError(`no free port found on ${address} after 50 tries in ${PORT_RANGE.min}-${PORT_RANGE.max}; look at what listens there (ss -ltn)`);
}
