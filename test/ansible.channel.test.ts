// The event FIFO: lines from a real writer process arrive in order; close() ends the reader even
// when no writer ever came (Ansible died before loading our plugin). Also the plain log writer.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openEventChannel } from '../lib/ansible/channel.js';

const run = promisify(execFile);
const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-chan-'));
  dirs.push(d);
  return d;
};
test.after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Rejects if `p` has not settled after `ms`: catches a hang, measures nothing. */
function notHanging<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

test('lines written by another process arrive in order, the last unended one too', async () => {
  const lines: string[] = [];
  const channel = openEventChannel(tmp(), (l) => lines.push(l));
  assert.ok(fs.statSync(channel.path).isFIFO());
  // the writer opens, writes and closes; python3 like the plugin, with os.write
  await run('/usr/bin/python3', [
    '-c',
    'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND); [os.write(fd, b"line %d\\n" % i) for i in range(500)]; os.write(fd, b"last"); os.close(fd)',
    channel.path,
  ]);
  await notHanging(channel.close(600_000), 20_000, 'close()');
  assert.is(lines.length, 501);
  assert.is(lines[0], 'line 0');
  assert.is(lines[499], 'line 499');
  assert.is(lines[500], 'last');
  assert.not.ok(fs.existsSync(channel.path), 'the FIFO is removed');
});

test('close() ends the reader when no writer ever opened the FIFO', async () => {
  const lines: string[] = [];
  const channel = openEventChannel(tmp(), (l) => lines.push(l));
  // a long drain limit: only the EOF we cause ourselves can end this in time
  await notHanging(channel.close(600_000), 20_000, 'close()');
  assert.equal(lines, []);
});

test('two channels in one folder do not meet', async () => {
  const dir = tmp();
  const a: string[] = [];
  const b: string[] = [];
  const ca = openEventChannel(dir, (l) => a.push(l));
  const cb = openEventChannel(dir, (l) => b.push(l));
  assert.is.not(ca.path, cb.path);
  fs.appendFileSync(ca.path, 'to a\n');
  fs.appendFileSync(cb.path, 'to b\n');
  await Promise.all([ca.close(600_000), cb.close(600_000)]);
  assert.equal([a, b], [['to a'], ['to b']]);
  assert.equal(fs.readdirSync(dir), []);
});

test.run();
