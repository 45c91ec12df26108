// The pure parts of lib/ansible: argv, ansible.cfg text and env, the event parser, the version
// parser. The cfg is also read back by the real `ansible-config` to prove Ansible sees our values.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ansibleConfig,
  ansibleEnv,
  CALLBACK_PLUGIN_DIR,
  createLineSplitter,
  parseAnsibleVersion,
  parseEventLine,
  playbookArgv,
} from '../lib/ansible/index.js';
import { InputError } from '../lib/errors.js';

const ctx = { stage: 'deploy', attempt: 2 };

test('playbookArgv: the minimal array', () => {
  assert.equal(playbookArgv({ playbook: '/p/site.yml', inventory: '/r/inv.ini' }), ['-i', '/r/inv.ini', '/p/site.yml']);
});

test('playbookArgv: every option, in the documented order', () => {
  const args = playbookArgv({
    playbook: '/p/site.yml',
    inventory: ['/r/a.ini', '/r/b.yml'],
    limit: ['web', 'db[1:3]', '!h3'],
    extraVarsFiles: ['/r/vars.yml', '/r/more vars.json'],
    extraVars: { release: '2.0', msg: "it's \"quoted\" $HOME", n: 3 },
    tags: ['deploy', 'config'],
    skipTags: ['slow'],
    verbosity: 3,
    check: true,
    diff: true,
    forks: 10,
  });
  assert.equal(args, [
    '-i', '/r/a.ini',
    '-i', '/r/b.yml',
    '--limit', 'web,db[1:3],!h3',
    '-e', '@/r/vars.yml',
    '-e', '@/r/more vars.json',
    '-e', '{"release":"2.0","msg":"it\'s \\"quoted\\" $HOME","n":3}',
    '--tags', 'deploy,config',
    '--skip-tags', 'slow',
    '-vvv',
    '--check',
    '--diff',
    '--forks', '10',
    '/p/site.yml',
  ]);
});

test('playbookArgv: empty lists and objects add nothing', () => {
  assert.equal(
    playbookArgv({ playbook: '/p.yml', inventory: 'inv', limit: [], extraVars: {}, tags: [], skipTags: [], verbosity: 0, check: false }),
    ['-i', 'inv', '/p.yml'],
  );
});

test('playbookArgv: bad values throw InputError naming the option and the value', () => {
  const cases: [Parameters<typeof playbookArgv>[0], string][] = [
    [{ playbook: 'site.yml', inventory: 'i' }, "'playbook' is \"site.yml\""],
    [{ playbook: '/s.yml', inventory: [] }, "'inventory'"],
    [{ playbook: '/s.yml', inventory: 'i', limit: ['a b'] }, "'limit' is \"a b\""],
    [{ playbook: '/s.yml', inventory: 'i', limit: ['a,b'] }, "'limit'"],
    [{ playbook: '/s.yml', inventory: 'i', tags: ['x,y'] }, "'tags'"],
    [{ playbook: '/s.yml', inventory: 'i', verbosity: 5 }, "'verbosity' is 5"],
    [{ playbook: '/s.yml', inventory: 'i', forks: 0 }, "'forks' is 0"],
  ];
  for (const [opts, text] of cases) {
    try {
      playbookArgv(opts);
      assert.unreachable(`no error for ${JSON.stringify(opts)}`);
    } catch (err) {
      assert.instance(err, InputError);
      assert.ok((err as Error).message.includes(text), (err as Error).message);
    }
  }
});

test('ansibleConfig: the text, read back by ansible-config as meant', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-cfg-'));
  try {
    const text = ansibleConfig({
      inventory: ['/r/a b.ini', '/r/x%y.ini'],
      controlPathDir: `${dir}/cp`,
      sshArgs: ['-o', 'ProxyCommand=ssh -W %h:%p jump'],
      privateKeyFile: '/r/id_ed25519',
      forks: 7,
      timeout: 12,
      callbacks: ['profile_tasks'],
    });
    assert.ok(text.includes('[defaults]\n') && text.includes('[ssh_connection]\n'));
    const file = path.join(dir, 'ansible.cfg');
    fs.writeFileSync(file, text);
    const dump = execFileSync('ansible-config', ['dump', '--only-changed', '-t', 'all'], {
      env: { ...process.env, ANSIBLE_CONFIG: file, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' },
      encoding: 'utf8',
    });
    const want = [
      "CALLBACKS_ENABLED(" + file + ") = ['harness_events', 'profile_tasks']",
      `DEFAULT_CALLBACK_PLUGIN_PATH(${file}) = ['${CALLBACK_PLUGIN_DIR}']`,
      `DEFAULT_FORKS(${file}) = 7`,
      `DEFAULT_HOST_LIST(${file}) = ['/r/a b.ini', '/r/x%y.ini']`,
      `DEFAULT_PRIVATE_KEY_FILE(${file}) = /r/id_ed25519`,
      `DEFAULT_STDOUT_CALLBACK(${file}) = default`,
      `DEFAULT_TIMEOUT(${file}) = 12`,
      `HOST_KEY_CHECKING(${file}) = False`,
      `RETRY_FILES_ENABLED(${file}) = False`,
      `control_path_dir(${file}) = ${dir}/cp`,
      `pipelining(${file}) = True`,
      `ssh_args(${file}) = -o ControlMaster=auto -o ControlPersist=5s -o 'ProxyCommand=ssh -W %h:%p jump' ` +
        `-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no`,
    ];
    for (const line of want) assert.ok(dump.includes(line), `missing ${line} in\n${dump}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ansibleConfig: a value that would not survive the INI file throws', () => {
  assert.throws(() => ansibleConfig({ inventory: '/r/inv', controlPathDir: '/tmp/a\nb' }), /control_path_dir/);
  assert.throws(() => ansibleConfig({ inventory: '/r/inv ;x', controlPathDir: '/tmp/cp' }), /inventory/);
  assert.throws(() => ansibleConfig({ inventory: '/r/inv', controlPathDir: '/tmp/cp', forks: 1.5 }), /forks/);
});

test('ansibleEnv: colours one way or the other, and what the event stream relies on', () => {
  const plain = ansibleEnv({ configFile: '/run/ansible.cfg', tty: false, controlPathDir: '/run/tmp/cp', eventsPath: '/run/tmp/ev' });
  assert.equal(plain, {
    ANSIBLE_CONFIG: '/run/ansible.cfg',
    ANSIBLE_CALLBACK_PLUGINS: CALLBACK_PLUGIN_DIR,
    ANSIBLE_CALLBACKS_ENABLED: 'harness_events',
    ANSIBLE_STDOUT_CALLBACK: 'default',
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_SSH_CONTROL_PATH_DIR: '/run/tmp/cp',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_NOCOLOR: '1',
    PYTHONUNBUFFERED: '1',
    HARNESS_EVENTS_PATH: '/run/tmp/ev',
  });
  const tty = ansibleEnv({ configFile: '/c', tty: true, controlPathDir: '/cp', callbacks: ['harness_events', 'timer'] });
  assert.is(tty.ANSIBLE_FORCE_COLOR, '1');
  assert.is(tty.ANSIBLE_NOCOLOR, '0');
  assert.is(tty.ANSIBLE_CALLBACKS_ENABLED, 'harness_events,timer');
  assert.is(tty.HARNESS_EVENTS_PATH, undefined);
});

test('parseEventLine: each kind into the typed union, stamped with stage and attempt', () => {
  const line = (o: object): string => JSON.stringify(o);
  assert.equal(parseEventLine(line({ event: 'playbook_start', time: 5, playbook: '/p.yml' }), ctx), {
    stage: 'deploy', attempt: 2, time: 5, kind: 'playbook_start', playbook: '/p.yml',
  });
  assert.equal(parseEventLine(line({ event: 'play_start', time: 6, play: 'p', play_id: 'u1', patterns: ['web', 'db'] }), ctx), {
    stage: 'deploy', attempt: 2, time: 6, kind: 'play_start', play: 'p', playId: 'u1', patterns: ['web', 'db'],
  });
  assert.equal(
    parseEventLine(line({ event: 'task_start', time: 7, play: 'p', task: 't', task_id: 'u2', action: 'command', path: '/p.yml:3', handler: true }), ctx),
    { stage: 'deploy', attempt: 2, time: 7, kind: 'task_start', play: 'p', task: 't', taskId: 'u2', action: 'command', path: '/p.yml:3', handler: true },
  );
  assert.equal(
    parseEventLine(
      line({
        event: 'host_result', time: 8, play: 'p', task: 't', task_id: 'u2', action: 'command', host: 'h1', status: 'failed',
        ignored: true, duration: 0.25, message: 'boom', item: 'a', result: { rc: 1 },
      }),
      ctx,
    ),
    {
      stage: 'deploy', attempt: 2, time: 8, kind: 'host_result', play: 'p', task: 't', taskId: 'u2', action: 'command',
      host: 'h1', status: 'failed', ignored: true, message: 'boom', duration: 0.25, item: 'a', result: { rc: 1 },
    },
  );
  const stats = parseEventLine(line({ event: 'stats', time: 9, hosts: { h1: { ok: 2, failures: 1 } }, custom: { _run: { a: 1 } } }), ctx);
  assert.equal(stats, {
    stage: 'deploy', attempt: 2, time: 9, kind: 'stats',
    hosts: { h1: { ok: 2, changed: 0, failures: 1, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 } },
    custom: { _run: { a: 1 } },
  });
  assert.equal(parseEventLine(line({ event: 'warning', time: 10, message: 'w' }), ctx), {
    stage: 'deploy', attempt: 2, time: 10, kind: 'warning', message: 'w',
  });
});

test('parseEventLine: optional fields that are absent are absent keys, not undefined ones', () => {
  const r = parseEventLine('{"event": "host_result", "time": 8, "play": "p", "task": "t", "task_id": "u", "action": "a", "host": "h", "status": "ok"}', ctx)!;
  assert.equal(Object.keys(r).sort(), ['action', 'attempt', 'duration', 'host', 'ignored', 'kind', 'play', 'stage', 'status', 'task', 'taskId', 'time']);
  const t = parseEventLine('{"event": "task_start", "time": 7, "play": "p", "task": "t", "task_id": "u", "action": "a", "path": ""}', ctx)!;
  assert.ok(!('path' in t), 'an empty path is left out');
  assert.is(JSON.stringify(r).includes('undefined'), false);
});

test('parseEventLine: unknown, malformed or incomplete lines give undefined and never throw', () => {
  const bad = [
    '',
    'not json',
    '{"event": "task_start"',
    '[1,2]',
    'null',
    '{"event": "v2_whatever", "time": 1}',
    '{"time": 1, "playbook": "/p"}',
    '{"event": "host_result", "play": "p", "task": "t", "task_id": "u", "action": "a", "host": "h", "status": "weird"}',
    '{"event": "host_result", "play": "p", "task": "t", "task_id": "u", "action": "a", "status": "ok"}',
    '{"event": "play_start", "play": "p", "play_id": "u", "patterns": "web"}',
    '{"event": "stats", "hosts": {"h1": 3}}',
  ];
  for (const line of bad) assert.is(parseEventLine(line, ctx), undefined, line);
  // a missing time is filled in with now
  const e = parseEventLine('{"event":"warning","message":"m"}', ctx);
  assert.ok(e && typeof e.time === 'number' && e.time > 1_600_000_000_000);
});

test('createLineSplitter: lines across chunks, split UTF-8, and a last unended line', () => {
  const lines: string[] = [];
  const s = createLineSplitter((l) => lines.push(l));
  const bytes = Buffer.from('ab\ncd€e\n\nf', 'utf8');
  // cut inside the 3-byte euro sign
  const cut = bytes.indexOf(0xe2) + 1;
  s.push(bytes.subarray(0, 1));
  s.push(bytes.subarray(1, cut));
  s.push(bytes.subarray(cut));
  assert.equal(lines, ['ab', 'cd€e', '']);
  s.end();
  assert.equal(lines, ['ab', 'cd€e', '', 'f']);
  s.push('x\ny');
  s.end();
  assert.equal(lines.slice(4), ['x', 'y']);
});

test('createLineSplitter: a long line over many small chunks arrives whole, once, in order with its neighbours', () => {
  const lines: string[] = [];
  const s = createLineSplitter((l) => lines.push(l));
  const long = `{"event": "warning", "message": "${'x'.repeat(300_000)}é"}`;
  const text = Buffer.from(`first\n${long}\nlast\n\nafter`, 'utf8');
  for (let i = 0; i < text.length; i += 997) s.push(text.subarray(i, i + 997));
  assert.equal(lines.length, 4);
  assert.equal([lines[0], lines[2], lines[3]], ['first', 'last', '']);
  assert.ok(lines[1] === long, 'the long line, joined');
  s.end();
  assert.equal(lines.slice(4), ['after']);
  const e = parseEventLine(lines[1]!, ctx);
  assert.is(e?.kind === 'warning' && e.message.length, 300_001);
});

test('parseAnsibleVersion: ansible-core and old ansible output', () => {
  const core = [
    'ansible-playbook [core 2.14.18]',
    '  config file = None',
    '  executable location = /usr/bin/ansible-playbook',
    '  python version = 3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0] (/usr/bin/python3)',
  ].join('\n');
  assert.equal(parseAnsibleVersion(core), { version: '2.14.18', python: '3.11.2', executable: '/usr/bin/ansible-playbook' });
  assert.equal(parseAnsibleVersion('ansible-playbook 2.9.6\n  python version = 3.8.10 (default)\n'), { version: '2.9.6', python: '3.8.10' });
  assert.is(parseAnsibleVersion('bash: command not found'), undefined);
});

test.run();
