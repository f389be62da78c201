/**
 * How the speaker and the controller reach the API server without @kubernetes/client-node's
 * KubeConfig: loading that class loads every generated API of the library (~70 MB resident
 * per process). `KubeConnection` is the part of a KubeConfig `KubeRest` uses, so a
 * client-node KubeConfig is one too (the operator and the tests pass theirs).
 *
 * `loadKubeConnection` reads kubeconfig files with tokens, token files, client certificates
 * and CAs, and the in-cluster service account (token re-read as the kubelet rotates it); a
 * kubeconfig needing anything else (exec or auth-provider plugins, several files in
 * KUBECONFIG, proxies) is handed to client-node's KubeConfig, loaded only then.
 */
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface KubeConnection {
  getCurrentCluster(): { server: string } | null;
  /** Adds the TLS settings and credentials of the current context to a request's options. */
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/** The connection settings of one context, files not yet read. */
export interface ConnectionSettings {
  server: string;
  ca?: Buffer | { file: string };
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  token?: string | { file: string };
  clientCert?: Buffer | { file: string };
  clientKey?: Buffer | { file: string };
  basic?: { username: string; password: string };
}

const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;
/** User fields this loader handles; any other one (exec, auth-provider, …) needs client-node. */
const USER_FIELDS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password']);
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);

type Named = { name?: unknown } & Record<string, unknown>;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function named(list: unknown, key: string, name: unknown, where: string): Record<string, unknown> {
  const entry = (Array.isArray(list) ? (list as Named[]) : []).find((item) => item.name === name);
  if (!entry) throw new Error(`${where}: no ${key} named ${JSON.stringify(name)}`);
  return record(entry[key]);
}

/** Data (base64) or a file path relative to the kubeconfig's folder. */
function dataOrFile(section: Record<string, unknown>, dataKey: string, fileKey: string, base: string): Buffer | { file: string } | undefined {
  const data = section[dataKey];
  if (typeof data === 'string') return Buffer.from(data, 'base64');
  const file = section[fileKey];
  if (typeof file === 'string') return { file: isAbsolute(file) ? file : join(base, file) };
  return undefined;
}

/**
 * The current context's settings of a kubeconfig file's text, or undefined when it needs more
 * than this loader handles. Pure. `path` names the file in errors and resolves relative paths.
 */
export function parseKubeconfig(text: string, path: string): ConnectionSettings | undefined {
  const config = record(parse(text));
  const contextName = config['current-context'];
  if (typeof contextName !== 'string' || contextName === '') throw new Error(`${path}: current-context is not set`);
  const context = named(config.contexts, 'context', contextName, path);
  const cluster = named(config.clusters, 'cluster', context.cluster, `${path} context ${contextName}`);
  const user = context.user === undefined ? {} : named(config.users, 'user', context.user, `${path} context ${contextName}`);
  if (Object.keys(user).some((key) => !USER_FIELDS.has(key)) || Object.keys(cluster).some((key) => !CLUSTER_FIELDS.has(key))) return undefined;
  if (typeof cluster.server !== 'string') throw new Error(`${path}: cluster ${JSON.stringify(context.cluster)} has no server`);
  const base = dirname(path);
  const settings: ConnectionSettings = { server: cluster.server, insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true };
  const ca = dataOrFile(cluster, 'certificate-authority-data', 'certificate-authority', base);
  if (ca) settings.ca = ca;
  if (typeof cluster['tls-server-name'] === 'string') settings.tlsServerName = cluster['tls-server-name'];
  if (typeof user.token === 'string') settings.token = user.token;
  else if (typeof user.tokenFile === 'string') settings.token = { file: isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile) };
  const cert = dataOrFile(user, 'client-certificate-data', 'client-certificate', base);
  const key = dataOrFile(user, 'client-key-data', 'client-key', base);
  if (cert) settings.clientCert = cert;
  if (key) settings.clientKey = key;
  if (typeof user.username === 'string' && typeof user.password === 'string') settings.basic = { username: user.username, password: user.password };
  return settings;
}

/** The in-cluster settings a kubelet provides (service host and port, projected token and CA). */
export function inClusterSettings(env: NodeJS.ProcessEnv): ConnectionSettings {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset)');
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, ca: { file: `${IN_CLUSTER_DIR}/ca.crt` }, insecureSkipTlsVerify: false, token: { file: `${IN_CLUSTER_DIR}/token` } };
}

function bytesOf(source: Buffer | { file: string }): Buffer {
  return Buffer.isBuffer(source) ? source : readFileSync(source.file);
}

/** A KubeConnection over settings: files read once, except the token file (re-read every minute). */
export class SettingsConnection implements KubeConnection {
  private token: { value: string; readAt: number } | undefined;
  private readonly tls: https.RequestOptions;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.tls = { rejectUnauthorized: !settings.insecureSkipTlsVerify };
    if (settings.ca) this.tls.ca = bytesOf(settings.ca);
    if (settings.clientCert) this.tls.cert = bytesOf(settings.clientCert);
    if (settings.clientKey) this.tls.key = bytesOf(settings.clientKey);
    if (settings.tlsServerName) this.tls.servername = settings.tlsServerName;
  }

  getCurrentCluster(): { server: string } {
    return { server: this.settings.server };
  }

  private bearer(): string | undefined {
    const token = this.settings.token;
    if (token === undefined || typeof token === 'string') return token;
    if (!this.token || this.now() - this.token.readAt >= TOKEN_REREAD_MS) this.token = { value: readFileSync(token.file, 'utf8').trim(), readAt: this.now() };
    return this.token.value;
  }

  async applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    Object.assign(options, this.tls);
    const headers: Record<string, string | string[] | number | undefined> = { ...(options.headers as Record<string, string> | undefined) };
    const bearer = this.bearer();
    if (bearer !== undefined) headers.Authorization = `Bearer ${bearer}`;
    else if (this.settings.basic) headers.Authorization = `Basic ${Buffer.from(`${this.settings.basic.username}:${this.settings.basic.password}`).toString('base64')}`;
    options.headers = headers;
  }
}

/** An explicit kubeconfig file, else KUBECONFIG / ~/.kube/config, else the in-cluster service account. */
export async function loadKubeConnection(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeConnection> {
  const fromEnv = env.KUBECONFIG?.split(':').filter((path) => path !== '');
  const defaultFile = join(homedir(), '.kube', 'config');
  const path = file ?? (fromEnv && fromEnv.length > 0 ? (fromEnv.length === 1 ? fromEnv[0] : undefined) : existsSync(defaultFile) ? defaultFile : null);
  if (path === null) return new SettingsConnection(inClusterSettings(env));
  const settings = path === undefined ? undefined : parseKubeconfig(readFileSync(path, 'utf8'), path);
  if (settings) return new SettingsConnection(settings);
  // Exec or auth-provider credentials, proxies, merged files: the full library.
  const { loadKubeConfig } = await import('../common/kubeconfig.ts');
  return loadKubeConfig(file);
}
