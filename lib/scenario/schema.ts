import { PROVIDERS } from '../model/lab.js';
import { DURATION_PATTERN } from './duration.js';

/** A JSON Schema fragment. */
export type JsonSchema = Record<string, unknown>;

const vars: JsonSchema = {
  type: 'object',
  description: 'Variables by name (any YAML value).',
  additionalProperties: true,
};
const stringList = (description: string): JsonSchema => ({
  description,
  type: ['string', 'array'],
  items: { type: 'string', minLength: 1 },
  minLength: 1,
});
const duration: JsonSchema = {
  type: 'string',
  pattern: DURATION_PATTERN,
  description: 'A duration: a whole number and a unit, e.g. 90s, 30m, 2h, 1h30m.',
};

const host: JsonSchema = {
  type: ['object', 'null'],
  description: 'A host of the lab.',
  additionalProperties: false,
  properties: {
    groups: { type: 'array', items: { type: 'string' }, description: 'Groups the host belongs to.' },
    vars,
    address: { type: 'string', description: 'Where to reach the host (static/command labs); providers fill it in.' },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: 'SSH port.' },
    user: { type: 'string', description: 'SSH user.' },
  },
};

const group: JsonSchema = {
  type: ['object', 'null'],
  description: 'A group: its child groups and vars.',
  additionalProperties: false,
  properties: {
    children: { type: 'array', items: { type: 'string' } },
    vars,
  },
};

const secret: JsonSchema = {
  type: 'object',
  description: 'Where a secret comes from: an environment variable or a file. The value is never written anywhere.',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Name of an environment variable.' },
    file: { type: 'string', minLength: 1, description: 'Path of a file (relative to the scenario); its content without the final newline.' },
  },
};

const stage: JsonSchema = {
  type: 'object',
  description: 'One step of the scenario.',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'The stage name (unique).' },
    description: { type: 'string' },
    playbook: { type: 'string', minLength: 1, description: 'Playbook to run, relative to the scenario file.' },
    run: {
      description: 'A command run on the controller instead of a playbook: a shell line (run by /bin/sh -c) or an argv list, in the scenario folder.',
      type: ['string', 'array'],
      minLength: 1,
      minItems: 1,
      items: { type: 'string', minLength: 1 },
    },
    inputs: stringList('run: stages: globs (relative to the scenario folder) of the files hashed into the checkpoint key.'),
    outputs: stringList('run: stages: globs (relative to HARNESS_STAGE_DIR) of the files kept in the run directory and bundle.'),
    secrets: {
      ...stringList('run: stages: names of scenario secrets the command gets as environment variables.'),
      items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    },
    hosts: stringList('Host patterns (groups or hosts) the stage touches; default: all.'),
    vars: { ...vars, description: 'Extra vars of this stage (over the scenario vars).' },
    checkpoint: { type: 'boolean', description: 'Snapshot the lab after the stage passes.' },
    timeout: duration,
    retries: { type: 'integer', minimum: 0, maximum: 10, description: 'Reruns of a failed stage.' },
    always: { type: 'boolean', description: 'Run even after an earlier stage failed (collect, cleanup).' },
    voting: { type: 'boolean', description: 'false: a failure is reported but does not fail the run.' },
    results: stringList('Globs of JUnit files the system under test writes on the hosts (run: stages: local files relative to HARNESS_STAGE_DIR); merged into junit.xml.'),
    results_fail: { type: 'boolean', description: 'false: failed or unreadable results files do not fail the stage (default true).' },
    collect: {
      type: 'object',
      description: 'Files to fetch from hosts: a host pattern to paths or globs.',
      additionalProperties: stringList('Paths, directories or globs on the hosts.'),
    },
    tags: stringList('Ansible tags to run.'),
    skip_tags: stringList('Ansible tags to skip.'),
    extends: { type: 'string', description: 'Start a branch from the lab state right after this earlier stage (default: the stage listed before).' },
    cancelled_by: stringList('Stages whose failure aborts this one, even while it runs (it is then skipped).'),
  },
};

const combination: JsonSchema = {
  type: 'object',
  description: 'A partial combination: axis name to value.',
  minProperties: 1,
  additionalProperties: true,
};
const variants: JsonSchema = {
  type: 'object',
  description: 'A variant matrix: the stages from `from` on run once per combination, with the axes as vars.',
  additionalProperties: false,
  required: ['from', 'matrix'],
  properties: {
    from: { type: 'string', minLength: 1, description: 'The first stage that runs per variant; stages before it are shared.' },
    matrix: { type: 'object', minProperties: 1, description: 'Axes by name, each a list of values.', additionalProperties: { type: 'array' } },
    exclude: { type: 'array', items: combination, description: 'Combinations to leave out.' },
    non_voting: { type: 'array', items: combination, description: 'Combinations that are reported but never fail the run.' },
  },
};

const lab: JsonSchema = {
  type: 'object',
  description: 'Where the hosts come from.',
  additionalProperties: false,
  required: ['provider'],
  properties: {
    provider: { enum: [...PROVIDERS], description: `The lab provider: ${PROVIDERS.join(', ')}.` },
    hosts: { type: 'object', description: 'Hosts by name.', additionalProperties: host },
    groups: { type: 'object', description: 'Group children and vars, by group name.', additionalProperties: group },
    vars: { ...vars, description: 'Vars of the all group.' },
    inventory: { type: 'string', minLength: 1, description: 'An existing inventory (static labs), relative to the scenario file.' },
    options: { type: 'object', description: 'Provider settings (e.g. qemu memory, cpus, packages).' },
    allocate: { type: 'string', minLength: 1, description: 'command labs: the script that allocates the hosts and prints them as JSON (docs/command-lab.md), relative to the scenario.' },
    release: { type: 'string', minLength: 1, description: 'command labs: the script that gives the hosts back; runs on every path.' },
    snapshot: { type: 'string', minLength: 1, description: 'command labs: `snapshot NAME` saves the lab into HARNESS_CHECKPOINT_DIR (with restore: checkpoints).' },
    restore: { type: 'string', minLength: 1, description: 'command labs: `restore NAME` brings the lab back to a snapshot.' },
    timeout: { ...duration, description: 'command labs: each script is killed after this long (default 20m).' },
    on_restore: {
      type: 'string',
      minLength: 1,
      description: 'A playbook run right after a checkpoint is restored, to start what the hosts run at boot (a local lab keeps files, not processes).',
    },
    validate: {
      type: ['object', 'boolean'],
      description: 'Host validation after every allocation and checkpoint restore: every host answers SSH and runs Python (retried while hosts boot), then the optional playbook. false: none.',
      additionalProperties: false,
      properties: {
        timeout: { ...duration, description: 'Every host must answer SSH and run Python within this long (default 5m).' },
        playbook: { type: 'string', minLength: 1, description: "The team's own checks (clean disks, rekick done): a playbook run against the lab, relative to the scenario file; failing is a lab error." },
      },
    },
    authorized_keys: {
      type: 'string',
      minLength: 1,
      description: "A file of SSH public keys (relative to the scenario) added to root's authorized_keys on every host before the first stage (the connecting user's on a local lab).",
    },
  },
};

/** The JSON Schema of scenario files; `harness schema` prints it for editors. */
export const SCENARIO_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://ansible-harness.dev/schema/scenario.json',
  title: 'ansible-harness scenario',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'lab', 'stages'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', description: 'The scenario name (runs/<name>/...).' },
    description: { type: 'string' },
    lab,
    vars: { ...vars, description: 'Extra vars of every stage.' },
    secrets: { type: 'object', description: 'Secrets by var name, by reference only.', additionalProperties: secret },
    stages: { type: 'array', minItems: 1, items: stage, description: 'The stages: a tree written depth-first (a stage continues from the one before it, or from its `extends`).' },
    variants,
    fail_fast: { enum: ['branch', 'all'], description: 'branch (default): a failed voting stage skips its own subtree; all: it cancels every stage not finished yet.' },
  },
};
