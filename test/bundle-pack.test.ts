import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { extractBundle, packBundle, type SourceIndex } from '../lib/bundle/index.js';
import { comparePaths } from '../lib/bundle/walk.js';
import { InputError } from '../lib/errors.js';
import { createRedactor } from '../lib/report/redact.js';
import { CANARY, FIXED_MTIME, SCENARIO_FILES, PROJECT, makeRunDir, type FakeRun } from './bundle-rundir.js';

interface Listed {
  path: string;
  type: string;
  mode: number;
  size: number;
  mtime?: Date;
  body: Buffer;
}

/** Every entry of a .tar.gz, with its bytes, in archive order. */
async function list(file: string): Promise<Listed[]> {
  const out: Listed[] = [];
  await tar.t({
    file,
    onReadEntry: (e) => {
      const item: Listed = { path: e.path, type: e.type, mode: e.mode ?? 0, size: e.size, mtime: e.mtime, body: Buffer.alloc(0) };
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      e.on('end', () => (item.body = Buffer.concat(chunks)));
      out.push(item);
    },
  });
  return out;
}

const test = suite('bundle: pack');
let base: string;
let run: FakeRun;
test.before.each(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'bundle-pack-'));
  run = await makeRunDir(base);
});
test.after.each(async () => {
  await run.close();
  rmSync(base, { recursive: true, force: true });
});

test('the bundle holds the run, redacted, without keys, sockets, FIFOs or links, and the scenario under source/', async () => {
  const r = await packBundle(run.root, { redact: createRedactor([CANARY]), scenarioFiles: SCENARIO_FILES });
  assert.is(r.file, `${run.root}.tar.gz`);
  assert.is(r.bytes, statSync(r.file).size);
  assert.equal(
    readdirSync(path.dirname(run.root)).sort(),
    [run.runId, `${run.runId}.tar.gz`],
    'nothing but the run directory and its bundle beside it (no temp or scratch left)',
  );
  const entries = await list(r.file);
  assert.is(r.entries, entries.length);
  const names = entries.map((e) => e.path.replace(/\/$/, ''));
  const top = run.runId;
  assert.ok(names.every((n) => n === top || n.startsWith(`${top}/`)), 'one top folder named like the run');
  assert.equal(names, [...names].sort(comparePaths), 'entries sorted');

  // Never bundled.
  for (const n of names) {
    assert.not.ok(n.includes('.private'), n);
    assert.not.ok(/(^|\/)id_ed25519$|\.pem$|ssh_host_.*_key$|\.sock$|\/pipe$|etc-link$|notes\.txt$/.test(n), `${n} must not be bundled`);
  }
  assert.ok(entries.every((e) => e.type === 'File' || e.type === 'Directory'), 'only files and folders');
  const skippedPaths = r.skipped.map((s) => s.path);
  for (const p of ['.private', 'hosts/web-0/home/demo/.ssh/id_ed25519', 'hosts/web-0/etc/ssl/private/server.pem', 'hosts/web-0/etc/ssh/ssh_host_ed25519_key', 'hosts/web-0/tmp/notes.txt', 'hosts/web-0/etc-link', 'hosts/db-0/pipe', 'hosts/db-0/ctl.sock'])
    assert.ok(skippedPaths.includes(p), `${p} is reported as skipped: ${JSON.stringify(r.skipped)}`);
  assert.match(r.skipped.find((s) => s.path === 'hosts/web-0/tmp/notes.txt')!.reason, /PEM private key/);
  assert.match(r.skipped.find((s) => s.path === 'hosts/db-0/pipe')!.reason, /FIFO/);
  assert.ok(names.includes(`${top}/hosts/web-0/home/demo/.ssh/id_ed25519.pub`), 'a public key is fine');

  // No secret and no private key anywhere in the bytes of the bundle.
  const raw = gunzipSync(readFileSync(r.file));
  assert.is(raw.indexOf(CANARY), -1, 'the canary is nowhere in the tar');
  assert.is(raw.indexOf(Buffer.from(CANARY, 'latin1')), -1);
  assert.is(raw.indexOf('PRIVATE KEY-----'), -1, 'no PEM private key block is anywhere in the tar');
  for (const e of entries.filter((x) => x.type === 'File' && !x.body.includes(0))) assert.not.ok(e.body.toString('latin1').includes(CANARY), e.path);

  const body = (rel: string) => entries.find((e) => e.path === `${top}/${rel}`)!.body;
  assert.is(body('hosts/web-0/var/log/demo/app.log').toString(), 'starting\nconnecting with password ********\nconfig: {"password": "********"}\ndone\n');
  assert.is(body('hosts/db-0/etc/demo/db.ini').toString(), '[db]\nuser = demo\npassword = ********\n');
  assert.equal(body('hosts/web-0/var/log/demo/latin1.log'), Buffer.from('caf\xe9 ********\n', 'latin1'), 'a Latin-1 file keeps its bytes');
  assert.is(body('hosts/web-0/var/log/demo/debug.log').toString(), 'before\n  key: |\n    ********\n    after\n', 'a key block inside a log is cut out');
  assert.equal(body('hosts/web-0/var/log/demo/core.bin'), readFileSync(path.join(run.root, 'hosts/web-0/var/log/demo/core.bin')), 'binary files pass byte for byte');

  // Modes and mtimes.
  const entry = (rel: string) => entries.find((e) => e.path.replace(/\/$/, '') === `${top}/${rel}`)!;
  assert.is(entry('manifest.json').mode, 0o644);
  assert.is(entry('stages/02-deploy/extra-vars.json').mode, 0o600, '0600 stays 0600');
  assert.is(entry('hosts').mode, 0o755);
  assert.is(entry('hosts/web-0/var/log/demo/app.log').mtime?.getTime(), FIXED_MTIME.getTime());

  // The scenario and playbooks, with their index.
  const index = JSON.parse(body('source/index.json').toString()) as SourceIndex;
  assert.is(index.root, PROJECT);
  assert.equal(index.files, {
    [SCENARIO_FILES[0]!]: 'source/scenarios/demo.yml',
    [SCENARIO_FILES[1]!]: 'source/playbooks/deploy.yml',
    [SCENARIO_FILES[2]!]: 'source/playbooks/roles/app/tasks/main.yml',
    [SCENARIO_FILES[3]!]: 'source/playbooks/files/app.conf',
  });
  for (const [abs, rel] of Object.entries(index.files)) assert.equal(body(rel), readFileSync(abs), rel);
  for (const rel of ['journal.json', 'manifest.json', 'junit.xml', 'events.jsonl', 'ansible.cfg', 'inventory/hosts.yml', 'stages/02-deploy/output.log'])
    assert.ok(names.includes(`${top}/${rel}`), `${rel} is bundled`);
});

test('packing the same run twice gives the same bytes (sorted entries, kept mtimes, portable gzip)', async () => {
  const a = await packBundle(run.root, { out: path.join(base, 'a.tar.gz'), scenarioFiles: SCENARIO_FILES });
  const b = await packBundle(run.root, { out: path.join(base, 'b.tar.gz'), scenarioFiles: SCENARIO_FILES });
  const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
  assert.is(sha(a.file), sha(b.file));
});

test('a text file too big for memory is redacted a piece at a time, keys and canaries across pieces included', async () => {
  const big = path.join(run.root, 'hosts', 'web-0', 'var', 'log', 'big.log');
  const line = `${'x'.repeat(70)} ${CANARY}\n`;
  writeFileSync(big, `${line.repeat(5000)}-----BEGIN RSA PRIVATE KEY-----\n${'abcd'.repeat(20)}\n`.repeat(3) + `-----END RSA PRIVATE KEY-----\ntail ${CANARY}\n`);
  const r = await packBundle(run.root, { redact: createRedactor([CANARY]), memoryBytes: 4096 });
  const raw = gunzipSync(readFileSync(r.file));
  assert.is(raw.indexOf(CANARY), -1);
  assert.is(raw.indexOf('PRIVATE KEY'), -1);
  const got = (await list(r.file)).find((e) => e.path.endsWith('/hosts/web-0/var/log/big.log'))!;
  const text = got.body.toString();
  assert.is(got.size, got.body.length);
  assert.ok(text.startsWith(`${'x'.repeat(70)} ********\n`));
  assert.ok(text.endsWith('tail ********\n'), 'after the END line the text is kept');
  assert.equal(readdirSync(base).filter((n) => n.includes('scratch')), [], 'the scratch folder is removed');
});

test('a pack aborted half-way leaves no bundle, no temp file and no scratch folder', async () => {
  const ac = new AbortController();
  let seen = 0;
  // The redactor sees each text file as it is packed: abort when the collected files are reached.
  const redact = (text: string) => {
    seen++;
    if (text.includes(CANARY)) ac.abort(new Error('stop now'));
    return text;
  };
  await packBundle(run.root, { signal: ac.signal, redact, memoryBytes: 16 }).then(
    () => assert.unreachable('should have been aborted'),
    (err: Error) => assert.match(err.message, /stop now/),
  );
  assert.ok(seen >= 2, 'it was aborted while packing, not before');
  assert.equal(readdirSync(path.dirname(run.root)), [run.runId]);
});

test('bad input: a missing run directory, a bundle inside the run, a missing scenario file', async () => {
  for (const [call, re] of [
    [() => packBundle(path.join(base, 'nope')), /nope: cannot bundle it \(ENOENT\)/],
    [() => packBundle(run.root, { out: path.join(run.root, 'x.tar.gz') }), /cannot be written inside the run directory/],
    [() => packBundle(run.root, { scenarioFiles: [path.join(PROJECT, 'playbooks/missing.yml')] }), /missing\.yml: cannot be read for the bundle/],
    [() => packBundle(run.root, { scenarioFiles: ['relative.yml'] }), /give absolute paths/],
  ] as const) {
    const err = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(err, InputError);
    assert.is((err as InputError).exitCode, 2);
    assert.match((err as Error).message, re);
  }
  assert.not.ok(existsSync(`${run.root}.tar.gz`));
});

test('round trip: the extracted bundle is the redacted run plus source/, and a run directory is used in place', async () => {
  const r = await packBundle(run.root, { redact: createRedactor([CANARY]), scenarioFiles: SCENARIO_FILES });
  const dest = path.join(base, 'extracted');
  const x = await extractBundle(r.file, dest);
  assert.is(x.root, path.join(dest, run.runId));
  assert.ok(x.extracted);
  assert.is(x.entries, (await list(r.file)).length);
  const read = (rel: string) => readFileSync(path.join(x.root, rel), 'utf8');
  assert.is(read('journal.json'), readFileSync(path.join(run.root, 'journal.json'), 'utf8'));
  assert.is(read('hosts/db-0/etc/demo/db.ini'), '[db]\nuser = demo\npassword = ********\n');
  assert.is(read('source/playbooks/deploy.yml'), readFileSync(SCENARIO_FILES[1]!, 'utf8'));
  assert.is(statSync(path.join(x.root, 'stages/02-deploy/extra-vars.json')).mode & 0o777, 0o600);
  assert.is(statSync(path.join(x.root, 'hosts/web-0/var/log/demo/app.log')).mtime.getTime(), FIXED_MTIME.getTime());
  assert.not.ok(existsSync(path.join(x.root, '.private')));

  const inPlace = await extractBundle(run.root, path.join(base, 'unused'));
  assert.equal(inPlace, { root: run.root, entries: 0, extracted: false });
  assert.not.ok(existsSync(path.join(base, 'unused')), 'nothing is copied for a run directory');
});

test.run();
