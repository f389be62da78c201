// Three L2 speakers (driver.ts) and a client on one bridge, for the e2e tests and
// bench/failover.ts. Built on test/support/testbed.ts: node1..3 at 192.0.2.11-13, the client at
// 192.0.2.2; everything inside namespaces with this run's prefix, removed by destroy().
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClaimTiming } from '../../../src/speaker/l2/claim.ts';
import { Testbed, waitFor } from '../../support/testbed.ts';
import type { ClusterL2StateJson, DriverConfig } from './driver.ts';

const DRIVER = fileURLToPath(new URL('./driver.ts', import.meta.url));
const LIVENESS_PORT = 7946;

export type DriverMessage = Record<string, unknown> & { event: string };

export class Speaker {
  readonly messages: DriverMessage[] = [];
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    if (!child.stdout) throw new Error('driver has no stdout pipe');
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (typeof message.event === 'string') this.messages.push(message as DriverMessage);
      } catch {
        // not one of ours (a stray log line)
      }
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first message from index `from` on that matches. */
  next(what: string, match: (message: DriverMessage) => boolean, from = 0, timeoutMs = 20_000): Promise<DriverMessage> {
    return waitFor(`${this.name}: ${what}`, () => {
      const error = this.messages.find((m) => m.event === 'error');
      if (error) throw new Error(`${this.name} failed: ${String(error.message)}`);
      const found = this.messages.slice(from).find(match);
      if (!found && !this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode})`);
      return found;
    }, timeoutMs, 10).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; its last message: ${JSON.stringify(this.messages.at(-1) ?? null)}`);
    });
  }

  /** IP → phase of what this speaker holds now. */
  async phases(): Promise<Record<string, string>> {
    const from = this.messages.length;
    this.child.stdin?.write('status\n');
    const status = await this.next('status', (m) => m.event === 'status', from, 10_000);
    return status.phases as Record<string, string>;
  }
}

export interface L2ClusterOptions {
  state: ClusterL2StateJson;
  /** Default 100 ms × 10 (1 s): generous for a loaded test machine. */
  intervalMs?: number;
  missedHeartbeats?: number;
  timing?: Partial<ClaimTiming>;
  prefix?: string;
  /** Runs on the new testbed before any speaker starts (e.g. to put a foreign host on the segment). */
  prepare?: (testbed: Testbed) => Promise<void>;
}

export class L2Cluster {
  readonly speakers = new Map<string, Speaker>();
  readonly macs = new Map<string, string>();
  private readonly key = randomBytes(32).toString('hex');

  private constructor(
    readonly testbed: Testbed,
    private readonly options: L2ClusterOptions,
  ) {}

  static async create(options: L2ClusterOptions): Promise<L2Cluster> {
    const testbed = await Testbed.create({ nodes: 3, client: true, prefix: options.prefix ?? `l2${randomBytes(3).toString('hex')}` });
    const cluster = new L2Cluster(testbed, options);
    try {
      await options.prepare?.(testbed);
      for (const [index, node] of testbed.nodes.entries()) {
        // bindToInterface puts the VIP on lo: the kernel must neither answer ARP for it nor send ARP from it.
        await testbed.exec(node.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
        const link = JSON.parse((await testbed.exec(node.ns, ['ip', '-j', 'link', 'show', testbed.iface])).stdout) as Array<{ address: string }>;
        cluster.macs.set(`node${index + 1}`, link[0]?.address ?? '');
      }
      await Promise.all(testbed.nodes.map((_, index) => cluster.start(`node${index + 1}`)));
    } catch (error) {
      await testbed.destroy();
      throw error;
    }
    return cluster;
  }

  get client(): { ns: string; ipv4: string; ipv6: string } {
    const client = this.testbed.client;
    if (!client) throw new Error('testbed has no client');
    return client;
  }

  /** Node name of a MAC address, if it is one of ours. */
  nodeOfMac(mac: string): string | undefined {
    return [...this.macs].find(([, nodeMac]) => nodeMac === mac.toLowerCase())?.[0];
  }

  speaker(name: string): Speaker {
    const speaker = this.speakers.get(name);
    if (!speaker) throw new Error(`no speaker ${name}`);
    return speaker;
  }

  /** Starts (or restarts) the driver of node `name` and waits until it has applied its first state. */
  async start(name: string): Promise<Speaker> {
    const index = Number(name.replace('node', '')) - 1;
    const node = this.testbed.nodes[index];
    if (!node) throw new Error(`no node ${name}`);
    const config: DriverConfig = {
      self: name,
      address: node.ipv4,
      port: LIVENESS_PORT,
      peers: this.testbed.nodes.filter((other) => other !== node).map((other) => other.ipv4),
      key: this.key,
      intervalMs: this.options.intervalMs ?? 100,
      missedHeartbeats: this.options.missedHeartbeats ?? 10,
      interfaces: [this.testbed.iface],
      timing: this.options.timing,
      state: this.options.state,
    };
    const child = await this.testbed.spawn(node.ns, [process.execPath, '--import', 'tsx', DRIVER, JSON.stringify(config)], { pipe: true });
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const speaker = new Speaker(name, child);
    this.speakers.set(name, speaker);
    await speaker.next('ready', (m) => m.event === 'ready', 0, 60_000);
    return speaker;
  }

  /** Signals a driver and waits for it to exit. */
  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    await this.testbed.kill(this.speaker(name).child, signal);
  }

  /** Who holds `ip` in which phase, across running speakers (except `excluding`). */
  async holders(ip: string, excluding: string[] = []): Promise<Map<string, string>> {
    const holders = new Map<string, string>();
    for (const [name, speaker] of this.speakers) {
      if (!speaker.running || excluding.includes(name)) continue;
      const phase = (await speaker.phases())[ip];
      if (phase !== undefined) holders.set(name, phase);
    }
    return holders;
  }

  /** Waits until exactly one running speaker (except `excluding`) holds `ip`, announced, and returns its name. */
  async settledOwner(ip: string, excluding: string[] = [], timeoutMs = 30_000): Promise<string> {
    return waitFor(`one announced owner of ${ip}`, async () => {
      const holders = await this.holders(ip, excluding);
      const [only] = [...holders];
      return holders.size === 1 && only?.[1] === 'announced' ? only[0] : undefined;
    }, timeoutMs, 100);
  }

  /** The MACs that answered `arping` (IPv4) or `ndisc6` (IPv6) for `ip`, asked from namespace `ns` (default the client). */
  async answeringMacs(ip: string, ns = this.client.ns): Promise<string[]> {
    if (ip.includes(':')) {
      const { stdout } = await this.testbed.exec(ns, ['ndisc6', '-m', '-r', '2', '-w', '500', ip, this.testbed.iface], { allowFailure: true });
      return [...stdout.matchAll(/Target link-layer address: ([0-9A-Fa-f:]{17})/g)].map((m) => (m[1] ?? '').toLowerCase());
    }
    const { stdout } = await this.testbed.exec(ns, ['arping', '-c', '3', '-w', '3', '-I', this.testbed.iface, ip], { allowFailure: true });
    return [...stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] ?? '').toLowerCase());
  }

  /** Addresses on `lo` in node `name`'s namespace. */
  async loopbackAddresses(name: string): Promise<string[]> {
    const index = Number(name.replace('node', '')) - 1;
    const node = this.testbed.nodes[index];
    if (!node) throw new Error(`no node ${name}`);
    const links = JSON.parse((await this.testbed.exec(node.ns, ['ip', '-j', 'addr', 'show', 'dev', 'lo'])).stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
    return (links[0]?.addr_info ?? []).map((info) => info.local);
  }

  /** Cuts (or restores) node `name`'s cable: its port on the bridge goes down. */
  async setLink(name: string, up: boolean): Promise<void> {
    const port = `${this.testbed.prefix}-n${name.replace('node', '')}`;
    await this.testbed.exec(`${this.testbed.prefix}-sw`, ['ip', 'link', 'set', port, up ? 'up' : 'down']);
  }

  /**
   * Pings `ip` from the client every `intervalMs` while `disrupt(owner)` runs, until another node
   * holds it and answers again: who owned it, who took over, and what the client lost.
   */
  async measureFailover(
    ip: string,
    disrupt: (owner: string) => Promise<void>,
    intervalMs: number,
  ): Promise<{ owner: string; successor: string; sent: number; lost: number[]; outageMs: number }> {
    const owner = await this.settledOwner(ip);
    const pinger = await Pinger.start(this.testbed, this.client, ip, intervalMs);
    try {
      await pinger.waitForAnswerAfter(10);
      await disrupt(owner);
      const successor = await this.settledOwner(ip, [owner]);
      await pinger.waitForAnswerAfter(pinger.highestAnswered + 20);
      return { owner, successor, ...(await pinger.stop(this.testbed)) };
    } finally {
      await pinger.stop(this.testbed);
    }
  }

  async destroy(): Promise<void> {
    await this.testbed.destroy();
  }
}

/** ICMP echo every `intervalMs` from the client to `ip` until stopped; which sequence numbers were answered, and when. */
export class Pinger {
  /** icmp_seq → reply time (ping -D, seconds since the epoch as ms). */
  private readonly answered = new Map<number, number>();
  private constructor(
    private readonly child: ChildProcess,
    readonly intervalMs: number,
  ) {
    if (!child.stdout) throw new Error('ping has no stdout pipe');
    createInterface({ input: child.stdout }).on('line', (line) => {
      const reply = /^\[([\d.]+)\].*icmp_seq=(\d+) ttl=/.exec(line);
      if (reply?.[1] && reply[2]) this.answered.set(Number(reply[2]), Number(reply[1]) * 1000);
    });
  }

  /** Pings from the host's own address, so the kernel never picks one that a test added. */
  static async start(testbed: Testbed, host: { ns: string; ipv4: string; ipv6: string }, ip: string, intervalMs = 5): Promise<Pinger> {
    const v6 = ip.includes(':');
    const child = await testbed.spawn(host.ns, ['ping', v6 ? '-6' : '-4', '-n', '-D', '-I', v6 ? host.ipv6 : host.ipv4, '-i', String(intervalMs / 1000), ip], { pipe: true });
    return new Pinger(child, intervalMs);
  }

  get highestAnswered(): number {
    return Math.max(0, ...this.answered.keys());
  }

  /** Waits for the first answer after sequence `after`. */
  waitForAnswerAfter(after: number, timeoutMs = 30_000): Promise<number> {
    return waitFor(`a ping answer after icmp_seq ${after}`, () => [...this.answered.keys()].find((seq) => seq > after), timeoutMs, 10);
  }

  /**
   * Stops pinging. `lost`: sequence numbers unanswered between the first and the last answer;
   * `outageMs`: the longest silence between two consecutive replies, less one interval.
   */
  async stop(testbed: Testbed): Promise<{ sent: number; lost: number[]; outageMs: number }> {
    await testbed.kill(this.child, 'SIGINT');
    const seqs = [...this.answered.keys()].sort((a, b) => a - b);
    const first = seqs[0] ?? 0;
    const last = seqs[seqs.length - 1] ?? 0;
    const lost: number[] = [];
    for (let seq = first; seq <= last; seq++) if (!this.answered.has(seq)) lost.push(seq);
    let longestGap = 0;
    for (let i = 1; i < seqs.length; i++) {
      longestGap = Math.max(longestGap, (this.answered.get(seqs[i] ?? 0) ?? 0) - (this.answered.get(seqs[i - 1] ?? 0) ?? 0));
    }
    return { sent: last - first + 1, lost, outageMs: Math.max(0, longestGap - this.intervalMs) };
  }
}
