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
import { AGENT_SCRIPT, agentInstallScript, agentQemuArgs, agentRun } from '../lib/lab/qemu/agent.js';
import { clockScript, guestSetupScript } from '../lib/lab/qemu/guest.js';
import { LabError } from '../lib/errors.js';

const test = suite('qemu guest agent: protocol, clock written in, failures named');

let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-agent-'));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A mock guest end: answers each `run` line through `answer`. */
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

test('runs a script: base64 on one line, the status of its own nonce (a stale answer is ignored)', async () => {
  const g = await mockGuest('ok.sock', (line, c) => {
    const [, nonce, body] = line.split(' ');
    c.write(`done 0123456789abcdef 7\n`); // an answer left from an earlier connection
    const script = Buffer.from(body!, 'base64').toString();
    c.write(`done ${nonce} ${script.includes('exit 3') ? 3 : 0}\n`);
  });
  assert.is(await agentRun(g.socket, 'echo hi\nexit 3'), 3);
  assert.is(await agentRun(g.socket, 'true'), 0);
  assert.match(g.got[0]!, /^run [0-9a-f]{16} [A-Za-z0-9+/=]+$/);
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
  await rude.close();
  await agentRun(path.join(tmp, 'nothing.sock'), 'true').then(() => assert.unreachable('no socket'), (err: Error) => assert.match(err.message, /cannot reach the guest agent/));
});

test('scripts: the clock is written in for the agent, asked for over SSH; the agent runs under systemd', () => {
  const id = { hostname: 'web-1', labAddress: '10.10.0.1', mac: '52:54:00:0a:00:01', peers: [{ hostname: 'web-1', labAddress: '10.10.0.1' }] };
  assert.match(guestSetupScript(id, { clockAt: 1_796_142_779_123 }), /^set -e\ndate -u -s "@1796142779\.123" >\/dev\/null\nhostname web-1\n/);
  assert.match(guestSetupScript(id), /echo "CLOCK\?"/);
  assert.is(clockScript({ clockAt: 1000 }), 'date -u -s "@1.000" >/dev/null');
  const install = agentInstallScript();
  assert.ok(install.includes(AGENT_SCRIPT), 'the agent is written as it is');
  assert.match(install, /systemctl enable --now harness-agent\.service/);
  assert.match(AGENT_SCRIPT, /\/dev\/virtio-ports\/org\.ansible-harness\.agent/);
  assert.equal(agentQemuArgs('/s,x', (v) => v.replaceAll(',', ',,')).slice(2, 4), ['-chardev', 'socket,id=agent,path=/s,,x,server=on,wait=off']);
});

test.run();
