/** Ansible's `DataLoader.load`: a file's text is tried as JSON first, then as YAML. */
import { InputError } from '../errors.js';
import { parsePyJson, type Loaded } from './py-json.js';
import { parsePyYaml, PyYamlError } from './py-yaml.js';

/** Loads `text` (from `file`) as Ansible does; throws {@link InputError} with the YAML error's line. */
export function loadData(text: string, file: string): Loaded {
  try {
    return parsePyJson(text);
  } catch {
    // not JSON: YAML decides
  }
  try {
    return parsePyYaml(text);
  } catch (err) {
    if (err instanceof PyYamlError) {
      throw new InputError([{ file, ...(err.line !== undefined ? { line: err.line } : {}), message: `not valid YAML: ${err.message}` }]);
    }
    throw err;
  }
}
