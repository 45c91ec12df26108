import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Lab, Scenario, Vars } from '../model/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { VERSION } from '../version.js';

/** What the manifest needs of a finished run (kept structural so this sink never imports the engine). */
export interface ManifestInput {
  scenario: Scenario;
  result: { runId: string; status: string; exitCode: number | null; reason?: string; stages: { name: string; status: string; attempts: number; reason?: string; voting: boolean; checkpoint?: string }[] };
  ansible: { version: string; python: string };
  started: number;
  /** When the run ended; absent while it runs. */
  ended?: number;
  command: string[];
  extraVars: Vars;
  /** The run's options that a rerun (`--resume`, `reproduce`) needs again. */
  options: { from?: string; until?: string; checkpoints: boolean };
  lab: Lab;
  redact: (text: string) => string;
}

async function sha256(file: string): Promise<string | null> {
  return readFile(file).then((b) => createHash('sha256').update(b).digest('hex'), () => null);
}

/** Writes `manifest.json`: all that is needed to reproduce the run, with secrets removed. */
export async function writeManifest(dir: { manifest: string }, m: ManifestInput): Promise<void> {
  const playbooks: Record<string, string | null> = {};
  for (const s of m.scenario.stages) if (s.playbook) playbooks[s.playbook] = await sha256(s.playbook);
  const manifest = {
    version: 1,
    runId: m.result.runId,
    status: m.result.status,
    exitCode: m.result.exitCode,
    reason: m.result.reason,
    started: new Date(m.started).toISOString(),
    ended: m.ended === undefined ? null : new Date(m.ended).toISOString(),
    command: m.command,
    scenario: { name: m.scenario.name, file: m.scenario.file, sha256: await sha256(m.scenario.file) },
    playbooks,
    vars: m.scenario.vars,
    extraVars: m.extraVars,
    options: m.options,
    secrets: m.scenario.secrets.map((s) => ({ name: s.name, ref: s.ref })),
    lab: {
      provider: m.lab.provider,
      hosts: m.lab.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port, user: h.user, groups: h.groups, vars: h.vars })),
      groups: m.lab.groups,
      vars: m.lab.vars,
    },
    versions: { harness: VERSION, ansible: m.ansible.version, python: m.ansible.python, node: process.version },
    stages: m.result.stages,
  };
  await writeFileAtomic(dir.manifest, m.redact(`${JSON.stringify(manifest, null, 2)}\n`), 0o644);
}
