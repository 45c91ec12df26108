/**
 * Runs the planned tree (PIPELINES.md §1–2): each node once, branches from their fork's
 * checkpoint, up to `--jobs N` branches at once on labs of their own.
 *
 * The work comes as *branch tasks*: a task starts a lab in some state (fresh, or restored from a
 * checkpoint) and runs down the tree from one node; at a fork it keeps the first child on its
 * lab and hands each other child to a new task that starts from the fork's checkpoint. Tasks
 * wait on a stack (depth first: a fork's branches run one after another with `--jobs 1`, each
 * restoring the fork first) and take an idle lab or, below `--jobs`, a new one.
 *
 * A failed node skips its own subtree (the reason names it); siblings still run. With
 * `fail_fast: all` the first voting failure cancels every node not finished yet; a node is
 * cancelled (even while it runs) when a stage in its `cancelled_by` fails. The always-stages are
 * the `finally` of every branch end: where a job ends (its leaf, or the node that failed or was
 * cancelled), they run on that lab, once, naming the jobs.
 */
import path from 'node:path';
import { EXIT, exitCodeOf, failedWhy, HarnessError, isUnwritableDisk, LabError } from '../errors.js';
import type { Stage, Vars } from '../model/index.js';
import { canCheckpoint } from '../lab/provider.js';
import type { CheckpointInfo } from '../checkpoint/index.js';
import { CLAIMS_DIR, claimOrWait, type BuildClaim, type ClaimHolder } from '../checkpoint/claim.js';
import { variantVars } from '../plan/tree.js';
import { formatDuration } from '../util/duration.js';
import type { PlannedJob, PlanStep } from './plan.js';
import { AllocationFailed, allocateSlot, newSlot, releaseSlot, restoreInto, type LabSlot } from './labs.js';
import { reportNotRun, skipStep, treeFields, type RunState } from './run-state.js';
import { runStage, type StageContext, type StageOutcome } from './stage.js';
import { keepFailedState } from './failure-snapshot.js';

/** A branch to run: the state its lab starts in, and the node it starts at. */
interface Task {
  /** The node whose checkpoint the lab starts from (undefined: a fresh lab). */
  start?: PlanStep;
  /** The first node to run (undefined: a job restored whole; only its always-stages run). */
  root?: PlanStep;
  /** The published data the branch starts with (a fork's, for its later branches). */
  published?: Vars;
}

/** The executor's bookkeeping of one run. */
class TreeRun {
  private readonly stack: Task[] = [];
  private readonly active = new Set<Promise<void>>();
  /** Checkpoints taken by this run, by node name. */
  private readonly saved = new Map<string, CheckpointInfo>();
  /** Nodes running now, with the controller that cancels them. */
  private readonly running = new Map<string, { step: PlanStep; cancel: AbortController }>();
  /** Set when `fail_fast: all` stopped the world. */
  private stopped?: string;
  private alwaysCount = 0;
  /** Wakes the scheduler when a branch is handed over while it waits. */
  private wake: () => void = () => {};

  constructor(private readonly state: RunState) {}

  private get plan() {
    return this.state.plan;
  }

  /** The planned children of a node that run. */
  private runChildren(step: PlanStep): PlanStep[] {
    return step.node.children.map((c) => this.plan.byName.get(c.name)).filter((s): s is PlanStep => s?.action === 'run');
  }

  /** The planned steps of a subtree, `step` first. */
  private subtree(step: PlanStep): PlanStep[] {
    const out: PlanStep[] = [step];
    for (const c of step.node.children) {
      const s = this.plan.byName.get(c.name);
      if (s) out.push(...this.subtree(s));
    }
    return out;
  }

  /** The jobs that run through `step` (start above it). */
  private jobsThrough(step: PlanStep): PlannedJob[] {
    return this.plan.jobs.filter((j) => j.nodes.includes(step.node) && (!j.start || j.nodes.indexOf(j.start) < j.nodes.indexOf(step.node)));
  }

  /** Why a node must not start now, or undefined. */
  private whyNot(step: PlanStep): string | undefined {
    const s = this.state;
    if (s.opts.signal?.aborted) return 'the run was interrupted';
    if (this.stopped) return this.stopped;
    const by = (step.stage.cancelledBy ?? []).find((c) => s.failedNodes.has(c));
    if (by) return `cancelled: stage '${by}' failed (cancelled_by)`;
    return undefined;
  }

  /** The first tasks: every run node whose parent does not run, and every job restored whole. */
  private initialTasks(): Task[] {
    const tasks: Task[] = [];
    for (const step of this.plan.steps) {
      if (step.action !== 'run') continue;
      const parent = step.node.parent ? this.plan.byName.get(step.node.parent.name) : undefined;
      if (parent?.action === 'run') continue;
      tasks.push(parent?.action === 'restore' ? { start: parent, root: step } : { root: step });
    }
    for (const job of this.plan.jobs) {
      const leaf = job.nodes[job.nodes.length - 1]!;
      if (job.start === leaf) tasks.push({ start: this.plan.byName.get(leaf.name)! });
    }
    return tasks;
  }

  async run(): Promise<void> {
    const max = Math.max(1, this.state.opts.parallel ?? 1);
    this.stack.push(...this.initialTasks().reverse());
    while (this.stack.length || this.active.size) {
      while (this.stack.length && (this.idle() || this.roomForLab(max))) {
        const task = this.stack.pop()!;
        const why = this.state.opts.signal?.aborted ? 'the run was interrupted' : this.stopped;
        if (why) {
          this.skipTask(task, why);
          continue;
        }
        const slot = this.idle(!task.start) ?? (await newSlot(this.state));
        slot.busy = true;
        const p: Promise<void> = this.runTask(task, slot).finally(() => {
          slot.busy = false;
          this.active.delete(p);
        });
        this.active.add(p);
      }
      if (!this.active.size) continue;
      const handedOver = new Promise<void>((resolve) => (this.wake = resolve));
      await Promise.race([...this.active, handedOver]);
    }
  }

  /** Whether a new lab may be had: below `--jobs`, and (after the first) within the budget a pipeline's jobs share. */
  private roomForLab(max: number): boolean {
    const n = this.state.labs.length;
    return n < max && (n === 0 || (this.state.opts.labBudget?.() ?? true));
  }

  /** An idle lab, preferring one that is still fresh when `fresh`. */
  private idle(fresh = false): LabSlot | undefined {
    const idle = this.state.labs.filter((l) => !l.busy);
    return (fresh ? idle.find((l) => !l.used) : undefined) ?? idle[0];
  }

  /** Reports every node of a task that will not run. */
  private skipTask(task: Task, why: string): void {
    if (task.root) for (const s of this.subtree(task.root)) skipStep(this.state, s, why);
    if (task.start && task.start.action === 'restore') for (const s of this.pathTo(task.start)) if (s.action === 'restore') skipStep(this.state, s, why);
  }

  private pathTo(step: PlanStep): PlanStep[] {
    return step.path.map((n) => this.plan.byName.get(n)).filter((s): s is PlanStep => s !== undefined);
  }

  /** Runs one task on `slot`; a thrown error ends the task (its nodes skipped) and becomes the run's outcome. */
  private async runTask(task: Task, slot: LabSlot): Promise<void> {
    const s = this.state;
    try {
      let published: Vars = { ...(task.published ?? {}) };
      if (task.start) {
        const info = this.saved.get(task.start.node.name) ?? s.ckpt?.stored.get(task.start.node.name);
        if (!info) {
          const why = `the checkpoint of '${task.start.node.name}' it starts from could not be taken`;
          // jobs that never ran are not a pass: the run is an error (exit 1), not a crash
          if (!s.opts.signal?.aborted && s.outcome.status !== 'error') s.outcome = { status: 'error', exitCode: EXIT.stageFailed, reason: `${why}, so the jobs from it did not run` };
          this.skipTask(task, why);
          return;
        }
        // restoreInto allocates the lab when the slot has none (straight into the checkpoint where the provider can).
        published = { ...(await restoreInto(s, slot, info, task.start.node.name)) };
        this.reportRestored(task.start, info);
        if (s.scenario.spec.onRestore && !(await this.onRestore(task, slot, published, info))) return;
      } else if (!slot.allocated || slot.used) {
        if (slot.allocated) {
          await releaseSlot(s, slot);
          slot.provider = await s.newProvider();
        }
        await allocateSlot(s, slot);
      }
      if (task.root) await this.runDown(task.root, slot, published);
      else await this.runAlways(slot, task.start!, this.plan.jobs.filter((j) => j.start === task.start!.node), published);
    } catch (err) {
      if (err instanceof AllocationFailed) {
        if (s.outcome.exitCode === EXIT.ok || s.outcome.status === 'failed') s.outcome = err.outcome;
        this.skipTask(task, err.why);
        return;
      }
      // A lab error (hosts not ready, a restore that failed) speaks for itself; anything else is ours.
      const why = s.opts.signal?.aborted ? 'the run was interrupted' : err instanceof LabError ? err.message : failedWhy(err);
      if (!s.opts.signal?.aborted) {
        if (!(err instanceof HarnessError) && !isUnwritableDisk(err)) s.crash ??= err;
        if (s.outcome.status !== 'error') s.outcome = { status: 'error', exitCode: exitCodeOf(err), reason: why };
      }
      this.skipTask(task, why);
    }
  }

  /** Reports the nodes a restored checkpoint stands for, once each. */
  private reportRestored(start: PlanStep, info: CheckpointInfo): void {
    const s = this.state;
    const why = `restored from checkpoint ${info.key} (after stage '${info.stage}', taken ${info.created})`;
    for (const step of this.pathTo(start)) {
      if (step.action === 'restore') reportNotRun(s, step.stage, 'restored', why, { checkpoint: info.key, ...treeFields(s, step) });
    }
  }

  /** Runs `lab.on_restore` after a restore; false (the task's nodes skipped) when it failed. */
  private async onRestore(task: Task, slot: LabSlot, published: Vars, info: CheckpointInfo): Promise<boolean> {
    const s = this.state;
    const at = task.root ?? task.start!;
    const name = s.plan.line ? 'on-restore' : `on-restore@${at.node.name}`;
    const stage: Stage = {
      name, index: s.plan.line ? task.start!.index : this.nextAlwaysIndex(), playbook: s.scenario.spec.onRestore, hosts: [], vars: {}, checkpoint: false, retries: 0,
      always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: s.scenario.spec.onRestore! },
    };
    const outcome = await runStage(this.context(slot, stage, task.start!, published, s.opts.signal));
    this.report(stage, outcome, true, slot, task.start!);
    Object.assign(published, outcome.published);
    if (outcome.status === 'passed') return true;
    s.failedStage ??= name;
    const why = `'${name}' failed after checkpoint ${info.key} was restored`;
    if (task.root) for (const step of this.subtree(task.root)) skipStep(s, step, why, slot);
    return false;
  }

  private nextAlwaysIndex(): number {
    return this.plan.tree.nodes.length + this.alwaysCount++;
  }

  /** The context of one stage run on `slot`. */
  private context(slot: LabSlot, stage: Stage, place: PlanStep | undefined, published: Vars, signal: AbortSignal | undefined, extra: { jobs?: string[] } = {}): StageContext {
    const s = this.state;
    const tree = place ? treeFields(s, place, slot) : {};
    const decorate = { ...tree, ...(tree.path && extra.jobs ? { jobs: extra.jobs } : {}) };
    return {
      scenario: s.scenario,
      // In a tree, each node collects into hosts/<node>/<host>/ so branches never overwrite each other.
      dir: s.plan.line ? slot.dir : { ...slot.dir, hostsDir: path.join(s.dir.hostsDir, stage.name) },
      ansible: s.ansible,
      ...(s.warm ? { warm: s.warm } : {}),
      secrets: s.secrets,
      redact: s.redact,
      env: s.env,
      ansibleFiles: slot.ansibleFiles!,
      lab: slot.allocated!,
      published,
      emit: (e) => s.emit(e.kind === 'stage_start' || e.kind === 'stage_end' ? { ...e, ...decorate } : e),
      overrides: s.opts.extraVars ?? {},
      killGraceMs: s.opts.killGraceMs,
      verbosity: s.opts.verbosity ?? 0,
      stage,
      signal,
    };
  }

  /** Pushes a stage's report. */
  private report(stage: Stage, outcome: StageOutcome, voting: boolean, slot: LabSlot, place?: PlanStep, jobs?: string[]): void {
    const s = this.state;
    s.reported.add(stage.name);
    const tree = place ? treeFields(s, place, slot) : {};
    s.reports.push({
      name: stage.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting,
      ...(outcome.checkpoint ? { checkpoint: outcome.checkpoint } : {}), ...tree, ...(tree.path && jobs ? { jobs } : {}),
    });
  }

  /** Runs `first` and down the tree on `slot`: the first child on this lab, the others as new tasks. */
  private async runDown(first: PlanStep, slot: LabSlot, published: Vars): Promise<void> {
    const s = this.state;
    let step = first;
    for (;;) {
      const why = this.whyNot(step);
      if (why) {
        for (const x of this.subtree(step)) skipStep(s, x, why, slot);
        const parent = step.node.parent ? this.plan.byName.get(step.node.parent.name) : undefined;
        await this.runAlways(slot, parent ?? step, this.jobsThrough(step), published);
        return;
      }
      // Another run (process, scenario) may be building this very node: wait, and restore its checkpoint.
      const claim = await this.claim(step);
      if (claim.state === 'done') {
        const info = claim.info;
        Object.assign(published, await restoreInto(s, slot, info, step.node.name));
        this.saved.set(step.node.name, info);
        const by = claim.waitedFor ? `by ${claim.waitedFor.what} ` : '';
        reportNotRun(s, step.stage, 'restored', `built ${by}while this run waited; restored from checkpoint ${info.key}`, { checkpoint: info.key, ...treeFields(s, step, slot) });
      }
      let outcome: StageOutcome;
      try {
        outcome = claim.state === 'done' ? { status: 'passed', attempts: 0, published: {} } : await this.runNode(step, slot, published);
      } finally {
        if (claim.state === 'claimed') await claim.claim?.release();
      }
      Object.assign(published, outcome.published);
      // A non-voting node that failed is reported, and the branch goes on (as in a line); a cancelled or interrupted one ends it.
      const ends = outcome.status === 'skipped' || (outcome.status !== 'passed' && (step.node.voting || s.opts.signal?.aborted));
      if (ends) {
        const reason = outcome.status === 'skipped' ? outcome.reason ?? 'cancelled' : s.opts.signal?.aborted ? 'the run was interrupted' : `stage '${step.stage.name}' failed`;
        for (const x of this.subtree(step).slice(1)) skipStep(s, x, reason, slot);
        await keepFailedState(s, slot, step, outcome); // before the always-stages change the lab
        await this.runAlways(slot, step, this.jobsThrough(step), published);
        return;
      }
      const kids = this.runChildren(step);
      if (!kids.length) {
        await this.runAlways(slot, step, this.jobsThrough(step), published);
        return;
      }
      // The later branches start from this fork's checkpoint, on this lab after the first or on labs of their own.
      for (const kid of kids.slice(1).reverse()) this.stack.push({ start: step, root: kid, published: { ...published } });
      if (kids.length > 1) this.wake();
      step = kids[0]!;
    }
  }

  /**
   * Claims the build of a node whose checkpoint the store keeps across runs (claims live beside
   * the store), or waits while another run builds it: `done`, with the checkpoint, when it is there now.
   */
  private async claim(step: PlanStep): Promise<{ state: 'claimed'; claim?: BuildClaim } | { state: 'done'; info: CheckpointInfo; waitedFor?: ClaimHolder }> {
    const s = this.state;
    const ckpt = s.ckpt;
    if (!step.checkpoint || !ckpt?.persistent) return { state: 'claimed' };
    const key = ckpt.keys.get(step.node.name)!.key;
    let found: CheckpointInfo | undefined;
    const got = await claimOrWait(path.join(ckpt.store.root, CLAIMS_DIR), key, {
      isDone: async () => (found = await ckpt.store.find(s.scenario.name, key)) !== undefined,
      what: `${s.scenario.name}: ${step.node.name} (run ${s.dir.runId})`,
      onWait: (h) => s.log(`harness: ${step.node.name}: waiting for ${h.what}, pid ${h.pid} on ${h.host}, which builds the same node (key ${key})`),
      onUnclaimed: (why) => s.log(`harness: ${step.node.name}: ${why}`),
      signal: s.opts.signal,
    });
    if (got.state === 'done') return { ...got, info: found! };
    if (got.tookOver) s.log(`harness: ${step.node.name}: took over the build from ${got.tookOver.what}, pid ${got.tookOver.pid}, which is gone`);
    return got;
  }

  /** Runs one node; records its failure (and cancels what depends on it). */
  private async runNode(step: PlanStep, slot: LabSlot, published: Vars): Promise<StageOutcome> {
    const s = this.state;
    const cancel = new AbortController();
    const signal = s.opts.signal ? AbortSignal.any([s.opts.signal, cancel.signal]) : cancel.signal;
    this.running.set(step.stage.name, { step, cancel });
    const vars = { ...variantVars(step.node.variant), ...published };
    let outcome: StageOutcome;
    try {
      outcome = await runStage({
        ...this.context(slot, step.stage, step, vars, signal),
        onPassed: step.checkpoint && s.ckpt ? (p) => this.takeCheckpoint(step, slot, { ...published, ...p }) : undefined,
        cancelled: () => (cancel.signal.aborted ? String(cancel.signal.reason) : undefined),
      });
    } finally {
      this.running.delete(step.stage.name);
      slot.used = true;
    }
    this.report(step.stage, outcome, step.node.voting, slot, step);
    if (outcome.status === 'failed' || outcome.status === 'error') this.failed(step);
    return outcome;
  }

  /** A node failed: `fail_fast: all` stops the world; nodes `cancelled_by` it are aborted. */
  private failed(step: PlanStep): void {
    const s = this.state;
    s.failedNodes.add(step.stage.name);
    s.failedNodes.add(step.node.stage.name);
    if (step.node.voting) s.failedStage ??= step.stage.name;
    if (step.node.voting && s.scenario.failFast === 'all' && !this.stopped) {
      this.stopped = `cancelled: stage '${step.stage.name}' failed (fail_fast: all)`;
      for (const r of this.running.values()) r.cancel.abort(this.stopped);
    }
    for (const r of this.running.values()) {
      const by = (r.step.stage.cancelledBy ?? []).find((c) => c === step.node.stage.name || c === step.stage.name);
      if (by) r.cancel.abort(`cancelled: stage '${by}' failed (cancelled_by)`);
    }
  }

  /** Saves the checkpoint of a node that passed; returns its key. */
  private async takeCheckpoint(step: PlanStep, slot: LabSlot, published: Vars): Promise<string | undefined> {
    const s = this.state;
    const ckpt = s.ckpt!;
    const provider = slot.provider;
    if (!canCheckpoint(provider)) throw new Error(`the ${provider.name} lab cannot take checkpoints`);
    const key = ckpt.keys.get(step.node.name)!;
    const meta = { scenario: s.scenario.name, stage: step.node.name, key: key.key, inputs: key.cumulative, published, provider: slot.provider.name, run: s.dir.runId };
    const t0 = Date.now();
    const saved = await ckpt.store.save(meta, (data) => provider.saveCheckpoint(data, { lab: slot.allocated!, previous: slot.lastCheckpointDir, signal: s.opts.signal, log: s.log }), { signal: s.opts.signal });
    slot.lastCheckpointDir = saved.dataDir;
    this.saved.set(step.node.name, saved);
    s.emit({ kind: 'stage_output', time: Date.now(), stage: step.stage.name, attempt: 1, text: `harness: checkpoint ${key.key} ${saved.saved ? 'saved' : 'was saved already'} (${formatDuration(Date.now() - t0)})\n` });
    return key.key;
  }

  /**
   * The always-stages at a branch end (`end`: the node the lab's state stands after), on its lab,
   * after a pass, a failure or an interrupt; stopped only by a second Ctrl-C.
   */
  private async runAlways(slot: LabSlot, end: PlanStep, jobs: PlannedJob[], published: Vars): Promise<void> {
    const s = this.state;
    if (!slot.allocated || s.opts.holdLabs) return; // a held lab stays as the branch left it
    const jobNames = jobs.map((j) => j.name);
    for (const a of s.plan.tree.always) {
      const stage: Stage = s.plan.line ? a : { ...a, name: `${a.name}@${end.node.name}`, index: this.nextAlwaysIndex() };
      const outcome = await runStage(this.context(slot, stage, end, { ...variantVars(end.node.variant), ...published }, s.opts.forceSignal, { jobs: jobNames }));
      slot.used = true;
      this.report(stage, outcome, a.voting, slot, end, s.plan.line ? undefined : jobNames);
      Object.assign(published, outcome.published);
      if ((outcome.status === 'failed' || outcome.status === 'error') && a.voting) s.failedStage ??= stage.name;
    }
  }
}

/** Runs the planned tree on labs from the run's provider; sets no outcome (see executeRun). */
export async function runTree(state: RunState): Promise<void> {
  await new TreeRun(state).run();
}
