/**
 * `report.html`: one self-contained page about a run (inline CSS, inline SVG, no external
 * asset, readable without JavaScript), written from the run directory's records.
 */
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { buildModel } from './html-model.js';
import { renderPage } from './html-page.js';
import { noRedact, type Redact } from './redact.js';
import { RUN_FILES } from '../rundir.js';

/** The report's file name inside a run directory. */
export const REPORT_FILE = RUN_FILES.report;

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** Applied to every text on the page, and to the page as a whole. @default none (the records are redacted already) */
  redact?: Redact;
  /** Stops reading the records. */
  signal?: AbortSignal;
  /** Collected files listed per host (the rest are counted). @default 300 */
  filesPerHost?: number;
}

/**
 * (Re)writes `<runDir>/report.html` from journal.json, manifest.json (may be missing after a
 * crash) and events.jsonl (streamed, summarised per stage, host and task), atomically, mode
 * 0644, and returns its path. Throws InputError if `runDir` has neither journal nor events.
 */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<string> {
  const root = path.resolve(runDir);
  const redact = opts.redact ?? noRedact;
  const model = await buildModel(root, { signal: opts.signal, filesPerHost: opts.filesPerHost });
  const file = path.join(root, REPORT_FILE);
  await writeFileAtomic(file, redact(renderPage(model, redact)), 0o644);
  return file;
}
