import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A small project for the change-queue tests: one real sshd host (the local lab), a `deploy`
 * stage with a checkpoint (it can sleep `deploy_sleep` seconds) and a `test` stage that asserts
 * `healthy` from `settings.yml` and, when `needs_file` is set, that the file exists on the controller.
 */
export const QUEUE_FILES: Record<string, string> = {
  'scenario.yml': `name: queue
lab:
  provider: local
  hosts:
    node-0: { groups: [nodes] }
stages:
  - { name: deploy, playbook: deploy.yml, checkpoint: true }
  - { name: test, playbook: test.yml }
`,
  'deploy.yml': `- name: Deploy
  hosts: all
  gather_facts: false
  tasks:
    - name: Take a while
      ansible.builtin.command: "sleep {{ deploy_sleep | default(0) }}"
    - name: Install the service
      ansible.builtin.copy: { content: "deployed\\n", dest: "{{ harness_host_root }}/app.txt" }
`,
  'test.yml': `- name: Test
  hosts: all
  gather_facts: false
  vars_files: [settings.yml]
  tasks:
    - name: Look for the service
      ansible.builtin.stat: { path: "{{ harness_host_root }}/app.txt" }
      register: app
    - name: Check the service
      ansible.builtin.assert:
        that: [app.stat.exists, healthy | bool]
        fail_msg: the service is unhealthy
    - name: Check the external dependency
      ansible.builtin.stat: { path: "{{ needs_file }}" }
      delegate_to: localhost
      register: dep
      when: needs_file is defined
    - name: The external dependency is there
      ansible.builtin.assert: { that: [dep.stat.exists], fail_msg: "missing {{ needs_file | default('') }}" }
      when: needs_file is defined
`,
  'settings.yml': 'healthy: true\n',
};

/** Writes the project into `dir`. */
export async function writeQueueProject(dir: string, files: Record<string, string> = QUEUE_FILES): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
}

/** Runs git in `dir` (a fixed identity, no user config). */
export async function gitIn(dir: string, ...args: string[]): Promise<string> {
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' };
  return (await exec('git', args, { cwd: dir, env, encoding: 'utf8' })).stdout.trim();
}

/**
 * A git repository in `dir` holding the project: a base commit, then `n` commits each adding a
 * note (`notes/i.txt`), where commit `broken` (1-based) also sets `healthy: false`. Returns the
 * commit ids, base first.
 */
export async function queueRepo(dir: string, n: number, broken: number): Promise<string[]> {
  await writeQueueProject(dir);
  await gitIn(dir, 'init', '-q', '-b', 'main');
  await gitIn(dir, 'add', '-A');
  await gitIn(dir, 'commit', '-q', '-m', 'base');
  const ids = [await gitIn(dir, 'rev-parse', 'HEAD')];
  for (let i = 1; i <= n; i++) {
    await mkdir(path.join(dir, 'notes'), { recursive: true });
    await writeFile(path.join(dir, 'notes', `${i}.txt`), `note ${i}\n`);
    if (i === broken) await writeFile(path.join(dir, 'settings.yml'), 'healthy: false\n');
    await gitIn(dir, 'add', '-A');
    await gitIn(dir, 'commit', '-q', '-m', i === broken ? `change ${i}: breaks the test` : `change ${i}`);
    ids.push(await gitIn(dir, 'rev-parse', 'HEAD'));
  }
  return ids;
}
