// Builds a realistic run directory for the bundle and HTML report tests: the journal, events
// and JUnit files are written by the real sinks from a synthetic event stream; the rest
// (manifest, logs, collected files, .private/ with a key and a socket) as the engine lays them
// out. The collected files hold a canary secret unredacted, as SFTP collection fetches them.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, utimesSync, writeFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEventsSink, createJournalSink, createJUnitSink, createRedactor } from '../lib/report/index.js';
import type { RunEvent } from '../lib/model/events.js';
import { Stream } from './report-stream.js';

/** The secret of the fake run: it must appear in no bundled text file and on no page. */
export const CANARY = 'canary-S3cr3t-7f1e9b';

/** A private key as ssh-keygen writes it (not a real key). */
export const FAKE_KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBfakVrZXlGb3JUZXN0c09ubHlOb3RBUmVhbEtleUF0QWxsAAAAAAAAAAAA',
  '-----END OPENSSH PRIVATE KEY-----',
  '',
].join('\n');

/** The message of the failing task: it carries a script that must never run. */
export const HOSTILE_MESSAGE = `disk full: No space left on device <script>document.title='pwned'</script>`;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The fixture project (scenario and playbooks) the fake run ran. */
export const PROJECT = path.resolve(here, '../../test/fixtures/bundle/project');

/** The scenario file and its playbook dependencies, as the engine would hand them to packBundle. */
export const SCENARIO_FILES = ['scenarios/demo.yml', 'playbooks/deploy.yml', 'playbooks/roles/app/tasks/main.yml', 'playbooks/files/app.conf'].map((f) =>
  path.join(PROJECT, f),
);

/** A fixed mtime to check mtimes survive packing. */
export const FIXED_MTIME = new Date(Date.UTC(2024, 4, 1, 12, 30, 0));

export interface FakeRun {
  root: string;
  runId: string;
  stages: string[];
  /** Closes the socket servers behind `.private/ssh-agent.sock` and `hosts/db-0/ctl.sock`. */
  close(): Promise<void>;
}

/** Feeds the stream to the real sinks. */
async function writeRecords(root: string, events: RunEvent[]): Promise<void> {
  const redact = createRedactor([CANARY]);
  const sinks = [
    createEventsSink({ file: path.join(root, 'events.jsonl'), redact }),
    createJournalSink({ file: path.join(root, 'journal.json'), redact }),
    createJUnitSink({ file: path.join(root, 'junit.xml'), scenario: 'demo', redact }),
  ];
  for (const e of events) for (const s of sinks) s.handle(e);
  for (const s of sinks) await s.close?.();
}

const write = (file: string, data: string | Buffer, mode = 0o644) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data, { mode });
  chmodSync(file, mode);
};

/** Makes the run directory `<base>/runs/demo/<runId>/`. */
export async function makeRunDir(base: string, runId = '20240501-120000-ab12'): Promise<FakeRun> {
  const root = path.join(base, 'runs', 'demo', runId);
  mkdirSync(root, { recursive: true });
  const stages = ['base', 'deploy', 'test', 'collect'];
  const s = new Stream();
  s.runStart('demo', stages, runId);
  s.events.push({ kind: 'lab_ready', time: (s.time += 500), provider: 'local', hosts: ['web-0', 'db-0'] });
  s.stageStart('base', 0).stageEnd('base', 0, 'restored', { checkpoint: 'ck-3f2a', reason: 'inputs unchanged since checkpoint ck-3f2a', ms: 200 });
  // deploy: attempt 1 fails on web-0, attempt 2 fails again with a hostile message, db-0 is fine.
  s.stageStart('deploy', 1);
  s.taskRun('deploy', 'Gathering Facts', [{ host: 'web-0', status: 'ok' }, { host: 'db-0', status: 'ok' }]);
  s.taskRun('deploy', 'install packages', [
    { host: 'web-0', status: 'failed', message: 'Failed to download package: connection reset' },
    { host: 'db-0', status: 'changed', item: 'postgresql' },
  ]);
  s.stageEnd('deploy', 1, 'failed', { exitCode: 2, reason: 'ansible-playbook exited 2 (1 task result(s) failed or unreachable)', ms: 4000 });
  s.stageStart('deploy', 1, 2);
  s.taskRun('deploy', 'Gathering Facts', [{ host: 'web-0', status: 'ok' }, { host: 'db-0', status: 'ok' }]);
  s.taskRun('deploy', 'install packages', [{ host: 'web-0', status: 'changed' }, { host: 'db-0', status: 'ok' }]);
  s.taskRun('deploy', 'check optional cache', [{ host: 'web-0', status: 'failed', message: 'cache missing', ignored: true }]);
  s.taskRun('deploy', 'write config', [
    { host: 'web-0', status: 'failed', message: `${HOSTILE_MESSAGE} password=${CANARY}` },
    { host: 'db-0', status: 'skipped' },
  ]);
  s.taskRun('deploy', 'reach the cache node', [{ host: 'db-0', status: 'unreachable', message: 'ssh: connect to host 10.0.0.9 port 22: No route to host' }]);
  s.events.push({ kind: 'warning', time: (s.time += 10), stage: 'deploy', attempt: 2, message: 'a deprecation warning' });
  s.stageEnd('deploy', 1, 'failed', { exitCode: 2, reason: 'ansible-playbook exited 2 (2 task result(s) failed or unreachable)', ms: 9000 });
  s.stageEnd('test', 2, 'skipped', { reason: 'an earlier stage (deploy) failed', ms: 1 });
  s.stageStart('collect', 3).stageEnd('collect', 3, 'passed', { ms: 1500 });
  s.runEnd('failed', 1, 'stage deploy failed');
  await writeRecords(root, s.events);

  write(
    path.join(root, 'manifest.json'),
    `${JSON.stringify(
      {
        version: 1,
        runId,
        status: 'failed',
        exitCode: 1,
        command: ['harness', 'run', 'scenarios/demo.yml'],
        scenario: { name: 'demo', file: SCENARIO_FILES[0], sha256: 'f'.repeat(64) },
        secrets: [{ name: 'admin_password', ref: { env: 'DEMO_ADMIN_PASSWORD' } }],
        lab: { provider: 'local', hosts: [{ name: 'web-0', address: '127.0.0.2', port: 2222, groups: ['web'] }, { name: 'db-0', address: '127.0.0.3', port: 2223, groups: ['db'] }] },
        versions: { harness: '0.1.0', ansible: '2.14.18', python: '3.11.2', node: process.version },
        stages: stages.map((name) => ({ name, voting: name !== 'test' })),
      },
      null,
      2,
    )}\n`,
  );
  write(path.join(root, 'lab.json'), '{"provider":"local","hosts":[]}\n');
  write(path.join(root, 'ansible.cfg'), '[defaults]\nhost_key_checking = True\n');
  write(path.join(root, 'inventory', 'hosts.yml'), 'all:\n  hosts:\n    web-0: {}\n    db-0: {}\n');
  write(path.join(root, 'stages', '02-deploy', 'output.log'), 'PLAY [deploy] ***\nTASK [install packages] ***\nfatal: [web-0]: FAILED!\n');
  write(path.join(root, 'stages', '02-deploy', 'output.attempt2.log'), 'PLAY [deploy] ***\nTASK [write config] ***\nfatal: [web-0]: FAILED! password=********\n');
  write(path.join(root, 'stages', '02-deploy', 'extra-vars.json'), '{"release":"1.0"}\n', 0o600);
  write(path.join(root, 'stages', '04-collect', 'output.log'), 'collected 3 file(s) from web-0\n');

  // Collected files, fetched as they were on the hosts.
  const web = path.join(root, 'hosts', 'web-0');
  write(path.join(web, 'var/log/demo/app.log'), `starting\nconnecting with password ${CANARY}\nconfig: {"password": "${CANARY}"}\ndone\n`);
  utimesSync(path.join(web, 'var/log/demo/app.log'), FIXED_MTIME, FIXED_MTIME);
  write(path.join(web, 'var/log/demo/debug.log'), `before\n  key: |\n${FAKE_KEY.replace(/^/gm, '    ')}after\n`);
  write(path.join(web, 'var/log/demo/latin1.log'), Buffer.concat([Buffer.from('caf\xe9 ', 'latin1'), Buffer.from(`${CANARY}\n`)]));
  write(path.join(web, 'var/log/demo/core.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe, 0, 0]));
  write(path.join(web, 'home/demo/.ssh/id_ed25519'), FAKE_KEY, 0o600);
  write(path.join(web, 'home/demo/.ssh/id_ed25519.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests demo@web-0\n');
  write(path.join(web, 'etc/ssl/private/server.pem'), FAKE_KEY, 0o600);
  write(path.join(web, 'etc/ssh/ssh_host_ed25519_key'), FAKE_KEY, 0o600);
  write(path.join(web, 'tmp/notes.txt'), `\n${FAKE_KEY}`);
  symlinkSync('/etc', path.join(web, 'etc-link'));
  write(path.join(root, 'hosts', 'db-0', 'etc/demo/db.ini'), `[db]\nuser = demo\npassword = ${CANARY}\n`);
  execFileSync('mkfifo', [path.join(root, 'hosts', 'db-0', 'pipe')]);

  // The run's private folder: a key and a live socket.
  const priv = path.join(root, '.private');
  mkdirSync(priv, { mode: 0o700 });
  write(path.join(priv, 'id_ed25519'), FAKE_KEY, 0o600);
  const servers = [createServer(), createServer()];
  await new Promise<void>((resolve) => servers[0]!.listen(path.join(priv, 'ssh-agent.sock'), resolve));
  await new Promise<void>((resolve) => servers[1]!.listen(path.join(root, 'hosts', 'db-0', 'ctl.sock'), resolve));
  return {
    root,
    runId,
    stages,
    close: async () => {
      for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
