import { encodeAttributeParts, encodeMpReachHead, encodeMpUnreachHead } from './attributes.ts';
import { Afi, AttributeFlag, AttributeType, HEADER_LENGTH, MessageTypeCode, Safi } from './constants.ts';
import { BgpEncodeError } from './encode-error.ts';
import { maxMessageLength } from './message.ts';
import { checkPrefix, nlriSize, writeNlri } from './prefix.ts';
import type { CodecOptions, PathAttributes, Prefix, UpdateMessage } from './types.ts';

/** Prefixes sharing one set of attributes. */
export interface AnnouncementGroup {
  /** Shared attributes; `nextHop` (IPv4) is required for IPv4 prefixes. mpReach/mpUnreach are built here. */
  readonly attributes: Omit<PathAttributes, 'mpReach' | 'mpUnreach'>;
  /** Global and optional link-local IPv6 next hop; required for IPv6 prefixes. */
  readonly ipv6NextHops?: readonly string[];
  readonly prefixes: readonly Prefix[];
}

/** Withdrawn Routes Length + Total Path Attribute Length. */
const UPDATE_FIXED = HEADER_LENGTH + 4;
/** MP_* attributes are always written with a 2-octet length here, so capacity is known up front. */
const MP_ATTRIBUTE_HEADER = 4;

function splitByFamily(prefixes: readonly Prefix[], field: string): { ipv4: Prefix[]; ipv6: Prefix[] } {
  const ipv4: Prefix[] = [];
  const ipv6: Prefix[] = [];
  prefixes.forEach((prefix, i) => {
    checkPrefix(prefix, `${field}[${i}]`);
    (prefix.family === 4 ? ipv4 : ipv6).push(prefix);
  });
  return { ipv4, ipv6 };
}

/**
 * Splits prefixes into batches whose NLRI encoding fits `capacity` octets. Largest first,
 * then each batch's gap is filled from the smallest: every batch but the last has less room
 * left than the smallest prefix it could have taken.
 */
function batches(prefixes: readonly Prefix[], capacity: number): { prefixes: Prefix[]; size: number }[] {
  const sorted = [...prefixes].sort((a, b) => b.length - a.length);
  const result: { prefixes: Prefix[]; size: number }[] = [];
  let front = 0;
  let back = sorted.length - 1;
  while (front <= back) {
    const batch: Prefix[] = [];
    let size = 0;
    while (front <= back && size + nlriSize(sorted[front] as Prefix) <= capacity) {
      size += nlriSize(sorted[front] as Prefix);
      batch.push(sorted[front++] as Prefix);
    }
    while (front <= back && size + nlriSize(sorted[back] as Prefix) <= capacity) {
      size += nlriSize(sorted[back] as Prefix);
      batch.push(sorted[back--] as Prefix);
    }
    result.push({ prefixes: batch, size });
  }
  return result;
}

function writeHeader(message: Buffer): void {
  message.fill(0xff, 0, 16);
  message.writeUInt16BE(message.length, 16);
  message[18] = MessageTypeCode.update;
}

function writePrefixes(prefixes: readonly Prefix[], message: Buffer, offset: number): number {
  let at = offset;
  for (const prefix of prefixes) at = writeNlri(prefix, message, at);
  return at;
}

/** An MP_* attribute header with a 2-octet length. */
function writeMpAttributeHeader(typeCode: number, valueLength: number, message: Buffer, offset: number): number {
  message[offset] = AttributeFlag.optional | AttributeFlag.extendedLength;
  message[offset + 1] = typeCode;
  message.writeUInt16BE(valueLength, offset + 2);
  return offset + MP_ATTRIBUTE_HEADER;
}

function tooSmall(what: string, capacity: number): BgpEncodeError {
  return new BgpEncodeError(`${what}: attributes leave ${capacity} octets for prefixes in a message; at least 17 are needed`);
}

/** Encoded UPDATEs announcing every prefix of the group, as few as the size limit allows. */
export function buildUpdates(group: AnnouncementGroup, opts: CodecOptions): Buffer[] {
  const { ipv4, ipv6 } = splitByFamily(group.prefixes, 'announce prefixes');
  const maxLength = maxMessageLength(opts);
  const messages: Buffer[] = [];
  if (ipv4.length > 0) {
    if (group.attributes.nextHop === undefined) throw new BgpEncodeError('announce: IPv4 prefixes need attributes.nextHop');
    const attributes = Buffer.concat(encodeAttributeParts(group.attributes, opts).map((p) => p.bytes));
    const capacity = maxLength - UPDATE_FIXED - attributes.length;
    if (capacity < 5) throw tooSmall('announce IPv4', capacity);
    for (const batch of batches(ipv4, capacity)) {
      const message = Buffer.alloc(UPDATE_FIXED + attributes.length + batch.size);
      writeHeader(message);
      message.writeUInt16BE(0, HEADER_LENGTH);
      message.writeUInt16BE(attributes.length, HEADER_LENGTH + 2);
      attributes.copy(message, UPDATE_FIXED);
      writePrefixes(batch.prefixes, message, UPDATE_FIXED + attributes.length);
      messages.push(message);
    }
  }
  if (ipv6.length > 0) {
    if (!group.ipv6NextHops || group.ipv6NextHops.length === 0) throw new BgpEncodeError('announce: IPv6 prefixes need ipv6NextHops');
    // An UPDATE without in-line NLRI carries no NEXT_HOP (RFC 4760 §3).
    const parts = encodeAttributeParts({ ...group.attributes, nextHop: undefined }, opts);
    const before = Buffer.concat(parts.filter((p) => p.typeCode < AttributeType.mpReach).map((p) => p.bytes));
    const after = Buffer.concat(parts.filter((p) => p.typeCode > AttributeType.mpReach).map((p) => p.bytes));
    const head = encodeMpReachHead(Afi.ipv6, Safi.unicast, group.ipv6NextHops);
    const overhead = UPDATE_FIXED + before.length + MP_ATTRIBUTE_HEADER + head.length + after.length;
    const capacity = Math.min(maxLength - overhead, 0xffff - head.length);
    if (capacity < 17) throw tooSmall('announce IPv6', capacity);
    for (const batch of batches(ipv6, capacity)) {
      const attributesLength = before.length + MP_ATTRIBUTE_HEADER + head.length + batch.size + after.length;
      const message = Buffer.alloc(UPDATE_FIXED + attributesLength);
      writeHeader(message);
      message.writeUInt16BE(0, HEADER_LENGTH);
      message.writeUInt16BE(attributesLength, HEADER_LENGTH + 2);
      let offset = UPDATE_FIXED + before.copy(message, UPDATE_FIXED);
      offset = writeMpAttributeHeader(AttributeType.mpReach, head.length + batch.size, message, offset);
      offset += head.copy(message, offset);
      offset = writePrefixes(batch.prefixes, message, offset);
      after.copy(message, offset);
      messages.push(message);
    }
  }
  return messages;
}

/** Encoded UPDATEs withdrawing the prefixes, as few as the size limit allows. */
export function buildWithdraws(prefixes: readonly Prefix[], opts: CodecOptions): Buffer[] {
  const { ipv4, ipv6 } = splitByFamily(prefixes, 'withdraw prefixes');
  const maxLength = maxMessageLength(opts);
  const messages: Buffer[] = [];
  for (const batch of batches(ipv4, maxLength - UPDATE_FIXED)) {
    const message = Buffer.alloc(UPDATE_FIXED + batch.size);
    writeHeader(message);
    message.writeUInt16BE(batch.size, HEADER_LENGTH);
    writePrefixes(batch.prefixes, message, HEADER_LENGTH + 2);
    message.writeUInt16BE(0, HEADER_LENGTH + 2 + batch.size);
    messages.push(message);
  }
  const head = encodeMpUnreachHead(Afi.ipv6, Safi.unicast);
  for (const batch of batches(ipv6, Math.min(maxLength - UPDATE_FIXED - MP_ATTRIBUTE_HEADER - head.length, 0xffff - head.length))) {
    const attributesLength = MP_ATTRIBUTE_HEADER + head.length + batch.size;
    const message = Buffer.alloc(UPDATE_FIXED + attributesLength);
    writeHeader(message);
    message.writeUInt16BE(0, HEADER_LENGTH);
    message.writeUInt16BE(attributesLength, HEADER_LENGTH + 2);
    let offset = writeMpAttributeHeader(AttributeType.mpUnreach, head.length + batch.size, message, UPDATE_FIXED);
    offset += head.copy(message, offset);
    writePrefixes(batch.prefixes, message, offset);
    messages.push(message);
  }
  return messages;
}

/** The End-of-RIB marker (RFC 4724 §2) for a family: an empty UPDATE for IPv4 unicast, else an empty MP_UNREACH. */
export function endOfRib(afi: number, safi: number): UpdateMessage {
  if (afi === Afi.ipv4 && safi === Safi.unicast) return { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
  return { type: 'update', withdrawn: [], attributes: { mpUnreach: { afi, safi, withdrawn: [] } }, nlri: [] };
}

/** The family an UPDATE marks End-of-RIB for, or undefined when it is not a marker. */
export function endOfRibFamily(update: UpdateMessage): { afi: number; safi: number } | undefined {
  if (update.withdrawn.length > 0 || update.nlri.length > 0) return undefined;
  const { mpUnreach, ...others } = update.attributes;
  const nothingElse = Object.values(others).every((value) => value === undefined);
  if (!nothingElse) return undefined;
  if (!mpUnreach) return { afi: Afi.ipv4, safi: Safi.unicast };
  if (mpUnreach.withdrawn.length === 0) return { afi: mpUnreach.afi, safi: mpUnreach.safi };
  return undefined;
}
