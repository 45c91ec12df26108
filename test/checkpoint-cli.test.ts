// `harness checkpoints list | prune | delete`, wired into yargs the way lib/cli/main.ts wires commands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yargs from 'yargs';
import checkpoints from '../lib/cli/commands/checkpoints.js';
import { reportError } from '../lib/cli/main.js';
import { InputError } from '../lib/errors.js';
import { openStore, parseSize, formatSize } from '../lib/checkpoint/index.js';
import { tempDir } from './helpers/cli.js';

const DAY = 86_400_000;

async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  let code = 0;
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), isTTY: false, env };
  const parser = yargs(argv)
    .strict()
    .exitProcess(false)
    .fail((msg, e) => {
      throw e ?? new InputError(msg);
    });
  parser.command(checkpoints.command, checkpoints.describe, checkpoints.builder, async (args) => {
    code = await checkpoints.run(args as Record<string, unknown>, io);
  });
  try {
    await parser.parseAsync();
  } catch (e) {
    code = reportError(e, io);
  }
  return { code, out, err };
}

async function withCache(fn: (env: NodeJS.ProcessEnv, root: string) => Promise<void>): Promise<void> {
  const t = await tempDir('harness-ckcli-');
  try {
    await fn({ XDG_CACHE_HOME: t.dir }, path.join(t.dir, 'ansible-harness', 'checkpoints'));
  } finally {
    await t.remove();
  }
}

async function seed(root: string): Promise<void> {
  const store = openStore(root);
  for (const [key, stage] of [
    ['aaaa000000', 'undercloud'],
    ['bbbb000000', 'overcloud'],
  ] as const) {
    const info = await store.save({ scenario: 'demo', stage, key, inputs: {}, published: {}, provider: 'local' }, (dir) => writeFile(path.join(dir, 'blob'), Buffer.alloc(5000)), { durable: false });
    if (stage === 'undercloud') await writeFile(path.join(info.dir, 'last-used'), new Date(Date.now() - 30 * DAY).toISOString());
  }
}

test('list shows a table of scenario, stage, key, size, age and last use', async () => {
  await withCache(async (env, root) => {
    const empty = await cli(['checkpoints', 'list'], env);
    assert.is(empty.code, 0);
    assert.is(empty.out, `no checkpoints in ${root}\n`);
    await seed(root);
    const r = await cli(['checkpoints', 'list'], env);
    assert.is(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^SCENARIO\s+STAGE\s+KEY\s+SIZE\s+AGE\s+LAST USED$/);
    assert.match(lines[1]!, /^demo\s+undercloud\s+aaaa000000\s+\d+(\.\d)?K\s+\d+s\s+30d ago$/);
    assert.match(lines[2]!, /^demo\s+overcloud\s+bbbb000000\s+\d+(\.\d)?K\s+\d+s\s+never$/);
    assert.is(lines[3], `2 checkpoints in ${root}`);
  });
});

test('list --json: version 1, one object per checkpoint (docs/cli-json.md)', async () => {
  await withCache(async (env, root) => {
    const empty = await cli(['checkpoints', 'list', '--json'], env);
    assert.equal(JSON.parse(empty.out), { version: 1, root, checkpoints: [] });
    await seed(root);
    const r = await cli(['checkpoints', 'list', '--json'], env);
    assert.is(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.is(doc.version, 1);
    assert.is(doc.root, root);
    const byKey = Object.fromEntries(doc.checkpoints.map((c: { key: string }) => [c.key, c]));
    assert.equal(Object.keys(byKey).sort(), ['aaaa000000', 'bbbb000000']);
    const a = byKey.aaaa000000;
    assert.equal(Object.keys(a).sort(), ['created', 'dir', 'key', 'lastUsed', 'run', 'scenario', 'sizeBytes', 'stage', 'usedBy']);
    assert.is(a.scenario, 'demo');
    assert.is(a.stage, 'undercloud');
    assert.ok(Number.isInteger(a.sizeBytes) && a.sizeBytes >= 5000, `sizeBytes ${a.sizeBytes}`);
    assert.ok(Date.parse(a.lastUsed) < Date.now() - 29 * DAY);
    assert.is(byKey.bbbb000000.lastUsed, null, 'never used');
    assert.is(a.run, null);
    const misplaced = await cli(['checkpoints', 'prune', '--older-than', '2d', '--json'], env);
    assert.is(misplaced.code, 2);
  });
});

test('prune --older-than removes what was not used for that long', async () => {
  await withCache(async (env, root) => {
    await seed(root);
    const r = await cli(['checkpoints', 'prune', '--older-than', '20d'], env);
    assert.is(r.code, 0, r.err);
    // One number for one removal: what the disk got back (meta files included), not the size at save.
    const each = /^removed aaaa000000 \(demo\/undercloud\): freed (\S+)$/m.exec(r.out);
    assert.ok(each, r.out);
    assert.match(r.out, new RegExp(`^freed ${each![1]!.replace('.', '\\.')} in all; the store holds `, 'm'));
    assert.equal((await openStore(root).list()).map((i) => i.key), ['bbbb000000']);
    const size = await cli(['checkpoints', 'prune', '--max-size', '0'], env);
    assert.is(size.code, 0, size.err);
    assert.match(size.out, 'removed bbbb000000');
  });
});

test('bad values and misplaced options exit 2 with a message saying what to write', async () => {
  await withCache(async (env) => {
    for (const [argv, text] of [
      [['checkpoints', 'prune', '--older-than', '20 days'], '--older-than 20 days: not a duration; use a number and a unit, e.g. 20d'],
      [['checkpoints', 'prune', '--max-size', '20Q'], '--max-size 20Q: not a size; use a number and a unit, e.g. 500M, 20G'],
      [['checkpoints', 'prune'], 'say what to remove: --older-than 20d and/or --max-size 20G'],
      [['checkpoints', 'list', '--older-than', '2d'], "go with 'checkpoints prune'"],
      [['checkpoints', 'delete'], 'name the key to delete'],
      [['checkpoints', 'frobnicate'], 'Invalid values'],
    ] as const) {
      const r = await cli([...argv], env);
      assert.is(r.code, 2, `${argv.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, text);
    }
  });
});

test('delete removes one checkpoint; an unknown key exits 2 naming the keys that exist', async () => {
  await withCache(async (env, root) => {
    await seed(root);
    const unknown = await cli(['checkpoints', 'delete', 'cccc'], env);
    assert.is(unknown.code, 2);
    assert.match(unknown.err, "no checkpoint has key 'cccc'; the checkpoints are: aaaa000000 (demo/undercloud), bbbb000000 (demo/overcloud)");
    const r = await cli(['checkpoints', 'delete', 'aaaa000000'], env);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /^deleted aaaa000000 \(demo\/undercloud\); freed \d+(\.\d)?K\n$/);
    assert.equal((await openStore(root).list()).map((i) => i.key), ['bbbb000000']);
  });
});

test('sizes parse with binary units and format for people', () => {
  assert.is(parseSize('500M'), 500 * 2 ** 20);
  assert.is(parseSize('20G'), 20 * 2 ** 30);
  assert.is(parseSize('20GiB'), 20 * 2 ** 30);
  assert.is(parseSize('1.5T'), 1.5 * 2 ** 40);
  assert.is(parseSize('4096'), 4096);
  assert.is(parseSize('10B'), 10);
  for (const bad of ['', 'G', '20Q', '-1G', '1 G B', 'iB']) assert.is(parseSize(bad), undefined, bad);
  assert.is(formatSize(512), '512B');
  assert.is(formatSize(3.4 * 1024), '3.4K');
  assert.is(formatSize(120 * 2 ** 20), '120M');
  assert.is(formatSize(2 * 2 ** 30), '2.0G');
});

test.run();
