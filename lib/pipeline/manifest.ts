/** The types of `pipeline.json`, a pipeline run's manifest (docs/cli-json.md). */

/** How a job of the pipeline ended. */
export interface PipelineJobResult {
  id: string;
  step: string;
  scenario: string;
  file: string;
  /** The tree's jobs it ran (empty: all). */
  jobs: string[];
  voting: boolean;
  /** `running` only in the pipeline.json of a pipeline still running (or killed). */
  status: 'running' | 'passed' | 'failed' | 'interrupted' | 'error' | 'skipped';
  exitCode?: number;
  reason?: string;
  /** Its run directory, relative to the pipeline's. */
  runDir?: string;
  startedAt?: string;
  durationMs?: number;
}

/** `pipeline.json`: the pipeline's manifest (version 1, docs/cli-json.md). */
export interface PipelineManifest {
  version: 1;
  kind: 'pipeline';
  pipeline: { name: string; file: string; description: string };
  runId: string;
  startedAt: string;
  endedAt?: string;
  status: 'running' | 'passed' | 'failed' | 'interrupted' | 'error';
  exitCode?: number;
  reason?: string;
  options: { parallel: number; checkpoints: boolean };
  command?: string[];
  steps: { name: string; status: 'pending' | 'passed' | 'failed' | 'skipped'; jobs: PipelineJobResult[] }[];
}
