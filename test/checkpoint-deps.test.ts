// The playbook dependency walk, on a fixture project Ansible itself accepts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { playbookDependencies } from '../lib/checkpoint/index.js';
import { splitArgs, parseFreeForm } from '../lib/checkpoint/deps/task.js';
import { packageFile } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';

const PROJECT = packageFile('test', 'fixtures', 'checkpoint', 'project');
const rel = (files: string[], root = PROJECT): string[] => files.map((f) => path.relative(root, f));

test('the fixture project is a playbook Ansible accepts (so the walk is tested on real syntax)', async () => {
  const { stdout } = await promisify(execFile)('ansible-playbook', ['-i', 'localhost,', '--list-tasks', 'site.yml'], { cwd: PROJECT });
  // Ansible resolved the same includes the walk must find.
  for (const task of ['Base file', 'Pre', 'OS specific', 'Confs']) assert.match(stdout, task);
});

test('finds imports, includes, roles, vars, templates, files, lookups and adjacent folders', async () => {
  const deps = await playbookDependencies(path.join(PROJECT, 'site.yml'));
  assert.equal(rel(deps.files), [
    'base.yml', // import_playbook
    'files/base.txt', // copy src in tasks/base.yml: tasks/files/ missing, so <playbook dir>/files/
    'files/conf.d/a.conf', // with_fileglob conf.d/*.conf (readme.md does not match)
    'files/conf.d/b.conf',
    'files/debian.txt', // copy in os/Debian.yml, reached through the templated include
    'files/motd.txt', // lookup('file', 'motd.txt') in a free-form debug
    'files/rescue.txt', // copy src= free form, in a block's rescue
    'files/vars-lookup.txt', // lookup('ansible.builtin.file', ...) inside a vars file
    'group_vars/all.yml', // loaded by Ansible beside the playbook
    'macros/common.j2', // {% import 'macros/common.j2' %} in templates/nested.j2
    'os/Debian.yml', // include_tasks "os/{{ ansible_os_family }}.yml": the whole os/ folder
    'os/RedHat.yml',
    'roles/common/tasks/main.yml', // dependency of web (meta/main.yml)
    'roles/db/tasks/main.yml', // roles: - role: db
    'roles/shared/tasks/main.yml', // include_role in db
    'roles/web/meta/main.yml', // roles: - web (whole folder)
    'roles/web/tasks/main.yml',
    'roles/web/templates/web.j2',
    'scripts/cleanup.sh', // script with arguments, in a block's always
    'site.yml', // the playbook itself
    'tasks/base.yml', // import_tasks in the imported playbook
    'tasks/handlers.yml', // import_tasks in handlers
    'tasks/nested.yml', // include_tasks relative to the including file (tasks/pre.yml)
    'tasks/pre.yml', // ansible.builtin.include_tasks in pre_tasks
    'tasks/shared.yml', // "{{ role_path }}/../../tasks/shared.yml" from role db
    'templates/a.j2', // template "{{ flavor }}.j2": the whole templates/ folder
    'templates/app.conf.j2',
    'templates/b.j2',
    'templates/nested.j2',
    'vars/common.yml', // vars_files
    'vars/extra.yml', // include_vars
  ]);
  assert.not.ok(deps.files.some((f) => f.includes('unused')), 'an unreferenced role or file must not count');
  assert.is(deps.unresolved.length, 2);
  assert.match(deps.unresolved[0]!, /site\.yml: include_tasks 'os\/\{\{ ansible_os_family \}\}\.yml' is templated; counted .*\/os$/);
  assert.match(deps.unresolved[1]!, /site\.yml: template src '\{\{ flavor \}\}\.j2' is templated; counted .*\/templates$/);
});

test('a missing file, a collection role and broken YAML are reported, not fatal', async () => {
  const t = await tempDir('harness-deps-');
  try {
    await writeFile(
      path.join(t.dir, 'play.yml'),
      [
        '- hosts: all',
        '  roles: [acme.tools.setup]',
        '  tasks:',
        '    - template: {src: gone.j2, dest: /x}',
        '    - include_tasks: broken.yml',
        '    - copy: {src: "{{ lookup(\'file\', some_var) }}", dest: /y}',
        '    - unarchive: {src: "https://example.org/x.tgz", dest: /z}',
        '',
      ].join('\n'),
    );
    await writeFile(path.join(t.dir, 'broken.yml'), '- name: [unclosed\n');
    await mkdir(path.join(t.dir, 'files'));
    await writeFile(path.join(t.dir, 'files', 'any.txt'), 'x');
    const deps = await playbookDependencies(path.join(t.dir, 'play.yml'));
    assert.equal(rel(deps.files, t.dir), ['broken.yml', 'files/any.txt', 'play.yml']);
    const text = deps.unresolved.join('\n');
    assert.match(text, "role 'acme.tools.setup' is from a collection");
    assert.match(text, "template src 'gone.j2' not found (looked for");
    assert.match(text, 'broken.yml: could not be read as YAML');
    assert.match(text, /lookup\('file', some_var\) names its file with an expression; counted .*\/files/);
  } finally {
    await t.remove();
  }
});

test('free-form arguments split like Ansible: quotes and Jinja blocks keep their spaces', () => {
  assert.equal(splitArgs(`src="a b.j2" dest={{ x | default('/t y') }} mode=0644`), ['src="a b.j2"', "dest={{ x | default('/t y') }}", 'mode=0644']);
  assert.equal(parseFreeForm('scripts/run.sh --flag creates=/tmp/x'), { creates: '/tmp/x', _raw_params: 'scripts/run.sh --flag' });
});

test('a templated name with no typed folder counts the files beside it whose name fits', async () => {
  const t = await tempDir('harness-deps-');
  try {
    await writeFile(path.join(t.dir, 'play.yml'), '- hosts: all\n  tasks:\n    - template: {src: "conf-{{ env }}.j2", dest: /x}\n');
    for (const f of ['conf-dev.j2', 'conf-prod.j2', 'other.j2', 'conf-dev.txt']) await writeFile(path.join(t.dir, f), f);
    const deps = await playbookDependencies(path.join(t.dir, 'play.yml'));
    assert.equal(rel(deps.files, t.dir), ['conf-dev.j2', 'conf-prod.j2', 'play.yml']);
    assert.match(deps.unresolved[0]!, /template src 'conf-\{\{ env \}\}\.j2' is templated; counted .*\/conf-\*\.j2$/);
  } finally {
    await t.remove();
  }
});

test('import cycles end', async () => {
  const t = await tempDir('harness-deps-');
  try {
    await writeFile(path.join(t.dir, 'a.yml'), '- import_playbook: b.yml\n');
    await writeFile(path.join(t.dir, 'b.yml'), '- import_playbook: a.yml\n- hosts: all\n  tasks:\n    - include_tasks: t.yml\n');
    await writeFile(path.join(t.dir, 't.yml'), '- include_tasks: t.yml\n');
    const deps = await playbookDependencies(path.join(t.dir, 'a.yml'));
    assert.equal(rel(deps.files, t.dir), ['a.yml', 'b.yml', 't.yml']);
  } finally {
    await t.remove();
  }
});

test.run();
