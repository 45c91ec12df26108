/**
 * `--git GOOD..BAD`: the commits of the repository that holds the scenario as a queue of
 * changes (first parents, oldest first), and the throw-away worktree a probe runs in. A probe of
 * a prefix checks out that commit; a probe with changes left out (a culprit found earlier)
 * starts at GOOD and cherry-picks the commits applied, in order.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { InputError } from '../errors.js';
import type { QueueChange } from './search.js';

const exec = promisify(execFile);

/** A commit of the range, as a change of the queue. */
export interface GitChange extends QueueChange {
  /** The full commit id. */
  commit: string;
  description: string;
}

/** The range a `--git` argument names, resolved in the repository. */
export interface GitQueue {
  /** The repository's top folder. */
  repo: string;
  /** The scenario file relative to `repo`: where it is in every worktree. */
  scenario: string;
  /** The good commit (prefix 0). */
  base: string;
  changes: GitChange[];
}

/** Runs git in `cwd`; stdout trimmed. */
export async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  return stdout.trim();
}

/**
 * `git worktree add/remove/prune` of one repository, one at a time: probes run at once
 * (`--jobs`) share the repository's worktree list.
 */
let worktreeLock: Promise<unknown> = Promise.resolve();
function worktreeOp<T>(op: () => Promise<T>): Promise<T> {
  const next = worktreeLock.then(op, op);
  worktreeLock = next.catch(() => {});
  return next;
}

const gitError = (err: unknown): string => ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0] ?? '';

/** Reads `GOOD..BAD` of the repository holding `scenarioFile`. Bad ranges are InputErrors naming `--git`. */
export async function readGitQueue(scenarioFile: string, range: string): Promise<GitQueue> {
  const m = /^([^.\s][^\s]*?)\.\.([^.\s][^\s]*)$/.exec(range);
  if (!m) throw new InputError(`--git ${range}: give a range GOOD..BAD (e.g. --git v1.0..main): GOOD passes, BAD fails`);
  const dir = path.dirname(path.resolve(scenarioFile));
  let repo: string;
  try {
    repo = await git(dir, ['rev-parse', '--show-toplevel']);
  } catch (err) {
    throw new InputError(`--git ${range}: the scenario ${scenarioFile} is not in a git repository (${gitError(err)})`);
  }
  const resolveRev = async (rev: string): Promise<string> => {
    try {
      return await git(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]);
    } catch {
      throw new InputError(`--git ${range}: '${rev}' is no commit of ${repo}`);
    }
  };
  const base = await resolveRev(m[1]!);
  const tip = await resolveRev(m[2]!);
  try {
    await git(repo, ['merge-base', '--is-ancestor', base, tip]);
  } catch {
    throw new InputError(`--git ${range}: '${m[1]}' is not an ancestor of '${m[2]}': GOOD must come before BAD in history`);
  }
  const log = await git(repo, ['log', '--first-parent', '--reverse', '--format=%H%x00%s', `${base}..${tip}`]);
  if (!log) throw new InputError(`--git ${range}: the range holds no commit: the queue is empty`);
  const changes = log.split('\n').map((line) => {
    const [commit, subject] = line.split('\0') as [string, string];
    return { id: commit.slice(0, 12), commit, description: subject, depends: [] };
  });
  const scenario = path.relative(repo, path.resolve(scenarioFile));
  if (scenario.startsWith('..')) throw new InputError(`--git ${range}: the scenario ${scenarioFile} lies outside the repository ${repo}`);
  return { repo, scenario, base, changes };
}

/** A worktree checked out for one probe; `remove` takes it away again (idempotent). */
export interface ProbeWorktree {
  dir: string;
  /** Why the applied set could not be made (a commit that does not apply alone), if it could not. */
  untestable?: string;
  remove(): Promise<void>;
}

/**
 * A detached worktree with the commits at `applied` (queue indexes, ascending): the commit itself
 * for a prefix, else GOOD plus the applied commits cherry-picked in order.
 */
export async function addWorktree(q: GitQueue, applied: readonly number[]): Promise<ProbeWorktree> {
  const holder = await mkdtemp(path.join(os.tmpdir(), 'harness-probe-'));
  const dir = path.join(holder, 'src');
  const isPrefix = applied.every((i, k) => i === k);
  const at = isPrefix && applied.length ? q.changes[applied.length - 1]!.commit : q.base;
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await worktreeOp(async () => {
      await git(q.repo, ['worktree', 'remove', '--force', dir]).catch(() => {});
      await rm(holder, { recursive: true, force: true });
      await git(q.repo, ['worktree', 'prune']).catch(() => {});
    });
  };
  try {
    await worktreeOp(() => git(q.repo, ['worktree', 'add', '--detach', '--quiet', dir, at]));
    if (!isPrefix && applied.length) {
      const commits = applied.map((i) => q.changes[i]!.commit);
      try {
        await git(dir, ['-c', 'user.name=harness', '-c', 'user.email=harness@localhost', 'cherry-pick', '--allow-empty', '--keep-redundant-commits', ...commits]);
      } catch (err) {
        await git(dir, ['cherry-pick', '--abort']).catch(() => {});
        return { dir, untestable: `the commits do not apply without the ones left out: ${gitError(err)}`, remove };
      }
    }
    return { dir, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
