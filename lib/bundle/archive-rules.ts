/**
 * The rules a bundle's entries must follow before anything is extracted: relative paths inside
 * the target, only files, folders and symbolic links that resolve inside, bounded sizes and
 * counts. Pure: it sees entry headers, never the disk.
 */

/** Limits of an extraction. */
export interface ArchiveLimits {
  /** Largest size of one entry. @default 1 GiB */
  maxEntryBytes: number;
  /** Largest sum of entry sizes. @default 8 GiB */
  maxTotalBytes: number;
  /** Most entries. @default 100000 */
  maxEntries: number;
}

/** The default {@link ArchiveLimits}. */
export const DEFAULT_LIMITS: ArchiveLimits = { maxEntryBytes: 1024 ** 3, maxTotalBytes: 8 * 1024 ** 3, maxEntries: 100_000 };

/** What the rules see of an entry (a tar header). */
export interface EntryHeader {
  path: string;
  type: string;
  size: number;
  linkpath?: string;
}

/** A refused entry: its name and why. */
export interface Refusal {
  entry: string;
  reason: string;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const MAX_LINK_HOPS = 40;

const gib = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${n} bytes`);

/** Why a path may not be written below the target; or, when it may, its `/`-separated segments (without `.` and empty ones). */
export function pathProblem(p: string): string | string[] {
  if (p.includes('\0')) return 'its name holds a NUL byte';
  if (p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p)) return 'it is an absolute path';
  const parts = p.split('/');
  if (parts.some((s) => s === '..' || s.split('\\').includes('..'))) return 'a `..` segment would leave the target folder';
  return parts.filter((s) => s !== '' && s !== '.');
}

function typeProblem(type: string): string | undefined {
  if (FILE_TYPES.has(type) || type === 'Directory' || type === 'SymbolicLink') return undefined;
  switch (type) {
    case 'Link':
      return 'it is a hard link (bundles hold none)';
    case 'CharacterDevice':
      return 'it is a character device';
    case 'BlockDevice':
      return 'it is a block device';
    case 'FIFO':
      return 'it is a FIFO';
    default:
      return `its type (${type}) is not a file, folder or symbolic link`;
  }
}

/**
 * Checks entries one by one as they are listed ({@link ArchiveRules.check}), then, once all are
 * seen, that no entry is written through a symbolic link and every link resolves inside
 * ({@link ArchiveRules.finish}).
 */
export class ArchiveRules {
  /** Entries seen. */
  entries = 0;
  /** Sum of their sizes. */
  totalBytes = 0;
  /** The first segment of every entry (to find a bundle's top folder). */
  readonly tops = new Set<string>();
  private readonly links = new Map<string, string>();
  private readonly paths = new Set<string>();

  constructor(private readonly limits: ArchiveLimits = DEFAULT_LIMITS) {}

  /** The first rule `e` breaks, or undefined; counts it towards the limits. */
  check(e: EntryHeader): Refusal | undefined {
    const refuse = (reason: string): Refusal => ({ entry: e.path, reason });
    this.entries++;
    if (this.entries > this.limits.maxEntries) return refuse(`the archive has more than ${this.limits.maxEntries} entries`);
    const type = typeProblem(e.type);
    if (type) return refuse(type);
    const parts = pathProblem(e.path);
    if (typeof parts === 'string') return refuse(parts);
    if (e.size > this.limits.maxEntryBytes) return refuse(`its size (${gib(e.size)}) is over the limit of ${gib(this.limits.maxEntryBytes)} per entry`);
    this.totalBytes += e.size;
    if (this.totalBytes > this.limits.maxTotalBytes) return refuse(`the entries so far add up to ${gib(this.totalBytes)}, over the limit of ${gib(this.limits.maxTotalBytes)}`);
    if (!parts.length) {
      if (e.type !== 'Directory') return refuse('it names the target folder itself');
      return undefined;
    }
    const rel = parts.join('/');
    if (e.type === 'SymbolicLink') {
      const target = e.linkpath ?? '';
      if (!target) return refuse('a symbolic link with no target');
      if (target.includes('\0')) return refuse('its link target holds a NUL byte');
      if (target.startsWith('/') || target.startsWith('\\') || /^[A-Za-z]:/.test(target)) return refuse(`a symbolic link to the absolute path ${target}`);
      this.links.set(rel, target);
    }
    this.paths.add(rel);
    this.tops.add(parts[0]!);
    return undefined;
  }

  /** After the last entry: the first entry written through a link, or link resolving outside, if any. */
  finish(): Refusal | undefined {
    for (const p of this.paths) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        if (this.links.has(prefix)) return { entry: p, reason: `it would be written through the symbolic link ${prefix}` };
      }
    }
    for (const [link, target] of this.links) {
      const why = this.resolve(link, target);
      if (why) return { entry: link, reason: why };
    }
    return undefined;
  }

  /** Resolves a link as the file system would, following links of the archive; why it leaves the target, if it does. */
  private resolve(link: string, target: string): string | undefined {
    const r = this.follow(link.split('/').slice(0, -1), target, 0);
    return typeof r === 'string' ? `its target ${target} ${r}` : undefined;
  }

  /** The segments below the target that `to`, seen from the folder `base`, resolves to; or why it cannot. */
  private follow(base: string[], to: string, depth: number): string[] | string {
    if (depth > MAX_LINK_HOPS) return 'goes round a loop of symbolic links';
    let stack = [...base];
    for (const seg of to.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (!stack.length) return 'resolves outside the target folder';
        stack.pop();
        continue;
      }
      stack.push(seg);
      const next = this.links.get(stack.join('/'));
      if (next === undefined) continue;
      const r = this.follow(stack.slice(0, -1), next, depth + 1);
      if (typeof r === 'string') return r;
      stack = r;
    }
    return stack;
  }
}
