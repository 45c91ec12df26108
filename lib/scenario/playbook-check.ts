/**
 * The check of a playbook a scenario names, before any run: a text file that parses as YAML and
 * holds a list of plays (mappings), as `ansible-playbook` requires. Problems point at the
 * playbook's own file and line.
 */
import jsYaml from 'js-yaml';
import { InputError, type Problem } from '../errors.js';
import { yamlLib } from '../util/yaml.js';
import { expandsBeyond } from './expansion.js';
import { readTextFile } from './read-text.js';

/** Aliases a playbook may expand before it is taken for an alias bomb. */
const MAX_ALIASES = 10_000;

/**
 * Whether a fast parser (js-yaml) reads `text` as a non-empty list of mappings without aliases
 * that expand to more than {@link MAX_ALIASES} values: then it is a playbook. Anything else
 * (a syntax error, Ansible's own tags, a big or odd file) is left to the positioned check.
 */
function plainlyAPlaybook(text: string): boolean {
  let data: unknown;
  try {
    data = jsYaml.load(text);
  } catch {
    return false;
  }
  return Array.isArray(data) && data.length > 0 && data.every((p) => p !== null && typeof p === 'object' && Object.getPrototypeOf(p) === Object.prototype) && !expandsBeyond(text, data, MAX_ALIASES);
}

/**
 * The problems of the playbook at `abs` (shown as `shown`); `ref` names the scenario field that
 * names it (e.g. `stages[0].playbook of s.yml`). Empty when the playbook is a list of plays.
 */
export async function playbookProblems(abs: string, shown: string, ref: string): Promise<Problem[]> {
  let text: string;
  try {
    text = await readTextFile(abs, shown, 'playbook');
  } catch (err) {
    if (err instanceof InputError) return err.problems.map((p) => ({ ...p, message: `${p.message} (${ref})` }));
    throw err;
  }
  if (plainlyAPlaybook(text)) return [];
  const { isMap, isSeq, LineCounter, parseDocument } = yamlLib();
  const lines = new LineCounter();
  // Ansible reads YAML 1.1; its own tags (!vault, !unsafe) are only warnings here.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, version: '1.1', prettyErrors: false });
  const at = (offset: number | undefined): { line?: number; col?: number } => (offset === undefined ? {} : lines.linePos(offset));
  if (doc.errors.length) {
    return doc.errors.map((e) => ({ file: shown, ...at(e.pos[0]), message: `YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')} (${ref})` }));
  }
  try {
    doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    return [{ file: shown, line: 1, message: `YAML: ${(err as Error).message}: the aliases expand to too many values (${ref})` }];
  }
  const top = doc.contents;
  if (top === null || (!isSeq(top) && !isMap(top) && top.toJSON() === null)) {
    return [{ file: shown, line: 1, col: 1, message: `the playbook is empty: write a list of plays, e.g. '- hosts: all' with tasks (${ref})` }];
  }
  if (!isSeq(top)) {
    return [{ file: shown, ...at(top.range?.[0]), message: `is not a playbook: a playbook is a YAML list of plays ('- hosts: ...'), this is ${isMap(top) ? 'a mapping' : 'a single value'} (${ref})` }];
  }
  if (top.items.length === 0) return [{ file: shown, ...at(top.range?.[0]), message: `the playbook has no plays: write a list of plays, e.g. '- hosts: all' with tasks (${ref})` }];
  const problems: Problem[] = [];
  for (const [i, item] of top.items.entries()) {
    if (!isMap(item)) {
      const range = (item as { range?: [number, number, number] } | null)?.range;
      problems.push({ file: shown, ...at(range?.[0] ?? top.range?.[0]), message: `play ${i + 1} is not a mapping: each play is a mapping with 'hosts' (or an 'import_playbook') (${ref})` });
    }
  }
  return problems;
}
