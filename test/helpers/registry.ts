/**
 * A real OCI registry for tests: Debian's `docker-registry` (the reference distribution server)
 * on 127.0.0.1 and a free port, storing in a temp folder, optionally with basic auth (an
 * htpasswd file made with `htpasswd -B`). Stopped by pid.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A running registry. */
export interface TestRegistry {
  /** `host:port`. */
  address: string;
  /** Where the registry keeps its blobs. */
  dataDir: string;
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

/** Starts a registry; with `auth`, only that user may use it (Basic); with `token`, through a token service (Bearer). */
export async function startRegistry(opts: { auth?: { user: string; password: string }; token?: { user: string; password: string }; readonly?: boolean } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'harness-registry-'));
  let authCfg = '';
  let tokenServer: http.Server | undefined;
  if (opts.token) {
    const t = await startTokenService(dir, opts.token);
    tokenServer = t.server;
    authCfg = `auth:\n  token:\n    realm: ${t.realm}\n    service: harness-test\n    issuer: harness-test-issuer\n    rootcertbundle: ${t.cert}\n`;
  } else if (opts.auth) {
    const htpasswd = execFileSync('htpasswd', ['-Bbn', opts.auth.user, opts.auth.password], { encoding: 'utf8' });
    await writeFile(path.join(dir, 'htpasswd'), htpasswd);
    authCfg = `auth:\n  htpasswd:\n    realm: harness-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    await writeFile(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\n${opts.readonly ? '  maintenance:\n    readonly:\n      enabled: true\n' : ''}http:\n  addr: 127.0.0.1:${port}\n${authCfg}`);
    const proc: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const up = await waitUp(port, exited);
    if (up) {
      return {
        address: `127.0.0.1:${port}`,
        dataDir: path.join(dir, 'data'),
        store: (repo = 'harness/test') => `oci://127.0.0.1:${port}/${repo}`,
        async stop() {
          proc.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
          if (proc.exitCode === null) proc.kill('SIGKILL');
          await new Promise((r) => (tokenServer ? tokenServer.close(() => r(undefined)) : r(undefined)));
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

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/**
 * The token service a registry with `auth: token` sends clients to (Docker's token spec): it
 * checks Basic credentials and answers a JWT signed with a self-signed key whose certificate the
 * registry trusts (`x5c` header). Ours, in this process: the registry that verifies it is real.
 */
async function startTokenService(dir: string, user: { user: string; password: string }): Promise<{ server: http.Server; realm: string; cert: string }> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=harness-test-token'], { stdio: 'ignore' });
  const key = createPrivateKey(await readFile(keyFile));
  const der = new X509Certificate(await readFile(certFile)).raw;
  const expect = `Basic ${Buffer.from(`${user.user}:${user.password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expect) {
      res.writeHead(401).end('{"details": "bad credentials"}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const access = (url.searchParams.get('scope') ?? '').split(' ').filter(Boolean).map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }));
    const body = b64url(JSON.stringify({ iss: 'harness-test-issuer', sub: user.user, aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }));
    const sig = b64url(sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${head}.${body}.${sig}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, realm: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`, cert: certFile };
}

/** A loopback TCP proxy in front of a registry that passes at most `bytesPerSecond` each way (so a transfer takes long enough to be cut). */
export interface ThrottledProxy {
  /** `127.0.0.1:port`. */
  address: string;
  /** Bytes passed towards the registry (uploads) and back (downloads) since the start or {@link reset}. */
  readonly sent: number;
  readonly received: number;
  reset(): void;
  stop(): Promise<void>;
}

/** Starts a {@link ThrottledProxy} to `target` (`host:port`). */
export async function throttledProxy(target: string, bytesPerSecond: number): Promise<ThrottledProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const counts = { sent: 0, received: 0 };
  const sockets = new Set<net.Socket>();
  // One pipe each way, each paced on its own: a chunk passes when the bytes before it have had their time.
  const pace = (from: net.Socket, to: net.Socket, count: 'sent' | 'received'): void => {
    let due = Date.now();
    let queue = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      from.pause();
      due = Math.max(due, Date.now()) + (chunk.length / bytesPerSecond) * 1000;
      const at = due;
      queue = queue.then(() => new Promise<void>((r) => setTimeout(r, Math.max(0, at - Date.now())))).then(() => {
        counts[count] += chunk.length;
        if (!to.destroyed) to.write(chunk);
        from.resume();
      });
    });
    from.on('end', () => void queue.then(() => to.end()));
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    const up = net.connect(port, host);
    sockets.add(client).add(up);
    client.on('close', () => (sockets.delete(client), up.destroy()));
    up.on('close', () => (sockets.delete(up), client.destroy()));
    pace(client, up, 'sent');
    pace(up, client, 'received');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get sent() {
      return counts.sent;
    },
    get received() {
      return counts.received;
    },
    reset() {
      counts.sent = 0;
      counts.received = 0;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
