/**
 * `lab.authorized_keys`: a file of SSH public keys, one per line as in `authorized_keys`
 * (optional options first, then the key type, the base64 blob and a comment). Checked at load;
 * added to every host, idempotently, before the first stage (lib/engine/ready.ts).
 */
import { execFile } from 'node:child_process';
import pLimit from 'p-limit';
import { LabError } from '../errors.js';
import { shellQuote } from '../util/shell.js';
import { hostVar } from './connection.js';
import type { AllocatedLab } from './provider.js';
import { sshArgv } from './validate-hosts.js';

/** The key types OpenSSH accepts in authorized_keys. */
const KEY_TYPE = /^(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(-cert-v01@openssh\.com)?$/;

/** What a keys file holds: the key lines (trimmed, in order, each once) and the lines that are none. */
export interface ParsedKeys {
  keys: string[];
  problems: { line: number; message: string }[];
}

/** Splits an authorized_keys line into words, keeping quoted option values (`command="a b"`) whole. */
function words(line: string): string[] {
  return line.match(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g) ?? [];
}

/** Parses a keys file (pure): blank lines and `#` comments are skipped, anything else must be a public key. */
export function parseAuthorizedKeys(text: string): ParsedKeys {
  const out: ParsedKeys = { keys: [], problems: [] };
  const lines = text.split(/\r?\n/);
  // A private key is named once, and no line of it is ever shown.
  const privateAt = lines.findIndex((l) => /PRIVATE KEY/.test(l));
  if (privateAt >= 0) return { keys: [], problems: [{ line: privateAt + 1, message: 'this file holds a private key: give the public half (the .pub file), never a private key' }] };
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const w = words(line);
    const at = w.findIndex((x) => KEY_TYPE.test(x));
    const blob = at >= 0 ? w[at + 1] : undefined;
    if (at < 0 || !blob || !/^[A-Za-z0-9+/]+={0,3}$/.test(blob)) {
      // The line is not shown: a file named by mistake may hold a secret.
      out.problems.push({ line: i + 1, message: "is no SSH public key: each line is '[options] TYPE BASE64 [comment]', e.g. the content of ~/.ssh/id_ed25519.pub" });
      return;
    }
    if (!out.keys.includes(line)) out.keys.push(line);
  });
  return out;
}

/** The key blob (base64) of a parsed key line: what makes two lines the same key, whatever their comments or options. */
export function keyBlob(line: string): string {
  const w = words(line);
  return w[w.findIndex((x) => KEY_TYPE.test(x)) + 1] ?? line;
}

/**
 * Runs on the host through `sh -c`: appends each key whose blob the file lacks (stdin: a blob
 * line, then its key line, per key), making the folder (0700) and file (0600) if needed;
 * prints `added=N had=M`. `$1` is the file, default the login's `~/.ssh/authorized_keys`.
 */
const ADD_KEYS_SCRIPT = [
  'set -e',
  'f=${1:-$HOME/.ssh/authorized_keys}',
  'umask 077',
  'mkdir -p "$(dirname "$f")"',
  '[ -e "$f" ] || : > "$f"',
  'if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >> "$f"; fi',
  'added=0; had=0',
  'while IFS= read -r b && IFS= read -r k; do',
  '  if grep -qF -- "$b" "$f"; then had=$((had+1)); else printf "%s\\n" "$k" >> "$f"; added=$((added+1)); fi',
  'done',
  'echo "added=$added had=$had"',
].join('\n');

/** What {@link addAuthorizedKeys} did on one host. */
export interface KeysAdded {
  host: string;
  /** The file the keys went to (as given to the host; `~/.ssh/authorized_keys` when the default). */
  file: string;
  added: number;
  had: number;
}

/** Options of {@link addAuthorizedKeys}. */
export interface AddKeysOptions {
  signal?: AbortSignal;
  /** Hosts done at once. @default 8 */
  concurrency?: number;
}

/**
 * Adds `keys` (lines {@link parseAuthorizedKeys} returned) to the connecting user's authorized_keys
 * on every host of `lab`, over SSH as Ansible logs in: the file the provider names
 * (`authorizedKeysFiles`), else the host var `harness_authorized_keys_file`, else
 * `~/.ssh/authorized_keys`. A key already there (same blob) is not added again. Throws a
 * LabError naming every host where it failed.
 */
export async function addAuthorizedKeys(lab: AllocatedLab, keys: string[], opts: AddKeysOptions = {}): Promise<KeysAdded[]> {
  const limit = pLimit(opts.concurrency ?? 8);
  const input = keys.map((k) => `${keyBlob(k)}\n${k}\n`).join('');
  const failed: string[] = [];
  const done = await Promise.all(
    lab.lab.hosts.map((host) =>
      limit(async (): Promise<KeysAdded | undefined> => {
        const own = lab.authorizedKeysFiles?.[host.name] ?? hostVar(lab.lab, host, 'harness_authorized_keys_file');
        const file = typeof own === 'string' && own ? own : '';
        const argv = sshArgv(host, lab, `sh -c ${shellQuote(ADD_KEYS_SCRIPT)} harness-keys ${file ? shellQuote(file) : "''"}`);
        const r = await sshWithInput(argv, input, opts.signal);
        const m = /added=(\d+) had=(\d+)/.exec(r.stdout);
        if (r.code === 0 && m) return { host: host.name, file: file || '~/.ssh/authorized_keys', added: Number(m[1]), had: Number(m[2]) };
        failed.push(`  ${host.name}: ${lastLine(r.stderr) || `ssh exited ${r.code}`}`);
        return undefined;
      }),
    ),
  );
  opts.signal?.throwIfAborted();
  if (failed.length) throw new LabError(`lab.authorized_keys: the keys could not be added on ${failed.length} host(s):\n${failed.sort().join('\n')}`);
  return done.filter((d): d is KeysAdded => !!d);
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter((l) => !l.startsWith('Warning: Permanently added')).pop() ?? '';
}

/** Runs `ssh argv` with `input` on its stdin; resolves with its exit code and output. */
function sshWithInput(argv: string[], input: string, signal?: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('ssh', argv, { timeout: 60_000, ...(signal ? { signal } : {}), encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : null) : 0;
      resolve({ code, stdout: `${stdout}`, stderr: `${stderr}${err && !stderr ? err.message : ''}` });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}
