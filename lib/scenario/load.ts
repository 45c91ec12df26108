import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Document, LineCounter } from 'yaml';
import jsYaml from 'js-yaml';
import { InputError, type Problem } from '../errors.js';
import { floatValue, WholeFloat, type Group, type Host, type Lab, type LabSpec, type CommandLabSpec, type ProviderName, type Scenario, type Secret, type SecretRef, type Stage, type VariantsSpec, type VarValue, type Vars } from '../model/index.js';
import { readInventory } from '../inventory/index.js';
import { findUserConfig, userSettings } from '../ansible/user-config.js';
import { matchPattern, patternProblem, splitHostPattern } from '../inventory/patterns.js';
import { MAX_DURATION_MS, parseDuration } from './duration.js';
import { readTextFile } from './read-text.js';
import { expandsBeyond } from './expansion.js';
import { aliasErrorAt, yamlLib } from '../util/yaml.js';
import { playbookProblems } from './playbook-check.js';
import { labReadiness, optionProblems } from './lab-options.js';
import { groupNameProblem, hostNameProblem, stageNameProblem, varNameProblem } from '../inventory/names.js';
import { formatPath, Locator, type FieldPath } from './positions.js';
import { didYouMean } from '../util/suggest.js';
import { schemaIssues } from './validate-schema.js';
import { buildTree, isLine } from '../plan/tree.js';

/* The raw shapes the schema admits (checked before they are read). */
interface RawHost { groups?: string[]; vars?: Vars; address?: string; port?: number; user?: string }
interface RawGroup { children?: string[]; vars?: Vars }
interface RawStage {
  name: string; description?: string; playbook?: string; hosts?: string | string[]; vars?: Vars; checkpoint?: boolean;
  timeout?: string; retries?: number; always?: boolean; voting?: boolean; results?: string | string[]; results_fail?: boolean;
  collect?: Record<string, string | string[]>; tags?: string | string[]; skip_tags?: string | string[]; extends?: string; cancelled_by?: string | string[];
  run?: string | string[]; inputs?: string | string[]; outputs?: string | string[]; secrets?: string | string[];
}
interface RawScenario {
  name: string; description?: string; vars?: Vars; secrets?: Record<string, SecretRef>; stages: RawStage[];
  variants?: { from: string; matrix: Record<string, VarValue[]>; exclude?: Record<string, VarValue>[]; non_voting?: Record<string, VarValue>[] };
  fail_fast?: 'branch' | 'all';
  lab: { provider: ProviderName; hosts?: Record<string, RawHost | null>; groups?: Record<string, RawGroup | null>; vars?: Vars; inventory?: string; options?: Vars; on_restore?: string; validate?: boolean | { timeout?: string; playbook?: string }; authorized_keys?: string; allocate?: string; release?: string; snapshot?: string; restore?: string; timeout?: string };
}

/** A path as people read it: relative to the working directory when below it, else absolute. */
function shownPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/**
 * Why a `results`/`collect` path template is not one the harness expands, or undefined: only
 * `{{ name }}` (a host var) is replaced, so an unclosed `{{` or an expression would match nothing.
 */
function templateProblem(text: string): string | undefined {
  const rest = text.replace(/\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/g, '');
  const open = rest.indexOf('{{');
  if (open !== -1) {
    const close = rest.indexOf('}}', open);
    if (close === -1) return `'${text}' has a '{{' without its '}}': write '{{ var }}' with a host var's name, or remove the braces`;
    return `'${text}' holds '${rest.slice(open, close + 2)}': only '{{ var }}' with a host var's name is expanded here, not filters or expressions`;
  }
  if (rest.includes('}}')) return `'${text}' has a '}}' without its '{{': write '{{ var }}' with a host var's name, or remove the braces`;
  return undefined;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Collects problems with their positions in one file. */
export class Problems {
  readonly items: Problem[] = [];
  constructor(private readonly file: string, private readonly locator?: () => Locator) {}
  add(fieldPath: FieldPath, message: string, atKey = false): void {
    const pos = this.locator?.().locate(fieldPath, atKey);
    this.items.push({ file: this.file, line: pos?.line, col: pos?.col, path: formatPath(fieldPath) || undefined, message });
  }
  throwIfAny(): void {
    if (this.items.length) {
      this.items.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
      throw new InputError(this.items);
    }
  }
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/**
 * Parses YAML with positions (slow: yaml's document model): syntax errors and duplicate keys
 * come with their line and column, and the returned locator finds any field's line.
 */
function parseWithPositions(text: string, file: string): { data: unknown; locator: Locator } {
  const { isScalar, LineCounter, parseDocument, visit } = yamlLib();
  const lines = new LineCounter();
  // yaml's own uniqueKeys check compares every key with every other (quadratic: seconds for a
  // 10,000-host lab), so duplicates are found here with a set per mapping instead.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: true });
  const problems: Problem[] = doc.errors.map((e) => ({
    file,
    line: e.linePos?.[0].line,
    col: e.linePos?.[0].col,
    message: `YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
  }));
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        const pos = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
        problems.push({ file, line: pos?.line, col: pos?.col, message: `YAML: Map keys must be unique; '${String(key)}' is here again` });
      }
    },
  });
  if (problems.length) throw new InputError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    if (err instanceof ReferenceError) throw aliasBomb(doc, lines, file, err);
    throw err;
  }
  return { data, locator: new Locator(doc, lines) };
}

/** The most values aliases may expand a file to (a billion-laughs file expands to billions). */
const MAX_EXPANDED_VALUES = 1_000_000;

/** The error for a file whose aliases expand to too much, at its first alias; or for an alias that names no anchor (`err`, a ReferenceError of `toJS`). */
function aliasBomb(doc: Document, lines: LineCounter, file: string, err?: unknown): InputError {
  const at = aliasErrorAt(doc, lines, err);
  const message = at.unresolved !== undefined ? `YAML: the alias *${at.unresolved} names no anchor set before it; set &${at.unresolved} first` : `YAML: the aliases expand to more than ${MAX_EXPANDED_VALUES.toLocaleString('en')} values (an alias bomb?); write the values out or use fewer nested aliases`;
  return new InputError([{ file, line: at.line, col: at.col, message }]);
}

/** js-yaml's own core float type (its typings leave `types` out). */
const CORE_FLOAT = (jsYaml as unknown as { types: { float: jsYaml.Type } }).types.float;
/** js-yaml's float, keeping a whole-number float (`2.0`) a float: a {@link WholeFloat}. */
const FLOAT = new jsYaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: string) => CORE_FLOAT.resolve(data),
  construct: (data: string) => floatValue(CORE_FLOAT.construct(data) as number),
  instanceOf: WholeFloat,
});
/** The core schema (as yaml's default) with {@link FLOAT}. */
const SCHEMA = jsYaml.CORE_SCHEMA.extend({ implicit: [FLOAT] });

/**
 * Parses the YAML text of a scenario file. A fast parser reads valid files (js-yaml, core
 * schema, as yaml's default); positions are worked out only when something must be pointed at:
 * a syntax error, a duplicate key, or a problem found later (the locator is built on demand).
 */
export function parseYaml(text: string, file: string): { data: unknown; locator: () => Locator } {
  let data: unknown;
  try {
    data = jsYaml.load(text, { schema: SCHEMA, filename: file });
  } catch {
    const slow = parseWithPositions(text, file); // throws the positioned errors
    return { data: slow.data, locator: () => slow.locator };
  }
  if (expandsBeyond(text, data, MAX_EXPANDED_VALUES)) {
    const { LineCounter, parseDocument } = yamlLib();
    const lines = new LineCounter();
    throw aliasBomb(parseDocument(text, { lineCounter: lines, uniqueKeys: false }), lines, file);
  }
  let locator: Locator | undefined;
  return { data, locator: () => (locator ??= parseWithPositions(text, file).locator) };
}

/**
 * The line and column of a field of an already valid scenario file (for problems found at run
 * time, e.g. a missing secret); undefined when the file cannot be read again.
 */
export async function locateField(file: string, fieldPath: FieldPath, atKey = false): Promise<{ line: number; col: number } | undefined> {
  try {
    return parseWithPositions(await readTextFile(file, file, 'scenario file'), file).locator.locate(fieldPath, atKey);
  } catch {
    return undefined;
  }
}

function checkVarNames(vars: Vars | undefined, at: FieldPath, problems: Problems): void {
  for (const name of Object.keys(vars ?? {})) {
    const why = varNameProblem(name);
    if (why) problems.add([...at, name], why, true);
  }
}

/** Builds the declared lab (every provider but static) from the scenario's hosts and groups. */
function declaredLab(raw: RawScenario['lab'], problems: Problems): Lab {
  const groups = new Map<string, Group>();
  const groupOf = (name: string): Group => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, children: [], vars: {} }));
    return g;
  };
  const hosts: Host[] = [];
  for (const [name, h] of Object.entries(raw.hosts ?? {})) {
    const why = hostNameProblem(name);
    if (why) problems.add(['lab', 'hosts', name], why, true);
    const host: Host = { name, groups: [...(h?.groups ?? [])], vars: { ...(h?.vars ?? {}) } };
    if (h?.address !== undefined) host.address = h.address;
    if (h?.port !== undefined) host.port = h.port;
    if (h?.user !== undefined) host.user = h.user;
    (h?.groups ?? []).forEach((g, i) => {
      const gwhy = groupNameProblem(g);
      if (gwhy) problems.add(['lab', 'hosts', name, 'groups', i], gwhy);
      else groupOf(g);
    });
    checkVarNames(h?.vars, ['lab', 'hosts', name, 'vars'], problems);
    hosts.push(host);
  }
  for (const [name, g] of Object.entries(raw.groups ?? {})) {
    const why = groupNameProblem(name);
    if (why) {
      problems.add(['lab', 'groups', name], why, true);
      continue;
    }
    const group = groupOf(name);
    group.vars = { ...(g?.vars ?? {}) };
    checkVarNames(g?.vars, ['lab', 'groups', name, 'vars'], problems);
    (g?.children ?? []).forEach((child, i) => {
      const cwhy = groupNameProblem(child);
      if (cwhy) problems.add(['lab', 'groups', name, 'children', i], cwhy);
      else {
        group.children.push(child);
        groupOf(child);
      }
    });
  }
  const defined = new Set([...Object.keys(raw.groups ?? {}), ...Object.values(raw.hosts ?? {}).flatMap((h) => h?.groups ?? [])]);
  for (const [name, g] of Object.entries(raw.groups ?? {})) {
    (g?.children ?? []).forEach((child, i) => {
      if (defined.has(child) || groupNameProblem(child)) return;
      const hint = didYouMean(child, [...defined]);
      problems.add(['lab', 'groups', name, 'children', i], `'${child}' is no group of the lab${hint ? ` (did you mean '${hint}'?)` : ''}: declare it under lab.groups or give a host that group`);
    });
  }
  checkCycles(groups, problems);
  checkVarNames(raw.vars, ['lab', 'vars'], problems);
  return { provider: raw.provider, hosts, groups: [...groups.values()], vars: { ...(raw.vars ?? {}) } };
}

function checkCycles(groups: Map<string, Group>, problems: Problems): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problems.add(['lab', 'groups', name, 'children'], `groups contain each other: ${[...trail.slice(trail.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const c of groups.get(name)?.children ?? []) visit(c, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of groups.keys()) visit(name, []);
}

/**
 * Every part of a `hosts:` pattern must be one Ansible reads (see lib/engine/patterns.ts) and
 * match hosts of the lab: a plain word names a group or host, a glob, regex or subscript
 * selects at least one host (Ansible would skip it with a warning, or fail on a subscript).
 */
function checkPatterns(patterns: string[], lab: Lab, at: FieldPath, problems: Problems): void {
  const names = [...lab.hosts.map((h) => h.name), ...lab.groups.map((g) => g.name), 'all', 'ungrouped'];
  patterns.forEach((pattern, i) => {
    const where = patterns.length > 1 ? [...at, i] : at;
    for (const part of splitHostPattern(pattern)) {
      const why = patternProblem(part);
      if (why) {
        problems.add(where, `${why} (Ansible's host pattern grammar: name, glob, ~regex, [subscript], joined by ',' or ':', '&' and '!')`);
        continue;
      }
      const body = part.replace(/^[&!]/, '');
      const word = /[*?~[]/.test(body) ? undefined : body;
      if (word !== undefined && !names.includes(word)) {
        const hint = didYouMean(word, names);
        problems.add(where, `'${word}' is no group or host of the lab${hint ? ` (did you mean '${hint}'?)` : `; it has: ${names.slice(0, 12).join(', ')}`}`);
      } else if (word === undefined && matchPattern(lab, body).length === 0) {
        problems.add(where, `'${body}' matches no host of the lab; it has: ${names.slice(0, 12).join(', ')}`);
      }
    }
  });
}

/** Keys only `run:` stages take. */
const RUN_ONLY = ['inputs', 'outputs', 'secrets'] as const;
/** Keys of playbook stages a `run:` stage refuses: it runs on the controller, not on hosts. */
const PLAYBOOK_ONLY = ['playbook', 'hosts', 'tags', 'skip_tags', 'collect'] as const;

/**
 * The checks of a `run:` stage: no playbook keys; `secrets` names declared secrets; `outputs`
 * and `results` stay inside its stage folder; `inputs` are relative to the scenario folder.
 */
function runStageProblems(s: RawStage, at: FieldPath, secrets: Secret[], problems: Problems): void {
  for (const k of PLAYBOOK_ONLY) {
    if (s[k] !== undefined) problems.add([...at, k], `a 'run:' stage runs its command on the controller and takes no '${k}': move the playbook part to a stage of its own, or drop '${k}'`, true);
  }
  const each = (key: 'inputs' | 'outputs' | 'results' | 'secrets', check: (v: string) => string | undefined): void => {
    const value = s[key];
    list(value).forEach((v, i) => {
      const why = check(v);
      if (why) problems.add(Array.isArray(value) ? [...at, key, i] : [...at, key], why);
    });
  };
  const inside = (key: string) => (v: string): string | undefined => {
    if (path.isAbsolute(v)) return `'${v}' is an absolute path: ${key} are relative to the stage's folder (HARNESS_STAGE_DIR)`;
    if (v.split('/').includes('..')) return `'${v}' leaves the stage's folder ('..'): ${key} are relative to HARNESS_STAGE_DIR and stay inside it`;
    return undefined;
  };
  each('outputs', inside('outputs'));
  each('results', inside('results'));
  each('inputs', (v) => (path.isAbsolute(v) ? `'${v}' is an absolute path: inputs are relative to the scenario's folder, so the checkpoint key is the same in every checkout` : undefined));
  const names = secrets.map((x) => x.name);
  each('secrets', (v) => {
    if (names.includes(v)) return undefined;
    const hint = didYouMean(v, names);
    return `'${v}' is no secret of the scenario${hint ? ` (did you mean '${hint}'?)` : names.length ? `; it has: ${names.join(', ')}` : ''}: declare it under the scenario's 'secrets'`;
  });
}

/** Options for {@link loadScenario}. */
export interface LoadOptions {
  /** Skip reading a static lab's inventory (e.g. for `harness schema`-level checks). @default false */
  skipInventory?: boolean;
}

/**
 * Reads and validates a scenario file into the typed model. Throws {@link InputError} with
 * every problem of the file at once, each with its line, column and field path.
 */
/** The variant matrix as the model holds it (axes in the order written). */
function variantsSpec(v: NonNullable<RawScenario['variants']>): VariantsSpec {
  return {
    from: v.from,
    matrix: Object.entries(v.matrix).map(([axis, values]) => [axis, values] as const),
    ...(v.exclude ? { exclude: v.exclude } : {}),
    ...(v.non_voting ? { nonVoting: v.non_voting } : {}),
  };
}

/** `cancelled_by` and `variants` problems, each at its field. */
function treeProblems(raw: RawScenario, stages: Stage[], problems: Problems): void {
  const names = stages.map((s) => s.name);
  for (const [index, s] of raw.stages.entries()) {
    list(s.cancelled_by).forEach((c, i) => {
      const where: FieldPath = Array.isArray(s.cancelled_by) ? ['stages', index, 'cancelled_by', i] : ['stages', index, 'cancelled_by'];
      if (c === s.name) problems.add(where, 'a stage cannot be cancelled by itself');
      else if (!names.includes(c)) {
        const hint = didYouMean(c, names);
        problems.add(where, `'${c}' is no stage of the scenario${hint ? ` (did you mean '${hint}'?)` : ''}`);
      }
    });
  }
  const v = raw.variants;
  if (!v) return;
  const from = raw.stages.find((s) => s.name === v.from);
  if (!from) {
    const hint = didYouMean(v.from, names);
    problems.add(['variants', 'from'], `'${v.from}' is no stage of the scenario${hint ? ` (did you mean '${hint}'?)` : ''}`);
  } else if (from.always) problems.add(['variants', 'from'], `'${v.from}' is an always-stage (the end of every job); name the first stage that runs per variant`);
  const axes = Object.keys(v.matrix);
  for (const [axis, values] of Object.entries(v.matrix)) {
    const why = varNameProblem(axis);
    if (why) problems.add(['variants', 'matrix', axis], why, true);
    if (!values.length) problems.add(['variants', 'matrix', axis], `the axis '${axis}' has no values: give it at least one, e.g. [on, off]`);
    const seenValues = new Set<string>();
    values.forEach((x, i) => {
      if (x !== null && typeof x === 'object') problems.add(['variants', 'matrix', axis, i], 'a variant value is a string, number or boolean (it names the variant)');
      const k = JSON.stringify(x);
      if (seenValues.has(k)) problems.add(['variants', 'matrix', axis, i], `${k} is listed twice on the axis '${axis}'`);
      seenValues.add(k);
    });
  }
  for (const key of ['exclude', 'non_voting'] as const) {
    (v[key] ?? []).forEach((combo, i) => {
      for (const [axis, value] of Object.entries(combo)) {
        if (!axes.includes(axis)) {
          const hint = didYouMean(axis, axes);
          problems.add(['variants', key, i, axis], `'${axis}' is no axis of variants.matrix${hint ? ` (did you mean '${hint}'?)` : `; the axes are: ${axes.join(', ')}`}`, true);
        } else if (!(v.matrix[axis] ?? []).some((x) => JSON.stringify(x) === JSON.stringify(value))) {
          problems.add(['variants', key, i, axis], `${JSON.stringify(value)} is no value of the axis '${axis}' (its values: ${(v.matrix[axis] ?? []).map((x) => JSON.stringify(x)).join(', ')})`);
        }
      }
    });
  }
}

export async function loadScenario(file: string, options: LoadOptions = {}): Promise<Scenario> {
  const abs = path.resolve(file);
  const text = await readTextFile(abs, file, 'scenario file');
  const { data, locator } = parseYaml(text, file);
  const problems = new Problems(file, locator);
  if (data === null || data === undefined) {
    throw new InputError([{ file, line: 1, col: 1, message: 'the file is empty: a scenario needs at least name, lab and stages' }]);
  }
  for (const issue of schemaIssues(data)) problems.add(issue.path, issue.message, issue.atKey);
  problems.throwIfAny();

  const raw = data as RawScenario;
  const dir = path.dirname(abs);
  const resolve = (p: string): string => path.resolve(dir, p);

  // The lab.
  for (const p of optionProblems(raw.lab.provider, raw.lab.options ?? {}, abs)) problems.add(p.path, p.message, p.atKey);
  let lab: Lab;
  const spec: LabSpec = { provider: raw.lab.provider, options: { ...(raw.lab.options ?? {}) } };
  if (raw.lab.on_restore) {
    spec.onRestore = resolve(raw.lab.on_restore);
    if (!(await isFile(spec.onRestore))) problems.add(['lab', 'on_restore'], `no such playbook: ${spec.onRestore} (paths are relative to the scenario file)`);
    else problems.items.push(...(await playbookProblems(spec.onRestore, shownPath(spec.onRestore), `lab.on_restore of ${file}`)));
  }
  const ready = await labReadiness(raw.lab, abs);
  for (const p of ready.problems) problems.add(p.path, p.message, p.atKey);
  problems.items.push(...ready.fileProblems);
  Object.assign(spec, ready.spec);
  if (raw.lab.provider === 'static') {
    if (raw.lab.hosts) problems.add(['lab', 'hosts'], "a static lab reads its hosts from 'inventory'; declare them there", true);
    if (!raw.lab.inventory) problems.add(['lab'], "a static lab needs 'inventory': the path of an existing INI or YAML inventory", true);
    lab = { provider: 'static', hosts: [], groups: [], vars: {} };
    if (raw.lab.inventory) {
      spec.inventory = resolve(raw.lab.inventory);
      if (!(await stat(spec.inventory).then(() => true, () => false))) problems.add(['lab', 'inventory'], `no such inventory: ${spec.inventory}`);
      else if (!options.skipInventory) {
        try {
          lab = await readInventory(spec.inventory);
        } catch (err) {
          if (err instanceof InputError) problems.items.push(...(err.problems.length ? err.problems : [{ file: spec.inventory, message: err.message }]));
          else throw err;
        }
      }
    }
  } else {
    if (raw.lab.inventory) problems.add(['lab', 'inventory'], `only static labs read an inventory; a ${raw.lab.provider} lab declares its hosts under lab.hosts`, true);
    // A command lab's hosts come from its allocate script; lab.hosts only adds groups and vars.
    if (raw.lab.provider !== 'command' && (!raw.lab.hosts || Object.keys(raw.lab.hosts).length === 0)) problems.add(['lab'], `a ${raw.lab.provider} lab needs at least one host under lab.hosts`, true);
    lab = declaredLab(raw.lab, problems);
  }
  const scriptKeys = ['allocate', 'release', 'snapshot', 'restore', 'timeout'] as const;
  if (raw.lab.provider === 'command') {
    for (const k of ['allocate', 'release'] as const) if (!raw.lab[k]) problems.add(['lab'], `a command lab needs '${k}': the path of its ${k} script (docs/command-lab.md)`, true);
    if (Boolean(raw.lab.snapshot) !== Boolean(raw.lab.restore)) problems.add(['lab', raw.lab.snapshot ? 'snapshot' : 'restore'], 'give both snapshot and restore scripts, or neither', true);
    const cmd: Partial<CommandLabSpec> = {};
    for (const k of ['allocate', 'release', 'snapshot', 'restore'] as const) {
      const v = raw.lab[k];
      if (!v) continue;
      const p = resolve(v);
      const st = await stat(p).catch(() => undefined);
      if (!st?.isFile()) problems.add(['lab', k], `no such script: ${p} (paths are relative to the scenario file)`);
      else if (!(st.mode & 0o111)) problems.add(['lab', k], `${p} is not executable: chmod +x it (it needs a #! line)`);
      cmd[k] = p;
    }
    if (raw.lab.timeout !== undefined) cmd.timeoutMs = parseDuration(raw.lab.timeout);
    if (cmd.allocate && cmd.release) spec.command = cmd as CommandLabSpec;
  } else {
    for (const k of scriptKeys) if (raw.lab[k] !== undefined) problems.add(['lab', k], `'${k}' belongs to command labs; a ${raw.lab.provider} lab takes no scripts`, true);
  }

  // The project's ansible.cfg, which the run copies: it must be one Ansible reads.
  try {
    const cfg = findUserConfig(abs);
    if (cfg) userSettings(cfg);
  } catch (err) {
    if (err instanceof InputError) problems.items.push(...(err.problems.length ? err.problems : [{ file, message: err.message }]));
    else throw err;
  }

  // Scenario vars and secrets.
  checkVarNames(raw.vars, ['vars'], problems);
  const secrets: Secret[] = [];
  for (const [name, ref] of Object.entries(raw.secrets ?? {})) {
    const why = varNameProblem(name);
    if (why) problems.add(['secrets', name], why, true);
    if (raw.vars && name in raw.vars) problems.add(['secrets', name], `'${name}' is both a var and a secret; keep one`, true);
    secrets.push({ name, ref: 'file' in ref ? { file: resolve(ref.file) } : { env: ref.env } });
  }

  // Stages.
  const stages: Stage[] = [];
  const seen = new Map<string, number>();
  for (const [index, s] of raw.stages.entries()) {
    const at: FieldPath = ['stages', index];
    const why = stageNameProblem(s.name);
    if (why) problems.add([...at, 'name'], why);
    if (seen.has(s.name)) problems.add([...at, 'name'], `stage '${s.name}' is already stages[${seen.get(s.name)}]; stage names must be unique`);
    seen.set(s.name, index);
    if (s.run !== undefined) runStageProblems(s, at, secrets, problems);
    else {
      if (!s.playbook && !s.collect) problems.add(at, `stage '${s.name}' does nothing: give it a 'playbook' to run, a 'run' command, or files to 'collect'`);
      for (const k of RUN_ONLY) if (s[k] !== undefined) problems.add([...at, k], `'${k}' belongs to 'run:' stages (commands on the controller); a playbook stage takes none`, true);
    }
    let playbook: string | undefined;
    if (s.playbook) {
      playbook = resolve(s.playbook);
      if (!(await isFile(playbook))) problems.add([...at, 'playbook'], `no such playbook: ${playbook} (paths are relative to the scenario file)`);
      else problems.items.push(...(await playbookProblems(playbook, shownPath(playbook), `${formatPath([...at, 'playbook'])} of ${file}`)));
    }
    if (s.extends !== undefined && !(seen.has(s.extends) && seen.get(s.extends)! < index)) {
      const hint = didYouMean(s.extends, [...seen.keys()]);
      const later = raw.stages.findIndex((x) => x.name === s.extends);
      problems.add([...at, 'extends'], later > index ? `'${s.extends}' comes later (stages[${later}]): a stage extends an earlier one (the list is the tree written depth-first), so move it up` : s.extends === s.name ? 'a stage cannot extend itself' : `'${s.extends}' is no earlier stage${hint ? ` (did you mean '${hint}'?)` : ''}`);
    } else if (s.extends !== undefined && raw.stages[seen.get(s.extends)!]?.always) {
      problems.add([...at, 'extends'], `'${s.extends}' is an always-stage: it is the end of every job, not a node to branch from; extend the stage before it`);
    }
    if (s.extends !== undefined && s.always) problems.add([...at, 'extends'], "an always-stage runs at the end of every job and takes no 'extends'", true);
    const hosts = list(s.hosts);
    if (Array.isArray(s.hosts) && s.hosts.length === 0) {
      problems.add([...at, 'hosts'], "an empty list would select no host (Ansible refuses 'hosts: []' in a play): leave 'hosts' out or write 'hosts: all' for every host, or name groups or hosts");
    }
    const templates: [FieldPath, string | string[] | undefined][] = [[[...at, 'results'], s.run === undefined ? s.results : undefined], ...Object.entries(s.collect ?? {}).map(([k, v]): [FieldPath, string | string[]] => [[...at, 'collect', k], v])];
    for (const [fieldPath, value] of templates) {
      list(value).forEach((t, i) => {
        const why = templateProblem(t);
        if (why) problems.add(Array.isArray(value) ? [...fieldPath, i] : fieldPath, why);
      });
    }
    // A command lab's hosts and groups are known only once its allocate script ran.
    if (raw.lab.provider !== 'command' && (raw.lab.provider !== 'static' || lab.hosts.length)) {
      checkPatterns(hosts, lab, [...at, 'hosts'], problems);
      for (const key of Object.keys(s.collect ?? {})) checkPatterns([key], lab, [...at, 'collect', key], problems);
    }
    checkVarNames(s.vars, [...at, 'vars'], problems);
    const stage: Stage = {
      name: s.name,
      index,
      hosts,
      vars: { ...(s.vars ?? {}) },
      checkpoint: s.checkpoint ?? false,
      retries: s.retries ?? 0,
      always: s.always ?? false,
      voting: s.voting ?? true,
      results: list(s.results),
      tags: list(s.tags),
      skipTags: list(s.skip_tags),
      pos: { file: abs },
    };
    if (playbook) stage.playbook = playbook;
    if (s.timeout !== undefined) {
      const ms = parseDuration(s.timeout);
      if (ms === 0) problems.add([...at, 'timeout'], `a timeout of ${s.timeout} would stop the stage at once: give a positive duration, e.g. 30m, or leave 'timeout' out for none`);
      else if (ms !== undefined && ms > MAX_DURATION_MS) problems.add([...at, 'timeout'], `${s.timeout} is longer than the longest timeout, 24d (Node's timers stop at 24.8 days): give at most 24d, or leave 'timeout' out for none`);
      stage.timeoutMs = ms;
    }
    if (s.run !== undefined) {
      stage.run = s.run;
      if (s.inputs !== undefined) stage.inputs = list(s.inputs);
      if (s.outputs !== undefined) stage.outputs = list(s.outputs);
      if (s.secrets !== undefined) stage.secrets = list(s.secrets);
    }
    if (s.collect) stage.collect = Object.fromEntries(Object.entries(s.collect).map(([k, v]) => [k, list(v)]));
    if (s.description) stage.description = s.description;
    if (s.extends) stage.extends = s.extends;
    if (s.results_fail === false) stage.resultsFail = false;
    if (s.cancelled_by !== undefined) stage.cancelledBy = list(s.cancelled_by);
    stages.push(stage);
  }
  treeProblems(raw, stages, problems);
  const variants = raw.variants ? variantsSpec(raw.variants) : undefined;
  if (problems.items.length === 0) {
    try {
      const tree = buildTree(stages, variants);
      if (!isLine(tree) && (raw.lab.provider === 'static' || (raw.lab.provider === 'command' && !raw.lab.snapshot))) {
        const forks = tree.nodes.filter((n) => n.children.length > 1).map((n) => n.name);
        problems.add(['stages'], `the stages form a tree (${forks.length ? `'${forks[0]}' is a fork point` : 'several roots'}), and a ${raw.lab.provider} lab cannot take the checkpoints its branches start from: ${raw.lab.provider === 'static' ? 'use a local, qemu or command lab' : "give the command lab 'snapshot' and 'restore' scripts"}, or write the stages as one line`, true);
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.add(['stages'], err.message, true);
    }
  }
  problems.throwIfAny();
  return {
    name: raw.name, description: raw.description ?? '', file: abs, spec, lab, vars: { ...(raw.vars ?? {}) }, secrets, stages,
    ...(variants ? { variants } : {}),
    ...(raw.fail_fast ? { failFast: raw.fail_fast } : {}),
  };
}
