/**
 * A `known_hosts` file naming each local host's key at its `[address]:port`, so clients can
 * check host keys strictly instead of trusting whatever answers.
 */
import { writeFileAtomic } from '../../util/atomic.js';

/** One host's entry: where it listens and its public host key line. */
export interface KnownHost {
  address: string;
  port: number;
  publicKey: string;
}

/** The `known_hosts` line of a host: `[127.0.0.2]:10022 ssh-ed25519 AAAA...` (no comment). */
export function knownHostsLine(h: KnownHost): string {
  const [type, key] = h.publicKey.trim().split(/\s+/);
  const where = h.port === 22 ? h.address : `[${h.address}]:${h.port}`;
  return `${where} ${type} ${key}`;
}

/** Writes the `known_hosts` file for `hosts` atomically. */
export async function writeKnownHosts(file: string, hosts: KnownHost[]): Promise<void> {
  await writeFileAtomic(file, hosts.map((h) => `${knownHostsLine(h)}\n`).join(''), 0o600);
}
