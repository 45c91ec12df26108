/** A value as Ansible types it: what YAML or a Python literal can hold. */
export type VarValue = null | boolean | number | string | VarValue[] | { [key: string]: VarValue };

/** Variables by name, in insertion order. */
export type Vars = Record<string, VarValue>;

/** Where something was written: a file and, when known, a 1-based line and column. */
export interface SourcePos {
  file: string;
  line?: number;
  col?: number;
}
