/**
 * A small client of the OCI distribution API (the part checkpoints need): blobs by digest
 * (check, upload, download with digest verification), manifests by tag, tag listing. Auth on a
 * 401: Basic, or the Bearer token flow, then the request once more (see auth.ts).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { LabError } from '../../errors.js';
import { deferredExtraCa } from '../../util/extra-ca.js';
import { basicHeader, parseChallenge, type Credentials } from './auth.js';
import type { StoreRef } from './reference.js';

/** The media type of our manifests. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Options of {@link RegistryClient}. */
export interface ClientOptions {
  credentials?: Credentials;
  /** PEM CA certificates to trust for TLS (a private registry). */
  ca?: string | Buffer;
  signal?: AbortSignal;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The sha256 digest of `data` as the API writes it: `sha256:<hex>`. */
export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A registry error: what was asked, what came back. Exit 3 (the store could not be had). */
export class RegistryError extends LabError {
  override name = 'RegistryError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** One repository of one registry. */
export class RegistryClient {
  private authHeader: string | undefined;
  constructor(readonly ref: StoreRef, private readonly opts: ClientOptions = {}) {}

  private url(p: string): string {
    return p.startsWith('http') ? p : `${this.ref.baseUrl}/v2/${this.ref.repository}${p}`;
  }

  private raw(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    // A CA of our own (--store-ca) replaces Node's roots, as Node's `ca` does; else the extra certificates Node would have added.
    const ca = u.protocol === 'https:' ? (this.opts.ca ?? deferredExtraCa()) : undefined;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        u,
        { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, ...(ca ? { ca } : {}), ...(this.opts.signal ? { signal: this.opts.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', (err) => reject(new RegistryError(`${method} ${u.origin}${u.pathname}: ${err.message}`)));
      req.end(body);
    });
  }

  /** A request with auth (one retry after a 401 challenge) and redirects followed. */
  private async request(method: string, p: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Reply> {
    let url = this.url(p);
    for (let hop = 0; hop < 5; hop++) {
      const auth: Record<string, string> = this.authHeader && new URL(url).host === new URL(this.ref.baseUrl).host ? { authorization: this.authHeader } : {};
      let res = await this.raw(method, url, { ...headers, ...auth }, body);
      if (res.status === 401 && (await this.authenticate(res))) {
        res = await this.raw(method, url, { ...headers, authorization: this.authHeader! }, body);
        if (res.status === 401) {
          const who = this.opts.credentials ? ` for user '${this.opts.credentials.username}'` : '';
          throw new RegistryError(`${this.ref.registry} refused the credentials${who} (${method} ${new URL(url).pathname}): check the auth file's entry for ${this.ref.registry}`, 401);
        }
      }
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      return res;
    }
    throw new RegistryError(`${method} ${p}: too many redirects`);
  }

  /** Answers a 401 challenge; false when there is nothing to try. */
  private async authenticate(res: Reply): Promise<boolean> {
    const challenge = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
    const creds = this.opts.credentials;
    if (challenge?.scheme === 'basic') {
      if (!creds) throw new RegistryError(`${this.ref.registry} asks for a user and password: put them in ~/.docker/config.json, REGISTRY_AUTH_FILE or --store-auth FILE`, 401);
      const h = basicHeader(creds);
      if (this.authHeader === h) throw new RegistryError(`${this.ref.registry} refused the credentials for user '${creds.username}'`, 401);
      this.authHeader = h;
      return true;
    }
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      const q = new URL(challenge.params.realm);
      if (challenge.params.service) q.searchParams.set('service', challenge.params.service);
      q.searchParams.set('scope', challenge.params.scope ?? `repository:${this.ref.repository}:pull,push`);
      const tokenRes = await this.raw('GET', q.toString(), creds ? { authorization: basicHeader(creds) } : {});
      if (tokenRes.status !== 200) throw new RegistryError(`the token service ${q.origin} refused a token for ${this.ref.repository} (HTTP ${tokenRes.status})${creds ? '' : '; no credentials were found for it'}`, 401);
      const t = JSON.parse(tokenRes.body.toString('utf8')) as { token?: string; access_token?: string };
      const token = t.token ?? t.access_token;
      if (!token) throw new RegistryError(`the token service ${q.origin} answered without a token`, 401);
      if (this.authHeader === `Bearer ${token}`) throw new RegistryError(`${this.ref.registry} refused its own token for ${this.ref.repository}`, 401);
      this.authHeader = `Bearer ${token}`;
      return true;
    }
    return false;
  }

  private fail(what: string, res: Reply): never {
    let detail = res.body.toString('utf8').slice(0, 300).trim();
    try {
      const e = JSON.parse(detail) as { errors?: Array<{ code: string; message: string }> };
      if (e.errors?.length) detail = e.errors.map((x) => `${x.code}: ${x.message}`).join('; ');
    } catch {
      /* not JSON */
    }
    throw new RegistryError(`${what} on ${this.ref.registry}/${this.ref.repository}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`, res.status);
  }

  /** Checks that the registry answers the API (`GET /v2/`). */
  async ping(): Promise<void> {
    const res = await this.request('GET', `${this.ref.baseUrl}/v2/`);
    if (res.status !== 200) this.fail('GET /v2/', res);
  }

  /** Whether the repository has the blob. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/blobs/${digest}`);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(`HEAD blob ${digest}`, res);
  }

  /** Uploads a blob in one request (POST, then PUT with the digest). */
  async putBlob(data: Buffer, digest = digestOf(data)): Promise<string> {
    const start = await this.request('POST', '/blobs/uploads/');
    if (start.status !== 202 || !start.headers.location) this.fail('starting a blob upload', start);
    const loc = new URL(start.headers.location!, this.ref.baseUrl);
    loc.searchParams.set('digest', digest);
    const res = await this.request('PUT', loc.toString(), { 'content-type': 'application/octet-stream' }, data);
    if (res.status !== 201) this.fail(`uploading blob ${digest}`, res);
    return digest;
  }

  /** Downloads a blob and checks its digest. */
  async getBlob(digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/blobs/${digest}`);
    if (res.status !== 200) this.fail(`GET blob ${digest}`, res);
    const got = digestOf(res.body);
    if (got !== digest) throw new RegistryError(`blob ${digest} came back with digest ${got}: the registry or the network corrupted it`);
    return res.body;
  }

  /** Puts a manifest under `tag`; returns its digest. */
  async putManifest(tag: string, manifest: unknown): Promise<string> {
    const body = Buffer.from(JSON.stringify(manifest));
    const res = await this.request('PUT', `/manifests/${tag}`, { 'content-type': OCI_MANIFEST }, body);
    if (res.status !== 201) this.fail(`PUT manifest ${tag}`, res);
    return String(res.headers['docker-content-digest'] ?? digestOf(body));
  }

  /** The manifest of `tag`, or undefined when there is none. */
  async getManifest<T = unknown>(tag: string): Promise<{ manifest: T; digest: string } | undefined> {
    const res = await this.request('GET', `/manifests/${tag}`, { accept: OCI_MANIFEST });
    if (res.status === 404) return undefined;
    if (res.status !== 200) this.fail(`GET manifest ${tag}`, res);
    return { manifest: JSON.parse(res.body.toString('utf8')) as T, digest: String(res.headers['docker-content-digest'] ?? digestOf(res.body)) };
  }

  /** Every tag of the repository (following the API's pagination). */
  async listTags(): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = '/tags/list?n=1000';
    while (next) {
      const res = await this.request('GET', next);
      if (res.status === 404) return out; // no repository yet
      if (res.status !== 200) this.fail('listing tags', res);
      out.push(...((JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []));
      const link = /<([^>]+)>;\s*rel="next"/.exec(String(res.headers.link ?? ''));
      next = link ? new URL(link[1]!, this.ref.baseUrl).toString() : undefined;
    }
    return out;
  }

  /** Deletes a manifest by digest (the registry must allow deletes). */
  async deleteManifest(digest: string): Promise<void> {
    const res = await this.request('DELETE', `/manifests/${digest}`);
    if (res.status !== 202 && res.status !== 404) this.fail(`DELETE manifest ${digest}`, res);
  }
}
