// Pure parts of the local provider: config text, host vars, /proc parsing, options.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { InputError } from '../lib/errors.js';
import type { Lab } from '../lib/model/index.js';
import { knownHostsLine, placeHost, renderSshdConfig, sshCheckArgs } from '../lib/lab/local/index.js';
import { parseProcStat } from '../lib/util/proc.js';
import { resolveLocalOptions } from '../lib/lab/local/options.js';
import { keysFor } from '../lib/transfer/known-hosts.js';

const input = { address: '127.0.0.5', port: 20022, hostKey: '/p/hk', pidFile: '/p/pid', authorizedKeys: '/p/id_ed25519.pub', user: 'root' };

test('sshd_config holds what LAB.md says a local host needs', () => {
  const lines = renderSshdConfig(input).split('\n');
  for (const l of [
    'ListenAddress 127.0.0.5:20022',
    'HostKey /p/hk',
    'PidFile /p/pid',
    'AuthorizedKeysFile /p/id_ed25519.pub',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    'AllowUsers root',
  ]) {
    assert.ok(lines.includes(l), `missing: ${l}`);
  }
});

test('extra lines come before ours (sshd keeps the first value); paths are escaped', () => {
  const text = renderSshdConfig({ ...input, authorizedKeys: '/a b/50%/k.pub', extra: ['LogLevel DEBUG3'] });
  assert.ok(text.indexOf('LogLevel DEBUG3') < text.indexOf('LogLevel VERBOSE'));
  assert.match(text, 'AuthorizedKeysFile "/a b/50%%/k.pub"');
  assert.throws(() => renderSshdConfig({ ...input, pidFile: '/x"y' }), /quote or line break/);
});

test('placeHost sets the connection and harness vars; the interpreter only where the scenario did not', () => {
  const lab: Lab = {
    provider: 'local',
    hosts: [
      { name: 'a', groups: ['leaf'], vars: {} },
      { name: 'b', groups: ['other'], vars: {} },
    ],
    groups: [
      { name: 'leaf', children: [], vars: {} },
      { name: 'mid', children: ['leaf'], vars: {} },
      { name: 'top', children: ['mid'], vars: { ansible_python_interpreter: '/opt/python' } },
      { name: 'other', children: [], vars: {} },
    ],
    vars: {},
  };
  const p = { address: '127.0.0.2', port: 10022, user: 'root', root: '/run/lab/a' };
  const a = placeHost(lab, lab.hosts[0]!, p);
  assert.equal([a.address, a.port, a.user], ['127.0.0.2', 10022, 'root']);
  assert.equal(a.vars, { harness_host_root: '/run/lab/a', harness_lab_address: '127.0.0.2' }, 'a grandparent group set the interpreter');
  assert.is(placeHost(lab, lab.hosts[1]!, p).vars.ansible_python_interpreter, '/usr/bin/python3');
  assert.is(placeHost({ ...lab, vars: { ansible_python_interpreter: 'auto' } }, lab.hosts[1]!, p).vars.ansible_python_interpreter, undefined);
});

test('/proc/<pid>/stat parses with spaces and parentheses in the command name', () => {
  const text = '4242 (sshd: a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n';
  assert.equal(parseProcStat(text), { pid: 4242, state: 'S', ppid: 1, pgid: 4242, startTicks: 987654 });
  assert.is(parseProcStat('garbage'), undefined);
});

test('known_hosts lines round-trip to the host key check of SFTP', () => {
  const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl harness host a';
  const line = knownHostsLine({ address: '127.0.0.3', port: 12345, publicKey: pub });
  assert.is(line, '[127.0.0.3]:12345 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl');
  assert.is(keysFor(`${line}\n`, '127.0.0.3', 12345).length, 1);
  assert.is(keysFor(`${line}\n`, '127.0.0.3', 22).length, 0);
  assert.is(keysFor(`${line}\n`, '127.0.0.4', 12345).length, 0);
});

test('the ssh check argv is exact', () => {
  assert.equal(sshCheckArgs({ address: '127.0.0.2', port: 10022, user: 'root', key: '/k', knownHosts: '/kh' }, 'true'), [
    '-F', '/dev/null', '-i', '/k', '-p', '10022',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=/kh',
    '-o', 'ConnectTimeout=10', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'LogLevel=ERROR',
    'root@127.0.0.2', 'true',
  ]);
});

test('options: defaults, and bad values name the option', () => {
  const o = resolveLocalOptions();
  assert.is(o.hostsRoot, undefined, 'by default the provider makes a folder of its own, outside the run directory');
  assert.is(resolveLocalOptions({ hostsRoot: 'rel/roots' }).hostsRoot, path.resolve('rel/roots'));
  assert.is(o.sshdPath, '/usr/sbin/sshd');
  assert.equal(o.sshdExtraConfig('a'), []);
  assert.throws(() => resolveLocalOptions({ sshdPath: 'sshd' }), (e: unknown) => e instanceof InputError && /'sshdPath' must be an absolute path/.test((e as Error).message));
  assert.throws(() => resolveLocalOptions({ concurrency: 0 }), /'concurrency' must be an integer from 1 to 64, got 0/);
  assert.throws(() => resolveLocalOptions({ concurency: 2 } as never), /unknown local provider option\(s\) 'concurency'; known: hostsRoot/);
  assert.throws(() => resolveLocalOptions({ sshdExtraConfig: [1] } as never), /'sshdExtraConfig' must be a list of sshd_config lines/);
  assert.equal(resolveLocalOptions({ sshdExtraConfig: 'A 1\nB 2' }).sshdExtraConfig('h'), ['A 1', 'B 2']);
});

test.run();
