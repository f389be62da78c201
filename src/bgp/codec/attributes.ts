import { decodeAddress, encodeAnyAddress, encodeIpv4 } from './addresses.ts';
import { Afi, AS_TRANS, AttributeFlag, AttributeType, ErrorCode, Safi, UpdateErrorSubcode } from './constants.ts';
import { BgpEncodeError, checkUint } from './encode-error.ts';
import { checkPrefix, nlriSize, readNlri, writeNlri } from './prefix.ts';
import type {
  Aggregator, AsPathSegment, AsPathSegmentType, CodecOptions, DecodeWarning, LargeCommunity, PathAttributes, Prefix,
  UnknownAttribute,
} from './types.ts';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

const WELL_KNOWN = AttributeFlag.transitive;
const OPTIONAL = AttributeFlag.optional;
const OPTIONAL_TRANSITIVE = AttributeFlag.optional | AttributeFlag.transitive;
const FLAG_BITS = AttributeFlag.optional | AttributeFlag.transitive;

const SEGMENT_CODES: Record<AsPathSegmentType, number> = { set: 1, sequence: 2, confedSequence: 3, confedSet: 4 };
const SEGMENT_TYPES: ReadonlyMap<number, AsPathSegmentType> = new Map(
  Object.entries(SEGMENT_CODES).map(([name, code]) => [code, name as AsPathSegmentType]),
);

// ---------------------------------------------------------------- encode

/** One attribute: flags, type, length (extended when the value needs it), value. */
function encodeAttribute(flags: number, typeCode: number, value: Buffer): Buffer {
  if (value.length > 0xffff) throw new BgpEncodeError(`attribute ${typeCode}: value of ${value.length} octets exceeds 65535`);
  const extended = value.length > 255;
  const head = Buffer.alloc(extended ? 4 : 3);
  head[0] = (flags & ~AttributeFlag.extendedLength) | (extended ? AttributeFlag.extendedLength : 0);
  head[1] = typeCode;
  if (extended) head.writeUInt16BE(value.length, 2);
  else head[2] = value.length;
  return Buffer.concat([head, value]);
}

function uint32(value: number, field: string): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(checkUint(value, 0xffffffff, field), 0);
  return bytes;
}

/** AS_PATH or AS4_PATH value; `asnOctets` 2 maps ASNs above 65535 to AS_TRANS. */
function encodeAsPath(segments: readonly AsPathSegment[], asnOctets: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const segment of segments) {
    const code = SEGMENT_CODES[segment.type];
    if (code === undefined) throw new BgpEncodeError(`asPath segment type: "${String(segment.type)}" is not one of ${Object.keys(SEGMENT_CODES).join(', ')}`);
    if (segment.asns.length === 0) throw new BgpEncodeError(`asPath ${segment.type} segment: empty`);
    const isSet = segment.type === 'set' || segment.type === 'confedSet';
    if (isSet && segment.asns.length > 255) throw new BgpEncodeError(`asPath ${segment.type} segment: ${segment.asns.length} ASNs exceed 255`);
    // Long sequences are split: consecutive sequence segments mean the same path.
    for (let start = 0; start < segment.asns.length; start += 255) {
      const asns = segment.asns.slice(start, start + 255);
      const bytes = Buffer.alloc(2 + asns.length * asnOctets);
      bytes[0] = code;
      bytes[1] = asns.length;
      asns.forEach((asn, i) => {
        checkUint(asn, 0xffffffff, 'asPath ASN');
        if (asnOctets === 4) bytes.writeUInt32BE(asn, 2 + 4 * i);
        else bytes.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 2 + 2 * i);
      });
      parts.push(bytes);
    }
  }
  return Buffer.concat(parts);
}

function encodeAggregator(aggregator: Aggregator, asnOctets: 2 | 4): Buffer {
  checkUint(aggregator.asn, 0xffffffff, 'aggregator asn');
  const asn = Buffer.alloc(asnOctets);
  if (asnOctets === 4) asn.writeUInt32BE(aggregator.asn, 0);
  else asn.writeUInt16BE(aggregator.asn > 0xffff ? AS_TRANS : aggregator.asn, 0);
  return Buffer.concat([asn, encodeIpv4(aggregator.address, 'aggregator address')]);
}

/** One IPv4 next hop (IPv4 only), or one or two IPv6 ones (global, link-local). */
function encodeNextHops(afi: number, nextHops: readonly string[]): Buffer {
  const encoded = nextHops.map((hop) => encodeAnyAddress(hop, 'mpReach nextHop'));
  const ipv6Only = encoded.every((hop) => hop.length === 16);
  const valid = (encoded.length === 1 && (ipv6Only || afi === Afi.ipv4)) || (encoded.length === 2 && ipv6Only);
  if (!valid) throw new BgpEncodeError(`mpReach nextHops for AFI ${afi}: ${JSON.stringify(nextHops)} (expected one IPv4 address for AFI 1, or one or two IPv6 addresses)`);
  return Buffer.concat(encoded);
}

export function encodePrefixes(prefixes: readonly Prefix[], family: 4 | 6, field: string): Buffer {
  let size = 0;
  for (const prefix of prefixes) {
    checkPrefix(prefix, field);
    if (prefix.family !== family) throw new BgpEncodeError(`${field}: IPv${prefix.family} prefix in an IPv${family} list`);
    size += nlriSize(prefix);
  }
  const bytes = Buffer.alloc(size);
  let offset = 0;
  for (const prefix of prefixes) offset = writeNlri(prefix, bytes, offset);
  return bytes;
}

function familyOf(afi: number, field: string): 4 | 6 {
  if (afi === Afi.ipv4) return 4;
  if (afi === Afi.ipv6) return 6;
  throw new BgpEncodeError(`${field} afi: ${afi}, only 1 (IPv4) and 2 (IPv6) are modelled (use an unknown attribute)`);
}

/** MP_REACH_NLRI value up to (excluding) the NLRI, for the packing helper to append prefixes to. */
export function encodeMpReachHead(afi: number, safi: number, nextHops: readonly string[]): Buffer {
  const nextHop = encodeNextHops(afi, nextHops);
  const head = Buffer.alloc(5 + nextHop.length);
  head.writeUInt16BE(checkUint(afi, 0xffff, 'mpReach afi'), 0);
  head[2] = checkUint(safi, 0xff, 'mpReach safi');
  head[3] = nextHop.length;
  nextHop.copy(head, 4);
  head[4 + nextHop.length] = 0; // Reserved (was SNPA count).
  return head;
}

export function encodeMpUnreachHead(afi: number, safi: number): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt16BE(checkUint(afi, 0xffff, 'mpUnreach afi'), 0);
  head[2] = checkUint(safi, 0xff, 'mpUnreach safi');
  return head;
}

/** True when an AS_PATH has an ASN that a 2-octet session must carry in AS4_PATH. */
function needsAs4(segments: readonly AsPathSegment[]): boolean {
  return segments.some((segment) => segment.asns.some((asn) => asn > 0xffff));
}

/**
 * Encodes the attributes in type-code order. On a 2-octet session, AS_PATH and AGGREGATOR
 * carry AS_TRANS and AS4_PATH / AS4_AGGREGATOR the real ASNs (RFC 6793 §4.2.2).
 */
export function encodeAttributes(attributes: PathAttributes, opts: CodecOptions): Buffer {
  return Buffer.concat(encodeAttributeParts(attributes, opts).map((p) => p.bytes));
}

/** The encoded attributes one by one, in type-code order, for callers that insert more (UPDATE packing). */
export function encodeAttributeParts(attributes: PathAttributes, opts: CodecOptions): { typeCode: number; bytes: Buffer }[] {
  const parts: { typeCode: number; bytes: Buffer }[] = [];
  const add = (flags: number, typeCode: number, value: Buffer): void => {
    parts.push({ typeCode, bytes: encodeAttribute(flags, typeCode, value) });
  };
  const asnOctets = opts.fourOctetAs ? 4 : 2;
  if (attributes.origin !== undefined) add(WELL_KNOWN, AttributeType.origin, Buffer.from([checkUint(attributes.origin, 2, 'origin')]));
  if (attributes.asPath !== undefined) {
    add(WELL_KNOWN, AttributeType.asPath, encodeAsPath(attributes.asPath, asnOctets));
    if (!opts.fourOctetAs && needsAs4(attributes.asPath)) {
      const as4Segments = attributes.asPath.filter((s) => s.type === 'set' || s.type === 'sequence');
      add(OPTIONAL_TRANSITIVE, AttributeType.as4Path, encodeAsPath(as4Segments, 4));
    }
  }
  if (attributes.nextHop !== undefined) add(WELL_KNOWN, AttributeType.nextHop, encodeIpv4(attributes.nextHop, 'nextHop'));
  if (attributes.med !== undefined) add(OPTIONAL, AttributeType.med, uint32(attributes.med, 'med'));
  if (attributes.localPref !== undefined) add(WELL_KNOWN, AttributeType.localPref, uint32(attributes.localPref, 'localPref'));
  if (attributes.atomicAggregate === true) add(WELL_KNOWN, AttributeType.atomicAggregate, Buffer.alloc(0));
  if (attributes.aggregator !== undefined) {
    add(OPTIONAL_TRANSITIVE, AttributeType.aggregator, encodeAggregator(attributes.aggregator, asnOctets));
    if (!opts.fourOctetAs && attributes.aggregator.asn > 0xffff) {
      add(OPTIONAL_TRANSITIVE, AttributeType.as4Aggregator, encodeAggregator(attributes.aggregator, 4));
    }
  }
  if (attributes.communities !== undefined && attributes.communities.length > 0) {
    add(OPTIONAL_TRANSITIVE, AttributeType.communities, Buffer.concat(attributes.communities.map((c) => uint32(c, 'community'))));
  }
  if (attributes.originatorId !== undefined) add(OPTIONAL, AttributeType.originatorId, encodeIpv4(attributes.originatorId, 'originatorId'));
  if (attributes.clusterList !== undefined && attributes.clusterList.length > 0) {
    add(OPTIONAL, AttributeType.clusterList, Buffer.concat(attributes.clusterList.map((id) => encodeIpv4(id, 'clusterList'))));
  }
  if (attributes.mpReach !== undefined) {
    const { afi, safi, nextHops, nlri } = attributes.mpReach;
    add(OPTIONAL, AttributeType.mpReach, Buffer.concat([encodeMpReachHead(afi, safi, nextHops), encodePrefixes(nlri, familyOf(afi, 'mpReach'), 'mpReach nlri')]));
  }
  if (attributes.mpUnreach !== undefined) {
    const { afi, safi, withdrawn } = attributes.mpUnreach;
    // An empty one (End-of-RIB) needs no prefix format, so any family goes.
    const prefixes = withdrawn.length === 0 ? Buffer.alloc(0) : encodePrefixes(withdrawn, familyOf(afi, 'mpUnreach'), 'mpUnreach withdrawn');
    add(OPTIONAL, AttributeType.mpUnreach, Buffer.concat([encodeMpUnreachHead(afi, safi), prefixes]));
  }
  if (attributes.extendedCommunities !== undefined && attributes.extendedCommunities.length > 0) {
    const bytes = Buffer.alloc(8 * attributes.extendedCommunities.length);
    attributes.extendedCommunities.forEach((value, i) => {
      if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) throw new BgpEncodeError(`extendedCommunities: ${String(value)} is not a 64-bit unsigned value`);
      bytes.writeBigUInt64BE(value, 8 * i);
    });
    add(OPTIONAL_TRANSITIVE, AttributeType.extendedCommunities, bytes);
  }
  if (attributes.largeCommunities !== undefined && attributes.largeCommunities.length > 0) {
    add(OPTIONAL_TRANSITIVE, AttributeType.largeCommunities, Buffer.concat(attributes.largeCommunities.map((c) =>
      Buffer.concat([uint32(c.globalAdmin, 'largeCommunity globalAdmin'), uint32(c.localData1, 'largeCommunity localData1'), uint32(c.localData2, 'largeCommunity localData2')]))));
  }
  for (const attribute of attributes.unknown ?? []) {
    checkUint(attribute.typeCode, 0xff, 'unknown attribute typeCode');
    checkUint(attribute.flags, 0xff, 'unknown attribute flags');
    add(attribute.flags, attribute.typeCode, attribute.value);
  }
  return parts.sort((a, b) => a.typeCode - b.typeCode);
}

// ---------------------------------------------------------------- decode

/** What decoding one attribute led to when it is not simply accepted. */
interface AttributeFault {
  readonly action: 'treat-as-withdraw' | 'attribute-discard' | 'session-reset';
  readonly subcode: number;
  readonly reason: string;
}

export interface DecodedAttributes {
  readonly attributes: PathAttributes;
  readonly warnings: DecodeWarning[];
  /** Set when an error needs a NOTIFICATION (session reset). */
  readonly fatal?: { readonly code: number; readonly subcode: number; readonly data: Buffer; readonly reason: string };
}

interface AttributeContext {
  readonly opts: CodecOptions;
  readonly result: Writable<PathAttributes>;
  as4Path?: AsPathSegment[];
  as4Aggregator?: Aggregator;
}

type AttributeDecoder = (value: Buffer, context: AttributeContext) => AttributeFault | undefined;

interface AttributeSpec {
  readonly name: string;
  readonly flags: number;
  readonly decode: AttributeDecoder;
}

function withdraw(subcode: number, reason: string): AttributeFault {
  return { action: 'treat-as-withdraw', subcode, reason };
}
function discard(subcode: number, reason: string): AttributeFault {
  return { action: 'attribute-discard', subcode, reason };
}
function reset(subcode: number, reason: string): AttributeFault {
  return { action: 'session-reset', subcode, reason };
}

function decodeAsPath(value: Buffer, asnOctets: 2 | 4): AsPathSegment[] | string {
  const segments: AsPathSegment[] = [];
  let offset = 0;
  while (offset < value.length) {
    if (offset + 2 > value.length) return `segment header truncated at offset ${offset}`;
    const type = SEGMENT_TYPES.get(value[offset] as number);
    const count = value[offset + 1] as number;
    if (type === undefined) return `segment type ${value[offset]} is not 1..4`;
    if (count === 0) return `empty ${type} segment at offset ${offset}`;
    const end = offset + 2 + count * asnOctets;
    if (end > value.length) return `${type} segment of ${count} ASNs overruns the attribute (${value.length - offset - 2} octets left)`;
    const asns: number[] = [];
    for (let at = offset + 2; at < end; at += asnOctets) asns.push(asnOctets === 4 ? value.readUInt32BE(at) : value.readUInt16BE(at));
    segments.push({ type, asns });
    offset = end;
  }
  return segments;
}

function decodeAggregator(value: Buffer, asnOctets: 2 | 4): Aggregator | undefined {
  if (value.length !== asnOctets + 4) return undefined;
  return {
    asn: asnOctets === 4 ? value.readUInt32BE(0) : value.readUInt16BE(0),
    address: decodeAddress(value, asnOctets, 4),
  };
}

function decodeUint32List(value: Buffer): number[] {
  const values: number[] = [];
  for (let offset = 0; offset < value.length; offset += 4) values.push(value.readUInt32BE(offset));
  return values;
}

function familyFromAfi(afi: number, safi: number): 4 | 6 | undefined {
  if (safi !== Safi.unicast && safi !== Safi.multicast) return undefined;
  if (afi === Afi.ipv4) return 4;
  if (afi === Afi.ipv6) return 6;
  return undefined;
}

function decodeNextHops(value: Buffer, offset: number, length: number, family: 4 | 6): string[] | undefined {
  // IPv4 NLRI may have an IPv6 next hop (RFC 8950); IPv6 NLRI a global and a link-local one (RFC 2545).
  if (length === 4 && family === 4) return [decodeAddress(value, offset, 4)];
  if (length === 16) return [decodeAddress(value, offset, 16)];
  if (length === 32) return [decodeAddress(value, offset, 16), decodeAddress(value, offset + 16, 16)];
  return undefined;
}

const SPECS: ReadonlyMap<number, AttributeSpec> = new Map<number, AttributeSpec>([
  [AttributeType.origin, { name: 'ORIGIN', flags: WELL_KNOWN, decode: (value, { result }) => {
    if (value.length !== 1) return withdraw(UpdateErrorSubcode.attributeLengthError, `ORIGIN length ${value.length}, expected 1`);
    const origin = value[0] as number;
    if (origin > 2) return withdraw(UpdateErrorSubcode.invalidOriginAttribute, `ORIGIN value ${origin} is not 0..2`);
    result.origin = origin as 0 | 1 | 2;
    return undefined;
  } }],
  [AttributeType.asPath, { name: 'AS_PATH', flags: WELL_KNOWN, decode: (value, { result, opts }) => {
    const segments = decodeAsPath(value, opts.fourOctetAs ? 4 : 2);
    if (typeof segments === 'string') return withdraw(UpdateErrorSubcode.malformedAsPath, `AS_PATH: ${segments}`);
    result.asPath = segments;
    return undefined;
  } }],
  [AttributeType.nextHop, { name: 'NEXT_HOP', flags: WELL_KNOWN, decode: (value, { result }) => {
    if (value.length !== 4) return withdraw(UpdateErrorSubcode.attributeLengthError, `NEXT_HOP length ${value.length}, expected 4`);
    result.nextHop = decodeAddress(value, 0, 4);
    return undefined;
  } }],
  [AttributeType.med, { name: 'MULTI_EXIT_DISC', flags: OPTIONAL, decode: (value, { result }) => {
    if (value.length !== 4) return withdraw(UpdateErrorSubcode.attributeLengthError, `MULTI_EXIT_DISC length ${value.length}, expected 4`);
    result.med = value.readUInt32BE(0);
    return undefined;
  } }],
  [AttributeType.localPref, { name: 'LOCAL_PREF', flags: WELL_KNOWN, decode: (value, { result, opts }) => {
    if (opts.ebgp !== false) return discard(UpdateErrorSubcode.malformedAttributeList, 'LOCAL_PREF from an eBGP peer');
    if (value.length !== 4) return withdraw(UpdateErrorSubcode.attributeLengthError, `LOCAL_PREF length ${value.length}, expected 4`);
    result.localPref = value.readUInt32BE(0);
    return undefined;
  } }],
  [AttributeType.atomicAggregate, { name: 'ATOMIC_AGGREGATE', flags: WELL_KNOWN, decode: (value, { result }) => {
    if (value.length !== 0) return discard(UpdateErrorSubcode.attributeLengthError, `ATOMIC_AGGREGATE length ${value.length}, expected 0`);
    result.atomicAggregate = true;
    return undefined;
  } }],
  [AttributeType.aggregator, { name: 'AGGREGATOR', flags: OPTIONAL_TRANSITIVE, decode: (value, { result, opts }) => {
    const aggregator = decodeAggregator(value, opts.fourOctetAs ? 4 : 2);
    if (!aggregator) return discard(UpdateErrorSubcode.attributeLengthError, `AGGREGATOR length ${value.length}, expected ${opts.fourOctetAs ? 8 : 6}`);
    result.aggregator = aggregator;
    return undefined;
  } }],
  [AttributeType.communities, { name: 'COMMUNITIES', flags: OPTIONAL_TRANSITIVE, decode: (value, { result }) => {
    if (value.length === 0 || value.length % 4 !== 0) return withdraw(UpdateErrorSubcode.attributeLengthError, `COMMUNITIES length ${value.length} is not a positive multiple of 4`);
    result.communities = decodeUint32List(value);
    return undefined;
  } }],
  [AttributeType.originatorId, { name: 'ORIGINATOR_ID', flags: OPTIONAL, decode: (value, { result }) => {
    if (value.length !== 4) return withdraw(UpdateErrorSubcode.attributeLengthError, `ORIGINATOR_ID length ${value.length}, expected 4`);
    result.originatorId = decodeAddress(value, 0, 4);
    return undefined;
  } }],
  [AttributeType.clusterList, { name: 'CLUSTER_LIST', flags: OPTIONAL, decode: (value, { result }) => {
    if (value.length === 0 || value.length % 4 !== 0) return withdraw(UpdateErrorSubcode.attributeLengthError, `CLUSTER_LIST length ${value.length} is not a positive multiple of 4`);
    const ids: string[] = [];
    for (let offset = 0; offset < value.length; offset += 4) ids.push(decodeAddress(value, offset, 4));
    result.clusterList = ids;
    return undefined;
  } }],
  [AttributeType.mpReach, { name: 'MP_REACH_NLRI', flags: OPTIONAL, decode: (value, { result }) => {
    if (value.length < 5) return reset(UpdateErrorSubcode.optionalAttributeError, `MP_REACH_NLRI length ${value.length} is under 5`);
    const afi = value.readUInt16BE(0);
    const safi = value[2] as number;
    const nextHopLength = value[3] as number;
    if (4 + nextHopLength + 1 > value.length) return reset(UpdateErrorSubcode.optionalAttributeError, `MP_REACH_NLRI next hop length ${nextHopLength} overruns the attribute`);
    const family = familyFromAfi(afi, safi);
    if (family === undefined) {
      (result.unknown as UnknownAttribute[]).push({ flags: OPTIONAL, typeCode: AttributeType.mpReach, value: Buffer.from(value) });
      return undefined;
    }
    const nextHops = decodeNextHops(value, 4, nextHopLength, family);
    if (!nextHops) return reset(UpdateErrorSubcode.optionalAttributeError, `MP_REACH_NLRI next hop length ${nextHopLength} does not fit AFI ${afi}`);
    const nlri = readNlri(family, value, 5 + nextHopLength, value.length);
    if (!nlri) return reset(UpdateErrorSubcode.optionalAttributeError, `MP_REACH_NLRI AFI ${afi}: malformed prefix`);
    result.mpReach = { afi, safi, nextHops, nlri };
    return undefined;
  } }],
  [AttributeType.mpUnreach, { name: 'MP_UNREACH_NLRI', flags: OPTIONAL, decode: (value, { result }) => {
    if (value.length < 3) return reset(UpdateErrorSubcode.optionalAttributeError, `MP_UNREACH_NLRI length ${value.length} is under 3`);
    const afi = value.readUInt16BE(0);
    const safi = value[2] as number;
    const family = familyFromAfi(afi, safi);
    if (family === undefined && value.length > 3) {
      (result.unknown as UnknownAttribute[]).push({ flags: OPTIONAL, typeCode: AttributeType.mpUnreach, value: Buffer.from(value) });
      return undefined;
    }
    // Just AFI and SAFI is End-of-RIB, whatever the family.
    const withdrawn = family === undefined ? [] : readNlri(family, value, 3, value.length);
    if (!withdrawn) return reset(UpdateErrorSubcode.optionalAttributeError, `MP_UNREACH_NLRI AFI ${afi}: malformed prefix`);
    result.mpUnreach = { afi, safi, withdrawn };
    return undefined;
  } }],
  [AttributeType.extendedCommunities, { name: 'EXTENDED_COMMUNITIES', flags: OPTIONAL_TRANSITIVE, decode: (value, { result }) => {
    if (value.length === 0 || value.length % 8 !== 0) return withdraw(UpdateErrorSubcode.attributeLengthError, `EXTENDED_COMMUNITIES length ${value.length} is not a positive multiple of 8`);
    const values: bigint[] = [];
    for (let offset = 0; offset < value.length; offset += 8) values.push(value.readBigUInt64BE(offset));
    result.extendedCommunities = values;
    return undefined;
  } }],
  [AttributeType.as4Path, { name: 'AS4_PATH', flags: OPTIONAL_TRANSITIVE, decode: (value, context) => {
    // RFC 6793 §6: errors in AS4_PATH discard the attribute; a 4-octet session ignores it.
    if (context.opts.fourOctetAs) return discard(UpdateErrorSubcode.malformedAttributeList, 'AS4_PATH on a 4-octet AS session');
    const segments = decodeAsPath(value, 4);
    if (typeof segments === 'string') return discard(UpdateErrorSubcode.malformedAsPath, `AS4_PATH: ${segments}`);
    if (segments.some((s) => s.type === 'confedSequence' || s.type === 'confedSet')) return discard(UpdateErrorSubcode.malformedAsPath, 'AS4_PATH carries confederation segments');
    context.as4Path = segments;
    return undefined;
  } }],
  [AttributeType.as4Aggregator, { name: 'AS4_AGGREGATOR', flags: OPTIONAL_TRANSITIVE, decode: (value, context) => {
    if (context.opts.fourOctetAs) return discard(UpdateErrorSubcode.malformedAttributeList, 'AS4_AGGREGATOR on a 4-octet AS session');
    const aggregator = decodeAggregator(value, 4);
    if (!aggregator) return discard(UpdateErrorSubcode.attributeLengthError, `AS4_AGGREGATOR length ${value.length}, expected 8`);
    context.as4Aggregator = aggregator;
    return undefined;
  } }],
  [AttributeType.largeCommunities, { name: 'LARGE_COMMUNITY', flags: OPTIONAL_TRANSITIVE, decode: (value, { result }) => {
    if (value.length === 0 || value.length % 12 !== 0) return withdraw(UpdateErrorSubcode.attributeLengthError, `LARGE_COMMUNITY length ${value.length} is not a positive multiple of 12`);
    const values: LargeCommunity[] = [];
    for (let offset = 0; offset < value.length; offset += 12) {
      values.push({ globalAdmin: value.readUInt32BE(offset), localData1: value.readUInt32BE(offset + 4), localData2: value.readUInt32BE(offset + 8) });
    }
    result.largeCommunities = values;
    return undefined;
  } }],
]);

function pathLength(segments: readonly AsPathSegment[]): number {
  let length = 0;
  for (const segment of segments) {
    if (segment.type === 'sequence') length += segment.asns.length;
    else if (segment.type === 'set') length += 1;
  }
  return length;
}

/** RFC 6793 §4.2.3: the real path from AS_PATH (2-octet, with AS_TRANS) and AS4_PATH. */
function mergeAs4Path(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): readonly AsPathSegment[] {
  const asPathLength = pathLength(asPath);
  const as4Length = pathLength(as4Path);
  if (asPathLength < as4Length) return asPath;
  let keep = asPathLength - as4Length;
  const merged: AsPathSegment[] = [];
  for (const segment of asPath) {
    if (segment.type === 'confedSequence' || segment.type === 'confedSet') {
      merged.push(segment);
      continue;
    }
    if (keep === 0) break;
    if (segment.type === 'set') {
      merged.push(segment);
      keep -= 1;
    } else {
      const taken = segment.asns.slice(0, keep);
      merged.push({ type: segment.type, asns: taken });
      keep -= taken.length;
    }
  }
  return [...merged, ...as4Path];
}

/** Whether a received attribute's Optional and Transitive bits match what its type requires. */
function flagsConflict(spec: AttributeSpec, flags: number): boolean {
  return (flags & FLAG_BITS) !== spec.flags;
}

/**
 * Decodes the Path Attributes field `bytes[start, end)`. Applies RFC 7606: duplicates
 * (other than MP_*) keep the first; flag and length errors become warnings or a fatal error.
 */
export function decodeAttributes(bytes: Buffer, start: number, end: number, opts: CodecOptions): DecodedAttributes {
  const result: Writable<PathAttributes> = { unknown: [] };
  const context: AttributeContext = { opts, result };
  const warnings: DecodeWarning[] = [];
  const seen = new Set<number>();
  let offset = start;
  while (offset < end) {
    if (offset + 3 > end) {
      warnings.push({ action: 'treat-as-withdraw', attributeType: 0, reason: `attribute header at offset ${offset - start} overruns the path attributes` });
      break;
    }
    const flags = bytes[offset] as number;
    const typeCode = bytes[offset + 1] as number;
    const extended = (flags & AttributeFlag.extendedLength) !== 0;
    if (extended && offset + 4 > end) {
      warnings.push({ action: 'treat-as-withdraw', attributeType: typeCode, reason: `attribute ${typeCode}: extended length truncated` });
      break;
    }
    const length = extended ? bytes.readUInt16BE(offset + 2) : (bytes[offset + 2] as number);
    const valueStart = offset + (extended ? 4 : 3);
    const valueEnd = valueStart + length;
    const wholeAttribute = (): Buffer => Buffer.from(bytes.subarray(offset, Math.min(valueEnd, end)));
    const spec = SPECS.get(typeCode);
    if (valueEnd > end) {
      // RFC 7606 §4: an attribute overrunning the field means the rest cannot be trusted;
      // MP_* overruns would hide NLRI, which only a session reset covers.
      if (typeCode === AttributeType.mpReach || typeCode === AttributeType.mpUnreach) {
        return { attributes: result, warnings, fatal: { code: ErrorCode.update, subcode: UpdateErrorSubcode.attributeLengthError, data: wholeAttribute(), reason: `${spec?.name} length ${length} overruns the path attributes` } };
      }
      warnings.push({ action: 'treat-as-withdraw', attributeType: typeCode, reason: `attribute ${typeCode} length ${length} overruns the path attributes (${end - valueStart} octets left)` });
      break;
    }
    if (seen.has(typeCode)) {
      if (typeCode === AttributeType.mpReach || typeCode === AttributeType.mpUnreach) {
        return { attributes: result, warnings, fatal: { code: ErrorCode.update, subcode: UpdateErrorSubcode.malformedAttributeList, data: Buffer.alloc(0), reason: `${spec?.name} appears more than once` } };
      }
      warnings.push({ action: 'attribute-discard', attributeType: typeCode, reason: `attribute ${typeCode} appears more than once: the first is kept` });
      offset = valueEnd;
      continue;
    }
    seen.add(typeCode);
    const value = bytes.subarray(valueStart, valueEnd);
    if (!spec) {
      if ((flags & AttributeFlag.optional) === 0) {
        return { attributes: result, warnings, fatal: { code: ErrorCode.update, subcode: UpdateErrorSubcode.unrecognizedWellKnownAttribute, data: wholeAttribute(), reason: `well-known attribute type ${typeCode} is not recognized` } };
      }
      (result.unknown as UnknownAttribute[]).push({ flags: flags & ~AttributeFlag.extendedLength, typeCode, value: Buffer.from(value) });
      offset = valueEnd;
      continue;
    }
    const flagError = flagsConflict(spec, flags);
    const fault = spec.decode(value, context);
    if (fault?.action === 'session-reset') {
      return { attributes: result, warnings, fatal: { code: ErrorCode.update, subcode: fault.subcode, data: wholeAttribute(), reason: fault.reason } };
    }
    if (fault) warnings.push({ action: fault.action, attributeType: typeCode, reason: fault.reason });
    else if (flagError) warnings.push({ action: 'treat-as-withdraw', attributeType: typeCode, reason: `${spec.name} flags 0x${flags.toString(16)} conflict with its type` });
    offset = valueEnd;
  }
  if (context.as4Aggregator && result.aggregator) {
    // RFC 6793 §4.2.3: AS4_AGGREGATOR counts only when AGGREGATOR carries AS_TRANS.
    if (result.aggregator.asn === AS_TRANS) result.aggregator = context.as4Aggregator;
  }
  if (context.as4Path && result.asPath) result.asPath = mergeAs4Path(result.asPath, context.as4Path);
  // Type-code order, as the encoder writes them, so decode → encode → decode is stable.
  if (result.unknown?.length === 0) delete result.unknown;
  else result.unknown = [...(result.unknown ?? [])].sort((a, b) => a.typeCode - b.typeCode);
  return { attributes: result, warnings };
}
