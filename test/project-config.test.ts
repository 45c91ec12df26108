/**
 * Issue 11, items 11 and 13 in real runs: whole-number floats reach the playbook as floats, and
 * the project's own ansible.cfg (beside the scenario, or ANSIBLE_CONFIG) is honoured.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ansibleConfig, parseIni, userSettings } from '../lib/ansible/index.js';
import { harness, tempDir } from './helpers/cli.js';

const LOCAL_INVENTORY = '[web]\nweb-0\n\n[all:vars]\nansible_connection=local\nansible_python_interpreter=/usr/bin/python3\n';

async function outputOf(runDir: string, stage: string): Promise<string> {
  return readFile(path.join(runDir, 'stages', `01-${stage}`, 'output.log'), 'utf8');
}

test('whole-number floats stay floats: scenario vars, stage vars and inventory vars reach the playbook as float 2.0', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'hosts.ini'), LOCAL_INVENTORY.replace('web-0\n', 'web-0 inv_release=2.0\n'));
    await writeFile(
      path.join(t.dir, 'show.yml'),
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: "TYPES {{ release }} {{ release | type_debug }} {{ stage_release | type_debug }} {{ inv_release }} {{ inv_release | type_debug }} {{ count | type_debug }}"\n',
    );
    const file = path.join(t.dir, 's.yml');
    await writeFile(file, 'name: floats\nlab: { provider: static, inventory: hosts.ini }\nvars: { release: 2.0, count: 2 }\nstages:\n  - name: show\n    playbook: show.yml\n    vars: { stage_release: 3.0 }\n');
    const out = path.join(t.dir, 'run');
    const r = await harness(['run', file, '--out', out], { cwd: t.dir });
    assert.is(r.code, 0, r.stderr + r.stdout);
    assert.match(await outputOf(out, 'show'), /TYPES 2\.0 float float 2\.0 float int/);
  } finally {
    await t.remove();
  }
});

test("the project's ansible.cfg beside the scenario is honoured: its relative roles_path is relative to it", async () => {
  const t = await tempDir();
  try {
    const project = path.join(t.dir, 'project');
    // Not in roles/ beside the playbook (Ansible looks there by itself): only roles_path finds it.
    await mkdir(path.join(project, 'shared', 'roles', 'greet', 'tasks'), { recursive: true });
    await writeFile(path.join(project, 'shared', 'roles', 'greet', 'tasks', 'main.yml'), '- debug: { msg: "hello from the greet role" }\n');
    await writeFile(path.join(project, 'ansible.cfg'), '[defaults]\nroles_path = ./shared/roles\n');
    await writeFile(path.join(project, 'hosts.ini'), LOCAL_INVENTORY);
    await writeFile(path.join(project, 'site.yml'), '- hosts: all\n  gather_facts: false\n  roles: [greet]\n');
    const file = path.join(project, 's.yml');
    await writeFile(file, 'name: cfg\nlab: { provider: static, inventory: hosts.ini }\nstages:\n  - name: greet\n    playbook: site.yml\n');
    const out = path.join(t.dir, 'run');
    // Run from another folder: the cfg is found beside the scenario, its paths against its own folder.
    const r = await harness(['run', file, '--out', out], { cwd: t.dir });
    assert.is(r.code, 0, r.stderr + r.stdout);
    assert.match(await outputOf(out, 'greet'), /hello from the greet role/);
    const cfg = await readFile(path.join(out, 'ansible.cfg'), 'utf8');
    assert.match(cfg, new RegExp(`roles_path = ${path.join(project, 'shared', 'roles').replace(/[.]/g, '\\.')}`));

    // ANSIBLE_CONFIG names another file: that one wins, with paths relative to it.
    const elsewhere = path.join(t.dir, 'elsewhere');
    await mkdir(path.join(elsewhere, 'more-roles', 'greet', 'tasks'), { recursive: true });
    await writeFile(path.join(elsewhere, 'more-roles', 'greet', 'tasks', 'main.yml'), '- debug: { msg: "hello from ANSIBLE_CONFIG" }\n');
    await writeFile(path.join(elsewhere, 'my.cfg'), '[defaults]\nroles_path = more-roles\n');
    const out2 = path.join(t.dir, 'run2');
    const r2 = await harness(['run', file, '--out', out2], { cwd: t.dir, env: { ANSIBLE_CONFIG: path.join(elsewhere, 'my.cfg') } });
    assert.is(r2.code, 0, r2.stderr + r2.stdout);
    assert.match(await outputOf(out2, 'greet'), /hello from ANSIBLE_CONFIG/);
  } finally {
    await t.remove();
  }
});

test("a broken project ansible.cfg is a validation error naming its line", async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'ansible.cfg'), '[defaults]\nforks = 3\nthis is no setting\n');
    await writeFile(path.join(t.dir, 'hosts.ini'), LOCAL_INVENTORY);
    await writeFile(path.join(t.dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
    await writeFile(path.join(t.dir, 's.yml'), 'name: cfg\nlab: { provider: static, inventory: hosts.ini }\nstages:\n  - name: a\n    playbook: site.yml\n');
    const r = await harness(['validate', path.join(t.dir, 's.yml')], { cwd: t.dir });
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /ansible\.cfg:3: is not an INI line Ansible reads/);
  } finally {
    await t.remove();
  }
});

test("ansibleConfig layers ours over the user's: theirs kept, ours where we must, callbacks merged", () => {
  const user = userSettings({ file: '/p/ansible.cfg', text: '[defaults]\nroles_path = ./roles:/abs/roles\nforks = 20 ; inline\ninventory = ./inv\ncallbacks_enabled = profile_tasks\n# comment\nvault_password_file = vault.txt\n\n[ssh_connection]\npipelining = False\n\n[galaxy]\nserver = https://example.invalid\n' });
  const text = ansibleConfig({ inventory: '/run/hosts.yml', controlPathDir: '/run/cp', user });
  const cfg = parseIni(text, 'run.cfg');
  const d = cfg.get('defaults')!;
  assert.is(d.get('roles_path'), '/p/roles:/abs/roles');
  assert.is(d.get('vault_password_file'), '/p/vault.txt');
  assert.is(d.get('forks'), '20');
  assert.is(d.get('inventory'), '/run/hosts.yml');
  assert.is(d.get('callbacks_enabled'), 'harness_events,profile_tasks');
  assert.is(cfg.get('ssh_connection')!.get('pipelining'), 'True');
  assert.is(cfg.get('galaxy')!.get('server'), 'https://example.invalid');
});

test.run();
