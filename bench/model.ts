/**
 * Benchmark 3, scale of the model: load + validate a 10,000- and a 100,000-host lab and generate
 * its inventory, for a scenario declaring the hosts in groups and for a static INI inventory whose
 * ranges total as many, each in a fresh node process (first call, then warm repeats); plus
 * `harness inventory` end to end. Goals (first call, load + validate + yaml): <= 500 ms at
 * 10,000 hosts; <= 3 s and <= 1 GiB peak memory at 100,000.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeJson, timeCommand } from './proc.js';
import { formatMs, summarize } from './stats.js';
import type { ModelChildResult, ModelPass } from './model-child.js';
import { overall, type BenchContext, type BenchResult, type Row } from './result.js';

const GOAL_MS = 500;
const HOSTS = 10_000;

/** A scenario declaring `hosts` hosts: groups of 100 (100 of them for 10,000) under 10 parent groups, vars on every tenth host and on groups. */
export function declaredScenario(playbook: string, hosts = HOSTS): string {
  const lines = [`name: bench-${hosts / 1000}k-declared`, `description: ${hosts.toLocaleString('en')} declared hosts in groups`, 'lab:', '  provider: local', '  hosts:'];
  const groupCount = Math.ceil(hosts / 100);
  const perRegion = Math.ceil(groupCount / 10);
  const width = hosts > 99_999 ? 6 : 5;
  for (let i = 0; i < hosts; i++) {
    const group = `g${String(Math.floor(i / 100)).padStart(3, '0')}`;
    const role = i % 2 ? 'compute' : 'storage';
    const vars = i % 10 === 0 ? `, vars: { rack: ${i % 40}, zone: "z${i % 3}" }` : '';
    lines.push(`    node-${String(i).padStart(width, '0')}: { groups: [${group}, ${role}]${vars} }`);
  }
  lines.push('  groups:');
  for (let r = 0; r < 10; r++) {
    const children = Array.from({ length: perRegion }, (_, k) => r * perRegion + k)
      .filter((g) => g < groupCount)
      .map((g) => `g${String(g).padStart(3, '0')}`);
    lines.push(`    region_${r}: { children: [${children.join(', ')}], vars: { region_id: ${r} } }`);
  }
  lines.push('    all_regions: { children: [' + Array.from({ length: 10 }, (_, r) => `region_${r}`).join(', ') + '] }');
  lines.push('vars: { release: "1.0" }', 'stages:', '  - name: deploy', `    playbook: ${playbook}`, '    hosts: [compute, storage]', '  - name: test', `    playbook: ${playbook}`, '    hosts: [region_0]');
  return `${lines.join('\n')}\n`;
}

/** A static INI inventory whose host ranges total `hosts` (10,000 or 100,000), with children and group vars. */
export function staticInventory(hosts = HOSTS): string {
  const big = hosts === 100_000;
  if (!big && hosts !== HOSTS) throw new Error(`bench: no static inventory of ${hosts} hosts`);
  return [
    big ? '# 100,000 hosts from ranges: 40000 + 10 x 2000 + 40000' : '# 10,000 hosts from ranges: 4000 + 10 x 200 + 4000',
    '[web]',
    big ? 'web-[00000:39999].example.com ansible_user=deploy' : 'web-[0000:3999].example.com ansible_user=deploy',
    '[db]',
    big ? 'db-[a:j]-[0000:1999] ansible_port=2222' : 'db-[a:j]-[000:199] ansible_port=2222',
    '[app]',
    big ? 'app-[00000:39999] role=app' : 'app-[0000:3999] role=app',
    '[frontend:children]',
    'web',
    'app',
    '[frontend:vars]',
    'tier=front',
    '[all:vars]',
    'ansible_connection=ssh',
    '',
  ].join('\n');
}

function staticScenario(inventory: string, playbook: string): string {
  return ['name: bench-10k-static', 'description: 10,000 hosts from an INI inventory with ranges', 'lab:', '  provider: static', `  inventory: ${inventory}`, 'stages:', '  - name: deploy', `    playbook: ${playbook}`, '    hosts: [frontend]', ''].join('\n');
}

const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

/** The sizes measured, with their goals (first call, load + validate + YAML; peak memory for the big one). */
const SIZES: { hosts: number; goalMs: number; goalRssBytes?: number }[] = [
  { hosts: HOSTS, goalMs: GOAL_MS },
  { hosts: 100_000, goalMs: 3000, goalRssBytes: 2 ** 30 },
];

/** Runs the model-scale benchmark; see the module comment. */
export async function benchModel(ctx: BenchContext): Promise<BenchResult> {
  const t0 = performance.now();
  const playbook = path.join(ctx.tmp, 'site.yml');
  writeFileSync(playbook, '- hosts: all\n  gather_facts: false\n  tasks: []\n');
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  for (const size of SIZES) {
    const n = size.hosts.toLocaleString('en');
    const k = `${size.hosts / 1000}k`;
    const declared = path.join(ctx.tmp, `declared-${k}.yml`);
    writeFileSync(declared, declaredScenario(playbook, size.hosts));
    const ini = path.join(ctx.tmp, `static-${k}.ini`);
    writeFileSync(ini, staticInventory(size.hosts));
    const stat = path.join(ctx.tmp, `static-${k}.yml`);
    writeFileSync(stat, staticScenario(ini, playbook));
    const big = size.hosts > HOSTS;
    const repeats = big ? (ctx.quick ? 1 : 2) : ctx.quick ? 3 : 10;
    const children = ctx.quick ? 1 : 3;
    for (const [label, file] of [
      [`scenario with ${n} declared hosts`, declared],
      [`static INI inventory, ranges totalling ${n}`, stat],
    ] as const) {
      const runs: ModelChildResult[] = [];
      for (let i = 0; i < children; i++) {
        ctx.log(`model: ${label} (process ${i + 1}/${children})`);
        runs.push(await nodeJson<ModelChildResult>(path.join(ctx.root, 'dist', 'bench', 'model-child.js'), [file, String(repeats)], { signal: ctx.signal }));
      }
      if (runs[0]!.hosts !== size.hosts) throw new Error(`bench: ${file} gave ${runs[0]!.hosts} hosts, not ${size.hosts}`);
      const firsts = (key: keyof ModelPass) => summarize(runs.map((r) => r.first[key]));
      const warms = (key: keyof ModelPass) => summarize(runs.flatMap((r) => r.warm.map((w) => w[key])));
      const firstTotal = firsts('total');
      rows.push({ what: `${label}: load + validate + generate YAML, first call in a fresh process`, figure: formatMs(firstTotal), goal: `<= ${size.goalMs} ms`, verdict: firstTotal.median <= size.goalMs ? 'met' : 'missed' });
      rows.push({
        what: `${label}: first call, by part`,
        figure: `load+validate ${fmt(firsts('load').median)}, yaml ${fmt(firsts('yaml').median)}, ini ${fmt(firsts('ini').median)}, json ${fmt(firsts('json').median)}`,
      });
      if (size.goalRssBytes) {
        const rss = summarize(runs.map((r) => r.maxRssBytes / 2 ** 20));
        const goal = size.goalRssBytes / 2 ** 20;
        rows.push({ what: `${label}: peak memory of the process (first call and ${repeats} warm, yaml + ini + json each)`, figure: `${rss.median.toFixed(0)} MiB (${rss.min.toFixed(0)}–${rss.max.toFixed(0)})`, goal: `<= ${goal} MiB`, verdict: rss.median <= goal ? 'met' : 'missed' });
      }
      rows.push({
        what: `${label}: warm (median of ${repeats * children})`,
        figure: `load+validate ${fmt(warms('load').median)}, yaml ${fmt(warms('yaml').median)}, ini ${fmt(warms('ini').median)}, json ${fmt(warms('json').median)}`,
      });
      const cli: number[] = [];
      for (let i = 0; i < children; i++) {
        const t = await timeCommand(process.execPath, [path.join(ctx.root, 'bin', 'harness'), 'inventory', file, '--format', 'yaml'], { signal: ctx.signal });
        if (t.code !== 0) throw new Error(`bench: harness inventory ${file} exited ${t.code ?? t.signal}`);
        cli.push(t.ms);
      }
      rows.push({ what: `${label}: \`harness inventory --format yaml\` end to end (node start-up included)`, figure: formatMs(summarize(cli)) });
      data[label] = { runs, cliMs: cli, importMs: runs.map((r) => r.importMs), groups: runs[0]!.groups };
    }
  }
  const notes = [
    'Declared: 10,000 hosts under lab.hosts in 100 groups of 100 (plus compute/storage), 10 parent groups with children and vars, vars on every tenth host; provider local (nothing allocated). 100,000: the same with 1,000 groups of 100.',
    'Static: `web-[0000:3999].example.com`, `db-[a:j]-[000:199]`, `app-[0000:3999]` with host vars, a children group and group vars (100,000: ranges ten times as long). ' +
      'First call = loadScenario + formatInventory in a fresh node process after the modules are imported (import time is in the raw figures).',
  ];
  return { id: 'model', title: 'Scale of the model: 10,000- and 100,000-host labs', verdict: overall(rows), rows, notes, data, seconds: (performance.now() - t0) / 1000 };
}
