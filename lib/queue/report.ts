/**
 * What `harness bisect` and `harness gate` write into their output folder, and say:
 * - `bisect.json` / `gate.json`: the result, a versioned document (`format`), written atomically
 *   (also when the search was interrupted: `complete: false` with the probes that ran);
 * - `junit.xml`: suite `changes` (one case per change: failed for a culprit or a rejected change,
 *   skipped when it could not be tested) and suite `probes` (one case per probe run);
 * - `report.html`: the result and every probe, linked to its run's own report;
 * - the console summary: culprits (or rejected changes) with stage and confidence.
 * Paths in the documents are relative to the output folder.
 */
import path from 'node:path';
import { JUnitDocument } from '../report/junit-document.js';
import { buildSuite, type CaseData } from '../report/junit-suite.js';
import { xmlSafe } from '../report/text.js';
import { esc, hrefOf } from '../report/html-escape.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatDuration } from '../util/duration.js';
import type { GateResult } from './gate.js';
import type { ProbeRecord, QueueChange, SearchResult } from './search.js';

export const BISECT_FORMAT = 'ansible-harness bisect v1';
export const GATE_FORMAT = 'ansible-harness gate v1';

/** A probe as the documents list it. */
export interface ProbeDoc {
  run: number;
  /** Ids applied, in queue order. */
  applied: string[];
  /** The prefix length when `applied` is the first N changes of the queue, else null. */
  prefix: number | null;
  status: ProbeRecord['status'];
  stage?: string;
  message?: string;
  run_dir?: string;
  bundle?: string;
  duration_ms?: number;
  /** Kept from an earlier `gate` run (`--retry`), not run again. */
  reused?: boolean;
}

/** `bisect.json`. */
export interface BisectDoc {
  format: typeof BISECT_FORMAT;
  scenario: string;
  /** False when the search was interrupted: the probes that ran, no verdict. */
  complete: boolean;
  changes: { id: string; description?: string }[];
  culprits: { id: string; stage?: string; confidence: number; fixed_by?: string; candidates?: string[]; rejected_with_it: string[] }[];
  flakes: ProbeDoc[];
  untestable: string[];
  runs: number;
  /** Probes run at once (`--jobs`). */
  jobs?: number;
  /** The search's wall time, first probe to verdict. */
  wall_ms?: number;
  probes: ProbeDoc[];
}

/** `gate.json`. */
export interface GateDoc {
  format: typeof GATE_FORMAT;
  scenario: string;
  complete: boolean;
  changes: { id: string; description?: string }[];
  merged: { id: string }[];
  rejected: { id: string; stage?: string; reason: string; run_dir?: string; bundle?: string }[];
  /** Probes run by this invocation (a `--retry` counts only its own). */
  runs: number;
  probes: ProbeDoc[];
}

type Described = QueueChange & { description?: string };

/** A probe record as a document entry; paths relative to `out`. */
export function probeDoc(r: ProbeRecord, changes: readonly QueueChange[], out: string): ProbeDoc {
  const isPrefix = r.applied.every((id, k) => changes[k]?.id === id);
  const rel = (p: string): string => path.relative(out, p);
  return {
    run: r.run,
    applied: r.applied,
    prefix: isPrefix ? r.applied.length : null,
    status: r.status,
    ...(r.stage ? { stage: r.stage } : {}),
    ...(r.message ? { message: r.message } : {}),
    ...(r.runDir ? { run_dir: rel(r.runDir) } : {}),
    ...(r.bundle ? { bundle: rel(r.bundle) } : {}),
    ...(r.durationMs !== undefined ? { duration_ms: r.durationMs } : {}),
  };
}

const changeList = (changes: readonly Described[]) => changes.map((c) => ({ id: c.id, ...(c.description ? { description: c.description } : {}) }));

/**
 * The bisect document: `probes` are every run made (numbered as their folders; an untestable
 * probe retried is two), `result` the search's verdict (none when it was interrupted).
 */
export function bisectDoc(scenario: string, changes: readonly Described[], out: string, probes: readonly ProbeRecord[], result?: SearchResult, timing?: { jobs: number; wallMs: number }): BisectDoc {
  const docs = probes.map((r) => probeDoc(r, changes, out));
  const same = (r: ProbeRecord): ProbeDoc => docs.find((d) => r.runDir && d.run_dir === path.relative(out, r.runDir)) ?? probeDoc(r, changes, out);
  return {
    format: BISECT_FORMAT,
    scenario,
    complete: result !== undefined,
    changes: changeList(changes),
    culprits: (result?.culprits ?? []).map((c) => ({
      id: c.id,
      ...(c.stage ? { stage: c.stage } : {}),
      confidence: Math.round(c.confidence * 1000) / 1000,
      ...(c.fixedBy ? { fixed_by: c.fixedBy } : {}),
      ...(c.candidates ? { candidates: c.candidates } : {}),
      rejected_with_it: c.rejectedWithIt,
    })),
    flakes: (result?.flakes ?? []).map(same),
    untestable: result?.untestable ?? [],
    runs: docs.length,
    ...(timing ? { jobs: timing.jobs, wall_ms: timing.wallMs } : {}),
    probes: docs,
  };
}

/** The gate document; `reused` are the probes kept from an earlier gate (`--retry`). */
export function gateDoc(scenario: string, changes: readonly Described[], out: string, ran: readonly ProbeRecord[], result?: GateResult, reused: ProbeDoc[] = []): GateDoc {
  const probes = [...reused.map((p) => ({ ...p, reused: true })), ...ran.map((r) => probeDoc(r, changes, out))];
  // The probe that rejected a change: the last one with it on top that did not pass.
  const probeOf = (id: string): ProbeDoc | undefined => [...probes].reverse().find((p) => p.applied[p.applied.length - 1] === id && p.status !== 'pass');
  return {
    format: GATE_FORMAT,
    scenario,
    complete: result !== undefined,
    changes: changeList(changes),
    merged: (result?.merged ?? []).map((id) => ({ id })),
    rejected: (result?.rejected ?? []).map((r) => {
      const p = r.stage || r.reason.startsWith('could not') ? probeOf(r.id) : undefined;
      return { id: r.id, ...(r.stage ? { stage: r.stage } : {}), reason: r.reason, ...(p?.run_dir ? { run_dir: p.run_dir } : {}), ...(p?.bundle ? { bundle: p.bundle } : {}) };
    }),
    runs: ran.length,
    probes,
  };
}

const probeName = (p: ProbeDoc): string => `${String(p.run).padStart(2, '0')}: ${p.prefix !== null ? `prefix ${p.prefix}` : `${p.applied.length} changes`}${p.reused ? ' (kept)' : ''}`;

/** The JUnit file: one case per change, one per probe. */
function writeJUnit(file: string, name: string, changeCases: CaseData[], probes: ProbeDoc[]): void {
  const probeCases: CaseData[] = probes.map((p) => ({
    name: probeName(p),
    classname: `${name}.probes`,
    time: (p.duration_ms ?? 0) / 1000,
    outcome:
      p.status === 'pass'
        ? { kind: 'passed' }
        : p.status === 'fail'
          ? { kind: 'failure', type: p.stage ?? 'fail', message: xmlSafe(`stage '${p.stage ?? '?'}' failed${p.message ? `: ${p.message}` : ''}`) }
          : { kind: 'skipped', message: xmlSafe(`could not be tested: ${p.message ?? ''}`) },
    systemOut: xmlSafe(`applied: ${p.applied.join(' ') || '(none)'}\nrun: ${p.run_dir ?? '-'}\n`),
  }));
  const doc = new JUnitDocument(file);
  try {
    doc.append(buildSuite({ name: `${name}.changes`, time: 0, cases: changeCases }));
    doc.append(buildSuite({ name: `${name}.probes`, time: probeCases.reduce((a, c) => a + c.time, 0), cases: probeCases }));
    doc.write(name, [], undefined, true);
  } finally {
    doc.dispose();
  }
}

/** The report page. */
function page(title: string, summary: string[], rows: [string, string][], probes: ProbeDoc[]): string {
  const probeRows = probes
    .map((p) => {
      const link = p.run_dir ? `<a href="${hrefOf(`${p.run_dir}/report.html`)}">${esc(p.run_dir)}</a>` : '-';
      return `<tr class="${esc(p.status)}"><td>${p.run}${p.reused ? ' (kept)' : ''}</td><td>${esc(p.prefix ?? '-')}</td><td>${esc(p.applied.join(' ') || '(none)')}</td><td>${esc(p.status)}</td><td>${esc(p.stage ?? '')}</td><td>${esc(formatDuration(p.duration_ms ?? -1))}</td><td>${link}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
tr.fail td{background:#fde2e2}tr.untestable td{background:#eee}tr.pass td{background:#e5f6e5}.culprit{color:#b00;font-weight:bold}</style></head>
<body><h1>${esc(title)}</h1>
${summary.map((l) => `<p>${esc(l)}</p>`).join('\n')}
<table><tr><th>change</th><th>verdict</th></tr>
${rows.map(([id, v]) => `<tr><td>${esc(id)}</td><td${/^culprit|^rejected/.test(v) ? ' class="culprit"' : ''}>${esc(v)}</td></tr>`).join('\n')}
</table>
<h2>Probes</h2>
<table><tr><th>run</th><th>prefix</th><th>applied</th><th>status</th><th>stage</th><th>time</th><th>run directory</th></tr>
${probeRows}
</table></body></html>
`;
}

/** The console summary of a bisect. */
export function bisectSummary(doc: BisectDoc): string[] {
  const lines: string[] = [];
  if (!doc.complete) lines.push(`bisect interrupted after ${doc.runs} probe(s): no verdict`);
  for (const c of doc.culprits) {
    const desc = doc.changes.find((x) => x.id === c.id)?.description;
    lines.push(
      `culprit: ${c.id}${desc ? ` "${desc}"` : ''}${c.stage ? `, stage '${c.stage}' fails` : ''}, confidence ${c.confidence.toFixed(2)}` +
        `${c.candidates ? ` (untestable probes leave it among: ${c.candidates.join(' ')})` : ''}${c.fixed_by ? `; fixed by ${c.fixed_by}` : ''}` +
        `${c.rejected_with_it.length ? `; rejected with it (they depend on it): ${c.rejected_with_it.join(' ')}` : ''}`,
    );
  }
  if (doc.complete && !doc.culprits.length) {
    if (doc.probes.length && doc.probes.every((p) => p.status === 'untestable')) lines.push('no verdict: no probe could test (the lab or a tool could not be had)');
    else lines.push(doc.flakes.length ? 'no culprit: the failures did not reproduce' : 'no culprit found');
  }
  for (const f of doc.flakes) lines.push(`flake: probe ${f.run} (${f.prefix !== null ? `prefix ${f.prefix}` : f.applied.join(' ')}) failed in stage '${f.stage ?? '?'}' and did not fail again: ${f.bundle ?? f.run_dir ?? ''}`);
  if (doc.untestable.length) lines.push(`could not be tested (skipped): ${doc.untestable.join(' ')}`);
  const time = doc.wall_ms !== undefined ? ` in ${formatDuration(doc.wall_ms)}${doc.jobs && doc.jobs > 1 ? `, up to ${doc.jobs} at once` : ''}` : '';
  lines.push(`${doc.runs} probe run(s) for ${doc.changes.length} change(s)${time}`);
  return lines;
}

/** The console summary of a gate. */
export function gateSummary(doc: GateDoc): string[] {
  const lines: string[] = [];
  if (!doc.complete) lines.push(`gate interrupted after ${doc.runs} probe(s): no verdict`);
  if (doc.complete) lines.push(`merged: ${doc.merged.map((m) => m.id).join(' ') || '(none)'}`);
  for (const r of doc.rejected) lines.push(`rejected: ${r.id}: ${r.reason}${r.bundle || r.run_dir ? ` (${r.bundle ?? r.run_dir})` : ''}`);
  lines.push(`${doc.runs} probe run(s)${doc.probes.some((p) => p.reused) ? `, ${doc.probes.filter((p) => p.reused).length} kept from the earlier gate` : ''}`);
  return lines;
}

/** Writes bisect.json, junit.xml and report.html into `out`. */
export async function writeBisect(out: string, doc: BisectDoc): Promise<void> {
  const verdict = (id: string): string => {
    const c = doc.culprits.find((x) => x.id === id);
    if (c) return `culprit${c.stage ? ` (stage ${c.stage})` : ''}, confidence ${c.confidence.toFixed(2)}${c.fixed_by ? `, fixed by ${c.fixed_by}` : ''}`;
    const with_ = doc.culprits.find((x) => x.rejected_with_it.includes(id));
    if (with_) return `rejected with ${with_.id} (depends on it)`;
    if (doc.culprits.some((x) => x.fixed_by === id)) return 'fix of a culprit';
    if (doc.untestable.includes(id)) return 'could not be tested';
    return doc.complete ? 'not blamed' : 'no verdict';
  };
  const cases: CaseData[] = doc.changes.map((ch) => {
    const c = doc.culprits.find((x) => x.id === ch.id);
    return {
      name: ch.id,
      classname: 'bisect.changes',
      time: 0,
      outcome: c
        ? { kind: 'failure', type: c.stage ?? 'culprit', message: xmlSafe(`culprit: stage '${c.stage ?? '?'}' fails with it, confidence ${c.confidence.toFixed(2)}${failMessage(doc.probes, ch.id)}`) }
        : doc.untestable.includes(ch.id)
          ? { kind: 'skipped', message: 'could not be tested' }
          : { kind: 'passed' },
    };
  });
  await writeFileAtomic(path.join(out, 'bisect.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeJUnit(path.join(out, 'junit.xml'), 'bisect', cases, doc.probes);
  await writeFileAtomic(path.join(out, 'report.html'), page(`bisect: ${doc.scenario}`, bisectSummary(doc), doc.changes.map((c) => [c.description ? `${c.id}: ${c.description}` : c.id, verdict(c.id)]), doc.probes));
}

/** The message of the first failing probe with `id` as its last change applied. */
function failMessage(probes: ProbeDoc[], id: string): string {
  const p = probes.find((x) => x.status === 'fail' && x.applied[x.applied.length - 1] === id && x.message);
  return p ? `: ${p.message}` : '';
}

/** Writes gate.json, junit.xml and report.html into `out`. */
export async function writeGate(out: string, doc: GateDoc): Promise<void> {
  const verdict = (id: string): string => {
    if (doc.merged.some((m) => m.id === id)) return 'merged';
    const r = doc.rejected.find((x) => x.id === id);
    return r ? `rejected: ${r.reason}` : 'no verdict';
  };
  const cases: CaseData[] = doc.changes.map((ch) => {
    const r = doc.rejected.find((x) => x.id === ch.id);
    return { name: ch.id, classname: 'gate.changes', time: 0, outcome: r ? { kind: 'failure', type: r.stage ?? 'rejected', message: xmlSafe(`rejected: ${r.reason}`) } : doc.merged.some((m) => m.id === ch.id) ? { kind: 'passed' } : { kind: 'skipped', message: 'no verdict' } };
  });
  await writeFileAtomic(path.join(out, 'gate.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeJUnit(path.join(out, 'junit.xml'), 'gate', cases, doc.probes);
  await writeFileAtomic(path.join(out, 'report.html'), page(`gate: ${doc.scenario}`, gateSummary(doc), doc.changes.map((c) => [c.description ? `${c.id}: ${c.description}` : c.id, verdict(c.id)]), doc.probes));
}
