import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gateQueue, setKey } from '../lib/queue/gate.js';
import type { Probe, ProbeRecord, QueueChange } from '../lib/queue/search.js';

// Fake probes (named so): the gate is pure; `harness gate` hands it a probe that runs the scenario.
const queue = (n: number, depends: Record<number, string[]> = {}): QueueChange[] => Array.from({ length: n }, (_, i) => ({ id: `c${i + 1}`, ...(depends[i + 1] ? { depends: depends[i + 1] } : {}) }));
const breaking = (bad: number[]): Probe => async (applied) => (applied.some((i) => bad.includes(i + 1)) ? { status: 'fail', stage: 'test', message: 'boom' } : { status: 'pass' });

test('a bad change in the middle of five is rejected; the others merge, retested without it', async () => {
  for (const jobs of [1, 2, 5]) {
    const seen: string[] = [];
    const probe: Probe = async (a) => {
      seen.push(a.map((i) => i + 1).join(','));
      return breaking([3])(a);
    };
    const r = await gateQueue(queue(5), probe, { jobs });
    assert.equal(r.merged, ['c1', 'c2', 'c4', 'c5'], `jobs=${jobs}`);
    assert.equal(r.rejected, [{ id: 'c3', stage: 'test', reason: "stage 'test' failed: boom" }]);
    assert.ok(seen.includes('1,2,4'), `c4 retested without c3 (jobs=${jobs}): ${seen.join(' | ')}`);
    assert.is(new Set(seen).size, seen.length, 'no set probed twice');
    if (jobs === 1) assert.is(r.runs, 5);
  }
});

test('with a window, later changes are tested speculatively at once', async () => {
  let running = 0;
  let most = 0;
  const probe: Probe = async () => {
    most = Math.max(most, ++running);
    await new Promise((res) => setTimeout(res, 20));
    running--;
    return { status: 'pass' };
  };
  const r = await gateQueue(queue(6), probe, { jobs: 3 });
  assert.equal(r.merged, ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
  assert.is(most, 3);
  assert.is(r.runs, 6);
});

test('a change that depends on a rejected one is rejected with it; untestable is no verdict but is not merged', async () => {
  const r = await gateQueue(queue(4, { 4: ['c2'] }), breaking([2]));
  assert.equal(r.merged, ['c1', 'c3']);
  assert.equal(r.rejected.map((x) => [x.id, x.reason]), [['c2', "stage 'test' failed: boom"], ['c4', 'depends on c2, which was rejected']]);
  let calls = 0;
  const infra: Probe = async (a) => (a.includes(0) && ++calls <= 2 ? { status: 'untestable', message: 'no lab' } : { status: 'pass' });
  const u = await gateQueue(queue(2), infra);
  assert.equal(u.rejected, [{ id: 'c1', reason: 'could not be tested (twice): no lab' }]);
  assert.equal(u.merged, ['c2']);
});

test('--retry: results kept from an earlier run are not probed again', async () => {
  const first = await gateQueue(queue(3), breaking([2]));
  const known = new Map<string, ProbeRecord>(first.probes.filter((p) => !p.applied.includes('c2')).map((p) => [setKey(p.applied), p]));
  let calls = 0;
  const again = await gateQueue(queue(3), async (a) => {
    calls++;
    return { status: 'pass', ...(a.length ? {} : {}) };
  }, { known });
  assert.equal(again.merged, ['c1', 'c2', 'c3']); // c2 passes now (it was flaky); c1's result was reused
  assert.is(calls, 2);
});

test.run();
