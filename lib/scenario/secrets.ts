import { readFile } from 'node:fs/promises';
import { InputError, type Problem } from '../errors.js';
import { locateField } from './load.js';
import type { Scenario } from '../model/index.js';

/** The shortest secret value accepted: shorter ones cannot be masked without garbling logs. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Reads every secret's value from its reference (environment or file), at run time only.
 * The values are returned, never stored in the model; a missing one is an InputError naming it.
 */
export async function resolveSecrets(scenario: Scenario, env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  const problems: Problem[] = [];
  for (const s of scenario.secrets) {
    if ('env' in s.ref) {
      const v = env[s.ref.env];
      if (v === undefined) problems.push({ file: scenario.file, path: `secrets.${s.name}`, message: `secret '${s.name}' comes from the environment variable ${s.ref.env}, which is not set: export it before the run` });
      else values.set(s.name, v);
    } else {
      try {
        values.set(s.name, (await readFile(s.ref.file, 'utf8')).replace(/\r?\n$/, ''));
      } catch (err) {
        problems.push({ file: scenario.file, path: `secrets.${s.name}`, message: `secret '${s.name}' comes from ${s.ref.file}, which cannot be read (${(err as NodeJS.ErrnoException).code}): create it or fix the path` });
      }
    }
  }
  for (const [name, value] of values) {
    // Every occurrence of a secret is masked in every output; a value this short would garble
    // all of it (each letter `x` becomes ********) while protecting nothing.
    if (value.length < MIN_SECRET_LENGTH) {
      problems.push({ file: scenario.file, path: `secrets.${name}`, message: `secret '${name}' is ${value.length} character(s) long: a secret must have at least ${MIN_SECRET_LENGTH}, or masking it would garble every log` });
    }
  }
  if (problems.length) {
    // Point at each secret's declaration (lines are worked out only now, on the error path).
    for (const p of problems) Object.assign(p, await locateField(scenario.file, ['secrets', p.path!.slice('secrets.'.length)], true));
    throw new InputError(problems);
  }
  return values;
}
