import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../common/log.ts';
import { decodeHeartbeat, encodeHeartbeat, MAX_HEARTBEAT_BYTES } from './heartbeat.ts';
import { Membership, type MemberEvent, type MembershipOptions } from './membership.ts';

export interface LivenessOptions extends MembershipOptions {
  key: Buffer;
  /** Where to listen, e.g. the node's address or '::'. */
  bindAddress: string;
  port: number;
  /** This node's announceable interfaces, told to the others for the L2 election. */
  interfaces: string[];
  logger?: Logger;
  /** Incarnation of this process; defaults to its start time, which grows across restarts. */
  incarnation?: bigint;
}

/**
 * Sends heartbeats to every peer speaker by unicast UDP and feeds what it hears
 * into a Membership. Peers come from the cluster's Node addresses (`setPeers`).
 */
export class LivenessAgent {
  readonly membership: Membership;
  readonly counters = { sent: 0, unauthenticated: 0, malformed: 0 };
  private readonly socket: dgram.Socket;
  private peers: Array<{ address: string; port: number }> = [];
  private interfaces: string[];
  private sequence = 0n;
  private readonly incarnation: bigint;
  private leaving = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(event: MemberEvent) => void> = [];
  private readonly warnedStale = new Set<string>();

  constructor(private readonly options: LivenessOptions) {
    this.membership = new Membership(options);
    this.interfaces = options.interfaces;
    this.incarnation = options.incarnation ?? BigInt(Date.now());
    this.socket = dgram.createSocket({ type: isIPv6(options.bindAddress) ? 'udp6' : 'udp4', reuseAddr: true });
    this.socket.on('message', (datagram) => this.onDatagram(datagram));
    this.socket.on('error', (error) => options.logger?.error({ err: error.message }, 'liveness socket error'));
  }

  onEvent(listener: (event: MemberEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.options.port, this.options.bindAddress, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.timer = setInterval(() => this.beat(), this.options.intervalMs);
    this.beat();
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return this.socket.address().port;
  }

  setPeers(peers: Array<{ address: string; port: number }>): void {
    this.peers = peers;
  }

  /** This node's announceable interfaces changed: the next heartbeat tells the others. */
  setInterfaces(interfaces: string[]): void {
    this.interfaces = interfaces;
  }

  /**
   * Tells every peer this node is leaving, so successors take over at once; the
   * caller keeps answering until they have (a planned move loses nothing).
   */
  async leave(): Promise<void> {
    this.leaving = true;
    this.membership.leave();
    for (let i = 0; i < 3; i++) await this.send();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private beat(): void {
    void this.send();
    for (const event of this.membership.tick(Date.now())) this.emit(event);
  }

  private async send(): Promise<void> {
    this.sequence++;
    const datagram = encodeHeartbeat(
      { node: this.options.self, incarnation: this.incarnation, sequence: this.sequence, sentAt: BigInt(Date.now()), leaving: this.leaving, interfaces: this.interfaces },
      this.options.key,
    );
    await Promise.all(
      this.peers.map(
        (peer) =>
          new Promise<void>((resolve) => {
            this.socket.send(datagram, peer.port, peer.address, (error) => {
              if (!error) this.counters.sent++;
              resolve();
            });
          }),
      ),
    );
  }

  private onDatagram(datagram: Buffer): void {
    if (datagram.length > MAX_HEARTBEAT_BYTES) {
      this.counters.malformed++;
      return;
    }
    const decoded = decodeHeartbeat(datagram, this.options.key);
    if (!decoded.ok) {
      this.counters[decoded.reason]++;
      return;
    }
    const { verdict, events, skewMs } = this.membership.receive(decoded.heartbeat, Date.now());
    // Once per node: a stale heartbeat is a replay or a clock out of step, which splits the view of who is live.
    if (verdict === 'stale' && !this.warnedStale.has(decoded.heartbeat.node)) {
      this.warnedStale.add(decoded.heartbeat.node);
      this.options.logger?.warn({ node: decoded.heartbeat.node, skewMs }, 'refusing stale heartbeats (a replay, or node clocks out of step by more than the freshness window)');
    }
    for (const event of events) this.emit(event);
  }

  private emit(event: MemberEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
