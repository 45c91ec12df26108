// kill -9 in the middle of `harness checkpoints push` and `pull`: a real loopback registry, a
// real CLI process, a checkpoint large enough to take a few seconds through a throttled
// loopback proxy (the test's own, so the kill lands mid-transfer however fast the machine is).
// Nothing half-made may be listed: no manifest in the registry after a cut push, no checkpoint
// in the local cache after a cut pull; the next push and pull complete and the bytes come back,
// and the next pull clears what the cut one wrote.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { openStore, storeRoot } from '../lib/checkpoint/store.js';
import { harness, tempDir } from './helpers/cli.js';
import { registryUnavailable, startRegistry, throttledProxy, type TestRegistry, type ThrottledProxy } from './helpers/registry.js';

const test = suite('store-oci-kill');
const why = registryUnavailable();
let reg: TestRegistry | undefined;
let t: { dir: string; remove: () => Promise<void> };
test.before(async () => {
  if (why) return;
  reg = await startRegistry();
  t = await tempDir('harness-oci-kill-');
});
test.after(async () => {
  await reg?.stop();
  await t?.remove();
});

/** Starts `harness ARGS` and kill -9s it once `cut()` holds; resolves with how it ended. */
async function killMidway(args: string[], env: NodeJS.ProcessEnv, cut: () => boolean): Promise<{ signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ended = new Promise<{ signal: string | null; code: number | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let gone = false;
  void ended.then(() => (gone = true));
  const t0 = Date.now();
  while (!gone && !cut()) {
    if (Date.now() - t0 > 20_000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!gone) child.kill('SIGKILL');
  const end = await ended;
  return { signal: end.signal, stderr };
}

const KEY = 'feedc0de0000kill0001';
const BIG = 16 << 20;

test('kill -9 mid-push lists nothing; mid-pull leaves no checkpoint; the next push and pull complete', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const envA = { XDG_CACHE_HOME: path.join(t.dir, 'machine-a') };
  const envB = { XDG_CACHE_HOME: path.join(t.dir, 'machine-b') };
  const disk = randomBytes(BIG);
  const saved = await openStore(storeRoot(envA)).save({ scenario: 'demo', stage: 'undercloud', key: KEY, inputs: {}, published: {}, provider: 'local' }, async (dir) => {
    await mkdir(path.join(dir, 'uc', 'etc'), { recursive: true });
    await writeFile(path.join(dir, 'uc', 'etc', 'uc.conf'), 'deployed\n');
    await writeFile(path.join(dir, 'uc', 'disk.qcow2'), disk);
  });
  const proxy: ThrottledProxy = await throttledProxy(reg!.address, 6 << 20);
  try {
    const slow = `oci://${proxy.address}/team/kill`;
    const direct = reg!.store('team/kill');
    const push = await killMidway(['checkpoints', 'push', KEY, '--store', slow, '--store-insecure'], envA, () => proxy.sent > BIG / 3);
    assert.is(push.signal, 'SIGKILL', `the push ended before the kill: ${push.stderr}`);
    // Some blobs made it into the registry, no manifest did.
    const layers = path.join(reg!.dataDir, 'docker/registry/v2/repositories/team/kill/_layers/sha256');
    assert.ok((await readdir(layers).catch(() => [])).length > 0, 'the kill came before any blob was stored: not mid-push');
    const tags = await fetch(`http://${reg!.address}/v2/team/kill/tags/list`).then((r) => r.json() as Promise<{ tags?: string[] | null }>);
    assert.equal(tags.tags ?? [], [], `a cut push left tags ${JSON.stringify(tags)}`);
    const listed = await harness(['checkpoints', 'list', '--remote', '--store', direct, '--store-insecure'], { env: envA });
    assert.is(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^0 checkpoints in /m);
    // The second push completes, reusing what the cut one stored.
    const again = await harness(['checkpoints', 'push', KEY, '--store', direct, '--store-insecure'], { env: envA });
    assert.is(again.code, 0, again.stderr);
    const m = /pushed .*: (\d+) of (\d+) blobs sent/.exec(again.stdout);
    assert.ok(m && Number(m[1]) < Number(m[2]), `the second push re-sent every blob: ${again.stdout}`);
    assert.match((await harness(['checkpoints', 'list', '--remote', '--store', direct, '--store-insecure'], { env: envA })).stdout, new RegExp(`demo\\s+undercloud\\s+${KEY}`));

    // kill -9 mid-pull into machine B.
    proxy.reset();
    const pull = await killMidway(['checkpoints', 'pull', KEY, '--store', slow, '--store-insecure'], envB, () => proxy.received > BIG / 3);
    assert.is(pull.signal, 'SIGKILL', `the pull ended before the kill: ${pull.stderr}`);
    const rootB = storeRoot(envB);
    assert.ok((await readdir(path.join(rootB, '.tmp')).catch(() => [])).length > 0, 'the kill came before the pull wrote anything: not mid-pull');
    assert.is(await openStore(rootB).find('demo', KEY), undefined, 'a cut pull left a checkpoint in the cache');
    const localList = await harness(['checkpoints', 'list'], { env: envB });
    assert.not.match(localList.stdout, new RegExp(KEY));
    // The next pull clears what the cut one left, completes and brings back the same bytes.
    const pulled = await harness(['checkpoints', 'pull', KEY, '--store', direct, '--store-insecure'], { env: envB });
    assert.is(pulled.code, 0, pulled.stderr);
    const found = await openStore(rootB).find('demo', KEY);
    assert.ok(found, 'the second pull left no checkpoint');
    assert.ok((await readFile(path.join(found!.dataDir, 'uc', 'disk.qcow2'))).equals(disk), 'the pulled disk differs from the pushed one');
    assert.is(await readFile(path.join(found!.dataDir, 'uc', 'etc', 'uc.conf'), 'utf8'), 'deployed\n');
    assert.is(found!.size > 0 && saved.key, KEY);
    assert.equal(await readdir(path.join(rootB, '.tmp')), [], 'the next pull left what the cut one wrote');
  } finally {
    await proxy.stop();
  }
});

test.run();
