import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

/** The package's root folder (where package.json is), from source or from dist/. */
export const PACKAGE_ROOT: string = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // lib/paths.ts -> <root>/lib ; dist/lib/paths.js -> <root>/dist/lib
  return path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
})();

/** A file shipped with the package (plugins, schemas), by path from the package root. */
export function packageFile(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/ansible-harness`, where checkpoints and images live. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'ansible-harness');
}
