import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * The executable file `name` resolves to: `name` itself (resolved) when it has a slash, else the
 * first on `env.PATH`, then in `extraDirs` (the sbin folders a tool may live in); undefined when none.
 */
export async function whichOnPath(name: string, env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = []): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), ...extraDirs];
  const candidates = name.includes('/') ? [path.resolve(name)] : dirs.map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if ((await stat(c)).isFile()) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}
