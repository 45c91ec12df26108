import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import { WholeFloat } from '../model/index.js';
import { SCENARIO_SCHEMA } from './schema.js';
import { SCHEMA_AJV_OPTIONS, schemaDigest } from './schema-digest.js';
import { SCHEMA_DIGEST, validate as generated } from './schema-validator.generated.js';
import { didYouMean } from '../util/suggest.js';
import { pointerToPath, type FieldPath } from './positions.js';

/** A schema violation: where (path, and whether the key itself is at fault) and what. */
export interface SchemaIssue {
  path: FieldPath;
  atKey: boolean;
  message: string;
}

/** What is used of a validator: the call and the errors it leaves. */
export type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/**
 * A schema's validator, made on first use: the one scripts/gen-schema-validator.mjs generated
 * (no ajv to load, no schema to compile), or, when the schema has changed since (its digest
 * differs), the schema compiled by ajv, loaded only then.
 */
export function lazyValidator(schema: object, generated: { digest: string; validate: unknown }): () => Validate {
  let compiled: Validate | undefined;
  return () => {
    if (compiled) return compiled;
    if (schemaDigest(schema) === generated.digest) compiled = generated.validate as Validate;
    else {
      const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
      compiled = new Ajv(SCHEMA_AJV_OPTIONS).compile(schema);
    }
    return compiled;
  };
}

const validator = lazyValidator(SCENARIO_SCHEMA, { digest: SCHEMA_DIGEST, validate: generated });

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof WholeFloat) return `the float ${String(v)}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'nothing',
};

function valueAt(data: unknown, path: FieldPath): unknown {
  let cur = data;
  for (const seg of path) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[seg] : undefined;
  return cur;
}

function describe(err: ErrorObject, data: unknown): SchemaIssue | undefined {
  const path = pointerToPath(err.instancePath, data);
  const value = valueAt(data, path);
  const parent = err.parentSchema as { description?: string; properties?: Record<string, unknown> } | undefined;
  switch (err.keyword) {
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty;
      return { path: [...path, missing], atKey: false, message: `missing required key '${missing}'` };
    }
    case 'additionalProperties': {
      const key = (err.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(parent?.properties ?? {});
      const hint = didYouMean(key, known);
      return {
        path: [...path, key],
        atKey: true,
        message: `unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : known.length ? `; expected one of: ${known.join(', ')}` : ''}`,
      };
    }
    case 'type': {
      const want = ([] as string[]).concat((err.params as { type: string | string[] }).type).map((t) => TYPE_WORDS[t] ?? t);
      return { path, atKey: false, message: `expected ${want.join(' or ')}, got ${kindOf(value)}` };
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const hint = typeof value === 'string' ? didYouMean(value, allowed) : undefined;
      return { path, atKey: false, message: `expected one of ${allowed.join(', ')}, got ${kindOf(value)}${hint ? ` (did you mean '${hint}'?)` : ''}` };
    }
    case 'pattern':
      return { path, atKey: false, message: `${parent?.description ?? `must match ${(err.params as { pattern: string }).pattern}`} Got ${kindOf(value)}.` };
    case 'minItems':
      return { path, atKey: false, message: `must list at least ${(err.params as { limit: number }).limit} item(s)` };
    case 'minLength':
      return { path, atKey: false, message: 'must not be empty' };
    case 'minimum':
    case 'maximum':
      return { path, atKey: false, message: `must be ${err.keyword === 'minimum' ? 'at least' : 'at most'} ${(err.params as { limit: number }).limit}, got ${String(value)}` };
    case 'minProperties':
    case 'maxProperties':
      return { path, atKey: false, message: `expected exactly one of: ${Object.keys(parent?.properties ?? {}).join(', ')}` };
    default:
      return { path, atKey: false, message: err.message ?? 'is not valid' };
  }
}

/** Checks parsed YAML against the scenario schema (or `validate`'s); every issue at once, one per place. */
export function schemaIssues(data: unknown, validate: Validate = validator()): SchemaIssue[] {
  if (validate(data)) return [];
  const seen = new Set<string>();
  const out: SchemaIssue[] = [];
  for (const err of validate.errors ?? []) {
    const issue = describe(err, data);
    if (!issue) continue;
    const key = JSON.stringify(issue.path);
    // A node that breaks several rules is reported once: its first, most basic problem.
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}
