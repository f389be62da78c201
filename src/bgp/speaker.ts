/**
 * A small facade over sessions: add peers, say which routes each should have, read their
 * state. One listener (optional) takes incoming connections for every peer.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { createLogger, type Logger } from '../common/log.ts';
import type { Route } from './adj-rib-out.ts';
import type { Prefix } from './codec/index.ts';
import { BgpSession, type Family, type PeerConfig, type SessionState, type SessionStats } from './session.ts';

export interface SpeakerOptions {
  readonly routerId: string;
  readonly localAsn: number;
  /** Accept incoming connections (needed for passive peers): port default 179, address default all. */
  readonly listen?: { readonly port?: number; readonly address?: string };
  readonly log?: Logger;
}

/** A peer as `addPeer` takes it: the speaker's ASN and router ID are the defaults. */
export type SpeakerPeerConfig = Omit<PeerConfig, 'localAsn' | 'routerId'> & Partial<Pick<PeerConfig, 'localAsn' | 'routerId'>>;

export interface PeerStatus {
  readonly address: string;
  readonly state: SessionState;
  readonly families: readonly Family[];
  readonly advertised: number;
  readonly stats: Readonly<SessionStats>;
  /** Once Established: our address on the connection, the peer's AS (learnt with peerAsn 'external'), the timers in use. */
  readonly localAddress?: string;
  readonly remoteAsn?: number;
  readonly holdTimeSec?: number;
  readonly keepaliveSec?: number;
}

function canonicalAddress(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.)/, '').toLowerCase();
}

/** Emits 'peerState' (address, state, previous), 'established' (address), 'down' (address, reason). */
export class BgpSpeaker extends EventEmitter {
  private readonly sessions = new Map<string, BgpSession>();
  private server: net.Server | undefined;
  private readonly log: Logger;

  constructor(readonly options: SpeakerOptions) {
    super();
    this.log = options.log ?? createLogger('bgp');
  }

  /** Opens the listener, if configured. */
  async start(): Promise<void> {
    const listen = this.options.listen;
    if (!listen || this.server) return;
    const server = net.createServer((socket) => {
      const session = this.sessions.get(canonicalAddress(socket.remoteAddress ?? ''));
      if (!session) {
        this.log.warn({ remote: socket.remoteAddress }, 'BGP connection from an address that is not a peer: refused');
        socket.destroy();
        return;
      }
      session.acceptIncoming(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: listen.port ?? 179, ...(listen.address ? { host: listen.address } : {}) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    for (const session of this.sessions.values()) await this.keyListener(session.config);
  }

  /** The bound listener port (useful with port 0). */
  get listenPort(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  /** Adds and starts a session. Throws (naming the field) on bad configuration or a duplicate peer. */
  async addPeer(peer: SpeakerPeerConfig, routes: Iterable<Route> = []): Promise<BgpSession> {
    const address = canonicalAddress(peer.peerAddress);
    if (this.sessions.has(address)) throw new Error(`BGP peer ${peer.peerAddress}: already configured`);
    const config: PeerConfig = { ...peer, peerAddress: address, localAsn: peer.localAsn ?? this.options.localAsn, routerId: peer.routerId ?? this.options.routerId };
    const session = new BgpSession(config, this.log);
    if (config.password !== undefined) await this.keyListener(config);
    session.on('state', (state: SessionState, previous: SessionState) => this.emit('peerState', address, state, previous));
    session.on('established', () => this.emit('established', address));
    session.on('down', (reason: string) => this.emit('down', address, reason));
    session.on('failure', (reason: string) => this.emit('failure', address, reason));
    this.sessions.set(address, session);
    session.setRoutes(routes);
    session.start();
    return session;
  }

  /** Incoming connections from a peer with a password must carry its TCP-MD5 key. */
  private async keyListener(config: PeerConfig): Promise<void> {
    if (config.password === undefined || !this.server) return;
    const native = await import('../native/index.ts');
    const available = native.availability();
    if (!available.available) throw new Error(`BGP peer ${config.peerAddress}: TCP-MD5 needs the native addon: ${available.reason}`);
    native.addListenerMd5Key(this.server, config.peerAddress, config.password);
  }

  /** Stops and forgets a peer (admin shutdown unless `graceful`). */
  async removePeer(peerAddress: string, options: { graceful?: boolean; communication?: string } = {}): Promise<void> {
    const address = canonicalAddress(peerAddress);
    const session = this.sessions.get(address);
    if (!session) return;
    session.stop(options);
    this.sessions.delete(address);
    await session.drained();
  }

  /** The routes one peer (or, without `peerAddress`, every peer) should have from us. */
  setRoutes(routes: readonly Route[], peerAddress?: string): void {
    if (peerAddress === undefined) {
      for (const session of this.sessions.values()) session.setRoutes(routes);
      return;
    }
    const session = this.sessions.get(canonicalAddress(peerAddress));
    if (!session) throw new Error(`BGP peer ${peerAddress}: not configured`);
    session.setRoutes(routes);
  }

  /** Adds or changes some routes and withdraws some prefixes for one peer (or every peer), keeping the rest. */
  updateRoutes(add: readonly Route[], remove: readonly Prefix[], peerAddress?: string): void {
    const sessions = peerAddress === undefined ? [...this.sessions.values()] : [this.session(peerAddress)];
    for (const session of sessions) {
      if (!session) throw new Error(`BGP peer ${peerAddress}: not configured`);
      session.updateRoutes(add, remove);
    }
  }

  session(peerAddress: string): BgpSession | undefined {
    return this.sessions.get(canonicalAddress(peerAddress));
  }

  status(): PeerStatus[] {
    return [...this.sessions.entries()].map(([address, s]) => ({
      address,
      state: s.state,
      families: s.families,
      advertised: s.advertisedCount,
      stats: { ...s.stats },
      ...(s.localAddress !== undefined ? { localAddress: s.localAddress } : {}),
      ...(s.remoteAsn !== undefined ? { remoteAsn: s.remoteAsn } : {}),
      ...s.negotiatedTimers,
    }));
  }

  /**
   * Stops every session and the listener. `graceful`: no NOTIFICATION, so graceful-restart
   * peers keep our routes while we restart; otherwise an administrative shutdown.
   */
  async stop(options: { graceful?: boolean; communication?: string } = {}): Promise<void> {
    const sessions = [...this.sessions.values()];
    for (const session of sessions) session.stop(options);
    this.sessions.clear();
    const server = this.server;
    this.server = undefined;
    await Promise.all([...sessions.map((s) => s.drained()), server ? new Promise((resolve) => server.close(resolve)) : undefined]);
  }
}
