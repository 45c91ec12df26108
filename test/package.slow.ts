// The package as a user gets it: `npm pack` of a copy of the checkout (its prepack builds), the
// tarball installed into a scratch project in a temporary folder (no checkout beside it; the
// dependencies come from the npm cache, else the registry), then, there: the README's library
// example (as a script: bad input, then a real run whose events come from the packaged callback
// plugin), the same example type-checked as TypeScript against the published .d.ts, and
// `npx harness --help`. Slow (a full build and a native build of node-pty): `npm run
// test:package`, run by .ci/run, not part of `npm test`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';

const test = suite('package: npm pack, install, use');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: unknown }).code as number | null) ?? 1 : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}
const show = (r: Ran): string => `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;

/** The README's library example: the first ```ts block after `## Library`. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const m = /^## Library\n[\s\S]*?^```ts\n([\s\S]*?)^```$/m.exec(readme);
  assert.ok(m, 'README.md has a ```ts block under ## Library');
  return m![1]!;
}

let tmp: string;
let app: string;
let tarball: string;
let packed: string[];
/** The environment of the scratch project: no DEMO_ADMIN_PASSWORD, a cache folder of its own. */
let env: NodeJS.ProcessEnv;

test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-package-'));
  // A copy of what git tracks (what a clone has), with the checkout's node_modules for the build.
  const src = path.join(tmp, 'src');
  await mkdir(src);
  const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: PACKAGE_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of tracked) {
    if (f === 'node_modules') continue;
    await cp(path.join(PACKAGE_ROOT, f), path.join(src, f), { recursive: true, dereference: false, errorOnExist: false }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // a file deleted in the worktree but not yet in git
    });
  }
  await symlink(await realpath(path.join(PACKAGE_ROOT, 'node_modules')), path.join(src, 'node_modules'));
  const pack = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: src });
  assert.is(pack.code, 0, `npm pack failed:\n${show(pack)}`);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(tmp, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path).sort();

  app = path.join(tmp, 'app');
  await mkdir(app);
  // A project of a user's own: allows the install scripts of the native modules, as npm asks.
  await writeFile(path.join(app, 'package.json'), `${JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true, type: 'module', allowScripts: { 'node-pty': true, ssh2: true, 'cpu-features': true } }, null, 2)}\n`);
  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app });
  assert.is(install.code, 0, `npm install of the tarball failed:\n${show(install)}`);
  // What the README example loads, relative to where it runs (a user's own scenarios would be there).
  for (const dir of ['scenarios', 'playbooks', 'inventories']) await cp(path.join(src, dir), path.join(app, dir), { recursive: true });
  await rm(src, { recursive: true, force: true });
  env = { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'cache') };
  delete env.DEMO_ADMIN_PASSWORD;
});

test.after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the tarball holds the build, the CLI and the callback plugin, and no tests, sources or maps', () => {
  for (const f of ['package.json', 'README.md', 'bin/harness', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js', 'lib/ansible/plugins/harness_events.py']) assert.ok(packed.includes(f), `${f} is in the tarball`);
  const stray = packed.filter((f) => /^(test|bench|scripts|dist\/test|dist\/bench)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
  assert.equal(stray, []);
});

test('the README example, run as a script: bad input is a message and exit 2, no stack', async () => {
  await writeFile(path.join(app, 'example.mjs'), await readmeExample());
  const r = await run(process.execPath, ['example.mjs'], { cwd: app, env });
  assert.is(r.code, 2, show(r));
  assert.match(r.stderr, 'DEMO_ADMIN_PASSWORD');
  assert.not.match(r.stderr, /^\s+at /m, `no stack trace:\n${r.stderr}`);
});

test('the README example on a static lab: a real run through the installed package and its callback plugin', async () => {
  const example = (await readmeExample()).replace("'scenarios/demo.yml'", "'scenarios/smoke-static.yml'");
  await writeFile(path.join(app, 'example-static.mjs'), example);
  const r = await run(process.execPath, ['example-static.mjs'], { cwd: app, env });
  assert.is(r.code, 0, show(r));
  const runs = path.join(app, 'runs', 'smoke-static');
  const [runId] = await readdir(runs);
  assert.ok(runId, `a run directory under ${runs}`);
  const runDir = runId!;
  const events = (await readFile(path.join(runs, runDir!, 'events.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; host?: string });
  const hostResults = events.filter((e) => e.kind === 'host_result');
  // smoke-static: 2 stages, 4 tasks on 3 hosts, then on db-1: the plugin reported every result
  assert.is(hostResults.length, 4 * 3 + 4, `host_result events from the packaged plugin: ${[...new Set(events.map((e) => e.kind))].join(', ')}`);
  const cfg = await readFile(path.join(runs, runDir!, 'ansible.cfg'), 'utf8');
  assert.match(cfg, path.join(app, 'node_modules', 'ansible-harness', 'lib', 'ansible', 'plugins'));
});

test('the README example type-checks as TypeScript against the published .d.ts (strict, no skipLibCheck)', async () => {
  await writeFile(path.join(app, 'example.ts'), await readmeExample());
  await writeFile(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false }, files: ['example.ts'] }),
  );
  const tsc = path.join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, env });
  assert.is(r.code, 0, show(r));
});

test('npx harness --help runs the installed CLI', async () => {
  const r = await run('npx', ['--no-install', 'harness', '--help'], { cwd: app, env });
  assert.is(r.code, 0, show(r));
  for (const cmd of ['run', 'plan', 'validate', 'inventory']) assert.match(r.stdout, new RegExp(`harness ${cmd}\\b`));
});

test.run();
