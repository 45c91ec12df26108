// Debug sessions on the qemu lab (issue 19): a failed run's failure snapshot holds the VM's memory,
// so a process that ran at the failure still runs in the VM `harness lab up --failed` brings back.
// Long (an image build the first time, VMs under TCG): `npm run test:long`. Skips (printing why)
// without QEMU and friends or root, as test/lab-qemu.test.ts does.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { checkQemuTools } from '../lib/lab/qemu/tools.js';
import { SUITE_CACHE } from './helpers/cache.js';
import { harness, tempDir } from './helpers/cli.js';
import { pidAlive } from './helpers/scenario.js';

const skipReason = await checkQemuTools().then(
  () => (process.getuid?.() === 0 ? undefined : 'not root: building the qemu image runs debootstrap, which needs root'),
  (err: Error) => err.message,
);
const test = suite('lab up on qemu');

test('lab up --failed brings the VM back running: the process started before the failure still runs', async () => {
  if (skipReason) {
    console.log(`skipped: ${skipReason}`);
    return;
  }
  const t = await tempDir('harness-labup-qemu-');
  // The run's cache is the test's own, but its images/ is the suite's (the image and golden state
  // test/lab-qemu.test.ts builds, helpers/cache.ts): made once, shared.
  const env = { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache') };
  await mkdir(path.join(SUITE_CACHE, 'images'), { recursive: true });
  await mkdir(path.join(t.dir, 'cache', 'ansible-harness'), { recursive: true });
  await symlink(path.join(SUITE_CACHE, 'images'), path.join(t.dir, 'cache', 'ansible-harness', 'images'));
  const project = path.join(t.dir, 'project');
  await cp(path.join(PACKAGE_ROOT, 'test', 'fixtures', 'lab-up-qemu'), project, { recursive: true });
  const cli = (args: string[]) => harness(args, { cwd: project, env, timeoutMs: 1_200_000 });
  const name = `vm-${process.pid}`;
  try {
    const out = path.join(t.dir, 'run');
    const r = await cli(['run', 'scenario.yml', '--out', out, '--no-bundle']);
    assert.is(r.code, 1, r.stdout + r.stderr);
    const journal = JSON.parse(await readFile(path.join(out, 'journal.json'), 'utf8')) as { stages: { name: string; failedState?: string }[] };
    assert.ok(journal.stages[0]!.failedState, r.stdout);
    const up = await cli(['lab', 'up', 'scenario.yml', '--failed', out, '--name', name]);
    assert.is(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, new RegExp(`lab ${name} is up: qemu, 1 host`));
    const state = await cli(['lab', 'login', name, '--', 'cat /root/state.txt; kill -0 $(cat /root/sleeper.pid) && echo still running']);
    assert.is(state.stdout, 'broken on vm-0\nstill running\n', state.stderr);
    const play = await cli(['lab', 'run', name, '--', 'ansible', 'all', '-m', 'ansible.builtin.ping']);
    assert.is(play.code, 0, play.stdout + play.stderr);
    const list = JSON.parse((await cli(['lab', 'list', '--json'])).stdout) as { labs: { name: string; runDir: string }[] };
    const runDir = list.labs.find((l) => l.name === name)!.runDir;
    const pids = (JSON.parse(await readFile(path.join(runDir, 'lab.json'), 'utf8')) as { processes: { pid?: number }[] }).processes.map((p) => p.pid!).filter(Boolean);
    assert.ok(pids.length);
    const down = await cli(['lab', 'down', name]);
    assert.is(down.code, 0, down.stderr);
    for (const p of pids) assert.not.ok(await pidAlive(p), `process ${p} of the VM lab stopped`);
  } finally {
    await cli(['lab', 'down', name]).catch(() => {});
    await t.remove();
  }
});

test.run();
