import { readFile } from 'node:fs/promises';
import type { ScalarTag } from 'yaml';
import { yamlLib } from '../../util/yaml.js';

/** Ansible's own scalar tags: kept as their text (a vaulted value is opaque here, not decrypted). */
const ANSIBLE_TAGS: ScalarTag[] = [
  { tag: '!unsafe', resolve: (text: string) => text },
  { tag: '!vault', resolve: (text: string) => text },
  { tag: '!vault-encrypted', resolve: (text: string) => text },
];

/** A YAML file read the way Ansible reads it, or why it could not be. */
export type YamlRead = { ok: true; docs: unknown[] } | { ok: false; reason: string };

/**
 * Reads every document of a YAML file as PyYAML would (YAML 1.1, merge keys, duplicate keys
 * allowed). Unknown tags are tolerated (their value is kept untagged); syntax errors are returned.
 */
export async function readYaml(file: string): Promise<YamlRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, reason: (err as NodeJS.ErrnoException).code ?? String(err) };
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
