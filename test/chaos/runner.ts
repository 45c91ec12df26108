/**
 * The chaos runner: real runs of a small pipeline on the local lab (a `run:` stage, a checkpointed
 * fork point, a variant axis, a playbook and a `run:` always-stage), each with one fault injected
 * at a seeded random moment, then checked: the exit code is a documented one (or, after kill -9,
 * `harness cleanup` / `harness run --resume` bring the run to an end), journal.json, manifest.json
 * and junit.xml parse, no process of the run is left (its process tree is sampled while it runs,
 * and every process carrying its `CHAOS_RUN` mark is found at the end, so `--jobs N` injections at
 * once never see each other's), no lab port is still bound by it, no address claim, lease or
 * build claim is left held, no half-made checkpoint is listed, the next run (one job) restores and
 * passes and leaves nothing either, and the canary secret is in no file written.
 * Everything a run seed picks (the fault, the moment, the canary) comes from that seed alone:
 * `npm run chaos -- --runs 1 --seed S` replays it.
 */
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { parseXml } from '../../lib/report/xml-parse.js';
import { xmllintErrors } from '../helpers/junit.js';

/** The faults the runner injects. */
export const KINDS = [
  'sigint',
  'sigterm',
  'double-sigint',
  'kill-harness',
  'kill-ansible',
  'kill-sshd',
  'kill-run-command',
  'disk-full',
  'store-readonly',
  'qemu-kill',
  'clock-jump',
] as const;
export type Kind = (typeof KINDS)[number];

/** Faults not injected here, and why (printed once). */
export const SKIPPED: Partial<Record<Kind, string>> = {
  // measured 2026-12-01, load 15: a VM up from its golden state in 18 s, then one one-task stage 109 s under TCG
  'qemu-kill': 'a qemu VM comes up from its golden state in ~20 s, but one Ansible stage in it takes ~2 min under TCG on this shared 2-core machine: an injection (the faulted run and the next one) would take over 5 min, not under 1 (lab-qemu tests cover a killed VM)',
  'clock-jump': 'the system clock is shared with every other session on this machine: not changed by a test',
};

/** What one injected run gave. */
export interface Outcome {
  seed: number;
  kind: Kind;
  delayMs: number;
  /** Whether the fault met its target (a process of that kind was alive, the moment was before the run's end). */
  hit: boolean;
  exitCode: number | null;
  /** The code of `harness cleanup` / `--resume` after a kill -9. */
  endCode?: number;
  nextCode?: number;
  failures: string[];
  ms: number;
  /** Where the time went (ms): the injected run and its ending, the checks, the next run, the canary scan. */
  phases?: { run: number; checks: number; next: number; scan: number };
}

/** The replay command of a run seed. */
export const replay = (seed: number): string => `npm run chaos -- --runs 1 --seed ${seed}`;

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HARNESS = path.join(PACKAGE_ROOT, 'bin', 'harness');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the scenario -------------------------------------------------------------------------

const STEP = `- name: chaos step
  hosts: all
  gather_facts: false
  tasks:
    - name: check the state this stage needs (a restore brought it back whole), print the canary, work a while, leave a mark
      ansible.builtin.shell: |
        for s in {{ needs | default([]) | join(' ') }}; do test -f {{ harness_host_root }}/state/$s || { echo "missing $s"; exit 1; }; done
        echo "canary {{ canary }}"
        sleep {{ step_sleep | default(0.3) }}
        mkdir -p {{ harness_host_root }}/state
        touch {{ harness_host_root }}/state/{{ harness_stage | regex_replace('[^A-Za-z0-9_.-]', '_') }}
`;

const SCENARIO = `name: chaos
lab:
  provider: local
  hosts:
    web-0: { groups: [web] }
secrets:
  canary: { env: CHAOS_CANARY }
stages:
  - name: build
    run: 'echo "building with $canary"; sleep 1; mkdir -p "$HARNESS_STAGE_DIR/out"; echo "$canary" > "$HARNESS_STAGE_DIR/out/artifact.txt"'
    secrets: [canary]
    outputs: ["out/*"]
    timeout: 1m
  - name: base
    playbook: step.yml
    checkpoint: true
    vars: { step_sleep: 1 }
  - name: branch
    playbook: step.yml
    vars: { needs: [base] }
  - name: teardown
    playbook: step.yml
    always: true
    vars: { step_sleep: 1.5 }
  - name: collect
    run: 'echo "collecting for chaos"; sleep 2; ls "$HARNESS_RUN_DIR" > /dev/null'
    always: true
    timeout: 1m
variants:
  from: branch
  matrix: { tls: [on, off] }
`;

const TEARDOWN = `  - name: teardown
    playbook: step.yml
    always: true
    vars: { step_sleep: 1.5 }
`;

/**
 * The scenario the next run (the check after a fault) uses: the same nodes, so the same keys
 * (always-stages take none) and the same checkpoints, without the playbook always-stage, which
 * only costs time there: the faulted run is where the always-stages meet the faults.
 */
export const NEXT_SCENARIO = SCENARIO.replace(TEARDOWN, '').replace('name: chaos\n', 'name: chaos\n# the next run after a fault: see NEXT_SCENARIO\n');

/** Writes the scenario folder once; returns the scenario file (`next.yml` beside it: NEXT_SCENARIO). */
export async function writeChaosScenario(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  // the canary is printed, never written to a host: a checkpoint keeps a host's disk as it is
  await writeFile(path.join(dir, 'step.yml'), STEP);
  await writeFile(path.join(dir, 'scenario.yml'), SCENARIO);
  await writeFile(path.join(dir, 'next.yml'), NEXT_SCENARIO);
  return path.join(dir, 'scenario.yml');
}

// ---- processes ----------------------------------------------------------------------------

interface Proc {
  pid: number;
  ppid: number;
  start: string;
  comm: string;
  cmd: string;
}

async function readProc(pid: number): Promise<Proc | undefined> {
  try {
    const st = await readFile(`/proc/${pid}/stat`, 'utf8');
    const close = st.lastIndexOf(')');
    const rest = st.slice(close + 2).split(' ');
    if (rest[0] === 'Z') return undefined;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    return { pid, ppid: Number(rest[1]), start: rest[19]!, comm: st.slice(st.indexOf('(') + 1, close), cmd };
  } catch {
    return undefined;
  }
}

async function allProcs(): Promise<Proc[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const out: Proc[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const p = await readProc(Number(n));
    if (p) out.push(p);
  }
  return out;
}

/** Samples the process tree under `root` until stopped; remembers every process it saw. */
class TreeWatch {
  readonly seen = new Map<string, Proc>();
  private stopped = false;
  private done: Promise<void>;
  constructor(private readonly roots: () => number[]) {
    this.done = this.loop();
  }
  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.sample();
      await sleep(150);
    }
  }
  async sample(): Promise<Proc[]> {
    const procs = await allProcs();
    const children = new Map<number, Proc[]>();
    for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const tree: Proc[] = [];
    const stack = this.roots().filter((r) => byPid.has(r));
    for (const r of stack) tree.push(byPid.get(r)!);
    while (stack.length) {
      for (const c of children.get(stack.pop()!) ?? []) {
        tree.push(c);
        stack.push(c.pid);
      }
    }
    for (const p of tree) this.seen.set(`${p.pid}/${p.start}`, p);
    return tree;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
  /** The processes seen that still run (same pid and start time). */
  async alive(): Promise<Proc[]> {
    const out: Proc[] = [];
    for (const p of this.seen.values()) {
      const now = await readProc(p.pid);
      if (now && now.start === p.start) out.push(p);
    }
    return out;
  }
}

// ---- the checks ---------------------------------------------------------------------------

async function parseJsonFile(file: string, failures: string[], required: boolean): Promise<unknown> {
  if (!existsSync(file)) {
    if (required) failures.push(`${path.basename(file)} is missing`);
    return undefined;
  }
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    failures.push(`${path.basename(file)} does not parse: ${(err as Error).message}`);
    return undefined;
  }
}

async function checkRunFiles(runDir: string, failures: string[], required: boolean): Promise<{ journal?: { status?: string; stages?: Array<{ name: string; status: string }> } }> {
  const journal = (await parseJsonFile(path.join(runDir, 'journal.json'), failures, required)) as { status?: string; stages?: Array<{ name: string; status: string }> } | undefined;
  await parseJsonFile(path.join(runDir, 'manifest.json'), failures, required);
  const junit = path.join(runDir, 'junit.xml');
  if (existsSync(junit)) {
    try {
      const doc = parseXml(await readFile(junit, 'utf8'));
      if (!doc || (doc as { name?: string }).name !== 'testsuites') failures.push(`junit.xml: the root is not <testsuites>`);
      const invalid = await xmllintErrors(junit);
      if (invalid) failures.push(`junit.xml is not valid against the JUnit schema: ${invalid.slice(0, 300)}`);
    } catch (err) {
      failures.push(`junit.xml does not parse: ${(err as Error).message}`);
    }
  } else if (required) failures.push('junit.xml is missing');
  return journal ? { journal } : {};
}

/** Host:port pairs a lab record names. */
async function labEndpoints(runDir: string): Promise<Array<{ address: string; port: number }>> {
  const out: Array<{ address: string; port: number }> = [];
  const files = [path.join(runDir, 'lab.json')];
  const labs = path.join(runDir, 'labs');
  for (const n of await readdir(labs).catch(() => [] as string[])) files.push(path.join(labs, n, 'lab.json'));
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const m of text.matchAll(/"address":\s*"(127\.[\d.]+)",\s*"port":\s*(\d+)/g)) out.push({ address: m[1]!, port: Number(m[2]) });
  }
  return out;
}

/** Listening TCP sockets: `a.b.c.d:port` → the socket's inode. */
async function listening(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] !== '0A') continue;
    const [hex, port] = f[1]!.split(':');
    const ip = [3, 2, 1, 0].map((i) => parseInt(hex!.slice(i * 2, i * 2 + 2), 16)).join('.');
    out.set(`${ip}:${parseInt(port!, 16)}`, f[9]!);
  }
  return out;
}

/** The processes holding socket `inode` open. */
async function socketOwners(inode: string, procs: Proc[]): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const p of procs) {
    for (const fd of await readdir(`/proc/${p.pid}/fd`).catch(() => [] as string[])) {
      if ((await readlink(`/proc/${p.pid}/fd/${fd}`).catch(() => '')) === `socket:[${inode}]`) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

/**
 * The processes of one run (and only of that run) found without its tree: those started with
 * `CHAOS_RUN=<mark>` in their environment (all that inherited the runner's), and those whose
 * command line names a path in `folder` (an sshd started with a clean environment reads its
 * config from there), also one that detached from the run's tree before it was sampled.
 * Concurrent injections (`--jobs`) each have their own mark and folder.
 */
async function markedProcs(mark: string, folder: string): Promise<Proc[]> {
  const needle = Buffer.from(`\0CHAOS_RUN=${mark}\0`);
  const out: Proc[] = [];
  for (const p of await allProcs()) {
    if (p.pid === process.pid) continue;
    const env = await readFile(`/proc/${p.pid}/environ`).catch(() => undefined);
    if ((env && Buffer.concat([Buffer.from([0]), env]).includes(needle)) || p.cmd.includes(folder + path.sep)) out.push(p);
  }
  return out;
}

/** Every file under `dir` (recursively, links not followed). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

async function canaryFiles(dirs: string[], canary: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    for (const f of await filesUnder(d)) {
      const s = await stat(f).catch(() => undefined);
      if (!s || s.size > 32 << 20) continue;
      if ((await readFile(f).catch(() => Buffer.alloc(0))).includes(canary)) out.push(f);
    }
  }
  return out;
}

/** Address claims (in the folder every run shares) of this run: its run directory, or a process of it (pid and start time). */
async function heldAddressClaims(work: string, procs: Set<string>): Promise<string[]> {
  const dir = path.join(os.tmpdir(), 'ansible-harness-addresses');
  const out: string[] = [];
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (!n.endsWith('.claim')) continue;
    const text = await readFile(path.join(dir, n), 'utf8').catch(() => '');
    let c: { pid?: number; startTicks?: number; runDir?: string } = {};
    try {
      c = JSON.parse(text);
    } catch {
      continue;
    }
    if ((c.runDir && (c.runDir === work || c.runDir.startsWith(work + path.sep))) || procs.has(`${c.pid}/${c.startTicks}`)) out.push(`${n} (${text.trim()})`);
  }
  return out;
}

/**
 * Checkpoint store problems: held leases and build claims, half-made entries listed as
 * checkpoints. `killed`: the run could not clean up (kill -9, a read-only store), so a claim and
 * a half-saved folder of its dead process may stay (the next run takes them over; checked after it).
 */
async function storeProblems(store: string, killed: boolean): Promise<string[]> {
  const out: string[] = [];
  if (!existsSync(store)) return out;
  const keys = path.join(store, 'by-key');
  for (const k of await readdir(keys).catch(() => [] as string[])) {
    const dir = path.join(keys, k);
    try {
      JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8'));
    } catch {
      out.push(`checkpoint ${k} is listed without a readable meta.json (half-made)`);
    }
    if (!existsSync(path.join(dir, 'data'))) out.push(`checkpoint ${k} is listed without data/ (half-made)`);
    for (const l of await readdir(path.join(dir, 'leases')).catch(() => [] as string[])) out.push(`checkpoint ${k}: lease ${l} still held`);
  }
  if (!killed) for (const f of await filesUnder(store)) if (f.endsWith('.claim') || f.endsWith('.lock')) out.push(`build claim or lock left: ${path.relative(store, f)}`);
  if (!killed) for (const t of await readdir(path.join(store, '.tmp')).catch(() => [] as string[])) out.push(`a checkpoint being saved was left: .tmp/${t}`);
  return out;
}

// ---- one injected run ---------------------------------------------------------------------

interface Started {
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
}

function startHarness(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [HARNESS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (d) => (out = (out + d).slice(-200_000)));
  child.stderr.on('data', (d) => (out = (out + d).slice(-200_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : null))));
  return { pid: child.pid!, output: () => out, exited };
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 30_000 }, (err, so, se) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: String(so) + String(se) })));
}

/** What one target of a kind looks like in the process tree. */
function target(kind: Kind, p: Proc): boolean {
  if (kind === 'kill-ansible') return /ansible-playbook/.test(p.cmd) && !/ansible-playbook --syntax/.test(p.cmd) && p.comm !== 'sh';
  if (kind === 'kill-sshd') return p.comm === 'sshd' && / -D -e -f /.test(p.cmd);
  if (kind === 'kill-run-command') return p.comm === 'sh' && /building with|collecting for chaos/.test(p.cmd);
  return false;
}

/** Exit codes a run may end with under each fault. */
function allowedCodes(kind: Kind): number[] {
  switch (kind) {
    case 'sigint':
    case 'sigterm':
    case 'double-sigint':
      return [130, 0, 1];
    case 'kill-ansible':
    case 'kill-sshd':
    case 'kill-run-command':
      return [1, 3, 0];
    case 'disk-full':
    case 'store-readonly':
      return [0, 1, 3];
    default:
      return [0, 1, 3, 130];
  }
}

/** What a run seed picks: the fault, the moment, the canary, and the PRNG for the rest. */
export function pick(seed: number, maxDelayMs = 12_000): { r: () => number; kind: Kind; delayMs: number; canary: string } {
  const r = rng(seed);
  const usable = KINDS.filter((k) => !SKIPPED[k]);
  const kind = usable[Math.floor(r() * usable.length)]!;
  const delayMs = Math.floor(500 + r() * (maxDelayMs - 500));
  const canary = `canary-${Math.floor(r() * 1e12).toString(36)}-${seed.toString(36)}`;
  return { r, kind, delayMs, canary };
}

/** Runs one seeded injection in `work` (a fresh folder each). */
export async function injectOnce(seed: number, scenario: string, work: string, opts: { maxDelayMs?: number; log?: (s: string) => void; warmAnsible?: string } = {}): Promise<Outcome> {
  const t0 = Date.now();
  const { r, kind, delayMs, canary } = pick(seed, opts.maxDelayMs);
  const failures: string[] = [];
  const outcome: Outcome = { seed, kind, delayMs, hit: false, exitCode: null, failures, ms: 0 };
  await mkdir(work, { recursive: true });
  const cache = path.join(work, 'cache');
  const store = path.join(cache, 'ansible-harness', 'checkpoints');
  await mkdir(store, { recursive: true });
  // what no fault touches is reused: the answer of `ansible-playbook --version` (keyed by its files)
  if (opts.warmAnsible && existsSync(opts.warmAnsible)) await copyFile(opts.warmAnsible, path.join(cache, 'ansible-harness', 'ansible.json')).catch(() => {});
  let runParent = work;
  const mounts: string[] = [];
  if (kind === 'disk-full') {
    runParent = path.join(work, 'disk');
    await mkdir(runParent);
    const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', runParent]);
    if (m.code !== 0) failures.push(`could not mount a tmpfs for the full disk: ${m.out}`);
    else mounts.push(runParent);
  }
  const out = path.join(runParent, 'run');
  // the marks are no part of the seed's picks (replays pick the same)
  const mark = `${seed}-${randomBytes(6).toString('hex')}`;
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cache, CHAOS_CANARY: canary, CHAOS_RUN: mark, FORCE_COLOR: '0', NO_COLOR: '1' };
  const h = startHarness(['run', scenario, '--out', out], env);
  const roots = new Set<number>([h.pid]);
  const watch = new TreeWatch(() => [...roots]);
  let ended = false;
  void h.exited.then(() => (ended = true));
  const deadline = Date.now() + 240_000;
  let tRun = Date.now();
  let tChecks = Date.now();
  try {
    await Promise.race([sleep(delayMs), h.exited]);
    if (!ended) {
      switch (kind) {
        case 'sigint':
        case 'sigterm':
          process.kill(h.pid, kind === 'sigint' ? 'SIGINT' : 'SIGTERM');
          outcome.hit = true;
          break;
        case 'double-sigint': {
          process.kill(h.pid, 'SIGINT');
          outcome.hit = true;
          // the second Ctrl-C once an always-stage runs (its playbook started after the first)
          const seen = h.output().length;
          while (!ended && Date.now() < deadline) {
            if (/teardown/.test(h.output().slice(seen))) {
              await sleep(300 + r() * 1000);
              if (!ended) process.kill(h.pid, 'SIGINT');
              break;
            }
            await sleep(50);
          }
          break;
        }
        case 'kill-harness':
          process.kill(h.pid, 'SIGKILL');
          outcome.hit = true;
          break;
        case 'kill-ansible':
        case 'kill-sshd':
        case 'kill-run-command': {
          while (!ended && Date.now() < deadline) {
            const victims = (await watch.sample()).filter((p) => target(kind, p));
            if (victims.length) {
              const v = victims[Math.floor(r() * victims.length)]!;
              try {
                process.kill(v.pid, 'SIGKILL');
                outcome.hit = true;
              } catch {
                /* gone meanwhile */
              }
              break;
            }
            await sleep(100);
          }
          break;
        }
        case 'disk-full': {
          const filler = path.join(runParent, 'filler');
          const fh = await open(filler, 'w');
          try {
            const chunk = Buffer.alloc(1 << 20);
            for (;;) await fh.write(chunk);
          } catch {
            outcome.hit = true; // ENOSPC
          } finally {
            await fh.close();
          }
          break;
        }
        case 'store-readonly': {
          const b = await run('mount', ['--bind', store, store]);
          const ro = b.code === 0 ? await run('mount', ['-o', 'remount,ro,bind', store]) : b;
          if (b.code === 0) mounts.unshift(store);
          if (ro.code !== 0) failures.push(`could not make the store read-only: ${ro.out}`);
          else outcome.hit = true;
          break;
        }
        default:
          break;
      }
    }
    let hangTimer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((r) => (hangTimer = setTimeout(() => r('hung'), Math.max(1, deadline - Date.now()))));
    // The deadline's timer goes once the run ended: left running, it kept the test process alive for minutes.
    const code = await Promise.race([h.exited, hung]).finally(() => clearTimeout(hangTimer));
    if (code === 'hung') {
      failures.push('the run did not end within 240 s of its start');
      process.kill(h.pid, 'SIGKILL');
      await h.exited;
    } else outcome.exitCode = code;
    await writeFile(path.join(work, 'harness-output.txt'), h.output()).catch(() => {});
    await sleep(300); // let the last children be sampled gone
    await watch.sample();
    tRun = Date.now();

    // kill -9: cleanup or --resume end it
    // a fault before the run directory was made (still loading): nothing was started, nothing to end
    const started = existsSync(out);
    if (kind === 'kill-harness' && outcome.hit && started) {
      if (r() < 0.5) {
        const c = await startHarnessDone(['cleanup', out], env, roots, watch);
        outcome.endCode = c.code;
        if (c.code !== 0) failures.push(`harness cleanup exited ${c.code}: ${c.out.slice(-600)}`);
      } else {
        const c = await startHarnessDone(['run', '--resume', out], env, roots, watch);
        outcome.endCode = c.code;
        if (![0, 1].includes(c.code)) failures.push(`harness run --resume exited ${c.code}: ${c.out.slice(-600)}`);
      }
    } else if (kind === 'kill-harness' && outcome.hit) {
      /* killed before its run directory existed: nothing to end */
    } else if ((kind === 'sigterm' || kind === 'sigint') && code === 128 + os.constants.signals[kind === 'sigterm' ? 'SIGTERM' : 'SIGINT'] && !started && !h.output()) {
      // the signal came while Node itself still started, before bin/harness's first line could
      // listen (no JavaScript of ours ran: nothing to check but that nothing was started)
      outcome.hit = false;
    } else if (code !== 'hung' && !allowedCodes(kind).includes(code as number)) {
      failures.push(`exit ${code}, expected one of ${allowedCodes(kind).join(', ')}: ${h.output().slice(-800)}`);
    }
    if (/internal error|TypeError|ReferenceError|at async |\bat .*\.js:\d+/.test(h.output())) failures.push(`the run printed a crash: ${/.*(internal error|Error|\.js:\d+).*/.exec(h.output())?.[0]}`);
    if (['sigint', 'sigterm', 'double-sigint'].includes(kind) && outcome.exitCode === 130) {
      /* documented */
    }

    // the records parse
    const files = await checkRunFiles(out, failures, started && kind !== 'disk-full');
    if (outcome.exitCode === 130 && files.journal && files.journal.status !== 'interrupted') failures.push(`exit 130 but the journal says ${files.journal.status}`);
    if (files.journal?.status === 'running' && !(kind === 'kill-harness' && outcome.endCode === undefined)) failures.push('the journal is left at running');

    // nothing of the run left: what its tree held, and what carries its mark
    await watch.stop();
    const runProcs = async (): Promise<Proc[]> => {
      const byId = new Map((await watch.alive()).map((p) => [`${p.pid}/${p.start}`, p]));
      for (const p of await markedProcs(mark, out)) byId.set(`${p.pid}/${p.start}`, p);
      return [...byId.values()];
    };
    // a short-lived child of a killed harness (a version probe) may end on its own: a grace of 15 s
    let left = await runProcs();
    for (const until = Date.now() + 15_000; left.length && Date.now() < until; left = await runProcs()) await sleep(500);
    for (const p of left) failures.push(`process left running: ${p.pid} ${p.comm} ${p.cmd.slice(0, 120)}`);
    const bound = await listening();
    for (const e of await labEndpoints(out)) {
      const inode = bound.get(`${e.address}:${e.port}`);
      if (inode === undefined) continue;
      // another injection's lab may have claimed the block since and bound the same port: only a socket of ours, or of nobody known, counts
      const owners = await socketOwners(inode, await allProcs());
      const ours = owners.filter((o) => watch.seen.has(`${o.pid}/${o.start}`) || left.includes(o));
      if (ours.length || !owners.length) failures.push(`lab address ${e.address}:${e.port} is still bound${ours.length ? ` by ${ours.map((o) => `${o.pid} ${o.comm}`).join(', ')}` : ''}`);
    }
    for (const c of await heldAddressClaims(work, new Set(watch.seen.keys()))) failures.push(`address claim ${c} still held`);
    for (const s of await storeProblems(store, kind === 'kill-harness' || kind === 'store-readonly')) failures.push(s);
  } finally {
    await watch.stop();
    for (const m of mounts) if (m === store) await run('umount', [m]);
  }

  tChecks = Date.now();
  // the next run restores and passes (outside the full disk), and leaves nothing either
  const next = path.join(work, 'next');
  const nextMark = `${mark}-next`;
  // one of the two jobs (by the seed's parity): both start from the fork's checkpoint, so one shows
  // whether what the faulted run stored restores; the other would only repeat it
  const job = seed % 2 ? 'branch[tls=on]' : 'branch[tls=off]';
  const n = await startHarnessDone(['run', path.join(path.dirname(scenario), 'next.yml'), '--out', next, '--job', job], { ...env, CHAOS_RUN: nextMark }, new Set(), undefined);
  outcome.nextCode = n.code;
  if (n.code !== 0) failures.push(`the next run exited ${n.code}: ${n.out.slice(-1200)}`);
  const nf: string[] = [];
  await checkRunFiles(next, nf, true);
  failures.push(...nf.map((f) => `next run: ${f}`));
  for (const s of await storeProblems(store, false)) failures.push(`after the next run: ${s}`);
  let nextLeft = await markedProcs(nextMark, next);
  for (const until = Date.now() + 5_000; nextLeft.length && Date.now() < until; nextLeft = await markedProcs(nextMark, next)) await sleep(500);
  for (const p of nextLeft) failures.push(`next run: process left running: ${p.pid} ${p.comm} ${p.cmd.slice(0, 120)}`);
  const tNext = Date.now();

  // the canary is in no file written (the run directories, the cache, leftover host roots and vars copies)
  const scan = [work, ...(await leftoverTemp(t0))];
  for (const f of await canaryFiles(scan, canary)) failures.push(`the canary secret is in ${f}`);
  for (const m of mounts) if (m !== store) await run('umount', [m]);
  await chmod(work, 0o700).catch(() => {});
  outcome.ms = Date.now() - t0;
  outcome.phases = { run: tRun - t0, checks: tChecks - tRun, next: tNext - tChecks, scan: Date.now() - tNext };
  opts.log?.(`${failures.length ? 'FAIL' : 'ok  '} seed ${seed} ${kind} at ${delayMs} ms${outcome.hit ? '' : ' (missed: the run ended first, had not started, or no target)'}: exit ${outcome.exitCode}${outcome.endCode !== undefined ? `, end ${outcome.endCode}` : ''}, next ${outcome.nextCode} (${(outcome.ms / 1000).toFixed(1)} s: ${Object.entries(outcome.phases ?? {}).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')})`);
  return outcome;
}

/** Host roots and vars copies in the temp folder made since `since` (a run removes them at its end). */
async function leftoverTemp(since: number): Promise<string[]> {
  const out: string[] = [];
  const labs = path.join(os.tmpdir(), `ansible-harness-${os.userInfo().uid}`, 'labs');
  for (const n of await readdir(labs).catch(() => [] as string[])) if (n.startsWith('chaos-')) out.push(path.join(labs, n));
  for (const n of await readdir(os.tmpdir()).catch(() => [] as string[])) {
    if (!n.startsWith('harness-vars-')) continue;
    const s = await stat(path.join(os.tmpdir(), n)).catch(() => undefined);
    if (s && s.mtimeMs >= since - 1000) out.push(path.join(os.tmpdir(), n));
  }
  return out;
}

async function startHarnessDone(args: string[], env: NodeJS.ProcessEnv, roots: Set<number>, watch: TreeWatch | undefined): Promise<{ code: number; out: string }> {
  const s = startHarness(args, env);
  roots.add(s.pid);
  const timer = setTimeout(() => process.kill(s.pid, 'SIGKILL'), 240_000);
  const poll = watch ? setInterval(() => void watch.sample(), 150) : undefined;
  const code = await s.exited;
  clearTimeout(timer);
  if (poll) clearInterval(poll);
  return { code: code ?? -1, out: s.output() };
}

/**
 * Runs `runs` injections from `seed` on, `jobs` at once (each in a folder, a cache and a lab of its
 * own, its processes told apart by its tree and its mark); prints a line each and a summary.
 */
export async function runChaos(o: { runs: number; seed: number; jobs?: number; log?: (s: string) => void; keep?: boolean; untilMs?: number }): Promise<Outcome[]> {
  const log = o.log ?? ((s: string) => console.log(s));
  const base = await mkdtemp(path.join(os.tmpdir(), 'harness-chaos-'));
  const scenario = await writeChaosScenario(path.join(base, 'scenario'));
  const warmAnsible = path.join(base, 'ansible.json');
  for (const [k, why] of Object.entries(SKIPPED)) log(`skip ${k}: ${why}`);
  const outcomes: Outcome[] = [];
  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < o.runs; i = next++) {
      if (o.untilMs !== undefined && Date.now() > o.untilMs) {
        if (!stopped) log(`time budget spent: no injection started after ${i} of ${o.runs}`);
        stopped = true;
        return;
      }
      const seed = (o.seed + i) >>> 0;
      const work = path.join(base, `run-${seed}`);
      const out = await injectOnce(seed, scenario, work, { log, warmAnsible });
      outcomes.push(out);
      for (const f of out.failures) log(`  seed ${seed} ${out.kind}: ${oneLine(f)}`);
      if (out.failures.length) log(`  replay: ${replay(seed)}`);
      if (!existsSync(warmAnsible)) await copyFile(path.join(work, 'cache', 'ansible-harness', 'ansible.json'), warmAnsible).catch(() => {});
      if (!o.keep && !out.failures.length) await rm(work, { recursive: true, force: true });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.jobs ?? 1) }, worker));
  } finally {
    if (!o.keep && outcomes.every((x) => !x.failures.length)) await rm(base, { recursive: true, force: true });
    else log(`kept for inspection: ${base}`);
  }
  return outcomes.sort((a, b) => a.seed - b.seed);
}

/** A failure on one line (long outputs cut). */
export function oneLine(s: string): string {
  const t = s.replace(/\s*\n\s*/g, ' | ');
  return t.length > 400 ? `${t.slice(0, 400)}…` : t;
}

/** The summary lines of a chaos run. */
export function summary(outcomes: Outcome[], ms: number): string[] {
  const lines: string[] = [];
  const byKind = new Map<string, { tried: number; hit: number; failed: number }>();
  for (const o of outcomes) {
    const k = byKind.get(o.kind) ?? { tried: 0, hit: 0, failed: 0 };
    k.tried++;
    if (o.hit) k.hit++;
    if (o.failures.length) k.failed++;
    byKind.set(o.kind, k);
  }
  for (const [k, v] of [...byKind].sort()) lines.push(`  ${k.padEnd(17)} tried ${v.tried}, hit ${v.hit}, failed ${v.failed}`);
  const mean = (f: (o: Outcome) => number): string => (outcomes.length ? outcomes.reduce((a, o) => a + f(o), 0) / outcomes.length / 1000 : 0).toFixed(1);
  lines.push(`  mean per injection ${mean((o) => o.ms)} s: run ${mean((o) => o.phases?.run ?? 0)}, checks ${mean((o) => o.phases?.checks ?? 0)}, next run ${mean((o) => o.phases?.next ?? 0)}, canary scan ${mean((o) => o.phases?.scan ?? 0)}`);
  const failed = outcomes.filter((o) => o.failures.length);
  lines.push(`chaos: ${outcomes.length} injections, ${failed.length} failed, ${(ms / 1000).toFixed(0)} s, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const f of failed) lines.push(`  FAILED seed ${f.seed} (${f.kind}): ${oneLine(f.failures[0]!)}  replay: ${replay(f.seed)}`);
  return lines;
}
