import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createLogger } from '../common/log.ts';
import { ApiCore } from './core.ts';
import { ApiError } from './errors.ts';
import { FaultInjector } from './faults.ts';
import { HttpApi } from './http.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import type { UserInfo } from './rbac.ts';
import type { StoreSnapshot } from './store.ts';
import { ensureTlsMaterial, type TlsMaterial } from './tls.ts';
import { isJsonObject } from './types.ts';

export interface LocalApiServerOptions {
  host?: string;
  port?: number;
  tls?: boolean;
  /** Where kubeconfigs, certificates and (on stop) a snapshot go; a snapshot found there is loaded at start. */
  dataDir?: string;
  crdFiles?: string[];
  faultInjection?: boolean;
  /** How often watches with allowWatchBookmarks get a BOOKMARK (default 5 s). */
  bookmarkIntervalMs?: number;
  /** How many changes watches can resume from before answering 410 Gone (default 2,000). */
  watchHistoryLimit?: number;
}

export interface LocalApiServer {
  readonly url: string;
  readonly adminToken: string;
  kubeconfigPath(identity?: string): string;
  createServiceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  readonly faults: FaultInjector;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

interface Identity {
  token: string;
  user: UserInfo;
  namespace?: string;
}

const ADMIN: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
const log = createLogger('local-apiserver');

function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function serviceAccountUser(namespace: string, name: string): UserInfo {
  return { name: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'] };
}

/** Expands files and directories of CRD manifests into the CRD documents they hold. */
async function readCrdManifests(paths: string[]): Promise<unknown[]> {
  const documents: unknown[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new Error(`CRD manifest ${path} does not exist`);
    const files = info.isDirectory() ? (await readdir(path)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => join(path, f)) : [path];
    for (const file of files) {
      for (const document of parseAllDocuments(await readFile(file, 'utf8'))) {
        if (document.errors.length > 0) throw new Error(`CRD manifest ${file}: ${document.errors[0]?.message ?? 'invalid YAML'}`);
        const value: unknown = document.toJSON();
        if (isJsonObject(value) && value.kind === 'CustomResourceDefinition') documents.push(value);
      }
    }
  }
  return documents;
}

class Server implements LocalApiServer {
  readonly faults = new FaultInjector();
  readonly adminToken: string;
  private readonly identities = new Map<string, Identity>();
  private readonly core: ApiCore;
  private readonly api: HttpApi;
  private listener: http.Server | https.Server | undefined;
  private address: { host: string; port: number };
  private tlsMaterial: TlsMaterial | undefined;

  constructor(
    private readonly options: LocalApiServerOptions,
    private readonly dataDir: string,
    snapshot: { store?: StoreSnapshot; identities?: Identity[] } | undefined,
  ) {
    this.core = new ApiCore(options.watchHistoryLimit !== undefined ? { historyLimit: options.watchHistoryLimit } : {});
    if (snapshot?.store) {
      this.core.store.restore(snapshot.store);
      this.core.bootstrap();
    }
    for (const identity of snapshot?.identities ?? []) this.identities.set(identity.token, identity);
    const admin = [...this.identities.values()].find((i) => i.user.name === ADMIN.name);
    this.adminToken = admin?.token ?? newToken();
    if (!admin) this.identities.set(this.adminToken, { token: this.adminToken, user: ADMIN });
    this.address = { host: options.host ?? '127.0.0.1', port: options.port ?? 0 };
    this.api = new HttpApi({
      core: this.core,
      faults: this.faults,
      faultEndpoint: options.faultInjection === true,
      requireToken: options.tls === true,
      authenticate: (token) => this.identities.get(token)?.user,
      admin: ADMIN,
      issueServiceAccountToken: (namespace, name) => this.issueToken(namespace, name),
      requestRestart: () => {
        this.restart().catch((error: unknown) => log.error({ err: error }, 'restart requested through the fault endpoint failed'));
      },
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 5000,
    });
  }

  get url(): string {
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${this.address.port}`;
  }

  async registerCrds(files: string[]): Promise<void> {
    const crdResource = this.core.resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    for (const crd of await readCrdManifests(files)) {
      const name = isJsonObject(crd) && isJsonObject(crd.metadata) ? String(crd.metadata.name) : '';
      try {
        if (this.core.store.get('apiextensions.k8s.io/customresourcedefinitions', undefined, name)) this.core.update(crdResource, undefined, name, crd, undefined);
        else this.core.create(crdResource, undefined, crd);
      } catch (error) {
        const detail = error instanceof ApiError ? error.message : String(error);
        throw new Error(`cannot register CRD ${name}: ${detail}`, { cause: error });
      }
    }
  }

  async listen(): Promise<void> {
    if (this.options.tls && !this.tlsMaterial) this.tlsMaterial = await ensureTlsMaterial(this.dataDir, this.address.host);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.api.handle(req, res);
    const listener = this.tlsMaterial ? https.createServer({ cert: this.tlsMaterial.certPem, key: this.tlsMaterial.keyPem }, handler) : http.createServer(handler);
    listener.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.address.port, this.address.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.address = { host: this.address.host, port: (listener.address() as AddressInfo).port };
    this.listener = listener;
  }

  private async close(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    this.listener = undefined;
    this.faults.dropWatches();
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    listener.closeAllConnections();
    await closed;
  }

  kubeconfigPath(identity = 'admin'): string {
    const found = [...this.identities.values()].find((i) => i.user.name === identity || (identity === 'admin' && i.user.name === ADMIN.name) || `${i.namespace}/${i.user.name.split(':').pop()}` === identity);
    if (!found) throw new Error(`unknown identity ${JSON.stringify(identity)}: use "admin" or create a service account kubeconfig first`);
    return this.writeKubeconfig(found);
  }

  private writeKubeconfig(identity: Identity): string {
    const file = identity.user.name === ADMIN.name ? 'admin.kubeconfig' : `sa-${identity.user.name.split(':').slice(2).join('-')}.kubeconfig`;
    const path = join(this.dataDir, file);
    writeFileSync(path, renderKubeconfig({ server: this.url, identity: identity.user.name, token: identity.token, ...(this.tlsMaterial ? { caPem: this.tlsMaterial.caPem } : {}), ...(identity.namespace ? { namespace: identity.namespace } : {}) }), { mode: 0o600 });
    return path;
  }

  private issueToken(namespace: string, name: string): string {
    const user = serviceAccountUser(namespace, name);
    const existing = [...this.identities.values()].find((i) => i.user.name === user.name);
    if (existing) return existing.token;
    const token = newToken();
    this.identities.set(token, { token, user, namespace });
    return token;
  }

  async createServiceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const namespaces = this.core.resource('', 'v1', 'namespaces');
    if (!this.core.store.get('/namespaces', undefined, namespace)) this.core.create(namespaces, undefined, { metadata: { name: namespace } });
    const accounts = this.core.resource('', 'v1', 'serviceaccounts');
    if (!this.core.store.get('/serviceaccounts', namespace, name)) this.core.create(accounts, namespace, { metadata: { name } });
    const token = this.issueToken(namespace, name);
    const identity = this.identities.get(token) as Identity;
    // What a pod's service account volume holds, laid out so that the directory
    // <dataDir>/serviceaccounts/<ns>/<name> is a root for in-cluster configuration
    // (client-node's loadFromCluster(pathPrefix), or a bind mount onto /var/run/secrets/...).
    const mount = join(this.dataDir, 'serviceaccounts', namespace, name, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(mount, { recursive: true });
    await writeFile(join(mount, 'token'), token, { mode: 0o600 });
    await writeFile(join(mount, 'namespace'), namespace);
    if (this.tlsMaterial) await writeFile(join(mount, 'ca.crt'), this.tlsMaterial.caPem);
    return this.writeKubeconfig(identity);
  }

  async restart(): Promise<void> {
    await this.close();
    await this.listen();
  }

  async stop(): Promise<void> {
    await this.close();
    if (this.options.dataDir !== undefined) {
      const snapshot = { store: this.core.store.snapshot(), identities: [...this.identities.values()] };
      writeFileSync(join(this.dataDir, 'state.json'), JSON.stringify(snapshot), { mode: 0o600 });
    }
  }
}

function readSnapshot(dataDir: string): { store?: StoreSnapshot; identities?: Identity[] } | undefined {
  const path = join(dataDir, 'state.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { store?: StoreSnapshot; identities?: Identity[] };
  } catch (error) {
    throw new Error(`cannot read the snapshot ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function checkOptions(options: LocalApiServerOptions): void {
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
    throw new Error(`port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  if (options.bookmarkIntervalMs !== undefined && !(options.bookmarkIntervalMs > 0)) {
    throw new Error(`bookmarkIntervalMs must be positive, got ${String(options.bookmarkIntervalMs)}`);
  }
}

export async function startLocalApiServer(options: LocalApiServerOptions = {}): Promise<LocalApiServer> {
  checkOptions(options);
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'anchorlb-apiserver-')));
  mkdirSync(dataDir, { recursive: true });
  const server = new Server(options, dataDir, options.dataDir !== undefined ? readSnapshot(dataDir) : undefined);
  if (options.crdFiles && options.crdFiles.length > 0) await server.registerCrds(options.crdFiles);
  await server.listen();
  return server;
}
