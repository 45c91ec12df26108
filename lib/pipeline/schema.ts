/**
 * The JSON Schema of pipeline files (a top-level `pipeline:` key): steps run in order, each a
 * list of jobs (a scenario file, optionally only some of its jobs). Its validator is generated
 * as ajv standalone code like the scenario's (scripts/gen-schema-validator.mjs).
 */
import type { JsonSchema } from '../scenario/schema.js';

const NAME = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

const job: JsonSchema = {
  type: 'object',
  description: 'A job of the step: a scenario file, all its jobs or only some.',
  additionalProperties: false,
  required: ['scenario'],
  properties: {
    name: { type: 'string', pattern: NAME, description: "The job's name in its step (its run directory's folder); default: the scenario's name and the leaves of `job`." },
    scenario: { type: 'string', minLength: 1, description: 'The scenario file, relative to the pipeline file.' },
    job: {
      type: ['string', 'array'],
      items: { type: 'string', minLength: 1 },
      minLength: 1,
      minItems: 1,
      description: "Only these jobs of the scenario's tree (leaf names, as `harness run --job`).",
    },
    voting: { type: 'boolean', description: 'false: its failure is reported but does not stop the later steps nor fail the pipeline.' },
    vars: { type: 'object', additionalProperties: true, description: 'Extra vars of this job (as -e; the command line -e wins).' },
  },
};

const step: JsonSchema = {
  type: 'object',
  description: 'A step: its jobs run at once (up to --jobs N labs); the next step starts when all ended.',
  additionalProperties: false,
  required: ['name', 'jobs'],
  properties: {
    name: { type: 'string', pattern: NAME, description: 'The step name: letters, digits, `_`, `.`, `-`.' },
    jobs: { type: 'array', minItems: 1, items: job, description: 'The jobs of the step.' },
  },
};

/** The JSON Schema of pipeline files. */
export const PIPELINE_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://ansible-harness.dev/schema/pipeline.json',
  title: 'ansible-harness pipeline',
  type: 'object',
  additionalProperties: false,
  required: ['pipeline', 'steps'],
  properties: {
    pipeline: { type: 'string', pattern: NAME, description: 'The pipeline name (runs/<name>/...): letters, digits, `_`, `.`, `-`.' },
    description: { type: 'string' },
    steps: { type: 'array', minItems: 1, items: step, description: 'The steps, in order: a failing voting job stops the later ones.' },
  },
};
