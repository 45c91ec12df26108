/**
 * Rendering the report's model as one self-contained HTML page: summary, timeline, failures,
 * each stage with its hosts' tasks (failures first), collected files and run facts. Every text
 * is redacted and escaped; a Content-Security-Policy allows only the page's own style and script.
 */
import { createHash } from 'node:crypto';
import type { HostStatus } from '../model/events.js';
import { formatDuration } from './console.js';
import { anchorOf, esc, hrefOf } from './html-escape.js';
import type { HostTasks, TaskRow } from './html-events.js';
import type { FileLink } from './html-files.js';
import type { ReportModel, StageView } from './html-model.js';
import { SCRIPT, STYLE } from './html-style.js';
import { renderTimeline, STATUS_COLOURS } from './html-timeline.js';
import type { Redact } from './redact.js';

const HOST_STATUSES: HostStatus[] = ['failed', 'unreachable', 'changed', 'ok', 'skipped'];

const when = (t?: number) => (t === undefined ? '-' : new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
const stageNo = (s: StageView) => String(s.index + 1).padStart(2, '0');

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Renders the page; `redact` is applied to every text before it is escaped. */
export function renderPage(m: ReportModel, redact: Redact, generated = Date.now()): string {
  const t = (v: unknown) => esc(redact(String(v ?? '')));
  const badge = (status: string) => `<span class="badge" style="background:${STATUS_COLOURS[status] ?? STATUS_COLOURS.unknown}">${t(status)}</span>`;
  const link = (f: FileLink, label = f.rel) =>
    f.withheld
      ? `<span class="withheld">${t(label)}</span> <span class="muted">(${size(f.bytes)}; not linked and never bundled: ${t(f.withheld)})</span>`
      : `<a href="${hrefOf(f.rel)}">${t(label)}</a> <span class="muted">(${size(f.bytes)})</span>`;

  const rows = m.stages.flatMap((s) => [...(s.events?.hosts.values() ?? [])]);
  const totals: Record<HostStatus, number> = { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 };
  for (const h of rows) for (const k of HOST_STATUSES) totals[k] += h.counts[k];
  const hostNames = new Set(rows.map((h) => h.host));
  const byStatus = new Map<string, number>();
  for (const s of m.stages) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
  const duration = m.started !== undefined && m.ended !== undefined ? formatDuration(m.ended - m.started) : m.started !== undefined ? 'unfinished' : '-';

  const body: string[] = [];
  body.push(`<header><h1>${t(m.scenario)} ${badge(m.status)}</h1>`);
  body.push(`<div class="muted">run <code>${t(m.runId)}</code> · started ${t(when(m.started))} · ${t(duration)}${m.exitCode !== undefined ? ` · exit code ${t(m.exitCode)}` : ''}</div>`);
  if (m.reason) body.push(`<div class="reason${m.status === 'passed' ? ' info' : ''}">${t(m.reason)}</div>`);
  body.push('</header>');
  if (m.notes.length) body.push(`<div class="notes">${m.notes.map((n) => `<p>${t(n)}</p>`).join('')}</div>`);

  // Summary.
  body.push('<h2 id="summary">Summary</h2><table class="kv">');
  body.push(`<tr><th>Scenario</th><td>${t(m.scenario)}${m.manifest?.scenario?.file ? ` <span class="muted">(${t(m.manifest.scenario.file)})</span>` : ''}</td></tr>`);
  body.push(`<tr><th>Status</th><td><span class="st st-${t(m.status)}">${t(m.status)}</span>${m.exitCode !== undefined ? ` · exit code ${t(m.exitCode)}` : ''}</td></tr>`);
  body.push(`<tr><th>Started</th><td>${t(when(m.started))}</td></tr><tr><th>Ended</th><td>${t(when(m.ended))}</td></tr><tr><th>Duration</th><td>${t(duration)}</td></tr>`);
  body.push(`<tr><th>Stages</th><td>${m.stages.length}: ${[...byStatus].map(([k, n]) => `<span class="st st-${t(k)}">${n} ${t(k)}</span>`).join(', ') || 'none'}</td></tr>`);
  body.push(`<tr><th>Task results</th><td>${HOST_STATUSES.map((k) => `<span class="st st-${k}">${totals[k]} ${k}</span>`).join(', ')} on ${hostNames.size} host(s)</td></tr>`);
  if (m.top.length) body.push(`<tr><th>Records</th><td>${m.top.map((f) => link(f)).join(' · ')}</td></tr>`);
  body.push('</table>');

  // Timeline.
  body.push('<h2 id="timeline">Timeline</h2>');
  body.push(renderTimeline(m.stages, m.started, m.ended));

  // Failures, all in one place.
  body.push('<h2 id="failures">Failures</h2>');
  const failures: { s: StageView; h: HostTasks; r: TaskRow }[] = [];
  for (const s of m.stages) for (const h of s.events?.hosts.values() ?? []) for (const r of h.failures) failures.push({ s, h, r });
  const stageFailures = m.stages.filter((s) => (s.status === 'failed' || s.status === 'error') && ![...(s.events?.hosts.values() ?? [])].some((h) => h.failures.length));
  if (!failures.length && !stageFailures.length) body.push('<p class="st st-passed">No stage or task failed.</p>');
  else {
    body.push('<table class="failures"><tr><th>Stage</th><th>Host</th><th>Task</th><th>Message</th></tr>');
    for (const s of stageFailures)
      body.push(`<tr class="row-failed"><td><a href="#stage-${stageNo(s)}">${t(s.name)}</a></td><td class="muted">-</td><td class="muted">(the stage ${t(s.status)})${s.voting ? '' : ' <span class="badge nv">non-voting</span>'}</td><td><pre class="msg">${t(s.reason ?? 'no reason recorded: see its output.log')}</pre></td></tr>`);
    for (const { s, h, r } of failures)
      body.push(
        `<tr class="row-${r.status}"><td><a href="#stage-${stageNo(s)}">${t(s.name)}</a>${s.attempts > 1 ? ` <span class="muted">#${r.attempt}</span>` : ''}</td><td><a href="#${anchorOf(`host-${stageNo(s)}-${h.host}`)}">${t(h.host)}</a></td><td>${t(r.task)} <span class="st st-${r.status}">${r.status}</span>${s.voting ? '' : ' <span class="badge nv">non-voting</span>'}</td><td><pre class="msg">${t(r.message ?? '')}</pre></td></tr>`,
      );
    body.push('</table>');
  }

  // Stages.
  body.push('<h2 id="stages">Stages</h2>');
  body.push('<label id="filter" hidden><input type="checkbox" id="only-failures"> show only failures</label>');
  for (const s of m.stages) body.push(renderStage(s, t, link));

  // Hosts and their collected files.
  body.push('<h2 id="hosts">Hosts and collected files</h2>');
  const labHosts = m.manifest?.lab?.hosts ?? [];
  const allHosts = [...new Set([...labHosts.map((h) => h.name ?? ''), ...(m.events.lab?.hosts ?? []), ...hostNames, ...m.hosts.keys()].filter(Boolean))];
  if (!allHosts.length) body.push('<p class="muted">No host is known.</p>');
  for (const name of allHosts) {
    const lab = labHosts.find((h) => h.name === name);
    const files = m.hosts.get(name);
    body.push(`<h3 id="${anchorOf(`files-${name}`)}">${t(name)}${lab?.address ? ` <span class="muted">${t(lab.address)}${lab.port ? `:${t(lab.port)}` : ''}</span>` : ''}${lab?.groups?.length ? ` <span class="muted">groups: ${t(lab.groups.join(', '))}</span>` : ''}</h3>`);
    if (!files?.files.length) body.push('<p class="muted">No file was collected from this host.</p>');
    else {
      body.push('<ul class="files">');
      for (const f of files.files) body.push(`<li>${link(f, f.rel.slice(`hosts/${name}`.length) || f.rel)}</li>`);
      if (files.more) body.push(`<li class="muted">and ${files.more} more under <a href="${hrefOf(`hosts/${name}`)}/">hosts/${t(name)}/</a></li>`);
      body.push('</ul>');
    }
  }

  // Run facts from the manifest.
  body.push('<h2 id="run">Run</h2><table class="kv">');
  body.push(`<tr><th>Run directory</th><td><code>${t(m.dirName)}</code></td></tr>`);
  if (m.manifest?.command?.length) body.push(`<tr><th>Command</th><td><code>${t(m.manifest.command.join(' '))}</code></td></tr>`);
  if (m.manifest?.lab?.provider) body.push(`<tr><th>Lab</th><td>${t(m.manifest.lab.provider)}, ${labHosts.length} host(s)</td></tr>`);
  if (m.manifest?.scenario?.sha256) body.push(`<tr><th>Scenario sha256</th><td><code>${t(m.manifest.scenario.sha256)}</code></td></tr>`);
  for (const [k, v] of Object.entries(m.manifest?.versions ?? {})) body.push(`<tr><th>${t(k)} version</th><td>${t(v)}</td></tr>`);
  body.push('</table>');
  body.push(`<footer>Written by harness on ${t(when(generated))} from ${t(m.events.lines)} event(s). This page needs no server and no network.</footer>`);

  const scriptHash = createHash('sha256').update(SCRIPT).digest('base64');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${scriptHash}'`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${t(m.scenario)} · ${t(m.status)} · harness report</title>`,
    `<style>${STYLE}</style></head>`,
    `<body>`,
    body.join('\n'),
    `<script>${SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}

function renderStage(s: StageView, t: (v: unknown) => string, link: (f: FileLink, label?: string) => string): string {
  const out: string[] = [];
  const hosts = [...(s.events?.hosts.values() ?? [])].sort((a, b) => b.failures.length - a.failures.length || (a.host < b.host ? -1 : 1));
  const quiet = !hosts.some((h) => h.failures.length) && s.status !== 'failed' && s.status !== 'error';
  out.push(`<section class="stage${quiet ? ' quiet' : ''}" id="stage-${stageNo(s)}" data-status="${t(s.status)}">`);
  out.push(
    `<h3>${stageNo(s)} ${t(s.name)} <span class="badge" style="background:${STATUS_COLOURS[s.status] ?? STATUS_COLOURS.unknown}">${t(s.status)}</span>${s.voting ? '' : ' <span class="badge nv">non-voting</span>'}</h3>`,
  );
  const facts: string[] = [];
  const ran = s.status !== 'skipped' && s.status !== 'pending';
  if (ran && s.started !== undefined) facts.push(`started ${t(when(s.started))}`);
  if (ran && s.started !== undefined && s.ended !== undefined) facts.push(t(formatDuration(s.ended - s.started)));
  if (s.attempts > 1) facts.push(`${s.attempts} attempts`);
  if (s.exitCode !== undefined) facts.push(`${s.events?.command ? 'command' : 'ansible-playbook'} exit code ${t(s.exitCode)}`);
  if (s.events?.playbook) facts.push(`playbook <code>${t(s.events.playbook)}</code>`);
  if (s.events?.command) facts.push(`run <code>${t(s.events.command)}</code> on the controller`);
  if (s.checkpoint) facts.push(`checkpoint <code>${t(s.checkpoint)}</code>`);
  if (facts.length) out.push(`<div class="muted">${facts.join(' · ')}</div>`);
  if (s.failedState) out.push(`<div class="reason info">failed state kept as checkpoint <code>${t(s.failedState)}</code> (harness lab up SCENARIO --checkpoint ${t(s.failedState)})</div>`);
  if (s.reason) out.push(`<div class="reason${s.status === 'failed' || s.status === 'error' ? '' : ' info'}">${t(`${s.status === 'skipped' ? 'Skipped' : s.status === 'restored' ? 'Restored' : 'Reason'}: ${s.reason}`)}</div>`);
  else if (s.status === 'pending') out.push('<div class="muted">Not run.</div>');
  const earlier = s.events?.attempts.filter((a, i, all) => i < all.length - 1 && a.status && a.status !== 'passed') ?? [];
  for (const a of earlier) out.push(`<div class="muted">attempt ${a.attempt}: <span class="st st-${t(a.status)}">${t(a.status)}</span>${a.reason ? ` (${t(a.reason)})` : ''}</div>`);
  if (s.files.length) out.push(`<div>Logs: ${s.files.map((f) => link(f, f.rel.slice((s.dir ?? '').length + 1))).join(' · ')}</div>`);
  const ev = s.events;
  if (ev?.warnings.length) {
    out.push(`<details><summary>${ev.warnings.length + ev.warningsDropped} warning(s)</summary><ul>${ev.warnings.map((w) => `<li><pre class="msg">${t(w)}</pre></li>`).join('')}</ul></details>`);
  }
  if (ev?.results.length) out.push(`<div>Result files: ${ev.results.map((r) => `${t(r.host)}:<code>${t(r.path)}</code>`).join(', ')}</div>`);

  for (const h of hosts) {
    const c = h.counts;
    const counts = HOST_STATUSES.filter((k) => c[k]).map((k) => `<span class="st st-${k}">${c[k]} ${k}</span>`).join(', ');
    out.push(`<details class="host${h.failures.length ? ' has-failures' : ''}" id="${anchorOf(`host-${stageNo(s)}-${h.host}`)}"${h.failures.length ? ' open' : ''}>`);
    out.push(`<summary><b>${t(h.host)}</b> · ${counts || 'no task'}</summary>`);
    out.push(`<table><tr><th>Status</th>${s.attempts > 1 ? '<th class="num">Try</th>' : ''}<th>Task</th><th>Message</th><th class="num">Time</th></tr>`);
    for (const r of [...h.failures, ...h.others]) {
      const failed = h.failures.includes(r);
      const status = `${r.status}${r.ignored ? ' (ignored)' : r.rescued ? ' (rescued)' : ''}`;
      out.push(
        `<tr class="${failed ? `row-${r.status}` : 'row-other'}"><td class="st st-${r.status}">${t(status)}</td>${s.attempts > 1 ? `<td class="num">${r.attempt}</td>` : ''}<td>${t(r.task)}${r.items ? ` <span class="muted">(${r.items} item${r.items > 1 ? 's' : ''})</span>` : ''}</td><td>${r.message ? `<pre class="msg">${t(r.message)}</pre>` : ''}</td><td class="num">${t(r.duration.toFixed(1))}s</td></tr>`,
      );
    }
    if (h.dropped) out.push(`<tr class="row-other"><td colspan="5" class="muted">${h.dropped} more task result(s) are in events.jsonl</td></tr>`);
    out.push('</table></details>');
  }
  if (!hosts.length && s.status !== 'pending' && s.status !== 'skipped' && s.status !== 'restored') out.push('<p class="muted">No task result was recorded for this stage.</p>');
  out.push('</section>');
  return out.join('\n');
}
