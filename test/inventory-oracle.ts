/**
 * The oracle for inventory tests: what the real `ansible-inventory --list` reads from a file.
 * Its JSON is parsed keeping what JSON.parse would lose: ints beyond 2^53 come back as `bigint`,
 * floats with an integral value (`1.0`, `1e3`) as {@link IntegralFloat}, and Python's `NaN` and
 * `Infinity` as numbers, so a comparison sees every type Ansible sees.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A float whose value is integral, as Ansible printed it (`1.0`): not the int `1`. */
export class IntegralFloat {
  constructor(readonly value: number) {}
}

/** A parsed `ansible-inventory --list`: groups by name and `_meta.hostvars`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type InventoryList = Record<string, any>;

/** Options of {@link ansibleList}. */
export interface AnsibleListOptions {
  /** `--export`: group vars under their groups, host vars only the host's own. @default false */
  export?: boolean;
  signal?: AbortSignal;
}

let emptyConfig: string | undefined;
/** An empty ansible.cfg, so no config file around the test changes what Ansible reads. */
function configFile(): string {
  if (!emptyConfig) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'inventory-oracle-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    emptyConfig = path.join(dir, 'ansible.cfg');
    writeFileSync(emptyConfig, '[defaults]\n');
  }
  return emptyConfig;
}

/** The environment the oracle runs in: a source that fails to parse is an error, not a warning. */
export function oracleEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANSIBLE_CONFIG: configFile(),
    ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
    ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: 'True',
    ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
    ANSIBLE_LOCALHOST_WARNING: 'False',
    ANSIBLE_DEPRECATION_WARNINGS: 'False',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_HOME: path.dirname(configFile()),
    ANSIBLE_LOCAL_TEMP: path.join(path.dirname(configFile()), 'tmp'),
  };
}

/** Runs `ansible-inventory -i FILE --list` and returns what it printed, parsed (see the file's doc). */
export function ansibleList(file: string, options: AnsibleListOptions = {}): Promise<InventoryList> {
  const args = ['-i', file, '--list', ...(options.export ? ['--export'] : [])];
  return new Promise((resolve, reject) => {
    execFile('ansible-inventory', args, { env: oracleEnv(), maxBuffer: 64 << 20, signal: options.signal }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ansible-inventory ${args.join(' ')} failed: ${stderr || err.message}`));
      try {
        resolve(parsePythonJson(stdout) as InventoryList);
      } catch (e) {
        reject(new Error(`ansible-inventory printed what is not JSON (${(e as Error).message}):\n${stdout.slice(0, 2000)}`));
      }
    });
  });
}

/**
 * Drops from `all.children` the groups that are also a child of another group. Whether such a
 * group is listed under `all` too changes nothing Ansible does (depth, precedence and patterns
 * are the same) and a lab does not record it; only `--list` shows it.
 */
export function normalizeList(list: InventoryList): InventoryList {
  const nested = new Set<string>();
  for (const [name, group] of Object.entries(list)) {
    if (name !== 'all' && name !== '_meta' && Array.isArray(group?.children)) for (const c of group.children) nested.add(c);
  }
  const all = list.all;
  if (!all || !Array.isArray(all.children)) return list;
  return { ...list, all: { ...all, children: all.children.filter((c: string) => !nested.has(c)) } };
}

const STRING = /"(?:[^"\\]|\\.)*"/ys;
const NUMBER = /-?\d+(\.\d+)?([eE][-+]?\d+)?/y;

/** JSON as Python's `json.dumps` writes it, keeping int/float apart (see the file's doc). */
export function parsePythonJson(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') return i++, obj;
      for (;;) {
        ws();
        const k = value();
        if (typeof k !== 'string') fail('key');
        ws();
        if (text[i++] !== ':') fail("':'");
        Object.defineProperty(obj, k as string, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        const d = text[i++];
        if (d === '}') return obj;
        if (d !== ',') fail("',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') return i++, arr;
      for (;;) {
        arr.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return arr;
        if (d !== ',') fail("',' or ']'");
      }
    }
    if (c === '"') {
      STRING.lastIndex = i;
      const m = STRING.exec(text);
      if (!m) fail('string');
      i += m![0].length;
      return JSON.parse(m![0]);
    }
    for (const [w, v] of [['null', null], ['true', true], ['false', false], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
      if (text.startsWith(w, i)) return (i += w.length), v;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail('value');
    i += m![0].length;
    if (m![1] || m![2]) {
      const f = Number(m![0]);
      return Number.isInteger(f) ? new IntegralFloat(f) : f;
    }
    const n = BigInt(m![0]);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  };
  const v = value();
  ws();
  if (i !== text.length) fail('extra data');
  return v;
}
