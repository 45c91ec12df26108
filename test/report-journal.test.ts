import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../lib/errors.js';
import { createJournalSink, readJournal, type Journal } from '../lib/report/journal.js';
import { createRedactor } from '../lib/report/redact.js';
import { Stream } from './report-stream.js';

const test = suite('report: journal');
let dir: string;
test.before.each(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'report-journal-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Journal;
const statuses = (j: Journal) => j.stages.map((s) => `${s.name}:${s.status}`);

test('the journal follows the run, on disk after every stage change', async () => {
  const file = path.join(dir, 'journal.json');
  const sink = createJournalSink({ file });
  const s = new Stream();
  const feed = () => {
    for (const e of s.events.splice(0)) sink.handle(e);
  };
  s.runStart('demo', ['base', 'deploy', 'upgrade', 'always']);
  feed();
  let j = read(file);
  assert.is(j.version, 1);
  assert.is(j.runId, 'run-1');
  assert.is(j.scenario, 'demo');
  assert.is(j.status, 'running');
  assert.equal(statuses(j), ['base:pending', 'deploy:pending', 'upgrade:pending', 'always:pending']);
  assert.equal(j.stages.map((x) => x.index), [0, 1, 2, 3]);

  s.stageEnd('base', 0, 'restored', { checkpoint: 'ck-1', reason: 'inputs unchanged' });
  s.stageStart('deploy', 1).taskRun('deploy', 'x', [{ host: 'h', status: 'failed' }]);
  feed();
  j = read(file);
  assert.equal(statuses(j), ['base:restored', 'deploy:running', 'upgrade:pending', 'always:pending']);
  assert.is(j.stages[0]!.checkpoint, 'ck-1');
  assert.is(j.stages[1]!.attempts, 1);
  assert.ok(j.stages[1]!.started && !j.stages[1]!.ended);

  s.stageEnd('deploy', 1, 'failed', { exitCode: 2, reason: 'a task failed' });
  s.stageStart('deploy', 1, 2).stats('deploy', { api_url: 'http://x' });
  feed();
  j = read(file);
  assert.equal(statuses(j), ['base:restored', 'deploy:running', 'upgrade:pending', 'always:pending']);
  assert.is(j.stages[1]!.attempts, 2);
  assert.is(j.stages[1]!.exitCode, undefined, 'a new attempt clears the last one’s result');
  assert.equal(j.stats, { deploy: { api_url: 'http://x' } });

  s.stageEnd('deploy', 1, 'passed', { exitCode: 0, checkpoint: 'ck-2' });
  s.stageEnd('upgrade', 2, 'skipped', { reason: 'until deploy' });
  s.stageStart('always', 3).stageEnd('always', 3, 'error', { reason: 'timed out after 5m' }).runEnd('failed', 1, 'stage always errored');
  feed();
  await sink.close!();
  j = await readJournal(file);
  assert.is(j.status, 'failed');
  assert.is(j.exitCode, 1);
  assert.ok(j.ended);
  assert.equal(statuses(j), ['base:restored', 'deploy:passed', 'upgrade:skipped', 'always:error']);
  assert.equal(j.stages[1], { ...j.stages[1]!, attempts: 2, exitCode: 0, checkpoint: 'ck-2' });
  assert.is(j.stages[3]!.reason, 'timed out after 5m');
  assert.ok(Date.parse(j.stages[3]!.ended!) > Date.parse(j.stages[3]!.started!));
  assert.equal(readdirSync(dir), ['journal.json'], 'no temp files left behind');
});

test('closed without run_end, the run and its running stage are marked error', async () => {
  const file = path.join(dir, 'journal.json');
  const sink = createJournalSink({ file, redact: createRedactor(['s3cret']) });
  const s = new Stream().runStart('demo', ['one', 'two']);
  s.stageStart('one', 0).stats('one', { token: 'Bearer s3cret', port: 1234 });
  for (const e of s.events) sink.handle(e);
  await sink.close!();
  const j = await readJournal(file);
  assert.is(j.status, 'error');
  assert.equal(statuses(j), ['one:error', 'two:pending']);
  assert.equal(j.stats.one, { token: 'Bearer ********', port: 1234 }, 'strings redacted, numbers intact');
});

test('readJournal names the file when it is missing, not JSON, or not a journal', async () => {
  const missing = path.join(dir, 'nope.json');
  const err1 = await readJournal(missing).catch((e: unknown) => e);
  assert.instance(err1, InputError);
  assert.match((err1 as Error).message, `${missing}: cannot read the journal: no such file`);
  const junk = path.join(dir, 'junk.json');
  writeFileSync(junk, '{"version":');
  const err2 = await readJournal(junk).catch((e: unknown) => e);
  assert.instance(err2, InputError);
  assert.match((err2 as Error).message, `${junk}: not a journal: invalid JSON`);
  const other = path.join(dir, 'other.json');
  writeFileSync(other, JSON.stringify({ version: 1, runId: 'r', scenario: 's', status: 'done', started: 'x', stats: {}, stages: [{ name: 'a', index: '0', status: 'passed' }] }));
  const err3 = (await readJournal(other).catch((e: unknown) => e)) as InputError;
  assert.instance(err3, InputError);
  assert.equal(
    err3.problems.map((p) => `${p.file}|${p.path}`),
    [`${other}|status`, `${other}|stages[0].index`],
  );
  assert.match(err3.message, 'status: must be one of running, passed, failed, interrupted, error, got "done"');
});

test.run();
