/**
 * Round trips judged by the real `ansible-inventory --list`: each fixture inventory is read, written
 * as INI, YAML and JSON, and Ansible must read from each written file exactly what it reads from
 * the source (host vars with their types, groups, children, group vars). A lab built in code must
 * read back as declared. All Ansible calls start at once, a few at a time, and tests await them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { formatInventory, readInventory, type InventoryFormat } from '../lib/inventory/index.js';
import { WholeFloat, type Lab, type VarValue, type Vars } from '../lib/model/index.js';
import { ansibleList, IntegralFloat, normalizeList, type InventoryList } from './inventory-oracle.js';

const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'inventory');
const OUT = mkdtempSync(path.join(os.tmpdir(), 'inventory-io-'));
const FORMATS: InventoryFormat[] = ['ini', 'yaml', 'json'];
const EXT: Record<InventoryFormat, string> = { ini: 'ini', yaml: 'yml', json: 'json' };
const limit = pLimit(Math.max(2, os.availableParallelism()) + 1);
const cache = new Map<string, Promise<InventoryList>>();

type Mode = 'list' | 'export';
function oracle(file: string, mode: Mode): Promise<InventoryList> {
  const key = `${mode}:${file}`;
  let p = cache.get(key);
  if (!p) {
    p = limit(() => ansibleList(file, { export: mode === 'export' }));
    p.catch(() => {}); // awaited by its test; do not let an early failure go unhandled
    cache.set(key, p);
  }
  return p;
}

interface Case {
  /** The inventory, under test/fixtures/inventory. */
  file: string;
  /**
   * `export` also compares group vars group by group; not for host_vars/group_vars fixtures,
   * whose files a lab keeps merged into the vars of their host or group.
   */
  modes: Mode[];
  /** Drop from `all.children` the groups that also have another parent (display only; see normalizeList). */
  normalize?: boolean;
}

const CASES: Case[] = [
  { file: 'ini-basic/hosts.ini', modes: ['list', 'export'] },
  { file: 'ini-literals/hosts.ini', modes: ['list', 'export'] },
  { file: 'yaml-nested/hosts.yml', modes: ['list', 'export'] },
  { file: 'yaml-names/hosts.yaml', modes: ['list', 'export'] },
  { file: 'json/hosts.json', modes: ['list', 'export'], normalize: true },
  { file: 'vars-dirs/hosts.ini', modes: ['list'] },
  { file: 'no-extension-ini/hosts', modes: ['list', 'export'] },
  { file: 'no-extension-yaml/hosts', modes: ['list', 'export'] },
  { file: 'ini-named-yml/hosts.yml', modes: ['list', 'export'] },
];

/** Writes `lab` in every format under OUT; returns the files by format. */
function writeAll(lab: Lab, name: string): Record<InventoryFormat, string> {
  const files = {} as Record<InventoryFormat, string>;
  for (const format of FORMATS) {
    const file = path.join(OUT, `${name}.${EXT[format]}`);
    writeFileSync(file, formatInventory(lab, format));
    files[format] = file;
  }
  return files;
}

// read and write every fixture now, and start every Ansible call, so they run while tests wait
const prepared = CASES.map(async (c) => {
  const source = path.join(FIXTURES, c.file);
  for (const mode of c.modes) void oracle(source, mode);
  const lab = await readInventory(source);
  const files = writeAll(lab, c.file.replace(/[/.]/g, '_'));
  for (const mode of c.modes) for (const format of FORMATS) void oracle(files[format], mode);
  return { source, files, lab };
});
prepared.forEach((p) => p.catch(() => {}));

const io = suite('inventories round-trip through ansible-inventory');

CASES.forEach((c, i) => {
  io(`${c.file}: ansible-inventory reads the same from our INI, YAML and JSON as from the source`, async () => {
    const { source, files } = await prepared[i]!;
    for (const mode of c.modes) {
      const norm = c.normalize ? normalizeList : (x: InventoryList) => x;
      const expected = norm(await oracle(source, mode));
      assert.ok(Object.keys(expected._meta.hostvars).length > 0 || Object.keys(expected).length > 2, 'the source has content');
      for (const format of FORMATS) {
        assert.equal(norm(await oracle(files[format], mode)), expected, `${format}, ${mode === 'export' ? '--list --export' : '--list'}`);
      }
    }
  });
});

/** A lab as a scenario declares it: connection fields, nested groups, vars of every type. */
const DECLARED: Lab = {
  provider: 'local',
  vars: { release: '1.0', harness: { version: 1, features: ['checkpoints', 'junit'] }, '0123': 'numeric-looking key' },
  hosts: [
    {
      name: 'undercloud-0',
      address: '127.0.0.2',
      port: 2222,
      user: 'root',
      groups: ['undercloud'],
      vars: {
        ansible_host: 'overridden by address',
        root_dir: '/tmp/lab/undercloud-0',
        int: 7,
        negative: -3,
        float: 1.5,
        whole_float: new WholeFloat(2),
        whole_floats: [new WholeFloat(0), new WholeFloat(-7), { v: new WholeFloat(1000) }],
        tiny: 5e-324,
        huge_float: 2 ** 60,
        infinite: Infinity,
        negative_zero: -0,
        yes: true,
        no: false,
        nothing: null,
        empty: '',
        zero_padded: '0123',
        exp: '1e3',
        truthy: 'true',
        nully: 'null',
        yes_text: 'yes',
        tilde: '~',
        spaces: '  padded  ',
        quotes: `it's "quoted"`,
        hash: '#not a comment',
        equals: 'a=b',
        unicode: 'Grüße ☃ 🚀 日本',
        control: 'tab\tnewline\ncr\r\0bell\x07',
        separators: 'line\u2028para\u2029next\x85',
        list: [1, 'two', [3.5, null, [true]], {}],
        dict: { a: { b: [1, { c: 'd' }] }, 'key with space': 'v', '': 'empty key' },
        empty_list: [],
        empty_dict: {},
      },
    },
    { name: 'controller-0', groups: ['overcloud', 'controller'], vars: { role: 'controller' } },
    { name: 'compute-0', address: '127.0.0.3', groups: ['overcloud', 'compute', 'implicit_only'], vars: { nova_cpu: 2 } },
    { name: 'compute-1', address: '127.0.0.4', groups: ['compute'], vars: {} },
    { name: 'lonely', groups: [], vars: { alone: true } },
  ],
  groups: [
    { name: 'undercloud', children: [], vars: {} },
    { name: 'overcloud', children: ['controller', 'compute'], vars: { overcloud_network: '192.0.2.0/24' } },
    { name: 'controller', children: [], vars: {} },
    { name: 'compute', children: ['cells'], vars: { nova_cpu: 1, ratio: 0.75 } },
    { name: 'cells', children: [], vars: { cell: 'cell1' } },
    { name: 'empty', children: [], vars: {} },
  ],
};

/** A model value as the oracle returns it: floats with an integral value are IntegralFloat. */
function asOracle(v: VarValue): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? v : Number.isInteger(v) ? new IntegralFloat(v) : v;
  if (v instanceof WholeFloat) return new IntegralFloat(v.value);
  if (Array.isArray(v)) return v.map(asOracle);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asOracle(x)]));
  return v;
}

/** What `ansible-inventory --list --export` should print for DECLARED, written out by hand from the declaration. */
function expectedExport(): InventoryList {
  const vars = (v: Vars) => asOracle(v) as Vars;
  const hostvars: Record<string, unknown> = {};
  for (const h of DECLARED.hosts) {
    const own: Vars = {};
    if (h.address !== undefined) own.ansible_host = h.address;
    if (h.port !== undefined) own.ansible_port = h.port;
    if (h.user !== undefined) own.ansible_user = h.user;
    for (const [k, v] of Object.entries(h.vars)) if (!(k in own)) own[k] = v;
    if (Object.keys(own).length) hostvars[h.name] = vars(own);
  }
  return {
    _meta: { hostvars },
    all: { children: ['ungrouped', 'undercloud', 'overcloud', 'empty', 'implicit_only'], vars: vars(DECLARED.vars) },
    ungrouped: { hosts: ['lonely'] },
    undercloud: { hosts: ['undercloud-0'] },
    overcloud: { children: ['controller', 'compute'], hosts: ['controller-0', 'compute-0'], vars: vars(DECLARED.groups[1]!.vars) },
    controller: { hosts: ['controller-0'] },
    compute: { children: ['cells'], hosts: ['compute-0', 'compute-1'], vars: vars(DECLARED.groups[3]!.vars) },
    cells: { vars: { cell: 'cell1' } },
    implicit_only: { hosts: ['compute-0'] },
  };
}

const declaredFiles = writeAll(DECLARED, 'declared');
for (const format of FORMATS) void oracle(declaredFiles[format], 'export');

io('a lab declared in code reads back in ansible-inventory as declared, from INI, YAML and JSON', async () => {
  const expected = expectedExport();
  for (const format of FORMATS) assert.equal(await oracle(declaredFiles[format], 'export'), expected, format);
});

io('a lab read back from what we wrote is the lab we wrote (groups, hosts, vars, order)', async () => {
  for (const format of FORMATS) {
    const lab = await readInventory(declaredFiles[format]);
    assert.equal(lab.provider, 'static');
    assert.equal(lab.hosts.map((h) => h.name), DECLARED.hosts.map((h) => h.name), `${format}: host order`);
    assert.equal(lab.groups.map((g) => g.name), ['undercloud', 'overcloud', 'controller', 'compute', 'cells', 'empty', 'implicit_only'], `${format}: group order`);
    const u = lab.hosts[0]!;
    assert.equal([u.address, u.port, u.user], ['127.0.0.2', 2222, 'root'], `${format}: connection`);
    assert.equal(u.vars.control, 'tab\tnewline\ncr\r\0bell\x07', format);
    assert.equal(u.vars.dict, DECLARED.hosts[0]!.vars.dict, format);
    assert.ok(Object.is(u.vars.negative_zero, -0), `${format}: -0.0 stays a float`);
    assert.equal(lab.hosts[2]!.groups, ['overcloud', 'compute', 'implicit_only'], format);
    assert.equal(lab.groups.find((g) => g.name === 'compute')!.children, ['cells'], format);
    assert.equal(lab.vars, DECLARED.vars, format);
  }
});

io.after(() => rmSync(OUT, { recursive: true, force: true }));

io.run();
