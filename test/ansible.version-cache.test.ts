// findAnsible's cache: a stand-in `ansible-playbook` (a shell script on PATH that prints what
// ansible-playbook --version prints and counts its runs; a mock, as an Ansible upgrade cannot be
// made here) run through `#!/usr/bin/env fakesh`, fakesh being a copy of /bin/sh in the same
// folder; then the real ansible-playbook with the default cache file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFile, chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findAnsible } from '../lib/ansible/version.js';

const test = suite('ansible: findAnsible cache');
let dir: string;
let bin: string;
let counter: string;
let cacheFile: string;
let env: NodeJS.ProcessEnv;
let moduleDir: string;

test.before.each(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'harness-ansible-cache-'));
  bin = path.join(dir, 'bin');
  moduleDir = path.join(dir, 'site-packages', 'ansible');
  await mkdir(bin);
  await mkdir(moduleDir, { recursive: true });
  await writeFile(path.join(moduleDir, 'release.py'), "__version__ = '9.9.9'\n");
  counter = path.join(dir, 'runs.txt');
  cacheFile = path.join(dir, 'cache', 'ansible.json');
  await copyFile('/bin/sh', path.join(bin, 'fakesh'));
  await chmod(path.join(bin, 'fakesh'), 0o755);
  await writeScript('9.9.9');
  env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
});
test.after.each(() => rm(dir, { recursive: true, force: true }));

async function writeScript(version: string): Promise<void> {
  const script = path.join(bin, 'ansible-playbook');
  await writeFile(
    script,
    `#!/usr/bin/env fakesh\necho run >> '${counter}'\ncat <<EOT\nansible-playbook [core ${version}]\n  config file = None\n  ansible python module location = ${moduleDir}\n  executable location = ${script}\n  python version = 3.99.1 (main, Jan 1 2026) [GCC] (/usr/bin/python3)\nEOT\n`,
  );
  await chmod(script, 0o755);
}
const runs = async (): Promise<number> => (existsSync(counter) ? (await readFile(counter, 'utf8')).split('\n').filter(Boolean).length : 0);
const find = () => findAnsible({ env, cacheFile });

/** Sets a file's mtime `seconds` later than it is. */
async function touchLater(file: string, seconds = 10): Promise<void> {
  const s = await stat(file);
  await utimes(file, s.atime, new Date(s.mtimeMs + seconds * 1000));
}

test('the second call is answered from the cache; the answer is the same', async () => {
  const first = await find();
  assert.equal(first, { playbook: path.join(bin, 'ansible-playbook'), version: '9.9.9', python: '3.99.1' });
  assert.is(await runs(), 1);
  assert.equal(await find(), first);
  assert.equal(await find(), first);
  assert.is(await runs(), 1, 'ansible-playbook --version ran once');
});

test('a changed ansible-playbook (mtime, then size at the same mtime) is asked again', async () => {
  await find();
  await touchLater(path.join(bin, 'ansible-playbook'));
  await find();
  assert.is(await runs(), 2, 'a new mtime is a miss');
  const script = path.join(bin, 'ansible-playbook');
  const before = await stat(script);
  await writeScript('9.9.10');
  await utimes(script, before.atime, before.mtime);
  assert.is((await find()).version, '9.9.10', 'a new size at the old mtime is a miss');
  assert.is(await runs(), 3);
  await find();
  assert.is(await runs(), 3, 'and then a hit again');
});

test('a changed interpreter (from the #! line, found on PATH) or a changed ansible release.py is asked again', async () => {
  await find();
  await touchLater(path.join(bin, 'fakesh'));
  await find();
  assert.is(await runs(), 2, 'the interpreter changed');
  await appendFile(path.join(moduleDir, 'release.py'), "__version__ = '9.9.11'\n");
  await find();
  assert.is(await runs(), 3, "Ansible's release.py changed (a pip upgrade that kept the script)");
  await find();
  assert.is(await runs(), 3);
});

test('a corrupt cache file is ignored and replaced; a cache folder that cannot be written is no error', async () => {
  await mkdir(path.dirname(cacheFile), { recursive: true });
  for (const junk of ['{"format": 1, "entr', '[1, 2]', '{"format": 1, "entries": []}', 'null', '{"format": 1, "entries": {"x": 5}}']) {
    await writeFile(cacheFile, junk);
    assert.is((await find()).version, '9.9.9', junk);
  }
  assert.is(await runs(), 5);
  const parsed = JSON.parse(await readFile(cacheFile, 'utf8')) as { entries: Record<string, unknown> };
  assert.is(Object.keys(parsed.entries).length, 1, 'rewritten whole');
  // an entry with a bad answer under the right key
  const key = Object.keys(parsed.entries)[0]!;
  await writeFile(cacheFile, JSON.stringify({ format: 1, entries: { [key]: { install: { playbook: '', version: 7 } } } }));
  assert.is((await find()).version, '9.9.9');
  assert.is(await runs(), 6);
  const blocked = path.join(dir, 'not-a-dir');
  await writeFile(blocked, '');
  assert.is((await findAnsible({ env, cacheFile: path.join(blocked, 'ansible.json') })).version, '9.9.9');
});

test('cacheFile false always asks; a missing ansible-playbook is still a LabError', async () => {
  await findAnsible({ env, cacheFile: false });
  await findAnsible({ env, cacheFile: false });
  assert.is(await runs(), 2);
  assert.not.ok(existsSync(cacheFile));
  try {
    await findAnsible({ env, cacheFile, binary: 'ansible-playbook-nowhere' });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is((err as Error).name, 'LabError');
  }
});

test('the real ansible-playbook: the default cache file under XDG_CACHE_HOME, the same answer from it', async () => {
  const real = { ...process.env, XDG_CACHE_HOME: path.join(dir, 'xdg') };
  const first = await findAnsible({ env: real });
  assert.ok(existsSync(path.join(dir, 'xdg', 'ansible-harness', 'ansible.json')));
  assert.equal(await findAnsible({ env: real }), first);
});

test.run();
