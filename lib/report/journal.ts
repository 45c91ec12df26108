import { readFile } from 'node:fs/promises';
import { InputError, type Problem } from '../errors.js';
import type { EventSink, RunEvent, StageStatus } from '../model/events.js';
import type { Vars } from '../model/values.js';
import { writeFileAtomic, writeFileAtomicSync } from '../util/atomic.js';
import { noRedact, redactingReplacer, type Redact } from './redact.js';

/** The state of a run as the journal records it. */
export type JournalRunStatus = 'running' | 'passed' | 'failed' | 'interrupted' | 'error';

/** The state of a stage as the journal records it. */
export type JournalStageStatus = 'pending' | 'running' | StageStatus;

/** One stage in the journal. Times are ISO 8601 (UTC). */
export interface JournalStage {
  name: string;
  index: number;
  status: JournalStageStatus;
  started?: string;
  ended?: string;
  /** Attempts made so far (retries make more). */
  attempts?: number;
  reason?: string;
  exitCode?: number;
  checkpoint?: string;
  /** A `run:` stage: the sha256 digest of the outputs it kept (`stages/NN-name/outputs.json` lists them). */
  outputs?: string;
  /** False for a non-voting stage: its failure does not fail the run. */
  voting?: boolean;
  /** In a tree: the node names from the fresh lab down to it. */
  path?: string[];
  /** In a tree: the lab it ran on. */
  lab?: string;
  /** For an always-stage in a tree: the jobs whose end it is. */
  jobs?: string[];
  /** A failed stage whose lab was checkpointed as it left it (`--keep-failed`): that checkpoint's key. */
  failedState?: string;
}

/** `journal.json`: the run's stage states, rewritten atomically on every change. */
export interface Journal {
  version: 1;
  runId: string;
  scenario: string;
  status: JournalRunStatus;
  started: string;
  ended?: string;
  exitCode?: number;
  reason?: string;
  stages: JournalStage[];
  /** The custom `set_stats` data of each stage, by stage name. */
  stats: Record<string, Vars>;
}

/** Options of {@link createJournalSink}. */
export interface JournalSinkOptions {
  /** Where `journal.json` goes. */
  file: string;
  /** Applied to every string value written. @default none */
  redact?: Redact;
}

const RUN_STATUSES: readonly string[] = ['running', 'passed', 'failed', 'interrupted', 'error'];
const STAGE_STATUSES: readonly string[] = ['pending', 'running', 'passed', 'failed', 'error', 'skipped', 'restored'];

const iso = (ms: number) => new Date(ms).toISOString();

/** Copies a tree node's place (path, lab, jobs) from its event. */
function placeOf(s: JournalStage, e: { path?: string[]; lab?: string; jobs?: string[] }): void {
  if (e.path) s.path = e.path;
  if (e.lab) s.lab = e.lab;
  if (e.jobs) s.jobs = e.jobs;
}

/**
 * The journal sink: keeps `journal.json` true to the run, rewriting it atomically at run start,
 * on every stage start and end, on `set_stats` data and at run end (synchronously, so it is on
 * disk when `handle` returns), and once more at close (fsynced). Stages named by run_start are
 * listed as `pending` until they start. Closed without a run_end, the run is marked `error`.
 */
export function createJournalSink(options: JournalSinkOptions): EventSink {
  const replacer = redactingReplacer(options.redact ?? noRedact);
  let journal: Journal | undefined;
  let closed = false;
  const serialize = (j: Journal) => `${JSON.stringify(j, replacer as never, 2)}\n`;

  function ensure(time: number): Journal {
    journal ??= { version: 1, runId: '', scenario: '', status: 'running', started: iso(time), stages: [], stats: {} };
    return journal;
  }
  function stageOf(j: Journal, name: string, index?: number): JournalStage {
    let s = j.stages.find((x) => x.name === name);
    if (!s) {
      s = { name, index: index ?? j.stages.length, status: 'pending' };
      j.stages.push(s);
    }
    return s;
  }
  function write(j: Journal): void {
    writeFileAtomicSync(options.file, serialize(j));
  }

  return {
    handle(e: RunEvent): void {
      if (closed) return;
      switch (e.kind) {
        case 'run_start': {
          const j = ensure(e.time);
          j.runId = e.runId;
          j.scenario = e.scenario;
          j.started = iso(e.time);
          e.stages.forEach((name, index) => stageOf(j, name, index));
          write(j);
          return;
        }
        case 'stage_start': {
          const j = ensure(e.time);
          const s = stageOf(j, e.stage, e.index);
          s.index = e.index;
          s.status = 'running';
          s.started = iso(e.time);
          s.attempts = Math.max(s.attempts ?? 0, e.attempt);
          if (e.voting === false) s.voting = false;
          placeOf(s, e);
          delete s.ended;
          delete s.reason;
          delete s.exitCode;
          write(j);
          return;
        }
        case 'stage_end': {
          const j = ensure(e.time);
          const s = stageOf(j, e.stage, e.index);
          s.index = e.index;
          s.status = e.status;
          s.started ??= iso(e.time);
          s.ended = iso(e.time);
          if (e.status !== 'skipped' && e.status !== 'restored') s.attempts = Math.max(s.attempts ?? 0, e.attempt);
          if (e.reason !== undefined) s.reason = e.reason;
          if (e.exitCode !== undefined) s.exitCode = e.exitCode;
          if (e.checkpoint !== undefined) s.checkpoint = e.checkpoint;
          if (e.outputs !== undefined) s.outputs = e.outputs;
          if (e.voting === false) s.voting = false;
          placeOf(s, e);
          write(j);
          return;
        }
        case 'failed_state': {
          const j = ensure(e.time);
          stageOf(j, e.stage).failedState = e.checkpoint;
          write(j);
          return;
        }
        case 'stats': {
          if (!e.custom || Object.keys(e.custom).length === 0) return;
          const j = ensure(e.time);
          j.stats[e.stage] = { ...j.stats[e.stage], ...e.custom };
          write(j);
          return;
        }
        case 'run_end': {
          const j = ensure(e.time);
          j.status = e.status;
          j.ended = iso(e.time);
          j.exitCode = e.exitCode;
          if (e.reason !== undefined) j.reason = e.reason;
          write(j);
          return;
        }
        default:
          return;
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (!journal) return;
      if (journal.status === 'running') {
        const now = Date.now();
        journal.status = 'error';
        journal.ended = iso(now);
        journal.reason = 'the run ended without a run_end event';
        for (const s of journal.stages) {
          if (s.status !== 'running') continue;
          s.status = 'error';
          s.ended = iso(now);
          s.reason = 'the run ended before the stage finished';
        }
      }
      await writeFileAtomic(options.file, serialize(journal));
    },
  };
}

function check(value: unknown, file: string): Journal {
  const problems: Problem[] = [];
  const bad = (path: string, message: string) => problems.push({ file, path, message });
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(value)) {
    bad('', 'is not a JSON object');
    throw new InputError(problems);
  }
  if (value.version !== 1) bad('version', `must be 1, got ${JSON.stringify(value.version)}`);
  for (const key of ['runId', 'scenario', 'started'] as const) if (typeof value[key] !== 'string') bad(key, 'must be a string');
  if (typeof value.status !== 'string' || !RUN_STATUSES.includes(value.status))
    bad('status', `must be one of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(value.status)}`);
  if (value.ended !== undefined && typeof value.ended !== 'string') bad('ended', 'must be a string');
  if (!isObj(value.stats)) bad('stats', 'must be an object');
  if (!Array.isArray(value.stages)) bad('stages', 'must be a list');
  else
    value.stages.forEach((s: unknown, i) => {
      const at = `stages[${i}]`;
      if (!isObj(s)) return void bad(at, 'must be an object');
      if (typeof s.name !== 'string') bad(`${at}.name`, 'must be a string');
      if (typeof s.index !== 'number') bad(`${at}.index`, 'must be a number');
      if (typeof s.status !== 'string' || !STAGE_STATUSES.includes(s.status))
        bad(`${at}.status`, `must be one of ${STAGE_STATUSES.join(', ')}, got ${JSON.stringify(s.status)}`);
      for (const key of ['started', 'ended', 'reason', 'checkpoint', 'outputs', 'failedState'])
        if (s[key] !== undefined && typeof s[key] !== 'string') bad(`${at}.${key}`, 'must be a string');
      for (const key of ['attempts', 'exitCode'])
        if (s[key] !== undefined && typeof s[key] !== 'number') bad(`${at}.${key}`, 'must be a number');
    });
  if (problems.length) throw new InputError(problems);
  return value as unknown as Journal;
}

/** Reads and checks a `journal.json`; throws {@link InputError} naming the file if it is missing or not a journal. */
export async function readJournal(file: string): Promise<Journal> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file: is this a run directory?' : (err as Error).message;
    throw new InputError([{ file, message: `cannot read the journal: ${why}` }], { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError([{ file, message: `not a journal: invalid JSON (${(err as Error).message})` }], { cause: err });
  }
  return check(value, file);
}
