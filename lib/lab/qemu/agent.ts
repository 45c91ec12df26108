/**
 * The guest agent: a small Python program in every VM that applies what the host sends over a
 * virtio-serial port, so a clone or a restored VM becomes its host (clock, name, lab address)
 * without an SSH login and without starting a process in the guest: on an emulated CPU every
 * process started after a state is loaded costs 0.2-0.9 s of CPU (its code translated afresh),
 * so the agent sets the clock, the hostname, files and the lab NIC itself (system calls and
 * ioctls); only a `script` starts `sh`. It is installed into the golden VM before its state is
 * saved, so every clone and checkpoint has it running. Only this host's QEMU reaches the port (a
 * unix socket in the lab's private folder).
 *
 * The host keeps one connection per VM open for the VM's life, connected before a state is
 * loaded: states are saved with the host connected, so the agent is found blocked in `read` and
 * answers as soon as the request arrives (no reopening, no polling). The agent survives a host
 * that is not connected (it waits for SIGIO, which the port sends when the host connects).
 *
 * Protocol, one line each way: `do NONCE BASE64-JSON` → `done NONCE STATUS [MESSAGE]`.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { LabError } from '../../errors.js';

/** The virtio-serial port name the guest sees as /dev/virtio-ports/NAME. */
export const AGENT_PORT = 'org.ansible-harness.agent';

/** The protocol's version: part of the golden state and of every checkpoint saved from it. */
export const AGENT_PROTOCOL = 2;

/** What one request asks the agent to do, in this order. */
export interface AgentRequest {
  /** Set the guest clock to this host time (ms since the epoch), first. */
  clock?: number;
  hostname?: string;
  /**
   * Files written whole (through a temporary file and a rename); `after`: once the answer is
   * sent (what only a reboot reads: the request's other effects are what a run needs at once).
   */
  files?: { path: string; content: string; after?: boolean }[];
  /** The NIC `dev`'s MAC (live when it is up, else down, set, up) and IPv4 address/prefix. */
  link?: { dev: string; mac: string; address: string; prefix: number };
  /** A shell script run by `sh` last; its output goes to /run/harness-agent.log. */
  script?: string;
}

/** The agent itself (/usr/local/sbin/harness-agent in the guest). */
export const AGENT_PROGRAM = `#!/usr/bin/python3
# ansible-harness guest agent: applies what the host sends over the virtio-serial port, one
# request per line ("do NONCE BASE64-JSON"), answering "done NONCE STATUS [MESSAGE]".
import base64, fcntl, json, os, signal, socket, struct, subprocess, time

PORT = '/dev/virtio-ports/${AGENT_PORT}'
SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFHWADDR = 0x8913, 0x8914, 0x8916, 0x891C, 0x8924


def ifreq(dev, data=b''):
    return dev.encode().ljust(16, b'\\0') + data.ljust(24, b'\\0')


def inet(address):
    return struct.pack('HH4s', socket.AF_INET, 0, socket.inet_aton(address))


def link(dev, mac, address, prefix):
    # The golden VM has the NIC up already: its MAC is changed live (virtio-net's control queue),
    # which costs a fraction of taking it down and up again; a NIC that refuses does that.
    hwaddr = ifreq(dev, struct.pack('H', 1) + bytes.fromhex(mac.replace(':', '')))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack('H', fcntl.ioctl(s, SIOCGIFFLAGS, ifreq(dev))[16:18])[0]
        live = False
        if flags & 1:
            try:
                fcntl.ioctl(s, SIOCSIFHWADDR, hwaddr)
                live = True
            except OSError:
                pass
        if not live:
            fcntl.ioctl(s, SIOCSIFFLAGS, ifreq(dev, struct.pack('H', flags & ~1)))
            fcntl.ioctl(s, SIOCSIFHWADDR, hwaddr)
        fcntl.ioctl(s, SIOCSIFADDR, ifreq(dev, inet(address)))
        mask = socket.inet_ntoa(struct.pack('!I', (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
        fcntl.ioctl(s, SIOCSIFNETMASK, ifreq(dev, inet(mask)))
        if not live:
            fcntl.ioctl(s, SIOCSIFFLAGS, ifreq(dev, struct.pack('H', flags | 1)))
    if live:
        # IPv6 was left off on it in the golden VM: on again, its link-local address comes from
        # this host's MAC (as a bring-up would make it), not the golden VM's.
        try:
            with open('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % dev, 'w') as f:
                f.write('0')
        except OSError:
            pass


def write(files):
    for f in files:
        tmp = f['path'] + '.harness-tmp'
        with open(tmp, 'w') as out:
            out.write(f['content'])
        os.replace(tmp, f['path'])


def apply(req):
    if 'clock' in req:
        time.clock_settime(time.CLOCK_REALTIME, req['clock'] / 1000)
    if 'hostname' in req:
        socket.sethostname(req['hostname'])
    write([f for f in req.get('files', []) if not f.get('after')])
    if 'link' in req:
        link(**req['link'])
    if req.get('script'):
        with open('/run/harness-agent.log', 'wb') as log:
            rc = subprocess.call(['/bin/sh', '-c', req['script']], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        return (rc if rc >= 0 else 128 - rc), 'the script exited %d (/run/harness-agent.log)' % rc if rc else ''
    return 0, ''


def handle(fd, line):
    words = line.split(b' ')
    if len(words) != 3 or words[0] != b'do':
        return
    req = {}
    try:
        req = json.loads(base64.b64decode(words[2]))
        status, message = apply(req)
    except Exception as err:
        status, message = 1, '%s: %s' % (type(err).__name__, err)
    os.write(fd, b'done %s %d %s\\n' % (words[1], status, ' '.join(message.split()).encode()))
    try:
        write([f for f in req.get('files', []) if f.get('after')])
    except Exception:
        pass


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGIO})
    while True:
        try:
            fd = os.open(PORT, os.O_RDWR)
        except OSError:
            time.sleep(0.5)
            continue
        try:
            fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
            buf = b''
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    # The host is not connected: the port signals when it connects.
                    buf = b''
                    signal.sigtimedwait({signal.SIGIO}, 0.5)
                    continue
                buf += chunk
                while b'\\n' in buf:
                    line, buf = buf.split(b'\\n', 1)
                    handle(fd, line)
        except OSError:
            time.sleep(0.2)
        finally:
            os.close(fd)


main()
`;

/** The shell script (run as root in the golden VM) that installs and starts the agent, and runs sshd without re-exec. */
export function agentInstallScript(): string {
  return [
    'set -e',
    `cat > /usr/local/sbin/harness-agent <<'HARNESS_AGENT'\n${AGENT_PROGRAM}HARNESS_AGENT`,
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
    // The lab NIC up, without an address and with IPv6 off, before the state is saved: a clone
    // only changes its MAC and address and turns IPv6 on (the agent's link()); the costly bring-up
    // was done once, here.
    'sysctl -qw net.ipv6.conf.eth1.disable_ipv6=1 || true',
    'ip link set eth1 up',
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

/** Options of {@link AgentClient.request}. */
export interface AgentRequestOptions {
  /** @default 30000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The agent's answer to one request. */
export interface AgentAnswer {
  status: number;
  /** What failed, in the agent's words (empty when status is 0). */
  message: string;
}

interface Waiting {
  resolve: (a: AgentAnswer) => void;
  reject: (err: Error) => void;
}

/**
 * One VM's agent connection, held open for the VM's life (see the file comment: states are saved
 * and loaded with it connected). Requests are matched to answers by nonce, so an answer left from
 * an earlier request is ignored. Never keeps Node's event loop open by itself.
 */
export class AgentClient {
  private buffer = '';
  private readonly waiting = new Map<string, Waiting>();
  private closedError: Error | undefined;

  private constructor(
    private readonly conn: net.Socket,
    /** For messages: the lab host name or `the golden VM`. */
    readonly name: string,
    readonly socketPath: string,
  ) {
    conn.setEncoding('latin1');
    conn.on('data', (d: string) => this.onData(d));
    conn.on('error', (err) => this.closedBy(err));
    conn.on('close', () => this.closedBy());
    conn.unref();
  }

  private closedBy(err?: Error): void {
    if (this.closedError) return;
    this.closedError = new LabError(`the guest agent of ${this.name} closed the connection before answering${err ? ` (${err.message})` : ''}`);
    for (const w of [...this.waiting.values()]) w.reject(this.closedError);
  }

  /** Connects to the agent's socket (QEMU's end of the port). Throws LabError when it cannot. */
  static connect(socketPath: string, name = 'the VM'): Promise<AgentClient> {
    return new Promise((resolve, reject) => {
      const conn = net.createConnection(socketPath);
      conn.once('connect', () => {
        conn.removeAllListeners('error');
        resolve(new AgentClient(conn, name, socketPath));
      });
      conn.once('error', (err) => reject(new LabError(`cannot reach the guest agent of ${name} at ${socketPath}: ${err.message}`, { cause: err })));
    });
  }

  /** Whether the connection is gone (QEMU quit, or {@link close}). */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /**
   * Sends `req` and resolves with the agent's answer. Throws LabError when the agent does not
   * answer within `timeoutMs`, on abort, or when the connection closes first.
   */
  request(req: AgentRequest, opts: AgentRequestOptions = {}): Promise<AgentAnswer> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const nonce = randomBytes(8).toString('hex');
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      let timer: NodeJS.Timeout | undefined;
      const done = (err: Error | undefined, a?: AgentAnswer): void => {
        if (!this.waiting.delete(nonce)) return;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (!this.waiting.size) this.conn.unref();
        if (err) reject(err);
        else resolve(a!);
      };
      const onAbort = (): void => done(new LabError(`the guest agent of ${this.name}: aborted`, { cause: opts.signal?.reason }));
      this.waiting.set(nonce, { resolve: (a) => done(undefined, a), reject: (e) => done(e) });
      timer = setTimeout(() => done(new LabError(`the guest agent of ${this.name} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.conn.ref();
      this.conn.write(`do ${nonce} ${Buffer.from(JSON.stringify(req)).toString('base64')}\n`);
    });
  }

  private onData(d: string): void {
    this.buffer += d;
    let i;
    while ((i = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 1);
      const m = /^done (\S+) (\d+) ?(.*)$/.exec(line);
      if (m) this.waiting.get(m[1]!)?.resolve({ status: Number(m[2]), message: m[3]!.trim() });
    }
  }

  /** Closes the connection (pending requests fail). */
  close(): void {
    this.closedBy();
    this.conn.destroy();
  }
}

/**
 * Runs `script` in the guest through the agent at `socket` on a connection of its own; resolves
 * with its exit status. Throws LabError when the agent does not answer within `timeoutMs`.
 */
export async function agentRun(socket: string, script: string, opts: AgentRequestOptions & { name?: string } = {}): Promise<number> {
  const client = await AgentClient.connect(socket, opts.name ?? 'the VM');
  try {
    return (await client.request({ script }, opts)).status;
  } finally {
    client.close();
  }
}
