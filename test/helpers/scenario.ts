import { writeFile, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';

/** The folder of the engine's fixture playbooks and inventories. */
export const ENGINE_FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'engine');

/** Writes a scenario file into `dir`, with `@F/` standing for the engine fixtures folder. */
export async function writeScenario(dir: string, yaml: string, name = 'scenario.yml'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, yaml.replaceAll('@F/', `${ENGINE_FIXTURES}/`));
  return file;
}

/** Every file under `dir` (recursively), as paths relative to it. */
export async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Whether a file holds `needle` anywhere. */
export async function fileContains(file: string, needle: string): Promise<boolean> {
  const s = await stat(file);
  if (s.size > 64 << 20) return false;
  return (await readFile(file)).includes(needle);
}

/** Whether the process is alive (a zombie counts as gone: PID 1 here may not reap). */
export async function pidAlive(pid: number): Promise<boolean> {
  try {
    const st = await readFile(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
