// `npm run build`'s second step: bundles the compiled CLI (dist/lib) with its dependencies into
// two CommonJS scripts that bin/harness runs with V8's code cache (lib/cli/code-cache.ts), so a
// command starts without resolving ~100 modules or compiling 2 MB again (BENCHMARKS.md, issue 12):
//   dist/cli/harness.cjs   the CLI (`main`)
//   dist/cli/prestart.cjs  what `harness run` loads first: the warm ansible-playbook's early start
//                          (lib/ansible/prestart.ts; its state is shared with harness.cjs's copy)
// bin/harness runs them only while they are newer than dist/lib (a later `tsc` alone makes them
// stale and bin/harness falls back to dist/lib). Packages with native parts stay outside.
// Without esbuild (an install without devDependencies) it says so and leaves dist/lib alone.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = path.join(root, 'dist', 'lib');
const out = path.join(root, 'dist', 'cli');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('bundle: esbuild is not installed (a devDependency); bin/harness runs dist/lib as compiled');
  process.exit(0);
}
rmSync(out, { recursive: true, force: true });
const bundles = { harness: path.join(lib, 'cli', 'main.js'), prestart: path.join(lib, 'ansible', 'prestart.js') };
for (const [name, entry] of Object.entries(bundles)) {
  const outfile = path.join(out, `${name}.cjs`);
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // node-pty and ssh2 load native add-ons by paths relative to their own files.
    external: ['node-pty', 'ssh2', 'ssh2-sftp-client', 'cpu-features'],
    // The sources are ES modules: import.meta.url is the bundle's own file.
    define: { 'import.meta.url': '__harnessUrl' },
    banner: { js: "const __harnessUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
    legalComments: 'none',
  });
  // A script run by vm.Script has no import(): every module must be in the bundle or required.
  const left = /(?<![\w$.])import\(\s*["'`]/.exec(readFileSync(outfile, 'utf8'));
  if (left) {
    console.error(`bundle: ${path.relative(root, outfile)} still has a dynamic import (${readFileSync(outfile, 'utf8').slice(left.index, left.index + 60)}...): import it statically, or require() it (lib/transfer/sftp.ts shows how)`);
    process.exit(1);
  }
}
