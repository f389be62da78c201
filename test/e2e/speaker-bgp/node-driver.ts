/** A driver.ts process in a node namespace: commands to its stdin, JSON events from its stdout. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PeerSessionStatus } from '../../../src/speaker/bgp/announcer.ts';
import type { LocalNodeView } from '../../../src/speaker/bgp/desired.ts';
import { waitFor, type Host, type Testbed } from '../../support/testbed.ts';
import type { ClusterStateJson, DriverCommand } from './driver.ts';

const DRIVER = fileURLToPath(new URL('./driver.ts', import.meta.url));

interface DriverEvent {
  event: string;
  peers?: PeerSessionStatus[];
  /** Peer → the prefixes its session carries now. */
  announced?: Record<string, string[]>;
  message?: string;
}

export class NodeDriver {
  private readonly events: DriverEvent[] = [];
  private stderr = '';
  node: LocalNodeView;

  private constructor(
    private readonly testbed: Testbed,
    readonly host: Host,
    readonly child: ChildProcess,
  ) {
    this.node = { name: nodeName(host), labels: { 'kubernetes.io/hostname': nodeName(host) }, draining: false };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as DriverEvent);
      } catch {
        // not an event
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  static async start(testbed: Testbed, host: Host, args: string[] = []): Promise<NodeDriver> {
    const child = await testbed.spawn(host.ns, [process.execPath, '--import', 'tsx', DRIVER, '--node', nodeName(host), '--addresses', `${host.ipv4},${host.ipv6}`, ...args], { pipe: true });
    const driver = new NodeDriver(testbed, host, child);
    await driver.waitForEvent('driver ready', (e) => e.event === 'ready');
    return driver;
  }

  async waitForEvent(what: string, match: (e: DriverEvent) => boolean, from = 0, timeoutMs = 30_000): Promise<DriverEvent> {
    return waitFor(
      `${this.node.name}: ${what}`,
      () => {
        const found = this.events.slice(from).find(match);
        if (found) return found;
        const error = this.events.find((e) => e.event === 'error');
        if (error) throw new Error(`driver error: ${error.message ?? ''}`);
        if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`driver exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
        return undefined;
      },
      timeoutMs,
      20,
    );
  }

  private send(command: DriverCommand): number {
    const mark = this.events.length;
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    return mark;
  }

  /** Applies the desired state computed from `state` for this node; resolves once applied. */
  async apply(state: ClusterStateJson, addresses?: string[]): Promise<void> {
    const mark = this.send({ apply: { state, node: this.node, ...(addresses ? { addresses } : {}) } });
    await this.waitForEvent('applied', (e) => e.event === 'applied', mark);
  }

  async status(): Promise<PeerSessionStatus[]> {
    const mark = this.send({ status: true });
    return (await this.waitForEvent('status', (e) => e.event === 'status', mark)).peers ?? [];
  }

  /** The prefixes the session of `peer` carries now. */
  async announced(peer: string): Promise<string[]> {
    const mark = this.send({ status: true });
    return (await this.waitForEvent('status', (e) => e.event === 'status', mark)).announced?.[peer] ?? [];
  }

  async peer(name: string): Promise<PeerSessionStatus | undefined> {
    return (await this.status()).find((p) => p.peer === name);
  }

  async waitEstablished(peer: string, timeoutMs = 30_000): Promise<PeerSessionStatus> {
    let last: PeerSessionStatus | undefined;
    try {
      return await waitFor(`${this.node.name}: ${peer} Established`, async () => {
        last = await this.peer(peer);
        return last?.state === 'Established' && last;
      }, timeoutMs, 100);
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; last status ${JSON.stringify(last)}`, { cause: error });
    }
  }

  /** SIGTERM (graceful stop) and wait for the exit. */
  async terminate(): Promise<void> {
    await this.testbed.kill(this.child, 'SIGTERM');
  }
}

function nodeName(host: Host): string {
  return host.ns.split('-').pop() ?? host.ns;
}
