/**
 * The Debian mirror and release the image is built from: read from apt's own sources
 * (`/etc/apt/sources.list`, `sources.list.d/*.list` and deb822 `*.sources`), so the image comes
 * from the same place the host's packages do and no host name is written in the code.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';

/** One `deb` source apt uses. */
export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  /** The file it was read from. */
  file: string;
}

/** Parses the one-line format (`deb [options] uri suite component...`); `deb-src` lines are skipped. */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ uri: m[1]!, suites: [m[2]!], components: m[3]!.split(/\s+/).filter(Boolean), file });
  }
  return out;
}

/** Parses the deb822 format of `*.sources` files; disabled stanzas and `deb-src` are skipped. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  const stanzas = text.split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    const words = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb')) continue;
    if (/^(no|false)$/i.test(fields.get('enabled') ?? 'yes')) continue;
    for (const uri of words('uris')) out.push({ uri, suites: words('suites'), components: words('components'), file });
  }
  return out;
}

/** Every `deb` source of the apt configuration under `aptDir`. @default aptDir /etc/apt */
export async function readAptSources(aptDir = '/etc/apt'): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = path.join(aptDir, 'sources.list');
  const text = await readFile(main, 'utf8').catch(() => undefined);
  if (text !== undefined) out.push(...parseOneLineSources(text, main));
  const dir = path.join(aptDir, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.list')) out.push(...parseOneLineSources(await readFile(file, 'utf8').catch(() => ''), file));
    else if (name.endsWith('.sources')) out.push(...parseDeb822Sources(await readFile(file, 'utf8').catch(() => ''), file));
  }
  return out;
}

/** The host's Debian release name (`VERSION_CODENAME` of os-release), if it is Debian. */
export async function hostDebianSuite(osRelease = '/etc/os-release'): Promise<string | undefined> {
  const text = await readFile(osRelease, 'utf8').catch(() => '');
  const field = (k: string): string | undefined => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1];
  if (field('ID') !== 'debian' && !(field('ID_LIKE') ?? '').split(' ').includes('debian')) return undefined;
  return field('VERSION_CODENAME') || undefined;
}

/** Where the image comes from. */
export interface DebianSource {
  /** The mirror URL given to debootstrap. */
  mirror: string;
  /** The release (`bookworm`). */
  suite: string;
}

/**
 * The mirror and suite to debootstrap: `suite` defaults to the host's Debian release; the
 * mirror is the first apt source carrying `<suite> main`. Throws LabError when neither can be
 * found, naming the `lab.options` fields that set them.
 */
export async function debianSource(opts: { suite?: string; mirror?: string; aptDir?: string; osRelease?: string } = {}): Promise<DebianSource> {
  const suite = opts.suite ?? (await hostDebianSuite(opts.osRelease));
  if (!suite) {
    throw new LabError("this host is not Debian, so the qemu lab cannot tell which Debian release to build its image from; set lab.options.suite (e.g. 'bookworm') and lab.options.mirror");
  }
  if (opts.mirror) return { mirror: opts.mirror, suite };
  const sources = await readAptSources(opts.aptDir);
  const hit = sources.find((s) => s.suites.includes(suite) && s.components.includes('main') && /^(https?|file):/.test(s.uri));
  if (!hit) {
    throw new LabError(
      `no apt source of ${opts.aptDir ?? '/etc/apt'} carries '${suite} main', so the qemu lab does not know which Debian mirror to build its image from; set lab.options.mirror to a Debian mirror URL`,
    );
  }
  return { mirror: hit.uri, suite };
}
