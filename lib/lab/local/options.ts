/**
 * Options of the `local` provider, their defaults (applied in one place) and their checks.
 */
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../errors.js';
import { defaultClaimsDir } from './claims.js';

/** How the `local` provider runs its hosts. */
export interface LocalProviderOptions {
  /**
   * The folder holding each host's own root directory `<hostsRoot>/<host>` (its
   * `harness_host_root`: the hosts share one filesystem, so playbooks write under it). A folder
   * given here is the caller's: it is never removed.
   * @default a folder of the lab's own outside the run directory (host-roots.ts), removed at release unless kept
   */
  hostsRoot?: string;
  /** The folder of loopback address claims every run on the machine shares (claims.ts). @default `<tmp>/ansible-harness-addresses` */
  addressClaims?: string;
  /**
   * Lines put at the top of every host's `sshd_config` (sshd takes the first value of a
   * keyword, so they win over ours; no `Match` blocks), or a function giving them per host.
   * @default []
   */
  sshdExtraConfig?: string | string[] | ((host: string) => string[]);
  /** Hosts get 127.X.Y.<firstAddress + index> in the lab's own block, in declaration order. @default 2 */
  firstAddress?: number;
  /** The sshd binary (an absolute path: sshd refuses to re-exec otherwise). @default '/usr/sbin/sshd' */
  sshdPath?: string;
  /** The ssh client used to check each host. @default 'ssh' */
  sshPath?: string;
  /** How long one host may take from start to its SSH banner. @default 10000 */
  startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL when stopping an sshd. @default 3000 */
  stopGraceMs?: number;
  /** How many hosts start at once. @default 8 */
  concurrency?: number;
  /** The login user on every host. @default os.userInfo().username */
  user?: string;
}

/** {@link LocalProviderOptions} with every default applied. */
export interface ResolvedLocalOptions {
  /** The caller's folder of host roots, if one was given. */
  hostsRoot: string | undefined;
  addressClaims: string;
  sshdExtraConfig: (host: string) => string[];
  firstAddress: number;
  sshdPath: string;
  sshPath: string;
  startTimeoutMs: number;
  stopGraceMs: number;
  concurrency: number;
  user: string;
}

function positiveInt(name: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InputError(`local provider option '${name}' must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The option names a local lab accepts. */
export const LOCAL_OPTION_NAMES: readonly string[] = ['hostsRoot', 'addressClaims', 'sshdExtraConfig', 'firstAddress', 'sshdPath', 'sshPath', 'startTimeoutMs', 'stopGraceMs', 'concurrency', 'user'];
const KNOWN = LOCAL_OPTION_NAMES;

/** Applies the defaults and checks every option; throws InputError naming the bad one. */
export function resolveLocalOptions(opts: LocalProviderOptions = {}): ResolvedLocalOptions {
  const unknown = Object.keys(opts).filter((k) => !LOCAL_OPTION_NAMES.includes(k));
  if (unknown.length) {
    throw new InputError(`unknown local provider option(s) ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${LOCAL_OPTION_NAMES.join(', ')}`);
  }
  const sshdPath = opts.sshdPath ?? '/usr/sbin/sshd';
  if (!path.isAbsolute(sshdPath)) {
    throw new InputError(`local provider option 'sshdPath' must be an absolute path (sshd re-executes itself), got '${sshdPath}'`);
  }
  const raw = opts.sshdExtraConfig ?? [];
  const extra = typeof raw === 'string' ? raw.split('\n') : raw;
  if (typeof extra !== 'function' && (!Array.isArray(extra) || extra.some((l) => typeof l !== 'string'))) {
    throw new InputError(`local provider option 'sshdExtraConfig' must be a list of sshd_config lines, got ${JSON.stringify(raw)}`);
  }
  for (const [name, value] of [['hostsRoot', opts.hostsRoot], ['addressClaims', opts.addressClaims], ['sshPath', opts.sshPath], ['user', opts.user]] as const) {
    if (value !== undefined && (typeof value !== 'string' || !value)) {
      throw new InputError(`local provider option '${name}' must be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  const hostsRoot = opts.hostsRoot;
  return {
    hostsRoot: hostsRoot === undefined ? undefined : path.resolve(hostsRoot),
    addressClaims: path.resolve(opts.addressClaims ?? defaultClaimsDir()),
    sshdExtraConfig: typeof extra === 'function' ? extra : () => extra,
    firstAddress: positiveInt('firstAddress', opts.firstAddress, 2, 254),
    sshdPath,
    sshPath: opts.sshPath ?? 'ssh',
    startTimeoutMs: positiveInt('startTimeoutMs', opts.startTimeoutMs, 10_000),
    stopGraceMs: positiveInt('stopGraceMs', opts.stopGraceMs, 3_000),
    concurrency: positiveInt('concurrency', opts.concurrency, 8, 64),
    user: opts.user ?? os.userInfo().username,
  };
}
