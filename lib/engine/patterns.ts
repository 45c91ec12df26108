import type { Host, Lab } from '../model/index.js';

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** The hosts of `group`, through its child groups. */
function hostsOfGroup(lab: Lab, group: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(group)) return out;
  seen.add(group);
  for (const h of lab.hosts) if (h.groups.includes(group)) out.add(h.name);
  for (const child of lab.groups.find((g) => g.name === group)?.children ?? []) {
    for (const h of hostsOfGroup(lab, child, seen)) out.add(h);
  }
  return out;
}

function matchWord(lab: Lab, word: string): Set<string> {
  if (word === 'all' || word === '*') return new Set(lab.hosts.map((h) => h.name));
  if (word === 'ungrouped') return new Set(lab.hosts.filter((h) => h.groups.length === 0).map((h) => h.name));
  if (/[*?]/.test(word)) {
    const re = globToRegExp(word);
    const out = new Set<string>();
    for (const h of lab.hosts) if (re.test(h.name) || h.groups.some((g) => re.test(g))) out.add(h.name);
    for (const g of lab.groups) if (re.test(g.name)) for (const h of hostsOfGroup(lab, g.name)) out.add(h);
    return out;
  }
  if (lab.hosts.some((h) => h.name === word)) return new Set([word]);
  return hostsOfGroup(lab, word);
}

/**
 * The hosts that Ansible host patterns select, in lab order: `group`, `host`, `all`, globs,
 * `a:b` (union), `a:&b` (intersection), `a:!b` (exclusion). An empty list selects every host.
 */
export function selectHosts(lab: Lab, patterns: string[]): Host[] {
  if (patterns.length === 0) return [...lab.hosts];
  let selected = new Set<string>();
  const intersect: Set<string>[] = [];
  const exclude = new Set<string>();
  for (const pattern of patterns) {
    for (const raw of pattern.split(/[:,]/)) {
      const word = raw.trim();
      if (!word) continue;
      if (word.startsWith('!')) for (const h of matchWord(lab, word.slice(1))) exclude.add(h);
      else if (word.startsWith('&')) intersect.push(matchWord(lab, word.slice(1)));
      else selected = new Set([...selected, ...matchWord(lab, word)]);
    }
  }
  return lab.hosts.filter((h) => selected.has(h.name) && !exclude.has(h.name) && intersect.every((s) => s.has(h.name)));
}
