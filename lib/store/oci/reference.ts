/**
 * `oci://HOST[:PORT]/REPOSITORY` store addresses: where checkpoints live in a registry that
 * speaks the OCI distribution API.
 */
import { InputError } from '../../errors.js';

/** A parsed store address. */
export interface StoreRef {
  /** `host[:port]`, as registries and credential files name it. */
  registry: string;
  /** The repository path, e.g. `team/checkpoints`. */
  repository: string;
  /** The base URL of the API (`https://host:port`, `http://` when insecure). */
  baseUrl: string;
}

const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Parses `oci://host[:port]/repo`; `insecure` picks plain HTTP (loopback tests only). */
export function parseStoreRef(url: string, opts: { insecure?: boolean } = {}): StoreRef {
  const m = /^oci:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new InputError(`--store ${url}: write oci://HOST[:PORT]/REPOSITORY (e.g. oci://registry.example.com/ci/checkpoints)`);
  const [, registry, repository] = m as unknown as [string, string, string];
  if (!REPO.test(repository)) throw new InputError(`--store ${url}: '${repository}' is no valid repository name (lower-case letters, digits, '.', '_', '-', separated by '/')`);
  const host = registry.replace(/:\d+$/, '');
  if (opts.insecure && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) {
    throw new InputError(`--store-insecure talks plain HTTP and is only for registries on loopback; ${registry} is not one: give it TLS (and --store-ca FILE for a private CA)`);
  }
  return { registry, repository, baseUrl: `${opts.insecure ? 'http' : 'https'}://${registry}` };
}
