/**
 * The Python that Ansible runs on, as an oracle for the parts of Ansible we reimplement:
 * `ast.literal_eval`, `shlex.split`, host pattern expansion, Ansible's YAML loader, `repr(float)`.
 * One process per batch of inputs; each result comes back tagged with its Python type.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PyBytes, PyDict, PyUnsupported, pyFloatRepr, type PyValue } from '../lib/inventory/py-value.js';

/** A Python value as the oracle script encodes it. */
export type Tagged =
  | { t: 'none' | 'set' | 'complex' | 'ellipsis' | 'unsafe' | 'vault' | 'text' | 'error' | 'other'; v?: string }
  | { t: 'bool'; v: boolean }
  | { t: 'int' | 'float' | 'str' | 'bytes'; v: string }
  | { t: 'list'; v: Tagged[] }
  | { t: 'dict'; v: Array<[Tagged, Tagged]> };

const SCRIPT = String.raw`
import sys, json, ast, shlex, datetime
def enc(v):
    n = type(v).__name__
    if n.startswith('AnsibleUnsafe'): return {"t": "unsafe"}
    if 'Vault' in n: return {"t": "vault"}
    if v is None: return {"t": "none"}
    if isinstance(v, bool): return {"t": "bool", "v": v}
    if isinstance(v, int): return {"t": "int", "v": str(v)}
    if isinstance(v, float): return {"t": "float", "v": repr(v)}
    if isinstance(v, str): return {"t": "str", "v": v}
    if isinstance(v, bytes): return {"t": "bytes", "v": v.hex()}
    if isinstance(v, (list, tuple)): return {"t": "list", "v": [enc(x) for x in v]}
    if isinstance(v, dict): return {"t": "dict", "v": [[enc(k), enc(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)): return {"t": "set"}
    if isinstance(v, complex): return {"t": "complex"}
    if v is Ellipsis: return {"t": "ellipsis"}
    if isinstance(v, (datetime.date, datetime.datetime)): return {"t": "str", "v": v.isoformat()}
    return {"t": "other", "v": n}
def literal(s):
    try: return enc(ast.literal_eval(s))
    except (ValueError, SyntaxError): return {"t": "text"}
    except Exception as e: return {"t": "error", "v": type(e).__name__}
def split(s):
    try: return shlex.split(s, comments=True)
    except ValueError as e: return {"error": str(e)}
def hosts(s):
    from ansible.parsing.utils.addresses import parse_address
    from ansible.plugins.inventory import detect_range, expand_hostname_range
    try:
        try: (pattern, port) = parse_address(s, allow_ranges=True)
        except Exception: pattern, port = s, None
        names = expand_hostname_range(pattern) if detect_range(pattern) else [pattern]
        return {"names": names, "port": port}
    except Exception as e: return {"error": str(e)}
def load_yaml(s):
    from ansible.parsing.yaml.loader import AnsibleLoader
    try:
        loader = AnsibleLoader(s)
        try: return enc(loader.get_single_data())
        finally: loader.dispose()
    except Exception as e: return {"t": "error", "v": type(e).__name__ + ": " + str(e).split("\n")[0]}
def load_json(s):
    try: return enc(json.loads(s))
    except Exception as e: return {"t": "error", "v": type(e).__name__}
mode = sys.argv[1]
fn = {"literal": literal, "shlex": split, "hosts": hosts, "yaml": load_yaml, "json": load_json, "repr": lambda x: repr(float(x))}[mode]
print(json.dumps([fn(s) for s in json.load(sys.stdin)]))
`;

/** The interpreter `ansible-inventory` runs on (its `#!` line), so Ansible's modules import. */
export function ansiblePython(): string {
  const which = process.env.PATH!.split(':').map((d) => `${d}/ansible-inventory`);
  for (const file of which) {
    try {
      const first = readFileSync(file, 'utf8').split('\n', 1)[0]!;
      const m = /^#!\s*(\S+)/.exec(first);
      if (m) return m[1]!.endsWith('/env') ? 'python3' : m[1]!;
    } catch {
      // not here
    }
  }
  return 'python3';
}

/** Runs `mode` on every input in one Python process. */
export function pythonBatch<T = Tagged>(mode: 'literal' | 'shlex' | 'hosts' | 'yaml' | 'json' | 'repr', inputs: string[]): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(ansiblePython(), ['-c', SCRIPT, mode], { maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python ${mode} failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout) as T[]);
    });
    child.stdin!.end(JSON.stringify(inputs));
  });
}

/** Our parse result in the oracle's encoding (`undefined` is "kept as text"). */
export function tag(v: PyValue | undefined): Tagged {
  if (v === undefined) return { t: 'text' };
  if (v === null) return { t: 'none' };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (typeof v === 'bigint') return { t: 'int', v: v.toString() };
  if (typeof v === 'number') return { t: 'float', v: pyFloatRepr(v) };
  if (typeof v === 'string') return { t: 'str', v };
  if (Array.isArray(v)) return { t: 'list', v: v.map(tag) };
  if (v instanceof PyDict) return { t: 'dict', v: v.entries().map(([k, x]) => [tag(k), tag(x)] as [Tagged, Tagged]) };
  if (v instanceof PyBytes) return { t: 'bytes', v: Buffer.from(v.bytes).toString('hex') };
  if (v instanceof PyUnsupported) {
    if (v.what.includes('complex')) return { t: 'complex' };
    if (v.what.includes('Ellipsis')) return { t: 'ellipsis' };
    if (v.what.includes('unsafe')) return { t: 'unsafe' };
    if (v.what.includes('vault')) return { t: 'vault' };
    return { t: 'set' };
  }
  return { t: 'other' };
}
