import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../lib/errors.js';
import { findCredentials, parseChallenge } from '../lib/store/oci/auth.js';
import { RegistryClient, RegistryError } from '../lib/store/oci/client.js';
import { CHUNK, pullCheckpoint, pushCheckpoint } from '../lib/store/oci/checkpoint.js';
import { parseStoreRef } from '../lib/store/oci/reference.js';
import { convergentCipher, readStoreKey } from '../lib/store/oci/crypto.js';
import { fileContains } from './helpers/scenario.js';
import { tempDir } from './helpers/cli.js';
import { openStore } from '../lib/checkpoint/index.js';
import { openRemoteStore } from '../lib/store/remote.js';
import { allFiles } from './helpers/scenario.js';
import { registryUnavailable, startRegistry, type TestRegistry } from './helpers/registry.js';
import { baseDigest, baseTag, fetchedBaseDir } from '../lib/lab/qemu/portability.js';

const test = suite('store-oci');

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}
const why = registryUnavailable();
let t: { dir: string; remove: () => Promise<void> };
let reg: TestRegistry | undefined;
let authed: TestRegistry | undefined;
let tokened: TestRegistry | undefined;
test.before(async () => {
  if (why) return;
  reg = await startRegistry();
  authed = await startRegistry({ auth: { user: 'ci', password: 'pa55-word' } });
  tokened = await startRegistry({ token: { user: 'robot', password: 't0ken-pass' } });
});
test.after(async () => {
  await reg?.stop();
  await authed?.stop();
  await tokened?.stop();
});
test.before.each(async () => {
  t = await tempDir('harness-oci-');
});
test.after.each(async () => {
  await t.remove();
});

test('store addresses: oci://host[:port]/repo; plain HTTP only for loopback', () => {
  assert.equal(parseStoreRef('oci://reg.example.com/ci/checkpoints'), { registry: 'reg.example.com', repository: 'ci/checkpoints', baseUrl: 'https://reg.example.com' });
  assert.is(parseStoreRef('oci://127.0.0.1:5000/x', { insecure: true }).baseUrl, 'http://127.0.0.1:5000');
  assert.throws(() => parseStoreRef('https://reg/x'), (e: Error) => e instanceof InputError && /write oci:\/\/HOST/.test(e.message));
  assert.throws(() => parseStoreRef('oci://reg/Upper'), /no valid repository name/);
  assert.throws(() => parseStoreRef('oci://10.0.0.1:5000/x', { insecure: true }), /only for registries on loopback/);
});

test('credentials from the auth files as the ecosystem writes them; challenges parsed', async () => {
  const file = path.join(t.dir, 'config.json');
  await writeFile(file, JSON.stringify({ auths: { 'reg:5000': { auth: Buffer.from('bob:s:e:c').toString('base64') }, 'https://other': { username: 'u', password: 'p' } } }));
  assert.equal(await findCredentials('reg:5000', {}, file), { username: 'bob', password: 's:e:c' });
  assert.equal(await findCredentials('other', {}, file), { username: 'u', password: 'p' });
  assert.is(await findCredentials('none', {}, file), undefined);
  assert.equal(await findCredentials('reg:5000', { REGISTRY_AUTH_FILE: file, HOME: t.dir }), { username: 'bob', password: 's:e:c' });
  assert.equal(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
});

async function makeTree(root: string, big: Buffer): Promise<void> {
  await mkdir(path.join(root, 'host-a', 'etc'), { recursive: true });
  await writeFile(path.join(root, 'host-a', 'etc', 'app.conf'), 'port = 8080\n');
  await writeFile(path.join(root, 'host-a', 'empty'), '');
  await writeFile(path.join(root, 'host-a', 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(path.join(root, 'host-a', 'run.sh'), 0o755);
  await symlink('etc/app.conf', path.join(root, 'host-a', 'conf-link'));
  await writeFile(path.join(root, 'disk.qcow2'), big);
}

test('a checkpoint folder pushed and pulled into another cache comes back byte for byte; a second push sends only what changed', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const client = new RegistryClient(parseStoreRef(reg!.store('team/ckpt'), { insecure: true }));
  await client.ping();
  const src = path.join(t.dir, 'machine-a');
  const big = randomBytes(3 * CHUNK + 12345);
  await makeTree(src, big);
  const s1 = await pushCheckpoint(client, src, 'key1', { scenario: 'demo', stage: 'undercloud' });
  assert.is(s1.blobs, 5, JSON.stringify(s1)); // one pack of small files + 4 chunks of the disk
  assert.is(s1.moved, 5);
  const dest = path.join(t.dir, 'machine-b');
  const pulled = await pullCheckpoint(client, 'key1', dest);
  assert.equal(pulled!.index.meta, { scenario: 'demo', stage: 'undercloud' });
  assert.equal(await allFiles(dest), await allFiles(src));
  assert.ok((await readFile(path.join(dest, 'disk.qcow2'))).equals(big));
  assert.is(await readFile(path.join(dest, 'host-a', 'etc', 'app.conf'), 'utf8'), 'port = 8080\n');
  assert.is((await lstat(path.join(dest, 'host-a', 'run.sh'))).mode & 0o777, 0o755);
  assert.is(await readlink(path.join(dest, 'host-a', 'conf-link')), 'etc/app.conf');
  // Change 100 bytes in the second chunk of the disk: the next checkpoint uploads one blob (+ the pack, unchanged: reused).
  big.fill(7, CHUNK + 10, CHUNK + 110);
  await writeFile(path.join(src, 'disk.qcow2'), big);
  const s2 = await pushCheckpoint(client, src, 'key2', { stage: 'overcloud' });
  assert.is(s2.moved, 1, JSON.stringify(s2));
  assert.is(s2.movedBytes, CHUNK);
  assert.ok(s2.reusedBytes > 2 * CHUNK);
  assert.equal((await client.listTags()).sort(), ['key1', 'key2']);
  assert.is(await pullCheckpoint(client, 'nope', path.join(t.dir, 'x')), undefined);
});

test('basic auth: refused without credentials, with a clear message; works with them', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const ref = parseStoreRef(authed!.store('team/ckpt'), { insecure: true });
  try {
    await new RegistryClient(ref).ping();
    assert.unreachable();
  } catch (err) {
    assert.instance(err, RegistryError);
    assert.match((err as Error).message, /asks for a user and password: put them in ~\/\.docker\/config\.json, REGISTRY_AUTH_FILE or --store-auth FILE/);
  }
  try {
    await new RegistryClient(ref, { credentials: { username: 'ci', password: 'wrong' } }).ping();
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /refused the credentials for user 'ci'/);
  }
  const client = new RegistryClient(ref, { credentials: { username: 'ci', password: 'pa55-word' } });
  const src = path.join(t.dir, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'f'), 'x');
  await pushCheckpoint(client, src, 'k', {});
  const back = await pullCheckpoint(client, 'k', path.join(t.dir, 'dst'));
  assert.is(await readFile(path.join(t.dir, 'dst', 'f'), 'utf8'), 'x');
  assert.ok(back);
});

test('bearer tokens: the client follows the challenge to the token service, with credentials', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const ref = parseStoreRef(tokened!.store('team/ckpt'), { insecure: true });
  try {
    await new RegistryClient(ref).ping();
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /token service http:\/\/127\.0\.0\.1:\d+ refused a token for team\/ckpt \(HTTP 401\); no credentials were found for it/);
  }
  const client = new RegistryClient(ref, { credentials: { username: 'robot', password: 't0ken-pass' } });
  const src = path.join(t.dir, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'f'), 'bearer');
  await pushCheckpoint(client, src, 'k', { via: 'token' });
  const back = await pullCheckpoint(new RegistryClient(ref, { credentials: { username: 'robot', password: 't0ken-pass' } }), 'k', path.join(t.dir, 'dst'));
  assert.equal(back!.index.meta, { via: 'token' });
  assert.is(await readFile(path.join(t.dir, 'dst', 'f'), 'utf8'), 'bearer');
});

test('encrypted checkpoints: the registry holds no plain byte, identical chunks still deduplicate, a wrong or missing key is refused', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const keyFile = path.join(t.dir, 'store.key');
  await writeFile(keyFile, randomBytes(32), { mode: 0o644 });
  await rejects(readStoreKey(keyFile), /others can read it \(mode 644\); chmod 600 it/);
  await chmod(keyFile, 0o600);
  const cipher = convergentCipher(await readStoreKey(keyFile));
  const client = new RegistryClient(parseStoreRef(reg!.store('team/sealed'), { insecure: true }));
  const canary = 'canary-4d1e-plaintext-secret';
  const src = path.join(t.dir, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'secret.conf'), `password = ${canary}\n`);
  await writeFile(path.join(src, 'disk'), Buffer.concat([randomBytes(CHUNK), Buffer.from(canary.repeat(1000))]));
  const s1 = await pushCheckpoint(client, src, 'e1', { published: { admin: canary } }, { cipher });
  const s2 = await pushCheckpoint(client, src, 'e2', { published: { admin: canary } }, { cipher });
  assert.is(s2.moved, 0, `an unchanged checkpoint re-uploaded ${s2.moved} of ${s1.moved} blobs`);
  for (const f of await allFiles(reg!.dataDir)) assert.not.ok(await fileContains(path.join(reg!.dataDir, f), canary), `plain text in the registry: ${f}`);
  const back = await pullCheckpoint(client, 'e1', path.join(t.dir, 'ok'), { cipher });
  assert.equal(back!.index.meta, { published: { admin: canary } });
  assert.ok((await readFile(path.join(t.dir, 'ok', 'disk'))).equals(await readFile(path.join(src, 'disk'))));
  await rejects(pullCheckpoint(client, 'e1', path.join(t.dir, 'nokey')), /is encrypted: give the key it was pushed with \(--store-key FILE\)/);
  await rejects(pullCheckpoint(client, 'e1', path.join(t.dir, 'wrong'), { cipher: convergentCipher(randomBytes(32)) }), /does not open with this --store-key/);
});

test('two machines: a checkpoint saved in one cache, pushed, then pulled into another cache, restores the same files', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const a = openStore(path.join(t.dir, 'machine-a', 'checkpoints'));
  const b = openStore(path.join(t.dir, 'machine-b', 'checkpoints'));
  const remote = await openRemoteStore({ url: reg!.store('team/machines'), insecure: true, env: { HOME: t.dir } });
  const meta = { scenario: 'demo', stage: 'undercloud', key: 'aaaabbbbccccdddd0001', inputs: { lab: 'x' }, published: { url: 'http://uc' }, provider: 'local', run: 'r1' };
  const saved = await a.save(meta, async (dir) => {
    await mkdir(path.join(dir, 'undercloud', 'etc'), { recursive: true });
    await writeFile(path.join(dir, 'undercloud', 'etc', 'uc.conf'), 'deployed\n');
  });
  const pushed = await remote.push(saved);
  assert.ok(pushed.moved >= 1);
  assert.equal(await remote.keys(), [meta.key]);
  assert.is(await b.find('demo', meta.key), undefined);
  const pulled = await remote.pull(meta.key, b);
  const found = await b.find('demo', meta.key);
  assert.ok(found && pulled);
  assert.equal({ stage: found!.stage, published: found!.published, inputs: found!.inputs }, { stage: 'undercloud', published: { url: 'http://uc' }, inputs: { lab: 'x' } });
  assert.is(await readFile(path.join(found!.dataDir, 'undercloud', 'etc', 'uc.conf'), 'utf8'), 'deployed\n');
  assert.is(await remote.pull('0000000000000000ffff', b), undefined);
});

/** A qemu image folder as the lab lays it out (small fake files), and its base digest. */
async function fakeImage(dir: string, bytes: string): Promise<string> {
  const golden = path.join(dir, 'golden', 'v5-512m-1c');
  await mkdir(golden, { recursive: true });
  for (const [f, text] of [['disk.qcow2', `image ${bytes}`], ['vmlinuz', 'kernel'], ['initrd.img', 'initrd'], ['id_ed25519', `key ${bytes}`], ['golden/v5-512m-1c/disk.qcow2', `golden ${bytes}`], ['golden/v5-512m-1c/state', 'state, not part of the base'], ['golden/v5-512m-1c/manifest.json', '{"memory":512,"cpus":1,"accel":"tcg","agent":true}']] as const) await writeFile(path.join(dir, f), text);
  await chmod(path.join(dir, 'id_ed25519'), 0o600);
  return baseDigest({ disk: path.join(dir, 'disk.qcow2'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img') }, { dir: golden, disk: path.join(golden, 'disk.qcow2') });
}

test('a qemu checkpoint carries its base: pushed once beside it, fetched into the image cache of a machine whose base differs, never listed as a checkpoint', async () => {
  if (why) return console.log(`  skipped: ${why}`);
  const imagesA = path.join(t.dir, 'a', 'images');
  const imagesB = path.join(t.dir, 'b', 'images');
  const digest = await fakeImage(path.join(imagesA, 'k1'), 'built on a');
  const other = await fakeImage(path.join(imagesB, 'k1'), 'built on b');
  assert.is.not(other, digest);
  const a = openStore(path.join(t.dir, 'a', 'checkpoints'));
  const b = openStore(path.join(t.dir, 'b', 'checkpoints'));
  const qemuCheckpoint = (key: string) => a.save({ scenario: 'demo', stage: key, key, inputs: {}, published: {}, provider: 'qemu' }, async (dir) => {
    await writeFile(path.join(dir, 'qemu-checkpoint.json'), JSON.stringify({ version: 1, image: 'k1', goldenDisk: path.join(imagesA, 'k1', 'golden', 'v5-512m-1c', 'disk.qcow2'), base: { digest, qemu: 'QEMU 7.2', accel: 'tcg' }, hosts: [] }));
    await writeFile(path.join(dir, 'host-0.qcow2'), `overlay ${key}`);
  });
  const remoteA = await openRemoteStore({ url: reg!.store('team/bases'), insecure: true, env: { HOME: t.dir }, imagesDir: imagesA });
  const one = await qemuCheckpoint('qk0001');
  const s1 = await remoteA.push(one);
  assert.ok(s1.blobs >= 2, JSON.stringify(s1));
  const client = new RegistryClient(parseStoreRef(reg!.store('team/bases'), { insecure: true }));
  assert.equal((await client.listTags()).sort(), [baseTag(digest), 'qk0001'].sort());
  assert.equal(await remoteA.keys(), ['qk0001']);
  const two = await qemuCheckpoint('qk0002');
  const s2 = await remoteA.push(two);
  assert.is(s2.blobs, 1, `the second checkpoint on the same base pushed its base again: ${JSON.stringify(s2)}`);
  // Machine B pulls: its own base differs, so the base is fetched under its digest, checked.
  const remoteB = await openRemoteStore({ url: reg!.store('team/bases'), insecure: true, env: { HOME: t.dir }, imagesDir: imagesB });
  const got = await remoteB.pull('qk0001', b);
  assert.ok(got);
  const dest = fetchedBaseDir(imagesB, digest);
  assert.is(await readFile(path.join(dest, 'golden', 'v5-512m-1c', 'disk.qcow2'), 'utf8'), 'golden built on a');
  assert.is(await readFile(path.join(dest, 'id_ed25519'), 'utf8'), 'key built on a');
  assert.is((await lstat(path.join(dest, 'id_ed25519'))).mode & 0o777, 0o600);
  assert.not.ok(await lstat(path.join(dest, 'golden', 'v5-512m-1c', 'state')).then(() => true, () => false), 'the golden state went with the base');
  // A second checkpoint on that base fetches nothing more than itself.
  const got2 = await remoteB.pull('qk0002', b);
  assert.is(got2!.stats.blobs, 1, JSON.stringify(got2!.stats));
  // A machine whose own base is that one fetches none.
  const imagesC = path.join(t.dir, 'c', 'images');
  await fakeImage(path.join(imagesC, 'k1'), 'built on a');
  const remoteC = await openRemoteStore({ url: reg!.store('team/bases'), insecure: true, env: { HOME: t.dir }, imagesDir: imagesC });
  await remoteC.pull('qk0001', openStore(path.join(t.dir, 'c', 'checkpoints')));
  assert.not.ok(await lstat(path.join(imagesC, '.bases')).then(() => true, () => false));
  // A base whose bytes do not hash to its tag is refused, and the checkpoint is not cached.
  const imagesD = path.join(t.dir, 'd', 'images');
  await writeFile(path.join(imagesA, 'k1', 'vmlinuz'), 'another kernel');
  await client.putManifest(baseTag(other), (await client.getManifest(baseTag(digest)))!.manifest);
  await a.save({ scenario: 'demo', stage: 'bad', key: 'qk0003', inputs: {}, published: {}, provider: 'qemu' }, async (dir) => {
    await writeFile(path.join(dir, 'qemu-checkpoint.json'), JSON.stringify({ version: 1, image: 'k1', goldenDisk: path.join(imagesB, 'k1', 'golden', 'v5-512m-1c', 'disk.qcow2'), base: { digest: other, qemu: 'QEMU 7.2' }, hosts: [] }));
  }).then((info) => remoteA.push(info));
  const remoteD = await openRemoteStore({ url: reg!.store('team/bases'), insecure: true, env: { HOME: t.dir }, imagesDir: imagesD });
  const d = openStore(path.join(t.dir, 'd', 'checkpoints'));
  await rejects(remoteD.pull('qk0003', d), /the qemu base fetched as sha256:[0-9a-f]+ has content sha256:[0-9a-f]+: the registry holds another base under its tag/);
  assert.is(await d.find('demo', 'qk0003'), undefined);
  assert.equal((await readdir(path.join(imagesD, '.bases'))), []);
  // A checkpoint whose base was rebuilt since on the pushing machine cannot be pushed portable.
  await rejects(remoteA.push(two), /depends on the base sha256:[0-9a-f]+ in .*, which is sha256:[0-9a-f]+ now \(the image was rebuilt\)/);
});

test.run();
