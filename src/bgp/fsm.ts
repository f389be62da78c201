/**
 * The BGP finite state machine (RFC 4271 §8), pure: `step(fsm, event)` returns the next FSM
 * value and the actions the I/O layer must perform (connect, send, close, arm/disarm timers,
 * report established/down). No sockets, no clocks: timers are actions with a duration, and
 * their expiry comes back as an event; jitter comes from the injected `random`.
 *
 * Connections are numbered by the I/O layer. At most one connection is in OpenSent or later
 * per direction; two of them at once is a collision, resolved by BGP Identifier (§6.8).
 */
import {
  CeaseSubcode,
  ErrorCode,
  FsmErrorSubcode,
  OpenErrorSubcode,
  openAsn,
  type BgpDecodeError,
  type BgpMessage,
  type NotificationMessage,
  type OpenMessage,
  type RouteRefreshMessage,
  type UpdateMessage,
} from './codec/index.ts';

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';
export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

export interface FsmConfig {
  /** The OPEN we send: our ASN, proposed hold time, BGP Identifier and capabilities. */
  readonly localOpen: OpenMessage;
  /** Our real ASN (the OPEN's My AS may be AS_TRANS). */
  readonly localAsn: number;
  /** The AS the peer must be in; 'external': any AS but ours, learnt from its OPEN (MetalLB dynamicASN: external). */
  readonly peerAsn: number | 'external';
  /**
   * Configured keepalive interval, seconds. The interval used is the smaller of this and a third
   * of the negotiated hold time (RFC 4271 §10 suggests hold / 3; FRR does the same with its
   * `timers`); none when the hold time is 0. Absent: hold / 3.
   */
  readonly keepaliveSec?: number;
  /** Never connect out; only accept the peer's connection. */
  readonly passive: boolean;
  /** Seconds between outgoing connection attempts (first attempt; doubles on repeated failure). */
  readonly connectRetrySec: number;
  /** Upper bound of the reconnect back-off, seconds. */
  readonly maxBackoffSec: number;
  /** Hold time while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes). */
  readonly openHoldSec: number;
  /** Uniform in [0, 1); timers are scaled by 0.75..1 (RFC 4271 §10 jitter). */
  readonly random: () => number;
}

export interface Connection {
  readonly id: number;
  readonly outgoing: boolean;
  readonly phase: 'OpenSent' | 'OpenConfirm' | 'Established';
  readonly remoteOpen?: OpenMessage;
}

export interface Fsm {
  readonly config: FsmConfig;
  /** Between a start and a stop event. */
  readonly running: boolean;
  /** An outgoing TCP connection attempt is in progress. */
  readonly connecting: boolean;
  readonly connections: readonly Connection[];
  /** After an error: Idle until the idleHold timer fires (RFC 4271 IdleHoldTimer, with back-off). */
  readonly backingOff: boolean;
  /** Consecutive failures since the last Established, for the back-off. */
  readonly failures: number;
  /** Negotiated hold time of the Established (or OpenConfirm) connection, seconds; 0 = none. */
  readonly holdTimeSec: number;
  /** Keepalive interval of that connection, seconds (see FsmConfig.keepaliveSec); 0 = none. */
  readonly keepaliveSec: number;
}

export type FsmEvent =
  | { readonly type: 'start' }
  /** `notification` undefined: close without a word (graceful-restart path: a Cease would make routers flush). */
  | { readonly type: 'stop'; readonly notification?: NotificationMessage }
  | { readonly type: 'timer'; readonly timer: TimerName }
  | { readonly type: 'tcpConnected'; readonly conn: number; readonly outgoing: boolean }
  /** An outgoing attempt failed (`conn` undefined) or connection `conn` closed. */
  | { readonly type: 'tcpClosed'; readonly conn?: number; readonly reason: string }
  | { readonly type: 'message'; readonly conn: number; readonly message: BgpMessage }
  | { readonly type: 'decodeError'; readonly conn: number; readonly error: BgpDecodeError };

export type FsmAction =
  | { readonly type: 'connect' }
  | { readonly type: 'abortConnect' }
  | { readonly type: 'send'; readonly conn: number; readonly message: BgpMessage }
  | { readonly type: 'close'; readonly conn: number }
  | { readonly type: 'setTimer'; readonly timer: TimerName; readonly ms: number }
  | { readonly type: 'clearTimer'; readonly timer: TimerName }
  | { readonly type: 'established'; readonly conn: number; readonly remoteOpen: OpenMessage; readonly holdTimeSec: number; readonly keepaliveSec: number }
  | { readonly type: 'down'; readonly reason: string }
  | { readonly type: 'update'; readonly conn: number; readonly message: UpdateMessage }
  | { readonly type: 'routeRefresh'; readonly conn: number; readonly message: RouteRefreshMessage }
  /** The session is not Established and will retry: why, for logs and status. */
  | { readonly type: 'error'; readonly reason: string };

export interface StepResult {
  readonly fsm: Fsm;
  readonly actions: FsmAction[];
}

const ALL_TIMERS: readonly TimerName[] = ['connectRetry', 'hold', 'keepalive', 'idleHold'];

export function createFsm(config: FsmConfig): Fsm {
  return { config, running: false, connecting: false, backingOff: false, connections: [], failures: 0, holdTimeSec: 0, keepaliveSec: 0 };
}

/** The keepalive interval for a negotiated hold time: see FsmConfig.keepaliveSec. */
export function keepaliveInterval(holdTimeSec: number, configuredSec: number | undefined): number {
  if (holdTimeSec === 0) return 0;
  return Math.min(configuredSec ?? Infinity, holdTimeSec / 3);
}

/** The RFC 4271 state this FSM is in, derived from its most advanced connection. */
export function stateOf(fsm: Fsm): SessionState {
  const phases = fsm.connections.map((c) => c.phase);
  for (const phase of ['Established', 'OpenConfirm', 'OpenSent'] as const) if (phases.includes(phase)) return phase;
  if (!fsm.running || fsm.backingOff) return 'Idle';
  return fsm.connecting ? 'Connect' : 'Active';
}

function jittered(fsm: Fsm, seconds: number): number {
  return Math.round(seconds * 1000 * (0.75 + 0.25 * fsm.config.random()));
}

function backoffSec(fsm: Fsm): number {
  return Math.min(fsm.config.maxBackoffSec, fsm.config.connectRetrySec * 2 ** Math.max(0, fsm.failures - 1));
}

function notification(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): NotificationMessage {
  return { type: 'notification', code, subcode, data };
}

function unexpectedMessageSubcode(phase: Connection['phase']): number {
  if (phase === 'OpenSent') return FsmErrorSubcode.unexpectedMessageInOpenSent;
  if (phase === 'OpenConfirm') return FsmErrorSubcode.unexpectedMessageInOpenConfirm;
  return FsmErrorSubcode.unexpectedMessageInEstablished;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

/** Applies one event. Never throws; events about unknown connections are ignored. */
export function step(fsm: Fsm, event: FsmEvent): StepResult {
  switch (event.type) {
    case 'start':
      if (fsm.running) return { fsm, actions: [] };
      return begin({ ...fsm, running: true, failures: 0 });
    case 'stop':
      return stop(fsm, event.notification);
    case 'timer':
      return onTimer(fsm, event.timer);
    case 'tcpConnected':
      return onConnected(fsm, event.conn, event.outgoing);
    case 'tcpClosed':
      return onClosed(fsm, event.conn, event.reason);
    case 'decodeError': {
      const conn = fsm.connections.find((c) => c.id === event.conn);
      if (!conn) return { fsm, actions: [] };
      return fail(fsm, conn, notification(event.error.code, event.error.subcode, event.error.data), `malformed message from peer: ${event.error.reason}`);
    }
    case 'message': {
      const conn = fsm.connections.find((c) => c.id === event.conn);
      if (!conn) return { fsm, actions: [] };
      return onMessage(fsm, conn, event.message);
    }
  }
}

/** Leaves Idle: connect out (unless passive) and wait for the peer either way. */
function begin(fsm: Fsm): StepResult {
  if (fsm.config.passive) return { fsm: { ...fsm, connecting: false, backingOff: false }, actions: [] };
  return {
    fsm: { ...fsm, connecting: true, backingOff: false },
    actions: [{ type: 'connect' }, { type: 'setTimer', timer: 'connectRetry', ms: jittered(fsm, fsm.config.connectRetrySec) }],
  };
}

function stop(fsm: Fsm, cease: NotificationMessage | undefined): StepResult {
  const actions: FsmAction[] = [];
  if (fsm.connecting) actions.push({ type: 'abortConnect' });
  for (const conn of fsm.connections) {
    if (cease) actions.push({ type: 'send', conn: conn.id, message: cease });
    actions.push({ type: 'close', conn: conn.id });
  }
  if (fsm.connections.some((c) => c.phase === 'Established')) actions.push({ type: 'down', reason: 'stopped' });
  for (const timer of ALL_TIMERS) actions.push({ type: 'clearTimer', timer });
  return { fsm: { ...fsm, running: false, connecting: false, backingOff: false, connections: [], holdTimeSec: 0, keepaliveSec: 0 }, actions };
}

/**
 * Drops every connection after an error (sending `notice` on `culprit` first, if given),
 * reports `down` when a session was Established, and arms the back-off to start again.
 */
function reset(fsm: Fsm, reason: string, culprit?: Connection, notice?: NotificationMessage): StepResult {
  const actions: FsmAction[] = [];
  if (fsm.connecting) actions.push({ type: 'abortConnect' });
  for (const conn of fsm.connections) {
    if (conn === culprit && notice) actions.push({ type: 'send', conn: conn.id, message: notice });
    actions.push({ type: 'close', conn: conn.id });
  }
  if (fsm.connections.some((c) => c.phase === 'Established')) actions.push({ type: 'down', reason });
  actions.push({ type: 'error', reason });
  for (const timer of ALL_TIMERS) actions.push({ type: 'clearTimer', timer });
  const backingOff = fsm.running && !fsm.config.passive;
  const next: Fsm = { ...fsm, connecting: false, backingOff, connections: [], failures: fsm.failures + 1, holdTimeSec: 0, keepaliveSec: 0 };
  if (backingOff) actions.push({ type: 'setTimer', timer: 'idleHold', ms: jittered(next, backoffSec(next)) });
  return { fsm: next, actions };
}

function fail(fsm: Fsm, conn: Connection, notice: NotificationMessage, reason: string): StepResult {
  // A connection that lost a collision (another one is still alive and ahead) goes alone.
  const others = fsm.connections.filter((c) => c !== conn);
  if (others.length > 0 && conn.phase !== 'Established') {
    return { fsm: { ...fsm, connections: others }, actions: [{ type: 'send', conn: conn.id, message: notice }, { type: 'close', conn: conn.id }] };
  }
  return reset(fsm, reason, conn, notice);
}

function onTimer(fsm: Fsm, timer: TimerName): StepResult {
  if (!fsm.running) return { fsm, actions: [] };
  switch (timer) {
    case 'connectRetry': {
      if (fsm.config.passive || fsm.connections.length > 0) return { fsm, actions: [] };
      // The attempt took too long (said, or a peer that never answers leaves no trace), or we were waiting to retry: try (again).
      const actions: FsmAction[] = fsm.connecting
        ? [{ type: 'abortConnect' }, { type: 'error', reason: `no answer to the TCP connection attempt within the ConnectRetry time (${fsm.config.connectRetrySec} s)` }]
        : [];
      const next = begin(fsm);
      return { fsm: next.fsm, actions: [...actions, ...next.actions] };
    }
    case 'idleHold':
      if (!fsm.backingOff || fsm.connections.length > 0) return { fsm, actions: [] };
      return begin(fsm);
    case 'hold': {
      const conn = fsm.connections[0];
      if (!conn) return { fsm, actions: [] };
      const established = fsm.connections.find((c) => c.phase !== 'OpenSent') ?? conn;
      return reset(fsm, 'hold timer expired', established, notification(ErrorCode.holdTimerExpired, 0));
    }
    case 'keepalive': {
      const live = fsm.connections.filter((c) => c.phase !== 'OpenSent');
      if (live.length === 0 || fsm.keepaliveSec === 0) return { fsm, actions: [] };
      return {
        fsm,
        actions: [
          ...live.map((c): FsmAction => ({ type: 'send', conn: c.id, message: { type: 'keepalive' } })),
          { type: 'setTimer', timer: 'keepalive', ms: jittered(fsm, fsm.keepaliveSec) },
        ],
      };
    }
  }
}

function onConnected(fsm: Fsm, id: number, outgoing: boolean): StepResult {
  const refuse = (): StepResult => ({ fsm, actions: [{ type: 'close', conn: id }] });
  if (!fsm.running) return refuse();
  if (outgoing && !fsm.connecting) return refuse();
  // One connection per direction, none once Established (§6.8: the existing session wins).
  if (fsm.connections.some((c) => c.outgoing === outgoing || c.phase === 'Established')) return refuse();
  const actions: FsmAction[] = [];
  let next: Fsm = { ...fsm, connections: [...fsm.connections, { id, outgoing, phase: 'OpenSent' }] };
  // An incoming connection leaves our own attempt running: aborting it would kill the peer's
  // incoming side of it, and the peer might do the same to ours. Collision resolution picks one.
  if (outgoing) next = { ...next, connecting: false };
  actions.push({ type: 'clearTimer', timer: 'connectRetry' }, { type: 'clearTimer', timer: 'idleHold' });
  actions.push({ type: 'send', conn: id, message: fsm.config.localOpen });
  if (fsm.connections.length === 0) actions.push({ type: 'setTimer', timer: 'hold', ms: fsm.config.openHoldSec * 1000 });
  return { fsm: next, actions };
}

function onClosed(fsm: Fsm, id: number | undefined, reason: string): StepResult {
  if (id === undefined) {
    // An outgoing attempt failed: wait (with back-off) and retry.
    if (!fsm.connecting) return { fsm, actions: [] };
    const next: Fsm = { ...fsm, connecting: false, failures: fsm.failures + 1 };
    if (fsm.connections.length > 0) return { fsm: next, actions: [] };
    return { fsm: next, actions: [{ type: 'error', reason }, { type: 'setTimer', timer: 'connectRetry', ms: jittered(next, backoffSec(next)) }] };
  }
  const conn = fsm.connections.find((c) => c.id === id);
  if (!conn) return { fsm, actions: [] };
  const others = fsm.connections.filter((c) => c !== conn);
  if (others.length > 0 && conn.phase !== 'Established') return { fsm: { ...fsm, connections: others }, actions: [] };
  return reset(fsm, `connection closed: ${reason}`);
}

function onMessage(fsm: Fsm, conn: Connection, message: BgpMessage): StepResult {
  if (message.type === 'notification') {
    // Never answer a NOTIFICATION with one.
    const others = fsm.connections.filter((c) => c !== conn);
    const reason = `peer sent NOTIFICATION ${message.code}/${message.subcode}`;
    if (others.length > 0 && conn.phase !== 'Established') return { fsm: { ...fsm, connections: others }, actions: [{ type: 'close', conn: conn.id }] };
    return reset(fsm, reason);
  }
  const unexpected = (): StepResult =>
    fail(fsm, conn, notification(ErrorCode.fsm, unexpectedMessageSubcode(conn.phase)), `unexpected ${message.type} in ${conn.phase}`);
  switch (conn.phase) {
    case 'OpenSent':
      return message.type === 'open' ? onOpen(fsm, conn, message) : unexpected();
    case 'OpenConfirm':
      if (message.type !== 'keepalive') return unexpected();
      return onEstablished(fsm, conn);
    case 'Established': {
      const restartHold: FsmAction[] = fsm.holdTimeSec > 0 ? [{ type: 'setTimer', timer: 'hold', ms: fsm.holdTimeSec * 1000 }] : [];
      if (message.type === 'keepalive') return { fsm, actions: restartHold };
      if (message.type === 'update') return { fsm, actions: [...restartHold, { type: 'update', conn: conn.id, message }] };
      if (message.type === 'routeRefresh') return { fsm, actions: [...restartHold, { type: 'routeRefresh', conn: conn.id, message }] };
      return unexpected();
    }
  }
}

function onOpen(fsm: Fsm, conn: Connection, open: OpenMessage): StepResult {
  const remoteAsn = openAsn(open);
  const { peerAsn, localAsn } = fsm.config;
  if (peerAsn === 'external' ? remoteAsn === localAsn : remoteAsn !== peerAsn) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(open.myAs & 0xffff);
    const expected = peerAsn === 'external' ? `any AS but our own ${localAsn} (dynamic external)` : `the configured ${peerAsn}`;
    return fail(fsm, conn, notification(ErrorCode.open, OpenErrorSubcode.badPeerAs, data), `peer AS ${remoteAsn} is not ${expected}`);
  }
  if (open.holdTimeSec === 1 || open.holdTimeSec === 2) {
    return fail(fsm, conn, notification(ErrorCode.open, OpenErrorSubcode.unacceptableHoldTime), `peer hold time ${open.holdTimeSec} s is not 0 or >= 3`);
  }
  const localId = fsm.config.localOpen.bgpIdentifier;
  if (open.bgpIdentifier === localId && remoteAsn === fsm.config.localAsn) {
    const data = Buffer.from(open.bgpIdentifier.split('.').map(Number));
    return fail(fsm, conn, notification(ErrorCode.open, OpenErrorSubcode.badBgpIdentifier, data), `peer BGP identifier ${open.bgpIdentifier} equals ours (iBGP)`);
  }
  const actions: FsmAction[] = [];
  let connections = fsm.connections.map((c) => (c === conn ? { ...c, phase: 'OpenConfirm' as const, remoteOpen: open } : c));
  // Collision (§6.8): of two connections to the same peer, the one opened by the side with the
  // higher BGP Identifier survives.
  const rival = connections.find((c) => c.id !== conn.id && c.phase !== 'OpenSent');
  if (rival) {
    const keepOutgoing = ipv4ToNumber(localId) > ipv4ToNumber(open.bgpIdentifier);
    const loser = rival.phase === 'Established' ? conn : conn.outgoing === keepOutgoing ? rival : conn;
    actions.push({ type: 'send', conn: loser.id, message: notification(ErrorCode.cease, CeaseSubcode.connectionCollisionResolution) });
    actions.push({ type: 'close', conn: loser.id });
    connections = connections.filter((c) => c.id !== loser.id);
    if (loser.id === conn.id) return { fsm: { ...fsm, connections }, actions };
  }
  const holdTimeSec = Math.min(fsm.config.localOpen.holdTimeSec, open.holdTimeSec);
  const keepaliveSec = keepaliveInterval(holdTimeSec, fsm.config.keepaliveSec);
  actions.push({ type: 'send', conn: conn.id, message: { type: 'keepalive' } });
  if (holdTimeSec > 0) {
    actions.push({ type: 'setTimer', timer: 'hold', ms: holdTimeSec * 1000 });
    actions.push({ type: 'setTimer', timer: 'keepalive', ms: jittered(fsm, keepaliveSec) });
  } else {
    actions.push({ type: 'clearTimer', timer: 'hold' }, { type: 'clearTimer', timer: 'keepalive' });
  }
  return { fsm: { ...fsm, connections, holdTimeSec, keepaliveSec }, actions };
}

function onEstablished(fsm: Fsm, conn: Connection): StepResult {
  const actions: FsmAction[] = [];
  // Any other connection still in OpenSent/OpenConfirm loses to the one that got here first.
  for (const other of fsm.connections.filter((c) => c.id !== conn.id)) {
    actions.push({ type: 'send', conn: other.id, message: notification(ErrorCode.cease, CeaseSubcode.connectionCollisionResolution) });
    actions.push({ type: 'close', conn: other.id });
  }
  if (fsm.connecting) actions.push({ type: 'abortConnect' });
  if (fsm.holdTimeSec > 0) actions.push({ type: 'setTimer', timer: 'hold', ms: fsm.holdTimeSec * 1000 });
  const remoteOpen = conn.remoteOpen;
  // remoteOpen is always set in OpenConfirm; the guard keeps the type honest.
  if (remoteOpen) actions.push({ type: 'established', conn: conn.id, remoteOpen, holdTimeSec: fsm.holdTimeSec, keepaliveSec: fsm.keepaliveSec });
  return {
    fsm: { ...fsm, connecting: false, backingOff: false, failures: 0, connections: [{ ...conn, phase: 'Established' }] },
    actions,
  };
}
