/** ansible-harness: the public, typed API. This file only re-exports. */
export * from './model/index.js';
export * from './errors.js';
export { loadScenario, SCENARIO_SCHEMA, parseDuration, formatDuration, resolveSecrets, type LoadOptions } from './scenario/index.js';
export { readInventory, formatInventory, toIni, toJson, toYaml, INVENTORY_FORMATS, type InventoryFormat } from './inventory/index.js';
export { runScenario, type RunOptions, type RunResult, type StageReport } from './run.js';
export { planTree, type PlanStep, type PlanOptions, type TreePlan, type PlannedJob } from './engine/plan.js';
export { buildTree, type StageTree, type TreeNode, type Job } from './plan/tree.js';
export { selectHosts } from './inventory/patterns.js';
export type { LabProvider, AllocatedLab, AllocateContext, CheckpointCapable, CheckpointContext } from './lab/provider.js';
export { createProvider } from './lab/create.js';
export { createLocalProvider, type LocalProviderOptions } from './lab/local/index.js';
export { releaseRecorded } from './lab/release.js';
export { cleanupRun, type CleanupReport } from './engine/cleanup.js';
export { prepareResume, scenarioFileOfRun, type ResumeFrom } from './engine/resume.js';
export { fetchFiles, type SftpConnection } from './transfer/index.js';
export { findAnsible, playbookArgv, runPlaybook, parseEventLine, type AnsibleInstall, type PlaybookArgvOptions, type PlaybookResult } from './ansible/index.js';
export { createConsoleSink, createEventsSink, createJournalSink, createJUnitSink, createRedactor, fanout, readJournal, type Journal } from './report/index.js';
export { VERSION } from './version.js';
