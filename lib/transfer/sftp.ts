/**
 * Fetching files from a host over SFTP (ssh2-sftp-client): plain paths, folders (recursively)
 * and globs, mirrored under a local folder by their remote absolute path. Symlinks found while
 * listing are never followed; nothing is written outside the local folder; sizes are bounded.
 */
import { readFile, realpath, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';
import type SftpClient from 'ssh2-sftp-client';
import { LabError } from '../errors.js';
import { localPathFor, SafeDest } from './dest.js';
import { globToRegExp, splitPattern } from './glob.js';
import { hostVerifierFrom } from './known-hosts.js';

/** How to reach the host. */
export interface SftpConnection {
  host: string;
  port: number;
  username: string;
  /** The private key; without it, what OpenSSH would try: the agent (`SSH_AUTH_SOCK`), then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`. */
  privateKeyPath?: string;
  /** A `known_hosts` file to check the host key against; without it any host key is accepted. */
  knownHostsFile?: string;
}

/** Limits and cancellation of {@link fetchFiles}. */
export interface FetchOptions {
  /** Files larger than this are skipped. @default 268435456 (256 MiB) */
  maxFileBytes?: number;
  /** Files that would take the total past this are skipped. @default 1073741824 (1 GiB) */
  maxTotalBytes?: number;
  /**
   * How long connecting and the SSH handshake may take (a silent server is dropped after ~30 s of
   * keepalives). An emulated VM on a busy machine takes 20-40 s for a handshake. @default 90000
   */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

/** What {@link fetchFiles} did. */
export interface FetchResult {
  /** Each file written, with its remote path, local path and size. */
  fetched: { remote: string; local: string; bytes: number }[];
  /** Patterns that named nothing (a plain path that does not exist, or a glob with no match). */
  missing: string[];
  /** What was found but not fetched, and why (symlink, too large, not a regular file, an error). */
  skipped: { remote: string; reason: string }[];
}

type Entry = { type: string; name: string; size: number };

/** One fetch: the connection, the local folder, the budget and what happened. */
class Fetcher {
  readonly result: FetchResult = { fetched: [], missing: [], skipped: [] };
  private total = 0;
  private readonly seen = new Set<string>();
  closed = false;

  constructor(
    private readonly client: SftpClient,
    private readonly destDir: string,
    private readonly dest: SafeDest,
    private readonly maxFile: number,
    private readonly maxTotal: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  private skip(remote: string, reason: string): void {
    this.result.skipped.push({ remote, reason });
  }

  /** Per-file failures are recorded; a lost connection or an abort is thrown. */
  private failed(remote: string, err: unknown): void {
    this.signal?.throwIfAborted();
    if (this.closed) throw err;
    this.skip(remote, (err as Error).message);
  }

  /** One plain pattern: followed if it is a symlink (the caller named it). */
  async plain(remote: string): Promise<void> {
    let stat;
    try {
      stat = await this.client.stat(remote);
    } catch (err) {
      this.signal?.throwIfAborted();
      if (this.closed) throw err;
      const kind = await this.client.exists(remote).catch(() => false);
      if (kind === 'l') this.skip(remote, 'a symlink to nothing');
      else if (kind) this.skip(remote, (err as Error).message);
      else this.result.missing.push(remote);
      return;
    }
    if (stat.isDirectory) await this.dir(remote);
    else if (stat.isFile) await this.file(remote, stat.size);
    else this.skip(remote, 'not a regular file or folder');
  }

  /** A glob: lists from its plain base folder down, as deep as the glob reaches. */
  async glob(pattern: string): Promise<void> {
    const { base, globSegments } = splitPattern(pattern);
    const re = globToRegExp(pattern);
    const depth = globSegments.includes('**') ? Infinity : globSegments.length;
    // The plain folder the pattern names is followed like a plain pattern.
    const baseIsDir = await this.client.stat(base).then((s) => s.isDirectory, () => false);
    if (!baseIsDir) {
      this.result.missing.push(pattern);
      return;
    }
    const before = this.result.fetched.length + this.result.skipped.length;
    const emptyDirs: string[] = [];
    const walk = async (dir: string, level: number): Promise<void> => {
      for (const e of await this.list(dir)) {
        const full = path.posix.join(dir, e.name);
        const hit = re.test(full);
        if (e.type === 'l') {
          if (hit) await this.symlink(full);
        } else if (e.type === 'd') {
          if (hit) {
            const n = this.result.fetched.length;
            await this.dir(full);
            if (this.result.fetched.length === n) emptyDirs.push(full);
          } else if (level < depth) await walk(full, level + 1);
        } else if (hit) {
          if (e.type === '-') await this.file(full, e.size);
          else this.skip(full, 'not a regular file or folder');
        }
      }
    };
    await walk(base, 1);
    if (this.result.fetched.length + this.result.skipped.length === before && !emptyDirs.length) this.result.missing.push(pattern);
  }

  /** A folder, recursively; its own local folder is made even when empty. */
  async dir(remote: string): Promise<void> {
    if (this.seen.has(`${remote}/`)) return;
    this.seen.add(`${remote}/`);
    try {
      await this.dest.mkdir(remote);
    } catch (err) {
      this.skip(remote, (err as Error).message);
      return;
    }
    for (const e of await this.list(remote)) {
      const full = path.posix.join(remote, e.name);
      if (e.type === 'l') await this.symlink(full);
      else if (e.type === 'd') await this.dir(full);
      else if (e.type === '-') await this.file(full, e.size);
      else this.skip(full, 'not a regular file or folder');
    }
  }

  private async list(dir: string): Promise<Entry[]> {
    this.signal?.throwIfAborted();
    try {
      const list = (await this.client.list(dir)) as Entry[];
      return list.filter((e) => e.name !== '.' && e.name !== '..' && !e.name.includes('/'));
    } catch (err) {
      this.failed(dir, err);
      return [];
    }
  }

  private async symlink(remote: string): Promise<void> {
    const target = await this.client.realPath(remote).catch(() => '');
    this.skip(remote, `a symlink${target ? ` to ${target}` : ''}: not followed`);
  }

  private async file(remote: string, size: number): Promise<void> {
    this.signal?.throwIfAborted();
    if (this.seen.has(remote)) return;
    this.seen.add(remote);
    if (size > this.maxFile) return this.skip(remote, `${size} bytes, more than maxFileBytes (${this.maxFile})`);
    if (this.total + size > this.maxTotal) return this.skip(remote, `${size} bytes would pass maxTotalBytes (${this.maxTotal}; ${this.total} fetched)`);
    const local = localPathFor(this.destDir, remote);
    let bytes = 0;
    try {
      // The stream owns the file handle and closes it when it ends or fails.
      const out = (await this.dest.open(remote)).createWriteStream();
      const closed = once(out, 'close').catch(() => {});
      try {
        if (size > 0) {
          // Read what the file held when listed: a log that grows meanwhile stays in budget.
          const input = this.client.createReadStream(remote, { start: 0, end: size - 1 });
          input.on('data', (chunk: Buffer) => (bytes += chunk.length));
          await pipeline(input, out, this.signal ? { signal: this.signal } : {});
        } else await new Promise<void>((resolve, reject) => out.once('error', reject).end(resolve));
      } finally {
        if (!out.destroyed && !out.writableFinished) out.destroy();
        await closed;
      }
    } catch (err) {
      this.failed(remote, err);
      return;
    }
    this.total += bytes;
    this.result.fetched.push({ remote, local, bytes });
  }
}

/** The OpenSSH client's default identities, tried in this order when no key is named. */
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** How ssh2 logs in: the named key, else the agent and the default identities that exist (one auth method each). */
async function authOf(conn: SftpConnection, where: string): Promise<Record<string, unknown>> {
  if (conn.privateKeyPath) {
    try {
      return { privateKey: await readFile(conn.privateKeyPath) };
    } catch (err) {
      throw new LabError(`cannot read the SSH key ${conn.privateKeyPath} to fetch files from ${where}: ${(err as Error).message}`, { cause: err });
    }
  }
  const agent = process.env.SSH_AUTH_SOCK;
  const methods: Record<string, unknown>[] = agent ? [{ type: 'agent', username: conn.username, agent }] : [];
  for (const name of DEFAULT_IDENTITIES) {
    const key = await readFile(path.join(os.homedir(), '.ssh', name)).catch(() => undefined);
    if (key) methods.push({ type: 'publickey', username: conn.username, key });
  }
  if (!methods.length) {
    throw new LabError(`no SSH key to fetch files from ${where}: give the host ansible_ssh_private_key_file, or the lab an ssh_key option (lab.options.ssh_key), or run an ssh-agent`);
  }
  return { ...(agent ? { agent } : {}), authHandler: methods };
}

/**
 * Fetches `patterns` from a host into `destDir`, each file at `destDir` + its remote absolute
 * path. A pattern is a file, a folder (fetched recursively) or a glob (`*`, `?`, `[...]`,
 * `**`); relative patterns are taken from the login's home folder. A plain pattern that is a
 * symlink is followed; symlinks met while listing are skipped. What does not exist goes in
 * `missing`; connection failures throw LabError naming the host.
 */
export async function fetchFiles(conn: SftpConnection, patterns: string[], destDir: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const where = `${conn.username}@${conn.host}:${conn.port}`;
  let fetcher: Fetcher | undefined;
  // Loaded here, not at start-up: ssh2 and its crypto cost every `harness run` ~0.1 s otherwise.
  // A require, not an import(): the CLI's bundle runs as a script (bin/harness), where import() is not available.
  const Client = createRequire(import.meta.url)('ssh2-sftp-client') as typeof SftpClient;
  const client = new Client('harness-fetch', {
    error: () => {},
    end: () => void (fetcher && (fetcher.closed = true)),
    close: () => void (fetcher && (fetcher.closed = true)),
  });
  const onAbort = () => void client.end().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const auth = await authOf(conn, where);
    const hostVerifier = conn.knownHostsFile ? await hostVerifierFrom(conn.knownHostsFile, conn.host, conn.port) : undefined;
    try {
      await client.connect({
        host: conn.host,
        port: conn.port,
        username: conn.username,
        ...auth,
        readyTimeout: opts.connectTimeoutMs ?? 90_000,
        // A server that stops answering mid-transfer is dropped after ~30 s.
        keepaliveInterval: 5_000,
        keepaliveCountMax: 6,
        ...(hostVerifier ? { hostVerifier } : {}),
      });
    } catch (err) {
      signal?.throwIfAborted();
      throw new LabError(`cannot open SFTP to ${where}: ${(err as Error).message}`, { cause: err });
    }
    await mkdir(destDir, { recursive: true });
    const realDest = await realpath(destDir);
    fetcher = new Fetcher(client, destDir, new SafeDest(realDest), opts.maxFileBytes ?? 256 * 2 ** 20, opts.maxTotalBytes ?? 2 ** 30, signal);
    const home = patterns.some((p) => !p.startsWith('/')) ? await client.realPath('.') : '/';
    for (const p of patterns) {
      signal?.throwIfAborted();
      const remote = path.posix.resolve(home, p);
      try {
        if (splitPattern(remote).globSegments.length) await fetcher.glob(remote);
        else await fetcher.plain(remote);
      } catch (err) {
        signal?.throwIfAborted();
        throw new LabError(`fetching '${p}' from ${where} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    return fetcher.result;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}
