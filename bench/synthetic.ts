/**
 * A synthetic stream of callback events, scaled up from a real recording: the lines our plugin
 * wrote for bench/fixtures/overhead.yml on one host are the templates (exact wire shape, Python's
 * json.dumps spacing), repeated for many hosts, tasks and stages with fresh host names, task ids,
 * task names and times.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/** How big a stream to make. */
export interface StreamPlan {
  /** Callback events in all (the total is this, to within one task's block). */
  events: number;
  hosts: number;
  /** One file per stage (each would be one ansible-playbook run). */
  stages: number;
}

/** What was written. */
export interface StreamFiles {
  files: string[];
  events: number;
  hostResults: number;
  tasks: number;
  bytes: number;
}

interface TaskTemplate {
  name: string;
  start: string;
  results: string[];
}

interface Templates {
  playbook: string;
  play: string;
  tasks: TaskTemplate[];
  hostStats: string;
}

const HOST = '\u0001H\u0001';
const TID = '\u0001I\u0001';
const TASK = '\u0001T\u0001';
const TIME = '\u0001M\u0001';

/** Reads the templates from a recording of overhead.yml (`host` is the host whose lines are kept). */
export function readTemplates(recording: string, host = 'bench-01'): Templates {
  const lines = readFileSync(recording, 'utf8').split('\n').filter(Boolean);
  let playbook = '';
  let play = '';
  let hostStats = '';
  const tasks: TaskTemplate[] = [];
  const byId = new Map<string, TaskTemplate>();
  const generic = (line: string, o: { task_id?: string; task?: string; time: number }): string => {
    let t = line.replace(`"time": ${o.time}`, `"time": ${TIME}`).replaceAll(host, HOST);
    if (o.task_id) t = t.replaceAll(o.task_id, TID);
    if (o.task) t = t.replaceAll(`"task": ${JSON.stringify(o.task)}`, `"task": ${TASK}`);
    return t;
  };
  for (const line of lines) {
    const o = JSON.parse(line) as { event: string; time: number; task_id?: string; task?: string; host?: string; hosts?: Record<string, unknown> };
    if (o.event === 'playbook_start') playbook = generic(line, o);
    else if (o.event === 'play_start') play = generic(line, o);
    else if (o.event === 'task_start') {
      const t: TaskTemplate = { name: o.task ?? 'task', start: generic(line, o), results: [] };
      byId.set(o.task_id!, t);
      tasks.push(t);
    } else if (o.event === 'host_result' && o.host === host) byId.get(o.task_id!)?.results.push(generic(line, o));
    else if (o.event === 'stats') hostStats = JSON.stringify(o.hosts![host]);
  }
  if (!playbook || !play || !tasks.length || !hostStats) throw new Error(`bench: ${recording} is not a recording of a whole playbook run on ${host}`);
  return { playbook, play, tasks, hostStats };
}

/** `bench-0001`, ... */
export const hostName = (i: number): string => `bench-${String(i + 1).padStart(4, '0')}`;

/** Writes `plan.stages` files `stage-NN.jsonl` into `dir` and says what they hold. */
export function writeStream(templates: Templates, dir: string, plan: StreamPlan): StreamFiles {
  const perStage = Math.ceil(plan.events / plan.stages);
  const hosts = Array.from({ length: plan.hosts }, (_, i) => JSON.stringify(hostName(i)).slice(1, -1));
  const out: StreamFiles = { files: [], events: 0, hostResults: 0, tasks: 0, bytes: 0 };
  let time = Date.UTC(2026, 0, 1);
  let taskNo = 0;
  const fill = (t: string, host: string, tid: string, task: string): string =>
    t.replaceAll(TIME, String(time)).replaceAll(HOST, host).replaceAll(TID, tid).replaceAll(TASK, task);
  for (let s = 0; s < plan.stages; s++) {
    const file = path.join(dir, `stage-${String(s + 1).padStart(2, '0')}.jsonl`);
    const fd = openSync(file, 'w');
    let buf: string[] = [];
    let size = 0;
    const put = (line: string): void => {
      buf.push(line, '\n');
      size += line.length + 1;
      out.events++;
      if (size > 1 << 20) flush();
    };
    const flush = (): void => {
      const data = buf.join('');
      out.bytes += Buffer.byteLength(data);
      writeSync(fd, data);
      buf = [];
      size = 0;
    };
    let inStage = 0;
    put(fill(templates.playbook, '', '', ''));
    put(fill(templates.play, '', '', ''));
    inStage += 2;
    for (let k = 0; inStage < perStage - 1 && out.events < plan.events - 1; k++) {
      const t = templates.tasks[k % templates.tasks.length]!;
      const tid = `52540000-0000-bench-${String(++taskNo).padStart(12, '0')}`;
      const name = JSON.stringify(`${t.name} #${taskNo}`);
      time += 50;
      put(fill(t.start, '', tid, name));
      inStage++;
      out.tasks++;
      for (const h of hosts) {
        for (const r of t.results) {
          time += 1;
          put(fill(r, h, tid, name));
          out.hostResults++;
          inStage++;
        }
      }
    }
    const stats = `{"event": "stats", "time": ${time}, "hosts": {${hosts.map((h) => `"${h}": ${templates.hostStats}`).join(', ')}}, "custom": {}}`;
    put(stats);
    flush();
    closeSync(fd);
    out.files.push(file);
  }
  return out;
}
