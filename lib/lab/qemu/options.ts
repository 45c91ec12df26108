/**
 * The `lab.options` of a qemu scenario, validated in one place with every default: each
 * problem names the field and echoes the bad value.
 */
import path from 'node:path';
import { InputError, type Problem } from '../../errors.js';
import { WholeFloat, type VarValue, type Vars } from '../../model/index.js';

/** An extra file baked into the image. */
export interface ImageFile {
  /** Absolute path on this machine. */
  src: string;
  /** Absolute path inside the guest. */
  dest: string;
  /** @default 0o644 */
  mode: number;
}

/** The validated `lab.options` of a qemu lab. */
export interface QemuOptions {
  /** MiB of RAM per VM. @default 512 */
  memory: number;
  /** Virtual CPUs per VM. @default 1 */
  cpus: number;
  /** Extra Debian packages baked into the image. @default [] */
  packages: string[];
  /** Extra files copied into the image. @default [] */
  files: ImageFile[];
  /** Debian release of the image. @default the host's release */
  suite?: string;
  /** Debian mirror URL. @default the one apt uses for `suite` */
  mirror?: string;
  /** The lab network, a /24 written `a.b.c.0/24`; hosts get .1, .2, ... in declaration order. @default 10.10.0.0/24 */
  network: string;
  /** The accelerator: auto probes KVM once per machine (lib/lab/qemu/accel.ts). @default 'auto' */
  accel: 'auto' | 'kvm' | 'tcg';
}

/** The option names a qemu lab accepts. */
export const QEMU_OPTION_NAMES = ['memory', 'cpus', 'packages', 'files', 'suite', 'mirror', 'network', 'accel'] as const;

const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

function show(v: VarValue | undefined): string {
  return JSON.stringify(v) ?? 'undefined';
}

/**
 * Validates `lab.options` of a qemu scenario. `file` names the scenario in messages and
 * `baseDir` resolves relative `files[].src`. Throws InputError with every problem at once.
 */
export function parseQemuOptions(options: Vars = {}, where: { file?: string; baseDir?: string } = {}): QemuOptions {
  const file = where.file ?? 'lab.options';
  const baseDir = where.baseDir ?? (where.file ? path.dirname(where.file) : process.cwd());
  const problems: Problem[] = [];
  const bad = (field: string, message: string): void => {
    problems.push({ file, path: `lab.options.${field}`, message });
  };
  for (const key of Object.keys(options)) {
    if (!(QEMU_OPTION_NAMES as readonly string[]).includes(key)) bad(key, `is not a qemu lab option; use one of ${QEMU_OPTION_NAMES.join(', ')}`);
  }
  const int = (field: string, def: number, min: number, max: number): number => {
    const v = options[field];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      bad(field, `must be a whole number from ${min} to ${max}, got ${show(v)}`);
      return def;
    }
    return v;
  };
  const str = (field: string, re: RegExp, what: string): string | undefined => {
    const v = options[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !re.test(v)) {
      bad(field, `must be ${what}, got ${show(v)}`);
      return undefined;
    }
    return v;
  };
  const memory = int('memory', 512, 128, 65536);
  const cpus = int('cpus', 1, 1, 64);
  const suite = str('suite', /^[a-z][a-z0-9-]*$/, "a Debian release name such as 'bookworm'");
  const mirror = str('mirror', /^(https?|file):\/\/\S+$/, 'an http(s):// or file:// URL of a Debian mirror');
  const network = str('network', /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/, "a /24 network written 'a.b.c.0/24'") ?? '10.10.0.0/24';
  const accelValue = options.accel ?? 'auto';
  const accel = accelValue === 'auto' || accelValue === 'kvm' || accelValue === 'tcg' ? accelValue : 'auto';
  if (accel !== accelValue) bad('accel', `must be auto, kvm or tcg, got ${show(accelValue)}`);
  if (network.split(/[./]/).slice(0, 3).some((n) => Number(n) > 255)) bad('network', `has an octet above 255: ${show(network)}`);

  const packages: string[] = [];
  const pk = options.packages;
  if (pk !== undefined && pk !== null) {
    if (!Array.isArray(pk)) bad('packages', `must be a list of Debian package names, got ${show(pk)}`);
    else
      pk.forEach((p, i) => {
        if (typeof p !== 'string' || !PACKAGE.test(p)) bad(`packages[${i}]`, `must be a Debian package name (lower case letters, digits, + - .), got ${show(p)}`);
        else packages.push(p);
      });
  }

  const files: ImageFile[] = [];
  const fl = options.files;
  if (fl !== undefined && fl !== null) {
    if (!Array.isArray(fl)) bad('files', `must be a list of {src, dest} maps, got ${show(fl)}`);
    else
      fl.forEach((f, i) => {
        if (typeof f !== 'object' || f === null || Array.isArray(f) || f instanceof WholeFloat) {
          bad(`files[${i}]`, `must be a map with src and dest, got ${show(f)}`);
          return;
        }
        for (const k of Object.keys(f)) if (!['src', 'dest', 'mode'].includes(k)) bad(`files[${i}].${k}`, 'is not a field of a file; use src, dest and mode');
        const { src, dest, mode } = f;
        let ok = true;
        if (typeof src !== 'string' || !src) {
          bad(`files[${i}].src`, `must be the path of a file on this machine (relative to the scenario), got ${show(src)}`);
          ok = false;
        }
        if (typeof dest !== 'string' || !path.posix.isAbsolute(dest) || dest.split('/').includes('..') || dest.endsWith('/')) {
          bad(`files[${i}].dest`, `must be an absolute file path inside the VM without '..', got ${show(dest)}`);
          ok = false;
        }
        let m = 0o644;
        if (mode !== undefined) {
          if (typeof mode === 'string' && /^0?[0-7]{3,4}$/.test(mode)) m = parseInt(mode, 8);
          else {
            bad(`files[${i}].mode`, `must be an octal mode written as a string such as '0755', got ${show(mode)}`);
            ok = false;
          }
        }
        if (ok) files.push({ src: path.resolve(baseDir, src as string), dest: path.posix.normalize(dest as string), mode: m });
      });
  }
  if (problems.length) throw new InputError(problems);
  return {
    memory,
    cpus,
    packages,
    files,
    network,
    accel,
    ...(suite !== undefined ? { suite } : {}),
    ...(mirror !== undefined ? { mirror } : {}),
  };
}

/** The lab address of the host at `index` (0-based) on `network` (`a.b.c.0/24` gives a.b.c.index+1). */
export function labAddress(network: string, index: number): string {
  if (index < 0 || index > 252) throw new RangeError(`a qemu lab holds at most 253 hosts (index ${index})`);
  return `${network.split('.').slice(0, 3).join('.')}.${index + 1}`;
}

/** The lab-network MAC of the host at `index`: locally administered, unique in the lab. */
export function labMac(index: number): string {
  return `52:54:00:0a:${((index >> 8) & 0xff).toString(16).padStart(2, '0')}:${(index & 0xff).toString(16).padStart(2, '0')}`;
}
