/**
 * A child process of the event pipeline benchmark (its own process, so its peak RSS is the
 * pipeline's): reads the stage files of a synthetic stream in 64 KiB chunks, as the FIFO
 * delivers them, and does what the engine does with each line: split, parse, redact, hand to the
 * sinks (non-TTY console, JUnit, journal, events.jsonl), plus Ansible's console text per task
 * (console sink and output.log, as lib/engine/stage.ts does). Prints one JSON result line.
 * Usage: node dist/bench/events-child.js <job.json>
 */
import { createReadStream, createWriteStream, closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { stripVTControlCharacters } from 'node:util';
import { createLineSplitter, parseEventLine } from '../lib/ansible/events.js';
import type { EventSink, RunEvent } from '../lib/model/events.js';
import { createConsoleSink, createEventsSink, createJournalSink, createJUnitSink, createRedactor, fanout } from '../lib/report/index.js';
import * as redactModule from '../lib/report/redact.js';
import { hostName } from './synthetic.js';

/** Which parts of the pipeline run. */
export type SinkName = 'console' | 'junit' | 'journal' | 'jsonl';

/** What the parent asks for. */
export interface EventsJob {
  files: string[];
  hosts: number;
  sinks: SinkName[];
  out: string;
}

/** What the child reports. */
export interface EventsChildResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Peak resident memory of the process (MiB), from process.resourceUsage().maxRSS. */
  maxRssMiB: number;
  /** The same from /proc/self/status VmHWM (MiB). */
  vmHwmMiB: number;
  /** Resident memory after the imports, before the stream (MiB). */
  baseRssMiB: number;
  /** Time of the sinks' close (final JUnit write and fsync, events.jsonl end). */
  closeSeconds: number;
  files: Record<string, number>;
  /** How events were redacted: lib/report's redactEvent, or the JSON round trip of older engines. */
  redaction: string;
}

function vmHwm(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as EventsJob;
const baseRssMiB = process.memoryUsage.rss() / 2 ** 20;
const redact = createRedactor(['bench-secret-5f2a9c71e4']);
const consoleFd = openSync(path.join(job.out, 'console.log'), 'w');
const sinks: EventSink[] = [];
if (job.sinks.includes('console')) sinks.push(createConsoleSink({ write: (t) => void writeSync(consoleFd, t), tty: false, redact }));
if (job.sinks.includes('junit')) sinks.push(createJUnitSink({ file: path.join(job.out, 'junit.xml'), scenario: 'bench', redact }));
if (job.sinks.includes('journal')) sinks.push(createJournalSink({ file: path.join(job.out, 'journal.json'), redact }));
if (job.sinks.includes('jsonl')) sinks.push(createEventsSink({ file: path.join(job.out, 'events.jsonl'), redact }));
const all = fanout(sinks);
const anySink = sinks.length > 0;

/** What lib/engine/stage.ts does to every event: lib/report's redactEvent where it exists, else (older engines) a JSON round trip. */
const libRedactEvent = (redactModule as Record<string, unknown>).redactEvent as (<T>(event: T, r: (t: string) => string) => T) | undefined;
function redactEvent<T extends RunEvent>(event: T): T {
  if (libRedactEvent) return libRedactEvent(event, redact);
  const text = JSON.stringify(event);
  const clean = redact(text);
  return clean === text ? event : (JSON.parse(clean) as T);
}
const emit = (e: RunEvent): void => all.handle(e);

const stages = job.files.map((_, i) => `stage-${i + 1}`);
const hosts = Array.from({ length: job.hosts }, (_, i) => hostName(i));
let events = 0;
const t0 = performance.now();
emit({ kind: 'run_start', time: Date.now(), runId: 'bench', scenario: 'bench', runDir: job.out, stages });
emit({ kind: 'lab_ready', time: Date.now(), provider: 'static', hosts });
for (const [index, file] of job.files.entries()) {
  const stage = stages[index]!;
  const ctx = { stage, attempt: 1 };
  emit({ kind: 'stage_start', time: Date.now(), stage, attempt: 1, index, playbook: '/bench/overhead.yml' });
  const log = createWriteStream(path.join(job.out, `output-${index + 1}.log`));
  const out = (text: string): void => {
    const clean = redact(text);
    emit({ kind: 'stage_output', time: Date.now(), stage, attempt: 1, text: clean });
    log.write(stripVTControlCharacters(clean).replace(/\r/g, ''));
  };
  const splitter = createLineSplitter((line) => {
    const event = parseEventLine(line, ctx);
    if (!event) return;
    events++;
    if (!anySink) return;
    if (event.kind === 'task_start') {
      // What the default stdout callback prints for a task, as the pty would deliver it.
      let text = `\r\nTASK [${event.task}] ${'*'.repeat(40)}\r\n`;
      for (const h of hosts) text += `ok: [${h}]\r\n`;
      out(text);
    }
    emit(redactEvent(event));
  });
  const stream = createReadStream(file, { highWaterMark: 65536 });
  for await (const chunk of stream) splitter.push(chunk as Buffer);
  splitter.end();
  log.end();
  await once(log, 'close');
  emit({ kind: 'stage_end', time: Date.now(), stage, attempt: 1, index, status: 'passed', exitCode: 0 });
}
emit({ kind: 'run_end', time: Date.now(), status: 'passed', exitCode: 0 });
const c0 = performance.now();
await all.closeAll();
const t1 = performance.now();
closeSync(consoleFd);
const seconds = (t1 - t0) / 1000;
const files: Record<string, number> = {};
for (const f of ['junit.xml', 'events.jsonl', 'journal.json', 'console.log']) {
  try {
    files[f] = statSync(path.join(job.out, f)).size;
  } catch {
    /* not written by this configuration */
  }
}
const result: EventsChildResult = {
  events,
  seconds,
  eventsPerSecond: events / seconds,
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
  vmHwmMiB: vmHwm(),
  baseRssMiB,
  closeSeconds: (t1 - c0) / 1000,
  files,
  redaction: libRedactEvent ? 'lib/report redactEvent' : 'JSON round trip',
};
process.stdout.write(`${JSON.stringify(result)}\n`);
