// The demo scenario's playbooks, run for real with ansible-playbook, stage after stage, the way
// the harness runs them: three hosts (ansible_connection=local, so no sshd is needed here), each
// with its own root directory, extra vars from `-e @vars.json`, and `undercloud_url` handed from
// undercloud.yml's set_stats to the later stages. The demo API they deploy is a real server on
// 127.0.0.1; the suite stops it by pid whatever happens.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT, packageFile } from '../lib/paths.js';
import { xmllintErrors } from './helpers/junit.js';

const HOSTS = ['undercloud-0', 'controller-0', 'compute-0'] as const;
type HostName = (typeof HOSTS)[number];
const NOVA_CPU = 2;
/** The scenario secret `admin_password`: nodes register with it; it must never be written. */
const SECRET = `demo-secret-${process.pid}-${Date.now().toString(36)}`;

/** The checks test.yml reports, one testcase each. */
const E2E_CHECKS = [
  '[undercloud-0] demo API answers /health',
  '[undercloud-0] demo API runs the deployed release',
  '[undercloud-0] demo API state file holds the registrations it serves',
  "[controller-0] node is registered with its role's settings",
  "[compute-0] node is registered with its role's settings",
  '[controller-0] node reaches its record on the undercloud API',
  '[controller-0] node config matches the undercloud record',
  '[compute-0] node reaches its record on the undercloud API',
  '[compute-0] node config matches the undercloud record',
];

interface Lab {
  dir: string;
  port: number;
  inventory: string;
  roots: Record<HostName, string>;
  /** What undercloud.yml published with set_stats. */
  undercloudUrl?: string;
  /** Everything ansible-playbook printed, to check the secret never shows. */
  outputs: string[];
}

interface PlaybookRun {
  code: number;
  output: string;
  /** PLAY RECAP counts per host. */
  recap: Record<string, { ok: number; changed: number; failed: number; unreachable: number }>;
  /** The run-wide set_stats data (shown by ANSIBLE_SHOW_CUSTOM_STATS). */
  stats: Record<string, unknown>;
}

interface Node {
  node_id: string;
  name: string;
  role: string;
  address: string;
  settings: Record<string, unknown>;
  registered_release: string;
}

const demo = suite<{ lab: Lab }>('demo playbooks');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function makeLab(): Promise<Lab> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'demo-playbooks-'));
  const roots = Object.fromEntries(HOSTS.map((h) => [h, path.join(dir, 'hosts', h)])) as Record<HostName, string>;
  for (const root of Object.values(roots)) await fs.mkdir(root, { recursive: true });
  await fs.mkdir(path.join(dir, 'tmp'));
  await fs.mkdir(path.join(dir, 'private'), { mode: 0o700 });
  const port = await freePort();
  // The groups and vars the harness's `local` lab gives the demo scenario.
  const inventory = {
    all: {
      vars: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3', harness_lab_address: '127.0.0.1' },
      children: {
        undercloud: { hosts: { 'undercloud-0': { harness_host_root: roots['undercloud-0'], demo_api_port: port } } },
        overcloud: {
          children: {
            controller: { hosts: { 'controller-0': { harness_host_root: roots['controller-0'] } } },
            compute: { hosts: { 'compute-0': { harness_host_root: roots['compute-0'], nova_cpu: NOVA_CPU } } },
          },
        },
      },
    },
  };
  const inventoryFile = path.join(dir, 'inventory.json'); // JSON is YAML: the yaml inventory plugin reads it
  await fs.writeFile(inventoryFile, JSON.stringify(inventory, null, 2));
  return { dir, port, inventory: inventoryFile, roots, outputs: [] };
}

let runCount = 0;

/** Runs playbooks/<name> with the vars the harness would pass (`-e @vars.json`), secret included. */
async function runPlaybook(lab: Lab, name: string, vars: Record<string, unknown>): Promise<PlaybookRun> {
  const varsFile = path.join(lab.dir, 'private', `vars-${++runCount}.json`);
  await fs.writeFile(varsFile, JSON.stringify({ ...vars, admin_password: SECRET }), { mode: 0o600 });
  const env = {
    ...process.env,
    ANSIBLE_PIPELINING: 'True', // as the harness runs it
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_SHOW_CUSTOM_STATS: 'true',
    ANSIBLE_RETRY_FILES_ENABLED: 'false',
    ANSIBLE_LOCALHOST_WARNING: 'false',
    ANSIBLE_LOCAL_TEMP: path.join(lab.dir, 'tmp'),
    ANSIBLE_REMOTE_TEMP: path.join(lab.dir, 'tmp'),
  };
  const args = ['-i', lab.inventory, '-e', `@${varsFile}`, packageFile('playbooks', name)];
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
    execFile('ansible-playbook', args, { cwd: lab.dir, env, timeout: 120_000, maxBuffer: 32 << 20 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (!error) return resolve({ code: 0, output });
      if (typeof error.code === 'number') return resolve({ code: error.code, output });
      reject(new Error(`ansible-playbook ${name} did not run to the end (${error.code ?? error.signal}): ${error.message}\n${output}`));
    });
  });
  lab.outputs.push(output);
  const recap: PlaybookRun['recap'] = {};
  for (const m of output.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    recap[m[1]] = { ok: +m[2], changed: +m[3], unreachable: +m[4], failed: +m[5] };
  }
  const statsLine = /^\s*RUN: (\{.*\})\s*$/m.exec(output);
  const stats = statsLine ? (JSON.parse(statsLine[1]) as Record<string, unknown>) : {};
  return { code, output, recap, stats };
}

function assertRan(run: PlaybookRun, code = 0): void {
  if (run.code !== code) assert.unreachable(`ansible-playbook exited ${run.code}, expected ${code}:\n${run.output}`);
}

/** GET or POST JSON without keep-alive (nothing must hold the event loop once the server stops). */
function request(url: string, body?: unknown, password?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {};
    if (password) headers.authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
    const req = http.request(url, { method: data ? 'POST' : 'GET', agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch (error) {
          reject(new Error(`${url} answered ${res.statusCode} with a body that is not JSON: ${text}`, { cause: error }));
        }
      });
    });
    req.on('error', reject).end(data);
  });
}

function api(lab: Lab): string {
  return `http://127.0.0.1:${lab.port}`;
}

/** A process that is running (a zombie, which this machine's init may leave unreaped, is not). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The live demo API servers started from under `dir` (their command line names their root). */
function serversUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.includes('demo_api.py') && cmdline.includes(`${dir}/`) && alive(+entry)) pids.push(+entry);
  }
  return pids;
}

/** The session id of a process (field 6 of /proc/PID/stat). */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function pidOf(lab: Lab): number {
  return Number(readFileSync(path.join(lab.roots['undercloud-0'], 'var/run/demo/api.pid'), 'utf8').trim());
}

function readJson<T = any>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function nodeConfig(lab: Lab, host: HostName): Node {
  return readJson<Node>(path.join(lab.roots[host], 'etc/demo/node.json'));
}

function unescapeXml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(+n))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** The testcases of a results file: name and failure message (undefined when it passed). */
function testcases(xml: string): Map<string, string | undefined> {
  const cases = new Map<string, string | undefined>();
  for (const m of xml.matchAll(/<testcase classname="demo\.e2e" name="([^"]*)">([\s\S]*?)<\/testcase>/g)) {
    const failure = /<failure [^>]*message="([^"]*)"/.exec(m[2]);
    cases.set(unescapeXml(m[1]), failure ? unescapeXml(failure[1]) : undefined);
  }
  return cases;
}

async function assertValidJUnit(file: string): Promise<void> {
  const errors = await xmllintErrors(file);
  if (errors) throw new Error(`xmllint ${file}: ${errors}`);
}

function resultsFile(lab: Lab, release: string): string {
  return path.join(lab.roots['undercloud-0'], `var/lib/demo/results/e2e-${release}.xml`);
}

/** Stops every demo server this suite started (found by its root under the lab dir), by pid. */
async function stopServers(lab: Lab): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = serversUnder(lab.dir);
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 50 && serversUnder(lab.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  }
}

demo.before(async (context) => {
  context.lab = await makeLab();
});

demo.after(async ({ lab }) => {
  if (!lab) return;
  await stopServers(lab);
  await fs.rm(lab.dir, { recursive: true, force: true });
});

demo('prepare lays out every host root and records the host facts', async ({ lab }) => {
  const run = await runPlaybook(lab, 'prepare.yml', { release: '1.0' });
  assertRan(run);
  for (const host of HOSTS) {
    for (const dir of ['etc/demo', 'var/log/demo', 'var/lib/demo', 'var/lib/demo/results', 'var/run/demo', 'opt/demo']) {
      assert.ok(existsSync(path.join(lab.roots[host], dir)), `${host}: ${dir} exists`);
    }
    const facts = readJson(path.join(lab.roots[host], 'var/lib/demo/host.json'));
    assert.is(facts.name, host);
    assert.is(facts.root, lab.roots[host]);
    assert.is(facts.lab_address, '127.0.0.1');
    assert.match(facts.python, /^\/usr\/bin\/python3 3\.\d+/);
  }
});

demo('undercloud starts the API detached and publishes its URL', async ({ lab }) => {
  const run = await runPlaybook(lab, 'undercloud.yml', { release: '1.0' });
  assertRan(run);
  assert.equal(run.stats, { undercloud_url: api(lab) });
  lab.undercloudUrl = run.stats.undercloud_url as string;

  // ansible-playbook has exited: the server lives on, in a session of its own.
  const pid = pidOf(lab);
  assert.ok(alive(pid), `the pid file names a live process (${pid})`);
  assert.equal(serversUnder(lab.dir), [pid]);
  assert.is.not(sessionOf(pid), sessionOf(process.pid));
  assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${lab.roots['undercloud-0']}/opt/demo/1.0/demo_api.py`));
  const health = await request(`${api(lab)}/health`);
  assert.equal(health, { status: 200, json: { status: 'ok', release: '1.0', nodes: 0 } });
  assert.is(readJson(path.join(lab.roots['undercloud-0'], 'etc/demo/api.json')).listen.port, lab.port);
  assert.match(readFileSync(path.join(lab.roots['undercloud-0'], 'var/log/demo/api.log'), 'utf8'), `release 1.0 listening on ${api(lab)}`);
});

demo('a second undercloud run changes nothing and starts no second server', async ({ lab }) => {
  const pid = pidOf(lab);
  const run = await runPlaybook(lab, 'undercloud.yml', { release: '1.0' });
  assertRan(run);
  assert.is(run.recap['undercloud-0']?.changed, 0, `nothing changed:\n${run.output}`);
  assert.is(pidOf(lab), pid);
  assert.equal(serversUnder(lab.dir), [pid]);
});

demo('overcloud registers each node over HTTP and saves the config it receives', async ({ lab }) => {
  const run = await runPlaybook(lab, 'overcloud.yml', { release: '1.0', undercloud_url: lab.undercloudUrl });
  assertRan(run);
  const controller = nodeConfig(lab, 'controller-0');
  const compute = nodeConfig(lab, 'compute-0');
  assert.is(controller.role, 'controller');
  assert.equal(controller.settings, { services: ['demo-api-proxy', 'scheduler', 'database'], workers: 2 });
  assert.is(compute.role, 'compute');
  assert.equal(compute.settings, { services: ['nova-compute'], nova_cpu: NOVA_CPU, cpu_allocation_ratio: 4 });
  assert.is.not(controller.node_id, compute.node_id);

  const { json } = await request(`${api(lab)}/nodes`);
  assert.equal(json.nodes, [compute, controller]);
  const state = readJson(path.join(lab.roots['undercloud-0'], 'var/lib/demo/state.json'));
  assert.equal(state.nodes, { 'compute-0': compute, 'controller-0': controller });
});

demo('the API registers only with the admin password, and only settings the role has', async ({ lab }) => {
  const node = { name: 'controller-1', role: 'controller' };
  const anonymous = await request(`${api(lab)}/register`, node);
  assert.is(anonymous.status, 401);
  assert.match(anonymous.json.error, 'registering needs the admin password');
  assert.is((await request(`${api(lab)}/register`, node, 'not-the-secret')).status, 401);
  const bad = await request(`${api(lab)}/register`, { ...node, settings: { nova_cpu: 4 } }, SECRET);
  assert.is(bad.status, 400);
  assert.match(bad.json.error, 'role controller has no setting "nova_cpu"');
  const { json } = await request(`${api(lab)}/nodes`);
  assert.equal(json.nodes.map((n: Node) => n.name), ['compute-0', 'controller-0']);
});

demo('test writes the system\'s own JUnit results, one testcase per check', async ({ lab }) => {
  const run = await runPlaybook(lab, 'test.yml', { release: '1.0', undercloud_url: lab.undercloudUrl });
  assertRan(run);
  const file = resultsFile(lab, '1.0');
  const cases = testcases(readFileSync(file, 'utf8'));
  assert.equal([...cases.keys()].sort(), [...E2E_CHECKS].sort());
  assert.equal([...cases.values()].filter((f) => f !== undefined), []);
  assert.match(readFileSync(file, 'utf8'), '<testsuite name="demo.e2e.release-1.0" tests="9" failures="0"');
  await assertValidJUnit(file);
});

demo('test records a failed check in its results, then fails', async ({ lab }) => {
  const file = path.join(lab.roots['compute-0'], 'etc/demo/node.json');
  const saved = readFileSync(file, 'utf8');
  await fs.writeFile(file, saved.replace(`"nova_cpu": ${NOVA_CPU}`, '"nova_cpu": 7'));
  try {
    const run = await runPlaybook(lab, 'test.yml', { release: '1.0', undercloud_url: lab.undercloudUrl });
    assertRan(run, 2);
    assert.match(run.output, '1 of 9 end-to-end checks failed');
    const xml = readFileSync(resultsFile(lab, '1.0'), 'utf8');
    const cases = testcases(xml);
    assert.equal([...cases.keys()].sort(), [...E2E_CHECKS].sort());
    const failed = [...cases].filter(([, failure]) => failure !== undefined);
    assert.is(failed.length, 1);
    assert.is(failed[0][0], '[compute-0] node config matches the undercloud record');
    assert.match(failed[0][1]!, /differs from the undercloud record in settings .*"nova_cpu": 7.*"nova_cpu": 2/);
    assert.match(xml, 'tests="9" failures="1"');
    await assertValidJUnit(resultsFile(lab, '1.0'));
  } finally {
    await fs.writeFile(file, saved);
  }
});

demo('upgrade moves the API to release 2.0 and keeps every registration', async ({ lab }) => {
  const before = await request(`${api(lab)}/nodes`);
  const oldPid = pidOf(lab);
  const run = await runPlaybook(lab, 'upgrade.yml', { release: '2.0', undercloud_url: lab.undercloudUrl });
  assertRan(run);

  const newPid = pidOf(lab);
  assert.is.not(newPid, oldPid);
  assert.not.ok(alive(oldPid), 'the release 1.0 server is gone');
  assert.equal(serversUnder(lab.dir), [newPid]);
  assert.ok(readFileSync(`/proc/${newPid}/cmdline`, 'utf8').includes(`${lab.roots['undercloud-0']}/opt/demo/2.0/demo_api.py`));
  assert.ok(existsSync(path.join(lab.roots['undercloud-0'], 'opt/demo/1.0/demo_api.py')), 'release 1.0 stays installed');

  const version = await request(`${api(lab)}/version`);
  assert.equal(version.json, { release: '2.0', history: ['1.0', '2.0'] });
  const after = await request(`${api(lab)}/nodes`);
  assert.equal(after.json.nodes, before.json.nodes);
  assert.is(after.json.nodes.length, 2);
});

demo('test passes again on release 2.0 and keeps the 1.0 results', async ({ lab }) => {
  const run = await runPlaybook(lab, 'test.yml', { release: '2.0', undercloud_url: lab.undercloudUrl });
  assertRan(run);
  const cases = testcases(readFileSync(resultsFile(lab, '2.0'), 'utf8'));
  assert.equal([...cases.keys()].sort(), [...E2E_CHECKS].sort());
  assert.equal([...cases.values()].filter((f) => f !== undefined), []);
  assert.ok(existsSync(resultsFile(lab, '1.0')));
  await assertValidJUnit(resultsFile(lab, '2.0'));
});

demo('stop leaves no server, and succeeds when none runs', async ({ lab }) => {
  const pid = pidOf(lab);
  const run = await runPlaybook(lab, 'stop.yml', {});
  assertRan(run);
  assert.not.ok(alive(pid), `server ${pid} is gone`);
  assert.equal(serversUnder(lab.dir), []);
  assert.not.ok(existsSync(path.join(lab.roots['undercloud-0'], 'var/run/demo/api.pid')), 'the pid file is removed');
  try {
    await request(`${api(lab)}/health`);
    assert.unreachable('nothing answers on the port');
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  }
  assert.match(readFileSync(path.join(lab.roots['undercloud-0'], 'var/log/demo/api.log'), 'utf8'), 'stopping on SIGTERM');

  const again = await runPlaybook(lab, 'stop.yml', {});
  assertRan(again);
  assert.is(again.recap['undercloud-0']?.changed, 0);
});

demo('the secret is written nowhere on the hosts nor in the output', async ({ lab }) => {
  const files = (await fs.readdir(path.join(lab.dir, 'hosts'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  assert.ok(files.length > 10, 'the hosts have files to look into');
  for (const entry of files) {
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    assert.not.ok(readFileSync(file, 'utf8').includes(SECRET), `${file} does not hold the secret`);
  }
  assert.ok(lab.outputs.length > 5);
  for (const output of lab.outputs) assert.not.ok(output.includes(SECRET), 'ansible-playbook never printed the secret');
  const config = readJson(path.join(lab.roots['undercloud-0'], 'etc/demo/api.json'));
  assert.match(config.admin_password_sha256, /^[0-9a-f]{64}$/);
});

demo('the API, started on a taken port, exits 1 with the reason and leaves no process', async ({ lab }) => {
  const squatter = net.createServer();
  await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(lab.port, '127.0.0.1', resolve));
  try {
    const program = path.join(lab.roots['undercloud-0'], 'opt/demo/2.0/demo_api.py');
    const config = path.join(lab.roots['undercloud-0'], 'etc/demo/api.json');
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile('/usr/bin/python3', [program, '--config', config, '--daemon'], { timeout: 30_000 }, (error, _stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stderr })));
    assert.is(result.code, 1);
    assert.match(result.stderr, `cannot start release 2.0 on 127.0.0.1:${lab.port}`);
    assert.match(result.stderr, 'Address already in use');
    // The server closes its end of the startup pipe as it exits; it may still be finishing.
    for (let i = 0; i < 100 && serversUnder(lab.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(serversUnder(lab.dir), []);
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
});

demo.run();
