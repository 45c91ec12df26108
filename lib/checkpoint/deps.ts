/**
 * The files a playbook depends on, found by reading it as Ansible would: imported playbooks,
 * included and imported task files, roles (whole folders, and their `meta` dependencies), vars
 * files, the files templates/copies/scripts use, static `file`/`template`/`fileglob`/`first_found`
 * lookups, and the folders Ansible loads by itself beside a playbook (`group_vars/`,
 * `host_vars/`, `library/`, plugin folders, `collections/`). A path Ansible knows only at run
 * time (Jinja) makes the whole folder it could come from count, and is reported as unresolved.
 */
import os from 'node:os';
import path from 'node:path';
import { readdir, readFile, stat } from 'node:fs/promises';
import { readYaml } from './deps/yaml.js';
import { findCall, truthy } from './deps/task.js';
import { firstExisting, globRegExp, filesMatching, hasJinja, isDir, jinjaSpread, listTree, searchCandidates, substituteMagic, unique } from './deps/search.js';

/** What {@link playbookDependencies} found. */
export interface PlaybookDependencies {
  /** Absolute paths, sorted, without repeats; the playbook itself included. */
  files: string[];
  /** One line per reference that could not be pinned to a file: `<file>: <what> '<value>' <why>`. */
  unresolved: string[];
}

/** Options of {@link playbookDependencies}. */
export interface DependencyOptions {
  /**
   * Folders Ansible searches for roles after `<playbook dir>/roles`.
   * @default $ANSIBLE_ROLES_PATH, else ~/.ansible/roles, /usr/share/ansible/roles, /etc/ansible/roles
   */
  rolesPath?: string[];
  signal?: AbortSignal;
}

/** Folders Ansible loads by itself when they sit beside a playbook. */
const ADJACENT = ['group_vars', 'host_vars', 'library', 'module_utils', 'action_plugins', 'filter_plugins', 'lookup_plugins', 'test_plugins', 'vars_plugins', 'collections'];

/** Modules whose `src` is a file on the controller, and the subfolder Ansible looks in first. */
const SRC_MODULES: Record<string, string> = { template: 'templates', copy: 'files', script: 'files', unarchive: 'files', assemble: 'files', synchronize: 'files' };
const INCLUDE_TASKS = new Set(['include_tasks', 'import_tasks', 'include']);
const INCLUDE_ROLE = new Set(['include_role', 'import_role']);
const MODULES = new Set([...Object.keys(SRC_MODULES), ...INCLUDE_TASKS, ...INCLUDE_ROLE, 'include_vars']);
const PLAYBOOK_IMPORT = ['import_playbook', 'ansible.builtin.import_playbook', 'include', 'ansible.builtin.include'];
const TASK_SECTIONS = ['pre_tasks', 'roles', 'tasks', 'post_tasks', 'handlers'];
const LOOKUP_SUBDIR: Record<string, string> = { file: 'files', template: 'templates', fileglob: 'files', first_found: 'files' };

/** Where a task list sits: its file, the playbook it belongs to, and its role if any. */
interface Where {
  file: string;
  playbookDir: string;
  roleDir?: string;
}

function defaultRolesPath(): string[] {
  const env = process.env.ANSIBLE_ROLES_PATH;
  if (env) return env.split(':').filter(Boolean);
  return [path.join(os.homedir(), '.ansible', 'roles'), '/usr/share/ansible/roles', '/etc/ansible/roles'];
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

/** One walk over a playbook and everything it reaches. */
class Walk {
  readonly files = new Set<string>();
  readonly unresolved: string[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly rolesPath: string[],
    private readonly signal?: AbortSignal,
  ) {}

  private note(file: string, what: string): void {
    this.unresolved.push(`${file}: ${what}`);
  }

  private once(kind: string, p: string): boolean {
    const k = `${kind}:${p}`;
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    return true;
  }

  private async addTree(dir: string): Promise<void> {
    for (const f of await listTree(dir, this.signal)) this.files.add(f);
  }

  /** The folders a reference made in `w` is searched from, in Ansible's order. */
  private bases(w: Where): string[] {
    return unique([...(w.roleDir ? [w.roleDir] : []), path.dirname(w.file), w.playbookDir]);
  }

  /**
   * Resolves a path a task names: the first existing candidate, or for Jinja the spread of
   * folders it could come from (noted as unresolved). Returns the files to walk further.
   */
  private async resolve(raw: string, w: Where, what: string, opts: { subdir?: string; bases?: string[]; kind?: 'file' | 'dir' | 'any' } = {}): Promise<string[]> {
    this.signal?.throwIfAborted();
    const source = substituteMagic(raw.trim(), { playbook_dir: w.playbookDir, ...(w.roleDir ? { role_path: w.roleDir } : {}) });
    const bases = opts.bases ?? this.bases(w);
    if (hasJinja(source)) {
      const spread = await jinjaSpread(source, bases, opts.subdir, this.signal);
      for (const f of spread.files) this.files.add(f);
      this.note(w.file, `${what} '${raw}' is templated; counted ${spread.hashed.length ? spread.hashed.join(', ') : 'nothing (no folder it could come from exists)'}`);
      return spread.files;
    }
    const candidates = searchCandidates(source, bases, opts.subdir);
    const found = await firstExisting(candidates, opts.kind ?? 'any');
    if (!found) {
      this.note(w.file, `${what} '${raw}' not found (looked for ${candidates.join(', ')})`);
      return [];
    }
    if (await isDir(found)) {
      await this.addTree(found);
      return [];
    }
    this.files.add(found);
    return [found];
  }

  /** A playbook: its plays, the playbooks it imports, and the folders beside it. */
  async playbook(file: string): Promise<void> {
    if (!this.once('playbook', file)) return;
    this.files.add(file);
    const dir = path.dirname(file);
    for (const name of ADJACENT) if (await isDir(path.join(dir, name))) await this.addTree(path.join(dir, name));
    const read = await readYaml(file);
    if (!read.ok) return this.note(file, `could not be read as YAML (${read.reason}); only its own content counts`);
    const w: Where = { file, playbookDir: dir };
    this.lookups(read.docs, w);
    for (const doc of read.docs) {
      for (const play of asList(doc)) {
        if (!isMap(play)) continue;
        const imported = PLAYBOOK_IMPORT.map((k) => play[k]).find((v) => typeof v === 'string') as string | undefined;
        if (imported !== undefined) {
          for (const f of await this.resolve(imported, w, 'import_playbook', { bases: [dir], kind: 'file' })) await this.playbook(f);
          continue;
        }
        await this.play(play, w);
      }
    }
    await this.flushLookups();
  }

  private async play(play: Record<string, unknown>, w: Where): Promise<void> {
    for (const entry of asList(play.vars_files)) {
      // An entry may be a list of alternatives (the first that exists is used): all count.
      for (const alt of asList(entry)) if (typeof alt === 'string') for (const f of await this.resolve(alt, w, 'vars_files', { bases: [w.playbookDir], kind: 'file' })) await this.varsFile(f, w);
    }
    for (const section of TASK_SECTIONS) {
      if (section === 'roles') {
        for (const r of asList(play.roles)) {
          const name = typeof r === 'string' ? r : isMap(r) ? (r.role ?? r.name) : undefined;
          if (typeof name === 'string') await this.role(name, w);
        }
      } else await this.tasks(play[section], w);
    }
  }

  /** A task list (a play section, a block part, an included file). */
  private async tasks(list: unknown, w: Where): Promise<void> {
    for (const task of asList(list)) {
      if (!isMap(task)) continue;
      this.signal?.throwIfAborted();
      if ('block' in task || 'rescue' in task || 'always' in task) {
        for (const part of ['block', 'rescue', 'always']) await this.tasks(task[part], w);
        continue;
      }
      await this.task(task, w);
    }
  }

  private async task(task: Record<string, unknown>, w: Where): Promise<void> {
    await this.loops(task, w);
    const call = findCall(task, MODULES);
    if (!call) return;
    const { module, args } = call;
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
    if (INCLUDE_TASKS.has(module)) {
      const target = str(args.file) ?? str(args._raw_params);
      if (!target) return;
      const bases = unique([path.dirname(w.file), ...(w.roleDir ? [path.join(w.roleDir, 'tasks')] : []), w.playbookDir]);
      for (const f of await this.resolve(target, w, module, { bases, kind: 'file' })) if (/\.ya?ml$/.test(f)) await this.taskFile(f, w);
    } else if (INCLUDE_ROLE.has(module)) {
      const name = str(args.name) ?? str(args._raw_params);
      if (name) await this.role(name, w);
    } else if (module === 'include_vars') {
      const dir = str(args.dir);
      const file = str(args.file) ?? str(args._raw_params);
      if (dir) await this.resolve(dir, w, 'include_vars dir', { subdir: 'vars', kind: 'dir' });
      if (file) for (const f of await this.resolve(file, w, 'include_vars', { subdir: 'vars', kind: 'file' })) await this.varsFile(f, w);
    } else {
      if (module === 'copy' && truthy(args.remote_src)) return;
      if (module === 'unarchive' && (truthy(args.remote_src) || (args.copy !== undefined && !truthy(args.copy)))) return;
      if (module === 'assemble' && (args.remote_src === undefined || truthy(args.remote_src))) return;
      if (module === 'synchronize' && args.mode === 'pull') return;
      let src = str(args.src);
      if (module === 'script') src = str(args.cmd) ?? str(args._raw_params);
      if (module === 'script' && src) src = src.trim().split(/\s+/)[0]!;
      if (!src || /^[a-z][a-z0-9+.-]*:\/\//i.test(src)) return;
      const found = await this.resolve(src, w, `${module} src`, { subdir: SRC_MODULES[module] });
      if (module === 'template') for (const f of found) await this.templateFile(f, w);
    }
  }

  /** `with_file`, `with_fileglob`, `with_template` and `with_first_found` on a task. */
  private async loops(task: Record<string, unknown>, w: Where): Promise<void> {
    for (const [key, plugin] of [
      ['with_file', 'file'],
      ['with_template', 'template'],
      ['with_fileglob', 'fileglob'],
      ['with_first_found', 'first_found'],
    ] as const) {
      if (!(key in task)) continue;
      const terms: string[] = [];
      for (const t of asList(task[key])) {
        if (typeof t === 'string') terms.push(t);
        else if (isMap(t)) for (const f of asList(t.files)) if (typeof f === 'string') terms.push(...f.split(/[,;]/));
      }
      for (const term of terms) await this.lookupTerm(plugin, term, w, key);
    }
  }

  private async lookupTerm(plugin: string, term: string, w: Where, what: string): Promise<void> {
    const subdir = LOOKUP_SUBDIR[plugin]!;
    if (plugin !== 'fileglob' || hasJinja(term)) {
      const found = await this.resolve(term, w, what, { subdir, kind: 'file' });
      if (plugin === 'template') for (const f of found) await this.templateFile(f, w);
      return;
    }
    // fileglob: the folder part is searched like a file; the name part is a glob inside it.
    const dirPart = path.dirname(term) === '.' ? '' : path.dirname(term);
    const dir = await firstExisting(dirPart ? searchCandidates(dirPart, this.bases(w), subdir) : this.bases(w).flatMap((b) => [path.join(b, subdir), b]), 'dir');
    const matched = dir ? await filesMatching(dir, globRegExp(path.basename(term))) : [];
    for (const f of matched) this.files.add(f);
  }

  private readonly pendingLookups: { plugin: string; term?: string; raw: string; w: Where }[] = [];

  /** Queues every `lookup()`/`query()` of a file-reading plugin found in any string of `value`. */
  private lookups(value: unknown, w: Where): void {
    const visit = (v: unknown): void => {
      if (typeof v === 'string') {
        if (!/(lookup|query|q)\s*\(/.test(v)) return;
        const re = /\b(?:lookup|query|q)\s*\(\s*(['"])(?:ansible\.builtin\.)?(file|template|fileglob|first_found)\1/g;
        for (let m = re.exec(v); m; m = re.exec(v)) {
          let rest = v.slice(m.index + m[0].length);
          let any = false;
          for (let a = /^\s*,\s*(['"])(.*?)\1/s.exec(rest); a; a = /^\s*,\s*(['"])(.*?)\1/s.exec(rest)) {
            any = true;
            this.pendingLookups.push({ plugin: m[2]!, term: a[2]!, raw: m[0], w });
            rest = rest.slice(a[0].length);
          }
          if (!any) this.pendingLookups.push({ plugin: m[2]!, raw: `${m[0]}${rest.slice(0, rest.indexOf(')') + 1)}`, w });
        }
      } else if (Array.isArray(v)) v.forEach(visit);
      else if (isMap(v)) Object.values(v).forEach(visit);
    };
    visit(value);
  }

  private async flushLookups(): Promise<void> {
    while (this.pendingLookups.length) {
      const { plugin, term, raw, w } = this.pendingLookups.shift()!;
      if (term !== undefined) await this.lookupTerm(plugin, term, w, `lookup('${plugin}')`);
      else {
        // The term is an expression (a variable): every file it could name counts.
        const subdir = LOOKUP_SUBDIR[plugin]!;
        const dirs = this.bases(w).map((b) => path.join(b, subdir));
        const hashed: string[] = [];
        for (const d of dirs) if (await isDir(d)) (hashed.push(d), await this.addTree(d));
        this.note(w.file, `${raw.trim()} names its file with an expression; counted ${hashed.length ? hashed.join(', ') : 'nothing (no such folder)'}`);
      }
    }
  }

  /**
   * A Jinja template: the templates it pulls in with `{% include %}`, `{% import %}`,
   * `{% from ... import %}` or `{% extends %}`, searched as the template module does (each
   * base's `templates/` then the base, and the template's own folder).
   */
  private async templateFile(file: string, w: Where): Promise<void> {
    if (!this.once('template', file)) return;
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile() || st.size > 4 << 20) return;
    const text = await readFile(file, 'utf8').catch(() => '');
    const re = /\{%[-+]?\s*(?:include|import|extends|from)\s+(['"])(.+?)\1/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const name = m[2]!;
      const bases = unique([...this.bases(w), path.dirname(file)]);
      for (const f of await this.resolve(name, { ...w, file }, 'template include', { bases, subdir: 'templates', kind: 'file' })) await this.templateFile(f, w);
    }
  }

  /** A file of tasks (included, imported, or a role's). */
  private async taskFile(file: string, w: Where): Promise<void> {
    if (!this.once('tasks', file)) return;
    this.files.add(file);
    const read = await readYaml(file);
    if (!read.ok) return this.note(file, `could not be read as YAML (${read.reason}); only its own content counts`);
    const here: Where = { ...w, file };
    this.lookups(read.docs, here);
    for (const doc of read.docs) await this.tasks(doc, here);
    await this.flushLookups();
  }

  private async varsFile(file: string, w: Where): Promise<void> {
    if (!this.once('vars', file)) return;
    const read = await readYaml(file);
    if (read.ok) this.lookups(read.docs, { ...w, file });
    await this.flushLookups();
  }

  /** A role: its whole folder counts; its task files and `meta` dependencies are walked. */
  private async role(name: string, w: Where, parentRole?: string): Promise<void> {
    this.signal?.throwIfAborted();
    if (hasJinja(name)) {
      const dir = path.join(w.playbookDir, 'roles');
      const names = (await isDir(dir)) ? (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name) : [];
      this.note(w.file, `role '${name}' is templated; counted ${names.length ? `every role under ${dir}` : 'nothing (no roles/ folder)'}`);
      for (const n of names.sort()) await this.role(n, w, parentRole);
      return;
    }
    const candidates =
      name.includes('/') || name.startsWith('.')
        ? unique([path.resolve(w.playbookDir, name), path.resolve(path.dirname(w.file), name)])
        : unique([
            path.join(w.playbookDir, 'roles', name),
            ...this.rolesPath.map((p) => path.join(p, name)),
            ...(parentRole ? [path.join(path.dirname(parentRole), name)] : []),
            ...(w.roleDir ? [path.join(path.dirname(w.roleDir), name)] : []),
            path.join(w.playbookDir, name),
          ]);
    const dir = await firstExisting(candidates, 'dir');
    if (!dir) {
      const why = /^[A-Za-z0-9_]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$/.test(name) ? 'is from a collection; its content does not count (pin the collection version)' : `not found (looked in ${candidates.join(', ')})`;
      return this.note(w.file, `role '${name}' ${why}`);
    }
    if (!this.once('role', dir)) return;
    await this.addTree(dir);
    const rw: Where = { file: dir, playbookDir: w.playbookDir, roleDir: dir };
    for (const sub of ['tasks', 'handlers']) {
      for (const f of (await listTree(path.join(dir, sub), this.signal)).filter((f) => /\.ya?ml$/.test(f))) await this.taskFile(f, { ...rw, file: f });
    }
    for (const sub of ['vars', 'defaults']) {
      for (const f of (await listTree(path.join(dir, sub), this.signal)).filter((f) => /\.ya?ml$/.test(f))) await this.varsFile(f, { ...rw, file: f });
    }
    for (const metaName of ['main.yml', 'main.yaml', 'main']) {
      const meta = path.join(dir, 'meta', metaName);
      const read = await readYaml(meta);
      if (!read.ok) continue;
      for (const doc of read.docs) {
        if (!isMap(doc)) continue;
        for (const dep of asList(doc.dependencies)) {
          const depName = typeof dep === 'string' ? dep : isMap(dep) ? (dep.role ?? dep.name) : undefined;
          if (typeof depName === 'string') await this.role(depName, { ...rw, file: meta }, dir);
        }
      }
      break;
    }
  }
}

/**
 * The files `playbook` includes, imports and uses (see the module comment), as sorted
 * absolute paths with the playbook itself, and the references that could not be pinned down.
 */
export async function playbookDependencies(playbook: string, opts: DependencyOptions = {}): Promise<PlaybookDependencies> {
  const walk = new Walk(opts.rolesPath ?? defaultRolesPath(), opts.signal);
  await walk.playbook(path.resolve(playbook));
  return { files: [...walk.files].sort(), unresolved: unique(walk.unresolved) };
}
