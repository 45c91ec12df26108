import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { WholeFloat, type AnsibleEvent, type Host, type RunEvent, type Scenario, type Stage, type StageStatus, type Vars } from '../model/index.js';
import { emitJson } from '../inventory/emit.js';
import type { AllocatedLab } from '../lab/provider.js';
import { hostConnection, hostVar, reachedOverSsh } from '../lab/connection.js';
import { playbookArgv, runPlaybook, type AnsibleInstall, type WarmPool } from '../ansible/index.js';
import { fetchFiles, type SftpConnection } from '../transfer/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatDuration } from '../util/duration.js';
import type { RunDir } from './rundir.js';
import type { AnsibleFiles } from './prepare.js';
import { selectHosts, splitHostPattern } from '../inventory/patterns.js';
import { secretEnvName, stageExtraVars } from './vars.js';
import { openStageLog, stageLogName } from './stage-log.js';
import { runControllerStage, unwritableAttempt, type ControllerStageContext } from './controller-stage.js';
import { redactEvent } from '../report/redact.js';
import { scrubFileInPlace } from '../bundle/scrub.js';
import { countResults } from '../report/junit-results.js';

/** What one attempt came to. */
interface AttemptResult {
  status: StageStatus;
  reason?: string;
  exitCode?: number;
  published: Vars;
  /** On a timeout: the tasks that never ended, with their hosts. */
  hung?: { task: string; hosts: string[] }[];
}

/** What {@link runStage} needs: what a controller stage needs, and the lab and Ansible for a playbook. */
export interface StageContext extends ControllerStageContext {
  ansible: AnsibleInstall;
  /** Where a warm `ansible-playbook` may be waiting (lib/ansible/warm.ts). */
  warm?: WarmPool;
  lab: AllocatedLab;
  /** Ansible's verbosity, 0-4. */
  verbosity: number;
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
async function runAttempt(ctx: StageContext, attempt: number, stageDir: string): Promise<AttemptResult> {
  const { stage, scenario } = ctx;
  const vars = stageExtraVars(scenario, stage, ctx.published, ctx.overrides, [...ctx.secrets.keys()]);
  const { file: varsFile, remove: removeVars } = await writeExtraVars(vars, stageDir, ctx.redact);
  try {
    return await runPlaybookAttempt(ctx, attempt, stageDir, varsFile);
  } finally {
    await removeVars();
  }
}

/**
 * Writes a stage's extra vars: `extra-vars.json` in the stage folder, redacted. When that masked
 * something (data published with set_stats holding a secret), Ansible gets the real values from
 * a copy in a private temp folder outside the run directory (0700/0600), removed after the attempt.
 */
async function writeExtraVars(vars: Vars, stageDir: string, redact: (text: string) => string): Promise<{ file: string; remove: () => Promise<void> }> {
  const text = emitJson(vars); // keeps 2.0 a float
  const masked = redact(text); // the redactor knows every JSON-escaped form of each secret
  const shown = path.join(stageDir, 'extra-vars.json');
  await writeFileAtomic(shown, masked, 0o600);
  if (masked === text) return { file: shown, remove: async () => {} };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-vars-'));
  const real = path.join(tmp, 'extra-vars.json');
  await writeFileAtomic(real, text, 0o600).catch(async (err: unknown) => {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  });
  return { file: real, remove: () => rm(tmp, { recursive: true, force: true }) };
}

/** Runs the playbook of one attempt with the extra vars in `varsFile`. */
async function runPlaybookAttempt(ctx: StageContext, attempt: number, stageDir: string, varsFile: string): Promise<AttemptResult> {
  const { stage } = ctx;
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
  /** Ansible's own fatal error (`ERROR! ...`), when it printed one. */
  let fatal: string | undefined;
  const log = openStageLog({
    stage: stage.name, attempt, file: path.join(stageDir, stageLogName(attempt)), redact: ctx.redact, emit: ctx.emit,
    onLine: (plain) => {
      if (fatal === undefined && plain.startsWith('ERROR! ')) fatal = plain.trim();
    },
  });
  const result = await runPlaybook({
    args,
    cwd: path.dirname(stage.playbook!),
    env: { ...ctx.env, ...env },
    command: ctx.ansible.playbook,
    ...(ctx.warm ? { warm: ctx.warm } : {}),
    tmpDir: ctx.dir.privateDir,
    stage: stage.name,
    attempt,
    timeoutMs: stage.timeoutMs,
    signal: ctx.signal,
    killGraceMs: ctx.killGraceMs,
    onOutput: (chunk) => log.write(chunk),
    onEvent: (event: AnsibleEvent) => {
      if (event.kind === 'stats') custom = event.custom;
      if (event.kind === 'host_result' && (event.status === 'failed' || event.status === 'unreachable') && !event.ignored && !event.rescued) hostFailures++;
      // Secrets may appear in any message or result: every string of the event is redacted.
      ctx.emit(redactEvent(event, ctx.redact));
    },
  });
  await log.close();

  const published: Vars = (custom._run as Vars | undefined) ?? {};
  if (result.reason === 'timeout') {
    const hung = result.unfinished.map((u) => ({ task: ctx.redact(u.task), hosts: u.hosts }));
    const where = hung.length ? ` in ${hung.map((u) => `task '${u.task}' on ${u.hosts.join(', ')}`).join('; ')}` : '';
    return { status: 'error', reason: `timed out after ${formatDuration(stage.timeoutMs ?? 0)}${where}; the stage's processes were killed`, exitCode: result.exitCode ?? undefined, published, ...(hung.length ? { hung } : {}) };
  }
  const cancelled = result.reason === 'aborted' ? ctx.cancelled?.() : undefined;
  if (cancelled) return { status: 'skipped', reason: cancelled, exitCode: result.exitCode ?? undefined, published };
  if (result.reason === 'aborted') return { status: 'error', reason: `interrupted (${String(ctx.signal?.reason ?? 'signal')})`, exitCode: result.exitCode ?? undefined, published };
  if (result.exitCode === 0) return { status: 'passed', exitCode: 0, published };
  const what = hostFailures ? `${hostFailures} task result(s) failed or unreachable` : fatal ? fatal.split('\n')[0]! : 'no host failed: see output.log';
  return { status: 'failed', reason: `ansible-playbook exited ${result.exitCode ?? result.signal} (${what})`, exitCode: result.exitCode ?? undefined, published };
}

/** How many hosts are fetched from at once, and the caps of one collection. */
const FETCH_CONCURRENCY = 4;
const MAX_FILE_BYTES = 256 << 20;
const MAX_HOST_BYTES = 1 << 30;

/**
 * Fetches the stage's JUnit result files from its hosts and hands each to the sinks, with its
 * counts. Returns why the stage fails because of them (a failed or errored test, a file that cannot
 * be read), unless the stage has `results_fail: false`; a pattern matching nothing is a warning.
 */
async function fetchResults(ctx: StageContext, attempt: number): Promise<string | undefined> {
  const { stage, lab } = ctx;
  const limit = pLimit(FETCH_CONCURRENCY);
  const bad: string[] = [];
  const warn = (message: string): Promise<void> => stageWarning(ctx, attempt, message);
  await Promise.all(
    selectHosts(lab.lab, stage.hosts).map((host) =>
      limit(async () => {
        if (!reachedOverSsh(host, lab.lab)) return warn(notOverSsh(host, lab, 'results'));
        const patterns = stage.results.map((p) => expandHostVars(p, host.vars));
        const dest = path.join(ctx.dir.hostsDir, host.name);
        try {
          const got = await fetchFiles(connectionOf(ctx, host.name), patterns, dest, { signal: ctx.signal, maxFileBytes: MAX_FILE_BYTES });
          // The run directory keeps what it fetched as safe as the bundle: text redacted in place.
          for (const f of got.fetched) await scrubFileInPlace(f.local, ctx.redact, ctx.signal);
          for (const m of got.missing) await warn(`results: ${m} matched no file on ${host.name}`);
          for (const f of got.fetched) {
            if (!/\.xml$/i.test(f.local)) continue;
            const xml = ctx.redact(await readFile(f.local, 'utf8'));
            const counted = countResults(xml, f.remote);
            if (counted.problem) bad.push(`${host.name}:${f.remote} cannot be read (${counted.problem})`);
            else if (counted.failures || counted.errors) bad.push(`${host.name}:${f.remote} has ${counted.failures} failed and ${counted.errors} errored test(s)`);
            ctx.emit({ kind: 'results_file', time: Date.now(), stage: stage.name, attempt, host: host.name, path: f.remote, xml, ...counted });
          }
        } catch (err) {
          await warn(`results of ${host.name} could not be fetched: ${(err as Error).message}`);
        }
      }),
    ),
  );
  if (!bad.length || stage.resultsFail === false) return undefined;
  return `results: ${bad.sort().join('; ')}`;
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
        if (!reachedOverSsh(host, ctx.lab.lab)) return stageWarning(ctx, attempt, notOverSsh(host, ctx.lab, 'collect'));
        const say = (text: string): void => ctx.emit({ kind: 'stage_output', time: Date.now(), stage: ctx.stage.name, attempt, text });
        try {
          const got = await fetchFiles(connectionOf(ctx, host.name), paths, path.join(ctx.dir.hostsDir, host.name), {
            signal: ctx.signal,
            maxFileBytes: MAX_FILE_BYTES,
            maxTotalBytes: MAX_HOST_BYTES,
          });
          for (const f of got.fetched) await scrubFileInPlace(f.local, ctx.redact, ctx.signal);
          for (const m of got.missing) ctx.emit({ kind: 'warning', time: Date.now(), stage: ctx.stage.name, attempt, message: `${host.name}: ${m} is missing` });
          for (const k of got.skipped) ctx.emit({ kind: 'warning', time: Date.now(), stage: ctx.stage.name, attempt, message: `${host.name}: ${k.remote} not collected: ${k.reason}` });
          const bytes = got.fetched.reduce((n, f) => n + f.bytes, 0);
          say(`collected ${got.fetched.length} file(s), ${bytes} bytes, from ${host.name}${got.missing.length ? `; missing: ${got.missing.join(', ')}` : ''}${got.skipped.length ? `; ${got.skipped.length} skipped (caps, links)` : ''}\n`);
        } catch (err) {
          notes.push(`${host.name}: ${(err as Error).message}`);
          await stageWarning(ctx, attempt, `collect: nothing collected from ${host.name}: ${(err as Error).message}`);
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

/** How SFTP reaches a host: its own connection vars, else the lab's key, and, when the provider knows them, host keys. */
function connectionOf(ctx: StageContext, hostName: string): SftpConnection {
  const c = hostConnection(ctx.lab.lab.hosts.find((x) => x.name === hostName)!, ctx.lab);
  const conn: SftpConnection = { host: c.address, port: c.port, username: c.user };
  if (c.key) conn.privateKeyPath = c.key;
  if (ctx.lab.knownHostsFile) conn.knownHostsFile = ctx.lab.knownHostsFile;
  return conn;
}

/** Why files of a host Ansible reaches without SSH (`ansible_connection: local`, docker, ...) are not fetched. */
function notOverSsh(host: Host, lab: AllocatedLab, what: 'results' | 'collect'): string {
  return `${what}: nothing fetched from ${host.name}: Ansible reaches it with ansible_connection=${String(hostVar(lab.lab, host, 'ansible_connection'))}, and the harness fetches files over SFTP only`;
}

/** A warning of the stage: an event, a console line and a line in the attempt's output log. */
async function stageWarning(ctx: StageContext, attempt: number, message: string): Promise<void> {
  const { stage } = ctx;
  const text = ctx.redact(`harness: warning: ${message}\n`);
  ctx.emit({ kind: 'warning', time: Date.now(), stage: stage.name, attempt, message: ctx.redact(message) });
  ctx.emit({ kind: 'stage_output', time: Date.now(), stage: stage.name, attempt, text });
  const log = path.join(ctx.dir.stageDir(stage.index, stage.name), attempt > 1 ? `output.attempt${attempt}.log` : 'output.log');
  await appendFile(log, text, { mode: 0o644 }).catch(() => {});
}

/** Runs a stage with its retries; emits stage_start/stage_end for every attempt. A `run:` stage runs on the controller (controller-stage.ts). */
export async function runStage(ctx: StageContext): Promise<StageOutcome> {
  const { stage } = ctx;
  if (stage.run !== undefined) return runControllerStage(ctx);
  const stageDir = ctx.dir.stageDir(stage.index, stage.name);
  await mkdir(stageDir, { recursive: true }).catch((err: unknown) => void unwritableAttempt(err)); // a full disk: the attempt reports it
  let last: StageOutcome = { status: 'skipped', attempts: 0, published: {} };
  for (let attempt = 1; attempt <= stage.retries + 1; attempt++) {
    const voting = stage.voting === false ? { voting: false } : {};
    ctx.emit({ kind: 'stage_start', time: Date.now(), stage: stage.name, attempt, index: stage.index, playbook: stage.playbook, ...voting });
    let r: AttemptResult = { status: 'passed', published: {} };
    if (stage.playbook) r = await runAttempt(ctx, attempt, stageDir).catch(unwritableAttempt);
    if (stage.results.length) {
      const problem = await fetchResults(ctx, attempt);
      if (problem && r.status === 'passed') r = { ...r, status: 'failed', reason: problem };
    }
    if (stage.collect) {
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
    const retrying = r.status !== 'passed' && !ctx.signal?.aborted && attempt <= stage.retries;
    ctx.emit({
      kind: 'stage_end', time: Date.now(), stage: stage.name, attempt, index: stage.index, status: r.status, reason: r.reason, exitCode: r.exitCode,
      ...(checkpoint ? { checkpoint } : {}), ...voting, ...(retrying ? { retrying } : {}), ...(r.hung ? { hung: r.hung } : {}),
    });
    last = { status: r.status, attempts: attempt, reason: r.reason, published: r.published, ...(checkpoint ? { checkpoint } : {}) };
    if (!retrying) break;
  }
  return last;
}
