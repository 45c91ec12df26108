// bin/harness run as a program: its shell line starts Node without NODE_EXTRA_CA_CERTS (which
// Node would read and parse before any JavaScript), puts it back for every process the harness
// starts, and the harness's TLS client (the OCI store's) trusts those certificates itself
// (lib/util/extra-ca.ts). `node bin/harness` skips the shell line: Node loads them as ever.
import { execFile, execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { RegistryClient } from '../lib/store/oci/client.js';
import { parseStoreRef } from '../lib/store/oci/reference.js';
import { deferredExtraCa } from '../lib/util/extra-ca.js';
import { cliEnv, harness, tempDir } from './helpers/cli.js';
import { writeScenario } from './helpers/scenario.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'harness');
const MARK = Symbol.for('ansible-harness.extra-ca');

/** Runs a command; resolves with its exit code and output (never rejects). */
function runCmd(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }));
  });
}

/** Asserts that `p` rejects with a message matching `re`. */
async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  assert.ok(err, 'it failed');
  assert.match(err!.message, re);
}

test('run as a program, Node starts without NODE_EXTRA_CA_CERTS and the playbook still gets it; `node bin/harness` loads it as Node does', async () => {
  const t = await tempDir();
  try {
    // A file Node cannot load: Node warns about it as it starts, before any JavaScript runs.
    const missing = path.join(t.dir, 'no-such-ca.pem');
    const pb = path.join(t.dir, 'env.yml');
    await writeFile(pb, `- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: { msg: "extra ca is [{{ lookup('env', 'NODE_EXTRA_CA_CERTS') }}], marker [{{ lookup('env', 'HARNESS_NODE_EXTRA_CA_CERTS') }}]" }\n`);
    const file = await writeScenario(t.dir, `name: ca\nlab: { provider: static, inventory: @F/local.ini }\nstages:\n  - { name: a, playbook: env.yml }\n`);
    const out = path.join(t.dir, 'run');
    const env = { NODE_EXTRA_CA_CERTS: missing, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const r = await harness(['run', file, '--out', out], { env });
    assert.is(r.code, 0, r.stderr);
    assert.not.match(r.stderr, /Ignoring extra certs/, 'Node did not read the file as it started');
    const log = await readFile(path.join(out, 'stages', '01-a', 'output.log'), 'utf8');
    assert.match(log, `extra ca is [${missing}], marker []`);

    // The JavaScript path alone (no shell line): Node reads the variable itself, and says so.
    const direct = await runCmd(process.execPath, [BIN, 'validate', file], cliEnv(env));
    assert.is(direct.code, 0, direct.stderr);
    assert.match(direct.stderr, /Ignoring extra certs from `[^`]*no-such-ca\.pem`/);
    const viaShell = await runCmd(BIN, ['validate', file], cliEnv(env));
    assert.is(viaShell.code, 0, viaShell.stderr);
    assert.not.match(viaShell.stderr, /Ignoring extra certs/);
  } finally {
    await t.remove();
  }
});

test('the OCI client trusts the deferred extra certificates, and a --store-ca replaces them as Node\'s `ca` does', async () => {
  const t = await tempDir();
  const g = globalThis as Record<symbol, unknown>;
  const server = https.createServer();
  try {
    const key = path.join(t.dir, 'key.pem');
    const cert = path.join(t.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server.setSecureContext({ key: await readFile(key), cert: await readFile(cert) });
    server.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const ref = parseStoreRef(`oci://127.0.0.1:${(server.address() as AddressInfo).port}/ci/x`);

    delete g[MARK];
    assert.is(deferredExtraCa(), undefined, 'nothing deferred: Node\'s own roots');
    await rejects(new RegistryClient(ref).ping(), /self.signed|certificate/i);

    g[MARK] = cert;
    assert.ok(deferredExtraCa()!.length > 1, "Node's roots and the file");
    await new RegistryClient(ref).ping();

    // An explicit CA list is the whole trust: the deferred file is not added to it.
    const other = path.join(t.dir, 'other.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(t.dir, 'k2.pem'), '-out', other, '-days', '2', '-subj', '/CN=other'], { stdio: 'ignore' });
    await rejects(new RegistryClient(ref, { ca: await readFile(other) }).ping(), /self.signed|certificate/i);
    await new RegistryClient(ref, { ca: await readFile(cert) }).ping();

    // A file that cannot be read: a warning, and Node's roots alone (what Node itself does).
    g[MARK] = path.join(t.dir, 'gone.pem');
    const warnings: string[] = [];
    assert.is(deferredExtraCa((w) => warnings.push(w)), undefined);
    assert.match(warnings.join('\n'), /Ignoring extra certs from `.*gone\.pem`/);
  } finally {
    delete g[MARK];
    server.close();
    await t.remove();
  }
});

test.run();
