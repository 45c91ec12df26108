import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../lib/errors.js';
import { applyChanges, loadChanges } from '../lib/queue/changes.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'harness-changes-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, text);
  return f;
}

test('a queue of changes: vars and files, files from other files, applied in order', async () => {
  await write('new-task.yml', '- debug: msg=v2\n');
  const f = await write('ok.yml', `- id: pkg-1\n  description: bump the package\n  vars: { demo_version: "1.1" }\n- id: role-2\n  files:\n    roles/demo/tasks/main.yml: { from: new-task.yml }\n- id: pkg-3\n  vars: { demo_version: "1.2", extra: true }\n  depends: [pkg-1]\n`);
  const changes = await loadChanges(f);
  assert.equal(changes.map((c) => c.id), ['pkg-1', 'role-2', 'pkg-3']);
  assert.equal(changes[1]!.files, { 'roles/demo/tasks/main.yml': '- debug: msg=v2\n' });
  assert.equal(applyChanges(changes), { vars: { demo_version: '1.2', extra: true }, files: { 'roles/demo/tasks/main.yml': '- debug: msg=v2\n' } });
  assert.equal(applyChanges(changes.slice(0, 1)).vars, { demo_version: '1.1' });
});

test('bad queues: every problem with its line and field, at once', async () => {
  const f = await write('bad.yml', `- id: a\n  vars: { x: 1 }\n- id: b\n  colour: red\n- vars: { y: 2 }\n- id: d\n  files: { ../../etc/passwd: x, ok.txt: { from: missing.txt } }\n- id: e\n`);
  try {
    await loadChanges(f);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InputError);
    const m = (err as Error).message;
    assert.match(m, /bad\.yml:4:3: \[1\]\.colour: unknown key 'colour'/);
    assert.match(m, /bad\.yml:3:3: \[1\]: change 'b' changes nothing/);
    assert.match(m, /bad\.yml:5:\d+: \[2\]\.id: missing: every change needs an id/);
    assert.match(m, /\[3\]\.files\["\.\.\/\.\.\/etc\/passwd"\]: '\.\.\/\.\.\/etc\/passwd' leaves the project/);
    assert.match(m, /\[3\]\.files\["ok\.txt"\]\.from: no such file: .*missing\.txt/);
    assert.match(m, /bad\.yml:8:3: \[4\]: change 'e' changes nothing/);
  }
  const dep = await write('dep.yml', `- id: a\n  vars: { x: 1 }\n  depends: [b]\n- id: b\n  vars: { x: 2 }\n`);
  await loadChanges(dep).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /dep\.yml:3:\d+: \[0\]\.depends: depends on 'b', which comes later in the queue \(a cycle/));
  await loadChanges(await write('empty.yml', '[]\n')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /the queue is empty/));
  await loadChanges(await write('map.yml', 'id: a\n')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /a YAML list of changes/));
});

test.run();
