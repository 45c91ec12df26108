/**
 * What the HTML report shows, gathered from a run directory: the journal (authoritative for
 * stage states), the manifest (may be missing or partial after a crash), the event summary and
 * the files that exist. Nothing here renders.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import { readJournal, type Journal, type JournalStageStatus } from './journal.js';
import { summarizeEvents, type EventsSummary, type StageEvents } from './html-events.js';
import { hostFiles, listFiles, stageDirOf, topFiles, type FileLink, type FileList } from './html-files.js';
import { runDirPaths } from '../rundir.js';
import type { Manifest } from '../model/index.js';

/** A stage as the report shows it. Times are ms since the epoch. */
export interface StageView {
  name: string;
  index: number;
  status: JournalStageStatus | 'unknown';
  voting: boolean;
  reason?: string;
  exitCode?: number;
  checkpoint?: string;
  /** The checkpoint of the lab as this failed stage left it (`--keep-failed`). */
  failedState?: string;
  attempts: number;
  started?: number;
  ended?: number;
  events?: StageEvents;
  /** `stages/NN-name`, when it exists. */
  dir?: string;
  files: FileLink[];
  /** In a tree: the node names from the fresh lab down to it, and the lab it ran on. */
  path?: string[];
  lab?: string;
}

/** Any part of a value may be missing (a manifest damaged or written by an older version). */
type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** `manifest.json` as the report reads it: the typed {@link Manifest}, any part of it missing. */
export type ManifestView = DeepPartial<Manifest>;

/** Everything the page renders. */
export interface ReportModel {
  /** The run directory's folder name. */
  dirName: string;
  scenario: string;
  runId: string;
  status: string;
  exitCode?: number;
  reason?: string;
  started?: number;
  ended?: number;
  stages: StageView[];
  manifest?: ManifestView;
  /** Notes on missing or damaged records (a crashed run), shown at the top. */
  notes: string[];
  events: EventsSummary;
  top: FileLink[];
  hosts: Map<string, FileList>;
}

/** Options of {@link buildModel}. */
export interface ModelOptions {
  signal?: AbortSignal;
  /** Collected files listed per host. @default 300 */
  filesPerHost?: number;
}

const ms = (iso?: string) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? undefined : t;
};

async function readManifest(file: string, notes: string[]): Promise<ManifestView | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    notes.push('manifest.json is missing: the run did not get to write it (it crashed or was killed), so versions and hosts are not shown.');
    return undefined;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as ManifestView;
    notes.push('manifest.json is not a JSON object; it was ignored.');
  } catch (err) {
    notes.push(`manifest.json is damaged (${(err as Error).message}); it was ignored.`);
  }
  return undefined;
}

async function readJournalOrNote(file: string, notes: string[]): Promise<Journal | undefined> {
  try {
    return await readJournal(file);
  } catch (err) {
    notes.push(`journal.json could not be used (${(err as Error).message.split('\n')[0]}); stage states come from events.jsonl.`);
    return undefined;
  }
}

/** A stage's files with output.log first, then the other attempts' logs, then the rest. */
function logsFirst(files: FileLink[]): FileLink[] {
  const rank = (f: FileLink) => (/\/output\.log$/.test(f.rel) ? 0 : /\/output\.[^/]*\.log$/.test(f.rel) ? 1 : 2);
  return [...files].sort((a, b) => rank(a) - rank(b) || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Gathers the report's model from a run directory; throws {@link InputError} if it has neither journal nor events. */
export async function buildModel(runDir: string, opts: ModelOptions = {}): Promise<ReportModel> {
  const root = path.resolve(runDir);
  const notes: string[] = [];
  const files = runDirPaths(root);
  const journal = await readJournalOrNote(files.journal, notes);
  const manifest = await readManifest(files.manifest, notes);
  const events = await summarizeEvents(files.events, { signal: opts.signal });
  if (!journal && events.missing)
    throw new InputError(`${root}: neither journal.json nor events.jsonl is there; is it a run directory? (harness report <run dir>)`);
  if (events.missing) notes.push('events.jsonl is missing: tasks and hosts are not shown.');
  if (events.badLines) notes.push(`${events.badLines} line(s) of events.jsonl were not events (a crash may cut the last one); they were skipped.`);
  if (journal?.status === 'running') notes.push('The journal says the run is still running: it is in progress, or it crashed before it could record its end.');

  const voting = new Map<string, boolean>();
  for (const s of manifest?.stages ?? []) if (typeof s?.name === 'string') voting.set(s.name, s.voting !== false);

  const failedStates = new Map<string, string>();
  for (const s of manifest?.stages ?? []) if (typeof s?.name === 'string' && typeof s.failedState === 'string') failedStates.set(s.name, s.failedState);

  const names: string[] = [];
  const add = (n: string) => {
    if (!names.includes(n)) names.push(n);
  };
  journal?.stages.slice().sort((a, b) => a.index - b.index).forEach((s) => add(s.name));
  events.run?.stages.forEach(add);
  [...events.stages.values()].sort((a, b) => (a.index ?? 1e9) - (b.index ?? 1e9)).forEach((s) => add(s.name));

  const stages: StageView[] = [];
  for (const [i, name] of names.entries()) {
    opts.signal?.throwIfAborted();
    const j = journal?.stages.find((s) => s.name === name);
    const ev = events.stages.get(name);
    const last = ev?.attempts.at(-1);
    const index = j?.index ?? ev?.index ?? i;
    const dir = await stageDirOf(root, index, name);
    stages.push({
      name,
      index,
      status: j?.status ?? last?.status ?? (ev?.attempts.length ? 'unknown' : 'pending'),
      voting: j?.voting === false ? false : (voting.get(name) ?? true),
      reason: j?.reason ?? last?.reason,
      exitCode: j?.exitCode ?? last?.exitCode,
      checkpoint: j?.checkpoint ?? last?.checkpoint,
      ...(j?.failedState ?? failedStates.get(name) ? { failedState: j?.failedState ?? failedStates.get(name) } : {}),
      attempts: j?.attempts ?? ev?.attempts.filter((a) => a.start !== undefined).length ?? 0,
      started: ms(j?.started) ?? ev?.attempts.find((a) => a.start !== undefined)?.start,
      ended: ms(j?.ended) ?? last?.end,
      events: ev,
      dir,
      files: dir ? logsFirst((await listFiles(root, dir, 50)).files) : [],
      ...(j?.path ? { path: j.path } : {}),
      ...(j?.lab ? { lab: j.lab } : {}),
    });
  }

  return {
    dirName: path.basename(root),
    scenario: journal?.scenario || events.run?.scenario || manifest?.scenario?.name || '(unknown scenario)',
    runId: journal?.runId || events.run?.runId || path.basename(root),
    status: journal?.status ?? events.end?.status ?? 'unknown',
    exitCode: journal?.exitCode ?? events.end?.exitCode,
    reason: journal?.reason ?? events.end?.reason,
    started: ms(journal?.started) ?? events.run?.time ?? events.first,
    ended: ms(journal?.ended) ?? events.end?.time,
    stages,
    manifest,
    notes,
    events,
    top: await topFiles(root),
    hosts: await hostFiles(root, opts.filesPerHost ?? 300),
  };
}
