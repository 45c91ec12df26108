import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import report from '../lib/cli/commands/report.js';
import { InputError } from '../lib/errors.js';
import type { RunEvent } from '../lib/model/events.js';
import { writeReport } from '../lib/report/html.js';
import { CANARY, makeRunDir, type FakeRun } from './bundle-rundir.js';

/** Debian's chromium, if installed; the browser tests are skipped (with the reason printed) without it. */
function findChromium(): string | undefined {
  for (const bin of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(bin)) return bin;
  return undefined;
}
const CHROMIUM = findChromium();
if (!CHROMIUM) console.log('report-html: SKIPPING the browser tests: chromium is not installed (apt-get install -y --no-install-recommends chromium)');

/** Runs headless Chromium on a file URL; stops its whole process group if it takes over a minute. */
async function chromium(args: string[], profile: string): Promise<string> {
  const child = spawn(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, ...args],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`chromium exited ${code}: ${err.slice(-2000)}`);
  return out;
}

const test = suite('report: html');
let base: string;
let run: FakeRun;
test.before.each(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'report-html-'));
  run = await makeRunDir(base);
});
test.after.each(async () => {
  await run.close();
  rmSync(base, { recursive: true, force: true });
});

test('the page is self-contained, escaped and links only to files of the run', async () => {
  const file = await writeReport(run.root);
  assert.is(file, path.join(run.root, 'report.html'));
  assert.is(statSync(file).mode & 0o777, 0o644);
  const html = readFileSync(file, 'utf8');
  assert.not.ok(html.includes("<script>document.title='pwned'</script>"), 'the message is escaped');
  assert.ok(html.includes('&lt;script&gt;document.title=&apos;pwned&apos;&lt;/script&gt;'));
  assert.not.ok(html.includes(CANARY));
  assert.not.ok(/\s(src|href)="(https?:)?\/\//.test(html), 'no external asset or link');
  assert.not.ok(/<link\s/.test(html), 'no stylesheet link');
  assert.is(html.match(/<script>/g)?.length, 1, 'one inline script of ours');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-[A-Za-z0-9+/=]+'">/);
  // Key files collected from a host are listed, not linked (bundles leave them out).
  assert.not.ok(html.includes('href="hosts/web-0/home/demo/.ssh/id_ed25519"'));
  assert.match(html, /\/home\/demo\/\.ssh\/id_ed25519<\/span> <span class="muted">\([^)]*not linked and never bundled: its name \(id_ed25519\) looks like a private key/);
  assert.match(html, /\/tmp\/notes\.txt<\/span> <span class="muted">\([^)]*it begins with a PEM private key\)/);
});

test('redact applies to the page: a secret in the records never reaches it', async () => {
  // A record the sinks did not redact (say, a hand-edited journal): the page still hides it.
  const journal = JSON.parse(readFileSync(path.join(run.root, 'journal.json'), 'utf8')) as { reason: string };
  journal.reason = `failed with token ${CANARY}`;
  writeFileSync(path.join(run.root, 'journal.json'), JSON.stringify(journal));
  const { createRedactor } = await import('../lib/report/redact.js');
  const html = readFileSync(await writeReport(run.root, { redact: createRedactor([CANARY]) }), 'utf8');
  assert.not.ok(html.includes(CANARY));
  assert.ok(html.includes('failed with token ********'));
});

test('in headless Chromium: the failure is visible, one bar per stage, links resolve, the injected script does not run', async () => {
  if (!CHROMIUM) return console.log('  skipped: no chromium');
  const file = await writeReport(run.root);
  const dom = await chromium(['--dump-dom', pathToFileURL(file).href], path.join(base, 'profile'));
  assert.match(dom, /<title>demo · failed · harness report<\/title>/, 'the title is the one we wrote: the injected script did not run');
  assert.not.ok(dom.includes('pwned</title>'));
  assert.ok(dom.includes("&lt;script&gt;document.title='pwned'&lt;/script&gt;"), 'the message shows as text');
  assert.match(dom, /<label id="filter">/, 'our own inline script ran (it reveals the filter)');

  // The failures table shows each failed task with its message.
  const failures = dom.slice(dom.indexOf('id="failures"'), dom.indexOf('id="stages"'));
  assert.match(failures, /write config <span class="st st-failed">failed<\/span><\/td><td><pre class="msg">disk full: No space left on device/);
  assert.match(failures, /reach the cache node <span class="st st-unreachable">unreachable<\/span><\/td><td><pre class="msg">ssh: connect to host 10.0.0.9 port 22: No route to host/);
  assert.not.ok(failures.includes('cache missing'), 'an ignored failure is not listed as a failure');

  // The timeline: one bar per stage, the retried stage with two attempt segments.
  const bars = [...dom.matchAll(/<g class="bar" data-stage="([^"]+)" data-status="([^"]+)">/g)].map((m) => `${m[1]}:${m[2]}`);
  assert.equal(bars, ['base:restored', 'deploy:failed', 'test:skipped', 'collect:passed']);
  const deployBar = dom.slice(dom.indexOf('data-stage="deploy"'), dom.indexOf('data-stage="test"'));
  assert.equal([...deployBar.matchAll(/<rect class="attempt" data-attempt="(\d)" data-status="(\w+)"/g)].map((m) => `${m[1]}:${m[2]}`), ['1:failed', '2:failed']);

  // Every link resolves to a file of the run (or an anchor on the page).
  const hrefs = [...dom.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  const ids = new Set([...dom.matchAll(/id="([^"]+)"/g)].map((m) => m[1]));
  const files = hrefs.filter((h) => !h.startsWith('#'));
  for (const h of hrefs.filter((x) => x.startsWith('#'))) assert.ok(ids.has(h.slice(1)), `anchor ${h} exists`);
  for (const h of files) {
    assert.not.ok(/^[a-z]+:|^\//.test(h), `${h} is relative`);
    const target = path.join(run.root, decodeURIComponent(h));
    assert.ok(existsSync(target), `${h} resolves`);
    assert.ok(statSync(target).isFile(), `${h} is a file`);
  }
  for (const rel of ['stages/02-deploy/output.log', 'stages/02-deploy/output.attempt2.log', 'hosts/web-0/var/log/demo/app.log', 'hosts/db-0/etc/demo/db.ini', 'junit.xml', 'events.jsonl'])
    assert.ok(files.includes(rel), `links to ${rel}`);

  // Skipped and restored stages say why.
  assert.ok(dom.includes('Skipped: an earlier stage (deploy) failed'));
  assert.ok(dom.includes('Restored: inputs unchanged since checkpoint ck-3f2a'));

  const shot = path.join(base, 'report.png');
  await chromium(['--window-size=1280,2200', '--hide-scrollbars', `--screenshot=${shot}`, pathToFileURL(file).href], path.join(base, 'profile'));
  const png = readFileSync(shot);
  assert.equal([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG screenshot was taken');
  if (process.env.REPORT_SCREENSHOT) writeFileSync(process.env.REPORT_SCREENSHOT, png);
});

test('a crashed run: no manifest, a cut last event line, a journal still running', async () => {
  unlinkSync(path.join(run.root, 'manifest.json'));
  // Lines whose fields have the wrong types (a damaged or hostile file) are skipped, not rendered.
  const hostile = { kind: 'host_result', time: 1, stage: 'deploy', attempt: '"><img src=x onerror=alert(1)>', play: 'p', task: 't', taskId: 'x', action: 'a', host: 'h', status: 'ok', ignored: false, duration: 1 };
  appendFileSync(path.join(run.root, 'events.jsonl'), `${JSON.stringify(hostile)}\n${JSON.stringify({ ...hostile, attempt: 1, status: '<b>' })}\n`);
  appendFileSync(path.join(run.root, 'events.jsonl'), '{"kind":"host_result","time":17');
  const jfile = path.join(run.root, 'journal.json');
  const j = JSON.parse(readFileSync(jfile, 'utf8')) as { status: string; stages: { status: string }[] };
  j.status = 'running';
  j.stages[3]!.status = 'running';
  writeFileSync(jfile, JSON.stringify(j));
  const html = readFileSync(await writeReport(run.root), 'utf8');
  assert.ok(html.includes('manifest.json is missing'));
  assert.ok(html.includes('3 line(s) of events.jsonl were not events'));
  assert.not.ok(html.includes('<img'), 'no markup from the events file reaches the page');
  assert.ok(html.includes('the run is still running'));
  assert.ok(html.includes('disk full: No space left on device'), 'the failures are still there');
});

test('a run directory with only events (no journal): stages come from the events', async () => {
  unlinkSync(path.join(run.root, 'journal.json'));
  const html = readFileSync(await writeReport(run.root), 'utf8');
  assert.ok(html.includes('journal.json could not be used'));
  assert.equal([...html.matchAll(/<g class="bar" data-stage="([^"]+)" data-status="([^"]+)">/g)].map((m) => `${m[1]}:${m[2]}`), ['base:restored', 'deploy:failed', 'test:skipped', 'collect:passed']);
});

test('a big run: the page keeps bounded rows per host and counts the rest', async () => {
  const lines: string[] = [];
  const t0 = Date.UTC(2024, 4, 2);
  lines.push(JSON.stringify({ kind: 'run_start', time: t0, runId: 'big', scenario: 'big', runDir: '/x', stages: ['load'] } satisfies RunEvent));
  lines.push(JSON.stringify({ kind: 'stage_start', time: t0 + 1, stage: 'load', attempt: 1, index: 0 } satisfies RunEvent));
  let n = 0;
  for (let task = 0; task < 2000; task++)
    for (let h = 0; h < 10; h++)
      lines.push(
        JSON.stringify({
          kind: 'host_result',
          time: t0 + 2 + n++,
          stage: 'load',
          attempt: 1,
          play: 'p',
          task: `task ${task}`,
          taskId: `t${task}`,
          action: 'command',
          host: `h${h}`,
          status: task === 1999 && h === 3 ? 'failed' : 'ok',
          ignored: false,
          duration: 0.1,
          message: task === 1999 && h === 3 ? 'the very last task failed' : 'x'.repeat(500),
        } satisfies RunEvent),
      );
  lines.push(JSON.stringify({ kind: 'stage_end', time: t0 + 2 + n, stage: 'load', attempt: 1, index: 0, status: 'failed' } satisfies RunEvent));
  const dir = path.join(base, 'big');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'events.jsonl'), `${lines.join('\n')}\n`);
  const html = readFileSync(await writeReport(dir), 'utf8');
  assert.ok(html.includes('the very last task failed'), 'a failure after the caps is still shown first');
  assert.is(html.match(/1800 more task result\(s\) are in events\.jsonl/g)?.length, 9);
  assert.is(html.match(/1799 more task result\(s\) are in events\.jsonl/g)?.length, 1);
  assert.ok(html.length < 4_000_000, `the page stays small (${html.length} characters)`);
});

test('`harness report <run dir>` rewrites the page and prints its path; a folder that is no run is bad input', async () => {
  let out = '';
  const io = { out: (t: string) => void (out += t), err: () => {}, isTTY: false, env: {} };
  assert.is(await report.run({ rundir: run.root }, io), 0);
  assert.is(out, `${path.join(run.root, 'report.html')}\n`);
  assert.ok(existsSync(path.join(run.root, 'report.html')));
  const err = await report.run({ rundir: base }, io).catch((e: unknown) => e);
  assert.instance(err, InputError);
  assert.match((err as Error).message, /neither journal\.json nor events\.jsonl is there/);
});

test.run();
