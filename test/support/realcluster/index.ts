/**
 * A real Kubernetes cluster for the test suite (issue 16): etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler built from Kubernetes' own Go modules
 * (scripts/build-realcluster.sh, pinned in test/realcluster/go.mod), in a control-plane
 * namespace on the testbed bridge (192.0.2.3), and worker nodes (./node.ts) in the node
 * namespaces. Every address lives inside namespaces the testbed creates; certificates are
 * made per run; every process is started here, known by PID and killed at the end.
 *
 * This process reaches the API server through a relay (src/localcluster/netns-relay.ts): a
 * listener on 127.0.0.1 here, a Unix socket, and a small process inside the control-plane
 * namespace that connects to kube-apiserver there.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { RELAY_READY, startTcpToUnixRelay } from '../../../src/localcluster/netns-relay.ts';
import { REPO_ROOT, createKubectl, type Kubectl, type KubectlOptions, type KubectlResult } from '../apiserver.ts';
import { Testbed, waitFor, type Host } from '../testbed.ts';
import { Pki } from './pki.ts';
import { WorkerNode } from './node.ts';

/** The Kubernetes release the components are built from (the project's kubectl's). */
export const KUBERNETES_VERSION = 'v1.36.3';
export const SERVICE_CIDR = '198.18.128.0/24';
/** The `kubernetes` Service's address: the first of SERVICE_CIDR. */
export const KUBERNETES_SERVICE_IP = '198.18.128.1';
/** Pod addresses; the controller-manager gives each node a /24 of it. */
export const CLUSTER_CIDR = '198.18.0.0/17';
export const API_PORT = 6443;

export interface RealClusterOptions {
  /** Worker nodes (kubelet, containerd, kube-proxy), 0..3; default 0: the control plane only. */
  nodes?: number;
  /** Testbed prefix; default random. */
  prefix?: string;
  /** Progress lines (what is being started, where the logs are); default: none. */
  say?: (line: string) => void;
  /** A directory with the component binaries to use instead of scripts/build-realcluster.sh's. */
  bin?: string;
}

/** Runs scripts/build-realcluster.sh (cached after the first build) and returns the binaries' directory. */
export async function buildComponents(say: (line: string) => void = () => undefined): Promise<string> {
  say('building or finding the Kubernetes components (scripts/build-realcluster.sh)');
  const { stdout } = await promisify(execFile)('bash', [join(REPO_ROOT, 'scripts/build-realcluster.sh')], { maxBuffer: 1024 * 1024 }).catch((error: unknown) => {
    const detail = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`building the Kubernetes components failed:\n${detail}`);
  });
  const bin = stdout.trim().split('\n').pop() ?? '';
  if (!existsSync(join(bin, 'kube-apiserver'))) throw new Error(`scripts/build-realcluster.sh printed no binaries directory (got ${JSON.stringify(stdout)})`);
  return bin;
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : `(no ${file})`;
}

export class RealCluster {
  readonly nodes: WorkerNode[] = [];
  /** Admin kubeconfig for this namespace (through the relay, https://127.0.0.1:PORT). */
  readonly kubeconfigPath: string;
  /** Admin kubeconfig for the testbed's namespaces (https://192.0.2.3:6443). */
  readonly innerKubeconfigPath: string;
  readonly logDir: string;
  private relayServer: net.Server | undefined;
  private kubectlHandle: { kubectl: Kubectl; dispose(): Promise<void> } | undefined;
  private readonly components = new Map<string, ChildProcess>();
  private stopped = false;

  private constructor(
    readonly testbed: Testbed,
    readonly workDir: string,
    readonly bin: string,
    readonly pki: Pki,
    readonly say: (line: string) => void,
  ) {
    this.kubeconfigPath = join(workDir, 'admin.kubeconfig');
    this.innerKubeconfigPath = join(workDir, 'admin-inner.kubeconfig');
    this.logDir = join(workDir, 'logs');
  }

  get controlPlane(): Host {
    const host = this.testbed.controlPlane;
    if (host === undefined) throw new Error('the testbed has no control-plane namespace');
    return host;
  }

  /** The API server's address as the testbed's namespaces reach it. */
  get apiServerUrl(): string {
    return `https://${this.controlPlane.ipv4}:${API_PORT}`;
  }

  /** Builds (or finds) the components, starts the control plane and the nodes; on failure tears down what it started. */
  static async start(options: RealClusterOptions = {}): Promise<RealCluster> {
    const say = options.say ?? (() => undefined);
    const nodeCount = options.nodes ?? 0;
    if (!Number.isInteger(nodeCount) || nodeCount < 0 || nodeCount > 3) throw new Error(`realcluster nodes must be 0..3, got ${nodeCount}`);
    const bin = options.bin ?? (await buildComponents(say));
    const testbed = await Testbed.create({ nodes: nodeCount, controlPlane: true, client: true, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
    const workDir = await mkdtemp(join(tmpdir(), `anchorlb-realcluster-${testbed.prefix}-`));
    let cluster: RealCluster | undefined;
    try {
      await mkdir(join(workDir, 'logs'));
      await mkdir(join(workDir, 'pki'));
      const pki = await Pki.create(join(workDir, 'pki'));
      cluster = new RealCluster(testbed, workDir, bin, pki, say);
      say(`real cluster ${testbed.prefix}: logs in ${cluster.logDir}`);
      await cluster.startControlPlane();
      for (const [index, host] of testbed.nodes.entries()) {
        cluster.nodes.push(new WorkerNode(cluster, `node${index + 1}`, host, index));
      }
      for (const node of cluster.nodes) await node.start();
      for (const node of cluster.nodes) await node.waitReady(cluster.nodes);
      return cluster;
    } catch (error) {
      if (cluster !== undefined) await cluster.stop(true);
      else {
        await testbed.destroy();
        await rm(workDir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /** Starts a long-running process in `ns`, logging to logs/NAME.log; its early exit fails later waits. */
  async spawn(name: string, ns: string, argv: readonly string[], mountNamespace?: string): Promise<ChildProcess> {
    const child = await this.testbed.spawn(ns, argv, { logFile: this.logOf(name), ...(mountNamespace === undefined ? {} : { mountNamespace }) });
    this.components.set(name, child);
    return child;
  }

  logOf(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** Throws with the log's last lines when a component we started has exited. */
  checkAlive(): void {
    if (this.stopped) return;
    for (const [name, child] of this.components) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}); last lines of ${this.logOf(name)}:\n${tail(this.logOf(name))}`);
      }
    }
  }

  /** Waits for `probe`, failing early (with the log) when a component dies meanwhile. */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000, intervalMs = 250): Promise<T> {
    return waitFor(what, async () => {
      this.checkAlive();
      return probe();
    }, timeoutMs, intervalMs).catch((error: unknown) => {
      this.checkAlive();
      throw error;
    });
  }

  /** kubectl as cluster-admin from this namespace. */
  kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    if (this.kubectlHandle === undefined) throw new Error('the real cluster is not started');
    return this.kubectlHandle.kubectl.run(args, options);
  }

  /** kubectl as cluster-admin; its stdout, or an error with its stderr. */
  async kubectlOk(args: readonly string[], options: KubectlOptions = {}): Promise<string> {
    const result = await this.kubectl(args, options);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} (exit ${result.code}): ${result.stderr.trim()}`);
    return result.stdout;
  }

  private async startControlPlane(): Promise<void> {
    const cp = this.controlPlane;
    const pki = this.pki;
    const dir = (name: string) => join(this.workDir, name);
    this.say(`etcd in ${cp.ns}`);
    await this.spawn('etcd', cp.ns, [
      join(this.bin, 'etcd'),
      '--name=realcluster',
      `--data-dir=${dir('etcd')}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=realcluster=http://127.0.0.1:2380',
      // A test cluster: its data is thrown away at the end, so no fsync.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    const serving = await pki.issue('kube-apiserver', 'kube-apiserver', [], [cp.ipv4, cp.ipv6, '127.0.0.1', KUBERNETES_SERVICE_IP, 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local']);
    const kubeletClient = await pki.issue('kube-apiserver-kubelet-client', 'kube-apiserver-kubelet-client', ['system:masters']);
    this.say(`kube-apiserver ${KUBERNETES_VERSION} at ${this.apiServerUrl} in ${cp.ns}`);
    await this.spawn('kube-apiserver', cp.ns, [
      join(this.bin, 'kube-apiserver'),
      '--etcd-servers=http://127.0.0.1:2379',
      `--advertise-address=${cp.ipv4}`,
      `--bind-address=${cp.ipv4}`,
      `--secure-port=${API_PORT}`,
      `--cert-dir=${dir('apiserver-certs')}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      // What kubeadm sets; admission plugins and feature gates otherwise the defaults.
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      `--kubelet-client-certificate=${kubeletClient.cert}`,
      `--kubelet-client-key=${kubeletClient.key}`,
      '--kubelet-preferred-address-types=InternalIP',
      '--endpoint-reconciler-type=lease',
      // Compact etcd's history every 10 s instead of 5 min, so a read at a long-gone resourceVersion
      // gets 410 Gone in a short test run, as on a cluster that has run for a while.
      '--etcd-compaction-interval=10s',
    ]);

    // This namespace reaches the API server through the relay, with the same certificate (127.0.0.1 is in it).
    const admin = await pki.issue('admin', 'kubernetes-admin', ['system:masters']);
    const socket = join(this.workDir, 'apiserver.sock');
    const relay = await this.testbed.spawn(cp.ns, [process.execPath, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, join(REPO_ROOT, 'src/localcluster/netns-relay.ts'), '--socket-to-tcp', socket, cp.ipv4, String(API_PORT)], { pipe: true });
    this.components.set('apiserver-relay', relay);
    relay.stderr?.on('data', (chunk: Buffer) => this.say(`apiserver-relay: ${chunk.toString().trim()}`));
    await new Promise<void>((resolve, reject) => {
      relay.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes(RELAY_READY)) resolve();
      });
      relay.once('exit', (code) => reject(new Error(`the API server relay in ${cp.ns} exited (${code}) before listening`)));
    });
    this.relayServer = await startTcpToUnixRelay('127.0.0.1', 0, socket);
    const address = this.relayServer.address();
    if (address === null || typeof address === 'string') throw new Error('the API server relay has no TCP port');
    await pki.writeKubeconfig(this.kubeconfigPath, `https://127.0.0.1:${address.port}`, 'kubernetes-admin', admin);
    await pki.writeKubeconfig(this.innerKubeconfigPath, this.apiServerUrl, 'kubernetes-admin', admin);
    this.kubectlHandle = await createKubectl(this.kubeconfigPath);
    await this.waitFor('kube-apiserver to be ready (/readyz)', async () => (await this.kubectl(['get', '--raw', '/readyz'], { timeoutMs: 10_000 })).stdout.trim() === 'ok', 180_000, 500);
    this.say(`kube-apiserver ready; admin kubeconfig ${this.kubeconfigPath} (inside the namespaces: ${this.innerKubeconfigPath})`);

    const controllerManager = await pki.issue('kube-controller-manager', 'system:kube-controller-manager');
    const controllerManagerConfig = await pki.writeKubeconfig(dir('kube-controller-manager.kubeconfig'), this.apiServerUrl, 'system:kube-controller-manager', controllerManager);
    this.say('kube-controller-manager and kube-scheduler');
    await this.spawn('kube-controller-manager', cp.ns, [
      join(this.bin, 'kube-controller-manager'),
      `--kubeconfig=${controllerManagerConfig}`,
      `--authentication-kubeconfig=${controllerManagerConfig}`,
      `--authorization-kubeconfig=${controllerManagerConfig}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      '--controllers=*,bootstrapsigner,tokencleaner',
      '--allocate-node-cidrs=true',
      `--cluster-cidr=${CLUSTER_CIDR}`,
      '--node-cidr-mask-size=24',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
    ]);
    const scheduler = await pki.issue('kube-scheduler', 'system:kube-scheduler');
    const schedulerConfig = await pki.writeKubeconfig(dir('kube-scheduler.kubeconfig'), this.apiServerUrl, 'system:kube-scheduler', scheduler);
    await this.spawn('kube-scheduler', cp.ns, [
      join(this.bin, 'kube-scheduler'),
      `--kubeconfig=${schedulerConfig}`,
      `--authentication-kubeconfig=${schedulerConfig}`,
      `--authorization-kubeconfig=${schedulerConfig}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
    ]);
    // The service-account controller gives every namespace its `default` account: the controller-manager works.
    await this.waitFor('the controller-manager to create the default ServiceAccount', async () => (await this.kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'])).code === 0);
    this.say('control plane ready');
  }

  /** SIGTERM, and SIGKILL if it is still there after 10 s; resolves once it is gone. */
  async terminate(child: ChildProcess): Promise<void> {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.testbed.kill(child, 'SIGTERM');
    clearTimeout(timer);
  }

  /** Stops every node and component (by PID), deletes the namespaces; the logs stay only with `keepLogs`. */
  async stop(keepLogs = false): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const node of [...this.nodes].reverse()) await node.stop();
    // The control plane last, so the nodes' components do not spin on a missing API server meanwhile.
    for (const name of ['kube-scheduler', 'kube-controller-manager', 'apiserver-relay', 'kube-apiserver', 'etcd']) {
      const child = this.components.get(name);
      if (child !== undefined) await this.terminate(child);
    }
    await new Promise<void>((resolve) => (this.relayServer ? this.relayServer.close(() => resolve()) : resolve()));
    await this.kubectlHandle?.dispose();
    await this.testbed.destroy();
    if (keepLogs) {
      this.say(`logs kept in ${this.logDir}`);
      await rm(join(this.workDir, 'etcd'), { recursive: true, force: true });
    } else {
      await rm(this.workDir, { recursive: true, force: true });
    }
  }
}

export interface RealClusterContext {
  /** The running cluster; usable from tests and later hooks. */
  readonly cluster: RealCluster;
}

/**
 * Mocha hooks that start a real cluster before a suite (building the components the first
 * time: the hook may take most of an hour on a fresh machine) and stop it after; when a test
 * failed, the components' logs are kept and the suite says where.
 */
export function withRealCluster(options: Omit<RealClusterOptions, 'say'> = {}): RealClusterContext {
  let cluster: RealCluster | undefined;
  let failed = false;
  const say = (line: string) => process.stderr.write(`      [realcluster] ${line}\n`);
  before(async function () {
    this.timeout(90 * 60_000);
    cluster = await RealCluster.start({ ...options, say });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  after(async function () {
    this.timeout(120_000);
    await cluster?.stop(failed);
  });
  return {
    get cluster() {
      if (cluster === undefined) throw new Error('withRealCluster: the cluster is used before its before() hook ran');
      return cluster;
    },
  };
}
