/** The sinks of the event stream. This file only re-exports. */
export { createConsoleSink, formatDuration, type ConsoleSinkOptions } from './console.js';
export { createEventsSink, type EventsSinkOptions } from './events-jsonl.js';
export { fanout, type Fanout } from './fanout.js';
export {
  createJournalSink,
  readJournal,
  type Journal,
  type JournalRunStatus,
  type JournalSinkOptions,
  type JournalStage,
  type JournalStageStatus,
} from './journal.js';
export { createJUnitSink, STAGE_CASE_HOST, type JUnitSinkOptions } from './junit.js';
export { createRedactor, noRedact, REDACTED, type Redact } from './redact.js';
export { writeReport, REPORT_FILE, type ReportOptions } from './html.js';
export { redactEvent } from './redact.js';
