/** The `ansible-playbook` argument array, built by one pure function (no shell strings). */
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Vars } from '../model/values.js';

/** What one `ansible-playbook` run is asked to do. */
export interface PlaybookArgvOptions {
  /** The playbook, an absolute path. */
  playbook: string;
  /** The inventory file(s) or directory(ies); each becomes `-i PATH`. */
  inventory: string | string[];
  /** Host patterns (each one part, as `split_host_pattern` makes them) joined with `,` into one `--limit`. Empty or absent: no `--limit`. */
  limit?: string[];
  /** Variable files, each `-e @FILE`, in order (later files win). */
  extraVarsFiles?: string[];
  /** Variables passed as ONE `-e '<JSON object>'` after the files, so they win; values keep their types. */
  extraVars?: Vars;
  /** `--tags a,b`. */
  tags?: string[];
  /** `--skip-tags a,b`. */
  skipTags?: string[];
  /** 0-4: `-v` to `-vvvv`. @default 0 */
  verbosity?: number;
  /** `--check`. @default false */
  check?: boolean;
  /** `--diff`. @default false */
  diff?: boolean;
  /** `--forks N`, a positive integer. Absent: ansible.cfg's value. */
  forks?: number;
}

function bad(option: string, value: unknown, want: string): InputError {
  return new InputError(`playbookArgv: option '${option}' is ${JSON.stringify(value)}; ${want}`);
}

function names(option: string, list: string[] | undefined): string[] {
  for (const item of list ?? []) {
    if (typeof item !== 'string' || item.trim() === '' || /[\s,]/.test(item)) {
      throw bad(option, item, 'give non-empty names without spaces or commas');
    }
  }
  return list ?? [];
}

/**
 * The arguments for `ansible-playbook` WITHOUT the program itself (the caller chooses the binary,
 * e.g. from `findAnsible()`), in a fixed order: `-i`, `--limit`, `-e @file`..., `-e JSON`,
 * `--tags`, `--skip-tags`, `-v...`, `--check`, `--diff`, `--forks`, then the playbook last.
 * Throws {@link InputError} naming the option for a bad value.
 */
export function playbookArgv(opts: PlaybookArgvOptions): string[] {
  if (typeof opts.playbook !== 'string' || !path.isAbsolute(opts.playbook)) {
    throw bad('playbook', opts.playbook, 'give an absolute path to the playbook');
  }
  const inventories = typeof opts.inventory === 'string' ? [opts.inventory] : opts.inventory;
  if (!Array.isArray(inventories) || inventories.length === 0 || inventories.some((i) => typeof i !== 'string' || i === '')) {
    throw bad('inventory', opts.inventory, 'give one or more inventory paths');
  }
  const args: string[] = [];
  for (const inv of inventories) args.push('-i', inv);

  const limit = opts.limit ?? [];
  for (const pattern of limit) {
    if (typeof pattern !== 'string' || pattern === '' || /[\s,]/.test(pattern)) {
      throw bad('limit', pattern, 'give host patterns split at their commas and colons, without spaces');
    }
  }
  // Joined with ',': Ansible then splits at commas only, so `app[0:1]` and `~a:b` stay whole.
  if (limit.length > 0) args.push('--limit', limit.join(','));

  for (const file of opts.extraVarsFiles ?? []) {
    if (typeof file !== 'string' || file === '') throw bad('extraVarsFiles', file, 'give file paths');
    args.push('-e', `@${file}`);
  }
  if (opts.extraVars !== undefined) {
    if (typeof opts.extraVars !== 'object' || opts.extraVars === null || Array.isArray(opts.extraVars)) {
      throw bad('extraVars', opts.extraVars, 'give an object of variables');
    }
    if (Object.keys(opts.extraVars).length > 0) args.push('-e', JSON.stringify(opts.extraVars));
  }

  const tags = names('tags', opts.tags);
  if (tags.length > 0) args.push('--tags', tags.join(','));
  const skipTags = names('skipTags', opts.skipTags);
  if (skipTags.length > 0) args.push('--skip-tags', skipTags.join(','));

  const verbosity = opts.verbosity ?? 0;
  if (!Number.isInteger(verbosity) || verbosity < 0 || verbosity > 4) throw bad('verbosity', opts.verbosity, 'give an integer from 0 to 4');
  if (verbosity > 0) args.push(`-${'v'.repeat(verbosity)}`);
  if (opts.check) args.push('--check');
  if (opts.diff) args.push('--diff');
  if (opts.forks !== undefined) {
    if (!Number.isInteger(opts.forks) || opts.forks < 1) throw bad('forks', opts.forks, 'give a positive integer');
    args.push('--forks', String(opts.forks));
  }
  args.push(opts.playbook);
  return args;
}
