/**
 * The I/O half of BGP mode: applies a DesiredBgpState (desired.ts) to live sessions,
 * level-triggered. Sessions are keyed by BGPPeer name, not by peer address, because several
 * peers may reach one address from different source addresses (so BgpSession is used
 * directly, not the address-keyed BgpSpeaker facade).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from '../../common/log.ts';
import type { Route, RouteAttributes as BgpRouteAttributes } from '../../bgp/adj-rib-out.ts';
import { parsePrefix } from '../../bgp/codec/index.ts';
import { BgpSession, type PeerConfig, type SessionState, type SessionStats } from '../../bgp/session.ts';
import { sessionKey, type SessionSpec as BfdSessionSpec, type SessionStatus as BfdSessionStatus, type StateChangeEvent } from '../../bfd/endpoint.ts';
import { BfdService } from '../../bfd/service.ts';
import { bindAddress, localAddresses, unbindAddress } from '../bind.ts';
import { GRACEFUL_SHUTDOWN_COMMUNITY, type BfdProfileView, type BgpPeerView, type DesiredBgpState, type DesiredSession, type RouteAttributes } from './desired.ts';

export interface BgpAnnouncerOptions {
  nodeName: string;
  /** The node's addresses; the first IPv4 one is the default router ID. */
  nodeAddresses: readonly string[];
  log: Logger;
  /** How long routes carry GRACEFUL_SHUTDOWN before they are withdrawn (default 5000). */
  gracefulShutdownDelayMs?: number;
  /** How often the host's addresses are looked at: a sourceAddress appearing or going, a node address going (default 2000). */
  addressCheckMs?: number;
  /** Port passive peers connect to (default 179). */
  listenPort?: number;
  /** This process follows a graceful stop: sessions say so in the graceful-restart capability (R bit). */
  restarted?: boolean;
  /** Graceful-restart time offered to peers, seconds (default 120). */
  restartTimeSec?: number;
  /** Runs the BFD sessions of peers with a bfdProfile (default: a BfdService in a worker thread, made on first use). */
  bfd?: () => BfdService;
}

/** BFD of one peer on this node, as BGPPeer.status.nodes[].bfd shows it. */
export interface PeerBfdStatus {
  profile: string;
  /** 'Refused': the profile is missing or asks for what we do not do (`error` says which); BGP runs without BFD. */
  state: 'AdminDown' | 'Down' | 'Init' | 'Up' | 'Refused';
  /** Our diagnostic: why the session last left Up. */
  diag?: string;
  transmitIntervalMs?: number;
  detectionTimeMs?: number;
  lastDownTime?: string;
  lastDownReason?: string;
  error?: string;
}

export interface PeerSessionStatus {
  peer: string;
  node: string;
  state: SessionState;
  /** When the session entered this state (RFC 3339). */
  since: string;
  prefixesSent: number;
  prefixesReceived: number;
  lastError?: string;
  bfd?: PeerBfdStatus;
}

interface HeldSession {
  readonly peer: string;
  /** The peer as last applied (BFD settings may change without a restart: they are not in `identity`). */
  view: BgpPeerView;
  readonly identity: string;
  readonly config: PeerConfig;
  /** The configuration cannot work (lastError says why): never started. */
  refused: boolean;
  session?: BgpSession;
  state: SessionState;
  since: Date;
  lastError?: string;
  /** Prefix → attributes, as the desired state says. */
  desired: Map<string, RouteAttributes>;
  /** Prefix → when it first carried GRACEFUL_SHUTDOWN (ms since epoch). */
  drainingSince: Map<string, number>;
  /** The prefixes handed to the session now (after the graceful-shutdown withdraw and the family filter). */
  carried: Set<string>;
  /** The local address its BFD session runs from: the source address, else the Established session's, kept across BGP restarts. */
  bfdLocalAddress?: string;
}

interface Listener {
  readonly server: net.Server;
  /** Resolves once listening (TCP-MD5 keys need the socket). */
  readonly ready: Promise<unknown>;
  /** Peer addresses whose TCP-MD5 key is set on it. */
  readonly keyed: Set<string>;
}

/** A bound address (bindToInterface) that could not be added; emitted as 'bindFailed'. */
export interface BindFailure {
  ip: string;
  interface: string;
  error: string;
}

/** Emits 'status' whenever a session's state or error changes, and 'bindFailed' (a BindFailure) when a bound address cannot be added. */
export class BgpAnnouncer extends EventEmitter {
  private readonly held = new Map<string, HeldSession>();
  /** IP → interfaces we put it on. */
  private readonly bound = new Map<string, Set<string>>();
  private nodeAddresses: readonly string[];
  private listener: Listener | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** Watches the host's addresses while any session is held. */
  private addressTimer: NodeJS.Timeout | undefined;
  /** Node addresses seen on this host: one that goes means the node was re-addressed. */
  private readonly nodeAddressesSeen = new Set<string>();
  /** apply() calls run one after another. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private bfd: BfdService | undefined;
  /** BFD session key → the spec it was given (JSON), for the sessions we asked for. */
  private readonly bfdSpecs = new Map<string, string>();
  /** BFD session key → its last status from the BFD thread. */
  private readonly bfdStatus = new Map<string, BfdSessionStatus>();
  /** BFD session key → why it could not be started (tried again on the next apply). */
  private readonly bfdErrors = new Map<string, string>();

  constructor(private readonly options: BgpAnnouncerOptions) {
    super();
    this.nodeAddresses = options.nodeAddresses;
  }

  private get log(): Logger {
    return this.options.log;
  }

  /** New node addresses (a re-addressed node): sessions from the default source restart from the new ones on the next apply. */
  setNodeAddresses(addresses: readonly string[]): void {
    this.nodeAddresses = addresses;
  }

  /** Makes the sessions, their routes and the bound addresses match `desired`. */
  apply(desired: DesiredBgpState): Promise<void> {
    const run = this.queue.then(() => this.applyNow(desired));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(desired: DesiredBgpState): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map(desired.sessions.map((s) => [s.peer, s]));
    for (const [peer, held] of this.held) {
      const next = wanted.get(peer);
      if (next && this.identityOf(next.config) === held.identity) continue;
      // Removed, or its configuration changed: a Cease tells the router at once.
      this.close(held, { communication: next ? 'anchorlb: peer configuration changed' : 'anchorlb: peer removed' });
      this.held.delete(peer);
      this.emit('status');
    }
    for (const session of desired.sessions) {
      const held = this.held.get(session.peer) ?? this.open(session);
      held.view = session.config;
      held.desired = session.prefixes;
    }
    this.refreshRoutes();
    this.watchAddresses();
    this.syncListener();
    this.syncBfd();
    await this.syncBoundAddresses(desired.boundAddresses);
  }

  /** For SIGTERM: no Cease, so graceful-restart routers keep forwarding to us; bound addresses stay. */
  async gracefulStop(): Promise<void> {
    await this.shutdown({ graceful: true });
  }

  /** Final shutdown: every session gets a Cease (routers withdraw at once), bound addresses go. */
  async stop(): Promise<void> {
    await this.shutdown({ communication: 'anchorlb: speaker stopped' });
    await this.syncBoundAddresses(new Map());
  }

  status(): PeerSessionStatus[] {
    return [...this.held.values()].map((held) => {
      const stats = held.session?.stats;
      const lastError = held.lastError ?? stats?.lastNotificationReceived ?? stats?.lastError;
      return {
        peer: held.peer,
        node: this.options.nodeName,
        state: held.state,
        since: held.since.toISOString(),
        prefixesSent: held.session?.advertisedCount ?? 0,
        prefixesReceived: stats?.prefixesReceived ?? 0,
        ...(lastError !== undefined ? { lastError } : {}),
        ...this.bfdStatusOf(held),
      };
    });
  }

  /** The counters of the peer's session (for the metrics); undefined before it started. */
  sessionStats(peer: string): Readonly<SessionStats> | undefined {
    return this.held.get(peer)?.session?.stats;
  }

  /**
   * The prefixes a peer's session carries now, once Established (none otherwise): what the
   * node really announces, for VIPStatus — a draining node's withdrawn routes are not in it.
   */
  announcedPrefixes(peer: string): ReadonlySet<string> {
    const held = this.held.get(peer);
    return held?.state === 'Established' ? held.carried : new Set();
  }

  private async shutdown(options: { graceful?: boolean; communication?: string }): Promise<void> {
    const done = this.queue.then(async () => {
      this.stopped = true;
      // AdminDown (Diag 7) before the BGP sessions end: routers see a planned stop, not a path failure.
      const bfd = this.bfd;
      this.bfd = undefined;
      await bfd?.stop({ adminDown: true });
      clearTimeout(this.drainTimer);
      clearInterval(this.addressTimer);
      const sessions = [...this.held.values()];
      this.held.clear();
      for (const held of sessions) this.close(held, options);
      const listener = this.listener;
      this.listener = undefined;
      await Promise.all([...sessions.map((held) => held.session?.drained()), listener && new Promise((resolve) => listener.server.close(resolve))]);
    });
    this.queue = done.catch(() => undefined);
    await done;
  }

  private defaultRouterId(): string | undefined {
    return this.nodeAddresses.find((address) => net.isIPv4(address));
  }

  /** What makes a session: any change restarts it. Without a sourceAddress, the node's addresses count too. */
  private identityOf(config: BgpPeerView): string {
    // BFD settings are not part of it: a profile change goes to the BFD session by Poll, without touching BGP.
    const bgpOnly = { ...config, bfd: undefined, bfdProfile: undefined };
    return JSON.stringify([bgpOnly, this.defaultRouterId() ?? null, config.sourceAddress ? null : [...this.nodeAddresses].sort()]);
  }

  private open(desired: DesiredSession): HeldSession {
    let config: PeerConfig | undefined;
    let problem: string | undefined;
    try {
      config = this.peerConfig(desired.config);
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    const held: HeldSession = {
      peer: desired.peer,
      view: desired.config,
      identity: this.identityOf(desired.config),
      // A placeholder that is never started when the configuration is refused.
      config: config ?? { peerAddress: desired.config.peerAddress, peerAsn: desired.config.myASN, localAsn: desired.config.myASN, routerId: '0.0.0.0' },
      refused: problem !== undefined,
      state: 'Idle',
      since: new Date(),
      desired: desired.prefixes,
      drainingSince: new Map(),
      carried: new Set(),
      ...(problem !== undefined ? { lastError: problem } : {}),
    };
    this.held.set(desired.peer, held);
    if (problem !== undefined) {
      this.log.error({ peer: held.peer, error: problem }, 'BGP peer not started');
      this.emit('status');
      return held;
    }
    if (held.config.sourceAddress === undefined) this.start(held);
    return held;
  }

  private peerConfig(peer: BgpPeerView): PeerConfig {
    return peerConfigOf(peer, {
      nodeName: this.options.nodeName,
      defaultRouterId: this.defaultRouterId(),
      restartTimeSec: this.options.restartTimeSec ?? 120,
      restarted: this.options.restarted ?? false,
    });
  }

  /**
   * Looks at the host's addresses (on apply and every `addressCheckMs`):
   * - a session whose sourceAddress is not on the node waits, and starts when the address
   *   appears; one whose address went away (a VIP that moved to another node) stops, without
   *   a Cease, and waits again;
   * - a node address that was here and is gone (DHCP, re-addressing): sessions from the
   *   default source restart at once, from whatever address the node has now, instead of
   *   waiting for the hold timer.
   * Other sessions are not touched.
   */
  private watchAddresses(): void {
    const present = localAddresses();
    const vanished = [...this.nodeAddressesSeen].filter((address) => !present.has(address));
    for (const address of vanished) this.nodeAddressesSeen.delete(address);
    for (const address of this.nodeAddresses) if (present.has(address)) this.nodeAddressesSeen.add(address);
    for (const held of [...this.held.values()]) {
      if (held.refused) continue;
      const source = held.config.sourceAddress;
      if (source === undefined) {
        if (vanished.length > 0 && held.session) this.restartFromNewAddress(held, vanished);
        continue;
      }
      if (present.has(source)) {
        if (!held.session) this.start(held);
        continue;
      }
      const message = `sourceAddress ${source} is not on node ${this.options.nodeName}`;
      if (held.lastError === message) continue;
      held.lastError = message;
      this.log.warn({ peer: held.peer }, message);
      if (held.session) {
        held.session.stop({ graceful: true });
        held.session = undefined;
        held.state = 'Idle';
        held.since = new Date();
      }
      this.emit('status');
    }
    const watching = this.held.size > 0;
    if (watching && !this.addressTimer) this.addressTimer = setInterval(() => this.watchAddresses(), this.options.addressCheckMs ?? 2000);
    if (!watching && this.addressTimer) {
      clearInterval(this.addressTimer);
      this.addressTimer = undefined;
    }
  }

  /** The old address cannot carry a Cease any more: drop the session quietly and open a new one. */
  private restartFromNewAddress(held: HeldSession, vanished: readonly string[]): void {
    this.log.info({ peer: held.peer, vanished }, 'node address gone: restarting the session from the current address');
    this.close(held, { graceful: true });
    this.held.delete(held.peer);
    this.open({ peer: held.peer, config: held.view, prefixes: held.desired });
  }

  private start(held: HeldSession): void {
    delete held.lastError;
    let session: BgpSession;
    try {
      session = new BgpSession(held.config, this.log);
    } catch (error) {
      held.refused = true;
      held.lastError = error instanceof Error ? error.message : String(error);
      this.emit('status');
      return;
    }
    held.session = session;
    session.on('state', (state: SessionState) => {
      if (held.session !== session) return; // stopped and replaced
      held.state = state;
      held.since = new Date();
      if (state === 'Established') this.syncBfd();
      this.emit('status');
    });
    session.on('failure', () => this.emit('status'));
    session.setRoutes(this.routesOf(held, Date.now()));
    session.start();
    this.emit('status');
  }

  private close(held: HeldSession, options: { graceful?: boolean; communication?: string }): void {
    held.session?.stop(options);
  }

  /**
   * One BFD session per held peer with a usable bfdProfile, from the BGP session's local address
   * (FRR matches BFD to its neighbour by addresses): the sourceAddress, else the address of the
   * Established session, kept across BGP restarts. Changed timers go by Poll (no flap); a peer
   * that no longer wants BFD gets AdminDown.
   */
  private syncBfd(): void {
    if (this.stopped) return;
    const wanted = new Map<string, BfdSessionSpec>();
    for (const held of this.held.values()) {
      const view = held.view;
      if (held.refused || view.bfd === undefined || bfdProblem(view) !== undefined) continue;
      held.bfdLocalAddress = held.config.sourceAddress ?? held.session?.localAddress ?? held.bfdLocalAddress;
      if (held.bfdLocalAddress === undefined) continue;
      const spec = bfdSpecOf(view, view.bfd, held.bfdLocalAddress);
      wanted.set(sessionKey(spec), spec);
    }
    if (wanted.size === 0 && !this.bfd) return;
    const bfd = this.bfdService();
    for (const key of this.bfdSpecs.keys()) {
      if (wanted.has(key)) continue;
      this.bfdSpecs.delete(key);
      this.bfdStatus.delete(key);
      bfd.remove(key, { adminDown: true }).catch((error: unknown) => this.log.warn({ key, error: String(error) }, 'BFD session removal failed'));
    }
    for (const [key, spec] of wanted) {
      const json = JSON.stringify(spec);
      if (this.bfdSpecs.get(key) === json) continue;
      this.bfdSpecs.set(key, json);
      bfd.upsert(spec).then(
        (status) => {
          this.bfdErrors.delete(key);
          if (this.bfdSpecs.has(key)) this.bfdStatus.set(key, status);
          this.emit('status');
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          this.bfdSpecs.delete(key);
          this.bfdErrors.set(key, message);
          this.log.error({ key, error: message }, 'BFD session not started');
          this.emit('status');
        },
      );
    }
  }

  private bfdService(): BfdService {
    if (this.bfd) return this.bfd;
    const bfd = this.options.bfd?.() ?? new BfdService();
    bfd.on('stateChange', (event) => this.onBfdStateChange(event));
    bfd.on('timers', (status) => {
      if (!this.bfdSpecs.has(status.key)) return;
      this.bfdStatus.set(status.key, status);
      this.emit('status');
    });
    bfd.on('warning', (message) => this.log.debug({ message }, 'BFD'));
    bfd.on('failed', (error) => {
      this.log.error({ error: error.message }, 'BFD thread failed: BFD sessions are gone until the next apply');
      this.bfd = undefined;
      this.bfdSpecs.clear();
      this.bfdStatus.clear();
      this.emit('status');
    });
    this.bfd = bfd;
    return bfd;
  }

  /** BFD Down from Up, not a planned stop of the peer (RFC 5882): the path is gone, so is the BGP session, at once. */
  private onBfdStateChange(event: StateChangeEvent): void {
    const { status } = event;
    if (!this.bfdSpecs.has(status.key)) return;
    this.bfdStatus.set(status.key, status);
    this.log.info({ peer: status.peerAddress, from: event.from, to: status.state, diag: status.diag }, 'BFD session state');
    if (event.from === 'Up' && status.state === 'Down' && !event.remoteAdminDown) {
      for (const held of this.held.values()) {
        if (held.bfdLocalAddress === undefined || held.view.bfd === undefined || sessionKey(bfdSpecOf(held.view, held.view.bfd, held.bfdLocalAddress)) !== status.key || !held.session) continue;
        this.log.warn({ peer: held.peer, diag: status.diag }, 'BFD down: BGP session torn down');
        this.close(held, { communication: `anchorlb: BFD down (${status.diag})` });
        held.session = undefined;
        held.state = 'Idle';
        held.since = new Date();
        this.start(held);
        held.lastError = `BFD down (${status.diag}) at ${status.lastDown?.at ?? new Date().toISOString()}: session restarted`;
      }
    }
    this.emit('status');
  }

  private bfdStatusOf(held: HeldSession): { bfd?: PeerBfdStatus } {
    const profile = held.view.bfdProfile;
    if (profile === undefined) return {};
    const problem = bfdProblem(held.view);
    if (problem !== undefined) return { bfd: { profile, state: 'Refused', error: problem } };
    if (held.view.bfd === undefined || held.bfdLocalAddress === undefined) return { bfd: { profile, state: 'Down' } };
    const key = sessionKey(bfdSpecOf(held.view, held.view.bfd, held.bfdLocalAddress));
    const error = this.bfdErrors.get(key);
    const status = this.bfdStatus.get(key);
    if (!status) return { bfd: { profile, state: 'Down', ...(error !== undefined ? { error } : {}) } };
    return {
      bfd: {
        profile,
        state: status.state,
        diag: status.diag,
        transmitIntervalMs: status.transmitIntervalMs,
        detectionTimeMs: status.detectionTimeMs,
        ...(status.lastDown ? { lastDownTime: status.lastDown.at, lastDownReason: status.lastDown.remoteAdminDown ? 'peer AdminDown' : status.lastDown.diag } : {}),
      },
    };
  }

  /**
   * The routes a session carries now: a route that carries GRACEFUL_SHUTDOWN is sent as is
   * for the delay, so routers move traffic away, then withdrawn.
   */
  private routesOf(held: HeldSession, now: number): Route[] {
    const delay = this.options.gracefulShutdownDelayMs ?? 5000;
    const converted = new Map<string, BgpRouteAttributes>();
    const routes: Route[] = [];
    const carried = new Set<string>();
    // disableMP: a session carries its own family only (and counts only what it sends).
    const onlyFamily = held.config.families?.length === 1 ? (held.config.families[0] === 'ipv6' ? 6 : 4) : undefined;
    for (const [prefix, attributes] of held.desired) {
      if (onlyFamily !== undefined && prefix.includes(':') !== (onlyFamily === 6)) continue;
      if (attributes.communities.includes(GRACEFUL_SHUTDOWN_COMMUNITY)) {
        const since = held.drainingSince.get(prefix) ?? now;
        held.drainingSince.set(prefix, since);
        if (now - since >= delay) continue;
      } else {
        held.drainingSince.delete(prefix);
      }
      const key = JSON.stringify(attributes);
      let bgpAttributes = converted.get(key);
      if (!bgpAttributes) {
        bgpAttributes = {
          communities: attributes.communities,
          largeCommunities: attributes.largeCommunities.map(([globalAdmin, localData1, localData2]) => ({ globalAdmin, localData1, localData2 })),
          ...(attributes.localPref !== undefined ? { localPref: attributes.localPref } : {}),
        };
        converted.set(key, bgpAttributes);
      }
      routes.push({ prefix: parsePrefix(prefix), attributes: bgpAttributes });
      carried.add(prefix);
    }
    held.carried = carried;
    for (const prefix of held.drainingSince.keys()) if (!held.desired.has(prefix)) held.drainingSince.delete(prefix);
    return routes;
  }

  /** Sets every session's routes and arms one timer for the next graceful-shutdown withdraw. */
  private refreshRoutes(): void {
    const now = Date.now();
    const delay = this.options.gracefulShutdownDelayMs ?? 5000;
    let nextWithdraw = Infinity;
    for (const held of this.held.values()) {
      const routes = this.routesOf(held, now);
      held.session?.setRoutes(routes);
      for (const since of held.drainingSince.values()) if (since + delay > now) nextWithdraw = Math.min(nextWithdraw, since + delay);
    }
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    if (nextWithdraw !== Infinity) this.drainTimer = setTimeout(() => this.refreshRoutes(), nextWithdraw - now);
  }

  /** Passive peers need a listener; incoming connections go to the session of that peer address and local address. */
  private syncListener(): void {
    const passive = [...this.held.values()].filter((held) => held.config.passive === true && !held.refused);
    if (passive.length === 0) {
      const listener = this.listener;
      this.listener = undefined;
      listener?.server.close();
      return;
    }
    if (!this.listener) this.listener = this.listen();
    const listener = this.listener;
    const unkeyed = passive.filter((held) => held.config.password !== undefined && !listener.keyed.has(held.config.peerAddress));
    if (unkeyed.length === 0) return;
    for (const held of unkeyed) listener.keyed.add(held.config.peerAddress);
    listener.ready
      .then(async () => {
        const native = await import('../../native/index.ts');
        const available = native.availability();
        if (!available.available) throw new Error(`TCP-MD5 needs the native addon: ${available.reason}`);
        for (const held of unkeyed) native.addListenerMd5Key(listener.server, held.config.peerAddress, held.config.password ?? '');
      })
      .catch((error: unknown) => {
        const message = `TCP-MD5 key on the listener: ${error instanceof Error ? error.message : String(error)}`;
        for (const held of unkeyed) {
          held.lastError = message;
          listener.keyed.delete(held.config.peerAddress);
        }
        this.log.error({ peers: unkeyed.map((h) => h.peer) }, message);
        this.emit('status');
      });
  }

  private listen(): Listener {
    const port = this.options.listenPort ?? 179;
    const server = net.createServer((socket) => {
      const remote = canonical(socket.remoteAddress ?? '');
      const local = canonical(socket.localAddress ?? '');
      const candidates = [...this.held.values()].filter((h) => h.session && canonical(h.config.peerAddress) === remote);
      // The session bound to the address that was dialled, else one from the default source.
      const held = candidates.find((h) => h.config.sourceAddress !== undefined && canonical(h.config.sourceAddress) === local) ?? candidates.find((h) => h.config.sourceAddress === undefined);
      if (!held?.session) {
        this.log.warn({ remote, local }, 'BGP connection that matches no peer: refused');
        socket.destroy();
        return;
      }
      held.session.acceptIncoming(socket);
    });
    const listener: Listener = {
      server,
      keyed: new Set(),
      ready: new Promise((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      }),
    };
    server.on('error', (error) => this.log.debug({ port, error: error.message }, 'BGP listener error'));
    listener.ready.catch((error: unknown) => {
      // Dropped: the next apply tries again.
      const message = `listening on port ${port}: ${error instanceof Error ? error.message : String(error)}`;
      this.log.error({ port }, `BGP listener failed, passive peers cannot connect: ${message}`);
      for (const held of this.held.values()) if (held.config.passive === true) held.lastError = message;
      if (this.listener === listener) this.listener = undefined;
      this.emit('status');
    });
    server.listen({ port, host: '::' });
    return listener;
  }

  private async syncBoundAddresses(wanted: ReadonlyMap<string, readonly string[]>): Promise<void> {
    for (const [address, interfaces] of this.bound) {
      for (const iface of interfaces) {
        if (wanted.get(address)?.includes(iface)) continue;
        if (await this.tryBinding(() => unbindAddress(address, iface), address, iface, 'remove')) interfaces.delete(iface);
      }
      if (interfaces.size === 0) this.bound.delete(address);
    }
    for (const [address, interfaces] of wanted) {
      for (const iface of interfaces) {
        const held = this.bound.get(address) ?? new Set<string>();
        if (held.has(iface)) continue;
        if (await this.tryBinding(() => bindAddress(address, iface), address, iface, 'add')) {
          held.add(iface);
          this.bound.set(address, held);
        }
      }
    }
  }

  private async tryBinding(action: () => Promise<void>, address: string, iface: string, verb: string): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (error) {
      // Logged, reported and tried again on the next apply (level-triggered); sessions are not affected.
      const message = error instanceof Error ? error.message : String(error);
      this.log.error({ address, iface, error: message }, `cannot ${verb} a bound address`);
      if (verb === 'add') this.emit('bindFailed', { ip: address, interface: iface, error: message } satisfies BindFailure);
      return false;
    }
  }
}

function canonical(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.)/, '').toLowerCase();
}

/**
 * Translates the peer object to a session configuration; throws, naming the field, on what
 * cannot work. dynamicASN internal = our ASN; external = any AS but ours ('external').
 */
export function peerConfigOf(
  peer: BgpPeerView,
  node: { readonly nodeName: string; readonly defaultRouterId: string | undefined; readonly restartTimeSec: number; readonly restarted: boolean },
): PeerConfig {
  if (peer.vrf) throw new Error(`BGPPeer ${peer.name}: spec.vrf "${peer.vrf}" is not supported by the speaker`);
  const peerAsn = peer.peerASN ?? (peer.dynamicASN === 'internal' ? peer.myASN : peer.dynamicASN);
  if (peerAsn === undefined) throw new Error(`BGPPeer ${peer.name}: neither spec.peerASN nor spec.dynamicASN is set`);
  const routerId = peer.routerID ?? node.defaultRouterId;
  if (routerId === undefined) throw new Error(`BGPPeer ${peer.name}: no spec.routerID and node ${node.nodeName} has no IPv4 address to use as one`);
  const peerFamily = net.isIPv6(peer.peerAddress) ? 'ipv6' : 'ipv4';
  return {
    peerAddress: peer.peerAddress,
    peerAsn,
    localAsn: peer.myASN,
    routerId,
    hostname: node.nodeName,
    ...(peer.peerPort !== undefined ? { port: peer.peerPort } : {}),
    ...(peer.sourceAddress !== undefined ? { sourceAddress: peer.sourceAddress } : {}),
    ...(peer.passive === true ? { passive: true } : {}),
    ...(peer.holdTimeSec !== undefined ? { holdTimeSec: peer.holdTimeSec } : {}),
    ...(peer.keepaliveTimeSec !== undefined ? { keepaliveTimeSec: peer.keepaliveTimeSec } : {}),
    ...(peer.connectTimeSec !== undefined ? { connectRetrySec: peer.connectTimeSec } : {}),
    ...(peer.ebgpMultiHop === true ? { ebgpMultiHop: true } : {}),
    ...(peer.password !== undefined ? { password: peer.password } : {}),
    ...(peer.enableGracefulRestart === true ? { gracefulRestart: { restartTimeSec: node.restartTimeSec, restarted: node.restarted } } : {}),
    ...(peer.disableMP === true ? { families: [peerFamily] } : {}),
  };
}

/** Why a peer's bfdProfile cannot run (reported on its status; BGP runs without BFD), or undefined. */
export function bfdProblem(peer: BgpPeerView): string | undefined {
  if (peer.bfdProfile === undefined) return undefined;
  if (peer.bfd === undefined) return `spec.bfdProfile: BFDProfile "${peer.bfdProfile}" not found: BGP runs without BFD`;
  if (peer.bfd.echoMode) return `BFDProfile ${peer.bfdProfile}: echoMode is not supported (asynchronous mode only): BGP runs without BFD`;
  return undefined;
}

/** The BFD session of a peer: its profile's timers, multihop when ebgpMultiHop (as FRR does). */
export function bfdSpecOf(peer: BgpPeerView, profile: BfdProfileView, localAddress: string): BfdSessionSpec {
  const multihop = peer.ebgpMultiHop === true;
  return {
    peerAddress: peer.peerAddress,
    localAddress,
    multihop,
    ...(multihop ? { minimumTtl: profile.minimumTtl } : {}),
    passive: profile.passive,
    timers: { desiredMinTxUs: profile.transmitIntervalMs * 1000, requiredMinRxUs: profile.receiveIntervalMs * 1000, detectMult: profile.detectMultiplier },
  };
}
