/**
 * One BGP session to one peer: drives the pure FSM (fsm.ts) over TCP sockets, frames and
 * decodes with the codec, and keeps the peer's view of our routes in step with the
 * Adj-RIB-Out. Routes the peer sends are validated and counted, never stored.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../common/log.ts';
import * as native from '../native/index.ts';
import { AdjRibOut, type AnnouncementBatch, type Route } from './adj-rib-out.ts';
import {
  Afi,
  CeaseSubcode,
  MessageFramer,
  RouteRefreshSubtype,
  Safi,
  buildOpen,
  buildUpdates,
  buildWithdraws,
  decodeMessage,
  describeError,
  encodeMessage,
  endOfRib,
  endOfRibFamily,
  negotiateOptions,
  openAsn,
  shutdownCommunication,
  shutdownNotification,
  type BgpMessage,
  type Capability,
  type CodecOptions,
  type OpenMessage,
  type PathAttributes,
  type Prefix,
  type UpdateMessage,
} from './codec/index.ts';
import { createFsm, stateOf, step, type Fsm, type FsmAction, type FsmEvent, type SessionState, type TimerName } from './fsm.ts';

export type { SessionState };
export type Family = 'ipv4' | 'ipv6';

export interface PeerConfig {
  readonly peerAddress: string;
  /** The peer's AS; 'external': any AS but localAsn, learnt from its OPEN (MetalLB dynamicASN: external). */
  readonly peerAsn: number | 'external';
  readonly localAsn: number;
  /** Our BGP Identifier (dotted quad). */
  readonly routerId: string;
  /** Default 179. */
  readonly port?: number;
  /** Local address to connect from (and the IPv4/IPv6 next hop of that family). */
  readonly sourceAddress?: string;
  /** Wait for the peer to connect; never connect out. */
  readonly passive?: boolean;
  /** Proposed hold time, seconds: 0 or ≥ 3 (default 90). */
  readonly holdTimeSec?: number;
  /** Keepalive interval, seconds: the smaller of this and a third of the negotiated hold time (default: hold / 3). */
  readonly keepaliveTimeSec?: number;
  /**
   * ConnectRetry time, seconds: how long a connection attempt may take, and the first reconnect
   * delay (default 5; doubles on repeated failure up to 60 s, or up to this value if larger).
   */
  readonly connectRetrySec?: number;
  /**
   * eBGP peer more than one hop away: send with TTL 255. Without it an eBGP session sends with
   * TTL 1, so it cannot cross a router; iBGP always sends with TTL 255. See sessionTtl().
   */
  readonly ebgpMultiHop?: boolean;
  /** TCP-MD5 (RFC 2385) password. */
  readonly password?: string;
  /** Graceful restart (RFC 4724) as restarting speaker. */
  readonly gracefulRestart?: { readonly restartTimeSec: number; readonly restarted: boolean };
  /** Families offered (default both). */
  readonly families?: readonly Family[];
  /** Next hops to announce; default: the session's local address, and for the other family an address on the same interface. */
  readonly nextHop4?: string;
  readonly nextHop6?: string;
  /** Sent in the hostname capability (FRR shows it). */
  readonly hostname?: string;
}

export interface SessionStats {
  updatesReceived: number;
  prefixesReceived: number;
  withdrawalsReceived: number;
  /** RFC 7606 outcomes on received UPDATEs. */
  treatAsWithdraw: number;
  attributesDiscarded: number;
  routeRefreshReceived: number;
  endOfRibReceived: number;
  updatesSent: number;
  notificationsSent: number;
  notificationsReceived: number;
  establishedCount: number;
  lastError?: string;
  /** The peer's last NOTIFICATION, as text. */
  lastNotificationReceived?: string;
  /** Why the TTL of sessionTtl() could not be set (no native addon): the system default TTL is used. */
  ttlNotApplied?: string;
}

interface Conn {
  readonly socket: net.Socket;
  readonly framer: MessageFramer;
  options: CodecOptions;
}

const INITIAL_OPTIONS: CodecOptions = { fourOctetAs: false, extendedMessages: false };

/** Emits 'state' (state, previous), 'established', 'down' (reason), 'failure' (reason: why it is not Established). */
export class BgpSession extends EventEmitter {
  readonly stats: SessionStats = {
    updatesReceived: 0,
    prefixesReceived: 0,
    withdrawalsReceived: 0,
    treatAsWithdraw: 0,
    attributesDiscarded: 0,
    routeRefreshReceived: 0,
    endOfRibReceived: 0,
    updatesSent: 0,
    notificationsSent: 0,
    notificationsReceived: 0,
    establishedCount: 0,
  };
  private fsm: Fsm;
  private readonly rib = new AdjRibOut();
  private readonly conns = new Map<number, Conn>();
  /** Sockets told to close that have not closed yet (a NOTIFICATION may still be on its way). */
  private readonly closing = new Set<net.Socket>();
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  private pendingConnect: net.Socket | undefined;
  private nextConnId = 1;
  private established:
    | { conn: number; remoteOpen: OpenMessage; localAddress: string; families: Family[]; nextHop4?: string; nextHop6?: string; enhancedRefresh: boolean; holdTimeSec: number; keepaliveSec: number }
    | undefined;
  private flushScheduled = false;
  private readonly localOpen: OpenMessage;
  private readonly ttl: number;

  constructor(
    readonly config: PeerConfig,
    private readonly log: Logger,
  ) {
    super();
    validatePeerConfig(config);
    this.localOpen = buildOpen({ asn: config.localAsn, holdTimeSec: config.holdTimeSec ?? 90, bgpIdentifier: config.routerId, capabilities: localCapabilities(config) });
    this.ttl = sessionTtl(config);
    const connectRetrySec = config.connectRetrySec ?? 5;
    this.fsm = createFsm({
      localOpen: this.localOpen,
      localAsn: config.localAsn,
      peerAsn: config.peerAsn,
      ...(config.keepaliveTimeSec !== undefined ? { keepaliveSec: config.keepaliveTimeSec } : {}),
      passive: config.passive ?? false,
      connectRetrySec,
      maxBackoffSec: Math.max(60, connectRetrySec),
      openHoldSec: 240,
      random: Math.random,
    });
  }

  get state(): SessionState {
    return stateOf(this.fsm);
  }

  /** Families both sides negotiated, once Established. */
  get families(): readonly Family[] {
    return this.established?.families ?? [];
  }

  /** The Established connection's local address (IPv4-mapped IPv6 as plain IPv4). */
  get localAddress(): string | undefined {
    return this.established?.localAddress;
  }

  /** The Established session's peer AS (the one learnt from its OPEN with peerAsn 'external'). */
  get remoteAsn(): number | undefined {
    return this.established && openAsn(this.established.remoteOpen);
  }

  /** Negotiated hold time and the keepalive interval in use, seconds, once Established. */
  get negotiatedTimers(): { holdTimeSec: number; keepaliveSec: number } | undefined {
    return this.established && { holdTimeSec: this.established.holdTimeSec, keepaliveSec: this.established.keepaliveSec };
  }

  /** How many routes the peer has from us. */
  get advertisedCount(): number {
    return this.rib.sentCount;
  }

  start(): void {
    this.dispatch({ type: 'start' });
  }

  /**
   * Stops the session. `graceful`: close TCP without a NOTIFICATION, so a graceful-restart
   * peer keeps our routes as stale until we return (a Cease would make it flush them).
   * Otherwise: Cease / Administrative Shutdown with the RFC 8203 `communication`, and the
   * peer withdraws our routes at once.
   */
  stop(options: { graceful?: boolean; communication?: string } = {}): void {
    const notification = options.graceful === true ? undefined : shutdownNotification(CeaseSubcode.administrativeShutdown, options.communication ?? 'anchorlb: administrative shutdown');
    this.dispatch({ type: 'stop', ...(notification ? { notification } : {}) });
  }

  /** Resolves once every socket this session closed is gone (its last NOTIFICATION sent). */
  async drained(): Promise<void> {
    await Promise.all([...this.closing].map((socket) => new Promise((resolve) => socket.once('close', resolve))));
  }

  /** Replaces the routes this peer should have from us; sends only the difference. */
  setRoutes(routes: Iterable<Route>): void {
    this.rib.setRoutes(routes);
    this.scheduleFlush();
  }

  /** Adds or changes some routes and withdraws some prefixes, keeping the rest. */
  updateRoutes(add: Iterable<Route>, remove: Iterable<Prefix> = []): void {
    this.rib.update(add, remove);
    this.scheduleFlush();
  }

  /** Hands over a connection the listener accepted from this peer's address. */
  acceptIncoming(socket: net.Socket): void {
    // The SYN-ACK has left with the default TTL; every later segment carries ours.
    if (this.canSetTtl()) native.setIpTtl(socket, this.ttl);
    this.attach(socket, false);
  }

  private dispatch(event: FsmEvent): void {
    const before = stateOf(this.fsm);
    const { fsm, actions } = step(this.fsm, event);
    this.fsm = fsm;
    for (const action of actions) this.perform(action);
    const after = stateOf(this.fsm);
    if (after !== before) {
      this.log.info({ peer: this.config.peerAddress, from: before, to: after }, 'BGP session state');
      this.emit('state', after, before);
    }
  }

  private perform(action: FsmAction): void {
    switch (action.type) {
      case 'connect':
        this.connect();
        return;
      case 'abortConnect':
        this.pendingConnect?.destroy();
        this.pendingConnect = undefined;
        return;
      case 'send': {
        const conn = this.conns.get(action.conn);
        if (!conn) return;
        if (action.message.type === 'notification') this.stats.notificationsSent++;
        this.write(conn, encodeMessage(action.message, conn.options));
        return;
      }
      case 'close': {
        const conn = this.conns.get(action.conn);
        this.conns.delete(action.conn);
        if (!conn) return;
        // end() flushes what was queued (a NOTIFICATION) before the FIN.
        this.closing.add(conn.socket);
        conn.socket.once('close', () => this.closing.delete(conn.socket));
        conn.socket.end();
        conn.socket.setTimeout(2000, () => conn.socket.destroy());
        return;
      }
      case 'setTimer': {
        clearTimeout(this.timers.get(action.timer));
        this.timers.set(action.timer, setTimeout(() => this.dispatch({ type: 'timer', timer: action.timer }), action.ms));
        return;
      }
      case 'clearTimer':
        clearTimeout(this.timers.get(action.timer));
        this.timers.delete(action.timer);
        return;
      case 'established':
        this.onEstablished(action.conn, action.remoteOpen, action.holdTimeSec, action.keepaliveSec);
        return;
      case 'down':
        this.established = undefined;
        this.rib.forgetSent();
        this.log.warn({ peer: this.config.peerAddress, reason: action.reason }, 'BGP session down');
        this.emit('down', action.reason);
        return;
      case 'update':
        this.onUpdate(action.message);
        return;
      case 'routeRefresh':
        this.onRouteRefresh(action.message.afi, action.message.safi, action.message.subtype);
        return;
      case 'error':
        this.stats.lastError = action.reason;
        this.log.debug({ peer: this.config.peerAddress, reason: action.reason }, 'BGP session error');
        this.emit('failure', action.reason);
        return;
    }
  }

  private connect(): void {
    const port = this.config.port ?? 179;
    const failed = (socket: net.Socket, error: Error): void => {
      if (this.pendingConnect !== socket) return;
      this.pendingConnect = undefined;
      socket.destroy();
      this.dispatch({ type: 'tcpClosed', reason: `connect to ${this.config.peerAddress}:${port}: ${error.message}` });
    };
    if (this.config.password !== undefined || this.canSetTtl()) {
      // The TTL and MD5 key must be on the socket before the SYN: the addon makes it, and until
      // then a placeholder stands in, so abortConnect can cancel.
      const placeholder = new net.Socket();
      this.pendingConnect = placeholder;
      // The addon's connection cannot be cancelled once started (one that completes unwanted is
      // closed, but the peer has seen it: FRR then loses a dynamic neighbor). Waiting a turn of
      // the event loop lets a stop that follows at once (a session replaced) come first, as
      // net.connect does.
      setImmediate(() => {
        if (this.pendingConnect !== placeholder) return;
        connectNative(this.config, port, this.ttl).then(
          (connected) => {
            if (this.pendingConnect !== placeholder) {
              connected.destroy();
              return;
            }
            this.pendingConnect = undefined;
            this.attach(connected, true);
          },
          (error: unknown) => failed(placeholder, error instanceof Error ? error : new Error(String(error))),
        );
      });
      return;
    }
    const socket = net.connect({ host: this.config.peerAddress, port, ...(this.config.sourceAddress ? { localAddress: this.config.sourceAddress } : {}) });
    this.pendingConnect = socket;
    const onError = (error: Error): void => failed(socket, error);
    socket.once('error', onError);
    socket.once('connect', () => {
      if (this.pendingConnect !== socket) return;
      this.pendingConnect = undefined;
      socket.off('error', onError);
      this.attach(socket, true);
    });
  }

  /** Whether the addon can set the TTL; when not, says so once (log and stats) and the default TTL is used. */
  private canSetTtl(): boolean {
    const available = native.availability();
    if (available.available) return true;
    if (this.stats.ttlNotApplied === undefined) {
      this.stats.ttlNotApplied = `TTL ${this.ttl} not set (${available.reason}); the system default TTL is used`;
      this.log.warn({ peer: this.config.peerAddress, reason: available.reason, ttl: this.ttl }, 'BGP session TTL not applied: the system default TTL is used');
    }
    return false;
  }

  private attach(socket: net.Socket, outgoing: boolean): void {
    const id = this.nextConnId++;
    socket.setNoDelay(true);
    const conn: Conn = { socket, framer: new MessageFramer(false), options: INITIAL_OPTIONS };
    this.conns.set(id, conn);
    socket.on('data', (chunk: Buffer) => this.onData(id, chunk));
    socket.on('error', (error) => this.log.debug({ peer: this.config.peerAddress, error: error.message }, 'BGP socket error'));
    socket.on('close', () => {
      if (this.conns.get(id) !== conn) return;
      this.conns.delete(id);
      this.dispatch({ type: 'tcpClosed', conn: id, reason: 'closed by peer' });
    });
    this.dispatch({ type: 'tcpConnected', conn: id, outgoing });
  }

  private onData(id: number, chunk: Buffer): void {
    const conn = this.conns.get(id);
    if (!conn) return;
    const { messages, error } = conn.framer.push(chunk);
    for (const bytes of messages) {
      if (this.conns.get(id) !== conn) return;
      const result = decodeMessage(bytes, conn.options);
      if (!result.ok) {
        this.dispatch({ type: 'decodeError', conn: id, error: result.error });
        return;
      }
      for (const warning of result.warnings) {
        if (warning.action === 'treat-as-withdraw') this.stats.treatAsWithdraw++;
        else this.stats.attributesDiscarded++;
        this.log.debug({ peer: this.config.peerAddress, warning }, 'RFC 7606 error handling');
      }
      const message = result.message;
      if (message.type === 'open') {
        conn.options = negotiateOptions(this.localOpen, message);
        conn.framer.setExtendedMessages(conn.options.extendedMessages);
      }
      if (message.type === 'notification') this.noteNotification(message);
      this.dispatch({ type: 'message', conn: id, message });
    }
    if (error && this.conns.get(id) === conn) this.dispatch({ type: 'decodeError', conn: id, error });
  }

  private noteNotification(message: Extract<BgpMessage, { type: 'notification' }>): void {
    const communication = shutdownCommunication(message);
    const text = `${describeError(message.code, message.subcode)}${communication ? `: "${communication}"` : ''}`;
    this.stats.notificationsReceived++;
    this.stats.lastNotificationReceived = text;
    this.log.warn({ peer: this.config.peerAddress, notification: text }, 'BGP NOTIFICATION received');
  }

  private write(conn: Conn, bytes: Buffer): void {
    if (!conn.socket.destroyed) conn.socket.write(bytes);
  }

  private onEstablished(id: number, remoteOpen: OpenMessage, holdTimeSec: number, keepaliveSec: number): void {
    const conn = this.conns.get(id);
    if (!conn) return;
    const families = negotiatedFamilies(this.config.families ?? ['ipv4', 'ipv6'], remoteOpen);
    const local = unmapIpv4(conn.socket.localAddress ?? this.config.sourceAddress ?? '');
    const nextHops = defaultNextHops(local);
    this.established = {
      conn: id,
      remoteOpen,
      localAddress: local,
      holdTimeSec,
      keepaliveSec,
      families,
      nextHop4: this.config.nextHop4 ?? nextHops.ipv4,
      nextHop6: this.config.nextHop6 ?? nextHops.ipv6,
      enhancedRefresh: remoteOpen.capabilities.some((c) => c.kind === 'enhancedRouteRefresh'),
    };
    this.stats.establishedCount++;
    this.log.info({ peer: this.config.peerAddress, families, options: conn.options }, 'BGP session established');
    this.rib.forgetSent();
    this.flush();
    // End-of-RIB after the initial table (RFC 4724 §2), per family.
    for (const family of families) this.write(conn, encodeMessage(endOfRib(family === 'ipv4' ? Afi.ipv4 : Afi.ipv6, Safi.unicast), conn.options));
    this.emit('established');
  }

  private onUpdate(update: UpdateMessage): void {
    this.stats.updatesReceived++;
    const eor = endOfRibFamily(update);
    if (eor) {
      this.stats.endOfRibReceived++;
      return;
    }
    this.stats.prefixesReceived += update.nlri.length + (update.attributes.mpReach?.nlri.length ?? 0);
    this.stats.withdrawalsReceived += update.withdrawn.length + (update.attributes.mpUnreach?.withdrawn.length ?? 0);
  }

  private onRouteRefresh(afi: number, safi: number, subtype: number): void {
    if (subtype !== RouteRefreshSubtype.request) return; // BoRR/EoRR from the peer: we keep nothing of its routes
    this.stats.routeRefreshReceived++;
    const family: Family | undefined = safi !== Safi.unicast ? undefined : afi === Afi.ipv4 ? 'ipv4' : afi === Afi.ipv6 ? 'ipv6' : undefined;
    const est = this.established;
    const conn = est && this.conns.get(est.conn);
    if (!est || !conn || !family || !est.families.includes(family)) return;
    this.log.info({ peer: this.config.peerAddress, family }, 'route refresh requested');
    // Pending changes first, so no withdraw is lost; then the whole table of that family.
    this.flush();
    if (est.enhancedRefresh) this.write(conn, encodeMessage({ type: 'routeRefresh', afi, safi, subtype: RouteRefreshSubtype.beginningOfRouteRefresh }, conn.options));
    for (const batch of this.rib.all()) this.sendBatch(conn, batch, family);
    if (est.enhancedRefresh) this.write(conn, encodeMessage({ type: 'routeRefresh', afi, safi, subtype: RouteRefreshSubtype.endOfRouteRefresh }, conn.options));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.established) return;
    this.flushScheduled = true;
    // Coalesces several route changes in one tick into one set of UPDATEs.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends what the peer is missing: withdraws first, then announcements. */
  private flush(): void {
    const est = this.established;
    const conn = est && this.conns.get(est.conn);
    if (!est || !conn) return;
    const changes = this.rib.takeChanges();
    const withdraw = changes.withdraw.filter((p) => est.families.includes(p.family === 4 ? 'ipv4' : 'ipv6'));
    if (withdraw.length > 0) this.sendAll(conn, buildWithdraws(withdraw, conn.options));
    for (const batch of changes.announce) for (const family of est.families) this.sendBatch(conn, batch, family);
  }

  private sendBatch(conn: Conn, batch: AnnouncementBatch, family: Family): void {
    const est = this.established;
    if (!est) return;
    const prefixes = batch.prefixes.filter((p: Prefix) => p.family === (family === 'ipv4' ? 4 : 6));
    if (prefixes.length === 0) return;
    const nextHop = family === 'ipv4' ? est.nextHop4 : est.nextHop6;
    if (nextHop === undefined) {
      this.log.error({ peer: this.config.peerAddress, family, count: prefixes.length }, `no ${family} next hop for this session (set nextHop${family === 'ipv4' ? 4 : 6}); routes not announced`);
      return;
    }
    const ibgp = this.config.peerAsn === this.config.localAsn;
    const attributes: Omit<PathAttributes, 'mpReach' | 'mpUnreach'> = {
      origin: 0,
      asPath: ibgp ? [] : [{ type: 'sequence', asns: [this.config.localAsn] }],
      ...(family === 'ipv4' ? { nextHop } : {}),
      ...(batch.attributes.med !== undefined ? { med: batch.attributes.med } : {}),
      ...(ibgp ? { localPref: batch.attributes.localPref ?? 100 } : {}),
      ...(batch.attributes.communities ? { communities: batch.attributes.communities } : {}),
      ...(batch.attributes.largeCommunities ? { largeCommunities: batch.attributes.largeCommunities } : {}),
    };
    this.sendAll(conn, buildUpdates({ attributes, prefixes, ...(family === 'ipv6' ? { ipv6NextHops: [nextHop] } : {}) }, conn.options));
  }

  private sendAll(conn: Conn, updates: Buffer[]): void {
    this.stats.updatesSent += updates.length;
    // One write per ~64 KiB: fewer syscalls for a large table.
    let batch: Buffer[] = [];
    let size = 0;
    for (const update of updates) {
      batch.push(update);
      size += update.length;
      if (size >= 65536) {
        this.write(conn, Buffer.concat(batch, size));
        batch = [];
        size = 0;
      }
    }
    if (batch.length > 0) this.write(conn, Buffer.concat(batch, size));
  }
}

function validatePeerConfig(config: PeerConfig): void {
  const fail = (field: string, value: unknown, want: string): never => {
    throw new Error(`BGP peer ${config.peerAddress}: ${field} ${JSON.stringify(value)} ${want}`);
  };
  if (net.isIP(config.peerAddress) === 0) fail('peerAddress', config.peerAddress, 'is not an IP address');
  for (const [field, value] of [['peerAsn', config.peerAsn], ['localAsn', config.localAsn]] as const) {
    if (value === 'external' && field === 'peerAsn') continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) fail(field, value, `is not an ASN (1..4294967295)${field === 'peerAsn' ? " or 'external'" : ''}`);
  }
  if (!net.isIPv4(config.routerId) || config.routerId === '0.0.0.0') fail('routerId', config.routerId, 'is not a non-zero dotted quad');
  const hold = config.holdTimeSec;
  if (hold !== undefined && (!Number.isInteger(hold) || hold > 65535 || (hold > 0 && hold < 3))) fail('holdTimeSec', hold, 'must be 0 or 3..65535');
  const keepalive = config.keepaliveTimeSec;
  if (keepalive !== undefined && (!Number.isInteger(keepalive) || keepalive < 1 || keepalive > 65535)) fail('keepaliveTimeSec', keepalive, 'must be 1..65535');
  const effectiveHold = hold ?? 90;
  if (keepalive !== undefined && effectiveHold > 0 && keepalive >= effectiveHold) fail('keepaliveTimeSec', keepalive, `must be less than the hold time (${effectiveHold})`);
  const connectRetry = config.connectRetrySec;
  if (connectRetry !== undefined && (!Number.isInteger(connectRetry) || connectRetry < 1 || connectRetry > 65535)) fail('connectRetrySec', connectRetry, 'must be 1..65535');
  const port = config.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) fail('port', port, 'is not a TCP port');
  for (const [field, value] of [['sourceAddress', config.sourceAddress], ['nextHop4', config.nextHop4], ['nextHop6', config.nextHop6]] as const) {
    if (value !== undefined && net.isIP(value) === 0) fail(field, value, 'is not an IP address');
  }
  if (config.nextHop4 !== undefined && !net.isIPv4(config.nextHop4)) fail('nextHop4', config.nextHop4, 'is not an IPv4 address');
  if (config.nextHop6 !== undefined && !net.isIPv6(config.nextHop6)) fail('nextHop6', config.nextHop6, 'is not an IPv6 address');
  const gr = config.gracefulRestart;
  if (gr && (!Number.isInteger(gr.restartTimeSec) || gr.restartTimeSec < 0 || gr.restartTimeSec > 4095)) fail('gracefulRestart.restartTimeSec', gr.restartTimeSec, 'must be 0..4095');
  if (config.families?.length === 0) fail('families', config.families, 'must name at least one family');
}

function localCapabilities(config: PeerConfig): Capability[] {
  const families = config.families ?? ['ipv4', 'ipv6'];
  const capabilities: Capability[] = families.map((f) => ({ kind: 'multiprotocol', afi: f === 'ipv4' ? Afi.ipv4 : Afi.ipv6, safi: Safi.unicast }));
  capabilities.push({ kind: 'routeRefresh' }, { kind: 'enhancedRouteRefresh' }, { kind: 'extendedMessage' });
  if (config.gracefulRestart) {
    capabilities.push({
      kind: 'gracefulRestart',
      restartState: config.gracefulRestart.restarted,
      notification: false,
      restartTimeSec: config.gracefulRestart.restartTimeSec,
      // F bit: the VIPs keep answering on the node while the speaker restarts.
      families: families.map((f) => ({ afi: f === 'ipv4' ? Afi.ipv4 : Afi.ipv6, safi: Safi.unicast, forwardingPreserved: true })),
    });
  }
  if (config.hostname) capabilities.push({ kind: 'fqdn', hostname: config.hostname, domain: '' });
  return capabilities;
}

/** Our families the peer also offered; a peer without multiprotocol capabilities gets IPv4 unicast only (RFC 4760 §8). */
export function negotiatedFamilies(offered: readonly Family[], remoteOpen: OpenMessage): Family[] {
  const remote = remoteOpen.capabilities.filter((c) => c.kind === 'multiprotocol' && c.safi === Safi.unicast);
  if (remote.length === 0) return offered.includes('ipv4') ? ['ipv4'] : [];
  return offered.filter((f) => remote.some((c) => c.kind === 'multiprotocol' && c.afi === (f === 'ipv4' ? Afi.ipv4 : Afi.ipv6)));
}

/**
 * The TTL (IPv6: hop limit) the session sends with: 1 for a single-hop eBGP peer (RFC 4271
 * practice, as FRR without `ebgp-multihop`: the session cannot cross a router), 255 for a
 * multi-hop eBGP peer and for iBGP.
 */
export function sessionTtl(config: Pick<PeerConfig, 'peerAsn' | 'localAsn' | 'ebgpMultiHop'>): number {
  const ibgp = config.peerAsn === config.localAsn;
  return ibgp || config.ebgpMultiHop === true ? 255 : 1;
}

function unmapIpv4(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.)/, '');
}

/** The session's local address, and an address of the other family on the interface that holds it. */
export function defaultNextHops(localAddress: string): { ipv4?: string; ipv6?: string } {
  const local = unmapIpv4(localAddress);
  for (const addresses of Object.values(networkInterfaces())) {
    if (!addresses?.some((a) => a.address === local)) continue;
    const ipv4 = addresses.find((a) => a.family === 'IPv4' && !a.internal)?.address;
    // A global IPv6 address: a link-local next hop alone is not usable by the router's RIB.
    const ipv6 = addresses.find((a) => a.family === 'IPv6' && !a.internal && !a.address.startsWith('fe80'))?.address;
    return { ...(net.isIPv4(local) ? { ipv4: local } : ipv4 ? { ipv4 } : {}), ...(net.isIPv6(local) ? { ipv6: local } : ipv6 ? { ipv6 } : {}) };
  }
  return net.isIPv4(local) ? { ipv4: local } : net.isIPv6(local) ? { ipv6: local } : {};
}

/** Connects through the addon: the TTL (and the TCP-MD5 key, if any) set before the SYN. */
async function connectNative(config: PeerConfig, port: number, ttl: number): Promise<net.Socket> {
  const available = native.availability();
  if (!available.available) throw new Error(`TCP-MD5 needs the native addon: ${available.reason}`);
  return native.connectTcpWithMd5({
    host: config.peerAddress,
    port,
    ttl,
    timeoutMs: (config.connectRetrySec ?? 5) * 1000,
    ...(config.password !== undefined ? { key: config.password } : {}),
    ...(config.sourceAddress ? { localAddress: config.sourceAddress } : {}),
  });
}
