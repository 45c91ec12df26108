// The benchmark's own pieces: statistics, the synthetic event stream (real wire shape), the
// 10,000-host inputs, and the BENCHMARKS.md block rewrite. No timing is asserted here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEventLine } from '../lib/ansible/events.js';
import { readInventory } from '../lib/inventory/index.js';
import { loadScenario } from '../lib/scenario/index.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { median, pairedRatio, quantile, summarize } from '../bench/stats.js';
import { hostName, readTemplates, writeStream } from '../bench/synthetic.js';
import { declaredScenario, staticInventory } from '../bench/model.js';
import { updateBenchmarksMd } from '../bench/markdown.js';
import type { BenchRun } from '../bench/run.js';

const RECORDING = path.join(PACKAGE_ROOT, 'bench', 'fixtures', 'recorded-2hosts.jsonl');
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));

test('stats: quantiles interpolate, paired ratios pair by index', () => {
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 2, 3]), 2.5);
  assert.is(quantile([0, 10], 0.25), 2.5);
  assert.ok(Number.isNaN(median([])));
  const r = pairedRatio([2, 3, 12], [1, 3, 4]);
  assert.equal([r.min, r.median, r.max, r.n], [1, 2, 3, 3]);
  assert.equal(summarize([5]).p75, 5);
});

test('synthetic stream: every line parses to the kind and fields of the recorded line it copies', () => {
  const dir = tmp();
  try {
    const recorded = readFileSync(RECORDING, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const keysOf = new Map<string, string>();
    const keyOf = (o: Record<string, unknown>): string => `${o.event}:${String(o.task ?? '').replace(/ #\d+$/, '')}:${o.item ?? ''}`;
    for (const o of recorded) keysOf.set(keyOf(o), Object.keys(o).sort().join(','));
    const out = writeStream(readTemplates(RECORDING), dir, { events: 5000, hosts: 7, stages: 2 });
    assert.is(out.files.length, 2);
    assert.ok(Math.abs(out.events - 5000) < 200, `about 5000 events, got ${out.events}`);
    let parsed = 0;
    const hosts = new Set<string>();
    const taskIds = new Set<string>();
    for (const file of out.files) {
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
        const raw = JSON.parse(line) as Record<string, unknown>;
        const key = keyOf(raw);
        if (raw.event !== 'stats') assert.is(Object.keys(raw).sort().join(','), keysOf.get(key), `fields of ${key}`);
        const e = parseEventLine(line, { stage: 's', attempt: 1 });
        assert.ok(e, `parses: ${line.slice(0, 120)}`);
        parsed++;
        if (e.kind === 'host_result') hosts.add(e.host);
        if (e.kind === 'task_start') taskIds.add(e.taskId);
        if (e.kind === 'stats') assert.is(Object.keys(e.hosts).length, 7);
      }
    }
    assert.is(parsed, out.events);
    assert.equal([...hosts].sort(), Array.from({ length: 7 }, (_, i) => hostName(i)));
    assert.is(taskIds.size, out.tasks, 'every task instance has its own id');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model inputs: the declared scenario and the INI ranges each make 10,000 hosts', async () => {
  const dir = tmp();
  try {
    const playbook = path.join(dir, 'site.yml');
    writeFileSync(playbook, '- hosts: all\n  tasks: []\n');
    const file = path.join(dir, 'declared.yml');
    writeFileSync(file, declaredScenario(playbook));
    const scenario = await loadScenario(file);
    assert.is(scenario.lab.hosts.length, 10_000);
    assert.ok(scenario.lab.groups.some((g) => g.name === 'region_9' && g.children.length === 10));
    const ini = path.join(dir, 'lab.ini');
    writeFileSync(ini, staticInventory());
    const lab = await readInventory(ini);
    assert.is(lab.hosts.length, 10_000);
    assert.ok(lab.hosts.some((h) => h.name === 'db-j-199'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BENCHMARKS.md: the generated block is replaced, the text around it kept', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'BENCHMARKS.md');
    const run = (title: string): BenchRun => ({
      date: '2026-01-01T00:00:00.000Z',
      mode: 'quick',
      machine: { cpuModel: 'cpu', cores: 2, memoryGiB: 4, kernel: 'k', os: 'os', node: 'v20', ansibleCore: '2.14', python: '3.11', loadAtStart: [0, 0, 0] },
      loadAtEnd: [0, 0, 0],
      seconds: 1,
      results: [{ id: 'x', title, verdict: 'met', rows: [{ what: 'a | b', figure: '1', goal: '<= 2', verdict: 'met' }], notes: [], data: {}, seconds: 1 }],
    });
    await updateBenchmarksMd(file, run('first'), 'r.json');
    writeFileSync(file, `# Mine\n\nbefore\n\n${readFileSync(file, 'utf8').split('\n').slice(2).join('\n')}\nafter\n`);
    await updateBenchmarksMd(file, run('second'), 'r.json');
    const text = readFileSync(file, 'utf8');
    assert.ok(text.startsWith('# Mine\n\nbefore\n'));
    assert.ok(text.trimEnd().endsWith('after'));
    assert.ok(text.includes('### second') && !text.includes('### first'));
    assert.ok(text.includes('a \\| b'), 'pipes in cells are escaped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
