/**
 * A child process of the overhead benchmark: runs a scenario through the harness engine on a lab
 * that was allocated once beforehand (so plain Ansible and the harness share the same hosts).
 * Usage: node dist/bench/engine-child.js <job.json>, job = { scenario, out, allocated }.
 * Console output goes to stdout (non-TTY form), like `harness run`; exits with the run's code.
 */
import { readFileSync } from 'node:fs';
import { loadScenario } from '../lib/scenario/index.js';
import { runScenario } from '../lib/run.js';
import type { AllocatedLab, LabProvider } from '../lib/lab/provider.js';

interface Job {
  scenario: string;
  out: string;
  allocated: AllocatedLab;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const scenario = await loadScenario(job.scenario);
const provider: LabProvider = {
  name: scenario.spec.provider,
  allocate: async () => job.allocated,
  release: async () => {},
};
const result = await runScenario(scenario, { out: job.out, provider, write: (t) => process.stdout.write(t), command: ['bench', 'engine-child'] });
process.exitCode = result.exitCode;
