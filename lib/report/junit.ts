import type { EventOf, EventSink, RunEvent, StageStatus } from '../model/events.js';
import { noRedact, type Redact } from './redact.js';
import { resultsSuites } from './junit-results.js';
import { JUnitDocument } from './junit-document.js';
import { buildSuite, junitTimestamp, type CaseData, type SuiteData, type SuiteXml } from './junit-suite.js';
import { cap, firstLine, xmlSafe } from './text.js';

/** Options of {@link createJUnitSink}. */
export interface JUnitSinkOptions {
  /** Where `junit.xml` goes; it is rewritten atomically as the run goes. */
  file: string;
  /** The scenario's name, for `classname="<scenario>.<stage>"`. @default the run_start event's */
  scenario?: string;
  /** Applied to every text taken from events. @default none */
  redact?: Redact;
  /** Least time between two rewrites while a stage runs. @default 2000 */
  intervalMs?: number;
  /**
   * While a stage runs, the wait between rewrites is also at least this many times what the next
   * rewrite is expected to take (the last one's cost, scaled by how much the open stage grew), so
   * rewrites take at most about 1/(1+costFactor) of the time however big the stage grows. @default 10
   */
  costFactor?: number;
}

/** The pseudo-host of the test cases the harness adds about a stage as a whole. */
export const STAGE_CASE_HOST = 'harness';
/** At most this many failure lines (items, messages) are kept per test case. */
const MAX_LINES = 50;
/** What building one test case costs before a rewrite measured it (ms; ~3-7 µs measured on a 2-CPU box). */
const PRIOR_MS_PER_CASE = 0.005;
/** Characters of a stage's output kept to explain a stage that failed or errored as a whole. */
const TAIL_CHARS = 8192;

interface LiveCase {
  name: string;
  /** Seconds of the task's own results. */
  time: number;
  /** Seconds of loop items not yet covered by their task's own result. */
  itemTime: number;
  ran: boolean;
  skipped?: string;
  unreachable?: string;
  failures: string[];
  failedItems: string[];
  ignored: string[];
  dropped: number;
}

interface StageSuite {
  stage: string;
  attempt: number;
  start: number;
  end?: number;
  playbook?: string;
  status?: StageStatus;
  reason?: string;
  exitCode?: number;
  checkpoint?: string;
  cases: Map<string, LiveCase>;
  /** The last output of the stage, in chunks (for the `[harness]` case of a failed stage). */
  tail: string[];
  tailLength: number;
  /** Extra test cases about the stage as a whole (skipped, restored, error, failed). */
  stageCases: CaseData[];
  /** The stage ended: its suite is built and nothing changes it any more. */
  done: boolean;
  /** The built suite, until it is copied into the document. */
  built?: SuiteXml;
}

/** A piece of the document in order: a stage's suite, or a suite merged from a results file (built when it arrives). */
type Block = { stage: StageSuite } | { owner: StageSuite; built: SuiteXml };

/** The lines of a case that has none: shared, replaced by its own array at the first line (most cases never get one). */
const NO_LINES: string[] = [];

function push(c: LiveCase, list: 'failures' | 'failedItems' | 'ignored', line: string): void {
  if (c[list] === NO_LINES) c[list] = [];
  if (c[list].length < MAX_LINES) c[list].push(line);
  else c.dropped++;
}

function suiteName(stage: string, attempt: number): string {
  return attempt > 1 ? `${stage} (attempt ${attempt})` : stage;
}

/** Turns what we know of a task on a host into its test case. */
function caseOf(c: LiveCase, classname: string): CaseData {
  const out: CaseData = { name: c.name, classname, time: c.time + c.itemTime, outcome: { kind: 'passed' } };
  const more = c.dropped ? [`… and ${c.dropped} more`] : [];
  if (c.unreachable !== undefined) {
    out.outcome = { kind: 'failure', type: 'unreachable', message: firstLine(c.unreachable) || 'host unreachable', detail: c.unreachable };
  } else if (c.failedItems.length || c.failures.length) {
    const message = c.failedItems.length
      ? `${c.failedItems.length}${c.dropped ? '+' : ''} loop item(s) failed: ${c.failedItems.map((l) => firstLine(l, 120)).join('; ')}`
      : firstLine(c.failures[0]!) || 'failed';
    const detail = [...c.failedItems.map((l) => `item ${l}`), ...c.failures, ...more].join('\n');
    out.outcome = { kind: 'failure', type: 'failed', message: cap(message, 1000), detail };
  } else if (!c.ran && c.skipped !== undefined) {
    out.outcome = c.skipped ? { kind: 'skipped', message: firstLine(c.skipped) } : { kind: 'skipped' };
  }
  if (c.ignored.length) out.systemOut = [...c.ignored.map((l) => `ignored failure: ${l}`), ...more].join('\n');
  return out;
}

/**
 * The JUnit sink: one `<testsuite>` per stage attempt (attempt N > 1 is named `stage (attempt N)`),
 * one `<testcase name="[host] task">` per task and host, loop items folded into their task, plus a
 * `[harness]` case for a stage that was skipped, restored, errored or failed without a failed task,
 * and the suites of results files from the hosts. The file is rewritten atomically at run start,
 * at every stage end, at most every `intervalMs` while a stage runs, and at close, so an aborted
 * run still leaves a valid file. Writes inside `handle` are synchronous (the file is on disk when
 * it returns); the one at close is fsynced.
 * Finished suites wait in an unlinked spill file beside the report, not in memory.
 */
export function createJUnitSink(options: JUnitSinkOptions): EventSink {
  const redact = options.redact ?? noRedact;
  const interval = options.intervalMs ?? 2000;
  const costFactor = options.costFactor ?? 10;
  const clean = (s: string, max?: number) => xmlSafe(cap(redact(s), max));
  let scenario = options.scenario !== undefined ? xmlSafe(redact(options.scenario)) : undefined;
  const suites: StageSuite[] = [];
  /** The blocks not yet copied into `doc`, in document order. */
  const blocks: Block[] = [];
  const doc = new JUnitDocument(options.file);
  const byKey = new Map<string, StageSuite>();
  let current: StageSuite | undefined;
  let planned: string[] = [];
  let runStart: number | undefined;
  let lastTime = 0;
  let runEnd: EventOf<'run_end'> | undefined;
  let finalized = false;
  let closed = false;
  let dirty = false;
  /** When the last rewrite ended, what it cost (ms), the open test cases then and now. */
  let lastWriteAt = 0;
  let lastCost = 0;
  let lastOpenCases = 0;
  let openCases = 0;

  const classnameOf = (s: StageSuite) => `${scenario ?? 'harness'}.${s.stage}`;
  const stageCaseName = (what: string) => `[${STAGE_CASE_HOST}] ${what}`;

  function suiteFor(stage: string, attempt: number, time: number): StageSuite {
    if (current && current.stage === stage && current.attempt === attempt) return current;
    const key = `${stage}\u0000${attempt}`;
    let s = byKey.get(key);
    if (!s) {
      s = { stage: xmlSafe(redact(stage)), attempt, start: time, cases: new Map(), tail: [], tailLength: 0, stageCases: [], done: false };
      byKey.set(key, s);
      suites.push(s);
      blocks.push({ stage: s });
    }
    current = s;
    return s;
  }

  function suiteData(s: StageSuite): SuiteData {
    const classname = classnameOf(s);
    const cases: CaseData[] = [];
    for (const c of s.cases.values()) cases.push(caseOf(c, classname));
    cases.push(...s.stageCases);
    const properties: [string, string][] = [
      ['stage', s.stage],
      ['attempt', String(s.attempt)],
    ];
    if (s.status) properties.push(['status', s.status]);
    if (s.playbook) properties.push(['playbook', s.playbook]);
    if (s.exitCode !== undefined) properties.push(['exitCode', String(s.exitCode)]);
    if (s.checkpoint) properties.push(['checkpoint', s.checkpoint]);
    if (s.reason) properties.push(['reason', s.reason]);
    return {
      name: suiteName(s.stage, s.attempt),
      time: ((s.end ?? lastTime) - s.start) / 1000,
      timestamp: junitTimestamp(s.start),
      properties,
      cases,
    };
  }

  function hasFailingCase(s: StageSuite): boolean {
    for (const c of s.cases.values()) if (c.unreachable !== undefined || c.failures.length || c.failedItems.length) return true;
    return false;
  }

  function endStage(s: StageSuite, e: { time: number; status: StageStatus; reason?: string; exitCode?: number; checkpoint?: string }): void {
    s.end = e.time;
    s.status = e.status;
    if (e.reason !== undefined) s.reason = clean(e.reason, 2000);
    if (e.exitCode !== undefined) s.exitCode = e.exitCode;
    if (e.checkpoint !== undefined) s.checkpoint = clean(e.checkpoint, 500);
    const classname = classnameOf(s);
    const reason = s.reason ?? '';
    const exit = s.exitCode !== undefined && !new RegExp(`code ${s.exitCode}\\b`).test(reason) ? ` (exit code ${s.exitCode})` : '';
    const output = () => {
      const text = s.tail.join('').slice(-TAIL_CHARS);
      return text.trim() ? `last output of the stage:\n${clean(text, TAIL_CHARS)}` : undefined;
    };
    if (e.status === 'skipped') {
      const why = firstLine(reason) || 'skipped';
      s.stageCases.push({ name: stageCaseName(`not run: ${why}`), classname, time: 0, outcome: { kind: 'skipped', message: why }, systemOut: reason || why });
    } else if (e.status === 'restored') {
      const from = s.checkpoint ?? 'a checkpoint';
      s.stageCases.push({
        name: stageCaseName(`restored from checkpoint ${from}`),
        classname,
        time: (s.end - s.start) / 1000,
        outcome: { kind: 'passed' },
        systemOut: `stage ${s.stage} was not run: the lab was restored from checkpoint ${from}${reason ? ` (${reason})` : ''}`,
      });
    } else if (e.status === 'error') {
      const type = /time[sd]? ?out|timeout/i.test(reason) ? 'timeout' : 'error';
      s.stageCases.push({
        name: stageCaseName('stage error'),
        classname,
        time: (s.end - s.start) / 1000,
        outcome: { kind: 'error', type, message: (firstLine(reason) || 'the stage ended in an error') + exit, detail: reason || undefined },
        systemOut: output(),
      });
    } else if (e.status === 'failed' && !hasFailingCase(s)) {
      s.stageCases.push({
        name: stageCaseName('stage failed'),
        classname,
        time: (s.end - s.start) / 1000,
        outcome: { kind: 'failure', type: 'stage', message: (firstLine(reason) || 'the stage failed without a failed task') + exit, detail: reason || undefined },
        systemOut: output(),
      });
    }
    s.built = buildSuite(suiteData(s));
    openCases -= s.cases.size;
    s.done = true;
    s.cases = new Map(); // built; the cases and output are no longer needed
    s.tail = [];
    if (current === s) current = undefined;
  }

  /** Closes what the run left open: stages without an end, planned stages never reached. */
  function finalize(how: string): void {
    if (finalized) return;
    finalized = true;
    for (const s of [...suites]) {
      if (!s.done) endStage(s, { time: lastTime, status: 'error', reason: `${how} before the stage finished` });
    }
    const seen = new Set(suites.map((s) => s.stage));
    for (const stage of planned) {
      if (seen.has(xmlSafe(redact(stage)))) continue;
      endStage(suiteFor(stage, 1, lastTime), { time: lastTime, status: 'skipped', reason: `${how} before this stage` });
    }
  }

  /** Adds a results file's suites right after its stage's suite and earlier ones (or at the end, once that is sealed). */
  function addExtras(owner: StageSuite, built: SuiteXml[]): void {
    let at = -1;
    blocks.forEach((b, i) => {
      if (('stage' in b ? b.stage : b.owner) === owner) at = i;
    });
    const add = built.map((x): Block => ({ owner, built: x }));
    if (at < 0) blocks.push(...add);
    else blocks.splice(at + 1, 0, ...add);
  }

  /** Writes the report atomically (`sync`: fsynced too). */
  function writeReport(sync = false): void {
    // Copy the leading blocks that can no longer change into the document, once.
    while (blocks.length) {
      const b = blocks[0]!;
      const built = 'built' in b ? b.built : b.stage.built;
      if (!built) break;
      doc.append(built);
      if ('stage' in b) delete b.stage.built;
      blocks.shift();
    }
    const open = blocks.map((b) => ('built' in b ? b.built : (b.stage.built ?? buildSuite(suiteData(b.stage)))));
    const total = runStart !== undefined ? (lastTime - runStart) / 1000 : undefined;
    doc.write(scenario ?? 'harness', open, total, sync);
  }

  /** What the next rewrite should cost (ms): the open test cases at the last rewrite's cost per case (or a measured prior), and at least what the last one cost. */
  function expectedCost(): number {
    const perCase = lastOpenCases >= 1000 ? lastCost / lastOpenCases : PRIOR_MS_PER_CASE;
    return Math.max(lastCost, perCase * openCases);
  }

  function writeNow(): void {
    const t0 = performance.now();
    try {
      writeReport();
    } catch {
      // Tried again at the next rewrite; the one at close reports an error that persists.
    }
    lastCost = performance.now() - t0;
    lastOpenCases = openCases;
    dirty = false;
    lastWriteAt = Date.now();
  }

  function onResult(e: EventOf<'host_result'>): void {
    const s = suiteFor(e.stage, e.attempt, e.time);
    if (s.done) return; // a result after its stage ended: ignored
    const key = `${e.taskId}\u0000${e.host}`;
    let c = s.cases.get(key);
    if (!c) {
      c = { name: clean(`[${e.host}] ${e.task || e.action}`, 1000), time: 0, itemTime: 0, ran: false, failures: NO_LINES, failedItems: NO_LINES, ignored: NO_LINES, dropped: 0 };
      s.cases.set(key, c);
      openCases++;
    }
    const d = Number.isFinite(e.duration) && e.duration > 0 ? e.duration : 0;
    const isItem = e.item !== undefined;
    if (isItem) c.itemTime += d;
    else {
      c.time += d + (d ? 0 : c.itemTime);
      c.itemTime = 0;
    }
    const msg = e.message !== undefined ? clean(e.message) : '';
    switch (e.status) {
      case 'ok':
      case 'changed':
        c.ran = true;
        break;
      case 'skipped':
        if (c.skipped === undefined || (!c.skipped && msg)) c.skipped = msg;
        break;
      case 'unreachable':
        if (c.unreachable === undefined) c.unreachable = msg || 'host unreachable';
        break;
      case 'failed':
        if (e.ignored) {
          c.ran = true;
          push(c, 'ignored', isItem ? `item ${clean(e.item!, 500)}: ${msg}` : msg);
        } else if (isItem) push(c, 'failedItems', `${clean(e.item!, 500)}${msg ? `: ${msg}` : ''}`);
        else push(c, 'failures', msg || 'failed');
        break;
    }
  }

  return {
    handle(e: RunEvent): void {
      if (closed) return;
      if (e.time > lastTime) lastTime = e.time;
      switch (e.kind) {
        case 'run_start':
          if (scenario === undefined) scenario = xmlSafe(redact(e.scenario));
          runStart = e.time;
          planned = [...e.stages];
          writeNow();
          return;
        case 'stage_start': {
          const s = suiteFor(e.stage, e.attempt, e.time);
          s.start = e.time;
          if (e.playbook !== undefined) s.playbook = clean(e.playbook, 1000);
          dirty = true;
          break;
        }
        case 'stage_output': {
          const s = suiteFor(e.stage, e.attempt, e.time);
          if (s.done) return;
          s.tail.push(e.text);
          s.tailLength += e.text.length;
          if (s.tailLength > 2 * TAIL_CHARS) {
            const text = s.tail.join('').slice(-TAIL_CHARS);
            s.tail = [text];
            s.tailLength = text.length;
          }
          return;
        }
        case 'host_result':
          onResult(e);
          dirty = true;
          break;
        case 'results_file': {
          const s = suiteFor(e.stage, e.attempt, e.time);
          addExtras(s, resultsSuites(e, redact, classnameOf(s)).map(buildSuite));
          dirty = true;
          break;
        }
        case 'stage_end': {
          const s = suiteFor(e.stage, e.attempt, e.time);
          if (!s.done) endStage(s, e);
          writeNow();
          return;
        }
        case 'run_end':
          runEnd = e;
          finalize(`the run ended (${e.status}${e.reason ? `: ${e.reason}` : ''})`);
          writeNow();
          return;
        default:
          return;
      }
      if (dirty && Date.now() - lastWriteAt >= Math.max(interval, costFactor * expectedCost())) writeNow();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      finalize(runEnd ? `the run ended (${runEnd.status})` : 'the run ended without a run_end event');
      try {
        writeReport(true);
      } catch (err) {
        throw new Error(`could not write the JUnit report ${options.file}: ${(err as Error).message}`, { cause: err });
      } finally {
        doc.dispose();
      }
    },
  };
}
