/**
 * Hosts that are ready (seeds/001 "Validate Hosts", "Keys File"), after every allocation and every
 * checkpoint restore, before any stage: every host that Ansible reaches over SSH answers and runs
 * Python within `lab.validate.timeout` (retried with backoff while hosts boot); `lab.authorized_keys`
 * are added to each host's authorized_keys (idempotently); then `lab.validate.playbook`, the team's
 * own checks of fresh hosts, runs against the lab like a stage (`lab-validate`) after an
 * allocation. Anything that fails is a lab error naming the host or the playbook: the nodes of
 * the task are skipped and the run ends with exit 3 after the lab is released.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { DEFAULT_VALIDATE_TIMEOUT_MS, type Stage } from '../model/index.js';
import { addAuthorizedKeys, parseAuthorizedKeys } from '../lab/authorized-keys.js';
import { reachedOverSsh } from '../lab/connection.js';
import type { AllocatedLab } from '../lab/provider.js';
import { validateHosts } from '../lab/validate-hosts.js';
import { formatDuration } from '../util/duration.js';
import type { LabSlot, RunState } from './run-state.js';
import { runStage } from './stage.js';

/** The name the validate playbook runs under (journal, JUnit, `stages/NN-lab-validate/`); later runs of it add `@lab-N-K`. */
export const VALIDATE_STAGE = 'lab-validate';

/** When the hosts are checked. */
export type ReadyWhen = 'allocation' | 'restore';

/** How many times each run ran the validate playbook (its stage names stay unique). */
const validateRuns = new WeakMap<RunState, number>();

/**
 * Makes sure the slot's freshly allocated or restored lab is ready for the stages (see the file
 * comment). Throws a LabError naming the hosts or the playbook when it is not: the run's
 * executor skips the nodes of the task and releases the lab.
 */
export async function ensureHostsReady(state: RunState, slot: LabSlot, when: ReadyWhen): Promise<void> {
  try {
    await hostsReady(state, slot, when);
  } catch (err) {
    if (!(err instanceof LabError) || state.opts.signal?.aborted) throw err;
    const after = when === 'restore' ? 'the checkpoint was restored' : 'allocation';
    throw new LabError(`the lab's hosts were not ready after ${after}${state.labs.length > 1 ? ` (${slot.name})` : ''}: ${err.message}`, { cause: err });
  }
}

async function hostsReady(state: RunState, slot: LabSlot, when: ReadyWhen): Promise<void> {
  const { scenario, opts } = state;
  const spec = scenario.spec;
  const lab = slot.allocated!;
  // Hosts Ansible reaches another way (ansible_connection=local, docker, ...) have no SSH to check.
  const overSsh: AllocatedLab = { ...lab, lab: { ...lab.lab, hosts: lab.lab.hosts.filter((h) => reachedOverSsh(h, lab.lab)) } };
  const hosts = overSsh.lab.hosts;
  if (spec.validate !== false && hosts.length && !lab.verified) {
    const t0 = Date.now();
    const timeoutMs = spec.validate?.timeoutMs ?? DEFAULT_VALIDATE_TIMEOUT_MS;
    await validateHosts(overSsh, { timeoutMs, log: state.log, ...(opts.signal ? { signal: opts.signal } : {}) });
    state.log(`harness: ${hosts.length} host(s) answer SSH and run Python (${formatDuration(Date.now() - t0)})`);
  }
  if (spec.authorizedKeys && hosts.length) {
    const file = spec.authorizedKeys;
    const text = await readFile(file, 'utf8').catch((err: Error) => {
      throw new LabError(`lab.authorized_keys: cannot read ${file}: ${err.message}`, { cause: err });
    });
    const parsed = parseAuthorizedKeys(text);
    if (parsed.problems.length) throw new LabError(`lab.authorized_keys: ${file}:${parsed.problems[0]!.line}: ${parsed.problems[0]!.message}`);
    const done = await addAuthorizedKeys(overSsh, parsed.keys, opts.signal ? { signal: opts.signal } : {});
    const added = done.reduce((n, d) => n + d.added, 0);
    state.log(`harness: lab.authorized_keys: ${parsed.keys.length} key(s) of ${path.basename(file)} on ${done.length} host(s), ${added} added (${done.map((d) => `${d.host}: ${d.file}`).slice(0, 3).join(', ')}${done.length > 3 ? ', ...' : ''})`);
  }
  // The team's checks are of fresh hosts (clean disks, rekick done): a restored lab is the checkpoint's.
  const playbook = spec.validate ? spec.validate.playbook : undefined;
  if (playbook && when === 'allocation') await runValidatePlaybook(state, slot, playbook);
}

/** Runs `lab.validate.playbook` on the slot's lab as a stage of its own; a LabError naming it when it did not pass. */
async function runValidatePlaybook(state: RunState, slot: LabSlot, playbook: string): Promise<void> {
  const { opts } = state;
  const k = (validateRuns.get(state) ?? 0) + 1;
  validateRuns.set(state, k);
  const name = k === 1 ? VALIDATE_STAGE : `${VALIDATE_STAGE}@${slot.name}-${k}`;
  const stage: Stage = {
    name, index: 0, playbook, hosts: [], vars: {}, checkpoint: false, retries: 0,
    always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: playbook },
    description: "lab.validate.playbook: the team's own checks of the hosts",
  };
  const outcome = await runStage({
    scenario: state.scenario, stage, dir: slot.dir, ansible: state.ansible, ...(state.warm ? { warm: state.warm } : {}), ansibleFiles: slot.ansibleFiles!, lab: slot.allocated!,
    published: {}, overrides: opts.extraVars ?? {}, secrets: state.secrets, redact: state.redact, emit: state.emit,
    env: state.env, verbosity: opts.verbosity ?? 0, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
  });
  state.reported.add(name);
  state.reports.push({ name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: true });
  if (outcome.status !== 'passed') {
    opts.signal?.throwIfAborted();
    const log = path.relative(state.dir.root, path.join(slot.dir.stageDir(stage.index, name), 'output.log'));
    throw new LabError(`lab.validate.playbook ${playbook} failed: ${outcome.reason ?? outcome.status} (see ${log})`);
  }
}
