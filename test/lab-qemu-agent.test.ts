// The host end of the qemu guest agent (lib/lab/qemu/agent.ts). The guest end here is a MOCK
// (a unix socket server standing in for QEMU's virtio-serial chardev and the agent behind it):
// the real agent in a real VM is exercised by test/lab-qemu.test.ts, whose clones are set up
// through it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { AGENT_PROGRAM, AgentClient, agentInstallScript, agentQemuArgs, agentRun } from '../lib/lab/qemu/agent.js';
import { clockScript, guestSettings, guestSetupScript } from '../lib/lab/qemu/guest.js';
import { LabError } from '../lib/errors.js';

const test = suite('qemu guest agent: protocol, clock written in, failures named');

let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-agent-'));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A mock guest end: answers each request line through `answer`. */
async function mockGuest(name: string, answer: (line: string, sock: net.Socket) => void): Promise<{ socket: string; close: () => Promise<void>; got: string[] }> {
  const socket = path.join(tmp, name);
  const got: string[] = [];
  const server = net.createServer((c) => {
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        got.push(line);
        answer(line, c);
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return { socket, got, close: () => new Promise((r) => server.close(() => r())) };
}

test('requests: JSON in base64 on one line, the answer of its own nonce (a stale answer is ignored), many on one connection', async () => {
  const g = await mockGuest('ok.sock', (line, c) => {
    const [, nonce, body] = line.split(' ');
    c.write(`done 0123456789abcdef 7\n`); // an answer left from an earlier request
    const req = JSON.parse(Buffer.from(body!, 'base64').toString()) as { script?: string; hostname?: string };
    if (req.hostname === 'bad') c.write(`done ${nonce} 1 PermissionError: [Errno 1] Operation not permitted\n`);
    else c.write(`done ${nonce} ${req.script?.includes('exit 3') ? 3 : 0}\n`);
  });
  assert.is(await agentRun(g.socket, 'echo hi\nexit 3'), 3);
  assert.match(g.got[0]!, /^do [0-9a-f]{16} [A-Za-z0-9+/=]+$/);
  const client = await AgentClient.connect(g.socket, 'web-1');
  const [a, b, c] = await Promise.all([client.request({ clock: 1000 }), client.request({ hostname: 'bad' }), client.request({ script: 'exit 3' })]);
  assert.equal(a, { status: 0, message: '' });
  assert.equal(b, { status: 1, message: 'PermissionError: [Errno 1] Operation not permitted' });
  assert.is(c.status, 3);
  assert.equal(JSON.parse(Buffer.from(g.got[1]!.split(' ')[2]!, 'base64').toString()), { clock: 1000 });
  client.close();
  await client.request({ clock: 1 }).then(() => assert.unreachable('closed'), (err: Error) => assert.match(err.message, /guest agent of web-1 closed the connection/));
  await g.close();
});

test('no answer: a lab error within the timeout; a guest that hangs up: named', async () => {
  const silent = await mockGuest('silent.sock', () => {});
  const t0 = Date.now();
  try {
    await agentRun(silent.socket, 'true', { timeoutMs: 500, name: 'web-1' });
    assert.unreachable('no answer');
  } catch (err) {
    assert.instance(err, LabError);
    assert.match((err as Error).message, /guest agent of web-1 did not answer within 0\.5 s/);
  }
  assert.ok(Date.now() - t0 < 5000);
  await silent.close();
  const rude = await mockGuest('rude.sock', (_l, c) => c.destroy());
  await agentRun(rude.socket, 'true').then(() => assert.unreachable('closed'), (err: Error) => assert.match(err.message, /closed the connection before answering/));
  // QEMU quitting while a request waits: it fails at once, not at its timeout.
  const quitting = await mockGuest('quit.sock', () => {});
  const client = await AgentClient.connect(quitting.socket, 'web-2');
  const pending = client.request({ clock: 1 }, { timeoutMs: 20_000 });
  const t1 = Date.now();
  setTimeout(() => client.close(), 50);
  await pending.then(() => assert.unreachable('closed'), (err: Error) => assert.match(err.message, /guest agent of web-2 closed the connection before answering/));
  assert.ok(Date.now() - t1 < 5000);
  await quitting.close();
  await rude.close();
  await agentRun(path.join(tmp, 'nothing.sock'), 'true').then(() => assert.unreachable('no socket'), (err: Error) => assert.match(err.message, /cannot reach the guest agent/));
});

test('settings: the agent gets what the SSH script sets (clock, name, files, lab NIC); the agent runs under systemd and compiles', () => {
  const id = { hostname: 'web-1', labAddress: '10.10.0.1', mac: '52:54:00:0a:00:01', peers: [{ hostname: 'web-1', labAddress: '10.10.0.1' }, { hostname: 'db-1', labAddress: '10.10.0.2' }] };
  const script = guestSetupScript(id);
  assert.match(script, /echo "CLOCK\?"/);
  assert.is(clockScript({ clockAt: 1000 }), 'date -u -s "@1.000" >/dev/null');
  const set = guestSettings(id, { clockAt: 1_796_142_779_123 });
  assert.is(set.clock, 1_796_142_779_123);
  assert.is(set.hostname, 'web-1');
  assert.equal(set.link, { dev: 'eth1', mac: '52:54:00:0a:00:01', address: '10.10.0.1', prefix: 24 });
  // /etc/hosts before the answer; what only a reboot reads after it.
  assert.equal(set.files!.map((f) => `${f.path}${f.after ? ' (after)' : ''}`), ['/etc/hosts', '/etc/hostname (after)', '/etc/network/interfaces.d/eth1 (after)']);
  // The same lines as the SSH script writes with printf.
  for (const f of set.files!.filter((f) => f.path !== '/etc/hostname')) for (const l of f.content.trimEnd().split('\n')) assert.ok(script.includes(`'${l}'`), `${f.path}: ${l}`);
  assert.is(set.files![0]!.content, '127.0.0.1 localhost\n127.0.1.1 web-1\n10.10.0.1 web-1\n10.10.0.2 db-1\n');
  assert.not.ok('clock' in guestSettings(id));
  const install = agentInstallScript();
  assert.ok(install.includes(AGENT_PROGRAM), 'the agent is written as it is');
  assert.match(install, /systemctl enable --now harness-agent\.service/);
  assert.match(AGENT_PROGRAM, /\/dev\/virtio-ports\/org\.ansible-harness\.agent/);
  // The agent is Python the guest's python3 runs: it must at least compile (here, with the host's).
  const file = path.join(tmp, 'harness-agent.py');
  writeFileSync(file, AGENT_PROGRAM);
  try {
    execFileSync('python3', ['-c', 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")', file], { stdio: 'pipe' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  assert.equal(agentQemuArgs('/s,x', (v) => v.replaceAll(',', ',,')).slice(2, 4), ['-chardev', 'socket,id=agent,path=/s,,x,server=on,wait=off']);
});

test("the agent's own code, run by the host's python3: files before the answer and after it, the answer's status", () => {
  // The program without its main loop (which opens the virtio port), fed one request over a pipe.
  const file = path.join(tmp, 'agent-lib.py');
  writeFileSync(file, AGENT_PROGRAM.replace(/\nmain\(\)\n$/, '\n'));
  const dir = path.join(tmp, 'files');
  mkdirSync(dir, { recursive: true });
  const req = (files: { path: string; content: string; after?: boolean }[]): string => Buffer.from(JSON.stringify({ files })).toString('base64');
  const probe = `
import os, sys
exec(open(sys.argv[1]).read())
r, w = os.pipe()
d = sys.argv[2]
handle(w, b'do n1 ' + sys.argv[3].encode())
print(os.read(r, 200).decode().strip())
print(sorted(os.listdir(d)), repr(open(os.path.join(d, 'now')).read()), repr(open(os.path.join(d, 'later')).read()))
handle(w, b'do n2 ' + sys.argv[4].encode())
print(os.read(r, 200).decode().strip())
`;
  const good = req([{ path: path.join(dir, 'now'), content: 'a\n' }, { path: path.join(dir, 'later'), content: 'b\n', after: true }]);
  // A file written after the answer that cannot be: the answer (sent first) is still success.
  const badAfter = req([{ path: path.join(dir, 'now'), content: 'c\n' }, { path: path.join(dir, 'missing', 'x'), content: 'd\n', after: true }]);
  let out: string;
  try {
    out = execFileSync('python3', ['-c', probe, file, dir, good, badAfter], { encoding: 'utf8' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      console.log('  skipped: no python3 on this machine');
      return;
    }
    throw err;
  }
  assert.equal(out.trim().split('\n'), ['done n1 0', "['later', 'now'] 'a\\n' 'b\\n'", 'done n2 0']);
  assert.is(readFileSync(path.join(dir, 'now'), 'utf8'), 'c\n');
});

test.run();
