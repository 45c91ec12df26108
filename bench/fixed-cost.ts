/**
 * The fixed cost of `harness run` that the findAnsible cache removes, interleaved: the same small
 * run (scenarios/smoke-static.yml, 3 local hosts) with a warm cache folder (the answer cached)
 * and with an empty one (ansible-playbook --version runs), A, B, A, B, ...; quoted as the median
 * of the paired differences of spawn → stage start and of the wall time; plus `ansible-playbook
 * --version` alone. Usage: node dist/bench/fixed-cost.js [pairs=6]; prints one JSON line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timeCommand } from './proc.js';
import { summarize } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pairs = Number(process.argv[2] ?? 6);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'harness-fixed-cost-'));
const scenario = path.join(ROOT, 'scenarios', 'smoke-static.yml');
const warm = path.join(tmp, 'warm-cache');

async function harnessRun(cacheHome: string, out: string): Promise<{ wall: number; toStage: number }> {
  const t = await timeCommand(process.execPath, [path.join(ROOT, 'bin', 'harness'), 'run', scenario, '--out', out], { env: { ...process.env, XDG_CACHE_HOME: cacheHome }, outputFile: `${out}.log` });
  if (t.code !== 0) throw new Error(`harness run exited ${t.code ?? t.signal}; see ${out}.log`);
  const journal = JSON.parse(readFileSync(path.join(out, 'journal.json'), 'utf8')) as { stages: { started: string }[] };
  return { wall: t.ms, toStage: Date.parse(journal.stages[0]!.started) - t.startedAt };
}

try {
  await harnessRun(warm, path.join(tmp, 'prime')); // fills the warm cache
  const hit: { wall: number; toStage: number }[] = [];
  const miss: { wall: number; toStage: number }[] = [];
  const version: number[] = [];
  for (let i = 0; i < pairs; i++) {
    hit.push(await harnessRun(warm, path.join(tmp, `hit-${i}`)));
    miss.push(await harnessRun(path.join(tmp, `cold-${i}`), path.join(tmp, `miss-${i}`)));
    version.push((await timeCommand('ansible-playbook', ['--version'], { outputFile: path.join(tmp, 'version.txt') })).ms);
  }
  const diff = (k: 'wall' | 'toStage') => summarize(miss.map((m, i) => m[k] - hit[i]![k]));
  const load = os.loadavg().map((x) => Number(x.toFixed(2)));
  process.stdout.write(
    `${JSON.stringify({ date: new Date().toISOString(), pairs, loadAtEnd: load, savedToStageMs: diff('toStage'), savedWallMs: diff('wall'), hitToStageMs: summarize(hit.map((h) => h.toStage)), missToStageMs: summarize(miss.map((m) => m.toStage)), hitWallMs: summarize(hit.map((h) => h.wall)), missWallMs: summarize(miss.map((m) => m.wall)), versionMs: summarize(version) })}\n`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
