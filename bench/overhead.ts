/**
 * Benchmark 1, overhead: `harness run` against plain `ansible-playbook` on the same inventory and
 * playbook, interleaved (A, B, A, B, ...), quoted as the median of the paired ratios.
 * - 30 hosts x 20 tasks with connection=local (a static lab): `bin/harness run` vs
 *   `ansible-playbook -i local30.ini`.
 * - 4 loopback SSH hosts: allocated once with the local provider; the harness engine (in a child
 *   node process, with a provider that hands out that lab) vs plain ansible-playbook on the same
 *   hosts. The provider's own allocate/release is timed apart.
 * Plain Ansible gets the ansible.cfg the harness writes (same forks, pipelining, ControlPersist,
 * per-run control path and local tmp), without our callback plugin.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ansibleConfig, ansibleEnv } from '../lib/ansible/index.js';
import { formatInventory } from '../lib/inventory/index.js';
import { createLocalProvider } from '../lib/lab/local/index.js';
import type { AllocatedLab } from '../lib/lab/provider.js';
import { loadScenario } from '../lib/scenario/index.js';
import { timeCommand, type Timed } from './proc.js';
import { busyBySegment, summarizeProfile } from './profile.js';
import { formatMs, formatRatio, pairedRatio, summarize } from './stats.js';
import { overall, type BenchContext, type BenchResult, type Row } from './result.js';

const GOAL = 1.03;

/** One timed run of the harness: its wall time and where the time went (from journal.json). */
interface HarnessSample {
  wall: number;
  /** Spawn to stage start: node start-up, scenario load, `ansible-playbook --version`, run dir, inventory, cfg. */
  pre: number;
  /** The stage (the playbook run with its event pipeline). */
  stage: number;
  /** Stage end to exit: sinks closed, manifest, report, bundle, lab release, exit. */
  post: number;
  /** Spawn to run_start: node start-up, imports, scenario load, `ansible-playbook --version`, checkpoint plan, run dir, manifest. */
  toRunStart: number;
  /** run_start to lab_ready: allocation (nothing for a static lab or a lab allocated beforehand). */
  toLabReady: number;
  /** lab_ready to stage_start: inventory and ansible.cfg written. */
  toStageStart: number;
  /** Inside the stage, before Ansible's first event (extra-vars file, FIFO, pty, Ansible's own start-up). */
  stageToFirstEvent: number;
  /** Inside the stage, after Ansible's last event (Ansible's exit, FIFO drained, logs closed). */
  lastEventToStageEnd: number;
}

/** A plain run with our plugin: its wall time and where Ansible's first and last events fell. */
interface PluginSample {
  ms: number;
  /** Spawn to Ansible's first event (its start-up). */
  toFirstEvent: number;
  /** Ansible's last event to exit. */
  lastEventToExit: number;
}

/** The times of the first event of each kind in an events file (the harness's `kind` or the plugin's `event`). */
function firstTimes(file: string, field: 'kind' | 'event'): Record<string, number> {
  const times: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as Record<string, unknown>;
    const kind = e[field];
    if (typeof kind === 'string' && typeof e.time === 'number') times[kind] ??= e.time;
  }
  return times;
}

/** What plain Ansible runs with: the harness's ansible.cfg text without our plugin, and the env. */
interface PlainSetup {
  cfgText: string;
  env: NodeJS.ProcessEnv;
}

/** The per-run ansible.cfg and env the harness would use, with or without our callback plugin. */
function plainSetup(dir: string, inventory: string, allocated: AllocatedLab | undefined, withPlugin: boolean): PlainSetup {
  const controlPathDir = path.join(dir, 'cp');
  const localTmp = path.join(dir, 'ansible-tmp');
  const cfg = ansibleConfig({ inventory, privateKeyFile: allocated?.sshKey, controlPathDir, sshArgs: allocated?.sshExtraArgs ?? [], localTmp });
  const env: Record<string, string> = ansibleEnv({ configFile: path.join(dir, 'ansible.cfg'), controlPathDir, tty: false, localTmp });
  let cfgText = cfg;
  if (withPlugin) {
    env.HARNESS_EVENTS_PATH = path.join(dir, 'events.jsonl');
  } else {
    cfgText = cfg
      .split('\n')
      .filter((l) => !/^(callback_plugins|callbacks_enabled) =/.test(l))
      .join('\n');
    delete env.ANSIBLE_CALLBACK_PLUGINS;
    delete env.ANSIBLE_CALLBACKS_ENABLED;
  }
  return { cfgText, env: { ...process.env, ...env } };
}

/** Runs plain ansible-playbook once in a fresh folder (fresh control path and local tmp, like a harness run). */
async function runPlain(base: string, playbook: string, inventory: string, allocated: AllocatedLab | undefined, withPlugin: boolean, ctx: BenchContext): Promise<Timed> {
  mkdirSync(base, { recursive: true });
  const setup = plainSetup(base, inventory, allocated, withPlugin);
  writeFileSync(path.join(base, 'ansible.cfg'), setup.cfgText);
  const log = path.join(base, 'output.log');
  const t = await timeCommand('ansible-playbook', ['-i', inventory, playbook], { cwd: path.dirname(playbook), env: setup.env, outputFile: log, signal: ctx.signal });
  if (t.code !== 0) throw new Error(`bench: plain ansible-playbook exited ${t.code ?? t.signal}; see ${log}`);
  return t;
}

/** Where the time of a harness run went, from its journal.json and the measured wall time. */
function harnessSample(runDir: string, t: Timed): HarnessSample {
  const journal = JSON.parse(readFileSync(path.join(runDir, 'journal.json'), 'utf8')) as { stages: { started?: string; ended?: string }[] };
  const stage = journal.stages[0]!;
  const started = Date.parse(stage.started!);
  const ended = Date.parse(stage.ended!);
  const times = firstTimes(path.join(runDir, 'events.jsonl'), 'kind');
  return {
    wall: t.ms,
    pre: started - t.startedAt,
    stage: ended - started,
    post: t.startedAt + t.ms - ended,
    toRunStart: (times.run_start ?? NaN) - t.startedAt,
    toLabReady: (times.lab_ready ?? NaN) - (times.run_start ?? NaN),
    toStageStart: (times.stage_start ?? NaN) - (times.lab_ready ?? NaN),
    stageToFirstEvent: (times.playbook_start ?? NaN) - started,
    lastEventToStageEnd: ended - (times.stats ?? NaN),
  };
}

/** The short commit a checkout is at, when it is a git checkout. */
function gitCommit(root: string): string | undefined {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function runHarnessCli(root: string, scenario: string, out: string, ctx: BenchContext): Promise<HarnessSample> {
  const log = `${out}.log`;
  // As a user runs it: the program bin/harness (its shell line starts Node), this Node on PATH.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  const t = await timeCommand(path.join(root, 'bin', 'harness'), ['run', scenario, '--out', out], { env, outputFile: log, signal: ctx.signal });
  if (t.code !== 0) throw new Error(`bench: harness run exited ${t.code ?? t.signal}; see ${log}`);
  return harnessSample(out, t);
}

/**
 * The allocated hosts as a `static` scenario of their own (inventory with each host's vars,
 * address, port, user, key and ssh args; `lab.validate: false`, as plain Ansible checks nothing first), so
 * the whole `harness run` command can be timed against the same hosts.
 */
function staticScenario(dir: string, allocated: AllocatedLab, playbook: string): string {
  const hosts = Object.fromEntries(
    allocated.lab.hosts.map((h) => [
      h.name,
      {
        // The host's own vars as the lab gave them (ansible_python_interpreter among them: without
        // it Ansible would discover the interpreter on each host, which plain Ansible here does not).
        ...h.vars,
        ansible_host: h.address,
        ansible_port: h.port,
        ansible_user: h.user,
        ...(allocated.sshKey ? { ansible_ssh_private_key_file: allocated.sshKey } : {}),
        ...(allocated.sshExtraArgs?.length ? { ansible_ssh_common_args: allocated.sshExtraArgs.join(' ') } : {}),
      },
    ]),
  );
  const inventory = path.join(dir, 'lab4-static-inventory.yml');
  writeFileSync(inventory, JSON.stringify({ all: { children: { bench: { hosts } } } }, null, 2));
  const scenario = path.join(dir, 'lab4-static.scenario.yml');
  writeFileSync(scenario, JSON.stringify({ name: 'bench-static4', lab: { provider: 'static', inventory, validate: false }, stages: [{ name: 'tasks', playbook }] }, null, 2));
  return scenario;
}

async function runHarnessEngine(root: string, scenario: string, out: string, allocated: AllocatedLab, ctx: BenchContext): Promise<HarnessSample> {
  const job = `${out}.job.json`;
  writeFileSync(job, JSON.stringify({ scenario, out, allocated }));
  const log = `${out}.log`;
  const t = await timeCommand(process.execPath, [path.join(root, 'dist', 'bench', 'engine-child.js'), job], { outputFile: log, signal: ctx.signal });
  if (t.code !== 0) throw new Error(`bench: the harness engine exited ${t.code ?? t.signal}; see ${log}`);
  return harnessSample(out, t);
}

/** The figures of one comparison (harness vs plain, maybe plain + plugin), from interleaved samples. */
/** What a plain run with our plugin says about Ansible's own start-up and exit. */
function pluginSample(base: string, t: Timed): PluginSample {
  const times = firstTimes(path.join(base, 'events.jsonl'), 'event');
  return { ms: t.ms, toFirstEvent: (times.playbook_start ?? NaN) - t.startedAt, lastEventToExit: t.startedAt + t.ms - (times.stats ?? NaN) };
}

function compare(label: string, harness: HarnessSample[], plain: Timed[], plugin: PluginSample[]): { rows: Row[]; data: Record<string, unknown> } {
  const plainMs = plain.map((p) => p.ms);
  const wall = pairedRatio(harness.map((h) => h.wall), plainMs);
  const stage = pairedRatio(harness.map((h) => h.stage), plainMs);
  const rows: Row[] = [
    { what: `${label}: playbook part (harness stage time / plain ansible-playbook)`, figure: formatRatio(stage), goal: `<= ${GOAL}`, verdict: stage.median <= GOAL ? 'met' : 'missed' },
    { what: `${label}: whole command (harness wall / plain wall)`, figure: formatRatio(wall), goal: `<= ${GOAL}`, verdict: wall.median <= GOAL ? 'met' : 'missed' },
    { what: `${label}: plain ansible-playbook wall`, figure: formatMs(summarize(plainMs)) },
    { what: `${label}: harness wall - plain wall, paired`, figure: formatMs(summarize(harness.map((h, i) => h.wall - plainMs[i]!))) },
    { what: `${label}: harness wall`, figure: formatMs(summarize(harness.map((h) => h.wall))) },
    { what: `${label}: harness before the stage (start-up, load, ansible lookup, inventory, cfg)`, figure: formatMs(summarize(harness.map((h) => h.pre))) },
    { what: `${label}: of which spawn → run_start (node, imports, scenario, the cached ansible lookup, run dir, manifest)`, figure: formatMs(summarize(harness.map((h) => h.toRunStart))) },
    { what: `${label}: of which run_start → lab_ready → stage_start (allocation, inventory, ansible.cfg)`, figure: `${formatMs(summarize(harness.map((h) => h.toLabReady)))}; ${formatMs(summarize(harness.map((h) => h.toStageStart)))}` },
    { what: `${label}: harness stage`, figure: formatMs(summarize(harness.map((h) => h.stage))) },
    {
      what: `${label}: inside the stage, stage start → Ansible's first event; its last event → stage end`,
      figure: `${formatMs(summarize(harness.map((h) => h.stageToFirstEvent)))}; ${formatMs(summarize(harness.map((h) => h.lastEventToStageEnd)))}`,
    },
    { what: `${label}: harness after the stage (sinks, manifest, release, exit)`, figure: formatMs(summarize(harness.map((h) => h.post))) },
  ];
  const data: Record<string, unknown> = { harness, plainMs, wallRatio: wall, stageRatio: stage };
  if (plugin.length) {
    const pluginMs = plugin.map((p) => p.ms);
    const r = pairedRatio(pluginMs, plainMs);
    rows.push({ what: `${label}: plain + our callback plugin / plain (the plugin's own cost in Ansible)`, figure: formatRatio(r) });
    rows.push({
      what: `${label}: plain + plugin, spawn → Ansible's first event; its last event → exit (to set against the two above)`,
      figure: `${formatMs(summarize(plugin.map((p) => p.toFirstEvent)))}; ${formatMs(summarize(plugin.map((p) => p.lastEventToExit)))}`,
    });
    data.pluginMs = pluginMs;
    data.pluginRatio = r;
  }
  return { rows, data };
}

/**
 * One more `harness run` under `--cpu-prof`: the main thread's busy time before, during and after
 * the stage, and the busiest code. Undefined when the run failed.
 */
async function profiledRun(ctx: BenchContext, scenario: string, base: string): Promise<{ row: Row; data: Record<string, unknown> } | undefined> {
  const profDir = path.join(base, 'cpu-prof');
  const out = path.join(base, 'h30-profiled');
  const args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, path.join(ctx.root, 'bin', 'harness'), 'run', scenario, '--out', out];
  const t = await timeCommand(process.execPath, args, { outputFile: `${out}.log`, signal: ctx.signal });
  if (t.code !== 0) return undefined;
  const sample = harnessSample(out, t);
  const stageStart = t.startedAt + sample.pre;
  const [before, during, after] = busyBySegment(profDir, t.startedAt + t.ms, [stageStart, stageStart + sample.stage]);
  const top = summarizeProfile(profDir, 6).files.filter((f) => f.name !== '(native)');
  const share = ((during! / sample.stage) * 100).toFixed(1);
  return {
    row: {
      what: '30 local hosts: harness main thread busy (one run under --cpu-prof): before / during / after the stage',
      figure: `${before} ms / ${during} ms (${share}% of one core over the ${(sample.stage / 1000).toFixed(1)} s stage) / ${after} ms; busiest code: ${top.map((f) => `${f.name} ${f.ms.toFixed(0)} ms`).join(', ')}`,
    },
    data: { before, during, after, stageMs: sample.stage, top },
  };
}

/** Runs the overhead benchmark; see the module comment. */
export async function benchOverhead(ctx: BenchContext): Promise<BenchResult> {
  const t0 = performance.now();
  const fixtures = path.join(ctx.root, 'bench', 'fixtures');
  const playbook = path.join(fixtures, 'overhead.yml');
  const base = path.join(ctx.tmp, 'overhead');
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const notes: string[] = [];
  const withPlugin = !ctx.quick;
  const localPairs = Number(process.env.BENCH_LOCAL_PAIRS ?? (ctx.quick ? 3 : 10));
  const sshPairs = Number(process.env.BENCH_SSH_PAIRS ?? (ctx.quick ? 5 : 15));

  // --- 30 hosts, connection=local, static lab -------------------------------------------------
  const ini = path.join(fixtures, 'local30.ini');
  const scenario30 = path.join(fixtures, 'local30.scenario.yml');
  ctx.log(`overhead: warm-up (1 host), then ${localPairs} interleaved pairs of 30 hosts x 20 tasks (connection=local)`);
  await timeCommand('ansible-playbook', ['-i', ini, '--limit', 'bench-01', playbook], { cwd: fixtures, env: plainSetup(path.join(base, 'warm'), ini, undefined, false).env, signal: ctx.signal });
  await timeCommand(process.execPath, [path.join(ctx.root, 'bin', 'harness'), 'validate', scenario30], { signal: ctx.signal });
  const h30: HarnessSample[] = [];
  const p30: Timed[] = [];
  const g30: PluginSample[] = [];
  for (let i = 0; i < localPairs; i++) {
    h30.push(await runHarnessCli(ctx.root, scenario30, path.join(base, `h30-${i}`), ctx));
    p30.push(await runPlain(path.join(base, `p30-${i}`), playbook, ini, undefined, false, ctx));
    if (withPlugin) g30.push(pluginSample(path.join(base, `g30-${i}`), await runPlain(path.join(base, `g30-${i}`), playbook, ini, undefined, true, ctx)));
    ctx.log(`  pair ${i + 1}: harness ${(h30.at(-1)!.wall / 1000).toFixed(2)} s (stage ${(h30.at(-1)!.stage / 1000).toFixed(2)} s), plain ${(p30.at(-1)!.ms / 1000).toFixed(2)} s`);
  }
  const c30 = compare('30 local hosts', h30, p30, g30);
  rows.push(...c30.rows);
  data.local30 = c30.data;

  // Where the harness's own CPU goes (full mode only: one more run).
  if (!ctx.quick) {
    const busy = await profiledRun(ctx, scenario30, base);
    if (busy) {
      rows.push(busy.row);
      data.local30Profile = busy.data;
    }
  }

  // --- 4 loopback SSH hosts, allocated once ---------------------------------------------------
  const scenario4 = path.join(fixtures, 'local4.scenario.yml');
  const lab = (await loadScenario(scenario4)).lab;
  const allocMs: number[] = [];
  const releaseMs: number[] = [];
  const cycle = async (name: string, use?: (a: AllocatedLab) => Promise<void>): Promise<void> => {
    const runDir = path.join(base, name);
    mkdirSync(path.join(runDir, '.private'), { recursive: true, mode: 0o700 });
    const provider = createLocalProvider();
    const a0 = performance.now();
    try {
      const allocated = await provider.allocate(lab, { runDir, privateDir: path.join(runDir, '.private'), signal: ctx.signal });
      allocMs.push(performance.now() - a0);
      await use?.(allocated);
    } finally {
      const r0 = performance.now();
      await provider.release();
      releaseMs.push(performance.now() - r0);
    }
  };
  const h4: HarnessSample[] = [];
  const w4: HarnessSample[] = [];
  // BENCH_COMPARE_ROOT=DIR: another checkout's `harness run` too, in the same pairs (A/B of two
  // versions under the same load); the library side is left out then, to give the pairs the time.
  const compareRoot = process.env.BENCH_COMPARE_ROOT;
  const o4: HarnessSample[] = [];
  const p4: Timed[] = [];
  const g4: PluginSample[] = [];
  ctx.log(`overhead: 4 SSH hosts allocated once; ${sshPairs} interleaved pairs`);
  await cycle('lab4', async (allocated) => {
    const inventory = path.join(base, 'lab4-inventory.yml');
    writeFileSync(inventory, formatInventory(allocated.lab, 'yaml'));
    await runPlain(path.join(base, 'warm4'), playbook, inventory, allocated, false, ctx);
    const static4 = staticScenario(base, allocated, playbook);
    for (let i = 0; i < sshPairs; i++) {
      if (!compareRoot) h4.push(await runHarnessEngine(ctx.root, scenario4, path.join(base, `h4-${i}`), allocated, ctx));
      w4.push(await runHarnessCli(ctx.root, static4, path.join(base, `w4-${i}`), ctx));
      p4.push(await runPlain(path.join(base, `p4-${i}`), playbook, inventory, allocated, false, ctx));
      if (compareRoot) o4.push(await runHarnessCli(compareRoot, static4, path.join(base, `o4-${i}`), ctx));
      if (withPlugin) g4.push(pluginSample(path.join(base, `g4-${i}`), await runPlain(path.join(base, `g4-${i}`), playbook, inventory, allocated, true, ctx)));
      const shown = h4.at(-1) ?? w4.at(-1)!;
      ctx.log(`  pair ${i + 1}: harness ${(shown.wall / 1000).toFixed(2)} s (stage ${(shown.stage / 1000).toFixed(2)} s), plain ${(p4.at(-1)!.ms / 1000).toFixed(2)} s${o4.length ? `, the other checkout ${(o4.at(-1)!.wall / 1000).toFixed(2)} s` : ''}`);
    }
  });
  const cycles = ctx.quick ? 2 : 5;
  for (let i = 1; i < cycles; i++) await cycle(`lab4-cycle${i}`);
  const c4 = h4.length ? compare('4 SSH hosts, the engine in a child process (library)', h4, p4, g4) : undefined;
  if (c4) rows.push(...c4.rows);
  const cw4 = compare('4 SSH hosts, `harness run` of them as a static lab', w4, p4, []);
  rows.push(...cw4.rows);
  data.static4 = cw4.data;
  if (compareRoot) {
    // Named by its commit, not its folder (a path of this machine's means nothing elsewhere).
    const commit = gitCommit(compareRoot);
    const co4 = compare(`4 SSH hosts, \`harness run\` of the other checkout (BENCH_COMPARE_ROOT${commit ? ` at ${commit}` : ''}), same pairs`, o4, p4, []);
    rows.push(...co4.rows);
    data.static4Compare = { ...(commit ? { commit } : {}), ...co4.data };
  }
  rows.push({ what: '4 SSH hosts: local provider allocate (4 sshd, keys, banner + ssh checks)', figure: formatMs(summarize(allocMs)) });
  rows.push({ what: '4 SSH hosts: local provider release', figure: formatMs(summarize(releaseMs)) });
  data.local4 = { ...c4?.data, allocMs, releaseMs };

  const versionMs: number[] = [];
  for (let i = 0; i < 5; i++) versionMs.push((await timeCommand('ansible-playbook', ['--version'], { signal: ctx.signal })).ms);
  rows.push({ what: '`ansible-playbook --version` alone (the harness runs it only when its cached answer no longer matches the files)', figure: formatMs(summarize(versionMs)) });
  data.ansibleVersionMs = versionMs;

  notes.push(
    'Plain side: `ansible-playbook -i <inventory> bench/fixtures/overhead.yml` with ANSIBLE_CONFIG set to the ansible.cfg the harness writes ' +
      '(lib/ansible/config.ts ansibleConfig: forks 5, pipelining True, ControlMaster auto, ControlPersist 5s, a fresh control_path_dir and local_tmp per run) ' +
      'and the env of ansibleEnv (no colour, PYTHONUNBUFFERED), minus our callback plugin; output to a file.',
    'Harness side (30 local hosts): `bin/harness run bench/fixtures/local30.scenario.yml --out DIR` (run as a program, as users run it), output to a file; it reads local30.ini, writes hosts.yml, ' +
      'runs ansible-playbook in a pty with our callback plugin and sinks (console, JUnit, journal, events.jsonl), writes the manifest.',
    'Harness side (4 SSH hosts): `node dist/bench/engine-child.js` = loadScenario + runScenario with a provider whose allocate returns the lab allocated once ' +
      '(plain Ansible gets the same inventory, key and ssh args); allocate/release of the local provider are timed on their own.',
    'Playbook part = the stage from journal.json (stage start to stage end), against the whole plain ansible-playbook run; whole command = spawn to exit of each.',
  );
  if (withPlugin) notes.push('"plain + our callback plugin" = the plain side with harness_events enabled and writing to a file: what the plugin alone costs inside Ansible.');
  return { id: 'overhead', title: 'Overhead: harness vs plain ansible-playbook', verdict: overall(rows), rows, notes, data, seconds: (performance.now() - t0) / 1000 };
}
