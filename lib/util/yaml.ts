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

/**
 * Where a `toJS` ReferenceError points: the alias it names when it is unresolved (`*x` before
 * any `&x`), else the first alias (an alias bomb). Line and column are 1-based, 1:1 if unknown.
 */
export function aliasErrorAt(doc: import('yaml').Document, lines: import('yaml').LineCounter, err: unknown): { line: number; col: number; unresolved?: string } {
  const unresolved = /^Unresolved alias[^:]*: (.*)$/.exec((err as Error)?.message ?? '')?.[1];
  let pos: { line: number; col: number } | undefined;
  yamlLib().visit(doc, {
    Alias(_, node) {
      if (unresolved !== undefined && node.source !== unresolved) return undefined;
      if (node.range) pos = lines.linePos(node.range[0]);
      return yamlLib().visit.BREAK;
    },
  });
  return { line: pos?.line ?? 1, col: pos?.col ?? 1, ...(unresolved !== undefined ? { unresolved } : {}) };
}
