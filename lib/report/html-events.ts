/**
 * Reading `events.jsonl` for the HTML report: streamed line by line, kept as summaries per
 * stage, host and task (never every event), with bounded rows and message lengths.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { HostStats, HostStatus, RunEvent, StageStatus } from '../model/events.js';

/** One task on one host in one attempt, loop items merged. */
export interface TaskRow {
  task: string;
  play: string;
  action: string;
  attempt: number;
  /** The worst status over the task's results (and loop items). */
  status: HostStatus;
  /** A failure was ignored (`ignore_errors`). */
  ignored: boolean;
  /** A failure was caught by a block's `rescue` (not a failure of the run). */
  rescued?: boolean;
  /** The first failure message, else the last message. */
  message?: string;
  /** Seconds, summed over results. */
  duration: number;
  /** Loop items seen. */
  items: number;
  /** Order of the task in the stage. */
  order: number;
}

/** Every task of one host in one stage. */
export interface HostTasks {
  host: string;
  counts: Record<HostStatus, number>;
  /** Failed or unreachable (not ignored) task rows. */
  failures: TaskRow[];
  /** The other rows, in order. */
  others: TaskRow[];
  /** Rows not kept (beyond the caps); they are in events.jsonl. */
  dropped: number;
}

/** One attempt of a stage, by its events. */
export interface AttemptSpan {
  attempt: number;
  start?: number;
  end?: number;
  status?: StageStatus;
  reason?: string;
  exitCode?: number;
  checkpoint?: string;
}

/** A stage as its events tell it. */
export interface StageEvents {
  name: string;
  index?: number;
  playbook?: string;
  /** A `run:` stage's command. */
  command?: string;
  attempts: AttemptSpan[];
  hosts: Map<string, HostTasks>;
  warnings: string[];
  warningsDropped: number;
  results: { host: string; path: string }[];
  stats: Record<string, HostStats>;
}

/** What the report keeps of the event stream. */
export interface EventsSummary {
  run?: { runId: string; scenario: string; stages: string[]; time: number };
  end?: { status: string; exitCode: number; reason?: string; time: number };
  lab?: { provider: string; hosts: string[] };
  stages: Map<string, StageEvents>;
  /** Earliest and latest event times. */
  first?: number;
  last?: number;
  lines: number;
  /** Lines that were not JSON events (a crash may cut the last one). */
  badLines: number;
  missing: boolean;
}

/** Caps that keep the summary small whatever the run's size. @default see below */
export interface SummaryLimits {
  /** Non-failed rows kept per host and stage. @default 200 */
  rowsPerHost: number;
  /** Failed rows kept per host and stage. @default 500 */
  failuresPerHost: number;
  /** Characters kept of a failure message. @default 4000 */
  failureMessageChars: number;
  /** Characters kept of another message. @default 200 */
  messageChars: number;
  /** Warnings kept per stage. @default 50 */
  warnings: number;
}

const LIMITS: SummaryLimits = { rowsPerHost: 200, failuresPerHost: 500, failureMessageChars: 4000, messageChars: 200, warnings: 50 };

const RANK: Record<HostStatus, number> = { skipped: 0, ok: 1, changed: 2, failed: 3, unreachable: 4 };

const isFailure = (r: TaskRow) => (r.status === 'failed' || r.status === 'unreachable') && !r.ignored && !r.rescued;

function clip(text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters in events.jsonl)` : text;
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optStr = (v: unknown) => v === undefined || isStr(v);

/** Whether a parsed line has the fields the summary uses, with their types (a damaged or hostile file may not). */
function wellFormed(e: Record<string, unknown>): boolean {
  if (!isStr(e.kind) || !isNum(e.time)) return false;
  const inStage = isStr(e.stage) && isNum(e.attempt);
  switch (e.kind) {
    case 'run_start':
      return isStr(e.runId) && isStr(e.scenario) && Array.isArray(e.stages) && e.stages.every(isStr);
    case 'run_end':
      return isStr(e.status) && isNum(e.exitCode) && optStr(e.reason);
    case 'lab_ready':
      return isStr(e.provider) && Array.isArray(e.hosts) && e.hosts.every(isStr);
    case 'stage_start':
      return inStage && isNum(e.index) && optStr(e.playbook) && optStr(e.command);
    case 'stage_end':
      return inStage && isNum(e.index) && isStr(e.status) && optStr(e.reason) && optStr(e.checkpoint) && (e.exitCode === undefined || isNum(e.exitCode));
    case 'host_result':
      return (
        inStage &&
        [e.play, e.task, e.taskId, e.action, e.host].every(isStr) &&
        isStr(e.status) &&
        Object.hasOwn(RANK, e.status) &&
        isNum(e.duration) &&
        optStr(e.message) &&
        (e.ignored === undefined || typeof e.ignored === 'boolean')
      );
    case 'warning':
      return inStage && isStr(e.message);
    case 'results_file':
      return inStage && isStr(e.host) && isStr(e.path);
    case 'stats':
      return inStage && typeof e.hosts === 'object' && e.hosts !== null;
    default:
      return true;
  }
}

/** Reads `events.jsonl` into a summary; a missing file gives an empty summary marked `missing`. */
export async function summarizeEvents(file: string, opts: { signal?: AbortSignal; limits?: Partial<SummaryLimits> } = {}): Promise<EventsSummary> {
  const limits = { ...LIMITS, ...opts.limits };
  const summary: EventsSummary = { stages: new Map(), lines: 0, badLines: 0, missing: false };
  // The last row of each (stage, attempt, host): a task's loop items and final result come
  // together on a host, so only that row can still change.
  const open = new Map<string, { taskId: string; row: TaskRow }>();
  let order = 0;

  const stageOf = (name: string): StageEvents => {
    let s = summary.stages.get(name);
    if (!s) {
      s = { name, attempts: [], hosts: new Map(), warnings: [], warningsDropped: 0, results: [], stats: {} };
      summary.stages.set(name, s);
    }
    return s;
  };
  const attemptOf = (s: StageEvents, attempt: number): AttemptSpan => {
    let a = s.attempts.find((x) => x.attempt === attempt);
    if (!a) {
      a = { attempt };
      s.attempts.push(a);
      s.attempts.sort((x, y) => x.attempt - y.attempt);
    }
    return a;
  };
  const hostOf = (s: StageEvents, host: string): HostTasks => {
    let h = s.hosts.get(host);
    if (!h) {
      h = { host, counts: { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 }, failures: [], others: [], dropped: 0 };
      s.hosts.set(host, h);
    }
    return h;
  };
  const place = (h: HostTasks, row: TaskRow, was?: TaskRow) => {
    if (was) {
      h.counts[was.status]--;
      const from = isFailure(was) ? h.failures : h.others;
      const at = from.indexOf(row);
      if (at >= 0) from.splice(at, 1);
      else h.dropped--;
    }
    h.counts[row.status]++;
    const list = isFailure(row) ? h.failures : h.others;
    const cap = isFailure(row) ? limits.failuresPerHost : limits.rowsPerHost;
    if (list.length >= cap) {
      h.dropped++;
      return;
    }
    let i = list.length;
    while (i > 0 && list[i - 1]!.order > row.order) i--;
    list.splice(i, 0, row);
  };

  function handle(e: RunEvent): void {
    summary.first = Math.min(summary.first ?? e.time, e.time);
    summary.last = Math.max(summary.last ?? e.time, e.time);
    switch (e.kind) {
      case 'run_start':
        summary.run = { runId: e.runId, scenario: e.scenario, stages: e.stages, time: e.time };
        e.stages.forEach((name, index) => (stageOf(name).index ??= index));
        return;
      case 'run_end':
        summary.end = { status: e.status, exitCode: e.exitCode, reason: e.reason, time: e.time };
        return;
      case 'lab_ready':
        summary.lab = { provider: e.provider, hosts: e.hosts };
        return;
      case 'stage_start': {
        const s = stageOf(e.stage);
        s.index = e.index;
        if (e.playbook) s.playbook = e.playbook;
        if (e.command) s.command = e.command;
        attemptOf(s, e.attempt).start = e.time;
        return;
      }
      case 'stage_end': {
        const s = stageOf(e.stage);
        s.index = e.index;
        const a = attemptOf(s, e.attempt);
        a.end = e.time;
        a.status = e.status;
        a.reason = e.reason;
        a.exitCode = e.exitCode;
        a.checkpoint = e.checkpoint;
        return;
      }
      case 'host_result': {
        const s = stageOf(e.stage);
        const h = hostOf(s, e.host);
        const key = `${e.stage}\u0000${e.attempt}\u0000${e.host}`;
        const last = open.get(key);
        const prev = last?.taskId === e.taskId ? last.row : undefined;
        const failed = e.status === 'failed' || e.status === 'unreachable';
        if (!prev) {
          const row: TaskRow = {
            task: e.task,
            play: e.play,
            action: e.action,
            attempt: e.attempt,
            status: e.status,
            ignored: e.ignored === true,
            ...(e.rescued === true ? { rescued: true } : {}),
            message: clip(e.message, failed ? limits.failureMessageChars : limits.messageChars),
            duration: e.duration,
            items: e.item !== undefined ? 1 : 0,
            order: order++,
          };
          open.set(key, { taskId: e.taskId, row });
          place(h, row);
          return;
        }
        const was = { ...prev };
        if (e.item !== undefined) prev.items++;
        prev.duration += e.item !== undefined ? e.duration : 0;
        if (RANK[e.status] > RANK[prev.status]) {
          prev.status = e.status;
          prev.ignored = e.ignored === true;
          if (e.rescued === true) prev.rescued = true;
          else delete prev.rescued;
          prev.message = clip(e.message, failed ? limits.failureMessageChars : limits.messageChars) ?? prev.message;
        } else if (RANK[e.status] === RANK[prev.status]) {
          prev.ignored = prev.ignored && e.ignored === true;
          if (e.item === undefined && e.status === 'failed' && e.rescued === true) prev.rescued = true;
          if (!failed && e.message !== undefined) prev.message = clip(e.message, limits.messageChars);
        }
        if (was.status !== prev.status || was.ignored !== prev.ignored || was.rescued !== prev.rescued) place(h, prev, was);
        return;
      }
      case 'warning': {
        const s = stageOf(e.stage);
        if (s.warnings.length < limits.warnings) s.warnings.push(clip(e.message, limits.messageChars * 2)!);
        else s.warningsDropped++;
        return;
      }
      case 'results_file':
        stageOf(e.stage).results.push({ host: e.host, path: e.path });
        return;
      case 'stats':
        Object.assign(stageOf(e.stage).stats, e.hosts);
        return;
      default:
        return;
    }
  }

  let input;
  try {
    input = createReadStream(file, { encoding: 'utf8', signal: opts.signal });
    await new Promise<void>((resolve, reject) => {
      input!.once('open', () => resolve());
      input!.once('error', reject);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...summary, missing: true };
    throw err;
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    summary.lines++;
    let e: RunEvent;
    try {
      e = JSON.parse(line) as RunEvent;
    } catch {
      summary.badLines++;
      continue;
    }
    if (!e || typeof e !== 'object' || !wellFormed(e as unknown as Record<string, unknown>)) {
      summary.badLines++;
      continue;
    }
    try {
      handle(e);
    } catch {
      summary.badLines++;
    }
  }
  return summary;
}
