import { readFile } from 'node:fs/promises';
import jsYaml from 'js-yaml';
import type { ScalarTag } from 'yaml';
import { yamlLib } from '../../util/yaml.js';

/** Ansible's own scalar tags, kept as their text (a vaulted value is opaque here, not decrypted). */
const TAG_NAMES = ['!unsafe', '!vault', '!vault-encrypted'] as const;
const ANSIBLE_TAGS: ScalarTag[] = TAG_NAMES.map((tag) => ({ tag, resolve: (text: string) => text }));
/** PyYAML's YAML 1.1 booleans (`yes`, `off`, ...; not `y`/`n`, which PyYAML reads as strings). */
const BOOL_11 = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const BOOL = new jsYaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (text: string | null) => text !== null && BOOL_11.test(text),
  construct: (text: string) => /^(?:yes|true|on)$/i.test(text),
});
/** The same tags for js-yaml, over its default schema (merge keys, timestamps, as YAML 1.1 has them) with PyYAML's booleans. */
const FAST_SCHEMA = jsYaml.DEFAULT_SCHEMA.extend({ implicit: [BOOL], explicit: TAG_NAMES.map((tag) => new jsYaml.Type(tag, { kind: 'scalar', construct: (text: string | null) => text ?? '' })) });

/** A YAML file read the way Ansible reads it, or why it could not be. */
export type YamlRead = { ok: true; docs: unknown[] } | { ok: false; reason: string };

/**
 * Reads every document of a YAML file as PyYAML would (YAML 1.1, merge keys, duplicate keys
 * allowed: the last wins). Unknown tags are tolerated (their value is kept untagged); syntax
 * errors are returned. The fast parser (js-yaml) reads what it can; anything it refuses (an
 * unknown tag, a syntax error) is read again by the `yaml` package (~60 ms to load), which
 * tolerates the tags and words the error. The walk reads file names and role names from what
 * is read; where the two still differ (`y`/`n`: yaml's 1.1 booleans, PyYAML's strings, as here;
 * `0644`) no such name is affected.
 */
export async function readYaml(file: string): Promise<YamlRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, reason: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  try {
    return { ok: true, docs: jsYaml.loadAll(text, undefined, { schema: FAST_SCHEMA, json: true, filename: file }) };
  } catch {
    // read again below, tolerantly
  }
  const docs = yamlLib().parseAllDocuments(text, { version: '1.1', merge: true, uniqueKeys: false, customTags: ANSIBLE_TAGS, prettyErrors: false });
  if (!Array.isArray(docs)) return { ok: true, docs: [] };
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length) return { ok: false, reason: doc.errors[0]!.message };
    out.push(doc.toJS({ maxAliasCount: -1 }));
  }
  return { ok: true, docs: out };
}
