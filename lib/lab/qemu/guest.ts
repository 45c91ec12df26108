/**
 * What a clone of the golden VM must change to become a lab host: its clock, hostname, lab MAC
 * and address (live and in `/etc/network/interfaces.d/eth1`, so a reboot keeps them) and an
 * `/etc/hosts` naming every host of the lab. The scripts are pure functions of the identity.
 */

import type { AgentRequest } from './agent.js';

/** A lab host as its guest must know itself. */
export interface GuestIdentity {
  hostname: string;
  /** Lab-network address (eth1). */
  labAddress: string;
  /** Lab-network MAC (eth1). */
  mac: string;
  /** Every host of the lab by hostname, for `/etc/hosts`. */
  peers: { hostname: string; labAddress: string }[];
}

/** A Linux hostname for a lab host name: letters, digits, '-' and '.', at most 63 characters. */
export function guestHostname(name: string): string {
  const h = name.replace(/[^A-Za-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 63);
  return h || 'host';
}

/** The lines that set the guest clock from the host's answer to `CLOCK?` (see sshScript). */
export const CLOCK_SCRIPT = ['echo "CLOCK?"', 'read t', 'date -u -s "@$t" >/dev/null'];

/**
 * How a script sets the clock: from the host's answer to `CLOCK?` over SSH (sshScript), or, for
 * the guest agent, from the host's time `at` (ms) written into the script as it is sent.
 */
function clockLines(at?: number): string[] {
  return at === undefined ? CLOCK_SCRIPT : [`date -u -s "@${(at / 1000).toFixed(3)}" >/dev/null`];
}

/** The lines of the guest's `/etc/hosts`. */
function hostsLines(id: GuestIdentity): string[] {
  return ['127.0.0.1 localhost', `127.0.1.1 ${id.hostname}`, ...id.peers.map((p) => `${p.labAddress} ${p.hostname}`)];
}

/** The lines of `/etc/network/interfaces.d/eth1`, so a reboot keeps the lab address. */
function eth1Lines(id: GuestIdentity): string[] {
  return ['auto eth1', 'iface eth1 inet static', `  address ${id.labAddress}/24`, `  hwaddress ether ${id.mac}`];
}

/**
 * What the guest agent is asked to make a clone into the host `id` (lib/lab/qemu/agent.ts): the
 * same as {@link guestSetupScript}, applied by the agent itself (no process started in the guest).
 */
export function guestSettings(id: GuestIdentity, opts: { clockAt?: number } = {}): AgentRequest {
  return {
    ...(opts.clockAt === undefined ? {} : { clock: opts.clockAt }),
    hostname: id.hostname,
    // /etc/hosts at once (a run's first task may resolve its peers); what only a reboot reads after the answer.
    files: [
      { path: '/etc/hosts', content: `${hostsLines(id).join('\n')}\n` },
      { path: '/etc/hostname', content: `${id.hostname}\n`, after: true },
      { path: '/etc/network/interfaces.d/eth1', content: `${eth1Lines(id).join('\n')}\n`, after: true },
    ],
    link: { dev: 'eth1', mac: id.mac, address: id.labAddress, prefix: 24 },
  };
}

/** The shell script that turns a clone into the host `id` over SSH (run as root, clock first). */
export function guestSetupScript(id: GuestIdentity, opts: { clockAt?: number } = {}): string {
  const hosts = hostsLines(id);
  return [
    'set -e',
    ...clockLines(opts.clockAt),
    `hostname ${id.hostname}`,
    `echo ${id.hostname} > /etc/hostname`,
    `printf '%s\\n' ${hosts.map((l) => `'${l}'`).join(' ')} > /etc/hosts`,
    'ip link set eth1 down',
    `ip link set eth1 address ${id.mac}`,
    'ip addr flush dev eth1',
    `ip addr add ${id.labAddress}/24 dev eth1`,
    'ip link set eth1 up',
    // A golden VM whose agent was installed left IPv6 off on eth1 (agentInstallScript).
    'echo 0 > /proc/sys/net/ipv6/conf/eth1/disable_ipv6 2>/dev/null || true',
    `printf '%s\\n' ${eth1Lines(id).map((l) => `'${l}'`).join(' ')} > /etc/network/interfaces.d/eth1`,
  ].join('\n');
}

/** The script that only sets the clock (after a restore or a pause). */
export function clockScript(opts: { clockAt?: number } = {}): string {
  return clockLines(opts.clockAt).join('\n');
}
