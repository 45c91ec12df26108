#!/usr/bin/env node
// Finds import cycles among the TypeScript modules under a folder (type-only imports included):
// every `import ... from '...'`, `export ... from '...'`, `import('...')` and `import '...'` of a
// relative path is an edge. Checks files, then rooms (each top folder, and each top-level file,
// is one room: `engine -> bundle -> engine` is a cycle even when no two files form one).
// Prints each cycle found as `a.ts -> b.ts -> a.ts` and exits 1 if any.
// Usage: node scripts/import-cycles.mjs [folder]   (default: lib)
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every .ts file under `dir`, as absolute paths. */
function tsFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const SPECIFIER = /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative module specifiers of a source text (comments removed first). */
export function importsOf(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out = [];
  for (const m of code.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2];
    if (spec && spec.startsWith('.')) out.push(spec);
  }
  return out;
}

/** The .ts file a relative specifier (`./x.js`, `./dir/index.js`) names, if it is under the tree. */
function resolve(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(c) && statSync(c).isFile()) return c;
  }
  return undefined;
}

/** The import graph of the tree under `root`: file -> files it imports. */
export function importGraph(root) {
  const graph = new Map();
  for (const file of tsFiles(root)) {
    const deps = new Set();
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = resolve(file, spec);
      if (to && to.startsWith(root + path.sep)) deps.add(to);
    }
    graph.set(file, [...deps].sort());
  }
  return graph;
}

/** The strongly connected components of more than one file (or a file importing itself), each as one cycle path. */
export function findCycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const comps = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) comps.push(comp);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  // One concrete cycle per component: a shortest path back to its first file.
  return comps.map((comp) => {
    const inComp = new Set(comp);
    const start = comp.sort()[0];
    const prev = new Map([[start, undefined]]);
    const queue = [start];
    while (queue.length) {
      const v = queue.shift();
      for (const w of graph.get(v) ?? []) {
        if (!inComp.has(w)) continue;
        if (w === start) {
          const pathBack = [start];
          for (let x = v; x !== undefined && x !== start; x = prev.get(x)) pathBack.splice(1, 0, x);
          return [...pathBack, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

/** The graph of rooms: a file's room is its first folder under `root` (or the file itself at the top). */
export function roomGraph(root, graph) {
  const room = (f) => path.relative(root, f).split(path.sep)[0];
  const rooms = new Map();
  for (const [file, deps] of graph) {
    const from = room(file);
    const set = rooms.get(from) ?? new Set();
    for (const d of deps) if (room(d) !== from) set.add(room(d));
    rooms.set(from, set);
  }
  return new Map([...rooms].map(([k, v]) => [k, [...v].sort()]));
}

/** Every cycle under `root`, files first, then rooms, each as a list of names relative to `root`'s parent (rooms: to `root`). */
export function cyclesUnder(root) {
  const graph = importGraph(root);
  const files = findCycles(graph).map((c) => c.map((f) => path.relative(path.dirname(root), f)));
  const rooms = findCycles(roomGraph(root, graph)).map((c) => c.map((r) => `${r} (room)`));
  return [...files, ...rooms];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? 'lib');
  const cycles = cyclesUnder(root);
  for (const c of cycles) console.log(c.join(' -> '));
  console.log(cycles.length ? `${cycles.length} import cycle(s) under ${path.relative(process.cwd(), root) || '.'}` : 'no import cycles');
  process.exit(cycles.length ? 1 : 0);
}
