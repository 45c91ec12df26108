/**
 * `--changes FILE`: a queue of changes as a YAML list, oldest first. Each change is
 * `{id, description?, vars?: {...}, files?: {PATH: CONTENT | {from: PATH}}, depends?: [ID...]}`:
 * vars set on top of the scenario's (package versions, say), files replaced in the project (a
 * playbook, a role's task file). Changes are cumulative: "prefix i" is changes 1..i on the base.
 * Every problem of the file is reported at once with its line and field.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { InputError, type Problem } from '../errors.js';
import type { Vars } from '../model/index.js';
import { formatPath, Locator, type FieldPath } from '../scenario/positions.js';
import { dependents } from './search.js';
import { aliasErrorAt } from '../util/yaml.js';

/** One change of the queue, paths resolved. */
export interface Change {
  id: string;
  description?: string;
  vars: Vars;
  /** Project-relative path (as the scenario's folder sees it) → the new content. */
  files: Record<string, string>;
  depends: string[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$/;

/** Reads and checks a changes file. Throws an InputError listing every problem with its line. */
export async function loadChanges(file: string): Promise<Change[]> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new InputError([{ file, message: `cannot be read (${(err as NodeJS.ErrnoException).code})` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const locator = new Locator(doc, lines);
  const problems: Problem[] = [];
  const add = (at: FieldPath, message: string, atKey = false): void => {
    const pos = locator.locate(at, atKey);
    problems.push({ file, ...(pos ? { line: pos.line, col: pos.col } : {}), ...(at.length ? { path: formatPath(at) } : {}), message });
  };
  for (const e of doc.errors) problems.push({ file, line: lines.linePos(e.pos[0]).line, col: lines.linePos(e.pos[0]).col, message: e.message.split('\n')[0]! });
  if (problems.length) throw new InputError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const at = aliasErrorAt(doc, lines, err);
    const message = at.unresolved !== undefined ? `the alias *${at.unresolved} names no anchor set before it; set &${at.unresolved} first` : `${(err as Error).message} (aliases are limited: a YAML alias bomb is refused)`;
    throw new InputError([{ file, line: at.line, col: at.col, message }]);
  }
  if (!Array.isArray(data)) throw new InputError([{ file, line: 1, message: 'a changes file is a YAML list of changes, oldest first: - {id: ..., vars: {...}} or files: {...}' }]);
  if (!data.length) throw new InputError([{ file, line: 1, message: 'the queue is empty: give at least one change' }]);
  const out: Change[] = [];
  const dir = path.dirname(abs);
  for (const [i, raw] of (data as unknown[]).entries()) {
    const at: FieldPath = [i];
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      add(at, 'a change is a mapping with at least an id');
      continue;
    }
    const c = raw as Record<string, unknown>;
    for (const k of Object.keys(c)) if (!['id', 'description', 'vars', 'files', 'depends'].includes(k)) add([...at, k], `unknown key '${k}'; a change has: id, description, vars, files, depends`, true);
    const id = typeof c.id === 'string' || typeof c.id === 'number' ? String(c.id) : undefined;
    if (id === undefined) add([...at, 'id'], 'missing: every change needs an id (a commit, a review number, a name)');
    else if (!ID.test(id)) add([...at, 'id'], `'${id}' is no valid id: letters, digits and . _ : / @ -`);
    if (c.vars !== undefined && (typeof c.vars !== 'object' || c.vars === null || Array.isArray(c.vars))) add([...at, 'vars'], 'vars is a mapping of var names to values');
    const files: Record<string, string> = {};
    if (c.files !== undefined) {
      if (typeof c.files !== 'object' || c.files === null || Array.isArray(c.files)) add([...at, 'files'], 'files is a mapping: PATH: CONTENT or PATH: {from: FILE}');
      else {
        for (const [p, v] of Object.entries(c.files as Record<string, unknown>)) {
          const norm = path.posix.normalize(p);
          if (path.isAbsolute(p) || norm.startsWith('..')) add([...at, 'files', p], `'${p}' leaves the project: paths are relative to the scenario's folder, inside it`, true);
          else if (typeof v === 'string') files[norm] = v;
          else if (v && typeof v === 'object' && typeof (v as { from?: unknown }).from === 'string') {
            const from = path.resolve(dir, (v as { from: string }).from);
            try {
              files[norm] = await readFile(from, 'utf8');
            } catch {
              add([...at, 'files', p, 'from'], `no such file: ${from} (paths are relative to the changes file)`);
            }
          } else add([...at, 'files', p], 'give the new content as a string, or {from: FILE}');
        }
      }
    }
    const depends = c.depends === undefined ? [] : Array.isArray(c.depends) ? c.depends.map(String) : [String(c.depends)];
    if (c.vars === undefined && c.files === undefined) add(at, `change '${id ?? i}' changes nothing: give it vars or files`);
    if (id !== undefined) out.push({ id, ...(typeof c.description === 'string' ? { description: c.description } : {}), vars: (c.vars as Vars) ?? {}, files, depends });
  }
  if (problems.length) throw new InputError(problems);
  try {
    dependents(out);
  } catch (err) {
    const m = /^changes\[(\d+)\]/.exec((err as Error).message);
    if (m) add([Number(m[1]), 'depends'], (err as Error).message.replace(/^changes\[\d+\] \([^)]*\): /, ''));
    else add([], (err as Error).message);
    throw new InputError(problems);
  }
  return out;
}

/** The vars and files of changes applied in order (later ones win). */
export function applyChanges(changes: readonly Change[]): { vars: Vars; files: Record<string, string> } {
  const vars: Vars = {};
  const files: Record<string, string> = {};
  for (const c of changes) {
    Object.assign(vars, c.vars);
    Object.assign(files, c.files);
  }
  return { vars, files };
}
