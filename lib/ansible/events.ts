/**
 * The callback plugin's JSON lines (lib/ansible/plugins/harness_events.py) into typed
 * {@link AnsibleEvent}s. Wire fields are snake_case; the `event` field names the kind.
 */
import { StringDecoder } from 'node:string_decoder';
import type { AnsibleEvent, EventOf, HostStats, HostStatus } from '../model/events.js';
import type { VarValue, Vars } from '../model/values.js';

/** The stage and attempt every parsed event is stamped with. */
export interface EventContext {
  stage: string;
  attempt: number;
}

type Json = Record<string, unknown>;

const STATUSES: ReadonlySet<string> = new Set<HostStatus>(['ok', 'changed', 'failed', 'skipped', 'unreachable']);
const STAT_KEYS = ['ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored'] as const;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** JSON.parse gives only values a VarValue can hold, so objects pass as Vars once checked. */
function vars(v: unknown): Vars | undefined {
  return isObject(v) ? (v as Record<string, VarValue>) : undefined;
}

function hostStats(v: unknown): Record<string, HostStats> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, HostStats> = {};
  for (const [host, s] of Object.entries(v)) {
    if (!isObject(s)) return undefined;
    const stats = {} as HostStats;
    for (const key of STAT_KEYS) stats[key] = num(s[key]) ?? 0;
    out[host] = stats;
  }
  return out;
}

/**
 * Builds one event from a parsed wire object, or undefined when a field is missing. Each kind is
 * one object literal (optional fields added after): no spreads, which V8 copies property by property.
 */
function toEvent(o: Json, ctx: EventContext): AnsibleEvent | undefined {
  const stage = ctx.stage;
  const attempt = ctx.attempt;
  const time = num(o.time) ?? Date.now();
  switch (o.event) {
    case 'host_result': {
      const play = str(o.play);
      const task = str(o.task);
      const taskId = str(o.task_id);
      const action = str(o.action);
      const host = str(o.host);
      const status = str(o.status);
      if (play === undefined || task === undefined || taskId === undefined || action === undefined) return undefined;
      if (host === undefined || status === undefined || !STATUSES.has(status)) return undefined;
      const event: EventOf<'host_result'> = {
        stage,
        attempt,
        time,
        kind: 'host_result',
        play,
        task,
        taskId,
        action,
        host,
        status: status as HostStatus,
        ignored: o.ignored === true,
        duration: num(o.duration) ?? 0,
      };
      const message = str(o.message);
      if (message !== undefined) event.message = message;
      const item = str(o.item);
      if (item !== undefined) event.item = item;
      if (o.rescued === true) event.rescued = true;
      if (isObject(o.counts)) {
        const counts: Partial<HostStats> = {};
        for (const key of STAT_KEYS) {
          const n = num(o.counts[key]);
          if (n) counts[key] = n;
        }
        event.counts = counts;
      }
      const result = vars(o.result);
      if (result !== undefined) event.result = result;
      return event;
    }
    case 'task_start': {
      const play = str(o.play);
      const task = str(o.task);
      const taskId = str(o.task_id);
      const action = str(o.action);
      if (play === undefined || task === undefined || taskId === undefined || action === undefined) return undefined;
      const event: EventOf<'task_start'> = { stage, attempt, time, kind: 'task_start', play, task, taskId, action, handler: o.handler === true };
      const path = str(o.path);
      if (path) event.path = path;
      return event;
    }
    case 'playbook_start': {
      const playbook = str(o.playbook);
      return playbook === undefined ? undefined : { stage, attempt, time, kind: 'playbook_start', playbook };
    }
    case 'play_start': {
      const play = str(o.play);
      const playId = str(o.play_id);
      if (play === undefined || playId === undefined || !Array.isArray(o.patterns)) return undefined;
      return { stage, attempt, time, kind: 'play_start', play, playId, patterns: o.patterns.map(String) };
    }
    case 'stats': {
      const hosts = hostStats(o.hosts);
      return hosts === undefined ? undefined : { stage, attempt, time, kind: 'stats', hosts, custom: vars(o.custom) ?? {} };
    }
    case 'warning': {
      const message = str(o.message);
      return message === undefined ? undefined : { stage, attempt, time, kind: 'warning', message };
    }
    default:
      return undefined;
  }
}

/**
 * Parses one line the callback plugin wrote into a typed event stamped with `ctx`. Unknown kinds,
 * malformed JSON and missing fields give `undefined`; it never throws.
 */
export function parseEventLine(line: string, ctx: EventContext): AnsibleEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isObject(parsed) ? toEvent(parsed, ctx) : undefined;
}

/** A `host_start` line (a task began on a host): the runner's own bookkeeping, not an event of the stream. */
export function parseHostStart(line: string): { taskId: string; host: string } | undefined {
  if (!line.startsWith('{"event": "host_start"')) return undefined;
  try {
    const o: unknown = JSON.parse(line);
    if (!isObject(o) || typeof o.task_id !== 'string' || typeof o.host !== 'string') return undefined;
    return { taskId: o.task_id, host: o.host };
  } catch {
    return undefined;
  }
}

/** Splits a stream of chunks into lines (without their `\n`); `end()` flushes a last unended line. */
export interface LineSplitter {
  push(chunk: string | Uint8Array): void;
  end(): void;
}

/**
 * Makes a {@link LineSplitter} calling `onLine` for each complete line, in order. Bytes are
 * decoded as UTF-8 across chunk boundaries; a trailing `\r` is kept (callers strip what they need).
 */
export function createLineSplitter(onLine: (line: string) => void): LineSplitter {
  const decoder = new StringDecoder('utf8');
  // The start of a line not yet ended, in pieces: a long line over many chunks is joined once, not rescanned per chunk.
  let pending: string[] = [];
  const feed = (text: string): void => {
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl !== -1 && pending.length) {
      pending.push(text.slice(0, nl));
      const line = pending.join('');
      pending = [];
      onLine(line);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    while (nl !== -1) {
      onLine(text.slice(start, nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) pending.push(start === 0 ? text : text.slice(start));
  };
  return {
    push(chunk) {
      feed(typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    },
    end() {
      feed(decoder.end());
      if (pending.length) {
        const line = pending.join('');
        pending = [];
        onLine(line);
      }
    },
  };
}
