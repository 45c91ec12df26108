// `harness completion`: a bash/zsh script from yargs; bash, running it, completes `harness ru` to `run`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness } from './helpers/cli.js';

const run = promisify(execFile);

test('harness completion prints a bash script, or a zsh one under zsh', async () => {
  const bash = await harness(['completion'], { env: { SHELL: '/bin/bash' } });
  assert.is(bash.code, 0, bash.stderr);
  assert.match(bash.stdout, 'complete -o bashdefault -o default -F _harness_yargs_completions harness');
  const zsh = await harness(['completion'], { env: { SHELL: '/usr/bin/zsh' } });
  assert.is(zsh.code, 0, zsh.stderr);
  assert.match(zsh.stdout, '#compdef harness');
  assert.match(zsh.stdout, 'compdef _harness_yargs_completions harness');
});

test('bash, with the script sourced, completes `harness ru` to run and `harness run --res` to --resume', async () => {
  const script = (await harness(['completion'], { env: { SHELL: '/bin/bash' } })).stdout;
  const complete = async (words: string[]): Promise<string[]> => {
    const cmd = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _harness_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await run('bash', ['-c', cmd], { env: { ...process.env, PATH: `${path.join(PACKAGE_ROOT, 'bin')}:${process.env.PATH}` } });
    return stdout.split('\n').filter(Boolean);
  };
  assert.equal(await complete(['harness', 'ru']), ['run']);
  assert.equal(await complete(['harness', 'run', '--res']), ['--resume']);
  assert.equal(await complete(['harness', 'checkpoints', 'pr']), ['prune']);
});

test.run();
