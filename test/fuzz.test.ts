/**
 * Fuzzed inputs (fast-check): random and mutated documents for the scenario loader, the INI and
 * YAML inventory readers, the change queue's changes file, the `command` lab provider's JSON and
 * the bundle extractor. Each may only fail with its documented error (InputError with file:line
 * for text inputs; LabError for a lab script's output) and never writes outside its target. The
 * inventory writers' output must read back equal through `ansible-inventory` on a small sample.
 * Bounded (a few hundred cases in all); the seed is printed, `FUZZ_SEED=N` replays it,
 * `FUZZ_RUNS=N` multiplies the case counts. Shrunk counterexamples are kept below as named
 * regression tests with their input inline.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { dump } from 'js-yaml';
import { InputError, LabError } from '../lib/errors.js';
import { loadScenario } from '../lib/scenario/index.js';
import { formatInventory, readInventory, type InventoryFormat } from '../lib/inventory/index.js';
import { loadChanges } from '../lib/queue/changes.js';
import { parseAllocateOutput } from '../lib/lab/command/index.js';
import { extractBundle } from '../lib/bundle/extract.js';
import type { Lab, VarValue, Vars } from '../lib/model/index.js';
import { ENGINE_FIXTURES } from './helpers/scenario.js';
import { ansibleList } from './inventory-oracle.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 1;
console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} node scripts/test.mjs '(^|/)fuzz\\.test\\.js$')`);
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)), endOnFailure: true });

const test = suite('fuzzed inputs');
let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'harness-fuzz-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function writeInput(name: string, text: string | Uint8Array): Promise<string> {
  const sub = path.join(dir, `case-${n++}`);
  await mkdir(sub);
  const f = path.join(sub, name);
  await writeFile(f, text);
  return f;
}

/** The error is an InputError naming `file`, each problem with a line (text inputs point at where). */
function assertInputError(err: unknown, file: string, input: string): void {
  if (!(err instanceof InputError)) throw new Error(`not an InputError but ${(err as Error)?.name}: ${(err as Error)?.stack ?? err}\ninput: ${JSON.stringify(input)}`);
  assert.ok(err.message.length > 0);
  if (err.problems.length === 0) throw new Error(`an InputError without a file:line problem: ${err.message}\ninput: ${JSON.stringify(input)}`);
  for (const p of err.problems) {
    if (path.resolve(p.file) !== path.resolve(file) || p.line === undefined || !(p.line >= 1))
      throw new Error(`a problem without ${file}:line: ${JSON.stringify(p)}\ninput: ${JSON.stringify(input)}`);
  }
}

// ---- mutations of a valid text document -------------------------------------------------

const SPECIAL = [':', ' ', '\n', '-', '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', "'", '"', '#', '%', '@', '\t', '=', '?', '<<', '\0', '\r', '\u2028', '\ufeff', '\\', '..', '/'];
type Mutation = { at: number; del: number; ins: string } | { dupLine: number } | { dropLine: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(), del: fc.nat({ max: 8 }), ins: fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 4 })) }),
  fc.record({ dupLine: fc.nat() }),
  fc.record({ dropLine: fc.nat() }),
);
function mutate(text: string, ms: Mutation[]): string {
  let t = text;
  for (const m of ms) {
    if ('at' in m) {
      const at = m.at % (t.length + 1);
      t = t.slice(0, at) + m.ins + t.slice(at + m.del);
    } else {
      const lines = t.split('\n');
      const i = ('dupLine' in m ? m.dupLine : m.dropLine) % lines.length;
      if ('dupLine' in m) lines.splice(i, 0, lines[i]!);
      else lines.splice(i, 1);
      t = lines.join('\n');
    }
  }
  return t;
}
const mutated = (base: string) => fc.array(mutation, { minLength: 1, maxLength: 5 }).map((ms) => mutate(base, ms));
/** Random YAML documents: any JSON-ish value dumped, or a valid document's shape with random leaves. */
const randomYaml = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => dump(v)),
  fc.string({ maxLength: 200 }),
  fc.array(fc.constantFrom(...SPECIAL, 'a', 'b', '1', 'true', 'null', '~'), { maxLength: 60 }).map((a) => a.join('')),
);

// ---- the scenario loader ------------------------------------------------------------------

const SCENARIO = `name: fuzz
lab:
  provider: local
  hosts:
    web-0: { groups: [web] }
    db-0: {}
  groups:
    all_web: { children: [web] }
vars: { release: "1.0", n: 2 }
secrets:
  token: { env: FUZZ_TOKEN }
stages:
  - name: build
    run: [echo, hi]
    inputs: ["*.yml"]
    outputs: ["out/*"]
    timeout: 1m
  - name: base
    playbook: ${ENGINE_FIXTURES}/ok.yml
    checkpoint: true
  - name: branch
    playbook: ${ENGINE_FIXTURES}/ok.yml
    hosts: [web]
    retries: 1
  - name: other
    extends: base
    playbook: ${ENGINE_FIXTURES}/ok.yml
    cancelled_by: branch
  - name: teardown
    playbook: ${ENGINE_FIXTURES}/ok.yml
    always: true
variants:
  from: branch
  matrix: { tls: [on, off] }
`;

async function loadsOrInputError(text: string): Promise<void> {
  const f = await writeInput('scenario.yml', text);
  try {
    await loadScenario(f);
  } catch (err) {
    assertInputError(err, f, text);
  }
}

test('the base scenario of the fuzzing loads', async () => {
  const f = await writeInput('scenario.yml', SCENARIO);
  const s = await loadScenario(f);
  assert.is(s.name, 'fuzz');
});

test('scenario loader: mutated and random documents load or fail with an InputError at file:line', async () => {
  await fc.assert(fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: mutated(SCENARIO) }, { weight: 1, arbitrary: randomYaml }), loadsOrInputError), params(120));
});

// ---- the inventory readers ----------------------------------------------------------------

const INI = `# fuzz
bastion ansible_host=192.0.2.10 ansible_user=admin
jump:2200

[overcloud:children]
controller
compute

[controller]
controller-[0:2] ansible_user=heat-admin

[compute]
compute-[01:10:3] nova_cpu=2
[2001:db8::1]:2222

[compute:vars]
ratio=0.5
flag=True
list=[1, 'two']
`;
const YAML_INV = `all:
  vars: { release: "1.0", yes_bool: yes, octal: 0123 }
  children:
    web:
      hosts:
        web-[0:2]: { port: 80 }
        db.example.org:
      vars: &v { a: 1 }
    db:
      hosts: { db-0: *v }
      children: { web: }
`;

async function readsOrInputError(name: string, text: string | Uint8Array): Promise<void> {
  const f = await writeInput(name, text);
  try {
    await readInventory(f);
  } catch (err) {
    assertInputError(err, f, typeof text === 'string' ? text : Buffer.from(text).toString('latin1'));
  }
}

test('INI inventory reader: mutated and random files read or fail with an InputError at file:line', async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: mutated(INI) }, { weight: 1, arbitrary: randomYaml }), (t) => readsOrInputError('hosts.ini', t)),
    params(120),
  );
});

test('YAML inventory reader: mutated and random files read or fail with an InputError at file:line', async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: mutated(YAML_INV) }, { weight: 1, arbitrary: randomYaml }), (t) => readsOrInputError('hosts.yml', t)),
    params(120),
  );
});

test('inventory reader: random bytes (not UTF-8) read or fail with an InputError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('hosts.ini', 'hosts.yml', 'hosts'), (bytes, name) => readsOrInputError(name, bytes)),
    params(60),
  );
});

// ---- the changes file ---------------------------------------------------------------------

const CHANGES = `- id: pkg-1
  description: bump
  vars: { demo_version: "1.1" }
- id: role-2
  files:
    roles/demo/tasks/main.yml: "- debug: msg=v2\\n"
    other.yml: { from: other.yml }
  depends: [pkg-1]
`;

test('changes file: mutated and random documents load or fail with an InputError at file:line', async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: mutated(CHANGES) }, { weight: 1, arbitrary: randomYaml }), async (text) => {
      const f = await writeInput('changes.yml', text);
      await writeFile(path.join(path.dirname(f), 'other.yml'), '- x\n');
      try {
        await loadChanges(f);
      } catch (err) {
        assertInputError(err, f, text);
      }
    }),
    params(120),
  );
});

// ---- the command provider's JSON ----------------------------------------------------------

const ALLOCATE = JSON.stringify({ hosts: [{ name: 'web-0', address: '192.0.2.1', port: 22, user: 'root', groups: ['web'], vars: { a: 1 } }, { name: 'db-0', address: 'db.example.org' }] });

test('command provider: mutated and random allocate output parses or fails with a LabError naming the script', () => {
  fc.assert(
    fc.property(fc.oneof(mutated(ALLOCATE), fc.json({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ hosts: [v] })), fc.string()), (text) => {
      try {
        parseAllocateOutput(text, './allocate.sh');
      } catch (err) {
        if (!(err instanceof LabError)) throw new Error(`not a LabError: ${(err as Error)?.stack}\ninput: ${JSON.stringify(text)}`);
        assert.match(err.message, /\.\/allocate\.sh/);
      }
    }),
    params(300),
  );
});

// ---- the bundle extractor -----------------------------------------------------------------

interface TarEntry {
  name: string;
  type: '0' | '1' | '2' | '5' | '6' | '3';
  body?: string;
  link?: string;
}

/** A raw ustar archive: names as given (no sanitising, unlike the tar package's writer). */
function rawTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    const body = Buffer.from(e.type === '0' ? (e.body ?? '') : '');
    const put = (s: string, at: number, len: number) => Buffer.from(s).copy(h, at, 0, len);
    const name = Buffer.from(e.name);
    if (name.length > 100) {
      // split into prefix/name at a slash, as ustar does; else cut
      const s = e.name.lastIndexOf('/', 155);
      if (s > 0 && e.name.length - s - 1 <= 100) {
        put(e.name.slice(s + 1), 0, 100);
        put(e.name.slice(0, s), 345, 155);
      } else put(e.name, 0, 100);
    } else put(e.name, 0, 100);
    put(e.type === '5' ? '0000755\0' : '0000644\0', 100, 8);
    put('0000000\0', 108, 8);
    put('0000000\0', 116, 8);
    put(body.length.toString(8).padStart(11, '0') + '\0', 124, 12);
    put('14000000000\0', 136, 12);
    h.fill(0x20, 148, 156);
    put(e.type, 156, 1);
    put(e.link ?? '', 157, 100);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    let sum = 0;
    for (const b of h) sum += b;
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const segment = fc.constantFrom('run', 'journal.json', 'a', 'b', '..', '.', '', 'link', 'up', '/', 'etc', 'x y', '\\..', 'C:');
const entryPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const linkTarget = fc.oneof(entryPath, fc.constantFrom('/', '/etc', '/tmp', '../outside', '../../', '..', 'outside/../..'));
const tarEntry: fc.Arbitrary<TarEntry> = fc.oneof(
  fc.record({ name: entryPath, type: fc.constant('0' as const), body: fc.string({ maxLength: 20 }) }),
  fc.record({ name: entryPath, type: fc.constant('5' as const) }),
  fc.record({ name: entryPath, type: fc.constant('2' as const), link: linkTarget }),
  fc.record({ name: entryPath, type: fc.constantFrom('1' as const, '6' as const, '3' as const), link: linkTarget }),
);

/** Every path under `root` (lstat, links not followed). */
async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(p);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out.sort();
}

/** Extracts `bytes`; whatever happens, nothing outside `target` changed and each link in it stays inside. */
async function extractStaysInside(bytes: Buffer, describe: string): Promise<void> {
  const box = path.join(dir, `box-${n++}`);
  const outside = path.join(box, 'outside');
  const target = path.join(box, 'target');
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(outside, 'sentinel'), 'untouched');
  const bundle = path.join(box, 'bundle.tar.gz');
  await writeFile(bundle, bytes);
  const before = await listTree(box);
  try {
    await extractBundle(bundle, target);
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`not an InputError but ${(err as Error)?.name}: ${(err as Error)?.stack}\nbundle: ${describe}`);
  }
  const after = (await listTree(box)).filter((p) => p !== target && !p.startsWith(target + path.sep));
  assert.equal(after, before.filter((p) => p !== target && !p.startsWith(target + path.sep)), `nothing was written outside the target; bundle: ${describe}`);
  assert.is(await readFile(path.join(outside, 'sentinel'), 'utf8'), 'untouched');
  const realTarget = await realpath(target).catch(() => undefined);
  if (realTarget) {
    for (const p of await listTree(target)) {
      const st = await lstat(p);
      if (st.isSymbolicLink()) {
        const to = path.resolve(path.dirname(p), await readlink(p));
        if (to !== realTarget && !to.startsWith(realTarget + path.sep)) throw new Error(`a link leaves the target: ${p} -> ${to}; bundle: ${describe}`);
      } else if (!st.isFile() && !st.isDirectory()) throw new Error(`a ${st.mode.toString(8)} node was made: ${p}; bundle: ${describe}`);
    }
  }
  await rm(box, { recursive: true, force: true });
}

test('bundle extractor: random archives with .., absolute paths, links and odd types never write outside the target', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(tarEntry, { minLength: 1, maxLength: 6 }), async (entries) => {
      await extractStaysInside(gzipSync(rawTar(entries)), JSON.stringify(entries));
    }),
    params(150),
  );
});

test('bundle extractor: mutated archive bytes fail with an InputError or extract inside the target', async () => {
  const base = rawTar([
    { name: 'run/', type: '5' },
    { name: 'run/journal.json', type: '0', body: '{"status":"passed"}' },
    { name: 'run/link', type: '2', link: 'journal.json' },
  ]);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.record({ at: fc.nat({ max: base.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }), fc.boolean(), async (flips, gz) => {
      const b = Buffer.from(base);
      for (const f of flips) b[f.at] = f.byte;
      const bytes = gz ? gzipSync(b) : b;
      await extractStaysInside(bytes, JSON.stringify(flips));
    }),
    params(80),
  );
});

// The classic escapes, each named and fixed.
const ESCAPES: Array<[string, TarEntry[]]> = [
  ['a ../ path', [{ name: '../escaped', type: '0', body: 'x' }]],
  ['an absolute path', [{ name: '/tmp/harness-fuzz-absolute', type: '0', body: 'x' }]],
  ['a symlink to / then a file through it', [{ name: 'run/link', type: '2', link: '/' }, { name: 'run/link/tmp/harness-fuzz-through', type: '0', body: 'x' }]],
  ['a symlink up then a file through it', [{ name: 'run/', type: '5' }, { name: 'run/up', type: '2', link: '../..' }, { name: 'run/up/outside/new', type: '0', body: 'x' }]],
  ['a symlink replaced by a folder after a file', [{ name: 'run/a', type: '2', link: '../outside' }, { name: 'run/a/', type: '5' }, { name: 'run/a/sentinel', type: '0', body: 'overwritten' }]],
  ['a hard link to a file outside', [{ name: 'run/h', type: '1', link: '../outside/sentinel' }]],
  ['a FIFO', [{ name: 'run/fifo', type: '6' }]],
];
for (const [name, entries] of ESCAPES) {
  test(`bundle extractor regression: ${name} writes nothing outside the target`, async () => {
    await extractStaysInside(gzipSync(rawTar(entries)), name);
  });
}

// ---- counterexamples fast-check found (shrunk), kept as regression tests ----------------

test('regression: a YAML inventory that is one plain string (`UrW}\'kg~b`) is an InputError at file:1 for both plugins', async () => {
  const f = await writeInput('hosts.yml', "UrW}'kg~b\n");
  const err = await readInventory(f).then(() => undefined, (e: unknown) => e);
  assertInputError(err, f, '');
  assert.match((err as Error).message, /hosts\.yml:1: as YAML: .*should be a dictionary/);
});

test('regression: bytes that are not UTF-8 ([3, 3, 253]) as hosts.yml are an InputError at file:1', async () => {
  const f = await writeInput('hosts.yml', Uint8Array.from([3, 3, 253]));
  const err = await readInventory(f).then(() => undefined, (e: unknown) => e);
  assertInputError(err, f, '');
});

test('regression: a changes file `*/` (an alias without its anchor) is an InputError at file:1:1 naming the alias, not an alias bomb', async () => {
  const f = await writeInput('changes.yml', '*/');
  const err = await loadChanges(f).then(() => undefined, (e: unknown) => e);
  assertInputError(err, f, '*/');
  assert.match((err as Error).message, /changes\.yml:1:1: the alias \*\/ names no anchor set before it/);
  assert.not.match((err as Error).message, /bomb/);
});

test('regression: a scenario `lab: *nowhere` (an alias without its anchor) is an InputError at the alias (2:6), not an alias bomb', async () => {
  const f = await writeInput('scenario.yml', 'name: x\nlab: *nowhere\n');
  const err = await loadScenario(f).then(() => undefined, (e: unknown) => e);
  assertInputError(err, f, '');
  assert.match((err as Error).message, /scenario\.yml:2:6: YAML: the alias \*nowhere names no anchor set before it/);
  assert.not.match((err as Error).message, /bomb/);
});

// ---- the inventory writers through ansible-inventory --------------------------------------

const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const hostName = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/);
const scalar: fc.Arbitrary<VarValue> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('yes', 'no', 'null', '~', '0123', '1e3', 'True', '#x', 'a=b', "it's", ' lead', '[1]', '{a: 1}', '!tag', '%x', '@x'),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).filter((x) => !Number.isInteger(x)),
);
const value: fc.Arbitrary<VarValue> = fc.oneof({ depthSize: 'small', maxDepth: 2 }, scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(ident, scalar, { maxKeys: 3 }));
const vars: fc.Arbitrary<Vars> = fc.dictionary(ident.filter((k) => !k.startsWith('ansible_')), value, { maxKeys: 4 });
const lab: fc.Arbitrary<Lab> = fc
  .record({
    hostNames: fc.uniqueArray(hostName, { minLength: 1, maxLength: 4 }),
    groupNames: fc.uniqueArray(ident.map((g) => `g_${g}`), { maxLength: 3 }),
    hostVars: fc.array(vars, { minLength: 4, maxLength: 4 }),
    groupVars: fc.array(vars, { minLength: 3, maxLength: 3 }),
    membership: fc.array(fc.array(fc.nat({ max: 2 }), { maxLength: 2 }), { minLength: 4, maxLength: 4 }),
    allVars: vars,
  })
  .map((r) => ({
    provider: 'static' as const,
    vars: r.allVars,
    groups: r.groupNames.map((g, i) => ({ name: g, children: [], vars: r.groupVars[i]! })),
    hosts: r.hostNames.map((h, i) => ({ name: h, groups: [...new Set(r.membership[i]!.filter((g) => g < r.groupNames.length).map((g) => r.groupNames[g]!))], vars: r.hostVars[i]! })),
  }));

function ansibleAvailable(): Promise<boolean> {
  return new Promise((resolve) => execFile('ansible-inventory', ['--version'], (err) => resolve(!err)));
}

test('inventory writers: INI, YAML and JSON of random labs read back equal through ansible-inventory --list --export (a sample)', async () => {
  if (!(await ansibleAvailable())) throw new Error('ansible-inventory is needed for this test');
  const samples = fc.sample(lab, { seed: SEED, numRuns: Math.max(1, Math.round(3 * SCALE)) });
  const EXT: Record<InventoryFormat, string> = { ini: 'ini', yaml: 'yml', json: 'json' };
  for (const [i, l] of samples.entries()) {
    const lists = await Promise.all(
      (['ini', 'yaml', 'json'] as const).map(async (format) => {
        const f = await writeInput(`hosts.${EXT[format]}`, formatInventory(l, format));
        return { format, list: await ansibleList(f, { export: true }) };
      }),
    );
    const expectJson = JSON.stringify(lists[2]!.list);
    for (const { format, list } of lists) assert.is(JSON.stringify(list), expectJson, `sample ${i} (${format}) reads as the JSON does: ${JSON.stringify(l)}`);
    // the host vars are the lab's, values and types: our own reader of what Ansible printed agrees with the model
    const hostvars = (lists[2]!.list._meta?.hostvars ?? {}) as Record<string, Vars>;
    for (const h of l.hosts) {
      const got = JSON.parse(JSON.stringify(hostvars[h.name] ?? {}));
      assert.equal(got, JSON.parse(JSON.stringify(h.vars)), `sample ${i}: vars of ${h.name}: ${JSON.stringify(l)}`);
    }
    for (const g of l.groups) {
      const members = l.hosts.filter((h) => h.groups.includes(g.name)).map((h) => h.name);
      assert.equal(lists[2]!.list[g.name]?.hosts ?? [], members, `sample ${i}: hosts of ${g.name}`);
    }
  }
});

test.run();
