import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readResultsSuites } from '../lib/report/junit-results.js';
import { noRedact } from '../lib/report/redact.js';
import { parseXml, textOf, XmlSyntaxError, childElements } from '../lib/report/xml-parse.js';

const test = suite('report: xml parse');

test('elements, attributes, entities, CDATA, comments, DOCTYPE, BOM', () => {
  const root = parseXml(`\ufeff<?xml version="1.0"?>\n<!DOCTYPE x [ <!ENTITY e "boom"> ]>\n<!-- c -->\n<a k='1' j="&lt;&#65;&#x42;&e;">t&amp;<![CDATA[<raw>]]><b/><c x="y" >z</c ></a>\n`);
  assert.is(root.name, 'a');
  assert.equal(root.attrs, { k: '1', j: '<AB&e;' });
  assert.is(textOf(root), 't&<raw>');
  assert.equal(childElements(root).map((c) => c.name), ['b', 'c']);
});

test('malformed XML: the error says what and where', () => {
  for (const [xml, what] of [
    ['<a><b></a>', 'line 1, column 7: closing tag </a> does not match <b>'],
    ['<a>\n<b>', 'line 2, column 4: element <b> is not closed'],
    ['', 'no root element'],
    ['<a/><b/>', 'a second root element'],
    ['<a x=1/>', 'malformed start tag <a>'],
    ['text', 'text outside the root element'],
    ['<a><!-- x</a>', 'unterminated comment'],
  ] as const) {
    try {
      parseXml(xml);
      assert.unreachable(`parsed: ${xml}`);
    } catch (err) {
      assert.instance(err, XmlSyntaxError);
      assert.match((err as Error).message, what);
    }
  }
});

test('results files: nested suites flatten, missing names get defaults, bad times become 0', () => {
  const suites = readResultsSuites(
    {
      host: 'h',
      path: '/r/out.xml',
      xml: '<testsuites><testsuite name="outer"><testsuite name="inner"><testcase name="a" time="-1"/><testcase name="b" time="1e30"/></testsuite></testsuite><testsuite><testcase/></testsuite></testsuites>',
    },
    noRedact,
  );
  assert.equal(
    suites.map((s) => [s.name, s.cases.map((c) => [c.name, c.classname, c.time])]),
    [
      ['outer.inner', [['a', 'inner', 0], ['b', 'inner', 1e30]]],
      ['out.xml', [['(unnamed)', 'out.xml', 0]]],
    ],
  );
});

test.run();
