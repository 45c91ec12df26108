/** The generated part of BENCHMARKS.md: the machine, the date and one table per benchmark. */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../lib/util/atomic.js';
import type { BenchRun } from './run.js';

const START = '<!-- bench:generated:start (rewritten by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench:generated:end -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The markdown of one bench run: machine, date, a table per benchmark with goals and verdicts. */
export function renderRun(run: BenchRun, resultsFile: string): string {
  const m = run.machine;
  const lines: string[] = [
    `## Latest run: ${run.mode} mode, finished ${run.date.slice(0, 16).replace('T', ' ')} UTC, took ${Math.round(run.seconds)} s`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, kernel ${m.kernel}; Node ${m.node}, ansible-core ${m.ansibleCore} (Python ${m.python}). ` +
      `Load average at start ${m.loadAtStart.join(' / ')}, at end ${run.loadAtEnd.join(' / ')}. Raw figures: \`${resultsFile}\`.`,
    '',
    '| benchmark | verdict |',
    '|---|---|',
    ...run.results.map((r) => `| ${cell(r.title)} | **${r.verdict}** |`),
    '',
  ];
  for (const r of run.results) {
    lines.push(`### ${r.title}`, '', '| measured | figure | goal |', '|---|---|---|');
    for (const row of r.rows) lines.push(`| ${cell(row.what)} | ${cell(row.figure)} | ${row.goal ? `${cell(row.goal)}: **${row.verdict}**` : ''} |`);
    lines.push('');
    for (const n of r.notes) lines.push(`- ${n}`);
    if (r.notes.length) lines.push('');
  }
  return lines.join('\n');
}

/** Rewrites the generated block of BENCHMARKS.md (made if missing), keeping the text around it. */
export async function updateBenchmarksMd(file: string, run: BenchRun, resultsFile: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = `# Benchmarks\n\n${START}\n${END}\n`;
  }
  const block = `${START}\n${renderRun(run, resultsFile)}\n${END}`;
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFileAtomic(file, next);
}
