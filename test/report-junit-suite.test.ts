/**
 * `buildSuite` writes the `<testsuite>` element and plain cases as text and loads
 * junit-report-builder only for the other cases: its bytes must stay what the library writes for
 * the whole suite.
 */
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Builder } from 'junit-report-builder';
import { buildSuite, type CaseData, type SuiteData } from '../lib/report/junit-suite.js';
import { junitSeconds } from '../lib/report/text.js';
import { childElements, parseXml, textOf } from '../lib/report/xml-parse.js';

const test = suite('report: junit suite text');

type Built = {
  name?: string;
  children?: Built[];
  att(name: string, value: string | number): unknown;
  end(o: object): string;
};

/** What the code before did to CDATA text before the library: every `]]>` after the first split. */
function cdataSafe(text: string): string {
  const first = text.indexOf(']]>');
  return first < 0 ? text : text.slice(0, first + 3) + text.slice(first + 3).replaceAll(']]>', ']]]]><![CDATA[>');
}

/** The suite as junit-report-builder alone writes it (every case through the library). */
function libraryXml(data: SuiteData): string {
  const jrb = createRequire(import.meta.url)('junit-report-builder') as Builder & { default?: Builder };
  const s = (jrb.default ?? jrb).newBuilder().testSuite().name(data.name).time(junitSeconds(data.time));
  if (data.timestamp) s.timestamp(data.timestamp);
  for (const [name, value] of data.properties ?? []) s.property(name, value);
  const counts = { failures: 0, errors: 0, skipped: 0 };
  for (const c of data.cases) {
    const tc = s.testCase().className(c.classname).name(c.name).time(junitSeconds(c.time));
    const o = c.outcome;
    if (o.kind === 'failure') {
      counts.failures++;
      tc.failure(o.message || undefined, o.type);
    } else if (o.kind === 'error') {
      counts.errors++;
      tc.error(o.message || undefined, o.type);
    } else if (o.kind === 'skipped') {
      counts.skipped++;
      tc.skipped();
    }
    if (c.systemOut) tc.standardOutput(cdataSafe(c.systemOut));
    if (c.systemErr) tc.standardError(cdataSafe(c.systemErr));
  }
  const el = s.build() as unknown as Built;
  let i = 0;
  for (const child of el.children ?? []) {
    if (child.name !== 'testcase') continue;
    const o = data.cases[i++]!.outcome;
    if (o.kind === 'skipped' && o.message) child.children?.find((g) => g.name === 'skipped')?.att('message', o.message);
  }
  el.att('tests', data.cases.length);
  el.att('failures', counts.failures);
  el.att('errors', counts.errors);
  el.att('skipped', counts.skipped);
  const xml = el.end({ pretty: true, indent: '  ', offset: 1 }).replace(/^\s*<\?xml[^>]*\?>\n?/, '');
  return xml.endsWith('\n') ? xml : `${xml}\n`;
}

const passed = (name: string): CaseData => ({ name, classname: 'stage.play', time: 0.25, outcome: { kind: 'passed' } });
const odd = 'a&b <c> "d" \'e\'\tf\ng\rh ]]> i';
// Characters XML 1.0 forbids (the library drops them), a lone surrogate of each kind, ANSI colour.
const illegal = 'x\x00y\x1b[31mred\x1b[0m \uD800lone \uDC00low \uFFFE end 😀';

const suites: [string, SuiteData][] = [
  ['an empty suite', { name: 'empty', time: 0, cases: [] }],
  ['an empty suite with a timestamp and properties', { name: 'p', time: 1.5, timestamp: '2026-12-01T10:00:00', properties: [['voting', 'false'], ['attempt', '2']], cases: [] }],
  ['plain cases only', { name: 'plain', time: 12.345, timestamp: '2026-12-01T10:00:00', cases: [passed('t1'), { ...passed('t2'), outcome: { kind: 'skipped', message: 'when: false' } }, { ...passed('t3'), outcome: { kind: 'skipped' } }] }],
  ['names, values and messages that need escaping', { name: odd, time: 3, timestamp: '2026-12-01T10:00:00', properties: [[odd, odd], ['empty', '']], cases: [{ ...passed(odd), classname: odd }, { ...passed('s'), outcome: { kind: 'skipped', message: odd } }] }],
  ['passed and skipped cases with output, CDATA ends and forbidden characters', {
    name: `out ${illegal}`,
    time: 2,
    properties: [[illegal, illegal]],
    cases: [
      { ...passed('o'), systemOut: 'line 1\nline 2 ]]> after ]]> again ]]]> end' },
      { ...passed('e'), systemErr: 'only err' },
      { ...passed('both'), systemOut: `out ${illegal}`, systemErr: 'err ]]> once' },
      { ...passed(illegal), classname: illegal, outcome: { kind: 'skipped', message: illegal }, systemOut: 'skipped with output' },
      { ...passed('empty output'), systemOut: '' },
    ],
  }],
  ['plain cases mixed with failures, errors and output', {
    name: 'mixed',
    time: 7,
    properties: [['k', 'v']],
    cases: [
      passed('a'),
      { ...passed('b'), outcome: { kind: 'failure', type: 'failed', message: 'it broke' } },
      { ...passed('c'), outcome: { kind: 'error', type: 'unreachable', message: 'no route' } },
      { ...passed('d'), systemOut: 'some output' },
      passed('e'),
    ],
  }],
];

for (const [what, data] of suites) {
  test(`${what}: the bytes junit-report-builder writes`, () => {
    const built = buildSuite(data);
    assert.is(built.xml.toString(), libraryXml(data));
    assert.is(built.tests, data.cases.length);
  });
}

test("a ']]>' that only dropping a forbidden character makes still cannot end the CDATA early (the library's order would)", () => {
  const cases: CaseData[] = [
    { ...passed('a'), systemErr: 'err ]]\x01> joined' },
    { ...passed('b'), outcome: { kind: 'failure', type: 'failed', message: 'm', detail: 'detail ]]\x01> joined' }, systemOut: 'out ]]\x02> joined' },
  ];
  const root = parseXml(`<testsuites>${buildSuite({ name: 's', time: 1, cases }).xml.toString()}</testsuites>`);
  const [a, b] = childElements(childElements(root, 'testsuite')[0]!, 'testcase');
  assert.is(textOf(childElements(a!, 'system-err')[0]!), 'err ]]> joined');
  assert.is(textOf(childElements(b!, 'system-out')[0]!), 'out ]]> joined');
  assert.match(textOf(childElements(b!, 'failure')[0]!), /detail \]\]> joined/);
});

test('a suite of plain cases (with output too) does not load junit-report-builder', async () => {
  const { spawnSync } = await import('node:child_process');
  const code = [
    "import { createRequire } from 'node:module';",
    `const { buildSuite } = await import(${JSON.stringify(new URL('../lib/report/junit-suite.js', import.meta.url).href)});`,
    "buildSuite({ name: 's', time: 1, properties: [['k', 'v']], cases: [{ name: 'a', classname: 'c', time: 0, outcome: { kind: 'passed' }, systemOut: 'o' }] });",
    "const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('/junit-report-builder/'));",
    "const before = loaded();",
    "buildSuite({ name: 's', time: 1, cases: [{ name: 'a', classname: 'c', time: 0, outcome: { kind: 'failure', type: 'failed', message: 'm' } }] });",
    'console.log(JSON.stringify([before, loaded()]));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), [false, true]);
});

test.run();
