/** The report's inline stylesheet and its one small script (filtering; the page reads fine without it). */

/** The CSS of report.html. */
export const STYLE = `
:root { color-scheme: light; --fg: #212121; --muted: #616161; --line: #e0e0e0; --bg2: #fafafa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
a { color: #1565c0; }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; vertical-align: middle; }
.badge.nv { background: #fff; color: var(--muted); border: 1px solid var(--line); font-weight: 400; }
.notes { background: #fff8e1; border: 1px solid #ffe082; padding: 8px 12px; border-radius: 4px; margin: 12px 0; }
.notes p { margin: 4px 0; }
.reason { background: #ffebee; border-left: 4px solid #c62828; padding: 6px 10px; margin: 8px 0; white-space: pre-wrap; }
.reason.info { background: #e3f2fd; border-left-color: #1565c0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
table.kv { width: auto; }
table.kv th { background: none; width: 11em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.row-failed td, tr.row-unreachable td { background: #ffebee; }
tr.row-changed td:first-child { color: #ef6c00; }
pre.msg { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 24em; overflow: auto; }
.st { font-weight: 600; }
.st-failed, .st-unreachable, .st-error { color: #c62828; }
.st-changed { color: #ef6c00; }
.st-ok, .st-passed { color: #2e7d32; }
.st-skipped, .st-pending { color: #757575; }
.st-restored { color: #1565c0; }
details.host { border: 1px solid var(--line); border-radius: 4px; margin: 6px 0; }
details.host > summary { cursor: pointer; padding: 6px 10px; background: var(--bg2); }
details.host.has-failures > summary { background: #ffebee; }
details.host > table { margin: 0; }
section.stage { margin-bottom: 8px; }
ul.files { margin: 4px 0; padding-left: 20px; }
ul.files li { margin: 1px 0; }
.withheld { color: var(--muted); text-decoration: line-through; }
svg.timeline { display: block; max-width: 1000px; margin: 8px 0; }
svg.timeline a text { fill: #1565c0; }
#filter { display: inline-block; margin: 8px 0; user-select: none; }
body.only-failures tr.row-other, body.only-failures details.host:not(.has-failures), body.only-failures section.stage.quiet { display: none; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

/** The inline script: reveals the "only failures" filter and wires it. */
export const SCRIPT = `(function () {
  var box = document.getElementById('only-failures');
  var label = document.getElementById('filter');
  if (!box || !label) return;
  label.hidden = false;
  box.addEventListener('change', function () { document.body.classList.toggle('only-failures', box.checked); });
})();`;
