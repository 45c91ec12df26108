// The qemu lab's accelerator choice (lib/lab/qemu/accel.ts). The probe's QEMU here is a MOCK
// (a shell script standing in for qemu-system-x86_64) for the two ways KVM fails on real machines
// — QEMU refusing at once, and a guest that hangs before printing — because this machine cannot
// show a working KVM; the real probe against the real QEMU runs in test/lab-qemu.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { accelKeyFacts, decideAccel, machineIdentity, probeKvm, type AccelOptions } from '../lib/lab/qemu/accel.js';
import { parseQemuOptions } from '../lib/lab/qemu/options.js';
import { qemuArgs } from '../lib/lab/qemu/vm.js';
import type { QemuToolPaths } from '../lib/lab/qemu/tools.js';
import type { QemuImage } from '../lib/lab/qemu/image.js';
import { LabError, InputError } from '../lib/errors.js';
import { GOLDEN_VERSION } from '../lib/lab/qemu/golden.js';
import { providerEntry } from '../lib/lab/registry.js';
import type { LabSpec } from '../lib/model/index.js';

const test = suite('qemu accel: auto probes KVM once, fails fast, keys and options');

let tmp = '';
let haveQemuImg = true;

test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-accel-'));
  try {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(tmp, 'disk.qcow2'), '16M']);
  } catch {
    haveQemuImg = false;
  }
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function fakeQemu(name: string, body: string): Promise<string> {
  const p = path.join(tmp, name);
  await writeFile(p, `#!/bin/sh\necho $$ > ${JSON.stringify(p + '.pid')}\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

function options(qemu: string, extra: Partial<AccelOptions> = {}): AccelOptions {
  const tools = { 'qemu-system-x86_64': qemu, 'qemu-img': 'qemu-img' } as unknown as QemuToolPaths;
  const image = { dir: tmp, disk: path.join(tmp, 'disk.qcow2'), kernel: path.join(tmp, 'vmlinuz'), initrd: path.join(tmp, 'initrd'), key: 'test', privateKey: path.join(tmp, 'id') } as unknown as QemuImage;
  return { tools, image, cacheRoot: path.join(tmp, 'cache'), kvmDevice: path.join(tmp, 'kvm'), ...extra };
}

test('QEMU refusing KVM at once: TCG, with QEMU\'s own error line', async () => {
  if (!haveQemuImg) return void console.log('  skipped: qemu-img is not installed (qemu-utils)');
  const q = await fakeQemu('qemu-refuses', 'echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2\nexit 1');
  const r = await probeKvm(options(q));
  assert.equal(r.works, false);
  assert.match(r.why, /QEMU exited under KVM \(error: failed to set MSR 0x10a to 0x69\)/);
});

test('a guest that prints nothing: TCG within the first-output limit, and the QEMU is stopped', async () => {
  if (!haveQemuImg) return void console.log('  skipped: qemu-img is not installed (qemu-utils)');
  const q = await fakeQemu('qemu-hangs', 'exec sleep 120');
  const t0 = Date.now();
  const r = await probeKvm(options(q, { firstOutputMs: 1500 }));
  const took = Date.now() - t0;
  assert.equal(r.works, false);
  assert.match(r.why, /printed nothing within 1\.5 s under KVM \(it hangs\)/);
  assert.ok(took < 20_000, `the probe gave up (took ${took} ms)`);
  const pid = Number((await readFile(q + '.pid', 'utf8')).trim());
  let alive = true;
  try {
    process.kill(pid, 0);
  } catch {
    alive = false;
  }
  assert.not.ok(alive, `pid ${pid} is gone`);
});

test('auto: probed once per machine identity, then cached; a changed QEMU probes again', async () => {
  if (!haveQemuImg) return void console.log('  skipped: qemu-img is not installed (qemu-utils)');
  await writeFile(path.join(tmp, 'kvm'), '');
  const q = await fakeQemu('qemu-counting', `echo run >> ${JSON.stringify(path.join(tmp, 'runs'))}\necho "error: KVM refused" >&2\nexit 1`);
  const o = options(q, { cacheRoot: path.join(tmp, 'cache-a') });
  const first = await decideAccel('auto', o);
  assert.equal(first.accel, 'tcg');
  assert.ok(first.probeMs !== undefined && !first.cached);
  const second = await decideAccel('auto', o);
  assert.equal(second, { accel: 'tcg', asked: 'auto', why: first.why, cached: true });
  assert.equal((await readFile(path.join(tmp, 'runs'), 'utf8')).trim().split('\n').length, 1, 'one probe for two decisions');
  await writeFile(q, (await readFile(q, 'utf8')) + '# a new build\n');
  const third = await decideAccel('auto', o);
  assert.not.ok(third.cached, 'another QEMU binary is another machine identity');
  assert.equal((await readFile(path.join(tmp, 'runs'), 'utf8')).trim().split('\n').length, 2);
});

test('tcg needs no probe; kvm without a usable /dev/kvm is a lab error; auto without one is TCG at once', async () => {
  const o = options('/nonexistent/qemu', { kvmDevice: path.join(tmp, 'no-such-kvm') });
  assert.equal(await decideAccel('tcg', o), { accel: 'tcg', asked: 'tcg', why: 'tcg: as the scenario asks' });
  const auto = await decideAccel('auto', o);
  assert.equal(auto.accel, 'tcg');
  assert.match(auto.why, /cannot be opened/);
  try {
    await decideAccel('kvm', o);
    assert.unreachable('kvm without /dev/kvm');
  } catch (err) {
    assert.instance(err, LabError);
    assert.match((err as Error).message, /accel is kvm, but .*no-such-kvm cannot be opened.*use accel: auto or tcg/);
  }
});

test('keys: the choice, and for auto the machine identity; qemu arguments per accelerator', async () => {
  assert.equal(await accelKeyFacts('tcg'), { accel: 'tcg' });
  const auto = await accelKeyFacts('auto');
  assert.equal(auto.accel, 'auto');
  const id = await machineIdentity('/bin/sh');
  assert.equal(Object.keys(auto.machine as object).sort(), Object.keys(id).sort());
  assert.equal(id.kernel, os.release());
  // The provider's key facts add the golden state's version: its checkpoints sit on one golden state.
  const entry = await providerEntry('qemu');
  const qemuSpec: LabSpec = { provider: 'qemu', options: { accel: 'tcg' } };
  const facts = await entry.keyFacts!(qemuSpec);
  assert.equal(facts, { accel: 'tcg', golden: GOLDEN_VERSION });
  const spec = { name: 'h', disk: 'd', kernel: 'k', initrd: 'i', memory: 512, cpus: 1, sshPort: 2222, qmpSocket: 'q', consoleLog: 'c', qemuLog: 'l', incoming: false };
  const tcg = qemuArgs(spec).join(' ');
  assert.match(tcg, /-accel tcg,tb-size=256 -cpu max/);
  assert.not.match(tcg, /vde/, 'no lab NIC without a switch');
  const kvm = qemuArgs({ ...spec, accel: 'kvm', verbose: true, switchSocket: 's' }).join(' ');
  assert.match(kvm, /-accel kvm -cpu host/);
  assert.match(kvm, /-netdev vde,id=n1,sock=s/);
  assert.not.match(kvm, / quiet /);
});

test('options: accel defaults to auto; a bad value names the field', () => {
  assert.equal(parseQemuOptions({}).accel, 'auto');
  assert.equal(parseQemuOptions({ accel: 'tcg' }).accel, 'tcg');
  try {
    parseQemuOptions({ accel: 'hvf' }, { file: 's.yml' });
    assert.unreachable('hvf');
  } catch (err) {
    assert.instance(err, InputError);
    assert.match((err as Error).message, /lab\.options\.accel.*must be auto, kvm or tcg, got "hvf"/);
  }
});

test.run();
