/**
 * A child process of the start-up benchmark: imports what `harness --help` imports, one module at
 * a time, timing each (a module's time includes the dependencies no earlier module loaded), then
 * lists the CommonJS packages that ended up loaded. Prints one JSON line.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One import and what it cost (ms). */
export interface ImportCost {
  module: string;
  ms: number;
}

/** What the probe reports. */
export interface ProbeResult {
  imports: ImportCost[];
  totalMs: number;
  /** CommonJS packages loaded by the end, with their file counts. */
  cjsPackages: Record<string, number>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const lib = path.resolve(here, '..', 'lib');
const commandsDir = path.join(lib, 'cli', 'commands');
const targets: [string, string][] = [
  ['yargs', 'yargs'],
  ...readdirSync(commandsDir)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f): [string, string] => [`lib/cli/commands/${f}`, pathToFileURL(path.join(commandsDir, f)).href]),
  ['lib/cli/main.js', pathToFileURL(path.join(lib, 'cli', 'main.js')).href],
];
const imports: ImportCost[] = [];
const t0 = performance.now();
for (const [name, spec] of targets) {
  const t = performance.now();
  await import(spec);
  imports.push({ module: name, ms: Math.round((performance.now() - t) * 10) / 10 });
}
const totalMs = performance.now() - t0;
const cache = createRequire(import.meta.url).cache;
const cjsPackages: Record<string, number> = {};
for (const file of Object.keys(cache)) {
  const at = file.lastIndexOf('/node_modules/');
  if (at < 0) continue;
  const rest = file.slice(at + '/node_modules/'.length).split('/');
  const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  cjsPackages[pkg] = (cjsPackages[pkg] ?? 0) + 1;
}
const result: ProbeResult = { imports, totalMs: Math.round(totalMs), cjsPackages };
process.stdout.write(`${JSON.stringify(result)}\n`);
