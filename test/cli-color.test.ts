// NO_COLOR (no-color.org) on a terminal: no ANSI colour from the harness or from Ansible.
// The CLI runs under a real pseudo-terminal (node-pty), as a user's shell would run it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import pty from 'node-pty';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';
import { writeScenario } from './helpers/scenario.js';

/** Runs bin/harness on a terminal; resolves with everything it printed and its exit code. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const term = pty.spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'harness'), ...args], { cols: 120, rows: 40, cwd: PACKAGE_ROOT, env: clean });
    let output = '';
    term.onData((d) => (output += d));
    term.onExit(({ exitCode }) => setTimeout(() => resolve({ code: exitCode, output }), 100));
  });
}

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/;

test('NO_COLOR on a terminal: no colour codes from the harness or Ansible; without it, Ansible colours', async () => {
  const t = await tempDir();
  try {
    const file = await writeScenario(t.dir, 'name: colours\nlab:\n  provider: local\n  hosts:\n    web-0: {}\nstages:\n  - { name: hello, playbook: @F/ok.yml }\n');
    const plain = await onTerminal(['run', file, '--out', path.join(t.dir, 'plain'), '--no-checkpoints'], { NO_COLOR: '1', FORCE_COLOR: undefined });
    assert.is(plain.code, 0, plain.output);
    assert.match(plain.output, 'changed: [web-0]', 'Ansible output is shown');
    assert.not.match(plain.output, SGR, `colour codes with NO_COLOR:\n${JSON.stringify(plain.output.match(SGR))}`);
    const coloured = await onTerminal(['run', file, '--out', path.join(t.dir, 'coloured'), '--no-checkpoints'], { NO_COLOR: undefined, FORCE_COLOR: undefined });
    assert.is(coloured.code, 0, coloured.output);
    assert.match(coloured.output, /\x1b\[0;33mchanged: \[web-0\]/, 'Ansible colours "changed" on a terminal');
  } finally {
    await t.remove();
  }
});

test.run();
