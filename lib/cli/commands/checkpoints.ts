import path from 'node:path';
import type { Command } from '../command.js';
import type { CliIO } from '../io.js';
import { InputError } from '../../errors.js';
import { parseDuration } from '../../scenario/duration.js';
import type { CheckpointInfo } from '../../checkpoint/index.js';
import { formatSize, parseSize } from '../../checkpoint/bytes.js';

/** The store, loaded on demand (`harness --help` stays fast). */
const openStore = async (root: string) => (await import('../../checkpoint/store.js')).openStore(root);

/** `12s`, `5m`, `3h`, `20d`: an age for a table. */
function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function table(rows: string[][]): string {
  const width = rows.reduce((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), [] as number[]);
  return rows.map((r) => `${r.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd()}\n`).join('');
}

const label = (i: CheckpointInfo): string => `${i.key} (${i.scenario}/${i.stage})`;

/** One checkpoint in `checkpoints list --json` (docs/cli-json.md). */
interface CheckpointJson {
  scenario: string;
  stage: string;
  key: string;
  /** Bytes on disk of its files when saved. */
  sizeBytes: number;
  created: string;
  /** ISO time, or null when no run used it yet. */
  lastUsed: string | null;
  run: string | null;
  dir: string;
  /** Every scenario and stage that saved or restored it, the one that saved it first (checkpoints are shared by key). */
  usedBy: { scenario: string; stage: string }[];
}

async function list(io: CliIO, root: string, json: boolean): Promise<number> {
  const infos = await (await openStore(root)).list();
  if (json) {
    const checkpoints: CheckpointJson[] = infos.map((i) => ({
      scenario: i.scenario,
      stage: i.stage,
      key: i.key,
      sizeBytes: i.size,
      created: i.created,
      lastUsed: i.lastUsed === i.created ? null : i.lastUsed,
      run: i.run ?? null,
      dir: i.dir,
      usedBy: i.uses,
    }));
    io.out(`${JSON.stringify({ version: 1, root, checkpoints }, null, 2)}\n`);
    return 0;
  }
  if (!infos.length) {
    io.out(`no checkpoints in ${root}\n`);
    return 0;
  }
  const now = Date.now();
  const rows = [['SCENARIO', 'STAGE', 'KEY', 'SIZE', 'AGE', 'LAST USED']];
  for (const i of infos) {
    const used = i.lastUsed === i.created ? 'never' : `${formatAge(now - Date.parse(i.lastUsed))} ago`;
    rows.push([i.scenario, i.stage, i.key, formatSize(i.size), formatAge(i.ageMs), used]);
    // A checkpoint shared by key: the other scenarios and stages that use it, one row each.
    for (const u of i.uses.slice(1)) rows.push([`  + ${u.scenario}`, u.stage, '', '', '', '']);
  }
  io.out(table(rows));
  io.out(`${infos.length} checkpoint${infos.length === 1 ? '' : 's'} in ${root}\n`);
  return 0;
}

async function prune(args: Record<string, unknown>, io: CliIO, root: string): Promise<number> {
  const olderText = args.olderThan as string | undefined;
  const sizeText = args.maxSize as string | undefined;
  if (olderText === undefined && sizeText === undefined) throw new InputError('checkpoints prune: say what to remove: --older-than 20d and/or --max-size 20G');
  const olderThanMs = olderText === undefined ? undefined : parseDuration(olderText);
  if (olderText !== undefined && olderThanMs === undefined) throw new InputError(`--older-than ${olderText}: not a duration; use a number and a unit, e.g. 20d, 12h, 90m`);
  const maxSizeBytes = sizeText === undefined ? undefined : parseSize(sizeText);
  if (sizeText !== undefined && maxSizeBytes === undefined) throw new InputError(`--max-size ${sizeText}: not a size; use a number and a unit, e.g. 500M, 20G, 1T (binary: 1G = 1024M)`);
  const r = await (await openStore(root)).prune({ olderThanMs, maxSizeBytes });
  for (const i of r.removed) io.out(`removed ${label(i)}: freed ${formatSize(i.freedBytes)}\n`);
  for (const s of r.skipped) io.out(`kept ${label(s.info)}: ${s.reason}\n`);
  for (const p of r.leftovers) io.out(`removed leftover ${p}\n`);
  io.out(`freed ${formatSize(r.freedBytes)} in all; the store holds ${formatSize(r.totalBytes)}\n`);
  return 0;
}

async function remove(args: Record<string, unknown>, io: CliIO, root: string): Promise<number> {
  const key = args.key as string | undefined;
  if (!key) throw new InputError('checkpoints delete: name the key to delete (see: harness checkpoints list)');
  const { info, freedBytes } = await (await openStore(root)).delete(key);
  io.out(`deleted ${label(info)}; freed ${formatSize(freedBytes)}\n`);
  return 0;
}

/** The remote store of `--store` (or HARNESS_CHECKPOINT_STORE, or the config file). */
async function remoteStore(args: Record<string, unknown>, io: CliIO, what: string) {
  const options = (await import('../../store/config.js')).resolveStore(args, io.env);
  if (!options) throw new InputError(`checkpoints ${what}: name the store: --store oci://HOST[:PORT]/REPOSITORY (or HARNESS_CHECKPOINT_STORE, or checkpoint_store in .ansible-harness.yml)`);
  return (await import('../../store/remote.js')).openRemoteStore(options);
}

/** `list --remote`: the checkpoints the remote store holds. */
async function listRemote(args: Record<string, unknown>, io: CliIO): Promise<number> {
  const remote = await remoteStore(args, io, 'list --remote');
  const infos: CheckpointInfo[] = [];
  for (const key of (await remote.keys()).sort()) {
    const info = await remote.describe(key).catch((err: Error) => {
      io.err(`harness: warning: ${remote.url}:${key}: ${err.message}\n`);
      return undefined;
    });
    if (info) infos.push(info);
  }
  infos.sort((a, b) => a.scenario.localeCompare(b.scenario) || a.created.localeCompare(b.created));
  if (args.json) {
    io.out(`${JSON.stringify({ version: 1, store: remote.url, checkpoints: infos.map((i) => ({ scenario: i.scenario, stage: i.stage, key: i.key, sizeBytes: i.size, created: i.created, run: i.run ?? null })) }, null, 2)}\n`);
    return 0;
  }
  const rows = [['SCENARIO', 'STAGE', 'KEY', 'SIZE', 'AGE']];
  for (const i of infos) rows.push([i.scenario, i.stage, i.key, formatSize(i.size), formatAge(i.ageMs)]);
  if (infos.length) io.out(table(rows));
  io.out(`${infos.length} checkpoint${infos.length === 1 ? '' : 's'} in ${remote.url}\n`);
  return 0;
}

/** `push KEY` / `pull KEY`: one checkpoint between the local cache and the remote store. */
async function transfer(action: 'push' | 'pull', args: Record<string, unknown>, io: CliIO, root: string): Promise<number> {
  const key = args.key as string | undefined;
  if (!key) throw new InputError(`checkpoints ${action}: name the key (see: harness checkpoints list${action === 'pull' ? ' --remote' : ''})`);
  const remote = await remoteStore(args, io, action);
  const local = await openStore(root);
  const t0 = Date.now();
  if (action === 'push') {
    const all = await local.list();
    const hits = all.filter((i) => i.key.startsWith(key));
    if (hits.length !== 1) throw new InputError(`checkpoints push ${key}: ${hits.length ? `matches ${hits.length} checkpoints; give more of the key` : `no checkpoint in ${root} has that key (see: harness checkpoints list)`}`);
    const s = await remote.push(hits[0]!);
    io.out(`pushed ${label(hits[0]!)} to ${remote.url}: ${s.moved} of ${s.blobs} blobs sent (${formatSize(s.movedBytes)}; ${formatSize(s.reusedBytes)} the registry had) in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    return 0;
  }
  const keys = (await remote.keys()).filter((k) => k.startsWith(key));
  if (keys.length !== 1) throw new InputError(`checkpoints pull ${key}: ${keys.length ? `matches ${keys.length} checkpoints; give more of the key` : `${remote.url} holds no checkpoint with that key (see: harness checkpoints list --remote)`}`);
  const got = await remote.pull(keys[0]!, local);
  if (!got) throw new InputError(`checkpoints pull ${key}: it left ${remote.url} meanwhile`);
  io.out(`pulled ${label(got.info)} from ${remote.url}: ${got.stats.moved} blobs, ${formatSize(got.stats.movedBytes)} in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  return 0;
}

const checkpoints: Command = {
  command: 'checkpoints <action> [key]',
  describe: 'List, prune or delete the stored checkpoints',
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ['list', 'prune', 'delete', 'push', 'pull'], describe: 'list | prune | delete | push | pull' })
      .positional('key', { type: 'string', describe: 'The key to delete, push or pull (or a unique prefix of it)' })
      .option('remote', { type: 'boolean', default: false, describe: 'list: the checkpoints of the remote store (--store)' })
      .option('store', { type: 'string', requiresArg: true, describe: 'oci://HOST[:PORT]/REPOSITORY (else HARNESS_CHECKPOINT_STORE or checkpoint_store in .ansible-harness.yml)' })
      .option('store-auth', { type: 'string', requiresArg: true, describe: 'Registry credentials file' })
      .option('store-key', { type: 'string', requiresArg: true, describe: 'The key file the checkpoints are encrypted with' })
      .option('store-ca', { type: 'string', requiresArg: true, describe: "The registry's CA certificate (PEM)" })
      .option('store-insecure', { type: 'boolean', describe: 'Plain HTTP to a registry on loopback (tests)' })
      .option('older-than', { type: 'string', describe: 'prune: remove checkpoints not used for this long (e.g. 20d, 12h)' })
      .option('max-size', { type: 'string', describe: 'prune: remove least recently used ones until the store holds at most this (e.g. 20G, 500M)' })
      .option('json', { type: 'boolean', default: false, describe: 'list: print the checkpoints as JSON (docs/cli-json.md)' })
      .example('harness checkpoints list', 'scenario, stage, key, size, age and last use of each checkpoint')
      .example('harness checkpoints prune --older-than 20d', 'remove checkpoints unused for 20 days')
      .example('harness checkpoints prune --max-size 20G', 'remove least recently used checkpoints down to 20 GiB')
      .example('harness checkpoints delete 3fa2c9', 'delete one checkpoint by key')
      .example('harness checkpoints list --remote --store oci://registry.example.com/ci/ckpt', 'the checkpoints in a registry')
      .example('harness checkpoints pull 3fa2c9 --store oci://registry.example.com/ci/ckpt', 'copy one into the local cache'),
  async run(args, io) {
    const root = (await import('../../checkpoint/store.js')).storeRoot(io.env);
    const action = args.action as string;
    if (action !== 'prune' && (args.olderThan !== undefined || args.maxSize !== undefined)) throw new InputError(`--older-than and --max-size go with 'checkpoints prune', not '${action}'`);
    if (action === 'push' || action === 'pull') return transfer(action, args, io, root);
    if (action !== 'list' && args.remote) throw new InputError(`--remote goes with 'checkpoints list', not '${action}'`);
    if (action === 'list' && args.remote) return listRemote(args, io);
    if (action !== 'delete' && args.key !== undefined) throw new InputError(`checkpoints ${action} takes no key (did you mean: harness checkpoints delete ${String(args.key)}?)`);
    if (action !== 'list' && args.json) throw new InputError(`--json goes with 'checkpoints list', not '${action}'`);
    if (action === 'list') return list(io, root, Boolean(args.json));
    if (action === 'prune') return prune(args, io, root);
    return remove(args, io, root);
  },
};
export default checkpoints;
