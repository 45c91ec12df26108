/**
 * Reading an inventory file into a {@link Lab}, choosing the plugin as Ansible does: a file named
 * `.yml`, `.yaml`, `.json` or with no extension is tried as YAML first, then as INI; any other
 * name is INI. `host_vars/` and `group_vars/` beside the file are read as Ansible reads them.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError, type Problem } from '../errors.js';
import type { Lab } from '../model/index.js';
import { InventoryBuilder, InventoryStructureError } from './builder.js';
import { parseIni } from './ini.js';
import { loadData } from './load-data.js';
import { mergeVarsDirs } from './vars-dirs.js';
import { NotYamlInventoryError, parseYamlInventory } from './yaml.js';

/** Options of {@link readInventory}. */
export interface ReadInventoryOptions {
  /** Stops reading (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

const YAML_EXTENSIONS = ['.yml', '.yaml', '.json'];

/** Decodes as the INI plugin does: UTF-8, and if that fails, comment lines may hold any bytes. */
function decodeIni(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const text = Buffer.from(bytes).toString('latin1');
    const lines = text.split(/\r\n|\r|\n/);
    return lines
      .map((l, i) => {
        if (l[0] === '#' || l[0] === ';') return '';
        try {
          return strict.decode(Buffer.from(l, 'latin1'));
        } catch {
          throw new InputError([{ file, line: i + 1, message: 'this line is not valid UTF-8; save the inventory as UTF-8' }]);
        }
      })
      .join('\n');
  }
}

/**
 * Reads the inventory `file` (INI, YAML or JSON) and the `host_vars/` and `group_vars/` beside
 * it into a static lab, as `ansible-inventory --list` would see it. Throws {@link InputError}
 * with the file and line of each problem; where Ansible would only warn that it cannot parse a
 * source, this throws.
 */
export async function readInventory(file: string, options: ReadInventoryOptions = {}): Promise<Lab> {
  const { signal } = options;
  signal?.throwIfAborted();
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError([{ file, message: `cannot read the inventory: ${err.code === 'ENOENT' ? 'no such file' : err.message}` }], { cause: err });
  });
  if (info.isDirectory()) throw new InputError([{ file, message: 'is a directory; name an inventory file (INI, YAML or JSON)' }]);
  const bytes = await readFile(file, { signal });
  const ext = path.extname(file);
  const plugins: Array<'yaml' | 'ini'> = ext === '' || YAML_EXTENSIONS.includes(ext) ? ['yaml', 'ini'] : ['ini'];
  const failures: Array<{ plugin: 'YAML' | 'INI'; problems: Problem[] }> = [];
  let inv: InventoryBuilder | undefined;
  // a file the YAML plugin takes for a YAML inventory but finds fault in is reported as YAML only
  let yamlInventory = false;
  for (const plugin of plugins) {
    const attempt = new InventoryBuilder();
    try {
      if (plugin === 'yaml') {
        let loaded;
        try {
          loaded = loadData(new TextDecoder('utf-8').decode(bytes), file);
        } catch (err) {
          throw err instanceof InputError ? new NotYamlInventoryError(err.problems) : err;
        }
        parseYamlInventory(loaded, file, attempt);
      } else parseIni(decodeIni(bytes, file), file, attempt);
      inv = attempt;
      break;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      if (plugin === 'yaml' && !(err instanceof NotYamlInventoryError)) yamlInventory = true;
      failures.push({ plugin: plugin === 'yaml' ? 'YAML' : 'INI', problems: err.problems.length ? err.problems : [{ file, message: err.message }] });
    }
  }
  if (!inv) {
    const shown = yamlInventory ? failures.filter((f) => f.plugin === 'YAML') : failures;
    if (shown.length === 1) throw new InputError(shown[0]!.problems);
    throw new InputError(shown.flatMap((f) => f.problems.map((p) => ({ ...p, message: `as ${f.plugin}: ${p.message}` }))));
  }
  signal?.throwIfAborted();
  try {
    inv.reconcile();
    await mergeVarsDirs(inv, path.dirname(path.resolve(file)));
    signal?.throwIfAborted();
    return inv.toLab();
  } catch (err) {
    if (err instanceof InventoryStructureError) throw new InputError([{ file, message: err.message }], { cause: err });
    throw err;
  }
}
