import { stripVTControlCharacters, styleText } from 'node:util';
import type { EventOf, EventSink, RunEvent, StageStatus } from '../model/events.js';
import { noRedact, type Redact } from './redact.js';
import { addRecap, emptyRecap, formatRecap, isFailure, resultCounts, type Recap } from './recap.js';
import { formatDuration } from '../util/duration.js';

/** Options of {@link createConsoleSink}. */
export interface ConsoleSinkOptions {
  /** Where text goes (e.g. `(s) => process.stdout.write(s)`). */
  write: (text: string) => void;
  /** A terminal: Ansible's output is passed through as is, under coloured stage headers. */
  tty: boolean;
  /** Colour headers and the summary, on a TTY (without one, output is always plain). @default tty, unless NO_COLOR is set */
  color?: boolean;
  /** Applied to every text written. @default none */
  redact?: Redact;
  /** Failed tasks listed in the summary before `… and N more`. @default 20 */
  maxFailures?: number;
}

type Style = Exclude<Parameters<typeof styleText>[0], readonly unknown[]>;

const STATUS_STYLE: Record<StageStatus | 'running', Style> = {
  passed: 'green',
  restored: 'cyan',
  skipped: 'yellow',
  failed: 'red',
  error: 'red',
  running: 'yellow',
};

interface StageLine {
  name: string;
  status: StageStatus | 'running';
  start: number;
  end?: number;
  attempts: number;
  reason?: string;
  exitCode?: number;
  checkpoint?: string;
  voting: boolean;
}

/** What one stage's latest attempt counted, and its failures. */
interface StageCount {
  attempt: number;
  /** Summed from the results, until the run's own recap (the stats event) replaces it. */
  recap: Recap;
  fromStats: boolean;
  failures: string[];
  failureCount: number;
  /** Failures of earlier attempts (a retry followed). */
  earlier: string[];
  earlierCount: number;
}

export { formatDuration };

/**
 * The console sink. On a terminal: a coloured header per stage and Ansible's output as it
 * comes. Otherwise (CI logs): plain lines without ANSI codes, each prefixed `[stage] `, CRLF made
 * LF and partial lines held until their newline. At run end, a summary: each stage with its status
 * and duration, the task totals, and the failed or unreachable hosts and tasks.
 */
export function createConsoleSink(options: ConsoleSinkOptions): EventSink {
  const redact = options.redact ?? noRedact;
  const color = options.tty && (options.color ?? !process.env.NO_COLOR);
  const maxFailures = options.maxFailures ?? 20;
  // Without a TTY, nothing but text goes out: no ANSI sequences, no control characters.
  const out = options.tty
    ? (text: string) => options.write(redact(text))
    : (text: string) => options.write(redact(stripVTControlCharacters(text).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')));
  const paint = (style: Style | Style[], text: string) => (color ? styleText(style, text) : text);
  const stages = new Map<string, StageLine>();
  let planned: string[] = [];
  const partial = new Map<string, string>();
  const stageCounts = new Map<string, StageCount>();
  let summarized = false;

  function countOf(stage: string, attempt: number): StageCount {
    let c = stageCounts.get(stage);
    if (!c) {
      c = { attempt, recap: emptyRecap(), fromStats: false, failures: [], failureCount: 0, earlier: [], earlierCount: 0 };
      stageCounts.set(stage, c);
    } else if (attempt > c.attempt) {
      // A retry: the earlier attempt's failures are history, its counts are not the stage's result.
      c.earlier.push(...c.failures.map((f) => `${f} (attempt ${c!.attempt})`));
      c.earlierCount += c.failureCount;
      c = { ...c, attempt, recap: emptyRecap(), fromStats: false, failures: [], failureCount: 0 };
      stageCounts.set(stage, c);
    }
    return c;
  }

  const position = (stage: string) => {
    const i = planned.indexOf(stage);
    return i >= 0 ? ` (${i + 1}/${planned.length})` : '';
  };

  /** Plain mode: one output line, without colours, with its stage prefix. */
  function plainLine(stage: string, raw: string): string {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const cr = line.lastIndexOf('\r');
    if (cr >= 0) line = line.slice(cr + 1); // a carriage return redraws the line: keep what shows last
    return `[${stage}] ${line}\n`;
  }

  function flushPartial(stage: string): void {
    const rest = partial.get(stage);
    if (rest) out(plainLine(stage, rest));
    partial.delete(stage);
  }

  function output(e: EventOf<'stage_output'>): void {
    if (options.tty) {
      out(e.text);
      return;
    }
    const text = (partial.get(e.stage) ?? '') + e.text;
    const lines = text.split('\n');
    const rest = lines.pop()!;
    if (rest) partial.set(e.stage, rest);
    else partial.delete(e.stage);
    if (lines.length) out(lines.map((l) => plainLine(e.stage, l)).join(''));
  }

  function stageLine(stage: string, text: string, style?: Style | Style[]): void {
    if (options.tty) out(`${style ? paint(style, text) : text}\n`);
    else out(`[${stage}] ${text}\n`);
  }

  function summary(e: EventOf<'run_end'>): string {
    const rows: string[] = [];
    const list = [...stages.values()];
    for (const name of planned) if (!stages.has(name)) list.push({ name, status: 'skipped', start: NaN, attempts: 0, reason: 'not reached', voting: true });
    const width = Math.max(5, ...list.map((s) => s.name.length));
    const counts = new Map<string, number>();
    for (const s of list) {
      counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
      const time = s.end !== undefined && Number.isFinite(s.start) ? formatDuration(s.end - s.start) : '-';
      const notes = [
        s.voting ? '' : 'non-voting',
        s.attempts > 1 ? `${s.attempts} attempts` : '',
        s.exitCode !== undefined && s.exitCode !== 0 ? `exit code ${s.exitCode}` : '',
        s.status === 'restored' && s.checkpoint ? `from checkpoint ${s.checkpoint}` : '',
        s.status !== 'passed' && s.status !== 'restored' && s.reason ? s.reason.split('\n')[0]! : '',
      ].filter(Boolean);
      rows.push(`  ${paint(STATUS_STYLE[s.status], s.status.padEnd(8))} ${s.name.padEnd(width)}  ${time.padStart(10)}${notes.length ? `  ${notes.join('; ')}` : ''}`);
    }
    const stageTotals = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
    // Totals as Ansible's PLAY RECAPs of the stages' last attempts add up; non-voting stages apart.
    const voting = emptyRecap();
    const nonVoting = emptyRecap();
    let anyNonVoting = false;
    const failed: string[] = [];
    const failedNonVoting: string[] = [];
    const earlier: string[] = [];
    let failedCount = 0;
    let nonVotingCount = 0;
    let earlierCount = 0;
    for (const [name, c] of stageCounts) {
      const isVoting = stages.get(name)?.voting ?? true;
      addRecap(isVoting ? voting : nonVoting, c.recap);
      if (isVoting) {
        failed.push(...c.failures);
        failedCount += c.failureCount;
      } else {
        anyNonVoting = true;
        failedNonVoting.push(...c.failures);
        nonVotingCount += c.failureCount;
      }
      earlier.push(...c.earlier);
      earlierCount += c.earlierCount;
    }
    const lines = ['', paint('bold', 'Summary'), ...rows, `Stages: ${stageTotals || 'none'}`, `Tasks: ${formatRecap(voting)}`];
    if (anyNonVoting) lines.push(`Tasks of non-voting stages (not counted): ${formatRecap(nonVoting)}`);
    const listed = (title: string, style: Style, items: string[], count: number): void => {
      if (!count) return;
      const shown = items.slice(0, maxFailures);
      lines.push(paint(style, `${title} (${count}):`), ...shown.map((f) => `  ${f}`));
      if (count > shown.length) lines.push(`  … and ${count - shown.length} more`);
    };
    listed('Failed', 'red', failed, failedCount);
    listed('Failed in non-voting stages (not counted)', 'yellow', failedNonVoting, nonVotingCount);
    listed('Failed in earlier attempts (retried)', 'yellow', earlier, earlierCount);
    const verdict = `Run ${e.status} (exit code ${e.exitCode})${e.reason ? `: ${e.reason}` : ''}`;
    lines.push(paint(e.status === 'passed' ? ['bold', 'green'] : ['bold', 'red'], verdict), '');
    return lines.join('\n');
  }

  return {
    handle(e: RunEvent): void {
      switch (e.kind) {
        case 'run_start':
          planned = [...e.stages];
          stageLine('harness', `run ${e.runId}: scenario ${e.scenario}, ${e.stages.length} stage(s): ${e.stages.join(', ')}`, 'bold');
          return;
        case 'lab_ready':
          stageLine('harness', `lab ready (${e.provider}): ${e.hosts.join(', ')}`);
          return;
        case 'stage_start': {
          const prev = stages.get(e.stage);
          // A retry keeps the first attempt's start: the stage's time is all its attempts'.
          const start = prev && e.attempt > 1 && Number.isFinite(prev.start) ? prev.start : e.time;
          stages.set(e.stage, { name: e.stage, status: 'running', start, attempts: Math.max(e.attempt, prev?.attempts ?? 0), voting: e.voting !== false });
          countOf(e.stage, e.attempt);
          const attempt = e.attempt > 1 ? `, attempt ${e.attempt}` : '';
          const playbook = e.playbook ? `: ${e.playbook}` : e.command ? `: $ ${e.command}` : '';
          if (options.tty) out(`\n${paint(['bold', 'cyan'], `━━ stage ${e.stage}${position(e.stage)}${attempt}${playbook} ━━`)}\n`);
          else stageLine(e.stage, `--- stage ${e.stage}${position(e.stage)}${attempt}${playbook} ---`);
          return;
        }
        case 'stage_output':
          output(e);
          return;
        case 'host_result': {
          if (e.item !== undefined) return; // the task's own result counts for its items
          const c = countOf(e.stage, e.attempt);
          if (c.attempt !== e.attempt) return;
          if (!c.fromStats) addRecap(c.recap, resultCounts(e));
          if (isFailure(e)) {
            c.failureCount++;
            if (c.failures.length < maxFailures) {
              const what = e.status === 'unreachable' ? ' (unreachable)' : '';
              const msg = e.message ? `: ${stripVTControlCharacters(e.message).split('\n')[0]}` : '';
              c.failures.push(`${e.stage}: [${e.host}] ${e.task || e.action}${what}${msg}`);
            }
          }
          return;
        }
        case 'stats': {
          // The run's own PLAY RECAP: the stage's totals are exactly it.
          const c = countOf(e.stage, e.attempt);
          if (c.attempt !== e.attempt) return;
          if (!Object.keys(e.hosts).length) return;
          c.recap = emptyRecap();
          for (const h of Object.values(e.hosts)) addRecap(c.recap, h);
          c.fromStats = true;
          return;
        }
        case 'results_file': {
          const what =
            e.problem !== undefined
              ? `: cannot be read (${e.problem})`
              : e.tests !== undefined
                ? `: ${e.tests} test(s), ${e.failures ?? 0} failed, ${e.errors ?? 0} errored`
                : '';
          stageLine(e.stage, `results from ${e.host}: ${e.path}${what}`);
          return;
        }
        case 'stage_end': {
          flushPartial(e.stage);
          const prev = stages.get(e.stage);
          const s: StageLine = {
            name: e.stage, status: e.status, start: prev?.start ?? e.time, end: e.time,
            attempts: Math.max(prev?.attempts ?? 0, e.status === 'skipped' || e.status === 'restored' ? 0 : e.attempt),
            voting: e.voting !== false && prev?.voting !== false,
          };
          if (e.reason !== undefined) s.reason = e.reason;
          if (e.exitCode !== undefined) s.exitCode = e.exitCode;
          if (e.checkpoint !== undefined) s.checkpoint = e.checkpoint;
          stages.set(e.stage, s);
          const took = prev ? ` after ${formatDuration(e.time - prev.start)}` : '';
          const exit = e.exitCode !== undefined && e.exitCode !== 0 ? ` (exit code ${e.exitCode})` : '';
          const from = e.status === 'restored' && e.checkpoint && !e.reason?.includes(e.checkpoint) ? ` from checkpoint ${e.checkpoint}` : '';
          const why = e.reason ? `: ${e.reason}` : '';
          const nv = s.voting ? '' : ' (non-voting: does not fail the run)';
          const again = e.retrying ? '; retrying' : '';
          stageLine(e.stage, `stage ${e.stage} ${e.status}${nv}${from}${took}${exit}${why}${again}`, ['bold', STATUS_STYLE[e.status]]);
          return;
        }
        case 'run_end':
          for (const stage of [...partial.keys()]) flushPartial(stage);
          summarized = true;
          out(summary(e));
          return;
        default:
          return;
      }
    },

    close(): void {
      for (const stage of [...partial.keys()]) flushPartial(stage);
      if (!summarized && stages.size) out('\nThe run ended without a summary (no run_end event).\n');
    },
  };
}
