import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Afi, buildOpen, decodeMessage, encodeMessage, isKnownErrorCode, MessageFramer, negotiateOptions, Safi } from '../../../src/bgp/codec/index.ts';
import type { BgpDecodeError, CodecOptions, DecodeResult, OpenMessage } from '../../../src/bgp/codec/index.ts';
import { createFsm, stateOf, step, type Fsm, type FsmEvent, type StepResult } from '../../../src/bgp/fsm.ts';
import { negotiatedFamilies } from '../../../src/bgp/session.ts';
import { anyMessage } from '../../unit/bgp/codec/arbitraries.ts';
import { captured, frrNotifications } from '../../unit/bgp/codec/captured-messages.ts';
import { seededRandom as random } from '../../support/random.ts';

const OPTIONS: CodecOptions[] = [
  { fourOctetAs: true, extendedMessages: false, ebgp: true },
  { fourOctetAs: false, extendedMessages: false, ebgp: false },
  { fourOctetAs: true, extendedMessages: true, ebgp: false },
  { fourOctetAs: false, extendedMessages: true, ebgp: true },
];
/** Values that sit on boundaries of length and type fields. */
const INTERESTING = [0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 23, 29, 32, 33, 64, 127, 128, 129, 254, 255];

export interface FuzzReport {
  readonly inputs: number;
  readonly decoded: number;
  readonly errors: number;
  /** Exceptions thrown by decodeMessage or the framer, or errors with an unregistered (code, subcode). */
  readonly escapes: string[];
  /** Decoded messages that did not re-encode to bytes decoding to the same message. */
  readonly unstable: string[];
  /** The session layer fed the decoded messages: broken invariants or exceptions. */
  readonly sessionProblems: string[];
  /** How often the session layer reached Established (the fuzz must get past the OPEN exchange). */
  readonly established: number;
  /** The slowest input: its index and how long decoding, framing and the session layer took on it. */
  readonly slowest: { index: number; ms: number };
}

/** Called before each input, so a watchdog knows which input a decoder is stuck on. */
export type OnInput = (index: number, input: Buffer) => void;

function seeds(seed: number): Buffer[] {
  const fromRouters = [...Object.values(captured).flat(), ...Object.values(frrNotifications).map((c) => c.sent)].map((text) => Buffer.from(text, 'hex'));
  const generated = fc.sample(anyMessage(true), { numRuns: 200, seed }).flatMap((message) => {
    try {
      return [encodeMessage(message, { fourOctetAs: true, extendedMessages: false, ebgp: false })];
    } catch {
      return []; // Too large for 4096 octets: not a useful seed.
    }
  });
  return [...fromRouters, ...generated];
}

function mutate(input: Buffer, rand: () => number, pool: Buffer[]): Buffer {
  let bytes = Buffer.from(input);
  const pick = (n: number): number => Math.floor(rand() * n);
  const rounds = 1 + pick(4);
  for (let round = 0; round < rounds; round++) {
    const at = pick(Math.max(bytes.length, 1));
    switch (pick(8)) {
      case 0: bytes[at] = (bytes[at] ?? 0) ^ (1 << pick(8)); break;
      case 1: bytes[at] = INTERESTING[pick(INTERESTING.length)] as number; break;
      case 2: bytes[at] = pick(256); break;
      case 3: if (at + 1 < bytes.length) bytes.writeUInt16BE(pick(2) ? pick(65536) : (INTERESTING[pick(INTERESTING.length)] as number), at); break;
      case 4: bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))), bytes.subarray(at)]); break;
      case 5: bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + pick(8))]); break;
      case 6: bytes = bytes.subarray(0, at); break;
      default: {
        const other = pool[pick(pool.length)] as Buffer;
        const from = pick(Math.max(other.length, 1));
        bytes = Buffer.concat([bytes.subarray(0, at), other.subarray(from, from + 1 + pick(64))]);
      }
    }
  }
  // Mostly keep the header consistent, so mutations reach the body parsers.
  if (bytes.length >= 19 && rand() < 0.8) {
    bytes.fill(0xff, 0, 16);
    bytes.writeUInt16BE(Math.min(bytes.length, 0xffff), 16);
  }
  return bytes;
}

function randomMessage(rand: () => number): Buffer {
  const length = 19 + Math.floor(rand() * (rand() < 0.9 ? 120 : 5000));
  const bytes = Buffer.alloc(length);
  for (let i = 19; i < length; i++) bytes[i] = Math.floor(rand() * 256);
  bytes.fill(0xff, 0, 16);
  bytes.writeUInt16BE(length, 16);
  bytes[18] = 1 + Math.floor(rand() * 5);
  return bytes;
}

function describe(input: Buffer, problem: string): string {
  return `${problem} on ${input.toString('hex')}`;
}

function check(result: DecodeResult): string | undefined {
  if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') return 'not a result value';
  return result.ok ? undefined : checkError(result.error);
}

/** A decode error must be one the registry names (what a NOTIFICATION to the peer will carry). */
function checkError(error: BgpDecodeError): string | undefined {
  const { code, subcode, data, reason } = error;
  if (!isKnownErrorCode(code, subcode)) return `unregistered error (${code}, ${subcode}): ${reason}`;
  if (!Buffer.isBuffer(data) || typeof reason !== 'string') return 'malformed error value';
  return undefined;
}

const LOCAL_ASN = 65001;
const LOCAL_OPEN: OpenMessage = buildOpen({
  asn: LOCAL_ASN,
  holdTimeSec: 90,
  bgpIdentifier: '192.0.2.11',
  capabilities: [
    { kind: 'multiprotocol', afi: Afi.ipv4, safi: Safi.unicast },
    { kind: 'multiprotocol', afi: Afi.ipv6, safi: Safi.unicast },
    { kind: 'routeRefresh' },
    { kind: 'extendedMessage' },
    { kind: 'gracefulRestart', restartState: false, notification: false, restartTimeSec: 120, families: [{ afi: Afi.ipv4, safi: Safi.unicast, forwardingPreserved: true }] },
  ],
});
const TIMERS = ['connectRetry', 'hold', 'keepalive', 'idleHold'] as const;

/**
 * The session layer fed what the decoder makes of the fuzz inputs, as session.ts feeds it:
 * the FSM (OPEN checks, collisions, timers) and, on Established, the OPEN negotiation
 * (codec options, families). A peer that sends garbage may only get a NOTIFICATION the
 * registry names, and the FSM never holds more than one connection per direction.
 */
class SessionFuzz {
  private fsm: Fsm;
  private nextConn = 1;
  established = 0;
  readonly problems: string[] = [];

  constructor(private readonly rand: () => number) {
    this.fsm = this.fresh();
  }

  private fresh(): Fsm {
    const peerAsn = this.rand() < 0.5 ? 'external' : 64512;
    const started = step(createFsm({ localOpen: LOCAL_OPEN, localAsn: LOCAL_ASN, peerAsn, passive: this.rand() < 0.3, connectRetrySec: 5, maxBackoffSec: 60, openHoldSec: 240, random: this.rand }), { type: 'start' });
    return started.fsm;
  }

  /** One input: a decoded message (or the error the decoder made of it), on a connection opened if there is none. */
  feed(result: DecodeResult, input: Buffer): void {
    if (this.fsm.connections.length === 0 || this.rand() < 0.02) this.apply({ type: 'tcpConnected', conn: this.nextConn++, outgoing: this.rand() < 0.5 }, input);
    const conn = this.fsm.connections[Math.floor(this.rand() * this.fsm.connections.length)]?.id ?? this.nextConn;
    this.apply(result.ok ? { type: 'message', conn, message: result.message } : { type: 'decodeError', conn, error: result.error }, input);
    // A peer that completes the handshake half the time, so the fuzz also reaches Established.
    const confirming = this.fsm.connections.find((c) => c.phase === 'OpenConfirm');
    if (confirming && this.rand() < 0.5) this.apply({ type: 'message', conn: confirming.id, message: { type: 'keepalive' } }, input);
    if (this.rand() < 0.05) this.apply({ type: 'timer', timer: TIMERS[Math.floor(this.rand() * TIMERS.length)] as (typeof TIMERS)[number] }, input);
    if (this.rand() < 0.01) this.apply({ type: 'tcpClosed', conn, reason: 'fuzz' }, input);
    if (!this.fsm.running || this.rand() < 0.005) this.fsm = this.fresh();
  }

  private apply(event: FsmEvent, input: Buffer): void {
    let result: StepResult;
    try {
      result = step(this.fsm, event);
    } catch (error) {
      this.problems.push(describe(input, `FSM threw on ${event.type}: ${String(error)}`));
      this.fsm = this.fresh();
      return;
    }
    this.fsm = result.fsm;
    const problem = this.check(result);
    if (problem) this.problems.push(describe(input, `${problem} (after ${event.type})`));
  }

  private check({ fsm, actions }: StepResult): string | undefined {
    for (const direction of [true, false]) if (fsm.connections.filter((c) => c.outgoing === direction).length > 1) return 'two connections in one direction';
    if (fsm.connections.filter((c) => c.phase === 'Established').length > 1) return 'two Established connections';
    stateOf(fsm);
    for (const action of actions) {
      if (action.type === 'send' && action.message.type === 'notification' && !isKnownErrorCode(action.message.code, action.message.subcode)) {
        return `NOTIFICATION with an unregistered error (${action.message.code}, ${action.message.subcode})`;
      }
      if (action.type === 'established') {
        this.established++;
        try {
          const options = negotiateOptions(LOCAL_OPEN, action.remoteOpen);
          const families = negotiatedFamilies(['ipv4', 'ipv6'], action.remoteOpen);
          if (!families.every((f) => f === 'ipv4' || f === 'ipv6')) return `negotiated unknown families ${JSON.stringify(families)}`;
          // Both configurations are eBGP (any AS but ours, or 64512): our own AS must have been refused.
          if (!options.ebgp) return `Established with a peer in our own AS ${LOCAL_ASN}`;
        } catch (error) {
          return `OPEN negotiation threw: ${String(error)}`;
        }
        if (action.holdTimeSec !== 0 && action.holdTimeSec < 3) return `negotiated hold time ${action.holdTimeSec}`;
      }
    }
    return undefined;
  }
}

/**
 * Runs `inputs` fuzz inputs: random messages and mutations of captured and generated ones,
 * through decodeMessage, the framer and the session layer. The same seed gives the same inputs.
 */
export function fuzzDecoder(inputs: number, seed: number, onInput?: OnInput): FuzzReport {
  const rand = random(seed);
  const pool = seeds(seed);
  const escapes: string[] = [];
  const unstable: string[] = [];
  let decoded = 0;
  let errors = 0;
  let slowest = { index: 0, ms: 0 };
  const framer = { current: new MessageFramer(), fed: 0 };
  const session = new SessionFuzz(random(seed ^ 0x5e55));
  for (let i = 0; i < inputs; i++) {
    const input = rand() < 0.2 ? randomMessage(rand) : mutate(pool[Math.floor(rand() * pool.length)] as Buffer, rand, pool);
    onInput?.(i, input);
    const from = performance.now();
    const opts = OPTIONS[i % OPTIONS.length] as CodecOptions;
    let result: DecodeResult;
    try {
      result = decodeMessage(input, opts);
    } catch (error) {
      escapes.push(describe(input, `threw ${String(error)}`));
      continue;
    }
    const problem = check(result);
    if (problem) escapes.push(describe(input, problem));
    session.feed(result, input);
    if (!result.ok) {
      errors++;
    } else {
      decoded++;
      try {
        const again = decodeMessage(encodeMessage(result.message, { ...opts, extendedMessages: true }), { ...opts, extendedMessages: true });
        if (!again.ok || !isDeepStrictEqual(again.message, result.message)) unstable.push(describe(input, 're-encoded differently'));
      } catch (error) {
        unstable.push(describe(input, `re-encode threw ${String(error)}`));
      }
    }
    try {
      // The same bytes as a stream, in random chunks; a failed framer is replaced, as a session would reconnect.
      for (let at = 0; at < input.length;) {
        const size = 1 + Math.floor(rand() * 64);
        const { error } = framer.current.push(input.subarray(at, at + size));
        if (error) {
          const framingProblem = checkError(error);
          if (framingProblem) escapes.push(describe(input, `framer: ${framingProblem}`));
          framer.current = new MessageFramer(rand() < 0.5);
        }
        at += size;
      }
    } catch (error) {
      escapes.push(describe(input, `framer threw ${String(error)}`));
    }
    const ms = performance.now() - from;
    if (ms > slowest.ms) slowest = { index: i, ms };
  }
  return { inputs, decoded, errors, escapes, unstable, sessionProblems: session.problems, established: session.established, slowest };
}
