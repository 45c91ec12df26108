/**
 * Benchmark 2, event pipeline: 1,000,000 callback events (scaled up from a real recording of our
 * plugin) through the line splitter, parseEventLine, the engine's redaction and the sinks
 * (non-TTY console, JUnit, journal, events.jsonl), each configuration in its own child process
 * so its peak RSS is its own. Goals: >= 100,000 events/s, peak RSS <= 300 MiB.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeJson } from './proc.js';
import { summarize } from './stats.js';
import { readTemplates, writeStream } from './synthetic.js';
import type { EventsChildResult, EventsJob, SinkName } from './events-child.js';
import { overall, type BenchContext, type BenchResult, type Row } from './result.js';

const RATE_GOAL = 100_000;
const RSS_GOAL_MIB = 300;
const EVENTS = 1_000_000;
const HOSTS = 100;
const STAGES = 10;

/** Runs the event pipeline benchmark; see the module comment. */
export async function benchEvents(ctx: BenchContext): Promise<BenchResult> {
  const t0 = performance.now();
  const streamDir = path.join(ctx.tmp, 'stream');
  mkdirSync(streamDir, { recursive: true });
  ctx.log(`events: writing a synthetic stream of ${EVENTS} events (${HOSTS} hosts, ${STAGES} stages)`);
  const g0 = performance.now();
  const stream = writeStream(readTemplates(path.join(ctx.root, 'bench', 'fixtures', 'recorded-2hosts.jsonl')), streamDir, { events: EVENTS, hosts: HOSTS, stages: STAGES });
  const genSeconds = (performance.now() - g0) / 1000;
  const all: SinkName[] = ['console', 'junit', 'journal', 'jsonl'];
  // The parts alone (full mode), then the whole pipeline: once (quick) or three times (full), judged on the median rate and the highest peak.
  const parts: [string, SinkName[]][] = ctx.quick
    ? []
    : [
        ['split + parse only', []],
        ['+ redact + non-TTY console', ['console']],
        ['+ redact + events.jsonl', ['jsonl']],
        ['+ redact + JUnit', ['junit']],
      ];
  const wholeRuns = ctx.quick ? 1 : 3;
  const configs: [string, SinkName[]][] = [...parts, ...Array.from({ length: wholeRuns }, (_, i): [string, SinkName[]] => [`whole pipeline #${i + 1}`, all])];
  const rows: Row[] = [];
  const runs: Record<string, EventsChildResult> = {};
  const data: Record<string, unknown> = { stream: { ...stream, files: stream.files.length, generateSeconds: genSeconds }, runs };
  const peakOf = (r: EventsChildResult): number => Math.max(r.maxRssMiB, Number.isNaN(r.vmHwmMiB) ? 0 : r.vmHwmMiB);
  const rate = (r: EventsChildResult): string => `${Math.round(r.eventsPerSecond).toLocaleString('en-US')} events/s`;
  for (const [label, sinks] of configs) {
    const out = path.join(ctx.tmp, `out-${label.replace(/\W+/g, '-')}`);
    mkdirSync(out, { recursive: true });
    const jobFile = path.join(out, 'job.json');
    const job: EventsJob = { files: stream.files, hosts: HOSTS, sinks, out };
    writeFileSync(jobFile, JSON.stringify(job));
    ctx.log(`events: ${label}`);
    const r = await nodeJson<EventsChildResult>(path.join(ctx.root, 'dist', 'bench', 'events-child.js'), [jobFile], { signal: ctx.signal });
    runs[label] = r;
    if (sinks.length < all.length) rows.push({ what: `${label}: rate; peak RSS`, figure: `${rate(r)}; ${peakOf(r).toFixed(0)} MiB` });
    rmSync(out, { recursive: true, force: true });
  }
  const whole = Object.entries(runs).filter(([label]) => label.startsWith('whole pipeline')).map(([, r]) => r);
  const rates = summarize(whole.map((r) => r.eventsPerSecond));
  const peak = Math.max(...whole.map(peakOf));
  const first = whole[0]!;
  rows.push({
    what: `whole pipeline: rate${whole.length > 1 ? `, median of ${whole.length} runs (min–max)` : ''}`,
    figure: `${Math.round(rates.median).toLocaleString('en-US')} events/s${whole.length > 1 ? ` (${Math.round(rates.min).toLocaleString('en-US')}–${Math.round(rates.max).toLocaleString('en-US')})` : ''}; ${first.events.toLocaleString('en-US')} events in ${first.seconds.toFixed(2)} s, of which closing the sinks ${first.closeSeconds.toFixed(2)} s`,
    goal: `>= ${RATE_GOAL.toLocaleString('en-US')}/s`,
    verdict: rates.median >= RATE_GOAL ? 'met' : 'missed',
  });
  rows.push({
    what: `whole pipeline: peak RSS${whole.length > 1 ? `, highest of ${whole.length} runs` : ''}`,
    figure: `${peak.toFixed(0)} MiB (${whole.map((r) => peakOf(r).toFixed(0)).join(', ')}; ${first.baseRssMiB.toFixed(0)} MiB after the imports)`,
    goal: `<= ${RSS_GOAL_MIB} MiB`,
    verdict: peak <= RSS_GOAL_MIB ? 'met' : 'missed',
  });
  rows.push({ what: 'whole pipeline: files written', figure: Object.entries(first.files).map(([f, n]) => `${f} ${(n / 2 ** 20).toFixed(1)} MiB`).join(', ') });
  rmSync(streamDir, { recursive: true, force: true });
  const redaction = first.redaction;
  const notes = [
    `Each event is redacted as lib/engine/stage.ts does (one secret set; ${redaction ?? 'n/a'}) before the sinks, which redact what they write too.`,
    `Stream: ${stream.events.toLocaleString('en-US')} callback events (${stream.hostResults.toLocaleString('en-US')} host results, ${stream.tasks.toLocaleString('en-US')} tasks, ` +
      `${(stream.bytes / 2 ** 20).toFixed(0)} MiB of JSON lines) in ${STAGES} stage files, ${HOSTS} hosts; the lines of bench/fixtures/recorded-2hosts.jsonl ` +
      '(our plugin on overhead.yml) repeated with fresh hosts, task ids, names and times, so the JUnit report holds one test case per task and host ' +
      `(${(stream.tasks * HOSTS).toLocaleString('en-US')} cases, loop items folded in).`,
    'Each configuration runs in its own node process reading the stage files in 64 KiB chunks (as from the FIFO); rate = callback events / time from run_start to the sinks closed (files on disk). ' +
      'Per task it also emits the console text Ansible would print (banner + one line per host) as stage_output, written to output.log as lib/engine/stage.ts does. Peak RSS = max(resourceUsage().maxRSS, VmHWM).',
  ];
  return { id: 'events', title: 'Event pipeline: 1,000,000 callback events', verdict: overall(rows), rows, notes, data, seconds: (performance.now() - t0) / 1000 };
}
