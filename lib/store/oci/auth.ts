/**
 * Registry credentials and auth the way the container ecosystem does them: anonymous first; on
 * a 401, `Basic` with the credentials for the registry, or the `Bearer` token flow (ask the
 * realm the challenge names for a token of the scope, with the credentials if there are any).
 * Credentials come from `--store-auth FILE`, `REGISTRY_AUTH_FILE`, or `~/.docker/config.json`
 * (the `auths` map, `auth` = base64 of `user:password`).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { InputError } from '../../errors.js';

/** A user and password (or token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

/** The candidate files, in the order they are tried. */
export function authFiles(env: NodeJS.ProcessEnv, explicit?: string): string[] {
  if (explicit) return [explicit];
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), '.docker'), 'config.json'));
  return out;
}

/** The credentials for `registry` from the first auth file that has them; undefined: anonymous. */
export async function findCredentials(registry: string, env: NodeJS.ProcessEnv, explicit?: string): Promise<Credentials | undefined> {
  for (const file of authFiles(env, explicit)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (explicit) throw new InputError(`--store-auth ${file}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
      continue;
    }
    let data: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
    try {
      data = JSON.parse(text);
    } catch {
      throw new InputError(`${file}: is not JSON; a registry auth file looks like {"auths": {"host:port": {"auth": "base64(user:password)"}}}`);
    }
    const auths = data.auths ?? {};
    const entry = auths[registry] ?? auths[`https://${registry}`] ?? auths[`http://${registry}`];
    if (!entry) continue;
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i > 0) return { username: plain.slice(0, i), password: plain.slice(i + 1) };
    }
    throw new InputError(`${file}: auths["${registry}"] has neither 'auth' nor 'username' and 'password'`);
  }
  return undefined;
}

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (or `Basic realm="..."`). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The `Authorization` value for Basic auth. */
export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
