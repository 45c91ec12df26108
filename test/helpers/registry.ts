/**
 * A real OCI registry for tests: Debian's `docker-registry` (the reference distribution server)
 * on 127.0.0.1 and a free port, storing in a temp folder, optionally with basic auth (an
 * htpasswd file made with `htpasswd -B`). Stopped by pid.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A running registry. */
export interface TestRegistry {
  /** `host:port`. */
  address: string;
  /** `oci://host:port/<repo>`. */
  store(repo?: string): string;
  stop(): Promise<void>;
}

/** Why no registry can run here, or undefined when one can. */
export function registryUnavailable(): string | undefined {
  if (!existsSync('/usr/bin/docker-registry')) return 'docker-registry is not installed (apt-get install docker-registry; scripts/system-deps.sh --registry)';
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a registry; with `auth`, only that user may use it. */
export async function startRegistry(opts: { auth?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'harness-registry-'));
  let authCfg = '';
  if (opts.auth) {
    const htpasswd = execFileSync('htpasswd', ['-Bbn', opts.auth.user, opts.auth.password], { encoding: 'utf8' });
    await writeFile(path.join(dir, 'htpasswd'), htpasswd);
    authCfg = `auth:\n  htpasswd:\n    realm: harness-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    await writeFile(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${authCfg}`);
    const proc: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const up = await waitUp(port, exited);
    if (up) {
      return {
        address: `127.0.0.1:${port}`,
        store: (repo = 'harness/test') => `oci://127.0.0.1:${port}/${repo}`,
        async stop() {
          proc.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
          if (proc.exitCode === null) proc.kill('SIGKILL');
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    proc.kill('SIGKILL');
    if (!/address already in use/i.test(err)) throw new Error(`docker-registry did not start: ${err}`);
  }
  throw new Error('docker-registry found no free port in 5 tries');
}

async function waitUp(port: number, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 100 && !gone; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false);
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
