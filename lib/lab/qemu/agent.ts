/**
 * The guest agent: a few lines of shell in every VM that run the scripts the host sends over a
 * virtio-serial port, so a clone or a restored VM becomes its host (clock, name, lab address)
 * without an SSH login (a TCG guest spends well over a second on one). It is installed into the
 * golden VM before its state is saved, so every clone and checkpoint has it running. Only this
 * host's QEMU reaches the port (a unix socket in the lab's private folder).
 *
 * Protocol, one line each way: `run NONCE BASE64-SCRIPT` → `done NONCE STATUS`.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { LabError } from '../../errors.js';

/** The virtio-serial port name the guest sees as /dev/virtio-ports/NAME. */
export const AGENT_PORT = 'org.ansible-harness.agent';

/** The agent itself (/usr/local/sbin/harness-agent in the guest). */
export const AGENT_SCRIPT = `#!/bin/sh
# ansible-harness guest agent: runs what the host sends over the virtio-serial port, one script
# per line ("run NONCE BASE64"), answering "done NONCE STATUS". Only the host's QEMU reaches it.
port=/dev/virtio-ports/${AGENT_PORT}
while :; do
  if [ -e "$port" ] && exec 3<>"$port"; then
    while IFS=' ' read -r verb nonce body <&3; do
      [ "$verb" = run ] || continue
      printf '%s' "$body" | base64 -d > /run/harness-agent.sh 2>/dev/null
      sh /run/harness-agent.sh > /run/harness-agent.log 2>&1
      printf 'done %s %s\\n' "$nonce" "$?" >&3
    done
    exec 3<&-
  fi
  sleep 0.2
done
`;

/** The shell script (run as root in the golden VM) that installs and starts the agent, and runs sshd without re-exec. */
export function agentInstallScript(): string {
  return [
    'set -e',
    `cat > /usr/local/sbin/harness-agent <<'HARNESS_AGENT'\n${AGENT_SCRIPT}HARNESS_AGENT`,
    'chmod 755 /usr/local/sbin/harness-agent',
    `cat > /etc/systemd/system/harness-agent.service <<'HARNESS_UNIT'
[Unit]
Description=ansible-harness guest agent (virtio-serial)

[Service]
ExecStart=/usr/local/sbin/harness-agent
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
HARNESS_UNIT`,
    'systemctl daemon-reload',
    'systemctl enable --now harness-agent.service >/dev/null 2>&1',
    // sshd without re-exec (`-r`): a connection is a fork, not a new sshd started from disk, which
    // an emulated CPU takes about a second over (every Ansible connection, and the banner check).
    // A throw-away test VM does not need re-exec's per-connection address-space randomisation.
    // Debian's ssh.service stops only the listener on restart (KillMode=process): this session stays.
    'if /usr/sbin/sshd -t -r 2>/dev/null; then',
    '  mkdir -p /etc/systemd/system/ssh.service.d',
    `  printf '%s\\n' '[Service]' 'ExecStart=' 'ExecStart=/usr/sbin/sshd -D -r $SSHD_OPTS' > /etc/systemd/system/ssh.service.d/harness-no-reexec.conf`,
    '  systemctl daemon-reload',
    '  systemctl restart ssh.service',
    'fi',
  ].join('\n');
}

/** QEMU arguments of the agent's port, its host end a unix socket server at `socket`. */
export function agentQemuArgs(socket: string, opt: (v: string) => string): string[] {
  return [
    '-device', 'virtio-serial-pci,id=vs0',
    '-chardev', `socket,id=agent,path=${opt(socket)},server=on,wait=off`,
    '-device', `virtserialport,bus=vs0.0,chardev=agent,name=${AGENT_PORT}`,
  ];
}

/**
 * Runs `script` in the guest through the agent at `socket`; resolves with its exit status.
 * Throws LabError when the agent does not answer within `timeoutMs`.
 */
export function agentRun(socket: string, script: string, opts: { timeoutMs?: number; signal?: AbortSignal; name?: string } = {}): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const nonce = randomBytes(8).toString('hex');
  const who = opts.name ?? 'the VM';
  return new Promise((resolve, reject) => {
    let got = '';
    let settled = false;
    const conn = net.createConnection(socket);
    const finish = (err: Error | undefined, status?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      conn.destroy();
      if (err) reject(err);
      else resolve(status!);
    };
    const onAbort = (): void => finish(new LabError(`the guest agent of ${who}: aborted`, { cause: opts.signal?.reason }));
    const timer = setTimeout(() => finish(new LabError(`the guest agent of ${who} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    conn.on('connect', () => conn.write(`run ${nonce} ${Buffer.from(script).toString('base64')}\n`));
    conn.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      for (const line of got.split('\n').slice(0, -1)) {
        const m = /^done (\S+) (\d+)\s*$/.exec(line);
        if (m && m[1] === nonce) return finish(undefined, Number(m[2]));
      }
      got = got.slice(got.lastIndexOf('\n') + 1);
    });
    conn.on('error', (err) => finish(new LabError(`cannot reach the guest agent of ${who} at ${socket}: ${err.message}`, { cause: err })));
    conn.on('close', () => finish(new LabError(`the guest agent of ${who} closed the connection before answering`)));
  });
}
