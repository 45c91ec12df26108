/**
 * A float whose value is a whole number (`2.0`), kept apart from the int `2` as Ansible keeps it
 * (`{{ x | type_debug }}` is `float`). Other floats are plain numbers: a number with a fraction
 * (or beyond ±2^53, or -0) is a float anyway. The emitters of lib/inventory write it `2.0`.
 */
export class WholeFloat {
  constructor(readonly value: number) {}
  /** JSON.stringify has one number type and writes `2`; write files Ansible reads with `emitJson`. */
  toJSON(): number {
    return this.value;
  }
  /** As Python prints it: `2.0`. */
  toString(): string {
    return `${this.value}.0`;
  }
}

/** A float as the model keeps it: a {@link WholeFloat} for a whole-number value, else the number. */
export function floatValue(n: number): number | WholeFloat {
  return Number.isSafeInteger(n) && !Object.is(n, -0) ? new WholeFloat(n) : n;
}

/** A value as Ansible types it: what YAML or a Python literal can hold. */
export type VarValue = null | boolean | number | WholeFloat | string | VarValue[] | { [key: string]: VarValue };

/** Variables by name, in insertion order. */
export type Vars = Record<string, VarValue>;

/** Where something was written: a file and, when known, a 1-based line and column. */
export interface SourcePos {
  file: string;
  line?: number;
  col?: number;
}
