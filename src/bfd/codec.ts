/**
 * BFD Control packet codec (RFC 5880 §4.1), pure: bytes ⇄ `ControlPacket`, no sockets.
 *
 * `decodeControl` applies every reception check of RFC 5880 §6.8.6 that depends only on the
 * packet (version, length, Detect Mult, Multipoint, discriminators, the A bit: we never
 * configure authentication, so a packet carrying it is discarded). The check that needs the
 * session table (a non-zero Your Discriminator that selects no session) is in `demux.ts`.
 * Never throws: a packet to discard comes back as `{ ok: false, reason }`.
 */

/** bfd.SessionState / the State field (RFC 5880 §4.1). */
export enum BfdState {
  AdminDown = 0,
  Down = 1,
  Init = 2,
  Up = 3,
}

/** The Diagnostic field (RFC 5880 §4.1). */
export enum BfdDiag {
  None = 0,
  ControlDetectionTimeExpired = 1,
  EchoFunctionFailed = 2,
  NeighborSignaledSessionDown = 3,
  ForwardingPlaneReset = 4,
  PathDown = 5,
  ConcatenatedPathDown = 6,
  AdministrativelyDown = 7,
  ReverseConcatenatedPathDown = 8,
}

export const BFD_VERSION = 1;
/** Length of a Control packet without an authentication section. */
export const CONTROL_PACKET_LENGTH = 24;
/** The shortest packet with an authentication section (RFC 5880 §6.8.6). */
const MIN_AUTH_PACKET_LENGTH = 26;

export interface ControlPacket {
  readonly diag: BfdDiag;
  readonly state: BfdState;
  readonly poll: boolean;
  readonly final: boolean;
  /** C bit: BFD independent of the control plane. We always send 0 (we share fate with BGP). */
  readonly controlPlaneIndependent: boolean;
  readonly demand: boolean;
  readonly detectMult: number;
  readonly myDiscriminator: number;
  readonly yourDiscriminator: number;
  /** Microseconds. */
  readonly desiredMinTxUs: number;
  /** Microseconds. */
  readonly requiredMinRxUs: number;
  /** Microseconds; 0: no echo (we never support it). */
  readonly requiredMinEchoRxUs: number;
}

export type DecodeResult = { readonly ok: true; readonly packet: ControlPacket } | { readonly ok: false; readonly reason: string };

export class BfdEncodeError extends Error {
  override readonly name = 'BfdEncodeError';
}

const FLAG_POLL = 0x20;
const FLAG_FINAL = 0x10;
const FLAG_CPI = 0x08;
const FLAG_AUTH = 0x04;
const FLAG_DEMAND = 0x02;
const FLAG_MULTIPOINT = 0x01;

function discard(reason: string): DecodeResult {
  return { ok: false, reason };
}

/** One received UDP payload → a Control packet, or why RFC 5880 §6.8.6 discards it. */
export function decodeControl(bytes: Uint8Array): DecodeResult {
  if (bytes.length < CONTROL_PACKET_LENGTH) return discard(`packet of ${bytes.length} bytes is shorter than ${CONTROL_PACKET_LENGTH}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = view.getUint8(0);
  const b1 = view.getUint8(1);
  const version = b0 >> 5;
  if (version !== BFD_VERSION) return discard(`version ${version} is not ${BFD_VERSION}`);
  const length = view.getUint8(3);
  const auth = (b1 & FLAG_AUTH) !== 0;
  if (length < (auth ? MIN_AUTH_PACKET_LENGTH : CONTROL_PACKET_LENGTH)) return discard(`length field ${length} is below ${auth ? MIN_AUTH_PACKET_LENGTH : CONTROL_PACKET_LENGTH}`);
  if (length > bytes.length) return discard(`length field ${length} is more than the ${bytes.length} bytes received`);
  const detectMult = view.getUint8(2);
  if (detectMult === 0) return discard('detect mult is 0');
  if ((b1 & FLAG_MULTIPOINT) !== 0) return discard('multipoint (M) bit is set');
  const myDiscriminator = view.getUint32(4);
  if (myDiscriminator === 0) return discard('my discriminator is 0');
  const state = (b1 >> 6) as BfdState;
  const yourDiscriminator = view.getUint32(8);
  if (yourDiscriminator === 0 && state !== BfdState.Down && state !== BfdState.AdminDown) {
    return discard(`your discriminator is 0 in state ${BfdState[state]}`);
  }
  if (auth) return discard('authentication (A) bit is set but no authentication is configured');
  return {
    ok: true,
    packet: {
      diag: (b0 & 0x1f) as BfdDiag,
      state,
      poll: (b1 & FLAG_POLL) !== 0,
      final: (b1 & FLAG_FINAL) !== 0,
      controlPlaneIndependent: (b1 & FLAG_CPI) !== 0,
      demand: (b1 & FLAG_DEMAND) !== 0,
      detectMult,
      myDiscriminator,
      yourDiscriminator,
      desiredMinTxUs: view.getUint32(12),
      requiredMinRxUs: view.getUint32(16),
      requiredMinEchoRxUs: view.getUint32(20),
    },
  };
}

function checkUint(value: number, bits: 5 | 8 | 32, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) throw new BfdEncodeError(`${field}: ${value} is not a ${bits}-bit unsigned integer`);
}

/** A Control packet → 24 bytes (no authentication section). Throws BfdEncodeError naming the field on a value that does not fit. */
export function encodeControl(packet: ControlPacket): Buffer {
  checkUint(packet.diag, 5, 'diag');
  checkUint(packet.state, 8, 'state');
  if (packet.state > BfdState.Up) throw new BfdEncodeError(`state: ${packet.state} is not a BFD state`);
  checkUint(packet.detectMult, 8, 'detectMult');
  checkUint(packet.myDiscriminator, 32, 'myDiscriminator');
  checkUint(packet.yourDiscriminator, 32, 'yourDiscriminator');
  checkUint(packet.desiredMinTxUs, 32, 'desiredMinTxUs');
  checkUint(packet.requiredMinRxUs, 32, 'requiredMinRxUs');
  checkUint(packet.requiredMinEchoRxUs, 32, 'requiredMinEchoRxUs');
  if (packet.poll && packet.final) throw new BfdEncodeError('poll and final: a packet must not have both P and F set (RFC 5880 §4.1)');
  const bytes = Buffer.alloc(CONTROL_PACKET_LENGTH);
  bytes[0] = (BFD_VERSION << 5) | packet.diag;
  bytes[1] =
    (packet.state << 6) |
    (packet.poll ? FLAG_POLL : 0) |
    (packet.final ? FLAG_FINAL : 0) |
    (packet.controlPlaneIndependent ? FLAG_CPI : 0) |
    (packet.demand ? FLAG_DEMAND : 0);
  bytes[2] = packet.detectMult;
  bytes[3] = CONTROL_PACKET_LENGTH;
  bytes.writeUInt32BE(packet.myDiscriminator, 4);
  bytes.writeUInt32BE(packet.yourDiscriminator, 8);
  bytes.writeUInt32BE(packet.desiredMinTxUs, 12);
  bytes.writeUInt32BE(packet.requiredMinRxUs, 16);
  bytes.writeUInt32BE(packet.requiredMinEchoRxUs, 20);
  return bytes;
}
