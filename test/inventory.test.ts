/**
 * readInventory on fixtures, checked field by field; bad inventories give an InputError naming
 * the file and line (and real Ansible refuses them too); the writers refuse labs Ansible could not
 * read back as declared.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { InputError } from '../lib/errors.js';
import { formatInventory, readInventory, toIni, toJson, toYaml } from '../lib/inventory/index.js';
import { WholeFloat, type Host, type Lab } from '../lib/model/index.js';
import { ansibleList, IntegralFloat, oracleEnv } from './inventory-oracle.js';

const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'inventory');
const fixture = (f: string) => path.join(FIXTURES, f);
const host = (lab: Lab, name: string): Host => {
  const h = lab.hosts.find((x) => x.name === name);
  assert.ok(h, `host ${name}`);
  return h!;
};

const read = suite('readInventory');

read('INI: ranges, children before their groups, ports, group and all vars', async () => {
  const lab = await readInventory(fixture('ini-basic/hosts.ini'));
  assert.is(lab.provider, 'static');
  assert.equal(lab.groups.map((g) => g.name), ['overcloud', 'controller', 'compute', 'storage', 'web-servers', 'empty', 'monitoring']);
  assert.equal(lab.groups[0], { name: 'overcloud', children: ['controller', 'compute', 'storage'], vars: {} });
  assert.equal(lab.groups.find((g) => g.name === 'empty'), { name: 'empty', children: [], vars: {} });
  assert.equal(lab.groups.find((g) => g.name === 'compute')!.vars, { nova_cpu: 4, ratio: 1.5 });
  assert.equal(lab.groups.find((g) => g.name === 'monitoring'), { name: 'monitoring', children: ['web-servers'], vars: { scrape_interval: 30 } });
  assert.equal(lab.vars, { ntp_server: 'pool.ntp.org', dns_servers: ['192.0.2.53', '192.0.2.54'] });
  assert.equal(lab.hosts.slice(0, 5).map((h) => h.name), ['bastion', 'jump', 'controller-0', 'controller-1', 'controller-2']);
  assert.equal(
    lab.hosts.filter((h) => h.groups.includes('compute')).map((h) => h.name),
    ['compute-01', 'compute-04', 'compute-07', 'compute-10', 'node1-racka', 'node1-rackb', 'node2-racka', 'node2-rackb', '2001:db8::1', '10.0.0.1', '10.0.0.2', '10.0.0.3'],
  );
  assert.equal(lab.hosts.filter((h) => h.groups.includes('storage')).map((h) => h.name), ['ceph-a', 'ceph-b', 'ceph-c']);
  assert.equal(host(lab, 'bastion'), { name: 'bastion', groups: [], vars: { ansible_host: '192.0.2.10', ansible_user: 'admin' }, address: '192.0.2.10', user: 'admin' });
  assert.equal(host(lab, 'jump'), { name: 'jump', groups: [], vars: { ansible_port: 2200 }, port: 2200 });
  assert.equal(host(lab, '2001:db8::1').port, 2222);
  assert.equal(host(lab, 'compute-01').vars, { nova_cpu: 2 });
  assert.equal(host(lab, 'controller-0').groups, ['controller', 'monitoring']);
  assert.equal(host(lab, 'controller-0').user, 'heat-admin');
});

read('INI: host-line values are typed after shlex, [group:vars] values as written', async () => {
  const lab = await readInventory(fixture('ini-literals/hosts.ini'));
  const v = (h: string) => host(lab, h).vars;
  assert.equal(v('ints'), { i1: 42, i2: -7, i3: 31, i4: 15, i5: 5, i6: 1000000, i7: 5, i8: -3, i9: 0, i10: 9007199254740991 });
  assert.equal(v('bools'), { b1: true, b2: false, b3: null, b4: 'true', b5: 'yes', b6: 'null', b7: '~', b8: 'none' });
  assert.equal(v('strings').s1, '0123');
  assert.equal(v('strings').s2, '0123');
  assert.equal(v('strings').s8, '');
  assert.equal(v('floats').f6, Infinity);
  assert.ok(Object.is(v('floats').f8, -0));
  assert.equal(v('escapes').e3, 'Aé😀A');
  assert.equal(v('weird').w4, [1, 2]);
  assert.equal(v('weird').w1, "f'fstr'");
  assert.equal(v('nested').n2, { a: { b: [1, 2] }, c: 'd', '1': 'dup of 1', '2.5': 'float key', null: 'none key' });
  const g = lab.groups.find((x) => x.name === 'literal_group')!.vars;
  assert.equal(g.g_str, '1');
  assert.equal(g.g_int, 1);
  assert.equal(g.g_str2, 'abc');
  assert.equal(g.g_text, 'foo # but this stays text, comment and all');
  assert.equal(g.g_tuple, [1, 2]);
  assert.equal(g.g_bytes, 'été');
});

read('YAML: nested groups, YAML 1.1 values, ranges and ports in host keys', async () => {
  const lab = await readInventory(fixture('yaml-nested/hosts.yml'));
  assert.equal(lab.groups.map((g) => g.name), ['overcloud', 'controller', 'compute', 'storage', 'monitoring', 'empty_group', 'web-servers', 'top_level_group']);
  const vars = lab.vars;
  assert.equal([vars.yes_bool, vars.off_bool, vars.octal, vars.not_a_float, vars.sexagesimal, vars.y_is_text], [true, false, 83, '1e3', 90, 'y']);
  assert.equal([vars.date, vars.stamp, vars.empty, vars.dup], ['2001-12-14', '2001-12-14T21:59:43.100000-05:00', null, 'second']);
  assert.equal(vars.merged, { retries: 3, timeout: 60 });
  assert.equal(host(lab, 'bastion'), { name: 'bastion', groups: ['top_level_group'], vars: { ansible_host: '192.0.2.10', ansible_port: 2222, ansible_user: 'admin' }, address: '192.0.2.10', port: 2222, user: 'admin' });
  assert.equal(host(lab, 'web-b.example.org'), { name: 'web-b.example.org', groups: ['monitoring'], vars: { ansible_port: 8080 }, port: 8080 });
  assert.equal(lab.hosts.filter((h) => h.groups.includes('compute')).map((h) => h.name), ['compute-01', 'compute-03', 'compute-extra']);
  assert.equal(host(lab, 'compute-extra').vars, { nova_cpu: 8 });
  assert.equal(host(lab, 'lonely').groups, []);
  assert.equal(lab.groups.find((g) => g.name === 'monitoring')!.children, ['compute']);
});

read('host_vars and group_vars: files and directories merged as Ansible merges them', async () => {
  const lab = await readInventory(fixture('vars-dirs/hosts.ini'));
  const web1 = host(lab, 'web-1');
  assert.equal(web1.vars.inline, 'from_host_vars', 'a host_vars file beats the inventory line');
  assert.equal([web1.vars.host_list, web1.vars.nested_dir, web1.vars.no_extension], [[1, 'two'], true, 1]);
  assert.is(web1.vars.ntp_server, 'all.ntp', "group_vars/all beats [web:vars]: Ansible's value kept on the host");
  const web = lab.groups.find((g) => g.name === 'web')!.vars;
  assert.equal(web, { ntp_server: 'web.ntp', shared: 'from_web_file', http_port: 8081, web_list: ['a', 'b'] });
  assert.ok(!('ignored' in web), 'hidden, backup and .txt files are skipped');
  assert.equal(lab.groups.find((g) => g.name === 'db')!.vars, { db_engine: 'postgres', db_opts: { max_connections: 100, ssl: false }, ratio: 0.75 });
  assert.equal(lab.groups.find((g) => g.name === 'dc1')!.vars, { datacenter: 'dc1', shared: 'from_dc1_file' });
  assert.equal(lab.vars, { ntp_server: 'all.ntp', everyone: true });
  const db1 = host(lab, 'db-1');
  assert.equal([db1.address, db1.port], ['127.0.0.5', 6543]);
  assert.equal(host(lab, 'lonely').vars, { ug_inline: 2, ug_file: true, lonely_var: 'x' });
});

read('an aborted signal stops reading', async () => {
  const ctl = new AbortController();
  ctl.abort(new Error('stop'));
  const err = await readInventory(fixture('ini-basic/hosts.ini'), { signal: ctl.signal }).catch((e: unknown) => e);
  assert.instance(err, Error);
  assert.is((err as Error).message, 'stop');
});

const bad = suite('bad inventories');

/** Whether the real ansible-inventory refuses the file too. */
function ansibleRefuses(file: string): Promise<boolean> {
  return new Promise((resolve) => execFile('ansible-inventory', ['-i', file, '--list'], { env: oracleEnv() }, (err) => resolve(!!err)));
}

const BAD: Array<[file: string, line: number, message: RegExp]> = [
  ['range-no-end.ini', 3, /host range must specify end value/],
  ['range-unequal.ini', 2, /equal-length begin and end/],
  ['range-bounds.ini', 3, /begin:end or begin:end:step/],
  ['range-reversed.ini', 2, /begin <= end/],
  ['children-missing.ini', 2, /\[parent:children\] includes undefined group: web/],
  ['vars-undefined.ini', 2, /\[web:vars\] not valid for undefined group: web/],
  ['section-type.ini', 3, /unknown type: bogus/],
  ['section-space.ini', 1, /Invalid section entry/],
  ['host-no-equals.ini', 2, /Expected key=value host variable assignment, got: novalue/],
  ['host-unclosed.ini', 2, /No closing quotation/],
  ['vars-no-equals.ini', 4, /Expected key=value, got: justakey/],
  ['host-colon.ini', 2, /ending in ':' is not allowed/],
  ['children-loop.ini', 4, /recursive dependency loop/],
  ['value-set.ini', 2, /a set cannot be kept/],
  ['yaml-hosts-list.yml', 2, /Invalid "hosts" entry for "all" group/],
  ['yaml-range.yml', 3, /host range must specify end value/],
  ['yaml-syntax.yml', 3, /not valid YAML/],
];
const limit = pLimit(3);
const refusals = new Map(BAD.map(([f]) => [f, limit(() => ansibleRefuses(fixture(`bad/${f}`)))]));

for (const [file, line, message] of BAD) {
  bad(`${file}: InputError at line ${line}, and Ansible refuses it too`, async () => {
    const full = fixture(`bad/${file}`);
    const err = await readInventory(full).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(err, InputError);
    const e = err as InputError;
    assert.is(e.exitCode, 2);
    assert.is(e.problems[0]!.file, full);
    assert.is(e.problems[0]!.line, line);
    assert.match(e.problems[0]!.message, message);
    assert.ok(e.message.startsWith(`${full}:${line}: `), e.message);
    assert.ok(await refusals.get(file), 'ansible-inventory refuses it too');
  });
}

/** Writes `text` to a fresh temp file named for its format (removed at exit). */
async function writeTemp(text: string, format: 'ini' | 'yaml' | 'json'): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inventory-test-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, `hosts.${format === 'yaml' ? 'yml' : format}`);
  await writeFile(file, text);
  return file;
}

bad('a float with a whole-number value stays a float (2.0), as ansible-inventory reads it, and is written back as one', async () => {
  for (const file of ['whole-floats/hosts.ini', 'whole-floats/hosts.yml']) {
    const lab = await readInventory(fixture(file));
    const oracle = await ansibleList(fixture(file));
    for (const h of lab.hosts) {
      const seen = oracle._meta.hostvars[h.name];
      for (const [k, v] of Object.entries(h.vars)) {
        const want = seen[k];
        if (want instanceof IntegralFloat) assert.equal(v, new WholeFloat(want.value), `${file} ${h.name}.${k}`);
        else assert.equal(v, want, `${file} ${h.name}.${k}`);
      }
    }
    assert.ok(Object.values(oracle._meta.hostvars).some((hv) => Object.values(hv as object).some((v) => v instanceof IntegralFloat)), 'the fixture has whole-number floats');
    for (const format of ['ini', 'yaml', 'json'] as const) {
      const again = await readInventory(await writeTemp(formatInventory(lab, format), format));
      assert.equal(again.hosts.map((h) => h.vars), lab.hosts.map((h) => h.vars), `${file} written as ${format} and read back`);
    }
  }
});

bad('an !unsafe value is refused with its line: the model has no unsafe strings', async () => {
  const err = await readInventory(fixture('bad/yaml-unsafe.yml')).catch((e: unknown) => e);
  assert.instance(err, InputError);
  assert.is((err as InputError).problems[0]!.line, 4);
  assert.match((err as InputError).message, /secret: an !unsafe value cannot be kept as an inventory var: the lab model has no unsafe/);
});

bad('a missing file and a directory are InputErrors naming them', async () => {
  const missing = fixture('no/such.ini');
  const e1 = await readInventory(missing).catch((e: unknown) => e);
  assert.instance(e1, InputError);
  assert.match((e1 as InputError).message, /no such file/);
  const e2 = await readInventory(FIXTURES).catch((e: unknown) => e);
  assert.instance(e2, InputError);
  assert.match((e2 as InputError).message, /is a directory/);
});

const write = suite('writing refuses what Ansible could not read back');

const base = (over: Partial<Lab>): Lab => ({ provider: 'local', hosts: [], groups: [], vars: {}, ...over });
const h = (name: string, groups: string[] = [], vars: Host['vars'] = {}): Host => ({ name, groups, vars });

write('every format: duplicates, loops, implicit groups declared, host names Ansible would split', () => {
  const cases: Array<[Lab, RegExp]> = [
    [base({ hosts: [h('a'), h('a')] }), /host 'a' is declared twice/],
    [base({ groups: [{ name: 'g', children: [], vars: {} }, { name: 'g', children: [], vars: {} }] }), /group 'g' is declared twice/],
    [base({ groups: [{ name: 'all', children: [], vars: {} }] }), /implicit group 'all'/],
    [base({ groups: [{ name: 'a', children: ['b'], vars: {} }, { name: 'b', children: ['a'], vars: {} }] }), /form a loop/],
    [base({ groups: [{ name: 'a', children: ['a'], vars: {} }] }), /names itself/],
    [base({ groups: [{ name: 'a', children: ['ungrouped'], vars: {} }] }), /implicit group 'ungrouped'/],
    [base({ hosts: [h('web[1:2]')] }), /starts a range/],
    [base({ hosts: [h('web:22')] }), /host 'web' with port 22/],
    [base({ hosts: [h('')] }), /cannot be empty/],
  ];
  for (const [lab, message] of cases) {
    for (const fn of [toIni, toYaml, toJson]) {
      assert.throws(() => fn(lab), (e: unknown) => e instanceof InputError && message.test(e.message), `${fn.name}: ${message}`);
    }
  }
});

write('INI: group names, var names and NaN it cannot hold, with a hint to use yaml or json', () => {
  const cases: Array<[Lab, RegExp]> = [
    [base({ groups: [{ name: 'a:b', children: [], vars: {} }] }), /group name 'a:b'/],
    [base({ groups: [{ name: 'has space', children: [], vars: {} }] }), /group name 'has space'/],
    [base({ vars: { '#x': 1 } }), /var '#x' of all/],
    [base({ vars: { 'a=b': 1 } }), /var 'a=b' of all/],
    [base({ vars: { ' pad': 1 } }), /var ' pad' of all/],
    [base({ hosts: [h('x', [], { 'k=v': 1 })] }), /var named 'k=v'/],
    [base({ hosts: [h('x', [], { n: NaN })] }), /NaN has no Python literal/],
    [base({ hosts: [h('x:')] }), /ends in ':'/],
  ];
  for (const [lab, message] of cases) {
    assert.throws(() => toIni(lab), (e: unknown) => e instanceof InputError && message.test(e.message) && /yaml or json/.test(e.message), String(message));
  }
  // YAML and JSON take all of these but the impossible host name
  assert.match(toYaml(base({ vars: { '#x': 1, z: NaN } })), /"#x": 1\n {4}z: \.nan/);
  assert.match(toJson(base({ vars: { n: NaN } })), /"n": NaN/);
});

write('formatInventory picks the writer; JSON output is JSON; an empty lab is a valid inventory', () => {
  const lab = base({ hosts: [h('a', ['g'], { x: 1 })], groups: [{ name: 'g', children: [], vars: {} }] });
  assert.is(formatInventory(lab, 'ini'), toIni(lab));
  assert.is(formatInventory(lab, 'yaml'), toYaml(lab));
  assert.equal(JSON.parse(formatInventory(lab, 'json')), { all: { hosts: { a: { x: 1 } }, children: { g: { hosts: { a: null } } } } });
  assert.is(toIni(base({})), '');
  assert.is(toYaml(base({})), 'all:\n');
  assert.equal(JSON.parse(toJson(base({}))), { all: null });
});

read.run();
bad.run();
write.run();
