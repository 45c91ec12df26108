import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EXIT, InputError } from '../errors.js';
import type { Lab, Manifest, ManifestStage, ManifestStatus, Scenario, Vars } from '../model/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { VERSION } from '../version.js';

/** What the manifest needs of a run (kept structural so this writer never imports the engine). */
export interface ManifestInput {
  scenario: Scenario;
  result: { runId: string; status: ManifestStatus; exitCode: number | null; reason?: string; stages: ManifestStage[] };
  ansible: { version: string; python: string };
  started: number;
  /** When the run ended; absent while it runs. */
  ended?: number;
  command: string[];
  extraVars: Vars;
  /** The run's options that a rerun (`--resume`, `reproduce`) needs again. */
  options: Manifest['options'];
  lab: Lab;
  tree?: Manifest['tree'];
  labs?: Manifest['labs'];
  redact: (text: string) => string;
}

async function sha256(file: string): Promise<string | null> {
  return readFile(file).then((b) => createHash('sha256').update(b).digest('hex'), () => null);
}

/** The manifest of a run, as {@link writeManifest} writes it (before redaction). */
export async function buildManifest(m: ManifestInput): Promise<Manifest> {
  const playbooks: Record<string, string | null> = {};
  for (const s of m.scenario.stages) if (s.playbook) playbooks[s.playbook] = await sha256(s.playbook);
  return {
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
    ...(m.tree ? { tree: m.tree } : {}),
    ...(m.labs?.length ? { labs: m.labs } : {}),
  };
}

/** Writes `manifest.json` atomically: all that is needed to reproduce the run, with secrets removed. */
export async function writeManifest(file: string, m: ManifestInput): Promise<void> {
  await writeFileAtomic(file, m.redact(`${JSON.stringify(await buildManifest(m), null, 2)}\n`), 0o644);
}

/**
 * Reads a `manifest.json`; an InputError (saying what to check) if it is missing, not JSON, or
 */
export async function readManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read the manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is this a run directory or bundle of ansible-harness?`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: the manifest is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const m = data as Partial<Manifest> | null;
  if (!m || typeof m !== 'object' || m.version !== 1 || typeof m.scenario?.name !== 'string' || typeof m.scenario.file !== 'string') {
    throw new InputError(`${file}: not a version 1 manifest naming its scenario; is this a run directory of ansible-harness?`);
  }
  return { ...m, extraVars: m.extraVars ?? {}, options: { checkpoints: true, ...m.options } } as Manifest;
}

/** Marks a manifest that still says `running` (its harness was killed) as `interrupted`; false if there was nothing to mark. */
export async function markManifestInterrupted(file: string, reason: string, now = Date.now()): Promise<boolean> {
  const m = await readManifest(file).catch(() => undefined);
  if (!m || m.status !== 'running') return false;
  Object.assign(m, { status: 'interrupted', exitCode: EXIT.interrupted, reason, ended: new Date(now).toISOString() });
  await writeFileAtomic(file, `${JSON.stringify(m, null, 2)}\n`, 0o644);
  return true;
}
