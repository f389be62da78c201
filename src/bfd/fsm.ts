/**
 * One BFD session in asynchronous mode (RFC 5880 §6.8), pure: `step(session, event)` returns
 * the next session value and what the I/O layer must do (send a packet, arm or clear a timer,
 * report a state change). No sockets, no clocks: timer expiry comes back as an event, jitter
 * comes from the injected `random`.
 *
 * Timers (RFC 5880 §6.8.2, §6.8.3, §6.8.7):
 * - While not Up we advertise Desired Min TX = max(configured, 1 s) (the slow rate); on Up the
 *   configured value is brought in by a Poll sequence, as is any later profile change.
 * - During a Poll sequence the values in use are the safe ones: the smaller Desired Min TX
 *   (sending faster never hurts the peer) and the larger Required Min RX (our detection time
 *   never shrinks before the peer has acknowledged with F); on F the new values apply.
 * - Transmit interval = max(Desired Min TX in use, remote Required Min RX), reduced by 0–25 %
 *   jitter (10–25 % when our Detect Mult is 1); nothing periodic while the remote Required
 *   Min RX is 0, nor while passive and no packet has been received (remote discriminator 0).
 * - Detection time = remote Detect Mult × max(Required Min RX in use, remote Desired Min TX),
 *   armed only in Init and Up.
 *
 * We always send C = 0 (BFD shares fate with the speaker's control plane), no echo (Required
 * Min Echo RX 0), no demand mode, no authentication.
 */
import { BfdDiag, BfdState, type ControlPacket } from './codec.ts';

/** RFC 5880 §6.8.3: Desired Min TX while the session is not Up. */
export const SLOW_TX_US = 1_000_000;

export interface BfdTimers {
  /** Microseconds, > 0. */
  readonly desiredMinTxUs: number;
  /** Microseconds, > 0. */
  readonly requiredMinRxUs: number;
  /** 1..255. */
  readonly detectMult: number;
}

export interface BfdConfig extends BfdTimers {
  /** bfd.LocalDiscr: non-zero, unique among this system's sessions. */
  readonly localDiscriminator: number;
  /** Send nothing until the peer has sent something (RFC 5880 §6.1 passive role). */
  readonly passive: boolean;
  /** Uniform in [0, 1): the transmit jitter. */
  readonly random: () => number;
}

export type BfdTimer = 'tx' | 'detect';

export interface BfdSession {
  readonly config: BfdConfig;
  readonly running: boolean;
  readonly state: BfdState;
  readonly localDiag: BfdDiag;
  readonly remoteDiscriminator: number;
  readonly remoteState: BfdState;
  readonly remoteDiag: BfdDiag;
  readonly remoteDetectMult: number;
  /** bfd.RemoteMinRxInterval, µs; 1 until the first packet (RFC 5880 §6.8.1). */
  readonly remoteMinRxUs: number;
  readonly remoteDesiredMinTxUs: number;
  /** The values in our packets. */
  readonly advertised: BfdTimers;
  /** The values our own transmit interval and detection time use (see the header). */
  readonly inUse: { readonly desiredMinTxUs: number; readonly requiredMinRxUs: number };
  /** A Poll sequence is running: our packets carry P until the peer answers F. */
  readonly polling: boolean;
  /** The periodic transmit timer is armed. */
  readonly transmitting: boolean;
}

export type BfdEvent =
  | { readonly type: 'start' }
  /** A packet that passed decodeControl and demux (RFC 5880 §6.8.6). */
  | { readonly type: 'packet'; readonly packet: ControlPacket }
  | { readonly type: 'timer'; readonly timer: BfdTimer }
  /** New profile timers: by a Poll sequence when Up, at once otherwise. */
  | { readonly type: 'setTimers'; readonly timers: BfdTimers }
  /** Planned stop: AdminDown, Diag 7, sent on until the I/O layer closes the session. */
  | { readonly type: 'adminDown' };

export interface StateChange {
  readonly from: BfdState;
  readonly to: BfdState;
  /** Our diagnostic: why we left Up (detection time expired, neighbor signaled down, admin down). */
  readonly diag: BfdDiag;
  /** The peer said AdminDown: by RFC 5882 not a path failure (a planned stop on its side). */
  readonly remoteAdminDown: boolean;
}

export type BfdAction =
  | { readonly type: 'send'; readonly packet: ControlPacket }
  | { readonly type: 'setTimer'; readonly timer: BfdTimer; readonly ms: number }
  | { readonly type: 'clearTimer'; readonly timer: BfdTimer }
  | ({ readonly type: 'stateChange' } & StateChange);

export interface StepResult {
  readonly session: BfdSession;
  readonly actions: BfdAction[];
}

/** Checks profile timers; throws a RangeError naming the field and value. */
export function checkTimers(timers: BfdTimers): void {
  for (const field of ['desiredMinTxUs', 'requiredMinRxUs'] as const) {
    const value = timers[field];
    if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) throw new RangeError(`${field}: ${value} is not 1..4294967295 microseconds`);
  }
  if (!Number.isInteger(timers.detectMult) || timers.detectMult < 1 || timers.detectMult > 255) throw new RangeError(`detectMult: ${timers.detectMult} is not 1..255`);
}

export function createSession(config: BfdConfig): BfdSession {
  checkTimers(config);
  if (!Number.isInteger(config.localDiscriminator) || config.localDiscriminator < 1 || config.localDiscriminator > 0xffffffff) {
    throw new RangeError(`localDiscriminator: ${config.localDiscriminator} is not 1..4294967295`);
  }
  const advertised = notUpTimers(config);
  return {
    config,
    running: false,
    state: BfdState.Down,
    localDiag: BfdDiag.None,
    remoteDiscriminator: 0,
    remoteState: BfdState.Down,
    remoteDiag: BfdDiag.None,
    remoteDetectMult: 0,
    remoteMinRxUs: 1,
    remoteDesiredMinTxUs: 0,
    advertised,
    inUse: { desiredMinTxUs: advertised.desiredMinTxUs, requiredMinRxUs: advertised.requiredMinRxUs },
    polling: false,
    transmitting: false,
  };
}

/** What we advertise while not Up: the slow rate. */
function notUpTimers(timers: BfdTimers): BfdTimers {
  return { desiredMinTxUs: Math.max(timers.desiredMinTxUs, SLOW_TX_US), requiredMinRxUs: timers.requiredMinRxUs, detectMult: timers.detectMult };
}

/** The periodic transmit interval before jitter, µs (RFC 5880 §6.8.7). */
export function transmitIntervalUs(session: BfdSession): number {
  return Math.max(session.inUse.desiredMinTxUs, session.remoteMinRxUs);
}

/** Detection time, µs (RFC 5880 §6.8.4, asynchronous mode); 0 before the peer has been heard. */
export function detectionTimeUs(session: BfdSession): number {
  return session.remoteDetectMult * Math.max(session.inUse.requiredMinRxUs, session.remoteDesiredMinTxUs);
}

/** The negotiated transmit interval with RFC 5880 §6.8.7 jitter applied, in ms. */
export function jitteredIntervalMs(session: BfdSession): number {
  const r = session.config.random();
  const factor = session.advertised.detectMult === 1 ? 0.75 + 0.15 * r : 0.75 + 0.25 * r;
  return (transmitIntervalUs(session) * factor) / 1000;
}

/** May we send periodic packets now (RFC 5880 §6.8.7)? */
function mayTransmit(session: BfdSession): boolean {
  if (!session.running) return false;
  if (session.config.passive && session.remoteDiscriminator === 0) return false;
  return session.remoteMinRxUs !== 0;
}

function packetOf(session: BfdSession, flags: { final?: boolean } = {}): ControlPacket {
  const final = flags.final === true;
  return {
    diag: session.localDiag,
    state: session.state,
    poll: session.polling && !final,
    final,
    controlPlaneIndependent: false,
    demand: false,
    detectMult: session.advertised.detectMult,
    myDiscriminator: session.config.localDiscriminator,
    yourDiscriminator: session.remoteDiscriminator,
    desiredMinTxUs: session.advertised.desiredMinTxUs,
    requiredMinRxUs: session.advertised.requiredMinRxUs,
    requiredMinEchoRxUs: 0,
  };
}

/** Sends one packet now (if allowed) and (re)arms the periodic timer, or stops it when sending is not allowed. */
function transmitNow(session: BfdSession, actions: BfdAction[]): BfdSession {
  if (!mayTransmit(session)) {
    if (session.transmitting) actions.push({ type: 'clearTimer', timer: 'tx' });
    return { ...session, transmitting: false };
  }
  actions.push({ type: 'send', packet: packetOf(session) });
  actions.push({ type: 'setTimer', timer: 'tx', ms: jitteredIntervalMs(session) });
  return { ...session, transmitting: true };
}

function armDetection(session: BfdSession, actions: BfdAction[]): void {
  if (session.state === BfdState.Init || session.state === BfdState.Up) {
    actions.push({ type: 'setTimer', timer: 'detect', ms: detectionTimeUs(session) / 1000 });
  } else {
    actions.push({ type: 'clearTimer', timer: 'detect' });
  }
}

/** Starts a Poll sequence towards `target` (the configured Up values) when it differs from what is advertised. */
function pollTowards(session: BfdSession, target: BfdTimers): BfdSession {
  const a = session.advertised;
  if (session.polling || (a.desiredMinTxUs === target.desiredMinTxUs && a.requiredMinRxUs === target.requiredMinRxUs && a.detectMult === target.detectMult)) {
    return session;
  }
  return {
    ...session,
    advertised: { desiredMinTxUs: target.desiredMinTxUs, requiredMinRxUs: target.requiredMinRxUs, detectMult: target.detectMult },
    inUse: {
      desiredMinTxUs: Math.min(session.inUse.desiredMinTxUs, target.desiredMinTxUs),
      requiredMinRxUs: Math.max(session.inUse.requiredMinRxUs, target.requiredMinRxUs),
    },
    polling: true,
  };
}

function changeState(session: BfdSession, to: BfdState, diag: BfdDiag, actions: BfdAction[], remoteAdminDown = false): BfdSession {
  const from = session.state;
  let next: BfdSession = { ...session, state: to, localDiag: to === BfdState.Up ? BfdDiag.None : diag };
  if (to === BfdState.Up) {
    next = pollTowards(next, next.config);
  } else {
    // Back to the slow rate at once; a Poll sequence in progress is abandoned (RFC 5880 §6.5).
    const slow = notUpTimers(next.config);
    next = { ...next, advertised: slow, inUse: { desiredMinTxUs: slow.desiredMinTxUs, requiredMinRxUs: slow.requiredMinRxUs }, polling: false };
  }
  actions.push({ type: 'stateChange', from, to, diag: next.localDiag, remoteAdminDown });
  return next;
}

export function step(session: BfdSession, event: BfdEvent): StepResult {
  const actions: BfdAction[] = [];
  switch (event.type) {
    case 'start': {
      if (session.running) return { session, actions };
      const started = transmitNow({ ...session, running: true }, actions);
      return { session: started, actions };
    }
    case 'adminDown': {
      if (session.state === BfdState.AdminDown) return { session, actions };
      let next = changeState(session, BfdState.AdminDown, BfdDiag.AdministrativelyDown, actions);
      actions.push({ type: 'clearTimer', timer: 'detect' });
      next = transmitNow(next, actions);
      return { session: next, actions };
    }
    case 'setTimers': {
      checkTimers(event.timers);
      let next: BfdSession = { ...session, config: { ...session.config, ...event.timers } };
      if (next.state === BfdState.Up) {
        // A Poll already running carries on; the new values follow when it ends (see 'packet').
        next = pollTowards(next, next.config);
        if (next.polling && !session.polling) next = transmitNow(next, actions);
      } else {
        const slow = notUpTimers(next.config);
        next = { ...next, advertised: slow, inUse: { desiredMinTxUs: slow.desiredMinTxUs, requiredMinRxUs: slow.requiredMinRxUs } };
      }
      return { session: next, actions };
    }
    case 'timer':
      if (event.timer === 'tx') return { session: session.transmitting ? transmitNow(session, actions) : session, actions };
      return detectionExpired(session, actions);
    case 'packet':
      return receive(session, event.packet, actions);
  }
}

function detectionExpired(session: BfdSession, actions: BfdAction[]): StepResult {
  if (session.state !== BfdState.Init && session.state !== BfdState.Up) return { session, actions };
  // RFC 5880 §6.8.1: bfd.RemoteDiscr is zeroed when a detection time passes in silence.
  let next = changeState({ ...session, remoteDiscriminator: 0, remoteMinRxUs: 1, remoteDetectMult: 0, remoteDesiredMinTxUs: 0 }, BfdState.Down, BfdDiag.ControlDetectionTimeExpired, actions);
  next = transmitNow(next, actions);
  return { session: next, actions };
}

/** RFC 5880 §6.8.6 from "Set bfd.RemoteDiscr" on (the packet already passed decodeControl and demux). */
function receive(session: BfdSession, packet: ControlPacket, actions: BfdAction[]): StepResult {
  if (!session.running) return { session, actions };
  if (packet.yourDiscriminator !== 0 && packet.yourDiscriminator !== session.config.localDiscriminator) return { session, actions };
  const wasAllowed = mayTransmit(session);
  let next: BfdSession = {
    ...session,
    remoteDiscriminator: packet.myDiscriminator,
    remoteState: packet.state,
    remoteDiag: packet.diag,
    remoteDetectMult: packet.detectMult,
    remoteMinRxUs: packet.requiredMinRxUs,
    remoteDesiredMinTxUs: packet.desiredMinTxUs,
  };
  if (packet.final && next.polling) {
    next = { ...next, polling: false, inUse: { desiredMinTxUs: next.advertised.desiredMinTxUs, requiredMinRxUs: next.advertised.requiredMinRxUs } };
    // Profile changes that arrived during the sequence start the next one.
    if (next.state === BfdState.Up) next = pollTowards(next, next.config);
  }
  if (next.state === BfdState.AdminDown) return { session: next, actions };

  const before = next.state;
  if (packet.state === BfdState.AdminDown) {
    if (next.state !== BfdState.Down) next = changeState(next, BfdState.Down, BfdDiag.NeighborSignaledSessionDown, actions, true);
  } else if (next.state === BfdState.Down) {
    if (packet.state === BfdState.Down) next = changeState(next, BfdState.Init, BfdDiag.None, actions);
    else if (packet.state === BfdState.Init) next = changeState(next, BfdState.Up, BfdDiag.None, actions);
  } else if (next.state === BfdState.Init) {
    if (packet.state === BfdState.Init || packet.state === BfdState.Up) next = changeState(next, BfdState.Up, BfdDiag.None, actions);
  } else if (packet.state === BfdState.Down) {
    next = changeState(next, BfdState.Down, BfdDiag.NeighborSignaledSessionDown, actions);
  }
  armDetection(next, actions);

  if (packet.poll) {
    // RFC 5880 §6.8.7: answer a Poll with F at once, whatever the transmit timer says.
    actions.push({ type: 'send', packet: packetOf(next, { final: true }) });
  }
  // Sent now: a state change, a newly started Poll, the first packet a passive end may send, and
  // the first at a shorter interval (the peer lowered its Required Min RX: the timer armed for the
  // old interval would outlast the peer's new detection time).
  const sooner = next.transmitting && transmitIntervalUs(next) < transmitIntervalUs(session);
  if (next.state !== before || (next.polling && !session.polling) || (!wasAllowed && mayTransmit(next)) || (!mayTransmit(next) && next.transmitting) || sooner) {
    next = transmitNow(next, actions);
  }
  return { session: next, actions };
}
