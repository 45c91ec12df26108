import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRedactor, noRedact } from '../lib/report/redact.js';

const test = suite('report: redact');

test('every occurrence of every secret, longest first', () => {
  const r = createRedactor(['abc', 'abcdef', '']);
  assert.is(r('x abcdef y abc z abcabc'), 'x ******** y ******** z ****************');
});

test('regex characters are literal; JSON-, ascii-JSON- and XML-escaped forms are caught', () => {
  const r = createRedactor(['a.b*c', 'p"a\\ss', 'pä$$', '<&>']);
  assert.is(r('a.b*c axbbc'), '******** axbbc');
  assert.is(r(JSON.stringify({ v: 'p"a\\ss' })), '{"v":"********"}');
  assert.is(r('{"v": "p\\u00e4$$"}'), '{"v": "********"}');
  assert.is(r('pä$$ and &lt;&amp;&gt;'), '******** and ********');
});

test('no secrets: the identity, and empty text is fine', () => {
  assert.is(createRedactor([]), noRedact);
  assert.is(createRedactor(['', '']), noRedact);
  assert.is(createRedactor(['x'])(''), '');
});

test('many secrets, many calls: one combined expression', () => {
  const secrets = Array.from({ length: 200 }, (_, i) => `secret-${i}-${'x'.repeat(i % 7)}`);
  const r = createRedactor(secrets);
  const line = `start ${secrets[199]} mid ${secrets[3]} end`;
  for (let i = 0; i < 10_000; i++) r(line);
  assert.is(r(line), 'start ******** mid ******** end');
});

test.run();
