/**
 * The stage timeline of the HTML report as inline SVG: one bar per stage (a `<g class="bar">`),
 * one rectangle per attempt placed by its start and end and coloured by its status, so retries
 * show as several segments; stages that never ran show as a dashed marker with the reason.
 */
import { formatDuration } from './console.js';
import { esc } from './html-escape.js';
import type { StageView } from './html-model.js';

/** Colours by status, shared with the page's badges. */
export const STATUS_COLOURS: Record<string, string> = {
  passed: '#2e7d32',
  failed: '#c62828',
  error: '#e65100',
  skipped: '#9e9e9e',
  restored: '#1565c0',
  running: '#f9a825',
  pending: '#bdbdbd',
  unknown: '#757575',
  interrupted: '#6a1b9a',
};

const W = 1000;
const LABEL = 210;
const RIGHT = 140;
const ROW = 26;
const TOP = 28;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** One drawn segment: an attempt, or the stage itself when no attempt is known. */
interface Segment {
  attempt: number;
  start: number;
  end: number;
  status: string;
  reason?: string;
}

function segmentsOf(s: StageView, last: number): Segment[] {
  const spans = s.events?.attempts.filter((a) => a.start !== undefined) ?? [];
  if (spans.length)
    return spans.map((a) => ({ attempt: a.attempt, start: a.start!, end: a.end ?? last, status: a.status ?? (s.status === 'running' ? 'running' : 'unknown'), reason: a.reason }));
  if (s.started !== undefined && s.status !== 'skipped' && s.status !== 'restored')
    return [{ attempt: 1, start: s.started, end: s.ended ?? last, status: s.status, reason: s.reason }];
  return [];
}

const clipLabel = (t: string) => (t.length > 28 ? `${t.slice(0, 27)}…` : t);

/** Renders the timeline of `stages` between `start` and `end` (ms since the epoch). */
export function renderTimeline(shown: StageView[], start: number | undefined, end: number | undefined): string {
  // A tree run on several labs: one lane per lab (its nodes in start order), the lab named above it.
  const labs = [...new Set(shown.map((s) => s.lab).filter((l): l is string => l !== undefined))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const stages = labs.length > 1 ? [...labs.flatMap((l) => shown.filter((s) => s.lab === l).sort((a, b) => (a.started ?? Infinity) - (b.started ?? Infinity))), ...shown.filter((s) => s.lab === undefined)] : shown;
  const segs = stages.map((s) => segmentsOf(s, end ?? Date.now()));
  const times = segs.flat().flatMap((g) => [g.start, g.end]);
  for (const s of stages) if (s.ended !== undefined) times.push(s.ended);
  const t0 = Math.min(start ?? Infinity, ...times);
  const t1 = Math.max(end ?? -Infinity, ...times);
  const from = Number.isFinite(t0) ? t0 : 0;
  const span = Number.isFinite(t1) && t1 > from ? t1 - from : 1000;
  const x = (t: number) => LABEL + ((t - from) / span) * (W - LABEL - RIGHT);
  const height = TOP + stages.length * ROW + 8;
  const out: string[] = [];
  out.push(`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="Timeline of the stages">`);

  const step = STEPS.find((st) => span / st <= 8) ?? STEPS.at(-1)!;
  out.push('<g class="axis">');
  for (let t = 0; t <= span + 1; t += step) {
    const tx = x(from + t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${height - 4}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${tx}" y="${TOP - 10}" font-size="11" text-anchor="middle" fill="#616161">${esc(t === 0 ? '0' : formatDuration(t))}</text>`);
  }
  out.push('</g>');

  stages.forEach((s, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    // In a tree the label is indented by the node's depth, and a new lab's lane is named.
    const depth = s.path ? s.path.length - 1 : 0;
    const label = `${String(s.index + 1).padStart(2, '0')} ${'· '.repeat(depth)}${s.name}`;
    if (labs.length > 1 && s.lab !== stages[i - 1]?.lab) {
      out.push(`<line class="lane" x1="0" y1="${y}" x2="${W}" y2="${y}" stroke="#90a4ae"/><text class="lane" x="4" y="${mid + 4}" font-size="11" fill="#455a64">${esc(s.lab ?? 'no lab')}</text>`);
    }
    const title = `${label}: ${s.status}${s.attempts > 1 ? `, ${s.attempts} attempts` : ''}${s.reason ? ` (${s.reason})` : ''}`;
    out.push(`<g class="bar" data-stage="${esc(s.name)}" data-status="${esc(s.status)}"><title>${esc(title)}</title>`);
    out.push(`<a href="#stage-${String(s.index + 1).padStart(2, '0')}"><text class="label" x="${LABEL - 8}" y="${mid + 4}" font-size="12" text-anchor="end" fill="#212121">${esc(clipLabel(label))}</text></a>`);
    const list = segs[i]!;
    if (list.length) {
      for (const g of list) {
        const gx = x(g.start);
        const w = Math.max(x(g.end) - gx, 3);
        const colour = STATUS_COLOURS[g.status] ?? STATUS_COLOURS.unknown;
        const tip = `attempt ${g.attempt}: ${g.status}, ${formatDuration(g.end - g.start)}${g.reason ? ` (${g.reason})` : ''}`;
        out.push(
          `<rect class="attempt" data-attempt="${g.attempt}" data-status="${esc(g.status)}" x="${gx.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" rx="3" fill="${colour}" stroke="#fff" stroke-width="1"><title>${esc(tip)}</title></rect>`,
        );
        if (list.length > 1 && w > 28) out.push(`<text x="${(gx + 5).toFixed(1)}" y="${mid + 4}" font-size="11" fill="#fff">#${g.attempt}</text>`);
      }
      const lastSeg = list.at(-1)!;
      const after = `${formatDuration(lastSeg.end - list[0]!.start)}${list.length > 1 ? ` · ${list.length} attempts` : ''}`;
      out.push(`<text x="${(Math.max(x(lastSeg.end) - x(lastSeg.start), 3) + x(lastSeg.start) + 4).toFixed(1)}" y="${mid + 4}" font-size="11" fill="#424242">${esc(after)}</text>`);
    } else {
      const at = s.ended !== undefined ? x(s.ended) : LABEL + 2;
      const colour = STATUS_COLOURS[s.status] ?? STATUS_COLOURS.unknown;
      out.push(`<rect class="marker" x="${(at - 3).toFixed(1)}" y="${y + 6}" width="6" height="${ROW - 12}" fill="none" stroke="${colour}" stroke-dasharray="2 2"/>`);
      out.push(`<text x="${(at + 8).toFixed(1)}" y="${mid + 4}" font-size="11" fill="${colour}">${esc(s.status === 'pending' ? 'not run' : s.status)}</text>`);
    }
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}
