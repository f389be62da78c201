/**
 * A kubelet stand-in for the local API server: keeps Node objects for a set of network
 * namespaces, and runs what Deployments and DaemonSets ask for as processes inside them
 * (command, args and env as rendered, with the pod's service-account identity), restarting
 * them with back-off, rolling them when the template changes, probing readiness and
 * writing the workloads' status and Pod objects. It ends only processes it started, by PID.
 *
 * The decisions (placement, env, status) are pure and live in workloads.ts.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Logger } from '../common/log.ts';
import { Backoff } from '../kube/backoff.ts';
import { Informer, type KubeObject } from '../kube/informer.ts';
import { KubeHttpError, KubeRest } from '../kube/rest.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { RELAY_READY, startUnixToTcpRelay } from './netns-relay.ts';
import {
  commandLine,
  daemonSetStatus,
  deploymentStatus,
  placePods,
  probePort,
  referencedObjects,
  resolveEnv,
  rolloutActions,
  type Container,
  type HttpProbe,
  type NodeInfo,
  type PodSlot,
  type PodState,
  type Taint,
  type Workload,
} from './workloads.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface AgentNode {
  name: string;
  /** Network namespace the node's processes run in. */
  netns: string;
  /** The node's InternalIP (also hostNetwork pods' IP). */
  address: string;
  address6?: string;
  labels?: Record<string, string>;
}

export interface NodeAgentOptions {
  /** An identity allowed to write Nodes, Pods, workload status and TokenRequests (the admin). */
  kubeConfig: KubeConfig;
  nodes: AgentNode[];
  /** Logs (one file per pod), service-account kubeconfigs and relay sockets. */
  workDir: string;
  /** Relay the API server's loopback address into every node namespace (see netns-relay.ts). */
  relayApiServer?: boolean;
  /** Argv of the `anchorlb` image entrypoint (default: this checkout's bin/anchorlb.js). */
  anchorlbArgv?: string[];
  /** false: only Nodes and the API relay, no pods (something else runs them, e.g. the image tests' containers). Default true. */
  runPods?: boolean;
  /** Restart back-off of a container that exited (default 1 s doubling to 30 s, like a shorter CrashLoopBackOff). */
  restartBackoffMs?: { base: number; max: number };
  /** How often desired and running pods are compared, besides on every change (default 1 s). */
  resyncMs?: number;
  logger?: Logger;
}

/** One running (or restarting) pod, as `pods()` reports it. */
export interface PodReport {
  namespace: string;
  name: string;
  owner: string;
  nodeName: string;
  pid: number | undefined;
  ready: boolean;
  restarts: number;
}

interface ApiObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { generation?: number; uid?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const RUNNING_LONG_ENOUGH_MS = 10_000;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ownerKey(owner: Workload): string {
  return `${owner.kind}/${owner.metadata.namespace}/${owner.metadata.name}`;
}

/** A workload from the API, or undefined (with the reason logged) when it has no runnable template. */
function toWorkload(kind: Workload['kind'], object: ApiObject, logger: Logger): Workload | undefined {
  const { name, namespace } = object.metadata ?? {};
  const template = object.spec?.template as Workload['spec']['template'] | undefined;
  if (!name || !namespace || !Array.isArray(template?.spec?.containers) || template.spec.containers.length === 0) {
    logger.warn({ kind, name, namespace }, 'workload without spec.template.spec.containers: not run');
    return undefined;
  }
  return { kind, metadata: { name, namespace, generation: object.metadata?.generation, uid: object.metadata?.uid }, spec: object.spec as Workload['spec'] };
}

/**
 * An HTTP(S) GET from inside a network namespace, printing the status code (0 when there is
 * no answer). Python is in the project's Debian packages; no proxy from the environment is
 * used (a probe never leaves the machine), and HTTPS is not verified, as the kubelet does.
 */
const HTTP_PROBE_SCRIPT = [
  'import ssl, sys, urllib.error, urllib.request',
  'opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))',
  'try:',
  '    print(opener.open(sys.argv[1], timeout=1).status)',
  'except urllib.error.HTTPError as error:',
  '    print(error.code)',
  'except Exception:',
  '    print(0)',
].join('\n');

/** Status code of a GET to `url` from inside `netns` (0: no answer). */
function httpGetStatus(netns: string, url: string): Promise<number> {
  return new Promise((done) => {
    execFile('ip', ['netns', 'exec', netns, 'python3', '-c', HTTP_PROBE_SCRIPT, url], { timeout: 3000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (_error, stdout) => done(Number(stdout.trim()) || 0));
  });
}

/** One pod: the process of its (first) container, restarted on exit, probed for readiness and liveness. */
class PodRunner {
  child: ChildProcess | undefined;
  ready = false;
  restarts = 0;
  private terminating = false;
  private readonly backoff: Backoff;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly probeTimers: NodeJS.Timeout[] = [];

  constructor(
    readonly slot: PodSlot,
    readonly node: AgentNode,
    private readonly agent: NodeAgent,
    backoffMs: { base: number; max: number },
  ) {
    this.backoff = new Backoff(backoffMs.base, backoffMs.max);
  }

  get container(): Container {
    return this.slot.owner.spec.template.spec.containers[0] as Container;
  }

  get graceMs(): number {
    return (this.slot.owner.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  }

  get state(): PodState {
    return { templateHash: this.slot.templateHash, ready: this.ready, available: this.ready };
  }

  async start(): Promise<void> {
    if (this.terminating) return;
    const { slot, node } = this;
    const spec = slot.owner.spec.template.spec;
    const namespace = slot.owner.metadata.namespace;
    try {
      if (spec.containers.length > 1) this.agent.logger.warn({ pod: slot.podName }, 'only the first container of a pod is run');
      const fields = { podName: slot.podName, namespace, nodeName: node.name, podIP: node.address, hostIP: node.address, serviceAccountName: spec.serviceAccountName ?? 'default' };
      const lookup = await this.agent.fetchReferences(namespace, this.container);
      const env = resolveEnv(this.container, fields, lookup);
      const kubeconfig = await this.agent.serviceAccountKubeconfig(namespace, fields.serviceAccountName);
      const argv = commandLine(this.container, env, this.agent.anchorlbArgv);
      // terminate() may have come while the references were fetched: start nothing then.
      if (this.terminating) return;
      const log = openSync(join(this.agent.logDir, `${namespace}_${slot.podName}.log`), 'a');
      const child = spawn('ip', ['netns', 'exec', node.netns, ...argv], {
        cwd: REPO_ROOT,
        stdio: ['ignore', log, log],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: spec.hostNetwork === true ? node.name : slot.podName, KUBECONFIG: kubeconfig, ...env },
      });
      closeSync(log);
      this.child = child;
      this.startedAt = Date.now();
      this.agent.logger.info({ pod: `${namespace}/${slot.podName}`, node: node.name, pid: child.pid, argv }, 'container started');
      child.once('exit', (code, signal) => this.exited(child, code, signal));
      this.startProbes();
      await this.agent.writePod(this);
    } catch (error) {
      this.agent.logger.error({ pod: `${namespace}/${slot.podName}`, err: errorText(error) }, 'container could not start');
      this.scheduleRestart();
    }
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.stopProbes();
    if (this.terminating) {
      this.ready = false;
      return;
    }
    if (this.ready) this.setReady(false);
    else void this.agent.writePod(this);
    this.restarts += 1;
    if (Date.now() - this.startedAt > RUNNING_LONG_ENOUGH_MS) this.backoff.reset();
    this.agent.logger.warn({ pod: `${this.slot.owner.metadata.namespace}/${this.slot.podName}`, code, signal, restarts: this.restarts }, 'container exited; restarting after back-off');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.terminating) return;
    this.restartTimer = setTimeout(() => void this.start(), this.backoff.next());
  }

  private startProbes(): void {
    const { readinessProbe, livenessProbe } = this.container;
    if (!readinessProbe?.httpGet) this.setReady(true);
    else this.probeEvery(readinessProbe, 'readiness', (ok) => ok !== undefined && this.setReady(ok));
    if (livenessProbe?.httpGet) {
      this.probeEvery(livenessProbe, 'liveness', (ok) => {
        // As the kubelet: a container failing its liveness probe is stopped, then restarted like after a crash.
        const child = this.child;
        if (ok === false && child) {
          this.agent.logger.warn({ pod: this.slot.podName }, 'liveness probe failed; restarting the container');
          child.kill('SIGTERM');
          setTimeout(() => child.exitCode === null && child.signalCode !== 'SIGKILL' && child.kill('SIGKILL'), this.graceMs).unref();
        }
      });
    }
  }

  /**
   * Runs an HTTP probe every periodSeconds from the node's namespace (the first after
   * initialDelaySeconds, at least one second); `verdict` gets true on a success, false after
   * failureThreshold failures in a row, undefined otherwise.
   */
  private probeEvery(probe: HttpProbe, kind: string, verdict: (ok: boolean | undefined) => void): void {
    let failures = 0;
    const run = async () => {
      if (!this.child) return;
      const ok = await this.probeOnce(probe, kind);
      failures = ok ? 0 : failures + 1;
      verdict(ok ? true : failures >= (probe.failureThreshold ?? 3) ? false : undefined);
    };
    const first = setTimeout(() => {
      void run();
      this.probeTimers.push(setInterval(() => void run(), (probe.periodSeconds ?? 10) * 1000));
    }, Math.max((probe.initialDelaySeconds ?? 0) * 1000, 1000));
    this.probeTimers.push(first);
  }

  private stopProbes(): void {
    for (const timer of this.probeTimers.splice(0)) clearTimeout(timer);
  }

  private async probeOnce(probe: HttpProbe, kind: string): Promise<boolean> {
    const get = probe.httpGet;
    if (!get) return true;
    try {
      const port = probePort(this.container, get.port);
      const host = this.node.address.includes(':') ? `[${this.node.address}]` : this.node.address;
      const url = `${(get.scheme ?? 'HTTP').toLowerCase()}://${host}:${port}${get.path ?? '/'}`;
      const status = await httpGetStatus(this.node.netns, url);
      return status >= 200 && status < 400;
    } catch (error) {
      this.agent.logger.warn({ pod: this.slot.podName, err: errorText(error) }, `${kind} probe misconfigured`);
      return false;
    }
  }

  private setReady(ready: boolean): void {
    if (this.ready === ready) return;
    this.ready = ready;
    this.agent.changed();
    // A terminating pod's object is being deleted: writing it would bring it back.
    if (!this.terminating) void this.agent.writePod(this);
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
  async terminate(): Promise<void> {
    this.terminating = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.stopProbes();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), this.graceMs);
      await gone;
      clearTimeout(killer);
    }
    this.ready = false;
    await this.agent.deletePod(this);
  }
}

export class NodeAgent {
  readonly logger: Logger;
  readonly logDir: string;
  readonly anchorlbArgv: string[];
  private readonly rest: KubeRest;
  private readonly deployments: Informer<ApiObject>;
  private readonly daemonSets: Informer<ApiObject>;
  private readonly nodeObjects: Informer<ApiObject>;
  private readonly runners = new Map<string, PodRunner>();
  /** Keys whose pod is being replaced or removed right now. */
  private readonly busy = new Set<string>();
  private readonly writtenStatus = new Map<string, string>();
  private readonly tokens = new Map<string, string>();
  private readonly relays: ChildProcess[] = [];
  private relayServer: { close(): Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling = false;
  private again = false;
  private stopped = false;

  constructor(private readonly options: NodeAgentOptions) {
    this.logger = options.logger ?? createLogger('node-agent');
    this.logDir = join(options.workDir, 'logs');
    this.anchorlbArgv = options.anchorlbArgv ?? [process.execPath, join(REPO_ROOT, 'bin/anchorlb.js')];
    this.rest = new KubeRest(options.kubeConfig);
    const informer = (path: string) => new Informer<ApiObject>(options.kubeConfig, { path, logger: this.logger });
    this.deployments = informer('/apis/apps/v1/deployments');
    this.daemonSets = informer('/apis/apps/v1/daemonsets');
    this.nodeObjects = informer('/api/v1/nodes');
  }

  async start(): Promise<void> {
    mkdirSync(this.logDir, { recursive: true });
    if (this.options.relayApiServer === true) await this.startRelays();
    for (const node of this.options.nodes) await this.registerNode(node);
    for (const informer of [this.deployments, this.daemonSets, this.nodeObjects]) {
      informer.on({ add: () => this.changed(), update: () => this.changed(), delete: () => this.changed() });
      await informer.start();
    }
    this.timer = setInterval(() => this.changed(), this.options.resyncMs ?? 1000);
    this.changed();
  }

  /** Stops every pod (gracefully), the relays and the watches. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.runners.values()].map((runner) => runner.terminate()));
    this.runners.clear();
    await Promise.all([this.deployments, this.daemonSets, this.nodeObjects].map((informer) => informer.stop()));
    await Promise.all(this.relays.map((relay) => killAndWait(relay)));
    await this.relayServer?.close();
  }

  pods(): PodReport[] {
    return [...this.runners.values()].map((runner) => ({
      namespace: runner.slot.owner.metadata.namespace,
      name: runner.slot.podName,
      owner: ownerKey(runner.slot.owner),
      nodeName: runner.node.name,
      pid: runner.child?.pid,
      ready: runner.ready,
      restarts: runner.restarts,
    }));
  }

  /** Something changed: compare desired and running pods (coalesced, one pass at a time). */
  changed(): void {
    if (this.stopped) return;
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = true;
    void this.reconcile()
      .catch((error: unknown) => this.logger.error({ err: errorText(error) }, 'reconcile failed'))
      .finally(() => {
        this.reconciling = false;
        if (this.again) {
          this.again = false;
          this.changed();
        }
      });
  }

  private async startRelays(): Promise<void> {
    const server = new URL(this.options.kubeConfig.getCurrentCluster()?.server ?? '');
    const host = server.hostname.replace(/^\[|\]$/g, '');
    const port = Number(server.port || (server.protocol === 'https:' ? 443 : 80));
    if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') throw new Error(`relayApiServer: the API server ${server.href} is not on loopback; nodes reach it directly`);
    const socketPath = join(this.options.workDir, 'apiserver.sock');
    this.relayServer = await startUnixToTcpRelay(socketPath, host, port);
    const relayScript = join(REPO_ROOT, 'src/localcluster/netns-relay.ts');
    for (const node of this.options.nodes) {
      const relay = spawn('ip', ['netns', 'exec', node.netns, process.execPath, '--import', 'tsx', relayScript, host, String(port), socketPath], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      this.relays.push(relay);
      await new Promise<void>((ready, fail) => {
        relay.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes(RELAY_READY)) ready();
        });
        relay.once('exit', (code) => fail(new Error(`API relay in ${node.netns} exited (${code}) before listening`)));
      });
    }
  }

  private async registerNode(node: AgentNode): Promise<void> {
    const labels = { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch, ...node.labels };
    const now = new Date().toISOString();
    const addresses = [{ type: 'InternalIP', address: node.address }, ...(node.address6 ? [{ type: 'InternalIP', address: node.address6 }] : []), { type: 'Hostname', address: node.name }];
    const status = {
      addresses,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: `anchorlb node agent runs pods in network namespace ${node.netns}`, lastHeartbeatTime: now, lastTransitionTime: now }],
      nodeInfo: { kubeletVersion: 'anchorlb-node-agent', operatingSystem: 'linux', architecture: labels['kubernetes.io/arch'], containerRuntimeVersion: 'netns://' },
    };
    try {
      await this.rest.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: node.name, labels }, spec: {} });
    } catch (error) {
      if (!(error instanceof KubeHttpError && error.statusCode === 409)) throw error;
      await this.rest.patch(`/api/v1/nodes/${node.name}`, { metadata: { labels } });
    }
    await this.rest.patch(`/api/v1/nodes/${node.name}/status`, { status });
  }

  private nodeInfos(): NodeInfo[] {
    return this.options.nodes.map((node) => {
      const object = this.nodeObjects.get(node.name);
      const spec = object?.spec as { taints?: Taint[]; unschedulable?: boolean } | undefined;
      const taints = [...(spec?.taints ?? []), ...(spec?.unschedulable === true ? [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] : [])];
      return { name: node.name, labels: object?.metadata?.labels ?? {}, taints, address: node.address };
    });
  }

  private workloads(): Workload[] {
    return [
      ...this.deployments.list().flatMap((object) => toWorkload('Deployment', object, this.logger) ?? []),
      ...this.daemonSets.list().flatMap((object) => toWorkload('DaemonSet', object, this.logger) ?? []),
    ];
  }

  private async reconcile(): Promise<void> {
    if (this.options.runPods === false) return;
    const workloads = this.workloads();
    const nodeInfos = this.nodeInfos();
    const slots = placePods(workloads, nodeInfos);
    const wanted = new Map(slots.map((slot) => [slot.key, slot]));
    for (const [key, runner] of this.runners) {
      if (!wanted.has(key) && !this.busy.has(key)) void this.replace(key, runner, undefined);
    }
    const byOwner = new Map<string, PodSlot[]>();
    for (const slot of slots) byOwner.set(ownerKey(slot.owner), [...(byOwner.get(ownerKey(slot.owner)) ?? []), slot]);
    for (const ownerSlots of byOwner.values()) {
      const running = new Map(ownerSlots.flatMap((slot) => {
        const runner = this.runners.get(slot.key);
        return runner ? [[slot.key, { templateHash: runner.slot.templateHash, nodeName: runner.slot.nodeName, ready: runner.ready }] as const] : [];
      }));
      const { start, replace } = rolloutActions(ownerSlots, running, this.busy);
      for (const slot of start) void this.replace(slot.key, undefined, slot);
      for (const slot of replace) void this.replace(slot.key, this.runners.get(slot.key), slot);
      // Pods already current follow the workload's latest metadata (generation) without a restart.
      for (const slot of ownerSlots) {
        const runner = this.runners.get(slot.key);
        if (runner && !this.busy.has(slot.key) && runner.slot.templateHash === slot.templateHash) runner.slot.owner = slot.owner;
      }
    }
    for (const owner of workloads) await this.writeStatus(owner, nodeInfos);
  }

  /** Stops `old` (if any), then starts a pod for `slot` (if any), with the key marked busy meanwhile. */
  private async replace(key: string, old: PodRunner | undefined, slot: PodSlot | undefined): Promise<void> {
    this.busy.add(key);
    try {
      if (old) {
        await old.terminate();
        this.runners.delete(key);
      }
      if (slot && !this.stopped) {
        const node = this.options.nodes.find((candidate) => candidate.name === slot.nodeName) as AgentNode;
        const runner = new PodRunner(slot, node, this, this.options.restartBackoffMs ?? { base: 1000, max: 30_000 });
        this.runners.set(key, runner);
        await runner.start();
      }
    } finally {
      this.busy.delete(key);
      this.changed();
    }
  }

  private async writeStatus(owner: Workload, nodeInfos: NodeInfo[]): Promise<void> {
    const prefix = `${owner.metadata.namespace}/${owner.metadata.name}/`;
    const pods = [...this.runners.entries()].filter(([key]) => key.startsWith(prefix)).map(([, runner]) => runner.state);
    const plural = owner.kind === 'Deployment' ? 'deployments' : 'daemonsets';
    const path = `/apis/apps/v1/namespaces/${owner.metadata.namespace}/${plural}/${owner.metadata.name}/status`;
    let status: object;
    if (owner.kind === 'Deployment') {
      const computed = deploymentStatus(owner, pods);
      const now = new Date().toISOString();
      status = { ...computed, conditions: computed.conditions.map((condition) => ({ ...condition, lastUpdateTime: now, lastTransitionTime: now })) };
      if (this.writtenStatus.get(ownerKey(owner)) === JSON.stringify(computed)) return;
      this.writtenStatus.set(ownerKey(owner), JSON.stringify(computed));
    } else {
      status = daemonSetStatus(owner, nodeInfos.filter((node) => placePods([owner], [node]).length > 0).length, pods);
      if (this.writtenStatus.get(ownerKey(owner)) === JSON.stringify(status)) return;
      this.writtenStatus.set(ownerKey(owner), JSON.stringify(status));
    }
    try {
      await this.rest.patch(path, { status });
    } catch (error) {
      this.writtenStatus.delete(ownerKey(owner));
      this.logger.warn({ workload: ownerKey(owner), err: errorText(error) }, 'status not written; retrying');
    }
  }

  /** A lookup over the Secrets and ConfigMaps the container's env names (fetched now; missing ones read as absent). */
  async fetchReferences(namespace: string, container: Container): Promise<(kind: 'Secret' | 'ConfigMap', name: string, key: string) => string | undefined> {
    const data = new Map<string, Record<string, string>>();
    for (const ref of referencedObjects(container)) {
      const plural = ref.kind === 'Secret' ? 'secrets' : 'configmaps';
      try {
        const object = await this.rest.getJson<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/${plural}/${ref.name}`);
        const values = object.data ?? {};
        data.set(`${ref.kind}/${ref.name}`, ref.kind === 'Secret' ? Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) : values);
      } catch (error) {
        if (!(error instanceof KubeHttpError && error.statusCode === 404)) throw error;
      }
    }
    return (kind, name, key) => data.get(`${kind}/${name}`)?.[key];
  }

  /** A kubeconfig file for the pod's service account (a TokenRequest, as the kubelet projects one). */
  async serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const path = join(this.options.workDir, 'serviceaccounts', `${namespace}_${name}.kubeconfig`);
    const cacheKey = `${namespace}/${name}`;
    if (!this.tokens.has(cacheKey)) {
      const request = await this.rest.create<{ status?: { token?: string } }>(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 86400 },
      });
      const token = request.status?.token;
      if (!token) throw new Error(`TokenRequest for service account ${namespace}/${name} returned no token`);
      const cluster = this.options.kubeConfig.getCurrentCluster();
      if (!cluster) throw new Error('node agent kubeconfig has no current cluster');
      const caPem = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : undefined;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, renderKubeconfig({ server: cluster.server, identity: `system:serviceaccount:${namespace}:${name}`, token, namespace, ...(caPem ? { caPem } : {}) }), { mode: 0o600 });
      this.tokens.set(cacheKey, token);
    }
    return path;
  }

  /** Creates or updates the Pod object of a runner (best effort: pods are for people, the agent does not read them). */
  async writePod(runner: PodRunner): Promise<void> {
    const { slot, node } = runner;
    const namespace = slot.owner.metadata.namespace;
    const path = `/api/v1/namespaces/${namespace}/pods/${slot.podName}`;
    const now = new Date().toISOString();
    const status = {
      phase: 'Running',
      hostIP: node.address,
      podIP: node.address,
      podIPs: [{ ip: node.address }],
      startTime: now,
      conditions: [{ type: 'Ready', status: runner.ready ? 'True' : 'False', lastTransitionTime: now }],
      containerStatuses: [{ name: runner.container.name, ready: runner.ready, restartCount: runner.restarts, image: runner.container.image ?? '', imageID: '', started: runner.child !== undefined, state: runner.child ? { running: { startedAt: now } } : { waiting: { reason: 'CrashLoopBackOff' } } }],
    };
    try {
      try {
        await this.rest.getJson(path);
      } catch (error) {
        if (!(error instanceof KubeHttpError && error.statusCode === 404)) throw error;
        const template = slot.owner.spec.template;
        await this.rest.create(`/api/v1/namespaces/${namespace}/pods`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: slot.podName,
            namespace,
            labels: { ...template.metadata?.labels, 'pod-template-hash': slot.templateHash },
            ownerReferences: slot.owner.metadata.uid ? [{ apiVersion: 'apps/v1', kind: slot.owner.kind, name: slot.owner.metadata.name, uid: slot.owner.metadata.uid, controller: true }] : [],
          },
          spec: { ...template.spec, nodeName: node.name },
        });
      }
      await this.rest.patch(`${path}/status`, { status });
    } catch (error) {
      this.logger.debug({ pod: `${namespace}/${slot.podName}`, err: errorText(error) }, 'pod object not written');
    }
  }

  async deletePod(runner: PodRunner): Promise<void> {
    try {
      await this.rest.delete(`/api/v1/namespaces/${runner.slot.owner.metadata.namespace}/pods/${runner.slot.podName}`);
    } catch (error) {
      if (!(error instanceof KubeHttpError && error.statusCode === 404)) this.logger.debug({ pod: runner.slot.podName, err: errorText(error) }, 'pod object not deleted');
    }
  }
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  return gone;
}
