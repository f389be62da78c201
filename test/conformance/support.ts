/**
 * Target of the conformance suite. With `CONFORMANCE_KUBECONFIG` set (what
 * `npm run test:conformance -- --kubeconfig FILE` does through run.ts) the suite
 * talks to that server, which may be a real cluster; otherwise it starts the
 * project's local API server with fault injection and the project's CRDs.
 *
 * Everything here speaks plain Kubernetes API: nothing from src/ except the
 * function that starts the local server, so the same tests judge any server.
 */
import http from 'node:http';
import https from 'node:https';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiException, CoreV1Api, KubeConfig, type ApiType, type ApiConstructor } from '@kubernetes/client-node';
import { startLocalApiServer, type LocalApiServer } from '../../src/localcluster/index.ts';
import { REPO_ROOT, loadKubeConfig } from '../support/apiserver.ts';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is already a string. */
  body?: unknown;
  /** Credentials to use instead of the target's (e.g. a service account's). */
  kubeConfig?: KubeConfig;
}

export interface WatchEvent {
  type: string;
  object: Record<string, unknown>;
}

/** What a test file sees: the server, clients for it, and raw HTTP. */
export interface ConformanceTarget {
  readonly kubeConfig: KubeConfig;
  /** Present only when the suite started the local server itself. */
  readonly local: LocalApiServer | undefined;
  api<T extends ApiType>(apiClass: ApiConstructor<T>): T;
  raw(path: string, request?: RawRequest): Promise<RawResponse>;
  /** Collects watch events until `until` returns true for the list so far, or the server ends the stream cleanly. */
  watch(path: string, until: (events: WatchEvent[]) => boolean, timeoutMs?: number): Promise<WatchEvent[]>;
  /** Credentials of a service account: the local server's helper, or the TokenRequest API elsewhere. */
  serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig>;
  /** Runs `cleanup` in the target's after hook, before it disconnects (latest registered first). */
  deferCleanup(cleanup: () => Promise<void>): void;
}

function kubeconfigFromArguments(): string | undefined {
  const fromEnv = process.env.CONFORMANCE_KUBECONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const inline = process.argv.find((argument) => argument.startsWith('--kubeconfig='));
  return inline?.slice('--kubeconfig='.length);
}

function projectCrdFiles(): string[] {
  const crdDir = join(REPO_ROOT, 'crds');
  try {
    return readdirSync(crdDir)
      .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
      .map((name) => join(crdDir, name));
  } catch {
    return [];
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function openRequest(kubeConfig: KubeConfig, path: string, request: RawRequest): Promise<http.IncomingMessage> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('kubeconfig has no current cluster');
  const url = new URL(server.replace(/\/$/, '') + path);
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const body = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  const headers: Record<string, string> = { Accept: 'application/json', ...(options.headers as Record<string, string> | undefined) };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    // Node frames DELETE bodies only with an explicit length (no chunking by default for DELETE).
    headers['Content-Length'] = String(Buffer.byteLength(body));
  }
  Object.assign(headers, request.headers);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const outgoing = transport.request(url, { ...options, method: request.method ?? 'GET', headers }, resolve);
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function raw(kubeConfig: KubeConfig, path: string, request: RawRequest = {}): Promise<RawResponse> {
  const response = await openRequest(request.kubeConfig ?? kubeConfig, path, request);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  return { status: response.statusCode ?? 0, headers: response.headers, text, json: parseJson(text) };
}

async function watch(
  kubeConfig: KubeConfig,
  path: string,
  until: (events: WatchEvent[]) => boolean,
  timeoutMs: number,
): Promise<WatchEvent[]> {
  const response = await openRequest(kubeConfig, path, {});
  if (response.statusCode !== 200) {
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    throw new Error(`watch ${path}: HTTP ${response.statusCode}: ${Buffer.concat(chunks).toString()}`);
  }
  const events: WatchEvent[] = [];
  const lines = createInterface({ input: response, crlfDelay: Infinity });
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      lines.close();
      response.destroy();
      if (error) reject(error);
      else resolve(events);
    };
    const timer = setTimeout(
      () => finish(new Error(`watch ${path}: condition not met within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.type))}`)),
      timeoutMs,
    );
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      const event = parseJson(line);
      if (!isObject(event) || typeof event.type !== 'string' || !isObject(event.object)) {
        finish(new Error(`watch ${path}: not a watch event: ${line}`));
        return;
      }
      events.push({ type: event.type, object: event.object });
      if (until(events)) finish();
    });
    // A server ends a watch by finishing the response; a cut connection is a failure clients see as an error.
    lines.on('close', () => finish(response.complete ? undefined : new Error(`watch ${path}: stream was cut instead of ended`)));
    // readline re-emits its input's errors, so both need a listener.
    const broke = (error: Error) => finish(new Error(`watch ${path}: stream broke: ${error.message}`));
    response.on('error', broke);
    lines.on('error', broke);
  });
}

async function tokenRequestKubeConfig(admin: KubeConfig, namespace: string, name: string): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api);
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 600 } },
  });
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  const serviceAccountConfig = new KubeConfig();
  serviceAccountConfig.loadFromClusterAndUser(cluster, { name: `${namespace}-${name}`, token: token.status?.token ?? '' });
  return serviceAccountConfig;
}

/**
 * Registers before/after hooks that connect to (or start) the target; the
 * returned object is usable inside tests and hooks.
 */
export function useConformanceTarget(): ConformanceTarget {
  let kubeConfig: KubeConfig | undefined;
  let local: LocalApiServer | undefined;
  let dataDir: string | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  const config = () => {
    if (kubeConfig === undefined) throw new Error('conformance target used before its before() hook ran');
    return kubeConfig;
  };

  before(async function () {
    this.timeout(60_000);
    const kubeconfigPath = kubeconfigFromArguments();
    if (kubeconfigPath !== undefined) {
      kubeConfig = loadKubeConfig(kubeconfigPath);
      return;
    }
    dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-conformance-'));
    // A short watch history, so the 410 Gone test reaches past it in a few hundred writes.
    local = await startLocalApiServer({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      faultInjection: true,
      crdFiles: projectCrdFiles(),
      watchHistoryLimit: 500,
    });
    kubeConfig = loadKubeConfig(local.kubeconfigPath());
  });

  after(async function () {
    this.timeout(60_000);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await local?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    local = undefined;
    kubeConfig = undefined;
  });

  return {
    get kubeConfig() {
      return config();
    },
    get local() {
      return local;
    },
    api: (apiClass) => config().makeApiClient(apiClass),
    raw: (path, request) => raw(config(), path, request),
    watch: (path, until, timeoutMs = 15_000) => watch(config(), path, until, timeoutMs),
    serviceAccountKubeConfig: async (namespace, name) => {
      if (local !== undefined) return loadKubeConfig(await local.createServiceAccountKubeconfig(namespace, name));
      return tokenRequestKubeConfig(config(), namespace, name);
    },
    deferCleanup: (cleanup) => cleanups.push(cleanup),
  };
}

/**
 * Creates a fresh namespace for one test file (before) and deletes it when the target disconnects.
 * The name is unique per run, so a foreign cluster can run the suite repeatedly.
 */
export function useTestNamespace(target: ConformanceTarget, prefix: string): { readonly name: string } {
  const name = uniqueName(prefix);
  before(async () => {
    await target.api(CoreV1Api).createNamespace({ body: { metadata: { name, labels: { 'conformance.anchorlb.io/suite': 'true' } } } });
    target.deferCleanup(() => ignoreNotFound(target.api(CoreV1Api).deleteNamespace({ name })));
  });
  return { name };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36).padStart(2, '0')}`;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a nested field, e.g. field(obj, 'metadata', 'name'). */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[key];
    } else {
      if (!isObject(current)) return undefined;
      current = current[key];
    }
  }
  return current;
}

export async function ignoreNotFound(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return;
    throw error;
  }
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : `: last error ${String(lastError)}`}`);
}

/** Accept header asking for the server-side printed form (`kubectl get` uses it). */
export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
