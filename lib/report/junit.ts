import type { EventOf, EventSink, RunEvent, StageStatus } from '../model/events.js';
import { noRedact, type Redact } from './redact.js';
import { resultsSuites } from './junit-results.js';
import { JUnitDocument } from './junit-document.js';
import { buildSuite, junitTimestamp, type CaseData, type CaseRerun, type SuiteData, type SuiteXml } from './junit-suite.js';
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

/** Tasks that load more tasks as the play runs (their load errors stop Ansible). */
const INCLUDE_ACTIONS = /(^|\.)(include_tasks|include_role|include)$/;

/** The pseudo-host of the test cases the harness adds about a stage as a whole. */
export const STAGE_CASE_HOST = 'harness';
/** The pseudo-host of a `run:` stage's case (and of its local results files): the controller. */
export const CONTROLLER_CASE_HOST = 'controller';
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
  /** Failures a block's `rescue` caught (Ansible: rescued, not failed). */
  rescued: string[];
  dropped: number;
  /** The task's own result came: a later result for the same task and host is another run of it (a handler, a role included twice). */
  finished: boolean;
  /** The stage timed out while this task ran on the host. */
  timeout?: string;
  /** Ansible stopped on an error loading what this include names (`ERROR! the role 'nope' was not found`). */
  includeError?: string;
}

interface StageSuite {
  stage: string;
  /** In a tree: the node's path (`a > b > c`), the suite's name. */
  path?: string;
  attempt: number;
  start: number;
  end?: number;
  playbook?: string;
  /** A `run:` stage's command: the stage is one test case of its own. */
  command?: string;
  status?: StageStatus;
  reason?: string;
  exitCode?: number;
  checkpoint?: string;
  cases: Map<string, LiveCase>;
  /** Task and host -> the key in `cases` of their latest run (the first run's key is the same). */
  runs: Map<string, { key: string; n: number }>;
  /** False: a non-voting stage (its failures are marked so and do not fail the run). */
  voting: boolean;
  /** A failed attempt's data, held until we know whether a retry follows and how it ends. */
  held?: SuiteData;
  /** A later attempt of the stage started: the held failures are an earlier attempt's. */
  superseded?: boolean;
  /** Its stage_end said a retry follows: held until that retry ends, whatever starts meanwhile (parallel labs). */
  retryFollows?: boolean;
  /** The cases of the last task, when it was an include and no task started after it. */
  lastInclude?: LiveCase[];
  lastIncludeTask?: string;
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

function push(c: LiveCase, list: 'failures' | 'failedItems' | 'ignored' | 'rescued', line: string): void {
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
  if (c.includeError !== undefined) {
    out.outcome = { kind: 'failure', type: 'include', message: firstLine(c.includeError), detail: c.includeError };
  } else if (c.timeout !== undefined) {
    out.outcome = { kind: 'error', type: 'timeout', message: firstLine(c.timeout), detail: c.timeout };
  } else if (c.unreachable !== undefined) {
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
  const notes = [...c.ignored.map((l) => `ignored failure: ${l}`), ...c.rescued.map((l) => `rescued failure: ${l}`)];
  if (notes.length) out.systemOut = [...notes, ...more].join('\n');
  return out;
}

/** A non-voting stage's failure: still a `<failure>`, but saying so in its type and message. */
function nonVoting(c: CaseData): CaseData {
  const o = c.outcome;
  if (o.kind !== 'failure' && o.kind !== 'error') return c;
  return { ...c, outcome: { ...o, type: `${o.type} (non-voting)`, message: `[non-voting] ${o.message}` } };
}

/**
 * An earlier attempt's suite once a retry ran: its failures and errors become `flaky*` (the stage
 * passed later) or `rerun*` (it failed again) elements of passing cases, so they are shown, not counted.
 */
function asEarlierAttempt(data: SuiteData, flaky: boolean): SuiteData {
  const cases = data.cases.map((c): CaseData => {
    const o = c.outcome;
    if (o.kind !== 'failure' && o.kind !== 'error') return c;
    const element: CaseRerun['element'] = `${flaky ? 'flaky' : 'rerun'}${o.kind === 'failure' ? 'Failure' : 'Error'}`;
    const rerun: CaseRerun = { element, type: o.type, message: o.message, ...(o.detail ? { detail: o.detail } : {}) };
    const note = `${o.kind} on this attempt (not the stage's result: the stage was retried${flaky ? ' and passed' : ''}): ${o.message}`;
    return { ...c, outcome: { kind: 'passed' }, reruns: [...(c.reruns ?? []), rerun], systemOut: c.systemOut ? `${note}\n${c.systemOut}` : note };
  });
  const properties: [string, string][] = [...(data.properties ?? []), ['retried', flaky ? 'passed later' : 'failed again']];
  return { ...data, properties, cases };
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
      s = { stage: xmlSafe(redact(stage)), attempt, start: time, cases: new Map(), runs: new Map(), voting: true, tail: [], tailLength: 0, stageCases: [], done: false };
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
    if (!s.voting) properties.push(['voting', 'false']);
    if (s.status) properties.push(['status', s.status]);
    if (s.playbook) properties.push(['playbook', s.playbook]);
    if (s.command) properties.push(['command', s.command]);
    if (s.exitCode !== undefined) properties.push(['exitCode', String(s.exitCode)]);
    if (s.checkpoint) properties.push(['checkpoint', s.checkpoint]);
    if (s.reason) properties.push(['reason', s.reason]);
    return {
      name: suiteName(s.path ?? s.stage, s.attempt),
      time: ((s.end ?? lastTime) - s.start) / 1000,
      timestamp: junitTimestamp(s.start),
      properties,
      cases: s.voting ? cases : cases.map(nonVoting),
    };
  }

  function hasFailingCase(s: StageSuite): boolean {
    for (const c of s.cases.values()) if (c.unreachable !== undefined || c.failures.length || c.failedItems.length || c.timeout !== undefined || c.includeError !== undefined) return true;
    return false;
  }

  /** The held suites of earlier attempts: sealed as they are (`final`), or as attempts a retry superseded. */
  function resolveHeld(which: (s: StageSuite) => boolean, how: 'final' | 'flaky' | 'rerun'): void {
    for (const s of suites) {
      if (!s.held || !which(s)) continue;
      s.built = buildSuite(how === 'final' ? s.held : asEarlierAttempt(s.held, how === 'flaky'));
      delete s.held;
    }
  }

  /** How a held suite shows while we wait: a superseded one as an earlier attempt that failed again (so far). */
  const heldXml = (s: StageSuite): SuiteXml => buildSuite(s.superseded ? asEarlierAttempt(s.held!, false) : s.held!);

  function endStage(s: StageSuite, e: { time: number; status: StageStatus; reason?: string; exitCode?: number; checkpoint?: string; hung?: { task: string; hosts: string[] }[]; retrying?: boolean }): void {
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
    } else if (s.command !== undefined) {
      // A `run:` stage is one case: the command, passed, failed (its output) or errored (timeout).
      const name = `[${CONTROLLER_CASE_HOST}] ${cap(s.command, 200)}`;
      const time = (s.end - s.start) / 1000;
      const failed = e.status === 'failed' || e.status === 'error';
      const type = e.status === 'failed' ? 'command' : /time[sd]? ?out|timeout/i.test(reason) ? 'timeout' : 'error';
      const message = firstLine(reason) || `the command ${e.status}`; // the reason names the exit code
      s.stageCases.push({
        name, classname, time,
        outcome: failed ? { kind: e.status === 'failed' ? 'failure' : 'error', type, message, detail: reason || undefined } : { kind: 'passed' },
        ...(failed ? { systemOut: output() } : {}),
      });
    } else if (e.status === 'error' && 'hung' in e && e.hung?.length) {
      // A timeout names the tasks that hung, on their hosts' cases, instead of a case of its own.
      for (const h of e.hung) {
        for (const host of h.hosts) {
          const c = liveCase(s, `hung\u0000${h.task}`, host, h.task, '');
          const task = clean(h.task, 1000);
          c.timeout = reason.includes(task) ? reason : `${reason || 'timed out'}: task '${task}' did not end on ${clean(host, 500)}`;
        }
      }
    } else if (e.status === 'error') {
      const type = /time[sd]? ?out|timeout/i.test(reason) ? 'timeout' : 'error';
      s.stageCases.push({
        name: stageCaseName('stage error'),
        classname,
        time: (s.end - s.start) / 1000,
        outcome: { kind: 'error', type, message: (firstLine(reason) || 'the stage ended in an error') + exit, detail: reason || undefined },
        systemOut: output(),
      });
    } else if (e.status === 'failed' && !hasFailingCase(s) && s.lastInclude?.length && /ERROR! /.test(reason)) {
      // Ansible stopped loading the last include: the include failed, not the stage as a whole.
      const error = reason.slice(reason.indexOf('ERROR! ')).replace(/\)$/, '');
      for (const c of s.lastInclude) c.includeError = error;
    } else if (e.status === 'failed' && !hasFailingCase(s)) {
      s.stageCases.push({
        name: stageCaseName('stage failed'),
        classname,
        time: (s.end - s.start) / 1000,
        outcome: { kind: 'failure', type: 'stage', message: (firstLine(reason) || 'the stage failed without a failed task') + exit, detail: reason || undefined },
        systemOut: output(),
      });
    }
    const data = suiteData(s);
    // A failed attempt waits: if a retry follows, its failures are not the stage's result.
    if (e.status === 'failed' || e.status === 'error') {
      s.held = data;
      if (e.retrying) s.retryFollows = true;
    }
    else s.built = buildSuite(data);
    openCases -= s.cases.size;
    s.done = true;
    s.cases = new Map(); // built; the cases and output are no longer needed
    s.runs = new Map();
    delete s.lastInclude;
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
    resolveHeld((s) => !!s.superseded, 'rerun');
    resolveHeld(() => true, 'final');
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
    const open = blocks.map((b) => ('built' in b ? b.built : (b.stage.built ?? (b.stage.held ? heldXml(b.stage) : buildSuite(suiteData(b.stage))))));
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

  /** The case of the latest run of a task on a host; a run that finished makes the next result a new case (`(run 2)`). */
  function liveCase(s: StageSuite, taskKey: string, host: string, task: string, action: string, isItem = false): LiveCase {
    const id = `${taskKey}\u0000${host}`;
    const run = s.runs.get(id);
    let c = run ? s.cases.get(run.key) : undefined;
    if (c && c.finished && !(isItem && false)) {
      const n = run!.n + 1;
      const key = `${id}\u0000${n}`;
      s.runs.set(id, { key, n });
      c = newCase(`[${host}] ${task || action} (run ${n})`);
      s.cases.set(key, c);
    } else if (!c) {
      s.runs.set(id, { key: id, n: 1 });
      c = newCase(`[${host}] ${task || action}`);
      s.cases.set(id, c);
    }
    return c;
  }

  function newCase(name: string): LiveCase {
    openCases++;
    return { name: clean(name, 1000), time: 0, itemTime: 0, ran: false, failures: NO_LINES, failedItems: NO_LINES, ignored: NO_LINES, rescued: NO_LINES, dropped: 0, finished: false };
  }

  function onResult(e: EventOf<'host_result'>): void {
    const s = suiteFor(e.stage, e.attempt, e.time);
    if (s.done) return; // a result after its stage ended: ignored
    const c = liveCase(s, e.taskId, e.host, e.task, e.action, e.item !== undefined);
    if (INCLUDE_ACTIONS.test(e.action) && e.item === undefined && (e.status === 'ok' || e.status === 'changed')) {
      if (!s.lastInclude?.length || s.lastIncludeTask !== e.taskId) {
        s.lastInclude = [];
        s.lastIncludeTask = e.taskId;
      }
      s.lastInclude.push(c);
    }
    const d = Number.isFinite(e.duration) && e.duration > 0 ? e.duration : 0;
    const isItem = e.item !== undefined;
    if (isItem) c.itemTime += d;
    else {
      c.time += d + (d ? 0 : c.itemTime);
      c.itemTime = 0;
    }
    const msg = e.message !== undefined ? clean(e.message) : '';
    if (!isItem) c.finished = true;
    switch (e.status) {
      case 'ok':
      case 'changed':
        c.ran = true;
        break;
      case 'skipped':
        if (c.skipped === undefined || (!c.skipped && msg)) c.skipped = msg;
        break;
      case 'unreachable':
        if (e.ignored) {
          // ignore_unreachable: Ansible counts it ok + ignored.
          c.ran = true;
          push(c, 'ignored', `unreachable: ${msg || 'host unreachable'}`);
        } else if (c.unreachable === undefined) c.unreachable = msg || 'host unreachable';
        break;
      case 'failed':
        if (e.rescued) {
          c.ran = true;
          // The loop's failed items were rescued with their task.
          for (const l of c.failedItems) push(c, 'rescued', `item ${l}`);
          c.failedItems = NO_LINES;
          push(c, 'rescued', msg || 'failed');
        } else if (e.ignored) {
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
          // A retry: the stage's held attempts are superseded. Another stage: held ones were final,
          // unless their stage_end said a retry follows (with --jobs N other stages start meanwhile).
          for (const h of suites) if (h.held && h.stage === xmlSafe(redact(e.stage)) && h.attempt < e.attempt) h.superseded = true;
          resolveHeld((h) => h.stage !== xmlSafe(redact(e.stage)) && !!h.superseded && !h.retryFollows, 'rerun');
          resolveHeld((h) => h.stage !== xmlSafe(redact(e.stage)) && !h.retryFollows, 'final');
          const s = suiteFor(e.stage, e.attempt, e.time);
          s.start = e.time;
          if (e.path && e.path.length > 1) s.path = xmlSafe(redact(e.path.join(' > ')));
          if (e.voting === false) s.voting = false;
          if (e.playbook !== undefined) s.playbook = clean(e.playbook, 1000);
          if (e.command !== undefined) s.command = clean(e.command, 1000);
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
        case 'task_start': {
          // A task started after an include: the include loaded.
          const s = suiteFor(e.stage, e.attempt, e.time);
          if (s.lastIncludeTask !== e.taskId) {
            delete s.lastInclude;
            delete s.lastIncludeTask;
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
          if (e.voting === false) s.voting = false;
          if (e.path && e.path.length > 1) s.path = xmlSafe(redact(e.path.join(' > ')));
          if (!s.done) endStage(s, e);
          if (e.attempt > 1 && e.status === 'passed') resolveHeld((h) => h.stage === s.stage && h.attempt < e.attempt, 'flaky');
          else if (e.attempt > 1 && !e.retrying && (e.status === 'failed' || e.status === 'error')) {
            resolveHeld((h) => h.stage === s.stage && h.attempt < e.attempt, 'rerun');
          }
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
