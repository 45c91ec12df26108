/**
 * Runs `ansible-playbook` in a pseudo-terminal, streams its output and its typed events, and
 * stops its whole process group on timeout or abort.
 */
import { constants as osConstants } from 'node:os';
import pty, { type IPty } from 'node-pty';
import type { AnsibleEvent, EventOf } from '../model/events.js';
import { openEventChannel } from './channel.js';
import { EVENTS_PATH_ENV, playbookProcessEnv } from './config.js';
import { parseEventLine, parseHostStart, type EventContext } from './events.js';
import { groupStopper } from '../util/kill.js';
import { TERMINAL, type TermExit, type WarmPool } from './warm.js';

/** Why a playbook run ended: on its own, or stopped by us (the first reason wins). */
export type PlaybookEndReason = 'exit' | 'timeout' | 'aborted';

/** How one `ansible-playbook` run went. */
export interface PlaybookResult {
  /** The exit code (0 ok, 2 a task failed, 4 a host unreachable, ...); null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, e.g. `SIGTERM`. */
  signal?: string;
  reason: PlaybookEndReason;
  durationMs: number;
  /** The last `stats` event (absent when Ansible died before its recap). */
  stats?: EventOf<'stats'>;
  /** Tasks that started on hosts and had not ended when the run did (what hung, on a timeout). */
  unfinished: { task: string; hosts: string[] }[];
  /** It ran in a warm process (lib/ansible/warm.ts) rather than a cold start. */
  warm: boolean;
}

/** One `ansible-playbook` run. */
export interface RunPlaybookOptions extends EventContext {
  /** The arguments, without the program (see `playbookArgv`). */
  args: string[];
  /** The program. @default 'ansible-playbook' */
  command?: string;
  /** Variables over `process.env` (see `ansibleEnv`); `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** @default process.cwd() */
  cwd?: string;
  /** A folder of this run for the event FIFO (`events.fifo`, removed at the end). */
  tmpDir: string;
  /** Raw terminal output (CRLF, ANSI colours): the caller decides how to show it. Must not throw. */
  onOutput?: (text: string) => void;
  /** Each event, in Ansible's order. Must not throw. */
  onEvent?: (event: AnsibleEvent) => void;
  /** Stop the run after this long. Absent: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL of the process group. @default 5000 */
  killGraceMs?: number;
  /** @default 200 */
  cols?: number;
  /** @default 50 */
  rows?: number;
  /** Where a warm `ansible-playbook` may be waiting for this run (lib/ansible/warm.ts). */
  warm?: WarmPool;
}

function signalName(signal: number | undefined): string | undefined {
  if (!signal) return undefined;
  const found = Object.entries(osConstants.signals).find(([, n]) => n === signal);
  return found ? found[0] : String(signal);
}

/**
 * Runs `ansible-playbook` through node-pty and resolves when it has exited, its events are all
 * delivered. Never rejects for Ansible's failures (see `exitCode`); rejects
 * when the run cannot start or a callback threw (the run is stopped first).
 */
export async function runPlaybook(opts: RunPlaybookOptions): Promise<PlaybookResult> {
  const started = Date.now();
  if (opts.signal?.aborted) return { exitCode: null, reason: 'aborted', durationMs: 0, unfinished: [], warm: false };
  const ctx: EventContext = { stage: opts.stage, attempt: opts.attempt };
  const graceMs = opts.killGraceMs ?? 5000;
  let callbackError: unknown;
  let stats: EventOf<'stats'> | undefined;
  let stopOnError: () => void = () => {};
  const guard = (fn: () => void): void => {
    if (callbackError !== undefined) return;
    try {
      fn();
    } catch (err) {
      callbackError = err;
      stopOnError();
    }
  };

  // task id -> its name and the hosts it started on and has not ended on yet
  const running = new Map<string, { task: string; hosts: Set<string> }>();
  const channel = openEventChannel(opts.tmpDir, (line) => {
    const started = parseHostStart(line);
    if (started) {
      running.get(started.taskId)?.hosts.add(started.host);
      return;
    }
    const event = parseEventLine(line, ctx);
    if (!event) return;
    if (event.kind === 'task_start') running.set(event.taskId, { task: event.task || event.action, hosts: new Set() });
    else if (event.kind === 'host_result' && event.item === undefined) running.get(event.taskId)?.hosts.delete(event.host);
    if (event.kind === 'stats') stats = event;
    if (opts.onEvent) guard(() => opts.onEvent!(event));
  });

  const command = opts.command ?? 'ansible-playbook';
  const cwd = opts.cwd ?? process.cwd();
  const env = playbookProcessEnv({ ...opts.env, [EVENTS_PATH_ENV]: channel.path });
  const sameTerminal = (opts.cols ?? TERMINAL.cols) === TERMINAL.cols && (opts.rows ?? TERMINAL.rows) === TERMINAL.rows;
  let warm = sameTerminal ? opts.warm?.take(command) : undefined;
  if (warm && !(await warm.go({ script: command, args: opts.args, env, cwd }))) warm = undefined;
  let term: IPty;
  let exited: Promise<TermExit>;
  if (warm) {
    term = warm.term;
    exited = warm.exit;
  } else {
    try {
      // Standard input is /dev/null, not the terminal: Ansible then does what it does without one
      // (vars_prompt and pause: prompt do not wait for an answer that never comes).
      term = pty.spawn('/bin/sh', ['-c', 'exec "$0" "$@" </dev/null', command, ...opts.args], {
        name: TERMINAL.name,
        cols: opts.cols ?? TERMINAL.cols,
        rows: opts.rows ?? TERMINAL.rows,
        cwd,
        env,
      });
    } catch (err) {
      await channel.close(0);
      throw err;
    }
    const t = term;
    exited = new Promise((resolve) => t.onExit(resolve));
  }

  const stopper = groupStopper<'timeout' | 'aborted'>(term.pid, graceMs);
  stopOnError = () => stopper.stop('aborted');
  const onAbort = (): void => stopper.stop('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => stopper.stop('timeout'), opts.timeoutMs) : undefined;

  const onData = (text: string): void => {
    if (opts.onOutput) guard(() => opts.onOutput!(text));
  };
  if (warm) warm.attach(onData);
  else term.onData(onData);
  const exit = await exited;
  await stopper.exited();
  if (timer) clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);

  await channel.close(graceMs);
  if (callbackError !== undefined) throw callbackError;

  const signal = signalName(exit.signal);
  return {
    exitCode: signal ? null : exit.exitCode,
    ...(signal ? { signal } : {}),
    reason: stopper.reason ?? 'exit',
    durationMs: Date.now() - started,
    ...(stats ? { stats } : {}),
    unfinished: [...running.values()].filter((r) => r.hosts.size).map((r) => ({ task: r.task, hosts: [...r.hosts].sort() })),
    warm: !!warm,
  };
}
