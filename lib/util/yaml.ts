/**
 * The `yaml` package, loaded on first use (~60 ms, 70 CommonJS modules). Valid scenario files
 * and playbooks are read with js-yaml; yaml's positioned document model is needed only to point
 * at a problem, for YAML inventories and for the checkpoint dependency walk, so most runs never
 * load it.
 */
import { createRequire } from 'node:module';

type YamlLib = typeof import('yaml');
let lib: YamlLib | undefined;

/** The yaml package (the same module an `import ... from 'yaml'` gives). */
export function yamlLib(): YamlLib {
  return (lib ??= createRequire(import.meta.url)('yaml') as YamlLib);
}
