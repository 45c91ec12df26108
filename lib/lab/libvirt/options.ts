/**
 * The `lab.options` of a libvirt scenario: the image and machine options are the qemu lab's
 * (checked by its own parser, so both labs read them alike), plus `uri`, the libvirt connection.
 */
import { InputError, type Problem } from '../../errors.js';
import type { Vars } from '../../model/index.js';
import { parseQemuOptions, QEMU_OPTION_NAMES, type QemuOptions } from '../qemu/options.js';

/** The validated `lab.options` of a libvirt lab. */
export interface LibvirtOptions extends QemuOptions {
  /**
   * `private` (default): the lab starts a libvirtd of its own (its config, state and sockets in a
   * temp folder, in a mount namespace of its own) and stops it at release. Else the URI of a
   * running daemon on this machine (`qemu:///system`, `qemu+unix:///system?socket=...`).
   */
  uri: string;
}

/** The option names a libvirt lab accepts. */
export const LIBVIRT_OPTION_NAMES = [...QEMU_OPTION_NAMES, 'uri'] as const;

/** The `uri` that makes the lab start and stop its own daemon. */
export const PRIVATE_URI = 'private';

/** Validates `lab.options` of a libvirt scenario; throws InputError with every problem at once. */
export function parseLibvirtOptions(options: Vars = {}, where: { file?: string; baseDir?: string } = {}): LibvirtOptions {
  const file = where.file ?? 'lab.options';
  const problems: Problem[] = [];
  const rest: Vars = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'uri') continue;
    if (!(LIBVIRT_OPTION_NAMES as readonly string[]).includes(key)) problems.push({ file, path: `lab.options.${key}`, message: `is not a libvirt lab option; use one of ${LIBVIRT_OPTION_NAMES.join(', ')}` });
    else rest[key] = value;
  }
  const raw = options.uri;
  let uri = PRIVATE_URI;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'string' || !(raw === PRIVATE_URI || /^qemu(\+unix)?:\/\/\/(system|session)(\?\S*)?$/.test(raw))) {
      problems.push({ file, path: 'lab.options.uri', message: `must be 'private' (a libvirtd of the lab's own) or a local qemu URI such as qemu:///system, got ${JSON.stringify(raw)}` });
    } else uri = raw;
  }
  let base: QemuOptions | undefined;
  try {
    base = parseQemuOptions(rest, where);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    problems.push(...err.problems.map((p) => ({ ...p, message: p.message.replace('qemu lab option', 'libvirt lab option') })));
  }
  if (problems.length || !base) throw new InputError(problems);
  return { ...base, uri };
}
