/**
 * No secret leaks, end to end: a real run (local lab, real sshd, real ansible-playbook) prints
 * canary secrets in every form Ansible can (line by line, to_json, to_nice_json, repr, to_yaml,
 * to_nice_yaml, quote), publishes values made from them with set_stats, and writes them into a
 * file it collects. Then every file of the run directory, the bundle's bytes and the console are
 * scanned for every form of every canary.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { packBundle } from '../lib/bundle/index.js';
import { existsSync } from 'node:fs';
import * as tar from 'tar';
import { harness, tempDir } from './helpers/cli.js';
import { allFiles } from './helpers/scenario.js';

const test = suite('secrets');
const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'secrets');

/** Canaries: parts that survive any encoding are the fragments searched for. */
const QUOTED = 'Qz9head"Mq8mid\\Tw3tail-ä-end4Kp';
const APOS = "Ap5head'Ap6tail-9x";
const PEM = ['-----BEGIN CANARY KEY-----', 'MIIcanaryPemLineOne0a1b2c3d4e5f', 'canaryPemLineTwo+/9z8y7x6w==', '-----END CANARY KEY-----'].join('\n');
const FRAGMENTS = ['Qz9head', 'Mq8mid', 'Tw3tail', 'end4Kp', 'Ap5head', 'Ap6tail-9x', 'PemLineOne0a1b2c', 'PemLineTwo'];

/** Every form real Python (so Ansible) writes `values` in: json (both), repr, yaml, shlex.quote, and those JSON-encoded again. */
function pythonForms(values: string[]): string[] {
  const script = `
import json, shlex, sys, yaml
out = []
for s in json.loads(sys.stdin.read()):
    one = [s, json.dumps(s), json.dumps(s, ensure_ascii=False), repr(s), yaml.dump(s, allow_unicode=True).strip(), shlex.quote(s)]
    one += [json.dumps(f) for f in list(one)]
    out += one
print(json.dumps(out))
`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify(values), encoding: 'utf8' })) as string[];
}

/** The entry paths of a bundle. */
async function bundleEntries(file: string): Promise<string[]> {
  const out: string[] = [];
  await tar.t({ file, onReadEntry: (e: { path: string }) => void out.push(e.path) } as never);
  return out;
}

/** The leaks in `bytes`: forms and fragments found, by name. */
function leaks(bytes: Buffer, forms: string[]): string[] {
  return [...FRAGMENTS, ...forms].filter((f) => bytes.includes(f));
}

test('secrets in every form, multi-line and published with set_stats, never reach the run directory, the bundle or the console', async () => {
  const t = await tempDir('harness-secrets-');
  try {
    await writeFile(path.join(t.dir, 'key.pem'), `${PEM}\n`);
    const file = path.join(t.dir, 'scenario.yml');
    await writeFile(
      file,
      `name: secrets\nlab:\n  provider: local\n  hosts:\n    node-a: { groups: [nodes] }\n` +
        `secrets:\n  pem_key: { file: key.pem }\n  quoted_secret: { env: CANARY_QUOTED }\n  apos_secret: { env: CANARY_APOS }\n` +
        `stages:\n  - name: leak\n    playbook: ${FIXTURES}/leak.yml\n    collect: { all: ["{{ harness_host_root }}/app/"] }\n` +
        `  - { name: consume, playbook: ${FIXTURES}/consume.yml }\n`,
    );
    const scenario = await loadScenario(file);
    let console = '';
    const result = await runScenario(scenario, {
      out: path.join(t.dir, 'run'),
      write: (s) => (console += s),
      env: { ...process.env, CANARY_QUOTED: QUOTED, CANARY_APOS: APOS },
      verbosity: 3,
    });
    // Ansible got the real values (consume compares what was published with the secrets).
    assert.is(result.exitCode, 0, console);
    assert.ok(console.includes('********'), 'something was masked');
    const forms = pythonForms([QUOTED, APOS, PEM, ...PEM.split('\n')]);
    const found: string[] = [];
    for (const f of await allFiles(result.runDir)) {
      const hit = leaks(await readFile(path.join(result.runDir, f)), forms);
      if (hit.length) found.push(`${f}: ${hit.map((h) => JSON.stringify(h)).join(', ')}`);
    }
    assert.equal(found, [], `secrets in the run directory:\n${found.join('\n')}`);
    // The hosts' own disks are not in the run directory, nor in the bundle: only what was collected.
    assert.equal((await allFiles(result.runDir)).filter((f) => f.startsWith('lab/')), [], 'no lab/ in the run directory');
    const entries = await bundleEntries(result.bundle!);
    assert.equal(entries.filter((e) => e.split('/')[1] === 'lab'), [], 'no lab/ in the bundle');
    assert.ok(entries.some((e) => e.endsWith('/config.ini')), 'the collected file is bundled');
    assert.equal(leaks(gunzipSync(await readFile(result.bundle!)), forms), [], 'secrets in the bundle');
    assert.equal(leaks(Buffer.from(console), forms), [], 'secrets on the console');
    // What the run directory shows instead: the collected file and the published data, masked.
    const collected = (await allFiles(path.join(result.runDir, 'hosts'))).find((f) => f.endsWith('config.ini'));
    assert.ok(collected, 'the file was collected');
    assert.match(await readFile(path.join(result.runDir, 'hosts', collected!), 'utf8'), 'password = ********');
    const shown = JSON.parse(await readFile(path.join(result.runDir, 'stages', '02-consume', 'extra-vars.json'), 'utf8'));
    assert.is(shown.derived_value, 'x-********-y');
    assert.is(shown.same_value, '********');
    assert.is(shown.plain_value, 'not-a-secret');
  } finally {
    await t.remove();
  }
});

test('--keep-lab keeps the hosts\' disks outside the run directory and says where; harness cleanup removes them', async () => {
  const t = await tempDir('harness-keeplab-');
  try {
    const file = path.join(t.dir, 'scenario.yml');
    await writeFile(
      file,
      `name: keeplab\nlab:\n  provider: local\n  hosts:\n    node-a: { groups: [nodes] }\n` +
        `stages:\n  - name: touch\n    playbook: ${PACKAGE_ROOT}/test/fixtures/engine/touch.yml\n    vars: { marker_dir: "{{ harness_host_root }}/marks" }\n`,
    );
    const out = path.join(t.dir, 'run');
    const r = await harness(['run', file, '--out', out, '--keep-lab']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const kept = /kept the hosts' disks \(--keep-lab\) in (\S+);/.exec(r.stdout)?.[1];
    assert.ok(kept, `the console says where: ${r.stdout}`);
    assert.ok(path.relative(out, kept!).startsWith('..'), 'outside the run directory');
    assert.ok(existsSync(path.join(kept!, 'node-a', 'marks', 'touch-node-a')), 'the host wrote on its disk, and it is kept');
    assert.not.ok(existsSync(path.join(out, 'lab')), 'no lab/ in the run directory');
    const entries = await bundleEntries(`${out}.tar.gz`);
    assert.equal(entries.filter((e) => e.split('/')[1] === 'lab' || e.includes('touch-node-a')), [], 'nothing of the disks in the bundle');
    const c = await harness(['cleanup', out]);
    assert.is(c.code, 0, c.stderr);
    assert.match(c.stdout, `the hosts' disks in ${kept}`);
    assert.not.ok(existsSync(kept!), 'cleanup removed them');
  } finally {
    await t.remove();
  }
});

test('a run directory that still holds a top lab/ (an earlier version, hostsRoot inside it): the bundle leaves it out', async () => {
  const t = await tempDir('harness-oldlab-');
  try {
    const run = path.join(t.dir, 'run');
    await mkdir(path.join(run, 'lab', 'node-a'), { recursive: true });
    await mkdir(path.join(run, 'hosts', 'node-a', 'lab'), { recursive: true });
    await writeFile(path.join(run, 'lab', 'node-a', 'big.bin'), 'the host disk\n');
    await writeFile(path.join(run, 'hosts', 'node-a', 'lab', 'collected.txt'), 'collected\n');
    const packed = await packBundle(run);
    const entries = await bundleEntries(packed.file);
    assert.equal(entries.filter((e) => e.startsWith('run/lab')), [], entries.join(', '));
    assert.ok(entries.includes('run/hosts/node-a/lab/collected.txt'), 'a lab/ below hosts/ is what was collected: kept');
    assert.ok(packed.skipped.some((k) => k.path === 'lab' && /host disks/.test(k.reason)));
  } finally {
    await t.remove();
  }
});

test.run();
