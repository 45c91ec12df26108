/**
 * The `sshd_config` of one local host, rendered by a pure function.
 */
import { LabError } from '../../errors.js';

/** What one host's sshd needs to know. */
export interface SshdConfigInput {
  address: string;
  port: number;
  hostKey: string;
  pidFile: string;
  /** The file listing the keys allowed to log in (the run's one client public key). */
  authorizedKeys: string;
  /** More keys files (the host's own, where `lab.authorized_keys` go); they need not exist. */
  moreAuthorizedKeys?: string[];
  /** The only user allowed to log in. */
  user: string;
  /** Lines put first, so they win over ours (sshd keeps a keyword's first value). */
  extra?: string[];
}

/** Quotes a path for sshd_config when it holds spaces; refuses what sshd cannot read back. */
function arg(value: string, what: string): string {
  if (/["\n\r]/.test(value)) throw new LabError(`the ${what} path '${value}' holds a quote or line break, which sshd_config cannot express; use another folder`);
  return /\s/.test(value) ? `"${value}"` : value;
}

/** The text of the config file; the tokens of `AuthorizedKeysFile` (`%h`, `%u`) are escaped. */
export function renderSshdConfig(c: SshdConfigInput): string {
  const extra = (c.extra ?? []).flatMap((l) => l.split(/\r?\n/));
  const lines = [
    '# Written by ansible-harness for one host of a local lab.',
    ...(extra.length ? ['# Extra lines from the provider options (first value wins in sshd_config):', ...extra, ''] : []),
    `ListenAddress ${c.address}:${c.port}`,
    'AddressFamily inet',
    `HostKey ${arg(c.hostKey, 'host key')}`,
    `PidFile ${arg(c.pidFile, 'pid file')}`,
    `AuthorizedKeysFile ${[c.authorizedKeys, ...(c.moreAuthorizedKeys ?? [])].map((f) => arg(f.replaceAll('%', '%%'), 'authorized keys')).join(' ')}`,
    `AllowUsers ${c.user}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'AuthenticationMethods publickey',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'MaxStartups 64:30:128',
    'MaxSessions 64',
    'LogLevel VERBOSE',
    'Subsystem sftp internal-sftp',
    '',
  ];
  return lines.join('\n');
}
