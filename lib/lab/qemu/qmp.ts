/**
 * A small QMP client over a unix socket: reads the greeting, negotiates capabilities, runs
 * commands (matched to replies by `id`), runs HMP commands, and waits for events.
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { LabError } from '../../errors.js';

/** An asynchronous QMP event, such as `STOP` or `MIGRATION`. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** A command QEMU refused: its error class and description. */
export class QmpError extends LabError {
  override name = 'QmpError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
    readonly socketPath: string,
  ) {
    super(`QEMU refused '${command}' on ${socketPath}: ${errorClass}: ${desc}`);
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

interface Waiter {
  match: (e: QmpEvent) => boolean;
  resolve: (e: QmpEvent) => void;
}

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** How long to keep trying while the socket does not exist yet. @default 30000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Resolves when the QEMU process exits: stops the retrying at once. */
  exited?: Promise<unknown>;
}

/**
 * One QMP connection. Holds the event loop open only while a command or an event wait is in
 * flight, so a forgotten connection never keeps Node alive.
 */
export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly waiters = new Set<Waiter>();
  private closedError: Error | undefined;
  /** Every event received, oldest first (the last 100). */
  readonly events: QmpEvent[] = [];

  private constructor(
    private readonly socket: net.Socket,
    readonly socketPath: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    const closed = (err?: Error): void => {
      if (this.closedError) return;
      this.closedError = new LabError(`the QMP connection ${socketPath} closed${err ? `: ${err.message}` : ''} (did QEMU exit?)`);
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
      this.socket.unref();
    };
    socket.on('error', (err) => closed(err));
    socket.on('close', () => closed());
    socket.unref();
  }

  /**
   * Connects to the QMP socket of a starting QEMU, retrying while it does not exist yet, reads
   * the greeting and leaves capabilities negotiation done.
   */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    let exited = false;
    void opts.exited?.then(() => {
      exited = true;
    });
    let step = 10;
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        const socket = await openSocket(socketPath);
        const client = new QmpClient(socket, socketPath);
        await client.handshake();
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err instanceof LabError ? err : new LabError(`cannot talk QMP on ${socketPath}: ${(err as Error).message}`, { cause: err });
        if (exited) throw new LabError(`QEMU exited before its QMP socket ${socketPath} accepted a connection`);
        if (Date.now() > deadline) throw new LabError(`QEMU's QMP socket ${socketPath} did not accept a connection within ${opts.timeoutMs ?? 30_000} ms`);
        await delay(step, undefined, opts.signal ? { signal: opts.signal } : {});
        step = Math.min(step * 2, 200);
      }
    }
  }

  private async handshake(): Promise<void> {
    await this.waitEvent('__greeting__', { timeoutMs: 10_000 });
    await this.execute('qmp_capabilities');
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('QMP' in msg) {
      this.dispatch({ event: '__greeting__', data: msg.QMP as Record<string, unknown> });
      return;
    }
    if (typeof msg.event === 'string') {
      const e = msg as unknown as QmpEvent;
      this.events.push(e);
      if (this.events.length > 100) this.events.shift();
      this.dispatch(e);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!id || !p) return;
    this.pending.delete(id);
    this.settle();
    if (msg.error) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'Error', e.desc ?? 'unknown error', this.socketPath));
    } else p.resolve(msg.return);
  }

  private dispatch(e: QmpEvent): void {
    for (const w of [...this.waiters]) {
      if (w.match(e)) {
        this.waiters.delete(w);
        w.resolve(e);
      }
    }
    this.settle();
  }

  private settle(): void {
    if (!this.pending.size && !this.waiters.size) this.socket.unref();
  }

  /** Runs a QMP command and resolves with its `return` value; throws QmpError if QEMU refuses it. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `h${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.ref();
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Runs an HMP (human monitor) command such as `savevm NAME`; throws LabError if it prints an error. */
  async hmp(commandLine: string): Promise<string> {
    const out = await this.execute<string>('human-monitor-command', { 'command-line': commandLine });
    if (/^(Error|.*: error)/im.test(out ?? '')) throw new LabError(`QEMU's monitor refused '${commandLine}' on ${this.socketPath}: ${out.trim()}`);
    return out ?? '';
  }

  /**
   * Resolves with the first event named `name` (that `match` accepts) arriving from now on.
   * Throws LabError on timeout, abort, or when the connection closes first.
   */
  waitEvent(name: string, opts: { match?: (e: QmpEvent) => boolean; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<QmpEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<QmpEvent>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? 60_000;
      const cleanup = (): void => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.socket.off('close', onClose);
        this.waiters.delete(waiter);
        this.settle();
      };
      const waiter: Waiter = {
        match: (e) => e.event === name && (opts.match ? opts.match(e) : true),
        resolve: (e) => {
          cleanup();
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new LabError(`QEMU sent no ${name} event on ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = (): void => {
        cleanup();
        reject(new LabError(`waiting for QEMU's ${name} event was aborted`, { cause: opts.signal?.reason }));
      };
      const onClose = (): void => {
        cleanup();
        reject(this.closedError ?? new LabError(`QMP ${this.socketPath} closed while waiting for ${name}`));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.socket.once('close', onClose);
      this.waiters.add(waiter);
      this.socket.ref();
    });
  }

  /** Whether the connection is closed (QEMU quit or the socket broke). */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}

function openSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
