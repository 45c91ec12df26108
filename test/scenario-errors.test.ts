import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { harness, tempDir } from './helpers/cli.js';

/** A valid scenario to break in one place each. */
const GOOD = `name: t
lab:
  provider: local
  hosts:
    web-0: { groups: [web] }
    db-0: { groups: [db], vars: { port: 5432 } }
stages:
  - name: deploy
    playbook: site.yml
    hosts: [web]
    timeout: 10m
`;

interface Case {
  name: string;
  yaml: string | Buffer;
  /** More files beside the scenario (name -> content). */
  files?: Record<string, string>;
  /** The file the (first) error names, when not the scenario: e.g. a playbook. */
  at?: string;
  /** Expected line of the (first) error. */
  line: number;
  message: RegExp;
}

const CASES: Case[] = [
  { name: 'YAML syntax error (an unclosed flow list is noticed on the next line)', yaml: GOOD.replace('  provider: local', '  provider: [local'), line: 4, message: /YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/m },
  { name: 'duplicate key', yaml: GOOD.replace('name: t\n', 'name: t\nname: u\n'), line: 2, message: /YAML: Map keys must be unique/ },
  { name: 'unknown top-level key with suggestion', yaml: GOOD + 'stagse: []\n', line: 12, message: /unknown key 'stagse' \(did you mean 'stages'\?\)/ },
  { name: 'unknown stage key with suggestion', yaml: GOOD.replace('    timeout: 10m', '    playbok: x.yml'), line: 11, message: /stages\[0\]\.playbok: unknown key 'playbok' \(did you mean 'playbook'\?\)/ },
  { name: 'bad duration', yaml: GOOD.replace('timeout: 10m', 'timeout: 10 minutes'), line: 11, message: /stages\[0\]\.timeout: A duration.*Got the string "10 minutes"/ },
  { name: 'wrong type for retries', yaml: GOOD.replace('timeout: 10m', 'retries: many'), line: 11, message: /stages\[0\]\.retries: expected a whole number, got the string "many"/ },
  { name: 'unknown provider', yaml: GOOD.replace('provider: local', 'provider: locall'), line: 3, message: /lab\.provider: expected one of local, qemu, libvirt, static, command.*did you mean 'local'/ },
  { name: 'missing stages', yaml: GOOD.slice(0, GOOD.indexOf('stages:')), line: 1, message: /missing required key 'stages'/ },
  { name: 'empty stages', yaml: GOOD.slice(0, GOOD.indexOf('stages:')) + 'stages: []\n', line: 7, message: /stages: must list at least 1 item/ },
  { name: 'stage without a name', yaml: GOOD.replace('  - name: deploy\n    playbook', '  - playbook'), line: 8, message: /stages\[0\]\.name: missing required key 'name'/ },
  { name: 'stage that does nothing', yaml: GOOD.replace('    playbook: site.yml\n', ''), line: 8, message: /stage 'deploy' does nothing: give it a 'playbook' to run, a 'run' command, or files to 'collect'/ },
  { name: 'missing playbook file', yaml: GOOD.replace('playbook: site.yml', 'playbook: nope.yml'), line: 9, message: /stages\[0\]\.playbook: no such playbook: .*nope\.yml/ },
  { name: 'duplicate stage names', yaml: GOOD + '  - name: deploy\n    playbook: site.yml\n', line: 12, message: /stage 'deploy' is already stages\[0\]/ },
  { name: 'stage hosts naming no group', yaml: GOOD.replace('hosts: [web]', 'hosts: [wbe]'), line: 10, message: /'wbe' is no group or host of the lab \(did you mean 'web'\?\)/ },
  { name: 'invalid group name', yaml: GOOD.replace('groups: [web]', 'groups: [web-servers]'), line: 5, message: /'web-servers' is not a valid group name/ },
  { name: 'invalid host var name', yaml: GOOD.replace('vars: { port: 5432 }', 'vars: { 2port: 5432 }'), line: 6, message: /'2port' is not a valid variable name/ },
  { name: 'secret with both env and a typo', yaml: GOOD + 'secrets:\n  pw: { enf: PW }\n', line: 13, message: /unknown key 'enf' \(did you mean 'env'\?\)/ },
  { name: 'static lab without inventory', yaml: GOOD.replace(/lab:[\s\S]*?stages:/, 'lab:\n  provider: static\nstages:').replace('hosts: [web]', 'hosts: [all]'), line: 2, message: /a static lab needs 'inventory'/ },
  { name: 'static lab with a missing inventory', yaml: GOOD.replace(/lab:[\s\S]*?stages:/, 'lab:\n  provider: static\n  inventory: missing.ini\nstages:').replace('hosts: [web]', 'hosts: [all]'), line: 4, message: /lab\.inventory: no such inventory: .*missing\.ini/ },
  { name: 'extends a later stage', yaml: GOOD.replace('    timeout: 10m', '    extends: later') , line: 11, message: /'later' is no earlier stage/ },
  { name: 'scenario name with a space', yaml: GOOD.replace('name: t\n', 'name: my scenario\n'), line: 1, message: /name: .*Got the string "my scenario"/ },
  { name: 'groups that contain each other', yaml: GOOD.replace('stages:', '  groups:\n    web: { children: [db] }\n    db: { children: [web] }\nstages:'), line: 8, message: /groups contain each other: web -> db -> web/ },
  { name: 'empty file', yaml: '', line: 1, message: /the file is empty/ },
  // Issue 11, items 8-10: what used to validate and then fail (or misbehave) in the run.
  { name: 'timeout beyond what a timer holds', yaml: GOOD.replace('timeout: 10m', 'timeout: 30d'), line: 11, message: /stages\[0\]\.timeout: 30d is longer than the longest timeout, 24d/ },
  { name: 'timeout of zero', yaml: GOOD.replace('timeout: 10m', 'timeout: 0s'), line: 11, message: /stages\[0\]\.timeout: a timeout of 0s would stop the stage at once/ },
  { name: 'hosts: [] (would mean all hosts)', yaml: GOOD.replace('hosts: [web]', 'hosts: []'), line: 10, message: /stages\[0\]\.hosts: an empty list would select no host.*write 'hosts: all'/ },
  {
    name: 'YAML alias bomb (billion laughs)',
    yaml: GOOD + 'vars:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n' + 'bcdefghi'.split('').map((c, i) => `  ${c}: &${c} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(', ')}]\n`).join(''),
    line: 14,
    message: /YAML: the aliases expand to more than 1,000,000 values \(an alias bomb\?\)/,
  },
  { name: 'playbook that is no playbook (/etc/passwd)', yaml: GOOD.replace('playbook: site.yml', 'playbook: ../../../../../../etc/passwd'), at: '/etc/passwd', line: 1, message: /is not a playbook: a playbook is a YAML list of plays.*\(stages\[0\]\.playbook of .*broken\.yml\)/ },
  { name: 'playbook with broken YAML', yaml: GOOD.replace('playbook: site.yml', 'playbook: pb.yml'), files: { 'pb.yml': '- hosts: all\n  tasks: [\n' }, at: 'pb.yml', line: 3, message: /YAML: Flow sequence .*\(stages\[0\]\.playbook of .*broken\.yml\)/ },
  { name: 'empty playbook', yaml: GOOD.replace('playbook: site.yml', 'playbook: pb.yml'), files: { 'pb.yml': '# nothing yet\n' }, at: 'pb.yml', line: 1, message: /the playbook is empty/ },
  { name: 'playbook whose play is no mapping', yaml: GOOD.replace('playbook: site.yml', 'playbook: pb.yml'), files: { 'pb.yml': '- hosts: all\n  tasks: []\n- just a string\n' }, at: 'pb.yml', line: 3, message: /play 2 is not a mapping/ },
  { name: 'lab.on_restore that is no playbook', yaml: GOOD.replace('  provider: local\n', '  provider: local\n  on_restore: pb.yml\n'), files: { 'pb.yml': 'hosts: all\n' }, at: 'pb.yml', line: 1, message: /is not a playbook.*\(lab\.on_restore of/ },
  { name: 'undefined child group', yaml: GOOD.replace('stages:', '  groups:\n    app: { children: [wbe] }\nstages:'), line: 8, message: /lab\.groups\.app\.children\[0\]: 'wbe' is no group of the lab \(did you mean 'web'\?\)/ },
  { name: 'unknown libvirt lab option', yaml: GOOD.replace('  provider: local\n', '  provider: libvirt\n  options:\n    memroy: 512\n'), line: 5, message: /lab\.options\.memroy: unknown libvirt lab option 'memroy' \(did you mean 'memory'\?\)/ },
  { name: 'bad libvirt uri', yaml: GOOD.replace('  provider: local\n', '  provider: libvirt\n  options:\n    uri: xen:///system\n'), line: 5, message: /lab\.options\.uri: must be 'private'/ },
  { name: 'command lab without its scripts', yaml: GOOD.replace('provider: local', 'provider: command'), line: 2, message: /lab: a command lab needs 'allocate': the path of its allocate script/ },
  { name: 'unknown local lab option', yaml: GOOD.replace('  provider: local\n', '  provider: local\n  options:\n    concurency: 2\n'), line: 5, message: /lab\.options\.concurency: unknown local lab option 'concurency' \(did you mean 'concurrency'\?\)/ },
  { name: 'bad local lab option value', yaml: GOOD.replace('  provider: local\n', '  provider: local\n  options:\n    firstAddress: 999\n'), line: 5, message: /lab\.options\.firstAddress: must be an integer from 1 to 254, got 999/ },
  { name: 'unknown qemu lab option', yaml: GOOD.replace('  provider: local\n', '  provider: qemu\n  options:\n    memroy: 1024\n'), line: 5, message: /lab\.options\.memroy: unknown qemu lab option 'memroy' \(did you mean 'memory'\?\)/ },
  { name: 'unbalanced {{ in results', yaml: GOOD + '    results: "/srv/{{ inventory_hostname/junit.xml"\n', line: 12, message: /stages\[0\]\.results: .* has a '\{\{' without its '\}\}'/ },
  { name: 'an expression in collect', yaml: GOOD + '    collect:\n      web: ["/var/log/{{ app | default(1) }}.log"]\n', line: 13, message: /stages\[0\]\.collect\.web\[0\]: .*only '\{\{ var \}\}'/ },
  { name: 'non-UTF-8 bytes', yaml: Buffer.concat([Buffer.from(GOOD.slice(0, GOOD.indexOf('web-0:'))), Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]), Buffer.from(GOOD.slice(GOOD.indexOf('web-0:') - 4))]), line: 5, message: /byte \d+ is not valid UTF-8: save the scenario file as UTF-8/ },
  { name: 'a binary file', yaml: Buffer.concat([Buffer.from('name: t\n'), Buffer.alloc(2000, 0), Buffer.from('x'.repeat(2000))]), line: 2, message: /is not a text file \(a NUL byte at byte 8\)/ },
];

for (const c of CASES) {
  test(`broken scenario: ${c.name} -> exit 2 with file:line and message, nothing written`, async () => {
    const t = await tempDir();
    try {
      await writeFile(path.join(t.dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
      const file = path.join(t.dir, 'broken.yml');
      await writeFile(file, c.yaml);
      for (const [name, text] of Object.entries(c.files ?? {})) await writeFile(path.join(t.dir, name), text);
      for (const cmd of ['validate', 'run'] as const) {
        const r = await harness([cmd, file, ...(cmd === 'run' ? ['--out', path.join(t.dir, 'out')] : [])], { cwd: t.dir });
        assert.is(r.code, 2, `${cmd}: exit code (stderr: ${r.stderr})`);
        assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
        const at = c.at ?? 'broken.yml';
        const first = r.stderr.split('\n').find((l) => l.includes(`${at}:`)) ?? '';
        assert.ok(first.includes(`${at}:${c.line}:`) || first.endsWith(`${at}:${c.line}`) || new RegExp(`${at.replace(/[.]/g, '\\.')}:${c.line}: `).test(first), `${cmd}: line ${c.line} in: ${r.stderr}`);
        assert.match(r.stderr, c.message);
        assert.ok(r.stderr.length < 2000, `${cmd}: a short error, not the file's content (${r.stderr.length} characters)`);
      }
      assert.equal((await readdir(t.dir)).sort(), ['broken.yml', 'site.yml', ...Object.keys(c.files ?? {})].sort(), 'run wrote nothing');
    } finally {
      await t.remove();
    }
  });
}

test('a device, a FIFO or a folder is refused at once, without reading it', async () => {
  const t = await tempDir();
  try {
    const fifo = path.join(t.dir, 'pipe.yml');
    execFileSync('mkfifo', [fifo]);
    for (const [file, message] of [['/dev/zero', /\/dev\/zero: is a device, not a scenario file/], [fifo, /pipe\.yml: is a FIFO \(named pipe\), not a scenario file/], [t.dir, /is a directory, not a scenario file/]] as const) {
      const r = await harness(['validate', file], { timeoutMs: 20_000 });
      assert.is(r.code, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.not.match(r.stderr, /undefined|\n\s+at /);
    }
  } finally {
    await t.remove();
  }
});

test('a missing secret names the line of its declaration', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
    const file = path.join(t.dir, 's.yml');
    await writeFile(file, GOOD + 'secrets:\n  db_password: { env: HARNESS_TEST_UNSET_SECRET }\n');
    const r = await harness(['run', file, '--out', path.join(t.dir, 'out')], { cwd: t.dir });
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /s\.yml:13:3: secrets\.db_password: secret 'db_password' comes from the environment variable HARNESS_TEST_UNSET_SECRET, which is not set/);
  } finally {
    await t.remove();
  }
});

test('host patterns Ansible accepts validate; ones that select nothing do not', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
    const file = path.join(t.dir, 'p.yml');
    const ok = ['web[0]', 'web[-1]', 'web[0:]', 'web[0:1]', '~web-[01]', 'web*', 'all', "'*'", 'web:db', 'web:&db', 'all:!db', 'web,db', '&web', '!db'];
    await writeFile(file, GOOD.replace('hosts: [web]', `hosts: [${ok.map((p) => (p.startsWith("'") ? p : JSON.stringify(p))).join(', ')}]`));
    const r = await harness(['validate', file]);
    assert.is(r.code, 0, r.stderr);
    await writeFile(file, GOOD.replace('hosts: [web]', 'hosts: ["web[5]", "~nothing-.*", "web:&nope"]'));
    const bad = await harness(['validate', file]);
    assert.is(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /p\.yml:10:\d+: stages\[0\]\.hosts\[0\]: 'web\[5\]' matches no host of the lab/);
    assert.match(bad.stderr, /stages\[0\]\.hosts\[1\]: '~nothing-\.\*' matches no host/);
    assert.match(bad.stderr, /stages\[0\]\.hosts\[2\]: 'nope' is no group or host of the lab/);
  } finally {
    await t.remove();
  }
});

test('all errors of a file come at once', async () => {
  const t = await tempDir();
  try {
    const file = path.join(t.dir, 's.yml');
    await writeFile(file, GOOD.replace('timeout: 10m', 'timeout: soon\n    retries: -1').replace('provider: local', 'provider: loca'));
    const r = await harness(['validate', file]);
    assert.is(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 3, r.stderr); // provider, timeout, retries
    assert.match(r.stderr, /s\.yml:3:\d+: lab\.provider/);
    assert.match(r.stderr, /s\.yml:11:\d+: stages\[0\]\.timeout/);
    assert.match(r.stderr, /s\.yml:12:\d+: stages\[0\]\.retries: must be at least 0/);
  } finally {
    await t.remove();
  }
});

test('the checks before the run come in one pass too: provider, options, timeout, hosts, playbook', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'empty.yml'), '');
    const file = path.join(t.dir, 's.yml');
    await writeFile(file, GOOD.replace('provider: local', 'provider: libvirt\n  options: { x: 1 }').replace('timeout: 10m', 'timeout: 30d').replace('hosts: [web]', 'hosts: []').replace('site.yml', 'empty.yml'));
    const r = await harness(['validate', file], { cwd: t.dir });
    assert.is(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 4, r.stderr); // options, timeout, hosts, the playbook
    assert.match(r.stderr, /s\.yml:4:\d+: lab\.options\.x: unknown libvirt lab option 'x'/);
    assert.match(r.stderr, /empty\.yml:1:1: the playbook is empty/);
    assert.match(r.stderr, /s\.yml:\d+:\d+: stages\[0\]\.hosts: an empty list/);
    assert.match(r.stderr, /s\.yml:\d+:\d+: stages\[0\]\.timeout: 30d is longer/);
  } finally {
    await t.remove();
  }
});

test('a valid scenario validates, and a missing file is exit 2', async () => {
  const t = await tempDir();
  try {
    await writeFile(path.join(t.dir, 'site.yml'), '- hosts: all\n  tasks: []\n');
    await writeFile(path.join(t.dir, 'ok.yml'), GOOD);
    const ok = await harness(['validate', path.join(t.dir, 'ok.yml')]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /scenario 't', 2 host\(s\), 1 stage\(s\)/);
    const missing = await harness(['validate', path.join(t.dir, 'nope.yml')]);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, /nope\.yml: no such scenario file/);
  } finally {
    await t.remove();
  }
});

test.run();
