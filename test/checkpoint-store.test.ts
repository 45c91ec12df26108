// The checkpoint store: atomic commit, crash leftovers, concurrent saves, leases, prune, delete,
// and several processes using one checkpoint at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, CheckpointInUseError, type CheckpointMeta, type CheckpointInfo, type CheckpointStore } from '../lib/checkpoint/index.js';
import { InputError, exitCodeOf } from '../lib/errors.js';
import { packageFile } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';

const INDEX = pathToFileURL(packageFile('dist', 'lib', 'checkpoint', 'index.js')).href;
const DAY = 86_400_000;

function meta(key: string, stage = 'base', scenario = 'demo'): CheckpointMeta {
  return { scenario, stage, key, inputs: { 'file:x.yml': 'aa', vars: 'bb' }, published: { undercloud_url: 'http://127.0.0.2:8080' }, provider: 'local' };
}

async function withStore(fn: (store: CheckpointStore, root: string) => Promise<void>): Promise<void> {
  const t = await tempDir('harness-store-');
  try {
    await fn(openStore(path.join(t.dir, 'checkpoints')), path.join(t.dir, 'checkpoints'));
  } finally {
    await t.remove();
  }
}

/** Saves a checkpoint holding one file of `bytes` bytes. */
async function saveWith(store: CheckpointStore, key: string, bytes = 1000, stage = 'base'): Promise<CheckpointInfo> {
  return store.save(meta(key, stage), async (dir) => writeFile(path.join(dir, 'blob'), Buffer.alloc(bytes, key)), { durable: false });
}

/** Marks a checkpoint last used `days` ago (the store keeps this time in the `last-used` file). */
async function usedDaysAgo(info: CheckpointInfo, days: number): Promise<void> {
  await writeFile(path.join(info.dir, 'last-used'), `${new Date(Date.now() - days * DAY).toISOString()}\n`);
}

/** Runs a node script; resolves with its exit code and output. */
function node(script: string, onLine?: (line: string) => void): { done: Promise<{ code: number | null; out: string; err: string }>; pid: number } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    const text = c.toString();
    out += text;
    if (onLine) for (const l of text.split('\n').filter(Boolean)) onLine(l);
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { pid: child.pid!, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err }))) };
}

test('save commits atomically; find and list see it with its metadata and size', async () => {
  await withStore(async (store, root) => {
    assert.is(await store.find('demo', 'k1'), undefined);
    const saved = await store.save(
      meta('k1'),
      async (dir) => {
        await mkdir(path.join(dir, 'undercloud'));
        await writeFile(path.join(dir, 'undercloud', 'state'), 'deployed');
      },
      { durable: true },
    );
    assert.ok(saved.saved);
    const found = await store.find('demo', 'k1');
    assert.ok(found);
    assert.is(found.stage, 'base');
    assert.equal(found.published, { undercloud_url: 'http://127.0.0.2:8080' });
    assert.equal(found.inputs, meta('k1').inputs);
    assert.is(found.provider, 'local');
    assert.ok(found.size > 0);
    assert.is(found.lastUsed, found.created);
    assert.is(await readFile(path.join(found.dataDir, 'undercloud', 'state'), 'utf8'), 'deployed');
    assert.equal((await store.list()).map((i) => i.key), ['k1']);
    assert.equal(await readdir(path.join(root, '.tmp')), [], 'no temp folder left');
    await store.touch(found);
    const touched = (await store.find('demo', 'k1'))!;
    assert.ok(Date.parse(touched.lastUsed) >= Date.parse(found.created));
    assert.ok((await store.latestForStage('demo', 'base'))?.key === 'k1');
  });
});

test('a fill that fails commits nothing and leaves nothing behind', async () => {
  await withStore(async (store, root) => {
    const err = await store
      .save(meta('k1'), async (dir) => {
        await writeFile(path.join(dir, 'half'), 'x');
        throw new Error('snapshot failed');
      })
      .catch((e: Error) => e);
    assert.is((err as Error).message, 'snapshot failed');
    assert.is(await store.find('demo', 'k1'), undefined);
    assert.equal(await store.list(), []);
    assert.equal(await readdir(path.join(root, '.tmp')), []);
  });
});

test('a save killed mid-fill (kill -9) is never found, and prune removes its leftover', async () => {
  await withStore(async (store, root) => {
    let filling!: () => void;
    const started = new Promise<void>((r) => (filling = r));
    const child = node(
      `import { openStore } from '${INDEX}';
       import { writeFile } from 'node:fs/promises';
       const store = openStore(${JSON.stringify(root)});
       await store.save(${JSON.stringify(meta('k1'))}, async (dir) => {
         await writeFile(dir + '/part', 'x'.repeat(100000));
         console.log('filling');
         await new Promise(() => setInterval(() => {}, 1000));
       });`,
      (l) => l === 'filling' && filling(),
    );
    await started;
    process.kill(child.pid, 'SIGKILL');
    await child.done;
    assert.is((await readdir(path.join(root, '.tmp'))).length, 1, 'the killed save left its temp folder');
    assert.is(await store.find('demo', 'k1'), undefined);
    assert.equal(await store.list(), []);
    const pruned = await store.prune({ olderThanMs: 365 * DAY });
    assert.is(pruned.leftovers.length, 1);
    assert.ok(pruned.freedBytes >= 100000);
    assert.equal(await readdir(path.join(root, '.tmp')), []);
  });
});

test('checkpoints are addressed by key: another scenario with the same key finds it, and the store says who uses it', async () => {
  await withStore(async (store) => {
    await store.save(meta('k1', 'base', 'demo'), async (dir) => writeFile(path.join(dir, 'f'), 'x'), { durable: false });
    const again = await store.save(meta('k1', 'prep', 'other'), async () => assert.unreachable('a key stored already is not saved twice'), { durable: false });
    assert.not.ok(again.saved);
    const found = (await store.find('third', 'k1'))!;
    assert.ok(found, 'any scenario finds it by key');
    await store.recordUse(found, 'third', 'x[tls=on]');
    const info = (await store.find('demo', 'k1'))!;
    assert.equal(info.uses, [{ scenario: 'demo', stage: 'base' }, { scenario: 'other', stage: 'prep' }, { scenario: 'third', stage: 'x[tls=on]' }]);
    assert.equal((await store.list({ scenario: 'other' })).map((i) => i.key), ['k1'], 'listed for each scenario that uses it');
    assert.is((await store.latestForStage('third', 'x[tls=on]'))?.key, 'k1');
    assert.equal(await store.list({ scenario: 'nobody' }), []);
  });
});

test('two saves of one key at once keep exactly one checkpoint', async () => {
  await withStore(async (store, root) => {
    const fill = (text: string) => async (dir: string) => {
      await sleep(50); // both saves are past their "exists already?" check before either commits
      await writeFile(path.join(dir, 'who'), text);
    };
    const [a, b] = await Promise.all([store.save(meta('k1'), fill('a'), { durable: false }), store.save(meta('k1'), fill('b'), { durable: false })]);
    assert.equal([a.saved, b.saved].sort(), [false, true]);
    const winner = a.saved ? 'a' : 'b';
    assert.is(await readFile(path.join(a.dataDir, 'who'), 'utf8'), winner);
    assert.equal(await readdir(path.join(root, 'by-key')), ['k1']);
    assert.equal(await readdir(path.join(root, '.tmp')), []);
    // A later save of an existing key does not even call fill.
    let called = false;
    const c = await store.save(meta('k1'), async () => void (called = true));
    assert.is(c.saved, false);
    assert.is(called, false);
  });
});

test('a lease keeps prune and delete away; released, prune removes it', async () => {
  await withStore(async (store) => {
    const info = await saveWith(store, 'aaaa1111');
    const lease = await store.lease(info);
    const pruned = await store.prune({ olderThanMs: 0, now: Date.now() + 1000 });
    assert.equal(pruned.removed, []);
    assert.is(pruned.skipped.length, 1);
    assert.match(pruned.skipped[0]!.reason, `in use by process ${process.pid}`);
    const err = await store.delete('aaaa1111').catch((e: unknown) => e);
    assert.instance(err, CheckpointInUseError);
    assert.ok(await store.find('demo', 'aaaa1111'));
    await lease.release();
    await lease.release();
    const again = await store.prune({ olderThanMs: 0, now: Date.now() + 1000 });
    assert.equal(again.removed.map((i) => i.key), ['aaaa1111']);
    assert.is(await store.find('demo', 'aaaa1111'), undefined);
  });
});

test('a lease left by a dead process is stale: it does not block prune', async () => {
  await withStore(async (store) => {
    const info = await saveWith(store, 'k1');
    const child = node(`import { openStore } from '${INDEX}';
      const store = openStore(${JSON.stringify(path.dirname(path.dirname(info.dir)))});
      await store.lease(await store.find('demo', 'k1'));
      process.exit(0);`);
    assert.is((await child.done).code, 0);
    assert.is((await readdir(path.join(info.dir, 'leases'))).length, 1, 'the dead process left its lease file');
    const pruned = await store.prune({ olderThanMs: 0, now: Date.now() + 1000 });
    assert.equal(pruned.removed.map((i) => i.key), ['k1']);
  });
});

test('prune by age removes what was not used for that long', async () => {
  await withStore(async (store) => {
    const old = await saveWith(store, 'old1');
    const recent = await saveWith(store, 'recent1');
    const fresh = await saveWith(store, 'fresh1');
    await usedDaysAgo(old, 30);
    await usedDaysAgo(recent, 2);
    const r = await store.prune({ olderThanMs: 20 * DAY });
    assert.equal(r.removed.map((i) => i.key), ['old1']);
    assert.ok(r.freedBytes >= 1000);
    assert.equal((await store.list()).map((i) => i.key).sort(), [fresh.key, recent.key].sort());
  });
});

test('prune by size removes least recently used first until under the limit', async () => {
  await withStore(async (store) => {
    const MB = 1 << 20;
    const a = await saveWith(store, 'a1', MB);
    const b = await saveWith(store, 'b1', MB);
    const c = await saveWith(store, 'c1', MB);
    await usedDaysAgo(a, 1);
    await usedDaysAgo(b, 3);
    await usedDaysAgo(c, 2);
    const r = await store.prune({ maxSizeBytes: 2.5 * MB });
    assert.equal(r.removed.map((i) => i.key), ['b1']);
    assert.ok(r.totalBytes <= 2.5 * MB && r.totalBytes > 2 * MB, `store holds ${r.totalBytes}`);
    const r2 = await store.prune({ maxSizeBytes: 1.5 * MB });
    assert.equal(r2.removed.map((i) => i.key), ['c1']);
  });
});

test('sizes count files shared by hard links once: removing a checkpoint whose files another shares frees little', async () => {
  await withStore(async (store) => {
    const MB = 1 << 20;
    const a = await saveWith(store, 'a1', 2 * MB);
    const b = await store.save(meta('b1', 'next'), async (dir) => link(path.join(a.dataDir, 'blob'), path.join(dir, 'blob')), { durable: false });
    await usedDaysAgo(a, 2);
    // Both hold the same 2 MB: the store is ~2 MB, under 3 MB, so nothing goes.
    assert.equal((await store.prune({ maxSizeBytes: 3 * MB })).removed, []);
    const r = await store.prune({ maxSizeBytes: 1 * MB });
    // Removing a (least recently used) frees only its folders: b still holds the blob, so b goes too.
    assert.equal(r.removed.map((i) => i.key), ['a1', 'b1']);
    assert.ok(r.freedBytes >= 2 * MB && r.freedBytes < 3 * MB, `freed ${r.freedBytes}`);
    assert.ok(b.size >= 2 * MB);
  });
});

test('delete by key or unique prefix; an unknown key is an InputError naming the keys that exist', async () => {
  await withStore(async (store) => {
    await saveWith(store, '3fa2c9d0e1', 1000, 'undercloud');
    await saveWith(store, '3fb000aaaa', 1000, 'overcloud');
    const err = await store.delete('ffff0000').catch((e: unknown) => e);
    assert.instance(err, InputError);
    assert.is(exitCodeOf(err), 2);
    assert.match((err as Error).message, "no checkpoint has key 'ffff0000'; the checkpoints are: 3fa2c9d0e1 (demo/undercloud), 3fb000aaaa (demo/overcloud)");
    const amb = await store.delete('3f').catch((e: unknown) => e);
    assert.instance(amb, InputError, 'too short a prefix is no match');
    const { info, freedBytes } = await store.delete('3fa2');
    assert.is(info.key, '3fa2c9d0e1');
    assert.ok(freedBytes >= 1000);
    assert.equal((await store.list()).map((i) => i.key), ['3fb000aaaa']);
  });
});

test('names that cannot be folders are refused', async () => {
  await withStore(async (store) => {
    const err = await store.find('../etc', 'k').catch((e: unknown) => e);
    assert.instance(err, InputError);
    assert.instance(await store.save(meta('a/b'), async () => {}).catch((e: unknown) => e), InputError);
  });
});

test('two processes reading one checkpoint under leases while a third prunes never see it damaged', async () => {
  await withStore(async (store, root) => {
    const files = 40;
    const info = await store.save(
      meta('shared1'),
      async (dir) => {
        for (let i = 0; i < files; i++) await writeFile(path.join(dir, `f${i}`), Buffer.alloc(20_000, i));
      },
      { durable: false },
    );
    const reader = `import { openStore } from '${INDEX}';
      import { readFile, readdir } from 'node:fs/promises';
      const store = openStore(${JSON.stringify(root)});
      let reads = 0, gone = 0, bad = 0;
      for (let round = 0; round < 40; round++) {
        const got = await store.findAndLease('demo', 'shared1');
        if (!got) { gone++; break; }
        if (round === 0) console.log('leased');
        const names = await readdir(got.info.dataDir);
        if (names.length !== ${files}) bad++;
        for (const n of names) {
          const data = await readFile(got.info.dataDir + '/' + n);
          const i = Number(n.slice(1));
          if (data.length !== 20000 || data.some((b) => b !== i)) bad++;
        }
        reads++;
        await got.lease.release();
        await new Promise((r) => setTimeout(r, 2));
      }
      console.log(JSON.stringify({ reads, gone, bad }));`;
    let leased = 0;
    let bothLeased!: () => void;
    const ready = new Promise<void>((r) => (bothLeased = r));
    const onLine = (l: string): void => {
      if (l === 'leased' && ++leased === 2) bothLeased();
    };
    const readers = [node(reader, onLine), node(reader, onLine)];
    await Promise.race([ready, Promise.all(readers.map((r) => r.done))]);
    const pruner = node(`import { openStore } from '${INDEX}';
      const store = openStore(${JSON.stringify(root)});
      let attempts = 0, removed = 0;
      const until = Date.now() + 30000;
      while (Date.now() < until) {
        attempts++;
        const r = await store.prune({ olderThanMs: 0, now: Date.now() + 1000 });
        removed += r.removed.length;
        if (removed) break;
      }
      console.log(JSON.stringify({ attempts, removed }));`);
    const results = await Promise.all(readers.map((r) => r.done));
    const p = await pruner.done;
    for (const r of results) {
      assert.is(r.code, 0, r.err);
      const { reads, bad } = JSON.parse(r.out.trim().split('\n').pop()!) as { reads: number; bad: number };
      assert.ok(reads >= 1, 'each reader read the checkpoint at least once');
      assert.is(bad, 0, 'no reader saw a missing or damaged file while holding its lease');
    }
    assert.is(p.code, 0, p.err);
    assert.is((JSON.parse(p.out.trim()) as { removed: number }).removed, 1, 'the pruner removed it once no lease held it');
    // Gone entirely: no partial folder left that could look like a checkpoint.
    assert.is(await store.find('demo', 'shared1'), undefined);
    assert.equal(await readdir(path.join(root, 'by-key')), []);
    assert.equal(await readdir(path.join(root, '.trash')), []);
    assert.ok(info.saved);
  });
});

test.run();
