/**
 * Benchmark 4, checkpoints: a run restored from a checkpoint against a full run of the same
 * scenario, interleaved (full, restored, full, restored, ...), for the local lab (quick and full
 * mode), the demo scenario and the qemu lab (full mode). Each full run gets a fresh copy of the
 * scenario whose first playbook carries a new nonce, so its checkpoint key is new and nothing is
 * restored; the restored runs reuse the first copy. The checkpoints made are deleted at the end
 * with `harness checkpoints delete`.
 */
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { timeCommand } from './proc.js';
import { formatRatio, pairedRatio, summarize, formatMs } from './stats.js';
import { overall, type BenchContext, type BenchResult, type Row } from './result.js';

/** A subject of the benchmark: how to make a copy of its scenario with a nonce. */
interface Subject {
  label: string;
  pairs: number;
  /** Copies the scenario into `dir` with `nonce` in its first playbook; returns the scenario file. */
  copy(dir: string, nonce: string): string;
  /** Why it cannot run here, if so. */
  unavailable?: string;
}

/** What one run left: its wall time, exit code and the timings read from its files. */
interface RunFacts {
  wall: number;
  code: number | null;
  stages: { name: string; status: string; ms?: number; checkpoint?: string }[];
  /** lab_ready → the end of the last restored stage (ms), in a restored run. */
  restoreMs?: number;
  /** The `restored checkpoint ... in Xs` line's figure (ms). */
  restoreLoggedMs?: number;
  /** `checkpoint KEY saved (Xs)` figures of a full run (ms). */
  saveMs: number[];
  keys: string[];
}

/** `134ms`, `1.2s`, `4m 05s` (lib/report formatDuration and the engine's log) to ms. */
function parseDurationText(text: string): number | undefined {
  let m = /^(\d+(?:\.\d+)?)ms$/.exec(text);
  if (m) return Number(m[1]);
  m = /^(\d+(?:\.\d+)?)s$/.exec(text);
  if (m) return Number(m[1]) * 1000;
  m = /^(?:(\d+)h )?(\d+)m (\d+)s$/.exec(text);
  if (m) return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
  return undefined;
}

function readFacts(out: string, log: string, wall: number, code: number | null): RunFacts {
  const journal = JSON.parse(readFileSync(path.join(out, 'journal.json'), 'utf8')) as { stages: { name: string; status: string; started?: string; ended?: string; checkpoint?: string }[] };
  const stages = journal.stages.map((s) => ({
    name: s.name,
    status: s.status,
    ...(s.started && s.ended ? { ms: Date.parse(s.ended) - Date.parse(s.started) } : {}),
    ...(s.checkpoint ? { checkpoint: s.checkpoint } : {}),
  }));
  const facts: RunFacts = { wall, code, stages, saveMs: [], keys: [...new Set(stages.flatMap((s) => (s.checkpoint ? [s.checkpoint] : [])))] };
  let labReady: number | undefined;
  let lastRestored: number | undefined;
  for (const line of readFileSync(path.join(out, 'events.jsonl'), 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { kind: string; time: number; status?: string };
    if (e.kind === 'lab_ready') labReady = e.time;
    if (e.kind === 'stage_end' && e.status === 'restored') lastRestored = e.time;
  }
  if (labReady !== undefined && lastRestored !== undefined) facts.restoreMs = lastRestored - labReady;
  const text = readFileSync(log, 'utf8');
  const restored = /restored checkpoint \S+ .*? in (\S+)$/m.exec(text);
  if (restored) facts.restoreLoggedMs = parseDurationText(restored[1]!);
  for (const m of text.matchAll(/checkpoint (\S+) saved \(([^)]+)\)/g)) {
    const ms = parseDurationText(m[2]!);
    if (ms !== undefined) facts.saveMs.push(ms);
  }
  return facts;
}

function fixtureSubject(root: string, label: string, scenario: string, pairs: number): Subject {
  const fixtures = path.join(root, 'bench', 'fixtures');
  return {
    label,
    pairs,
    copy(dir, nonce) {
      mkdirSync(dir, { recursive: true });
      for (const f of [scenario, 'ckpt-base.yml', 'ckpt-check.yml']) cpSync(path.join(fixtures, f), path.join(dir, f));
      appendFileSync(path.join(dir, 'ckpt-base.yml'), `# bench nonce ${nonce}\n`);
      return path.join(dir, scenario);
    },
  };
}

function demoSubject(root: string, pairs: number): Subject {
  return {
    label: 'demo scenario (local lab, 3 hosts, 8 stages)',
    pairs,
    copy(dir, nonce) {
      mkdirSync(path.join(dir, 'scenarios'), { recursive: true });
      cpSync(path.join(root, 'scenarios', 'demo.yml'), path.join(dir, 'scenarios', 'demo.yml'));
      cpSync(path.join(root, 'playbooks'), path.join(dir, 'playbooks'), { recursive: true });
      appendFileSync(path.join(dir, 'playbooks', 'prepare.yml'), `# bench nonce ${nonce}\n`);
      return path.join(dir, 'scenarios', 'demo.yml');
    },
  };
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, program)));
}

/** Runs the checkpoint benchmark; see the module comment. */
export async function benchCheckpoints(ctx: BenchContext): Promise<BenchResult> {
  const t0 = performance.now();
  const harness = path.join(ctx.root, 'bin', 'harness');
  const env = { ...process.env, DEMO_ADMIN_PASSWORD: `bench-${randomBytes(12).toString('hex')}` };
  const subjects: Subject[] = [fixtureSubject(ctx.root, 'local lab (2 hosts, 2 stages)', 'ckpt-local.scenario.yml', ctx.quick ? 2 : 4)];
  if (!ctx.quick) {
    subjects.push(demoSubject(ctx.root, 2));
    const qemu = fixtureSubject(ctx.root, 'qemu lab (1 VM, 2 stages)', 'ckpt-qemu.scenario.yml', 2);
    if (!onPath('qemu-system-x86_64')) qemu.unavailable = 'qemu-system-x86_64 is not installed';
    subjects.push(qemu);
  }
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const notes: string[] = [];
  const keys = new Set<string>();
  let n = 0;
  const run = async (file: string, tag: string): Promise<RunFacts> => {
    const out = path.join(ctx.tmp, `run-${++n}-${tag}`);
    const log = `${out}.log`;
    const t = await timeCommand(process.execPath, [harness, 'run', file, '--out', out], { env, outputFile: log, signal: ctx.signal, timeoutMs: 1_800_000 });
    if (!existsSync(path.join(out, 'journal.json'))) throw new Error(`bench: harness run ${file} left no journal (exit ${t.code ?? t.signal}); see ${log}`);
    const facts = readFacts(out, log, t.ms, t.code);
    for (const k of facts.keys) keys.add(k);
    return facts;
  };
  if (ctx.quick) notes.push('Quick mode measures the local lab only; the full mode adds the demo scenario and the qemu lab.');
  try {
    for (const s of subjects) {
      if (s.unavailable) {
        rows.push({ what: `${s.label}: restored run vs full run`, figure: `not measured yet: ${s.unavailable}`, goal: 'restore faster than the stages it replaces', verdict: 'not measured' });
        continue;
      }
      const primed = s.copy(path.join(ctx.tmp, `${s.label.split(' ')[0]}-primed`), randomBytes(8).toString('hex'));
      const full: RunFacts[] = [];
      const restored: RunFacts[] = [];
      try {
        for (let i = 0; i < s.pairs; i++) {
          const file = i === 0 ? primed : s.copy(path.join(ctx.tmp, `${s.label.split(' ')[0]}-full-${i}`), randomBytes(8).toString('hex'));
          ctx.log(`checkpoints: ${s.label}: pair ${i + 1}/${s.pairs}: full run`);
          full.push(await run(file, 'full'));
          ctx.log(`checkpoints: ${s.label}: pair ${i + 1}/${s.pairs}: restored run`);
          restored.push(await run(primed, 'restored'));
        }
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        const why = (err as Error).message.split('\n')[0]!;
        rows.push({ what: `${s.label}: restored run vs full run`, figure: `not measured: ${why}`, goal: 'restore faster than the stages it replaces', verdict: 'not measured' });
        data[s.label] = { full, restored, error: why };
        continue;
      }
      data[s.label] = { full, restored };
      const restoredNames = new Set(restored.flatMap((r) => r.stages.filter((x) => x.status === 'restored').map((x) => x.name)));
      if (!restored.every((r) => r.stages.some((x) => x.status === 'restored')) || full.some((r) => r.stages.some((x) => x.status === 'restored'))) {
        rows.push({
          what: `${s.label}: restored run vs full run`,
          figure: 'not measured yet: the second run restored no stage (or a full run restored one); see the raw figures',
          goal: 'restore faster than the stages it replaces',
          verdict: 'not measured',
        });
        continue;
      }
      const replaced = full.map((r) => r.stages.filter((x) => restoredNames.has(x.name)).reduce((sum, x) => sum + (x.ms ?? 0), 0));
      const restoreMs = restored.map((r) => r.restoreMs ?? NaN);
      const share = pairedRatio(restoreMs, replaced);
      rows.push({
        what: `${s.label}: restore (lab ready → restored) vs the stages it replaces (${[...restoredNames].join(', ')}) in the full run`,
        figure: `${formatMs(summarize(restoreMs))} vs ${formatMs(summarize(replaced))}: ratio ${formatRatio(share, 4)}`,
        goal: 'restore faster than the stages it replaces',
        verdict: share.median < 1 ? 'met' : 'missed',
      });
      rows.push({ what: `${s.label}: whole run, restored / full`, figure: `${formatRatio(pairedRatio(restored.map((r) => r.wall), full.map((r) => r.wall)))}; full ${formatMs(summarize(full.map((r) => r.wall)))}, restored ${formatMs(summarize(restored.map((r) => r.wall)))}` });
      const saves = full.flatMap((r) => r.saveMs);
      if (saves.length) rows.push({ what: `${s.label}: checkpoint save, as the engine logs it (in the full runs)`, figure: formatMs(summarize(saves)) });
      const logged = restored.flatMap((r) => (r.restoreLoggedMs !== undefined ? [r.restoreLoggedMs] : []));
      if (logged.length) rows.push({ what: `${s.label}: provider restore alone, as the engine logs it`, figure: formatMs(summarize(logged)) });
      const codes = [...full, ...restored].map((r) => r.code);
      if (codes.some((c) => c !== 0)) notes.push(`${s.label}: exit codes of the runs ${codes.join(', ')} (a failed later stage does not change the restore figures).`);
    }
  } finally {
    for (const key of keys) {
      const t = await timeCommand(process.execPath, [harness, 'checkpoints', 'delete', key], { env });
      if (t.code !== 0) notes.push(`could not delete checkpoint ${key} after the benchmark (exit ${t.code}); remove it with \`harness checkpoints delete ${key}\``);
    }
  }
  notes.push(
    'Full run: `harness run` on a fresh copy of the scenario (a nonce in its first playbook makes every checkpoint key new), so every stage runs and the checkpointed ones are saved. ' +
      'Restored run: `harness run` on the first copy, whose checkpoint exists. Restore = from lab_ready to the last restored stage_end in events.jsonl.',
  );
  return { id: 'checkpoints', title: 'Checkpoints: restored run vs full run', verdict: overall(rows), rows, notes, data, seconds: (performance.now() - t0) / 1000 };
}
