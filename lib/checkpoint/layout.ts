/**
 * Where things live in the checkpoint store:
 * ```
 * <root>/by-key/<key>/meta.json      what the checkpoint is of (written last, before commit)
 *                    /data/          what the provider saved
 *                    /leases/        lease-* files of readers, delete-* markers of deleters
 *                    /last-used      when a run last restored it (ISO time)
 *                    /uses/<scenario>@<stage>   each scenario and stage that saved or restored it
 * <root>/.tmp/<owner>-<random>/          a checkpoint being saved (same layout, not yet committed)
 * <root>/.trash/<owner>-<random>/        a checkpoint being deleted
 * ```
 * Checkpoints are addressed by key alone: two scenarios whose prefixes have the same inputs
 * share them (`uses/` says who). A checkpoint is committed by renaming its temp folder to
 * `by-key/<key>`, so a folder there is complete. `<owner>` is `<pid>-<start time>` of the process that made the entry.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../errors.js';
import { selfOwner, type Owner } from '../util/owner.js';

/** The folder of a committed checkpoint. */
export function checkpointDir(root: string, key: string): string {
  return path.join(root, KEYS, key);
}

/** The folder of committed checkpoints, by key. */
export const KEYS = 'by-key';
/** The folder of a checkpoint's users: one empty file `<scenario>@<stage>` each. */
export const USES = 'uses';

/** The metadata file of a checkpoint. */
export const META = 'meta.json';
/** The folder the provider saves into. */
export const DATA = 'data';
/** The folder of leases and delete markers. */
export const LEASES = 'leases';
/** The file holding the time of the last restore. */
export const LAST_USED = 'last-used';
/** The store's folder of checkpoints being saved. */
export const TMP = '.tmp';
/** The store's folder of checkpoints being deleted. */
export const TRASH = '.trash';

const SAFE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Throws an InputError unless `value` can name a folder of the store (no `/`, no leading dot). */
export function checkName(what: 'scenario' | 'key', value: string): void {
  if (!SAFE.test(value) || value.length > 200) {
    throw new InputError(`checkpoint ${what} '${value}' cannot name a folder: use letters, digits, '.', '-', '_', starting with a letter or digit`);
  }
}

/** A name that says which process made it and is unique: `<pid>-<start>-<random>`. */
export function ownedName(prefix = ''): string {
  const o = selfOwner();
  return `${prefix}${o.pid}-${o.start ?? 'x'}-${randomBytes(6).toString('hex')}`;
}

/** The owner encoded by {@link ownedName} (after `prefix`), or undefined if the name is not one. */
export function ownerOfName(name: string, prefix = ''): Owner | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(\d+)-(\d+|x)-[0-9a-f]+$/.exec(name.slice(prefix.length));
  if (!m) return undefined;
  return m[2] === 'x' ? { pid: Number(m[1]) } : { pid: Number(m[1]), start: Number(m[2]) };
}
