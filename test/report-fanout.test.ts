import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventSink, RunEvent } from '../lib/model/events.js';
import { fanout } from '../lib/report/fanout.js';
import { Stream } from './report-stream.js';

const test = suite('report: fanout');

test('a sink that throws does not stop the others; closeAll closes all and throws the first error', async () => {
  const seen: string[] = [];
  const closed: string[] = [];
  const good = (name: string): EventSink => ({
    handle: (e: RunEvent) => void seen.push(`${name}:${e.kind}`),
    close: async () => void closed.push(name),
  });
  const bad: EventSink = {
    handle: (e) => {
      if (e.kind === 'stage_start') throw new Error('first');
      if (e.kind === 'stage_end') throw new Error('second');
    },
    close: () => {
      throw new Error('close failed');
    },
  };
  const all = fanout([good('a'), bad, good('b'), { handle() {} }]);
  const s = new Stream().runStart('demo', ['one']).stageStart('one', 0).stageEnd('one', 0, 'passed');
  for (const e of s.events) all.handle(e);
  assert.equal(seen.filter((x) => x.startsWith('b:')), ['b:run_start', 'b:stage_start', 'b:playbook_start', 'b:stage_end']);
  assert.is((all.error as Error).message, 'first');
  const err = await all.closeAll().catch((e: unknown) => e);
  assert.is((err as Error).message, 'first');
  assert.equal(closed.sort(), ['a', 'b']);
  const again = await all.close!()!.catch((e: unknown) => e);
  assert.is(again, err, 'closing twice closes once');
  assert.equal(closed.length, 2);
});

test('no errors: closeAll resolves', async () => {
  const all = fanout([{ handle() {} }]);
  all.handle(new Stream().runStart('x', []).events[0]!);
  await all.closeAll();
  assert.is(all.error, undefined);
});

test.run();
