import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createRedactor, noRedact, redactEvent, secretPieces } from '../lib/report/redact.js';

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

test('redactEvent: no secrets or none present gives the same object; otherwise as a JSON round trip would', () => {
  const event = {
    kind: 'host_result', stage: 's', attempt: 1, time: 5, message: 'ok', duration: 0.5,
    result: { list: ['a', { deep: 'b' }], n: 3, flag: true, nil: null, empty: '' },
  };
  assert.is(redactEvent(event, noRedact), event);
  assert.is(redactEvent(event, createRedactor(['hunter2'])), event, 'no secret in it: not copied');
  const secret = 'hunter2';
  const r = createRedactor([secret, 'pä"ss']);
  const dirty = {
    kind: 'host_result', stage: 's', attempt: 1, time: 5, message: 'login hunter2', duration: 0.5,
    result: { list: ['a', { deep: 'x hunter2 y', other: 'keep' }, 'pä"ss'], n: 3, hunter2: 'keyed by it', same: { v: 'untouched' } },
  };
  const before = JSON.stringify(dirty);
  const clean = redactEvent(dirty, r);
  assert.equal(clean, JSON.parse(r(JSON.stringify(dirty))), 'the same as the JSON round trip through the redactor');
  assert.is(JSON.stringify(dirty), before, 'the input is not changed');
  assert.not.match(JSON.stringify(clean), 'hunter2');
  assert.is(clean.result.same, dirty.result.same, 'untouched branches are shared, not copied');
  assert.equal(Object.keys(clean.result), ['list', 'n', '********', 'same'], 'key order kept');
});

test('the pre-check does not miss a secret: at the start, at the end, overlapping forms, many secrets', () => {
  const r = createRedactor(['ab', 'abab', 'é']);
  assert.is(r('ab'), '********');
  assert.is(r('xxab'), 'xx********');
  assert.is(r('ababab'), '****************');
  assert.is(r('\\u00e9 and é'), '******** and ********', 'the ascii-JSON form too');
  assert.is(r('a'), 'a', 'shorter than any secret');
  const many = createRedactor(Array.from({ length: 40 }, (_, i) => `s${i}-secret`));
  assert.is(many('x s39-secret y s0-secret'), 'x ******** y ********');
  assert.is(many('nothing here'), 'nothing here');
});

/** Every encoded form of `values`, as real Python writes them (json, repr, yaml, shlex.quote), one JSON list per value. */
function pythonForms(values: string[]): string[][] {
  const script = `
import json, shlex, sys, yaml
out = []
for s in json.loads(sys.stdin.read()):
    one = [json.dumps(s), json.dumps(s, ensure_ascii=False), json.dumps(s, indent=4), repr(s), repr([s]), str([s, {'k': s}]),
           yaml.dump(s, allow_unicode=True), yaml.dump({'k': [s]}, allow_unicode=True, default_flow_style=False, indent=4),
           yaml.dump([s], allow_unicode=True, default_flow_style=True), shlex.quote(s)]
    one += [json.dumps(f) for f in list(one)]
    out.append(one)
print(json.dumps(out))
`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify(values), encoding: 'utf8' })) as string[][];
}

test('every form Python (Ansible) prints a secret in is masked: JSON, repr, YAML, shell-quoted, and those JSON-escaped again', () => {
  const secrets = ['pa"ss\\word-1', "it's-a-secret", 'both\'"and\\', 'non-ascii-pässwörd', 'tab\there-ctl\u0001', 'plain-canary-42'];
  const r = createRedactor(secrets);
  const all = pythonForms(secrets);
  secrets.forEach((secret, i) => {
    for (const form of all[i]!) {
      const out = r(`before ${form} after`);
      assert.ok(out.includes('********'), `${JSON.stringify(secret)} in ${JSON.stringify(form)}: nothing masked`);
      // What is left must not hold the secret's distinctive middle in any form.
      const core = secret.replace(/[^a-z0-9-]/g, '').slice(2, 10);
      assert.not.ok(out.includes(core), `${JSON.stringify(secret)} leaks from ${JSON.stringify(form)} as ${JSON.stringify(out)}`);
    }
  });
  assert.is(r('x pa&quot;ss\\word-1 y'), 'x ******** y', 'XML-escaped');
});

test('a multi-line secret: every line of it is masked, as stdout_lines prints them; short lines are not', () => {
  const pem = '-----BEGIN TEST KEY-----\nMIIEpAIBAAKCAQEAtest1line\n  b64+/=second-line  \nab\n-----END TEST KEY-----\n';
  assert.equal(secretPieces(pem).slice(1), ['-----BEGIN TEST KEY-----', 'MIIEpAIBAAKCAQEAtest1line', 'b64+/=second-line', '-----END TEST KEY-----']);
  const r = createRedactor([pem]);
  const lines = JSON.stringify({ stdout_lines: pem.split('\n') });
  const out = r(lines);
  assert.not.ok(out.includes('MIIEpAIBAAKCAQEAtest1line') || out.includes('second-line'), out);
  assert.ok(out.includes('"ab"'), 'a 2-character line is left alone');
  assert.is(r('x MIIEpAIBAAKCAQEAtest1line y'), 'x ******** y');
  assert.equal(secretPieces('one-line'), ['one-line']);
});

test.run();
