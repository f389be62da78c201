/**
 * Real `anchorlb speaker` processes in testbed node namespaces against the local API server:
 * the set-up and teardown the speaker end-to-end tests share. The node agent registers Ready
 * Nodes and relays the API server into each namespace (as in `make demo`); it runs no workload.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { NodeAgent } from '../../src/localcluster/node-agent.ts';
import { defaultBindStateFile } from '../../src/speaker/bind.ts';
import { REPO_ROOT, withLocalApiServer, type LocalApiServerContext } from './apiserver.ts';
import { Testbed, waitFor } from './testbed.ts';

export const SPEAKER_NAMESPACE = 'anchorlb-system';

export interface SpeakerNodesOptions {
  cluster: LocalApiServerContext;
  nodeNames: readonly string[];
  /** Namespaces created beside the speakers' own (for the Services). */
  appNamespaces: readonly string[];
  prefix: string;
  client?: boolean;
  /** Speaker and node-agent logs go here. */
  workDir: string;
}

export class SpeakerNodes {
  readonly speakers = new Map<string, ChildProcess>();

  private constructor(
    readonly testbed: Testbed,
    private readonly agent: NodeAgent,
    private readonly options: SpeakerNodesOptions,
  ) {}

  static async create(options: SpeakerNodesOptions): Promise<SpeakerNodes> {
    const testbed = await Testbed.create({ nodes: options.nodeNames.length, client: options.client === true, prefix: options.prefix });
    // The VIP goes on lo (bindToInterface): only the elected speaker may answer ARP for it.
    for (const node of testbed.nodes) await testbed.exec(node.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    const agent = new NodeAgent({
      kubeConfig: options.cluster.kubeConfig,
      nodes: testbed.nodes.map((node, index) => ({ name: options.nodeNames[index] as string, netns: node.ns, address: node.ipv4 })),
      workDir: options.workDir,
      relayApiServer: true,
      logger: pino({ base: { component: 'node-agent' } }, pino.destination({ dest: join(options.workDir, 'node-agent.log'), sync: false })),
    });
    const nodes = new SpeakerNodes(testbed, agent, options);
    await nodes.kubectl(['apply', '-f', join(REPO_ROOT, 'crds')]);
    for (const namespace of [SPEAKER_NAMESPACE, ...options.appNamespaces]) await nodes.kubectl(['create', 'namespace', namespace]);
    await nodes.kubectl(['create', 'secret', 'generic', 'anchorlb-liveness', '-n', SPEAKER_NAMESPACE, `--from-literal=key=${randomBytes(32).toString('base64')}`]);
    await agent.start();
    return nodes;
  }

  /** kubectl as admin; throws with its stderr when it fails. */
  async kubectl(args: readonly string[], stdin?: string): Promise<string> {
    const result = await this.options.cluster.kubectl(args, stdin === undefined ? {} : { stdin });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  nsOf(name: string): string {
    const node = this.testbed.nodes[this.options.nodeNames.indexOf(name)];
    if (!node) throw new Error(`no node ${name}`);
    return node.ns;
  }

  logOf(name: string): string {
    return join(this.options.workDir, `${name}.log`);
  }

  /** Starts the speaker of node `name` (Layer 2 mode and the admin's kubeconfig unless told) and waits until it says it runs (its log is appended to). */
  async startSpeaker(name: string, options: { modes?: string; kubeconfig?: string } = {}): Promise<ChildProcess> {
    const log = this.logOf(name);
    const from = existsSync(log) ? readFileSync(log).length : 0;
    const argv = [process.execPath, join(REPO_ROOT, 'bin/anchorlb.js'), 'speaker', '--kubeconfig', options.kubeconfig ?? this.options.cluster.kubeconfigPath, '--node-name', name, '--namespace', SPEAKER_NAMESPACE, '--liveness-secret', 'anchorlb-liveness', '--modes', options.modes ?? 'l2', '--metrics-port', '0', '--metrics-host', '127.0.0.1'];
    const child = await this.testbed.spawn(this.nsOf(name), argv, { logFile: log });
    this.speakers.set(name, child);
    await waitFor(`the speaker on ${name} to run`, () => {
      if (child.exitCode !== null) throw new Error(`the speaker on ${name} exited (${child.exitCode}): ${readFileSync(log, 'utf8').slice(from)}`);
      return readFileSync(log).subarray(from).includes('"msg":"speaker running"');
      // Start-up (tsx compiling, list+watch) takes seconds alone and minutes on a loaded 2-core machine.
    }, 180_000, 100);
    return child;
  }

  /** The speaker's /metrics now, fetched inside its node namespace from the port its last "speaker running" line names. */
  async metricsOf(name: string): Promise<string> {
    const running = readFileSync(this.logOf(name), 'utf8').split('\n').filter((line) => line.includes('"msg":"speaker running"')).at(-1);
    const port = running === undefined ? undefined : (JSON.parse(running) as { metricsPort?: number }).metricsPort;
    if (port === undefined) throw new Error(`the speaker on ${name} has not said its metrics port`);
    const script = `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
    return (await this.testbed.exec(this.nsOf(name), [process.execPath, '-e', script])).stdout;
  }

  /** Signals a speaker we started, by its PID, and waits until it is gone. */
  async stopSpeaker(name: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.speakers.get(name);
    if (!child) throw new Error(`no speaker on ${name}`);
    await this.testbed.kill(child, signal);
  }

  /** Kills what it started (by PID), removes the speakers' bind records, the agent and the namespaces. */
  async destroy(): Promise<void> {
    for (const child of this.speakers.values()) await this.testbed.kill(child, 'SIGKILL');
    for (const [index, node] of this.testbed.nodes.entries()) {
      const path = `/run/netns/${node.ns}`;
      if (existsSync(path)) rmSync(defaultBindStateFile(this.options.nodeNames[index] as string, String(statSync(path).ino)), { force: true });
    }
    await this.agent.stop();
    await this.testbed.destroy();
  }
}

export interface SpeakerNodesContext {
  readonly cluster: LocalApiServerContext;
  /** Speaker and node-agent logs; kept (and said where) when a test failed. */
  readonly workDir: string;
  /** Builds the nodes; call from the suite's `before`. */
  create(options: Omit<SpeakerNodesOptions, 'cluster' | 'workDir'>): Promise<SpeakerNodes>;
  /** The nodes built by `create`. */
  nodes(): SpeakerNodes;
}

/**
 * Mocha hooks for a suite of real speakers: an HTTPS local API server, and teardown of
 * everything `create` built before that server stops; on a failure the speakers' last log
 * lines are printed and the logs kept.
 */
export function withSpeakerNodes(workDirPrefix: string): SpeakerNodesContext {
  const workDir = mkdtempSync(join(tmpdir(), workDirPrefix));
  let nodes: SpeakerNodes | undefined;
  let failed = false;
  // Registered before the API server's hooks: mocha runs after hooks in the order they were added.
  after(async function () {
    this.timeout(60_000);
    await nodes?.destroy();
    if (failed) process.stderr.write(`speaker and node agent logs kept in ${workDir}\n`);
    else rmSync(workDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    failed = true;
    for (const name of nodes?.speakers.keys() ?? []) {
      const log = join(workDir, `${name}.log`);
      if (existsSync(log)) process.stderr.write(`--- ${name} speaker log, last lines ---\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}\n`);
    }
  });
  const cluster = withLocalApiServer({ tls: true });
  return {
    cluster,
    workDir,
    create: async (options) => (nodes = await SpeakerNodes.create({ ...options, cluster, workDir })),
    nodes: () => {
      if (!nodes) throw new Error('withSpeakerNodes: create() has not run');
      return nodes;
    },
  };
}
