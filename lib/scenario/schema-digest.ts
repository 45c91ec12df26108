/**
 * What the scenario schema's validator is built from: ajv's options and a digest of the schema,
 * shared by scripts/gen-schema-validator.mjs (which writes the digest into the generated
 * validator) and lib/scenario/validate-schema.ts (which uses that validator only when the digest
 * still matches).
 */
import { createHash } from 'node:crypto';

/** The ajv options of the scenario validator (errors for every field, the schema beside each). */
export const SCHEMA_AJV_OPTIONS = { allErrors: true, verbose: true, strict: false, allowUnionTypes: true } as const;

/** sha256 of the schema (its JSON) and the options. */
export function schemaDigest(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify({ schema, options: SCHEMA_AJV_OPTIONS })).digest('hex');
}
