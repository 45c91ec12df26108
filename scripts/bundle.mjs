// `npm run build`'s second step: bundles the compiled CLI (dist/lib/cli/main.js) with its
// dependencies into dist/cli/ (one ES module per lazily imported command, shared chunks), so
// `harness` starts without resolving and compiling ~300 module files (BENCHMARKS.md, issue 12).
// bin/harness runs the bundle only while it is newer than dist/lib (a later `tsc` alone makes it
// stale and bin/harness falls back to dist/lib). Packages with native parts stay outside.
// Without esbuild (an install without devDependencies) it says so and leaves dist/lib alone.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'cli');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('bundle: esbuild is not installed (a devDependency); bin/harness runs dist/lib as compiled');
  process.exit(0);
}
rmSync(out, { recursive: true, force: true });
await esbuild.build({
  // prestart: what bin/harness loads first for `harness run` (lib/ansible/prestart.ts); its code is
  // shared with main's through the chunks, so both see the same module.
  entryPoints: { main: path.join(root, 'dist', 'lib', 'cli', 'main.js'), prestart: path.join(root, 'dist', 'lib', 'ansible', 'prestart.js') },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // node-pty and ssh2 load native add-ons by paths relative to their own files.
  external: ['node-pty', 'ssh2', 'ssh2-sftp-client', 'cpu-features'],
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __harnessRequire } from 'node:module'; const require = __harnessRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});
