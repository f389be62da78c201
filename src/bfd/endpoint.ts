/**
 * The BFD I/O layer: sockets and timers around the pure state machine (`fsm.ts`).
 *
 * - Receiving: one wildcard socket per (family, port) in use: 3784 single hop (RFC 5881),
 *   4784 multihop (RFC 5883), opened with the first session that needs it, closed with the
 *   last. Datagrams come through the native addon with their TTL / hop limit and destination
 *   address; `decodeControl` and `demux` decide what is discarded.
 * - Sending: one socket per session, bound to the session's local address (the BGP session's,
 *   so routers match BFD to the neighbour) and a source port in 49152–65535 fixed for the
 *   session's life (RFC 5881 §4), TTL / hop limit 255.
 * - Timers: one `setTimeout` per session and timer. This class runs wherever it is made; the
 *   speaker runs it in a worker thread (`service.ts`) so the main thread's pauses cannot delay it.
 */
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { UdpSocket, type Datagram } from '../native/index.ts';
import { BfdDiag, BfdState, decodeControl, encodeControl } from './codec.ts';
import { DEFAULT_MINIMUM_TTL, demux, SINGLE_HOP_TTL, type DemuxSession } from './demux.ts';
import { createSession, detectionTimeUs, step, transmitIntervalUs, type BfdAction, type BfdEvent, type BfdSession, type BfdTimer, type BfdTimers } from './fsm.ts';

export const SINGLE_HOP_PORT = 3784;
export const MULTIHOP_PORT = 4784;
const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_MAX = 65535;
/** How long a removed session keeps saying AdminDown, at most (RFC 5880 §6.8.16 suggests a detection time). */
const ADMIN_DOWN_LINGER_MAX_MS = 3000;

export interface SessionSpec {
  readonly peerAddress: string;
  readonly localAddress: string;
  readonly multihop: boolean;
  /** Multihop only: lowest TTL accepted (default 254). */
  readonly minimumTtl?: number;
  readonly passive: boolean;
  readonly timers: BfdTimers;
}

export interface SessionStatus {
  readonly key: string;
  readonly peerAddress: string;
  readonly localAddress: string;
  readonly multihop: boolean;
  readonly state: keyof typeof BfdState;
  /** Our diagnostic (why we last left Up), e.g. ControlDetectionTimeExpired. */
  readonly diag: keyof typeof BfdDiag;
  readonly remoteState: keyof typeof BfdState;
  readonly remoteDiag: keyof typeof BfdDiag;
  readonly localDiscriminator: number;
  readonly remoteDiscriminator: number;
  readonly sourcePort: number;
  /** Negotiated transmit interval and detection time, ms (0 before the peer is heard). */
  readonly transmitIntervalMs: number;
  readonly detectionTimeMs: number;
  readonly detectMult: number;
  /** The peer's last packet had C set (its BFD is independent of its control plane). */
  readonly remoteControlPlaneIndependent: boolean;
  readonly lastDown?: { readonly at: string; readonly diag: keyof typeof BfdDiag; readonly remoteAdminDown: boolean };
  readonly counters: { readonly packetsIn: number; readonly packetsOut: number; readonly upEvents: number; readonly downEvents: number };
}

export interface StateChangeEvent {
  readonly status: SessionStatus;
  readonly from: keyof typeof BfdState;
  /** The peer said AdminDown (a planned stop on its side): RFC 5882, not a path failure. */
  readonly remoteAdminDown: boolean;
}

export interface EndpointHooks {
  onStateChange(event: StateChangeEvent): void;
  /** The negotiated transmit interval or detection time changed without a state change (a Poll sequence ended). */
  onTimers?(status: SessionStatus): void;
  /** A datagram was discarded, or a socket failed: for logs and counters. */
  onWarning?(message: string): void;
}

/** The key a session is known by: FRR matches sessions the same way (peer, local, hop mode). */
export function sessionKey(spec: Pick<SessionSpec, 'peerAddress' | 'localAddress' | 'multihop'>): string {
  return `${spec.multihop ? 'multihop' : 'single'}/${spec.localAddress}/${spec.peerAddress}`;
}

/** Throws naming the field and value when a spec cannot run. */
export function checkSpec(spec: SessionSpec): void {
  const peer = net.isIP(spec.peerAddress);
  if (peer === 0) throw new TypeError(`peerAddress: ${JSON.stringify(spec.peerAddress)} is not an IP address`);
  if (net.isIP(spec.localAddress) !== peer) throw new TypeError(`localAddress: ${JSON.stringify(spec.localAddress)} is not an IPv${peer} address like peerAddress ${spec.peerAddress}`);
  if (spec.minimumTtl !== undefined && (!Number.isInteger(spec.minimumTtl) || spec.minimumTtl < 1 || spec.minimumTtl > 255)) {
    throw new RangeError(`minimumTtl: ${spec.minimumTtl} is not 1..255`);
  }
}

interface Running extends DemuxSession {
  readonly key: string;
  spec: SessionSpec;
  fsm: BfdSession;
  readonly socket: UdpSocket;
  readonly sourcePort: number;
  readonly timers: Map<BfdTimer, NodeJS.Timeout>;
  remoteControlPlaneIndependent: boolean;
  lastDown?: SessionStatus['lastDown'];
  counters: { packetsIn: number; packetsOut: number; upEvents: number; downEvents: number };
  /** Set while it says AdminDown before going away. */
  removing?: { readonly timer: NodeJS.Timeout; readonly resolve: () => void };
}

export class BfdEndpoint {
  private readonly sessions = new Map<string, Running>();
  private readonly receivers = new Map<string, UdpSocket>();

  constructor(
    private readonly hooks: EndpointHooks,
    private readonly ports: { singleHop: number; multihop: number } = { singleHop: SINGLE_HOP_PORT, multihop: MULTIHOP_PORT },
  ) {}

  /** Adds a session, or updates the timers/passive flag of an existing one (timers by Poll, without a flap). */
  upsert(spec: SessionSpec): SessionStatus {
    checkSpec(spec);
    const key = sessionKey(spec);
    const existing = this.sessions.get(key);
    if (existing && existing.removing === undefined) {
      existing.spec = spec;
      existing.fsm = { ...existing.fsm, config: { ...existing.fsm.config, passive: spec.passive } };
      this.apply(existing, { type: 'setTimers', timers: spec.timers });
      return this.status(existing);
    }
    if (existing) this.close(existing);
    const family = net.isIP(spec.peerAddress) as 4 | 6;
    this.receiver(family, spec.multihop);
    const { socket, port } = this.openSender(spec, family);
    const localDiscriminator = this.newDiscriminator();
    const running: Running = {
      key,
      spec,
      peerAddress: spec.peerAddress,
      localAddress: spec.localAddress,
      multihop: spec.multihop,
      minimumTtl: spec.multihop ? (spec.minimumTtl ?? DEFAULT_MINIMUM_TTL) : SINGLE_HOP_TTL,
      localDiscriminator,
      fsm: createSession({ ...spec.timers, localDiscriminator, passive: spec.passive, random: Math.random }),
      socket,
      sourcePort: port,
      timers: new Map(),
      remoteControlPlaneIndependent: false,
      counters: { packetsIn: 0, packetsOut: 0, upEvents: 0, downEvents: 0 },
    };
    this.sessions.set(key, running);
    this.apply(running, { type: 'start' });
    return this.status(running);
  }

  /**
   * Removes a session. With `adminDown`, it first says AdminDown (Diag 7) for about a detection
   * time (at most 3 s), so the peer knows it is a planned stop and not a path failure.
   */
  remove(key: string, options: { adminDown: boolean }): Promise<void> {
    const running = this.sessions.get(key);
    if (!running) return Promise.resolve();
    const pending = running.removing;
    if (pending) {
      return new Promise((resolve) => {
        running.removing = { timer: pending.timer, resolve: () => (pending.resolve(), resolve()) };
      });
    }
    if (!options.adminDown || running.fsm.remoteDiscriminator === 0) {
      this.close(running);
      return Promise.resolve();
    }
    this.apply(running, { type: 'adminDown' });
    const lingerMs = Math.min(Math.max(detectionTimeUs(running.fsm) / 1000, transmitIntervalUs(running.fsm) / 1000 * 2), ADMIN_DOWN_LINGER_MAX_MS);
    return new Promise((resolve) => {
      running.removing = { timer: setTimeout(() => this.close(running), lingerMs), resolve };
    });
  }

  /** Every session: AdminDown and removed (planned stop) or dropped at once. */
  async stop(options: { adminDown: boolean }): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((key) => this.remove(key, options)));
  }

  list(): SessionStatus[] {
    return [...this.sessions.values()].map((r) => this.status(r));
  }

  get(key: string): SessionStatus | undefined {
    const running = this.sessions.get(key);
    return running && this.status(running);
  }

  private newDiscriminator(): number {
    while (true) {
      const candidate = randomInt(1, 0xffffffff);
      if (![...this.sessions.values()].some((s) => s.localDiscriminator === candidate)) return candidate;
    }
  }

  private openSender(spec: SessionSpec, family: 4 | 6): { socket: UdpSocket; port: number } {
    const used = new Set([...this.sessions.values()].map((s) => s.sourcePort));
    for (let attempt = 0; ; attempt++) {
      const port = randomInt(SOURCE_PORT_MIN, SOURCE_PORT_MAX + 1);
      if (used.has(port)) continue;
      try {
        // Nothing is expected on this socket; datagrams to it are read and dropped.
        const socket = UdpSocket.open({ family, localAddress: spec.localAddress, port, ttl: SINGLE_HOP_TTL, onDatagram: () => undefined, onError: (error) => this.warn(`BFD ${sessionKey(spec)}: ${error.message}`) });
        return { socket, port };
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt >= 50) {
          throw new Error(`BFD ${sessionKey(spec)}: cannot open a source socket on ${spec.localAddress}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
  }

  private receiver(family: 4 | 6, multihop: boolean): void {
    const name = `${family}/${multihop ? 'multihop' : 'single'}`;
    if (this.receivers.has(name)) return;
    const port = multihop ? this.ports.multihop : this.ports.singleHop;
    const socket = UdpSocket.open({
      family,
      port,
      onDatagram: (datagram) => this.receive(datagram, multihop),
      onError: (error) => this.warn(`BFD receive socket UDP ${port} IPv${family}: ${error.message}`),
    });
    this.receivers.set(name, socket);
  }

  private receive(datagram: Datagram, multihop: boolean): void {
    const decoded = decodeControl(datagram.payload);
    if (!decoded.ok) {
      this.warn(`BFD packet from ${datagram.source} discarded: ${decoded.reason}`);
      return;
    }
    const found = demux(decoded.packet, { peerAddress: datagram.source, localAddress: datagram.destination, multihop, ttl: datagram.ttl }, this.sessions.values());
    if (!found.ok) {
      this.warn(`BFD packet from ${datagram.source} discarded: ${found.reason}`);
      return;
    }
    const running = found.session as Running;
    running.counters.packetsIn++;
    running.remoteControlPlaneIndependent = decoded.packet.controlPlaneIndependent;
    this.apply(running, { type: 'packet', packet: decoded.packet });
  }

  private apply(running: Running, event: BfdEvent): void {
    const before = running.fsm;
    const result = step(before, event);
    running.fsm = result.session;
    for (const action of result.actions) this.perform(running, action);
    const after = running.fsm;
    if (after.state === before.state && (transmitIntervalUs(after) !== transmitIntervalUs(before) || detectionTimeUs(after) !== detectionTimeUs(before))) {
      this.hooks.onTimers?.(this.status(running));
    }
  }

  private perform(running: Running, action: BfdAction): void {
    switch (action.type) {
      case 'send': {
        const port = running.multihop ? this.ports.multihop : this.ports.singleHop;
        try {
          running.socket.send(encodeControl(action.packet), running.peerAddress, port);
          running.counters.packetsOut++;
        } catch (error) {
          // The link may be down or the address gone: the state machine's timers deal with it.
          this.warn(`BFD ${running.key}: ${(error as Error).message}`);
        }
        return;
      }
      case 'setTimer': {
        clearTimeout(running.timers.get(action.timer));
        const timer = setTimeout(() => {
          running.timers.delete(action.timer);
          if (this.sessions.get(running.key) === running) this.apply(running, { type: 'timer', timer: action.timer });
        }, Math.max(1, Math.round(action.ms)));
        running.timers.set(action.timer, timer);
        return;
      }
      case 'clearTimer':
        clearTimeout(running.timers.get(action.timer));
        running.timers.delete(action.timer);
        return;
      case 'stateChange': {
        if (action.to === BfdState.Up) running.counters.upEvents++;
        if (action.from === BfdState.Up) {
          running.counters.downEvents++;
          running.lastDown = { at: new Date().toISOString(), diag: BfdDiag[action.diag] as keyof typeof BfdDiag, remoteAdminDown: action.remoteAdminDown };
        }
        // Reported after the step completes, so the status shows the new state and timers.
        queueMicrotask(() => this.hooks.onStateChange({ status: this.status(running), from: BfdState[action.from] as keyof typeof BfdState, remoteAdminDown: action.remoteAdminDown }));
      }
    }
  }

  private close(running: Running): void {
    if (running.removing) {
      clearTimeout(running.removing.timer);
      running.removing.resolve();
    }
    for (const timer of running.timers.values()) clearTimeout(timer);
    running.timers.clear();
    running.socket.close();
    this.sessions.delete(running.key);
    for (const [name, socket] of this.receivers) {
      const [family, kind] = name.split('/');
      const inUse = [...this.sessions.values()].some((s) => String(net.isIP(s.peerAddress)) === family && (s.multihop ? 'multihop' : 'single') === kind);
      if (!inUse) {
        socket.close();
        this.receivers.delete(name);
      }
    }
  }

  private status(running: Running): SessionStatus {
    const fsm = running.fsm;
    const heard = fsm.remoteDetectMult > 0;
    return {
      key: running.key,
      peerAddress: running.peerAddress,
      localAddress: running.localAddress,
      multihop: running.multihop,
      state: BfdState[fsm.state] as keyof typeof BfdState,
      diag: BfdDiag[fsm.localDiag] as keyof typeof BfdDiag,
      remoteState: BfdState[fsm.remoteState] as keyof typeof BfdState,
      remoteDiag: BfdDiag[fsm.remoteDiag] as keyof typeof BfdDiag,
      localDiscriminator: running.localDiscriminator,
      remoteDiscriminator: fsm.remoteDiscriminator,
      sourcePort: running.sourcePort,
      transmitIntervalMs: heard ? transmitIntervalUs(fsm) / 1000 : 0,
      detectionTimeMs: detectionTimeUs(fsm) / 1000,
      detectMult: fsm.advertised.detectMult,
      remoteControlPlaneIndependent: running.remoteControlPlaneIndependent,
      ...(running.lastDown ? { lastDown: running.lastDown } : {}),
      counters: { ...running.counters },
    };
  }

  private warn(message: string): void {
    this.hooks.onWarning?.(message);
  }
}
