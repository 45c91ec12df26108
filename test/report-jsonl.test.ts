import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunEvent } from '../lib/model/events.js';
import { createEventsSink } from '../lib/report/events-jsonl.js';
import { createRedactor } from '../lib/report/redact.js';
import { demoStream, Stream } from './report-stream.js';

const test = suite('report: events.jsonl');
let dir: string;
test.before.each(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'report-jsonl-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('one JSON line per event, stage_output left out, in order, all there after close', async () => {
  const file = path.join(dir, 'run', 'events.jsonl');
  const sink = createEventsSink({ file, chunkSize: 512 }); // small chunks: several writes
  const events = demoStream().events;
  for (const e of events) sink.handle(e);
  await sink.close!();
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.is(lines.pop(), '', 'ends with a newline');
  const expected = events.filter((e) => e.kind !== 'stage_output');
  assert.ok(expected.length < events.length, 'the stream has stage_output to leave out');
  assert.is(lines.length, expected.length);
  const parsed = lines.map((l) => JSON.parse(l) as RunEvent);
  assert.equal(parsed, expected);
});

test('it appends, and redacts string values only', async () => {
  const file = path.join(dir, 'events.jsonl');
  const redact = createRedactor(['12', 'pa"ss']);
  for (let round = 0; round < 2; round++) {
    const sink = createEventsSink({ file, redact });
    const s = new Stream().runStart('demo', ['one']);
    s.stageStart('one', 0).taskRun('one', 't', [{ host: 'h', status: 'failed', message: 'got pa"ss and 12', duration: 12 }]);
    for (const e of s.events) sink.handle(e);
    await sink.close!();
  }
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.is(lines.length, 10);
  const result = JSON.parse(lines[4]!) as Extract<RunEvent, { kind: 'host_result' }>;
  assert.is(result.kind, 'host_result');
  assert.is(result.message, 'got ******** and ********');
  assert.is(result.duration, 12, 'a number equal to a secret stays a number');
});

test.run();
