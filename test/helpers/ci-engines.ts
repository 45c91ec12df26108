/**
 * What the CI-engine tests share: a git repository holding the demo tree (scenarios/ and
 * playbooks/ of this package), and gitlab-ci-local run on Node 20 through the Set-method
 * polyfill (test/fixtures/node22-set-methods.mjs; gitlab-ci-local 4.75 needs Node 22).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { harness } from './cli.js';

export const GITLAB_CI_LOCAL = path.join(PACKAGE_ROOT, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');
export const SET_POLYFILL = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'node22-set-methods.mjs');
export const ACTION_VALIDATOR = path.join(PACKAGE_ROOT, 'node_modules', '.bin', 'action-validator');

/** Runs a program; resolves with its exit code and output (never rejects). */
export function runProgram(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}`, stdout: String(stdout) });
    });
  });
}

/** gitlab-ci-local with `args`, in `cwd`, its home folder in `home`. */
export function gitlabCiLocal(cwd: string, home: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; out: string; stdout: string }> {
  return runProgram(process.execPath, ['--import', SET_POLYFILL, GITLAB_CI_LOCAL, '--home', home, '--no-color', ...args], { cwd, timeoutMs });
}

/** A git repository at `dir` with the demo tree, committed (gitlab-ci-local copies tracked files). */
export async function demoRepo(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await cp(path.join(PACKAGE_ROOT, 'scenarios'), path.join(dir, 'scenarios'), { recursive: true });
  await cp(path.join(PACKAGE_ROOT, 'playbooks'), path.join(dir, 'playbooks'), { recursive: true });
  await writeFile(path.join(dir, '.gitignore'), 'runs/\n.gitlab-ci-local/\n');
  const git = (...a: string[]) => runProgram('git', a, { cwd: dir, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' } });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  const c = await git('commit', '-qm', 'demo');
  if (c.code !== 0) throw new Error(`git commit in ${dir}: ${c.out}`);
}

/** `harness export` of the demo tree from `repo` (the jobs call this package's bin/harness, each with a cache of its own). */
export async function exportDemo(repo: string, to: 'gitlab' | 'github' | 'zuul', out: string, store: string[]): Promise<void> {
  const command = `XDG_CACHE_HOME=$CI_PROJECT_DIR/.harness-cache ${process.execPath} ${path.join(PACKAGE_ROOT, 'bin', 'harness')}`;
  const r = await harness(['export', '--to', to, 'scenarios/demo-tree.yml', '-o', out, ...store, '--setup', '', '--harness-command', command], { cwd: repo });
  if (r.code !== 0) throw new Error(`harness export --to ${to}: ${r.stderr}${r.stdout}`);
}
