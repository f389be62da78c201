import { createHmac, timingSafeEqual } from 'node:crypto';

/** What one speaker tells the others, several times a second. */
export interface Heartbeat {
  /** The sender's node name. */
  node: string;
  /** Changes on every start of the sender (e.g. its start time in ms): a restarted speaker is not a replay. */
  incarnation: bigint;
  /** Strictly increasing within one incarnation. */
  sequence: bigint;
  /**
   * When it was sent, ms since the epoch on the sender's clock: receivers refuse a heartbeat
   * outside their freshness window (membership.ts), so a recorded one replayed later, e.g. to a
   * receiver that restarted and forgot the sequence numbers it had seen, revives nobody.
   */
  sentAt: bigint;
  /** The sender is shutting down (SIGTERM, drain): successors take over now instead of after a timeout. */
  leaving: boolean;
  /** Interfaces the sender can announce from (the L2 election checks advertisement interfaces against them). */
  interfaces: string[];
}

const MAGIC = 0x414c4231; // "ALB1"
const VERSION = 2; // 2: sentAt after the sequence
const MAC_LENGTH = 16; // HMAC-SHA256 truncated: ample against forgery within a heartbeat's lifetime
const FLAG_LEAVING = 0x01;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_NAME = 253; // a DNS name, as Kubernetes node names are
const MAX_INTERFACES = 32;
const MAX_INTERFACE_NAME = 15; // IFNAMSIZ - 1
/** Magic, version, flags, incarnation, sequence, sentAt, name length. */
const HEADER_BYTES = 4 + 1 + 1 + 8 + 8 + 8 + 1;
/** Largest possible datagram, so receivers can size buffers and refuse anything longer. */
export const MAX_HEARTBEAT_BYTES = HEADER_BYTES + MAX_NAME + 1 + MAX_INTERFACES * (1 + MAX_INTERFACE_NAME) + MAC_LENGTH;

export type HeartbeatDecode = { ok: true; heartbeat: Heartbeat } | { ok: false; reason: 'malformed' | 'unauthenticated' };

/** Encodes and signs a heartbeat; throws on values no receiver could accept (a programming error). */
export function encodeHeartbeat(heartbeat: Heartbeat, key: Buffer): Buffer {
  const name = Buffer.from(heartbeat.node, 'utf8');
  if (name.length === 0 || name.length > MAX_NAME) throw new RangeError(`heartbeat node name "${heartbeat.node}": must be 1-${MAX_NAME} bytes`);
  if (heartbeat.interfaces.length > MAX_INTERFACES) throw new RangeError(`heartbeat interfaces: at most ${MAX_INTERFACES}, got ${heartbeat.interfaces.length}`);
  const interfaces = heartbeat.interfaces.map((ifname) => {
    const bytes = Buffer.from(ifname, 'utf8');
    if (bytes.length === 0 || bytes.length > MAX_INTERFACE_NAME) throw new RangeError(`heartbeat interface "${ifname}": must be 1-${MAX_INTERFACE_NAME} bytes`);
    return bytes;
  });
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt8(VERSION, 4);
  header.writeUInt8(heartbeat.leaving ? FLAG_LEAVING : 0, 5);
  header.writeBigUInt64BE(heartbeat.incarnation, 6);
  header.writeBigUInt64BE(heartbeat.sequence, 14);
  header.writeBigUInt64BE(heartbeat.sentAt, 22);
  header.writeUInt8(name.length, 30);
  const parts = [header, name, Buffer.from([interfaces.length])];
  for (const bytes of interfaces) parts.push(Buffer.from([bytes.length]), bytes);
  const body = Buffer.concat(parts);
  return Buffer.concat([body, mac(body, key)]);
}

/** Decodes a datagram from the network; never throws. The MAC is checked before any field is trusted. */
export function decodeHeartbeat(datagram: Buffer, key: Buffer): HeartbeatDecode {
  if (datagram.length < HEADER_BYTES + MAC_LENGTH || datagram.length > MAX_HEARTBEAT_BYTES) return { ok: false, reason: 'malformed' };
  const body = datagram.subarray(0, datagram.length - MAC_LENGTH);
  const received = datagram.subarray(datagram.length - MAC_LENGTH);
  if (!timingSafeEqual(received, mac(body, key))) return { ok: false, reason: 'unauthenticated' };
  if (body.readUInt32BE(0) !== MAGIC || body.readUInt8(4) !== VERSION) return { ok: false, reason: 'malformed' };
  const flags = body.readUInt8(5);
  if ((flags & ~FLAG_LEAVING) !== 0) return { ok: false, reason: 'malformed' };
  const incarnation = body.readBigUInt64BE(6);
  const sequence = body.readBigUInt64BE(14);
  const sentAt = body.readBigUInt64BE(22);
  const nameLength = body.readUInt8(30);
  let offset = HEADER_BYTES;
  if (nameLength === 0 || offset + nameLength + 1 > body.length) return { ok: false, reason: 'malformed' };
  const node = utf8(body.subarray(offset, offset + nameLength));
  if (node === undefined) return { ok: false, reason: 'malformed' };
  offset += nameLength;
  const count = body.readUInt8(offset++);
  if (count > MAX_INTERFACES) return { ok: false, reason: 'malformed' };
  const interfaces: string[] = [];
  for (let i = 0; i < count; i++) {
    if (offset >= body.length) return { ok: false, reason: 'malformed' };
    const length = body.readUInt8(offset++);
    if (length === 0 || length > MAX_INTERFACE_NAME || offset + length > body.length) return { ok: false, reason: 'malformed' };
    const ifname = utf8(body.subarray(offset, offset + length));
    if (ifname === undefined) return { ok: false, reason: 'malformed' };
    interfaces.push(ifname);
    offset += length;
  }
  if (offset !== body.length) return { ok: false, reason: 'malformed' };
  return { ok: true, heartbeat: { node, incarnation, sequence, sentAt, leaving: (flags & FLAG_LEAVING) !== 0, interfaces } };
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function mac(body: Buffer, key: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest().subarray(0, MAC_LENGTH);
}
