/**
 * Shared mocha helper: the project's own API server for integration tests, a
 * KubeConfig for it, and the real kubectl (installed by `make setup-kubectl`).
 *
 *   describe('my controller', function () {
 *     const cluster = withLocalApiServer();
 *     it('…', async () => { await cluster.kubectl(['get', 'services', '-A']); });
 *   });
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttpError } from '../../src/kube/rest.ts';
import { startLocalApiServer, type LocalApiServer, type LocalApiServerOptions } from '../../src/localcluster/index.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KUBECTL_PATH = join(REPO_ROOT, '.tools/bin/kubectl');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's standard input (e.g. a manifest for `apply -f -`). */
  stdin?: string;
  /** Kills kubectl after this long; the result then carries code -1. Default 30 s. */
  timeoutMs?: number;
}

/** Runs kubectl against one kubeconfig, with a private discovery cache (ports are reused between runs). */
export class Kubectl {
  constructor(
    readonly kubeconfigPath: string,
    private readonly cacheDir: string,
  ) {}

  run(args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    const child = this.spawn(args);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.end(options.stdin ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    return new Promise((resolvePromise, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolvePromise({ code: code ?? -1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
      });
    });
  }

  /** Starts a long-running kubectl (e.g. `get -w`); the caller kills it by its handle. */
  spawn(args: readonly string[]): ChildProcessWithoutNullStreams {
    if (!existsSync(KUBECTL_PATH)) {
      throw new Error(`kubectl not found at ${KUBECTL_PATH}: run "make setup-kubectl" (scripts/install-kubectl.sh)`);
    }
    return spawn(KUBECTL_PATH, ['--kubeconfig', this.kubeconfigPath, '--cache-dir', this.cacheDir, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.cacheDir },
    });
  }
}

/** Creates a Kubectl with its own temporary cache directory; `dispose()` removes it. */
export async function createKubectl(kubeconfigPath: string): Promise<{ kubectl: Kubectl; dispose(): Promise<void> }> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'anchorlb-kubectl-'));
  return {
    kubectl: new Kubectl(kubeconfigPath, cacheDir),
    dispose: () => rm(cacheDir, { recursive: true, force: true }),
  };
}

/** What `make manifests` writes to dist/install.yaml: the CRDs, the operator's RBAC and the operator (kustomize of config/default). */
export async function renderInstallYaml(): Promise<string> {
  const { stdout } = await promisify(execFile)(KUBECTL_PATH, ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** `kubectl apply --server-side -f dist/install.yaml` on a cluster; fails the test when kubectl does. */
export async function applyInstallYaml(cluster: LocalApiServerContext): Promise<KubectlResult> {
  const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { stdin: await renderInstallYaml() });
  if (applied.code !== 0) throw new Error(`kubectl apply of install.yaml failed: ${applied.stderr}`);
  return applied;
}

/** The HTTP status a KubeRest request ends with (200 for any success), e.g. to assert 403. */
export async function statusCodeOf(request: Promise<unknown>): Promise<number> {
  try {
    await request;
    return 200;
  } catch (error) {
    if (error instanceof KubeHttpError) return error.statusCode;
    throw error;
  }
}

export function loadKubeConfig(kubeconfigPath: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return kubeConfig;
}

export interface LocalApiServerContext {
  readonly server: LocalApiServer;
  /** Admin credentials. */
  readonly kubeConfig: KubeConfig;
  readonly kubeconfigPath: string;
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult>;
  spawnKubectl(args: readonly string[]): ChildProcessWithoutNullStreams;
}

/**
 * Registers mocha `before`/`after` hooks that start the local API server (with a
 * temporary data directory unless one is given) and stop it. The returned
 * context is usable from the tests and later hooks, not at describe time.
 */
export function withLocalApiServer(options: LocalApiServerOptions = {}): LocalApiServerContext {
  let state: { server: LocalApiServer; kubeConfig: KubeConfig; kubeconfigPath: string; kubectl: Kubectl } | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  const current = () => {
    if (state === undefined) throw new Error('withLocalApiServer: context used before its before() hook ran');
    return state;
  };

  before(async function () {
    this.timeout(60_000);
    let dataDir = options.dataDir;
    if (dataDir === undefined) {
      const created = await mkdtemp(join(tmpdir(), 'anchorlb-apiserver-'));
      cleanups.push(() => rm(created, { recursive: true, force: true }));
      dataDir = created;
    }
    const server = await startLocalApiServer({ host: '127.0.0.1', port: 0, ...options, dataDir });
    cleanups.push(() => server.stop());
    const kubeconfigPath = server.kubeconfigPath();
    const { kubectl, dispose } = await createKubectl(kubeconfigPath);
    cleanups.push(dispose);
    state = { server, kubeConfig: loadKubeConfig(kubeconfigPath), kubeconfigPath, kubectl };
  });

  after(async function () {
    this.timeout(60_000);
    state = undefined;
    // Stop the server before removing its data directory: reverse order of creation.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  return {
    get server() {
      return current().server;
    },
    get kubeConfig() {
      return current().kubeConfig;
    },
    get kubeconfigPath() {
      return current().kubeconfigPath;
    },
    kubectl: (args, kubectlOptions) => current().kubectl.run(args, kubectlOptions),
    spawnKubectl: (args) => current().kubectl.spawn(args),
  };
}
