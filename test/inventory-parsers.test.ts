/**
 * The pieces of Ansible's parsers we reimplement, checked input by input against the Python
 * Ansible runs on: literal_eval, shlex, host patterns, PyYAML scalars, json, repr(float); and the
 * writers' quoting, read back by that same Python.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePyLiteral } from '../lib/inventory/py-literal.js';
import { pyRepr } from '../lib/inventory/py-repr.js';
import { shlexQuote, shlexSplit, ShlexError } from '../lib/inventory/shlex.js';
import { expandHostPattern } from '../lib/inventory/ranges.js';
import { parsePyYaml, PyYamlError } from '../lib/inventory/py-yaml.js';
import { parsePyJson } from '../lib/inventory/py-json.js';
import { pyFloatRepr, UnsupportedValueError, PyDict } from '../lib/inventory/py-value.js';
import { yamlNumber, yamlStr, jsonNumber } from '../lib/inventory/emit.js';
import type { VarValue } from '../lib/model/index.js';
import { pythonBatch, tag, type Tagged } from './inventory-python.js';

/** A small seeded generator, so a failing fuzz case is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function fuzz(seed: number, count: number, pieces: string[], maxLen: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = 1 + Math.floor(r() * maxLen);
    for (let k = 0; k < n; k++) s += pieces[Math.floor(r() * pieces.length)];
    out.push(s);
  }
  return out;
}

/**
 * Whether our literal result is Python's: errors match errors (we also refuse a tuple as a dict
 * key, which Python allows but neither the model nor ansible-inventory's JSON can keep).
 */
function sameLiteral(got: Tagged, exp: Tagged): boolean {
  if (got.t === 'error') return exp.t === 'error' || JSON.stringify(exp).includes('[{"t":"list"');
  return JSON.stringify(got) === JSON.stringify(exp);
}

function ours(s: string): Tagged {
  try {
    return tag(parsePyLiteral(s));
  } catch (err) {
    if (err instanceof UnsupportedValueError) return { t: 'error' };
    throw err;
  }
}

const LITERALS = [
  '1', '-1', '+1', '- 1', '--1', '-(1)', '-(-1)', '(1)', '((1))', '0', '00', '0_0', '01', '0123', '1_000', '1__0', '1_', '_1',
  '0x1F', '0X1f', '0x_1f', '0x', '0o17', '0O7', '0o8', '0b101', '0b2', '1.5', '.5', '5.', '1e3', '1E-3', '1e+3', '1e3e', '1.2.3',
  '1e999', '-1e999', '-0.0', '0123.5', '0123e1', '1_0.5_5', '1._5', '1e1_0', '1j', '1+2j', '-1-2j', '1+2', '(1+2j)', '-(1+2j)', '1j+1', 'True+1j',
  'True', 'False', 'None', 'true', 'none', '-True', '+False', 'set()', 'set ( )', 'set([])', 'set', '...', '[...]',
  "'a'", '"a"', "'a' 'b'", "'a''b'", "'a' \"b\"", "u'x'", "U'x'", "r'\\n'", "R'\\d'", "b'x'", "B'x'", "br'\\x'", "rb'x'", "Rb'x'",
  "f'x'", "'a' f'b'", "b'a' 'b'", "ur'x'", "'''tri'ple'''", '"""a"b"""', "'\\x41'", "'\\x4'", "'\\u00e9'", "'\\U0001F600'", "'\\U00110000'",
  "'\\101'", "'\\777'", "'\\0'", "'\\q'", "'\\N'", "'\\a\\b\\f\\v\\t\\r\\n'", "b'\\x80'", "b'é'", "'é日本🚀'", "'unclosed", "'a'b'",
  '[]', '[1]', '[1,]', '[1,,]', '[,]', '[1 2]', '()', '(1)', '(1,)', '(1,2)', '(,)', '1,', '1,2', '1,2,', ',', '1 ,2',
  '{}', "{'a': 1}", "{'a': 1,}", '{1: 2, True: 3}', '{1.0: 1, 1: 2}', "{'a': {'b': [1, (2, 3)]}}", '{1, 2}', '{1,}', '{[1]: 2}', '{(1, 2): 3}', '{**a}',
  '{1: 2, 3}', '{1}', "{'a' : 1}", '[1, [2, [3, [4]]]]', "['a', 1.5, None, True, {'k': ()}]",
  'a', 'abc', 'a.b', 'a,b', 'a b', '1 2', 'a=b', 'x = 1', '1 if 1 else 0', 'not 1', '1 # comment', '# only', '1#c', 'lambda: 1',
  '1if 1 else 0', '0x1for x in y', '1_000j', '1e5j', '.5j', '1.j', "'a'[0]", "'a'.upper()", '[1][0]', '(1)(2)', '1 + 2', '2 * 3', '1 < 2',
  ' 1', '\t1', '1 ', '\f1', '', ' ', 'inf', 'nan', '-inf', '+-1', '-+1', '- (1)', '(- 1)', '-(1,)', '-[1]', '-1j', '-(1j)', '(-1)+1j', '-1+(1j)',
];

const t = suite('python literals, shlex, host patterns, YAML and JSON against Python');

t('literal_eval: curated inputs read as Python reads them', async () => {
  const expected = await pythonBatch('literal', LITERALS);
  LITERALS.forEach((s, i) => assert.ok(sameLiteral(ours(s), expected[i]!), `literal ${JSON.stringify(s)}: ours ${JSON.stringify(ours(s))}, Python ${JSON.stringify(expected[i])}`));
});

t('literal_eval: 3000 random inputs read as Python reads them', async () => {
  const pieces = ['0', '1', '7', '9', '_', '.', 'e', 'E', 'x', 'o', 'b', 'j', '+', '-', ' ', '(', ')', '[', ']', '{', '}', ',', ':', "'", '"', '\\', 'n', 'u', 'r', 'f', 'True', 'None', 'set', '#', 'a', '\t', 'x41', '0e'];
  const inputs = fuzz(7, 3000, pieces, 10).filter((s) => !s.includes('\\N'));
  const expected = await pythonBatch('literal', inputs);
  const bad = inputs.map((s, i) => [s, ours(s), expected[i]!] as const).filter(([, a, b]) => !sameLiteral(a, b));
  assert.equal(bad.slice(0, 5), [], `${bad.length} of ${inputs.length} differ`);
});

t('pyRepr: every model value comes back from literal_eval as itself', async () => {
  const values: VarValue[] = [
    0, 1, -1, 42, 9007199254740991, -9007199254740991, 2 ** 60, 1.5, -2.25, 0.1, 1e-7, 5e-324, 1.7976931348623157e308, 1e16, 1e21, -0, Infinity, -Infinity,
    true, false, null, '', 'x', "it's", 'say "hi"', 'both \' and "', 'back\\slash', 'tab\tnew\nline\rcr', '\0\x01\x1f\x7f\x85\u2028\u2029\ufeff', 'é日本🚀',
    '0123', '1e3', 'true', 'None', '[1]', [], [1, 'a', [null]], {}, { a: 1, 'b c': [true, { d: 'e' }] }, { '': '', __proto__x: 1 },
  ];
  const literals = values.map(pyRepr);
  const back = await pythonBatch('literal', literals);
  values.forEach((v, i) => assert.equal(back[i], tagVar(v), `${JSON.stringify(v)} as ${literals[i]}`));
});

t('shlex.split: curated and random lines split as Python splits them', async () => {
  const curated = ['a b', 'a  b ', "'a b' c", '"a b" c', 'a"b c"d', "a'b'c", '\\a \\ b', '"a\\"b"', '"a\\b"', "'a\\'", 'a#b c', 'a #b', '#a', "'#a'", '"', "'", 'a\\', '""', "''", 'x="" y', 'k=v k2="v 2"', '"\\\\"'];
  const random = fuzz(11, 1500, ['a', 'b', ' ', '\t', "'", '"', '\\', '#', '=', 'x'], 12);
  const inputs = [...curated, ...random];
  const expected = await pythonBatch<string[] | { error: string }>('shlex', inputs);
  inputs.forEach((s, i) => {
    let got: string[] | { error: string };
    try {
      got = shlexSplit(s);
    } catch (err) {
      if (!(err instanceof ShlexError)) throw err;
      got = { error: err.message };
    }
    assert.equal(got, expected[i], `shlex ${JSON.stringify(s)}`);
  });
});

t('shlexQuote: any token comes back whole from shlex.split', async () => {
  const tokens = ['plain', '', 'a b', "it's", 'say "hi"', 'back\\slash', '#hash', 'a=b', 'tab\there', "'\"\\#", 'é日本', ...fuzz(5, 300, ['a', ' ', "'", '"', '\\', '#', '='], 8)];
  const back = await pythonBatch<string[]>('shlex', tokens.map(shlexQuote));
  tokens.forEach((tok, i) => assert.equal(back[i], [tok], `quote ${JSON.stringify(tok)} as ${shlexQuote(tok)}`));
});

t('host patterns expand as Ansible expands them', async () => {
  const patterns = [
    'web1', 'node[01:20]', 'node[1:10:2]', 'ceph-[a:c]', 'db[1:2]-[a:b]', 'x[0:3:-1]', 'x[5:1]', 'x[:3]', 'x[1:]', 'x[01:100]', 'x[001:100]', 'x[a:C]', 'x[A:c]', 'x[ab:d]',
    'x[c:a]', 'x[1:2:0]', 'x[a:c:0]', 'x[a:c:2]', 'x[1:2:3:4]', 'x[1]', 'x[a:5]', 'x]1:2[', 'host:22', 'host:', '10.0.0.[1:3]', '10.0.0.1:22', '[::1]:22', '::1',
    'fe80::1', '[2001:db8::[a:c]]:22', '[foo]:22', 'my host:22', 'a:b:22', 'x_:22', '-x:22', 'ünï:22', 'h[1:3]:2222', 'name.with.dots', 'x[-1:1]', 'x[+1:3]', 'x[ 1:3]', 'x[1_0:12]',
  ];
  const expected = await pythonBatch<{ names: string[]; port: number | null } | { error: string }>('hosts', patterns);
  patterns.forEach((p, i) => {
    const exp = expected[i]!;
    let got: { names: string[]; port: number | null } | 'error';
    try {
      const r = expandHostPattern(p);
      got = { names: r.names, port: r.port ?? null };
    } catch {
      got = 'error';
    }
    assert.equal(got, 'error' in exp ? 'error' : exp, `pattern ${p}`);
  });
});

const SCALARS = [
  'yes', 'Yes', 'YES', 'yEs', 'no', 'on', 'Off', 'y', 'n', 'true', 'True', 'tRue', 'null', 'Null', '~', '', 'NULL', 'nUll',
  '0', '00', '0123', '09', '0o17', '0x1F', '0b101', '+5', '-5', '1_000', '1:30', '-1:30', '190:20:30', '1:60', '1.5', '1.', '.5', '-.5', '+.5', '1e3', '1.0e3', '1.0e+3',
  '1.5e-3', '1_0.5', '1:30.5', '.inf', '-.inf', '+.Inf', '.NaN', '.nan', 'inf', '2001-12-14', '2001-1-4', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10',
  '2001-12-14T21:59:43Z', '2001-12-14 21:59:43 +1', '2002-12-14T00:00:00.1234567', '=', '<<', "'quoted'", '"0123"', '!!str 123', '!!int "42"', '!!float 1',
  '!!bool yes', '!!null x', '! 12', '! "12"', '!!str', '"\\x41\\u00e9"', "'it''s'", '|\n  literal\n', '>\n  folded\n  text\n', '[1, yes, ~]', '{a: 1, b: on}',
  '&a [1]', '"ümlaut ☃"', 'a: b', '- x', '!unsafe "x"', '!vault x',
];

t('YAML values resolve as Ansible loader resolves them', async () => {
  const docs = SCALARS.map((s) => `v: ${s.replace(/\n/g, '\n  ')}\n`);
  const expected = await pythonBatch('yaml', docs);
  docs.forEach((doc, i) => {
    const exp = expected[i]!;
    let got: Tagged;
    try {
      got = tag(parsePyYaml(doc).value);
    } catch (err) {
      if (!(err instanceof PyYamlError)) throw err;
      got = { t: 'error' };
    }
    if (exp.t === 'error') assert.is(got.t, 'error', `yaml ${JSON.stringify(doc)}: ${exp.v}`);
    else assert.equal(got, exp, `yaml ${JSON.stringify(doc)}`);
  });
});

t('YAML structure: anchors, merge keys, duplicates, keys of every type', async () => {
  const docs = [
    'a: &x {p: 1, q: 2}\nb: {<<: *x, q: 3}\n',
    'a: &x {p: 1}\nb: &y {p: 2, r: 2}\nc: {<<: [*x, *y], s: 1}\n',
    'a: 1\na: 2\n',
    '1: a\ntrue: b\n1.0: c\n~: d\n',
    '? [1, 2]\n: x\n',
    'a: *undefined\n',
    '- 1\n- 2\n',
    '',
    '# only a comment\n',
    '--- 1\n--- 2\n',
    '{"json": [1, 2.0, "x"], "n": null}',
    'a: [1, [2, [3]]]\nb: {c: {d: {e: f}}}\n',
    'a: !!set {x, y}\n',
  ];
  const expected = await pythonBatch('yaml', docs);
  docs.forEach((doc, i) => {
    const exp = expected[i]!;
    let got: Tagged;
    try {
      got = tag(parsePyYaml(doc).value);
    } catch (err) {
      if (!(err instanceof PyYamlError)) throw err;
      got = { t: 'error' };
    }
    if (exp.t === 'error') assert.is(got.t, 'error', `yaml ${JSON.stringify(doc)}`);
    else if (doc.includes('!!set')) assert.equal(got, { t: 'dict', v: [[{ t: 'str', v: 'a' }, { t: 'set' }]] });
    else assert.equal(got, exp, `yaml ${JSON.stringify(doc)}`);
  });
});

t('json.loads: curated and random documents parse as Python parses them', async () => {
  const curated = ['1', '1.0', '-0', '-0.0', '1e3', '1E+3', '01', '.5', 'NaN', 'Infinity', '-Infinity', 'nan', '"a\\u00e9\\ud83d\\ude80"', '"\\ud800"', '"tab\there"', '[1, 2,]', '{"a": 1, "a": 2}', ' {"a" : [true, false, null]} ', '{"a": 1} x', '\ufeff1', '"\\x"', '[]', '{}'];
  const random = fuzz(3, 1000, ['1', '0', '.', 'e', '-', '+', '"', '[', ']', '{', '}', ',', ':', ' ', 'true', 'null', 'a', '\\'], 8);
  const inputs = [...curated, ...random];
  const expected = await pythonBatch('json', inputs);
  inputs.forEach((s, i) => {
    let got: Tagged;
    try {
      got = tag(parsePyJson(s).value);
    } catch {
      got = { t: 'error' };
    }
    assert.equal(got.t === 'error' ? 'error' : got, expected[i]!.t === 'error' ? 'error' : expected[i], `json ${JSON.stringify(s)}`);
  });
});

t('repr(float) is reproduced digit for digit', async () => {
  const r = rng(9);
  const floats = [0.1, 1e16, 1e15, 123456789012345680, 1e-4, 1e-5, 0.00012, 5e-324, 1.7976931348623157e308, 2 ** 53, 1.5, 100.25, -3.75e-10];
  for (let i = 0; i < 400; i++) floats.push((r() - 0.5) * 10 ** Math.floor(r() * 40 - 20));
  const expected = await pythonBatch<string>('repr', floats.map((f) => String(f)));
  floats.forEach((f, i) => assert.is(pyFloatRepr(f), expected[i], `repr ${f}`));
});

t('YAML scalars we write come back as the same string or number', async () => {
  const strings = ['plain', 'two words', 'yes', 'y', 'NO', 'on', 'null', '~', '', ' lead', 'trail ', '0123', '1e3', '1:30', '2001-12-14', '.inf', '=', '<<', '- x', 'a: b', 'a #b', '#c', '@at', '!bang', '&amp', '*star', '%pct', '`tick', '|pipe', '>gt', "'q'", '"dq"', 'back\\slash', 'tab\tnl\ncr\r', '\0\x07\x1b\x7f\x85\u2028\u2029\ufeff\ufffe', 'é日本🚀', '[x]', '{x}', 'a,b', '?q', ...fuzz(13, 300, ['a', '1', ' ', ':', '#', '-', '.', "'", '"', '\\', 'y', 'e', '~'], 6)];
  const numbers = [0, 1, -1, 42, 9007199254740991, 2 ** 60, 1e21, 1.5, -2.25, 0.1, 1e-7, 5e-324, 1e300, 1e16, -0, Infinity, -Infinity];
  const docs = [...strings.map((s) => `v: ${yamlStr(s)}\n`), ...numbers.map((n) => `v: ${yamlNumber(n)}\n`)];
  const back = await pythonBatch('yaml', docs);
  strings.forEach((s, i) => assert.equal(back[i], { t: 'dict', v: [[{ t: 'str', v: 'v' }, { t: 'str', v: s }]] }, `yaml string ${JSON.stringify(s)} as ${yamlStr(s)}`));
  numbers.forEach((n, j) => {
    const exp = Number.isSafeInteger(n) && !Object.is(n, -0) ? { t: 'int', v: String(n) } : { t: 'float', v: pyFloatRepr(n) };
    assert.equal(back[strings.length + j], { t: 'dict', v: [[{ t: 'str', v: 'v' }, exp]] }, `yaml number ${n} as ${yamlNumber(n)}`);
  });
  const json = await pythonBatch('json', [...numbers, NaN].map(jsonNumber));
  numbers.forEach((n, j) => assert.equal(json[j], Number.isSafeInteger(n) && !Object.is(n, -0) ? { t: 'int', v: String(n) } : { t: 'float', v: pyFloatRepr(n) }, `json number ${n}`));
  assert.equal(json[numbers.length], { t: 'float', v: 'nan' });
});

t('a dict keeps the first of equal keys and the last value, as Python does', () => {
  const d = new PyDict();
  d.set(1n, 'a');
  d.set(true, 'b');
  d.set(1.0, 'c');
  d.set('1', 'd');
  assert.equal(d.entries(), [
    [1n, 'c'],
    ['1', 'd'],
  ]);
});

t.run();

/** A model value in the oracle's encoding, ints and floats told apart as the writers tell them. */
function tagVar(v: VarValue): Tagged {
  if (v === null) return { t: 'none' };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? { t: 'int', v: String(v) } : { t: 'float', v: pyFloatRepr(v) };
  if (typeof v === 'string') return { t: 'str', v };
  if (Array.isArray(v)) return { t: 'list', v: v.map(tagVar) };
  return { t: 'dict', v: Object.entries(v).map(([k, x]) => [{ t: 'str', v: k }, tagVar(x)] as [Tagged, Tagged]) };
}
