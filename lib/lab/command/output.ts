/**
 * What a `command` lab's allocate script prints on stdout: one JSON document naming the hosts
 * (primary host first) and, optionally, the key and known_hosts file to reach them with.
 * Checked with a JSON Schema; every problem is named by host index and field.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { LabError } from '../../errors.js';
import type { Vars } from '../../model/index.js';
import { hostNameProblem, groupNameProblem, varNameProblem } from '../../inventory/names.js';

/** One host as the script describes it. */
export interface ScriptHost {
  name: string;
  address: string;
  port?: number;
  user?: string;
  groups?: string[];
  vars?: Vars;
  /** A private key for this host only (a path, absolute or relative to the scenario). */
  ssh_key?: string;
}

/** The whole document. */
export interface AllocateOutput {
  hosts: ScriptHost[];
  /** The private key for every host without its own. */
  ssh_key?: string;
  /** A known_hosts file with the hosts' keys: host keys are then checked strictly. */
  known_hosts?: string;
}

/** The JSON Schema of {@link AllocateOutput} (documented in the README's lab contract). */
export const ALLOCATE_OUTPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['hosts'],
  properties: {
    hosts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'address'],
        properties: {
          name: { type: 'string', minLength: 1 },
          address: { type: 'string', minLength: 1 },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          user: { type: 'string', minLength: 1 },
          groups: { type: 'array', items: { type: 'string', minLength: 1 } },
          vars: { type: 'object' },
          ssh_key: { type: 'string', minLength: 1 },
        },
      },
    },
    ssh_key: { type: 'string', minLength: 1 },
    known_hosts: { type: 'string', minLength: 1 },
  },
} as const;

let validate: ReturnType<Ajv['compile']> | undefined;

function where(err: ErrorObject): string {
  const parts = err.instancePath.split('/').slice(1);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  if (err.keyword === 'required') out += `${out ? '.' : ''}${(err.params as { missingProperty: string }).missingProperty}`;
  if (err.keyword === 'additionalProperties') out += `${out ? '.' : ''}${(err.params as { additionalProperty: string }).additionalProperty}`;
  return out || '(the document)';
}

function message(err: ErrorObject): string {
  switch (err.keyword) {
    case 'required':
      return 'is missing';
    case 'additionalProperties':
      return 'is no field of the allocate output (fields: hosts, ssh_key, known_hosts; per host: name, address, port, user, groups, vars, ssh_key)';
    default:
      return err.message ?? 'is invalid';
  }
}

/**
 * Parses and checks the allocate script's stdout. Throws a LabError listing every problem
 * (`hosts[1].address: is missing`), with the script named by `script`.
 */
export function parseAllocateOutput(stdout: string, script: string): AllocateOutput {
  const text = stdout.trim();
  if (!text) throw new LabError(`${script} printed nothing on stdout; it must print one JSON document: {"hosts": [{"name": ..., "address": ...}, ...]}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new LabError(`${script} printed no valid JSON on stdout (${(err as Error).message}); logs belong on stderr, stdout holds only the document. It began: ${JSON.stringify(text.slice(0, 120))}`);
  }
  validate ??= new Ajv({ allErrors: true, strict: false }).compile(ALLOCATE_OUTPUT_SCHEMA);
  const problems: string[] = [];
  if (!validate(data)) for (const e of validate.errors ?? []) problems.push(`${where(e)}: ${message(e)}`);
  if (!problems.length) {
    const out = data as AllocateOutput;
    const seen = new Set<string>();
    out.hosts.forEach((h, i) => {
      const why = hostNameProblem(h.name);
      if (why) problems.push(`hosts[${i}].name: ${why}`);
      if (seen.has(h.name)) problems.push(`hosts[${i}].name: host '${h.name}' is listed twice`);
      seen.add(h.name);
      h.groups?.forEach((g, j) => {
        const gw = groupNameProblem(g);
        if (gw) problems.push(`hosts[${i}].groups[${j}]: ${gw}`);
      });
      for (const v of Object.keys(h.vars ?? {})) {
        const vw = varNameProblem(v);
        if (vw) problems.push(`hosts[${i}].vars.${v}: ${vw}`);
      }
    });
  }
  if (problems.length) throw new LabError(`${script} printed a lab the harness cannot use:\n  ${problems.join('\n  ')}`);
  return data as AllocateOutput;
}
