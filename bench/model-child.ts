/**
 * A child process of the model-scale benchmark (a fresh process, so the first call is what a CLI
 * call pays): times loadScenario (YAML parse, schema, checks, a static lab's inventory read) and
 * formatInventory (yaml, ini, json) on one scenario file, first call and warm repeats.
 * Usage: node dist/bench/model-child.js <scenario.yml> <repeats>; prints one JSON line.
 */
import { performance } from 'node:perf_hooks';

/** Times of one pass (ms). */
export interface ModelPass {
  load: number;
  yaml: number;
  ini: number;
  json: number;
  /** load + yaml (what `harness inventory` and a run's prepare do). */
  total: number;
}

/** What the child reports. */
export interface ModelChildResult {
  importMs: number;
  hosts: number;
  groups: number;
  first: ModelPass;
  warm: ModelPass[];
  /** Peak resident memory of the process (bytes), all passes included. */
  maxRssBytes: number;
}

const [file, repeatsArg] = process.argv.slice(2);
const i0 = performance.now();
const { loadScenario } = await import('../lib/scenario/index.js');
const { formatInventory } = await import('../lib/inventory/index.js');
const importMs = performance.now() - i0;

async function pass(): Promise<{ pass: ModelPass; hosts: number; groups: number }> {
  const t0 = performance.now();
  const scenario = await loadScenario(file!);
  const t1 = performance.now();
  formatInventory(scenario.lab, 'yaml');
  const t2 = performance.now();
  formatInventory(scenario.lab, 'ini');
  const t3 = performance.now();
  formatInventory(scenario.lab, 'json');
  const t4 = performance.now();
  return { pass: { load: t1 - t0, yaml: t2 - t1, ini: t3 - t2, json: t4 - t3, total: t2 - t0 }, hosts: scenario.lab.hosts.length, groups: scenario.lab.groups.length };
}

const first = await pass();
const warm: ModelPass[] = [];
for (let i = 0; i < Number(repeatsArg ?? 5); i++) warm.push((await pass()).pass);
const result: ModelChildResult = { importMs, hosts: first.hosts, groups: first.groups, first: first.pass, warm, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
process.stdout.write(`${JSON.stringify(result)}\n`);
