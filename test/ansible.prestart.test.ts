// The first stage's ansible-playbook started before the CLI loads (lib/ansible/prestart.ts):
// adopted by the run when it is for the same ansible-playbook and environment, closed otherwise,
// never left behind (not by a CLI that exits early, not by a process that exits at once), and
// the FIFO folders of harness processes killed with SIGKILL are swept by the next pool.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findAnsible, runPlaybook } from '../lib/ansible/index.js';
import { adoptPrestarted, closePrestarted, prestartWarm, warmPoolEnv } from '../lib/ansible/prestart.js';
import { sweepStale } from '../lib/ansible/warm.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { harness, tempDir } from './helpers/cli.js';
import { writeScenario } from './helpers/scenario.js';

const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'ansible');

/** The pids of warm-start processes whose command line names `needle` (a test's own folder or this pid). */
function warmProcesses(needle: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes('warm_start.py') && cmd.includes(needle)) found.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

const restoreTmp = (old: string | undefined): void => {
  if (old === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = old;
};

const warmDirs = (tmp: string): string[] => fs.readdirSync(tmp).filter((n) => n.startsWith('harness-warm-'));

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.unreachable(`still not so after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An environment with its own cache folder (findAnsible's answer in it) and temporary folder. */
async function isolated(): Promise<{ env: NodeJS.ProcessEnv; tmp: string; remove: () => Promise<void> }> {
  const t = await tempDir('ah-prestart-');
  const tmp = path.join(t.dir, 'tmp');
  fs.mkdirSync(tmp);
  const env = { ...process.env, XDG_CACHE_HOME: path.join(t.dir, 'cache'), TMPDIR: tmp };
  return { env, tmp, remove: t.remove };
}

test('a cache miss prestarts nothing; with the cache, the run adopts the process and runs its playbook in it', async () => {
  const iso = await isolated();
  const oldTmp = process.env.TMPDIR;
  process.env.TMPDIR = iso.tmp; // os.tmpdir() of this process: where the pool's FIFO folder goes
  try {
    await prestartWarm(iso.env);
    assert.equal(warmDirs(iso.tmp), [], 'nothing started without a cached answer');
    assert.is(adoptPrestarted('/usr/bin/ansible-playbook', warmPoolEnv(iso.env), () => false), undefined);

    const found = await findAnsible({ env: iso.env }); // fills the cache
    await prestartWarm(iso.env);
    assert.is(warmDirs(iso.tmp).length, 1, 'one FIFO folder');
    assert.match(warmDirs(iso.tmp)[0]!, new RegExp(`^harness-warm-${process.pid}-`));
    // Just forked, a child still shows its parent's command line until it has exec'd.
    await until('one warm process, started before any run asked', () => warmProcesses(iso.tmp).length === 1);
    let asked = 0;
    const pool = adoptPrestarted(found.playbook, warmPoolEnv(iso.env), () => (asked++, false));
    assert.ok(pool, 'adopted');
    const cfg = path.join(iso.tmp, 'ansible.cfg');
    fs.writeFileSync(cfg, '[defaults]\n');
    const result = await runPlaybook({
      args: ['-i', path.join(FIXTURES, 'local.ini'), 'warm.yml'],
      command: found.playbook,
      env: { ANSIBLE_CONFIG: cfg, WARM_PROBE: 'given' },
      cwd: FIXTURES,
      tmpDir: iso.tmp,
      stage: 'prestart',
      attempt: 1,
      onEvent: () => {},
      onOutput: () => {},
      killGraceMs: 2000,
      warm: pool,
    });
    assert.is(result.warm, true, 'the prestarted process ran it');
    assert.is(result.exitCode, 0);
    assert.is(asked, 1, "the run's own count decides whether another is started");
    await pool.close();
    await until('no warm process and no FIFO folder', () => !warmProcesses(iso.tmp).length && !warmDirs(iso.tmp).length);
  } finally {
    restoreTmp(oldTmp);
    await iso.remove();
  }
});

test('a prestart for another environment is closed, not adopted; one nobody adopts is closed by closePrestarted', async () => {
  const iso = await isolated();
  const oldTmp = process.env.TMPDIR;
  process.env.TMPDIR = iso.tmp;
  try {
    const found = await findAnsible({ env: iso.env });
    await prestartWarm(iso.env);
    await until('one warm process', () => warmProcesses(iso.tmp).length === 1);
    assert.is(adoptPrestarted(found.playbook, warmPoolEnv({ ...iso.env, ANSIBLE_EXTRA: '1' }), () => true), undefined, 'another environment');
    await until('the mismatched one gone with its folder', () => !warmProcesses(iso.tmp).length && !warmDirs(iso.tmp).length);

    await prestartWarm(iso.env);
    await until('one warm process', () => warmProcesses(iso.tmp).length === 1);
    await closePrestarted();
    await until('the unadopted one gone with its folder', () => !warmProcesses(iso.tmp).length && !warmDirs(iso.tmp).length);
  } finally {
    restoreTmp(oldTmp);
    await iso.remove();
  }
});

test('a process that exits at once after its prestart leaves no warm process and no folder', async () => {
  const iso = await isolated();
  try {
    await findAnsible({ env: iso.env });
    const prestart = path.join(PACKAGE_ROOT, 'dist', 'lib', 'ansible', 'prestart.js');
    const code = `const p = await import(${JSON.stringify(prestart)}); await p.prestartWarm(); process.exit(130);`;
    const exit = await new Promise<number | null>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', code], { env: iso.env }, () => resolve(child.exitCode));
    });
    assert.is(exit, 130);
    await until('no warm process and no folder after exit(130)', () => !warmProcesses(iso.tmp).length && !warmDirs(iso.tmp).length);
  } finally {
    await iso.remove();
  }
});

test('harness run adopts the prestarted process (one FIFO folder in all); bad input leaves nothing behind', async () => {
  const iso = await isolated();
  try {
    await findAnsible({ env: iso.env });
    const file = await writeScenario(path.dirname(iso.tmp), 'name: prestart\nlab:\n  provider: local\n  hosts:\n    web-0: {}\nstages:\n  - { name: hello, playbook: @F/ok.yml }\n');
    // Every pool makes one FIFO folder: a prestart the run did not adopt would make it two.
    const made = new Set<string>();
    const watcher = fs.watch(iso.tmp, (_, name) => {
      if (name?.startsWith('harness-warm-')) made.add(name);
    });
    let ok;
    try {
      ok = await harness(['run', file, '--out', path.join(path.dirname(iso.tmp), 'run'), '--no-checkpoints'], { env: iso.env });
    } finally {
      watcher.close();
    }
    assert.is(ok.code, 0, ok.stderr + ok.stdout);
    assert.is(made.size, 1, `FIFO folders made: ${[...made].join(', ')}`);
    assert.equal(warmDirs(iso.tmp), []);
    assert.equal(warmProcesses(iso.tmp), []);

    const bad = await harness(['run', path.join(path.dirname(iso.tmp), 'missing.yml')], { env: iso.env });
    assert.is(bad.code, 2, bad.stderr);
    await until('no warm process or folder after bad input', () => !warmProcesses(iso.tmp).length && !warmDirs(iso.tmp).length);
  } finally {
    await iso.remove();
  }
});

test('a new pool sweeps the FIFO folders of dead harness processes, and old pid-less ones', async () => {
  const t = await tempDir('ah-sweep-');
  try {
    const dead = 2 ** 22 + 17; // above pid_max's default: no such process
    const make = (name: string, ageMs = 0): string => {
      const dir = path.join(t.dir, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'go-1.fifo'), '');
      if (ageMs) fs.utimesSync(dir, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
      return name;
    };
    make(`harness-warm-${dead}-AbC123`);
    const mine = make(`harness-warm-${process.pid}-XyZ789`);
    make('harness-warm-OldOne', 2 * 3_600_000);
    const recent = make('harness-warm-NewOne', 60_000);
    const other = make('something-else', 2 * 3_600_000);
    await sweepStale(t.dir);
    assert.equal(fs.readdirSync(t.dir).sort(), [mine, recent, other].sort());
  } finally {
    await t.remove();
  }
});

test.run();
