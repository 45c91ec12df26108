/**
 * Benchmark 6, the pipelines tree: seeds/000 "case B" (check-1 lint; check-2 undercloud; check-3
 * images extends 2; check-4 overcloud extends 3; check-5 undercloud upgrade extends 2; check-6
 * overcloud upgrade extends 4) as one tree scenario run with `--jobs 1` and `--jobs 2`, against
 * the six checks as six linear scenarios (each its whole path, from a fresh lab, as a CI job that
 * reuses nothing does) run one after another. Each node is a real playbook on a real local lab
 * (one sshd host on loopback) that sleeps a fixed time, so the critical path is known:
 * the sum of the node times on the longest path.
 *
 * Figures: stage executions per side (the tree's goal: one per distinct node), wall time of each
 * side, and `--jobs 2` wall against the critical path measured in that run (its nodes' own
 * durations from the journal, along the longest path). Goal: within 1.2x.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { timeCommand } from './proc.js';
import { overall, type BenchContext, type BenchResult, type Row } from './result.js';

/** The case-B nodes: name, parent, seconds it sleeps (full mode; quick mode halves them). */
const NODES: [name: string, parent: string | undefined, seconds: number][] = [
  ['lint', undefined, 1],
  ['undercloud', 'lint', 4],
  ['images', 'undercloud', 3],
  ['overcloud', 'images', 4],
  ['upgrade-undercloud', 'undercloud', 6],
  ['upgrade-overcloud', 'overcloud', 3],
];

const PLAYBOOK = `- name: A case-B node
  hosts: all
  gather_facts: false
  tasks:
    - name: Work for a while
      ansible.builtin.command: "sleep {{ node_seconds }}"
    - name: Leave a mark
      ansible.builtin.copy: { content: "{{ harness_stage }}\\n", dest: "{{ harness_host_root }}/{{ harness_stage }}.done" }
`;

const LAB = 'lab:\n  provider: local\n  hosts:\n    h1: {}\n';

function stageLine(name: string, seconds: number, extendsName?: string): string {
  return `  - { name: ${name}, playbook: node.yml, vars: { node_seconds: ${seconds} }${extendsName ? `, extends: ${extendsName}` : ''} }\n`;
}

/** The path from the root to `name`. */
function pathOf(name: string): string[] {
  const out: string[] = [];
  for (let n: string | undefined = name; n; n = NODES.find((x) => x[0] === n)![1]) out.unshift(n);
  return out;
}

/** Writes the tree scenario and the six linear ones into `dir`. */
function writeScenarios(dir: string, scale: number): { tree: string; linear: string[] } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'node.yml'), PLAYBOOK);
  const secs = (n: string): number => NODES.find((x) => x[0] === n)![2] * scale;
  let tree = `name: case-b\n${LAB}stages:\n`;
  NODES.forEach(([name, parent], i) => {
    const listedBefore = i > 0 ? NODES[i - 1]![0] : undefined;
    tree += stageLine(name, secs(name), parent !== listedBefore ? parent : undefined);
  });
  writeFileSync(path.join(dir, 'tree.yml'), tree);
  const linear = NODES.map(([name], i) => {
    const file = path.join(dir, `check-${i + 1}.yml`);
    writeFileSync(file, `name: check-${i + 1}\n${LAB}stages:\n${pathOf(name).map((n) => stageLine(n, secs(n))).join('')}`);
    return file;
  });
  return { tree: path.join(dir, 'tree.yml'), linear };
}

interface Journal {
  stages: { name: string; status: string; started?: string; ended?: string }[];
}

function readJournal(runDir: string): Journal {
  return JSON.parse(readFileSync(path.join(runDir, 'journal.json'), 'utf8')) as Journal;
}

const executed = (j: Journal): number => j.stages.filter((s) => s.status === 'passed' || s.status === 'failed' || s.status === 'error').length;

/** The critical path of a tree run: the longest root-to-leaf sum of its nodes' own durations (ms). */
function criticalPath(j: Journal): number {
  const ms = (n: string): number => {
    const s = j.stages.find((x) => x.name === n);
    return s?.started && s.ended ? Date.parse(s.ended) - Date.parse(s.started) : 0;
  };
  const leaves = NODES.filter(([n]) => !NODES.some((x) => x[1] === n)).map(([n]) => n);
  return Math.max(...leaves.map((leaf) => pathOf(leaf).reduce((sum, n) => sum + ms(n), 0)));
}

export async function benchTree(ctx: BenchContext): Promise<BenchResult> {
  const t0 = Date.now();
  const scale = ctx.quick ? 0.5 : 1;
  const dir = path.join(ctx.tmp, 'tree');
  const { tree, linear } = writeScenarios(dir, scale);
  const harness = path.join(ctx.root, 'bin', 'harness');
  // Each side gets a cache of its own: nothing is restored from an earlier side or bench run.
  const env = (name: string): NodeJS.ProcessEnv => ({ ...process.env, XDG_CACHE_HOME: path.join(ctx.tmp, `cache-${name}`) });
  const run = async (label: string, file: string, args: string[], cache: string) => {
    const out = path.join(dir, `run-${label}`);
    const r = await timeCommand(process.execPath, [harness, 'run', file, '--out', out, '--no-bundle', ...args], { env: env(cache), outputFile: path.join(dir, `${label}.log`), signal: ctx.signal });
    if (r.code !== 0) throw new Error(`bench tree: ${label} exited ${r.code ?? r.signal}; see ${path.join(dir, `${label}.log`)}`);
    return { ms: r.ms, journal: readJournal(out) };
  };

  ctx.log('bench tree: the tree with --jobs 1');
  const j1 = await run('tree-jobs1', tree, ['--jobs', '1'], 'j1');
  ctx.log('bench tree: the tree with --jobs 2');
  const j2 = await run('tree-jobs2', tree, ['--jobs', '2'], 'j2');
  ctx.log('bench tree: six linear scenarios, one after another');
  let linearMs = 0;
  let linearExec = 0;
  for (const [i, f] of linear.entries()) {
    const r = await run(`check-${i + 1}`, f, ['--no-checkpoints'], `linear-${i + 1}`);
    linearMs += r.ms;
    linearExec += executed(r.journal);
  }
  const cp = criticalPath(j2.journal);
  const ratio = j2.ms / cp;
  const sleepCp = Math.max(...NODES.filter(([n]) => !NODES.some((x) => x[1] === n)).map(([n]) => pathOf(n).reduce((s, x) => s + NODES.find((y) => y[0] === x)![2] * scale * 1000, 0)));
  const rows: Row[] = [
    { what: 'stage executions: tree --jobs 1 / --jobs 2 / six linear scenarios', figure: `${executed(j1.journal)} / ${executed(j2.journal)} / ${linearExec}`, goal: `= ${NODES.length} distinct nodes for the tree`, verdict: executed(j1.journal) === NODES.length && executed(j2.journal) === NODES.length ? 'met' : 'missed' },
    { what: 'wall time: tree --jobs 1 / --jobs 2 / six linear scenarios', figure: `${(j1.ms / 1000).toFixed(1)} s / ${(j2.ms / 1000).toFixed(1)} s / ${(linearMs / 1000).toFixed(1)} s` },
    { what: `tree --jobs 2 wall / its critical path (${(cp / 1000).toFixed(1)} s of node time; ${(sleepCp / 1000).toFixed(1)} s of it sleeps)`, figure: ratio.toFixed(2), goal: '<= 1.2', verdict: ratio <= 1.2 ? 'met' : 'missed' },
  ];
  return {
    id: 'tree',
    title: 'Pipelines: the seeds/000 case-B tree against six linear scenarios',
    verdict: overall(rows),
    rows,
    notes: [
      'Each node is a real playbook that sleeps a fixed time on a one-host local lab (sshd on loopback); the linear side runs each check as its whole path on a fresh lab with --no-checkpoints, as a CI job that reuses nothing does.',
      'The critical path is read from the --jobs 2 run itself: the longest root-to-leaf sum of its nodes\' own durations (journal started/ended), so the ratio charges the harness for lab allocation, checkpoint saves and restores, and scheduling.',
      'Each side has a cache of its own: nothing is restored across sides or from earlier bench runs.',
    ],
    data: { scale, treeJobs1Ms: j1.ms, treeJobs2Ms: j2.ms, linearMs, linearExec, criticalPathMs: cp, stagesJobs2: j2.journal.stages },
    seconds: (Date.now() - t0) / 1000,
  };
}
