/**
 * Host patterns resolved the way Ansible's InventoryManager does (ansible/inventory/manager.py):
 * `split_host_pattern`, then every plain pattern (union), then the `&` ones (intersection), then
 * the `!` ones (exclusion). A pattern is a name, `all`, a shell glob (`web*`, `[ab]?`), a regex
 * (`~app-[01]`, matched from the start), optionally with a subscript: `[0]`, `[-1]`, `[1:]`,
 * `[0:1]` (inclusive). Group hosts come in Ansible's order: the group's own, then its children's.
 */
import type { Host, Lab } from '../model/index.js';

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s;

/** Splits host patterns as `split_host_pattern` does: by `,`, else by `:` outside `[...]`. */
export function splitHostPattern(pattern: string | string[]): string[] {
  if (Array.isArray(pattern)) return pattern.flatMap(splitHostPattern);
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  // A single address with a port or an IPv6 address stays one pattern (parse_address accepts it).
  else if (/^[^:\s]+:[0-9]+$/.test(pattern) || /^[0-9a-fA-F]*:[0-9a-fA-F:]*:[0-9a-fA-F.]*$/.test(pattern)) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((p) => p.trim()).filter((p) => p);
}

/** Python's `fnmatch.translate` as a RegExp: `*`, `?`, `[seq]`, `[!seq]`, whole-name match. */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) out += '\\[';
      else {
        let body = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        else if (body.startsWith('^')) body = `\\${body}`;
        out += `[${body}]`;
        i = j;
      }
    } else out += c.replace(/[.+^${}()|\\/\]-]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 's');
}

/** Why `pattern` (one part of a split pattern) cannot be matched, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  const body = pattern.replace(/^[&!]/, '');
  if (!body) return `'${pattern}' is an operator without a pattern`;
  try {
    matcher(splitSubscript(body).expr);
  } catch {
    return `'${pattern}' is not a valid ${body.startsWith('~') ? 'regular expression' : 'pattern'}`;
  }
  return undefined;
}

function matcher(expr: string): RegExp {
  return expr.startsWith('~') ? new RegExp(`^(?:${expr.slice(1)})`, 's') : globToRegExp(expr);
}

function splitSubscript(pattern: string): { expr: string; sub?: [number, number | undefined] } {
  if (pattern.startsWith('~')) return { expr: pattern };
  const m = SUBSCRIPT.exec(pattern);
  if (!m) return { expr: pattern };
  const [, expr, idx, start, , end] = m;
  if (idx !== undefined) return { expr: expr!, sub: [Number(idx), undefined] };
  return { expr: expr!, sub: [Number(start), end ? Number(end) : -1] };
}

/** Python's `hosts[start:stop]` for a possibly negative start. */
function pySlice<T>(list: T[], start: number, stop: number): T[] {
  const norm = (i: number): number => (i < 0 ? Math.max(0, list.length + i) : Math.min(i, list.length));
  return list.slice(norm(start), norm(stop));
}

/** The inventory as Ansible holds it: groups by name (with `all`, `ungrouped`), hosts by name. */
class InventoryView {
  readonly groupNames: string[];
  private readonly children = new Map<string, string[]>();
  private readonly members = new Map<string, string[]>();
  private readonly cache = new Map<string, string[]>();
  readonly hostNames: string[];

  constructor(lab: Lab) {
    this.hostNames = lab.hosts.map((h) => h.name);
    const declared = [...new Set([...lab.groups.map((g) => g.name), ...lab.hosts.flatMap((h) => h.groups)])];
    const childOf = new Set(lab.groups.flatMap((g) => g.children));
    for (const g of lab.groups) this.children.set(g.name, [...g.children]);
    this.children.set('all', ['ungrouped', ...declared.filter((g) => !childOf.has(g))]);
    for (const h of lab.hosts) {
      for (const g of h.groups.length ? h.groups : ['ungrouped']) {
        if (!this.members.has(g)) this.members.set(g, []);
        this.members.get(g)!.push(h.name);
      }
    }
    this.members.set('all', [...this.hostNames]);
    // Ansible's groups in the order its inventory parser made them from the inventory the harness
    // writes: top-level groups as declared, each followed by its children, depth first.
    const ordered = new Set<string>();
    const walk = (g: string): void => {
      if (ordered.has(g)) return;
      ordered.add(g);
      for (const c of this.children.get(g) ?? []) walk(c);
    };
    for (const g of declared) if (!childOf.has(g)) walk(g);
    for (const g of declared) walk(g);
    this.groupNames = ['all', 'ungrouped', ...ordered];
  }

  /** A group's hosts: its own, then those of its descendants, breadth first, each host once. */
  hostsOf(group: string): string[] {
    const known = this.cache.get(group);
    if (known) return known;
    const order: string[] = [group];
    const seen = new Set(order);
    for (let i = 0; i < order.length; i++) {
      for (const c of this.children.get(order[i]!) ?? []) if (!seen.has(c)) (seen.add(c), order.push(c));
    }
    const out = new Set<string>();
    for (const g of order) for (const h of this.members.get(g) ?? []) out.add(h);
    this.cache.set(group, [...out]);
    return [...out];
  }
}

function enumerate(inv: InventoryView, expr: string): string[] {
  const re = matcher(expr);
  const groups = inv.groupNames.filter((g) => re.test(g));
  const out: string[] = [];
  for (const g of groups) out.push(...inv.hostsOf(g));
  if (!groups.length || expr.startsWith('~') || /[.?*[]/.test(expr)) out.push(...inv.hostNames.filter((h) => re.test(h)));
  return out;
}

function matchOne(inv: InventoryView, pattern: string): string[] {
  const { expr, sub } = splitSubscript(pattern.replace(/^[&!]/, ''));
  let hosts = [...new Set(enumerate(inv, expr))];
  if (sub && hosts.length) {
    const [start, end] = sub;
    if (end) hosts = pySlice(hosts, start, end === -1 ? hosts.length : end + 1);
    else {
      const h = hosts[start < 0 ? hosts.length + start : start];
      hosts = h === undefined ? [] : [h];
    }
  }
  return hosts;
}

/** The hosts one part of a split pattern matches (its `&`/`!` ignored); throws on a bad regex. */
export function matchPattern(lab: Lab, part: string): string[] {
  return lab.hosts.some((h) => h.name === part) ? [part] : matchOne(new InventoryView(lab), part);
}

/**
 * The names of the hosts Ansible's patterns select, in Ansible's order (`ansible PATTERN
 * --list-hosts`). An empty list selects every host. Invalid regexes select nothing.
 */
export function resolvePatterns(lab: Lab, patterns: string[]): string[] {
  const inv = new InventoryView(lab);
  const parts = splitHostPattern(patterns.length ? patterns : ['all']);
  const regular = parts.filter((p) => p[0] !== '&' && p[0] !== '!');
  const ordered = [...(regular.length ? regular : ['all']), ...parts.filter((p) => p[0] === '&'), ...parts.filter((p) => p[0] === '!')];
  const known = new Set(inv.hostNames);
  let hosts = new Set<string>(); // insertion order is Ansible's list order
  for (const p of ordered) {
    let that: Set<string>;
    if (known.has(p)) that = new Set([p]);
    else {
      try {
        that = new Set(matchOne(inv, p));
      } catch {
        that = new Set(); // an invalid regex; validation reports it
      }
    }
    if (p[0] === '!') hosts = new Set([...hosts].filter((h) => !that.has(h)));
    else if (p[0] === '&') hosts = new Set([...hosts].filter((h) => that.has(h)));
    else for (const h of that) hosts.add(h);
  }
  return [...hosts];
}

/**
 * The hosts that Ansible host patterns select, in Ansible's order (see {@link resolvePatterns}):
 * `group`, `host`, `all`, globs, `~regex`, subscripts, `a:b` or `a,b` (union), `a:&b`
 * (intersection), `a:!b` (exclusion). An empty list selects every host.
 */
export function selectHosts(lab: Lab, patterns: string[]): Host[] {
  const byName = new Map(lab.hosts.map((h) => [h.name, h]));
  return resolvePatterns(lab, patterns).map((n) => byName.get(n)!);
}
