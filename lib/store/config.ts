/**
 * Which remote checkpoint store a run uses, from (first found wins): `--store URL`, the
 * environment's `HARNESS_CHECKPOINT_STORE`, or the `checkpoint_store` key of the project's
 * config file `.ansible-harness.yml` (in the working directory or the nearest folder above it;
 * `HARNESS_CONFIG` names another file). The file holds a URL or a mapping with the other
 * settings, paths relative to the file:
 *
 * ```yaml
 * checkpoint_store:
 *   url: oci://registry.example.com/ci/checkpoints
 *   auth: .ci/registry-auth.json   # else REGISTRY_AUTH_FILE / ~/.docker/config.json
 *   key: .ci/store.key             # client-side encryption
 *   ca: .ci/registry-ca.pem
 * ```
 * `--store-auth`, `--store-key`, `--store-ca` and `--store-insecure` override the file's values.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import jsYaml from 'js-yaml';
import { InputError } from '../errors.js';
import type { RemoteStoreOptions } from './remote.js';

/** The project config file's name. */
export const CONFIG_FILE = '.ansible-harness.yml';

/** The store flags of `harness run` (and `checkpoints`). */
export interface StoreFlags {
  store?: string;
  storeAuth?: string;
  storeKey?: string;
  storeCa?: string;
  storeInsecure?: boolean;
}

/** The config file that applies in `cwd`, if any. */
export function findConfigFile(env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (env.HARNESS_CONFIG) {
    const f = path.resolve(cwd, env.HARNESS_CONFIG);
    if (!existsSync(f)) throw new InputError(`HARNESS_CONFIG is ${env.HARNESS_CONFIG}, which is no file: fix or unset it`);
    return f;
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const f = path.join(dir, CONFIG_FILE);
    if (existsSync(f)) return f;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The `checkpoint_store` of a config file, paths made absolute; undefined when it has none. */
function fromFile(file: string): Omit<RemoteStoreOptions, 'env' | 'signal'> | undefined {
  let data: unknown;
  try {
    data = jsYaml.load(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: is not YAML the harness reads (${(err as Error).message.split('\n')[0]})`);
  }
  if (data === null || data === undefined) return undefined;
  if (typeof data !== 'object' || Array.isArray(data)) throw new InputError(`${file}: should be a mapping (e.g. checkpoint_store: oci://HOST/REPOSITORY)`);
  const cs = (data as Record<string, unknown>).checkpoint_store;
  if (cs === undefined || cs === null) return undefined;
  if (typeof cs === 'string') return { url: cs };
  if (typeof cs !== 'object' || Array.isArray(cs)) throw new InputError(`${file}: checkpoint_store should be an oci:// URL or a mapping with url, auth, key, ca, insecure`);
  const o = cs as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['url', 'auth', 'key', 'ca', 'insecure'].includes(k));
  if (unknown.length) throw new InputError(`${file}: checkpoint_store has no setting ${unknown.join(', ')} (it takes url, auth, key, ca, insecure)`);
  if (typeof o.url !== 'string') throw new InputError(`${file}: checkpoint_store.url should be an oci://HOST[:PORT]/REPOSITORY URL`);
  const rel = (k: 'auth' | 'key' | 'ca'): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new InputError(`${file}: checkpoint_store.${k} should be a file path`);
    return path.resolve(path.dirname(file), v);
  };
  if (o.insecure !== undefined && typeof o.insecure !== 'boolean') throw new InputError(`${file}: checkpoint_store.insecure should be true or false`);
  const auth = rel('auth');
  const key = rel('key');
  const ca = rel('ca');
  return { url: o.url, ...(auth ? { authFile: auth } : {}), ...(key ? { keyFile: key } : {}), ...(ca ? { caFile: ca } : {}), ...(o.insecure ? { insecure: true } : {}) };
}

/** The remote store a command uses, or undefined for the local cache only. */
export function resolveStore(flags: StoreFlags, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): RemoteStoreOptions | undefined {
  let base: Omit<RemoteStoreOptions, 'env' | 'signal'> | undefined;
  if (flags.store) base = { url: flags.store };
  else if (env.HARNESS_CHECKPOINT_STORE) base = { url: env.HARNESS_CHECKPOINT_STORE };
  else {
    const file = findConfigFile(env, cwd);
    base = file ? fromFile(file) : undefined;
  }
  if (!base) {
    if (flags.storeAuth || flags.storeKey || flags.storeCa || flags.storeInsecure) {
      throw new InputError('--store-auth, --store-key, --store-ca and --store-insecure go with a store: --store oci://HOST[:PORT]/REPOSITORY (or HARNESS_CHECKPOINT_STORE)');
    }
    return undefined;
  }
  return {
    ...base,
    ...(flags.storeAuth ? { authFile: flags.storeAuth } : {}),
    ...(flags.storeKey ? { keyFile: flags.storeKey } : {}),
    ...(flags.storeCa ? { caFile: flags.storeCa } : {}),
    ...(flags.storeInsecure ? { insecure: true } : {}),
    env,
  };
}
