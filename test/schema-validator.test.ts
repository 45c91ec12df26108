/**
 * The scenario validator is ajv standalone code generated into lib/scenario (so a run neither
 * loads ajv nor compiles the schema): it must be what the schema gives now, and report what a
 * freshly compiled validator reports.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SCENARIO_SCHEMA } from '../lib/scenario/schema.js';
import { SCHEMA_AJV_OPTIONS, schemaDigest } from '../lib/scenario/schema-digest.js';
import { SCHEMA_DIGEST, validate } from '../lib/scenario/schema-validator.generated.js';
import { PIPELINE_SCHEMA } from '../lib/pipeline/schema.js';
import { SCHEMA_DIGEST as PIPELINE_DIGEST } from '../lib/pipeline/schema-validator.generated.js';

const test = suite('scenario: generated schema validator');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the generated file is what scripts/gen-schema-validator.mjs makes of the schema now', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'gen-schema-validator.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(SCHEMA_DIGEST, schemaDigest(SCENARIO_SCHEMA));
  assert.is(PIPELINE_DIGEST, schemaDigest(PIPELINE_SCHEMA), 'the pipeline schema\'s validator too');
});

test('a changed schema has another digest (the generated validator is then not used)', () => {
  assert.is.not(schemaDigest({ ...SCENARIO_SCHEMA, title: 'changed' }), SCHEMA_DIGEST);
});

test('the same verdicts and errors as the schema compiled by ajv', () => {
  const compiled = new Ajv(SCHEMA_AJV_OPTIONS).compile(SCENARIO_SCHEMA);
  const documents: unknown[] = [
    { name: 'ok', lab: { provider: 'local', hosts: { a: { groups: ['g'] } } }, stages: [{ name: 's', playbook: 'p.yml', timeout: '5m' }] },
    { name: 'bad name!', lab: { provider: 'nope' }, stages: [] },
    { name: 'x', lab: { provider: 'static', inventory: '' }, stages: [{ name: '', playbok: 'p.yml', retries: -1, timeout: '5 minutes' }], extra: 1 },
    { name: 'x', lab: { provider: 'local', hosts: { a: { port: 70000, groups: 'g' } } }, stages: [{ name: 's', hosts: [''], collect: { all: 3 } }] },
    'not a mapping',
  ];
  const strip = (errors: typeof compiled.errors) => (errors ?? []).map((e) => ({ ...e, schema: JSON.stringify(e.schema), parentSchema: JSON.stringify(e.parentSchema) }));
  for (const doc of documents) {
    const want = compiled(doc);
    const got = validate(doc);
    assert.is(got, want, JSON.stringify(doc));
    assert.equal(strip((validate as unknown as { errors?: typeof compiled.errors }).errors), strip(compiled.errors), JSON.stringify(doc));
  }
});

test.run();
