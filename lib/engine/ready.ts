/**
 * Hosts that are ready (seeds/001 "Validate Hosts", "Keys File"), after every allocation and every
 * checkpoint restore, before any stage: every host that Ansible reaches over SSH answers and runs
 * Python within `lab.validate.timeout` (retried with backoff while hosts boot); `lab.authorized_keys`
 * are added to each host's authorized_keys (idempotently); then `lab.validate.playbook`, the team's
 * own checks, runs against the lab like a stage (`lab-validate`). Anything that fails is a lab
 * error naming the host or the playbook: the planned stages are skipped and the run ends with
 * exit 3 after the lab is released.
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
import { skipStage, type RunState } from './run-state.js';
import { runStage } from './stage.js';
import { stageContext } from './steps.js';

/** The name the validate playbook runs under (journal, JUnit, `stages/NN-lab-validate/`). */
export const VALIDATE_STAGE = 'lab-validate';

/** When the hosts are checked. */
export type ReadyWhen = 'allocation' | 'restore';

/**
 * Makes sure the allocated lab is ready for the stages (see the file comment). Throws a
 * LabError, after reporting every planned stage not yet reported as skipped, when it is not.
 */
export async function ensureHostsReady(state: RunState, when: ReadyWhen): Promise<void> {
  try {
    await hostsReady(state, when);
  } catch (err) {
    if (!(err instanceof LabError) || state.opts.signal?.aborted) throw err;
    const why = `the lab's hosts were not ready after ${when === 'restore' ? 'the checkpoint was restored' : 'allocation'}`;
    const reported = new Set(state.reports.map((r) => r.name));
    for (const step of state.plan) if (!reported.has(step.stage.name)) skipStage(state, step.stage.index, why);
    throw new LabError(`${why}: ${err.message}`, { cause: err });
  }
}

async function hostsReady(state: RunState, when: ReadyWhen): Promise<void> {
  const { scenario, opts } = state;
  const spec = scenario.spec;
  const lab = state.allocated!;
  // Hosts Ansible reaches another way (ansible_connection=local, docker, ...) have no SSH to check.
  const overSsh: AllocatedLab = { ...lab, lab: { ...lab.lab, hosts: lab.lab.hosts.filter((h) => reachedOverSsh(h, lab.lab)) } };
  const hosts = overSsh.lab.hosts;
  if (spec.validate !== false && hosts.length) {
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
  const playbook = spec.validate ? spec.validate.playbook : undefined;
  if (playbook) {
    const index = when === 'restore' ? (state.ckpt?.restore?.index ?? 0) : 0;
    const stage: Stage = {
      name: VALIDATE_STAGE, index, playbook, hosts: [], vars: {}, checkpoint: false, retries: 0,
      always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: playbook },
      description: 'lab.validate.playbook: the team\'s own checks of the hosts',
    };
    const outcome = await runStage({ ...stageContext(state), stage, signal: opts.signal });
    state.reports.push({ name: stage.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: true });
    if (outcome.status !== 'passed') {
      opts.signal?.throwIfAborted();
      const log = path.relative(state.dir.root, path.join(state.dir.stageDir(index, stage.name), 'output.log'));
      throw new LabError(`lab.validate.playbook ${playbook} failed: ${outcome.reason ?? outcome.status} (see ${log})`);
    }
  }
}
