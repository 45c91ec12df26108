import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import pLimit from 'p-limit';
import { WholeFloat, type AnsibleEvent, type Host, type RunEvent, type Scenario, type Stage, type StageStatus, type Vars } from '../model/index.js';
import { emitJson } from '../inventory/emit.js';
import type { AllocatedLab } from '../lab/provider.js';
import { playbookArgv, runPlaybook, type AnsibleInstall } from '../ansible/index.js';
import { fetchFiles, type SftpConnection } from '../transfer/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatDuration } from '../scenario/duration.js';
import type { RunDir } from './rundir.js';
import type { AnsibleFiles } from './prepare.js';
import { selectHosts, splitHostPattern } from './patterns.js';
import { secretEnvName, stageExtraVars } from './vars.js';
import { LineBuffer } from './lines.js';
import { redactEvent } from '../report/redact.js';

/** What {@link runStage} needs: the run so far and where to report. */
export interface StageContext {
  scenario: Scenario;
  stage: Stage;
  dir: RunDir;
  ansible: AnsibleInstall;
  ansibleFiles: AnsibleFiles;
  lab: AllocatedLab;
  /** Data earlier stages published with set_stats. */
  published: Vars;
  overrides: Vars;
  secrets: Map<string, string>;
  redact: (text: string) => string;
  emit: (event: RunEvent) => void;
  signal?: AbortSignal;
  killGraceMs?: number;
  env: NodeJS.ProcessEnv;
  /** Ansible's verbosity, 0-4. */
  verbosity: number;
  /** Called when an attempt passed, before its stage_end: takes the checkpoint, returns its key. */
  onPassed?: (published: Vars) => Promise<string | undefined>;
}

/** How a stage ended after all its attempts. */
export interface StageOutcome {
  status: StageStatus;
  attempts: number;
  reason?: string;
  /** set_stats data of the last attempt, for later stages. */
  published: Vars;
  /** The checkpoint taken after it passed. */
  checkpoint?: string;
}

/** Runs one attempt of the stage's playbook; returns its status and set_stats data. */
async function runAttempt(ctx: StageContext, attempt: number, stageDir: string): Promise<{ status: StageStatus; reason?: string; exitCode?: number; published: Vars }> {
  const { stage, scenario } = ctx;
  const vars = stageExtraVars(scenario, stage, ctx.published, ctx.overrides, [...ctx.secrets.keys()]);
  const varsFile = path.join(stageDir, 'extra-vars.json');
  await writeFileAtomic(varsFile, emitJson(vars), 0o600); // emitJson keeps 2.0 a float
  const args = playbookArgv({
    playbook: stage.playbook!,
    inventory: ctx.ansibleFiles.inventory,
    limit: stage.hosts.length ? splitHostPattern(stage.hosts) : undefined,
    extraVarsFiles: [varsFile],
    tags: stage.tags,
    skipTags: stage.skipTags,
    verbosity: ctx.verbosity,
  });
  const env: Record<string, string> = { ...ctx.ansibleFiles.env };
  for (const [name, value] of ctx.secrets) env[secretEnvName(name)] = value;

  let custom: Vars = {};
  let hostFailures = 0;
  const logFile = path.join(stageDir, attempt > 1 ? `output.attempt${attempt}.log` : 'output.log');
  const lines = new LineBuffer();
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o644 });
  const out = (text: string): void => {
    const clean = ctx.redact(text);
    ctx.emit({ kind: 'stage_output', time: Date.now(), stage: stage.name, attempt, text: clean });
    log.write(stripVTControlCharacters(clean).replace(/\r/g, ''));
  };
  const result = await runPlaybook({
    args,
    cwd: path.dirname(stage.playbook!),
    env: { ...ctx.env, ...env },
    command: ctx.ansible.playbook,
    tmpDir: ctx.dir.privateDir,
    stage: stage.name,
    attempt,
    timeoutMs: stage.timeoutMs,
    signal: ctx.signal,
    killGraceMs: ctx.killGraceMs,
    onOutput: (chunk: string) => lines.push(chunk).forEach(out),
    onEvent: (event: AnsibleEvent) => {
      if (event.kind === 'stats') custom = event.custom;
      if (event.kind === 'host_result' && (event.status === 'failed' || event.status === 'unreachable') && !event.ignored) hostFailures++;
      // Secrets may appear in any message or result: every string of the event is redacted.
      ctx.emit(redactEvent(event, ctx.redact));
    },
  });
  lines.flush().forEach(out);
  log.end();
  await once(log, 'close');

  const published: Vars = (custom._run as Vars | undefined) ?? {};
  if (result.reason === 'timeout') return { status: 'error', reason: `timed out after ${formatDuration(stage.timeoutMs ?? 0)}; the stage's processes were killed`, exitCode: result.exitCode ?? undefined, published };
  if (result.reason === 'aborted') return { status: 'error', reason: `interrupted (${String(ctx.signal?.reason ?? 'signal')})`, exitCode: result.exitCode ?? undefined, published };
  if (result.exitCode === 0) return { status: 'passed', exitCode: 0, published };
  const what = hostFailures ? `${hostFailures} task result(s) failed or unreachable` : 'no host failed: see output.log';
  return { status: 'failed', reason: `ansible-playbook exited ${result.exitCode ?? result.signal} (${what})`, exitCode: result.exitCode ?? undefined, published };
}

/** How many hosts are fetched from at once, and the caps of one collection. */
const FETCH_CONCURRENCY = 4;
const MAX_FILE_BYTES = 256 << 20;
const MAX_HOST_BYTES = 1 << 30;

/** Fetches the stage's JUnit result files from its hosts and hands each to the sinks. */
async function fetchResults(ctx: StageContext, attempt: number): Promise<void> {
  const { stage, lab } = ctx;
  const limit = pLimit(FETCH_CONCURRENCY);
  await Promise.all(
    selectHosts(lab.lab, stage.hosts).map((host) =>
      limit(async () => {
        const patterns = stage.results.map((p) => expandHostVars(p, host.vars));
        const dest = path.join(ctx.dir.hostsDir, host.name);
        try {
          const got = await fetchFiles(connectionOf(ctx, host.name), patterns, dest, { signal: ctx.signal, maxFileBytes: MAX_FILE_BYTES });
          for (const f of got.fetched) {
            if (!/\.xml$/i.test(f.local)) continue;
            const xml = ctx.redact(await readFile(f.local, 'utf8'));
            ctx.emit({ kind: 'results_file', time: Date.now(), stage: stage.name, attempt, host: host.name, path: f.remote, xml });
          }
        } catch (err) {
          ctx.emit({ kind: 'warning', time: Date.now(), stage: stage.name, attempt, message: `results of ${host.name} could not be fetched: ${(err as Error).message}` });
        }
      }),
    ),
  );
}

/**
 * Fetches the stage's `collect:` files into `hosts/<host>/`, a few hosts at once, with caps per
 * file and per host. Missing paths are noted, not fatal; a host that cannot be reached fails it.
 */
async function collect(ctx: StageContext, attempt: number): Promise<string | undefined> {
  const notes: string[] = [];
  const jobs = new Map<string, { host: Host; paths: string[] }>();
  for (const [pattern, paths] of Object.entries(ctx.stage.collect ?? {})) {
    for (const host of selectHosts(ctx.lab.lab, [pattern])) {
      const job = jobs.get(host.name) ?? { host, paths: [] };
      job.paths.push(...paths.map((p) => expandHostVars(p, host.vars)));
      jobs.set(host.name, job);
    }
  }
  const limit = pLimit(FETCH_CONCURRENCY);
  await Promise.all(
    [...jobs.values()].map(({ host, paths }) =>
      limit(async () => {
        const say = (text: string): void => ctx.emit({ kind: 'stage_output', time: Date.now(), stage: ctx.stage.name, attempt, text });
        try {
          const got = await fetchFiles(connectionOf(ctx, host.name), paths, path.join(ctx.dir.hostsDir, host.name), {
            signal: ctx.signal,
            maxFileBytes: MAX_FILE_BYTES,
            maxTotalBytes: MAX_HOST_BYTES,
          });
          for (const m of got.missing) ctx.emit({ kind: 'warning', time: Date.now(), stage: ctx.stage.name, attempt, message: `${host.name}: ${m} is missing` });
          for (const k of got.skipped) ctx.emit({ kind: 'warning', time: Date.now(), stage: ctx.stage.name, attempt, message: `${host.name}: ${k.remote} not collected: ${k.reason}` });
          const bytes = got.fetched.reduce((n, f) => n + f.bytes, 0);
          say(`collected ${got.fetched.length} file(s), ${bytes} bytes, from ${host.name}${got.missing.length ? `; missing: ${got.missing.join(', ')}` : ''}${got.skipped.length ? `; ${got.skipped.length} skipped (caps, links)` : ''}\n`);
        } catch (err) {
          notes.push(`${host.name}: ${(err as Error).message}`);
        }
      }),
    ),
  );
  return notes.length ? `collection failed: ${notes.join('; ')}` : undefined;
}

/** `{{ name }}` in a remote path becomes the host's var (e.g. `{{ harness_host_root }}/var/log`). */
export function expandHostVars(text: string, vars: Vars): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (whole, name: string) => {
    const v = vars[name];
    return v === undefined || v === null || (typeof v === 'object' && !(v instanceof WholeFloat)) ? whole : String(v);
  });
}

/** How SFTP reaches a host: the lab's address, key and, when the provider knows them, host keys. */
function connectionOf(ctx: StageContext, hostName: string): SftpConnection {
  const h = ctx.lab.lab.hosts.find((x) => x.name === hostName)!;
  const conn: SftpConnection = { host: h.address ?? hostName, port: h.port ?? 22, username: h.user ?? 'root', privateKeyPath: ctx.lab.sshKey ?? '' };
  if (ctx.lab.knownHostsFile) conn.knownHostsFile = ctx.lab.knownHostsFile;
  return conn;
}

/** Runs a stage with its retries; emits stage_start/stage_end for every attempt. */
export async function runStage(ctx: StageContext): Promise<StageOutcome> {
  const { stage } = ctx;
  const stageDir = ctx.dir.stageDir(stage.index, stage.name);
  await mkdir(stageDir, { recursive: true });
  let last: StageOutcome = { status: 'skipped', attempts: 0, published: {} };
  for (let attempt = 1; attempt <= stage.retries + 1; attempt++) {
    ctx.emit({ kind: 'stage_start', time: Date.now(), stage: stage.name, attempt, index: stage.index, playbook: stage.playbook });
    let r: { status: StageStatus; reason?: string; exitCode?: number; published: Vars } = { status: 'passed', published: {} };
    if (stage.playbook) r = await runAttempt(ctx, attempt, stageDir);
    if (stage.results.length && ctx.lab.sshKey) await fetchResults(ctx, attempt);
    if (stage.collect && ctx.lab.sshKey) {
      const problem = await collect(ctx, attempt);
      if (problem && r.status === 'passed') r = { ...r, status: 'failed', reason: problem };
    }
    let checkpoint: string | undefined;
    if (r.status === 'passed' && ctx.onPassed) {
      try {
        checkpoint = await ctx.onPassed(r.published);
      } catch (err) {
        ctx.emit({ kind: 'warning', time: Date.now(), stage: stage.name, attempt, message: `no checkpoint taken: ${(err as Error).message}` });
        ctx.emit({ kind: 'stage_output', time: Date.now(), stage: stage.name, attempt, text: `harness: no checkpoint taken: ${(err as Error).message}\n` });
      }
    }
    ctx.emit({ kind: 'stage_end', time: Date.now(), stage: stage.name, attempt, index: stage.index, status: r.status, reason: r.reason, exitCode: r.exitCode, ...(checkpoint ? { checkpoint } : {}) });
    last = { status: r.status, attempts: attempt, reason: r.reason, published: r.published, ...(checkpoint ? { checkpoint } : {}) };
    if (r.status === 'passed' || ctx.signal?.aborted) break;
  }
  return last;
}
