/**
 * Ethernet frames the Layer 2 speaker sends and receives: ARP (RFC 826, RFC 5227 probes and
 * announcements, gratuitous ARP) and IPv6 Neighbor Discovery solicitations/advertisements
 * (RFC 4861) inside Ethernet + IPv6 + ICMPv6. Pure: bytes in, values out, no I/O.
 *
 * Builders take trusted values and throw FrameInputError naming the bad field. The parser
 * takes bytes from the network and never throws: it returns `{ ok: false, reason }`.
 * Addresses are canonical strings (MACs lower-case with colons, IPv6 in RFC 5952 form) so
 * they compare equal to what the rest of the speaker holds.
 */
import net from 'node:net';
import { parseIp, stringifyIp } from 'ip-bigint';
import { macFromBytes } from '../../common/mac.ts';

export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';
/** RFC 5227 probes carry an all-zero sender address. */
export const UNSPECIFIED_IPV4 = '0.0.0.0';
export const UNSPECIFIED_IPV6 = '::';
export const ALL_NODES_IPV6 = 'ff02::1';

const ETHERNET_HEADER = 14;
/** Shortest Ethernet frame without FCS; shorter frames are padded with zeros. */
const MIN_FRAME = 60;
const ARP_LENGTH = 28;
const IPV6_HEADER = 40;
const ICMPV6 = 58;
const NDP_HOP_LIMIT = 255;
const ICMPV6_NEIGHBOR_SOLICITATION = 135;
const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
const OPTION_SOURCE_LINK_ADDRESS = 1;
const OPTION_TARGET_LINK_ADDRESS = 2;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_SOLICITED = 0x40;
const NA_FLAG_OVERRIDE = 0x20;

/** A builder was given a value it cannot put on the wire; the message names the field and the value. */
export class FrameInputError extends Error {
  override readonly name = 'FrameInputError';
}

// ---------------------------------------------------------------------------------------------
// addresses

export function macToBytes(text: string, field: string): Uint8Array {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) {
    throw new FrameInputError(`${field}: ${JSON.stringify(text)} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
  return Uint8Array.from(text.split(/[:-]/), (pair) => parseInt(pair, 16));
}

function ipToBytes(text: string, family: 4 | 6, field: string): Uint8Array {
  if (net.isIP(text) !== family) {
    throw new FrameInputError(`${field}: ${JSON.stringify(text)} is not an IPv${family} address`);
  }
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  let value = parseIp(text).number;
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

function ipv4FromBytes(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

function ipv6FromBytes(bytes: Uint8Array, offset: number): string {
  let value = 0n;
  for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(bytes[offset + i] ?? 0);
  return stringifyIp({ number: value, version: 6 });
}

/** Canonical text of an IP address (RFC 5952 for IPv6), or undefined if it is not one. */
export function canonicalIp(text: string): string | undefined {
  const family = net.isIP(text);
  if (family === 0) return undefined;
  const bytes = ipToBytes(text, family as 4 | 6, 'address');
  return family === 4 ? ipv4FromBytes(bytes, 0) : ipv6FromBytes(bytes, 0);
}

/** ff02::1:ffXX:XXXX — where a Neighbor Solicitation for `ip` is sent (RFC 4291 2.7.1). */
export function solicitedNodeMulticast(ip: string): string {
  const bytes = ipToBytes(ip, 6, 'ip');
  const group = ipToBytes('ff02::1:ff00:0', 6, 'group');
  group.set(bytes.subarray(13), 13);
  return ipv6FromBytes(group, 0);
}

/** 33:33 followed by the group's last four bytes (RFC 2464 7). */
export function ipv6MulticastMac(group: string): string {
  const bytes = ipToBytes(group, 6, 'group');
  if (bytes[0] !== 0xff) throw new FrameInputError(`group: ${group} is not an IPv6 multicast address`);
  return macFromBytes(Uint8Array.from([0x33, 0x33, ...bytes.subarray(12)]));
}

// ---------------------------------------------------------------------------------------------
// values

export interface EthernetHeader {
  destination: string;
  source: string;
}

export type ArpOperation = 'request' | 'reply';

export interface ArpMessage {
  operation: ArpOperation;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface NeighborSolicitation {
  type: 'solicitation';
  target: string;
  /** Source link-layer address option; absent in DAD probes (source ::). */
  sourceLinkAddress?: string;
}

export interface NeighborAdvertisement {
  type: 'advertisement';
  target: string;
  router: boolean;
  solicited: boolean;
  override: boolean;
  targetLinkAddress?: string;
}

export interface Ipv6Header {
  source: string;
  destination: string;
  hopLimit: number;
}

export type ParsedFrame =
  | { kind: 'arp'; ethernet: EthernetHeader; arp: ArpMessage }
  | { kind: 'ndp'; ethernet: EthernetHeader; ipv6: Ipv6Header; ndp: NeighborSolicitation | NeighborAdvertisement };

export type FrameParseResult = { ok: true; frame: ParsedFrame } | { ok: false; reason: string };

// ---------------------------------------------------------------------------------------------
// ARP builders

function ethernetFrame(header: EthernetHeader, etherType: number, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(Math.max(MIN_FRAME, ETHERNET_HEADER + payload.length));
  frame.set(macToBytes(header.destination, 'destination'), 0);
  frame.set(macToBytes(header.source, 'source'), 6);
  frame.writeUInt16BE(etherType, 12);
  frame.set(payload, ETHERNET_HEADER);
  return frame;
}

/** Ethernet + ARP for IPv4 over Ethernet. */
export function buildArpFrame(ethernet: EthernetHeader, arp: ArpMessage): Buffer {
  const payload = Buffer.alloc(ARP_LENGTH);
  payload.writeUInt16BE(1, 0); // hardware: Ethernet
  payload.writeUInt16BE(ETHERTYPE_IPV4, 2);
  payload[4] = 6;
  payload[5] = 4;
  payload.writeUInt16BE(arp.operation === 'request' ? 1 : 2, 6);
  payload.set(macToBytes(arp.senderMac, 'senderMac'), 8);
  payload.set(ipToBytes(arp.senderIp, 4, 'senderIp'), 14);
  payload.set(macToBytes(arp.targetMac, 'targetMac'), 18);
  payload.set(ipToBytes(arp.targetIp, 4, 'targetIp'), 24);
  return ethernetFrame(ethernet, ETHERTYPE_ARP, payload);
}

/** Broadcast "who has targetIp, tell senderIp". */
export function buildArpRequest(options: { senderMac: string; senderIp: string; targetIp: string }): Buffer {
  return buildArpFrame(
    { destination: BROADCAST_MAC, source: options.senderMac },
    { operation: 'request', senderMac: options.senderMac, senderIp: options.senderIp, targetMac: ZERO_MAC, targetIp: options.targetIp },
  );
}

/** The reply this host sends for `request` when it owns request.targetIp at `ownMac`. */
export function buildArpReply(request: ArpMessage, ownMac: string): Buffer {
  return buildArpFrame(
    { destination: request.senderMac, source: ownMac },
    { operation: 'reply', senderMac: ownMac, senderIp: request.targetIp, targetMac: request.senderMac, targetIp: request.senderIp },
  );
}

/**
 * Gratuitous ARP telling every neighbour that `ip` is now at `mac` (sender = target = ip,
 * broadcast). As a request it is also the RFC 5227 announcement; some stacks only update
 * their caches from replies, which is why both are offered.
 */
export function buildGratuitousArp(options: { mac: string; ip: string; operation?: ArpOperation }): Buffer {
  const operation = options.operation ?? 'request';
  return buildArpFrame(
    { destination: BROADCAST_MAC, source: options.mac },
    {
      operation,
      senderMac: options.mac,
      senderIp: options.ip,
      targetMac: operation === 'request' ? ZERO_MAC : BROADCAST_MAC,
      targetIp: options.ip,
    },
  );
}

/** RFC 5227 2.1.1 probe: is `ip` in use? Sender IP 0.0.0.0, target MAC zero, broadcast. */
export function buildArpProbe(options: { mac: string; ip: string }): Buffer {
  return buildArpFrame(
    { destination: BROADCAST_MAC, source: options.mac },
    { operation: 'request', senderMac: options.mac, senderIp: UNSPECIFIED_IPV4, targetMac: ZERO_MAC, targetIp: options.ip },
  );
}

/** RFC 5227 2.3 announcement (an ARP request with sender IP = target IP). */
export function buildArpAnnouncement(options: { mac: string; ip: string }): Buffer {
  return buildGratuitousArp({ mac: options.mac, ip: options.ip, operation: 'request' });
}

// ---------------------------------------------------------------------------------------------
// NDP builders

function ones16(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Internet checksum of the ICMPv6 message over the IPv6 pseudo-header (RFC 8200 8.1). */
export function icmpv6Checksum(source: Uint8Array, destination: Uint8Array, message: Uint8Array): number {
  let sum = 0;
  const add16 = (bytes: Uint8Array, length: number): void => {
    for (let i = 0; i < length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  };
  add16(source, 16);
  add16(destination, 16);
  sum += message.length >>> 16;
  sum += message.length & 0xffff;
  sum += ICMPV6;
  add16(message, message.length);
  return ~ones16(sum) & 0xffff;
}

function linkAddressOption(type: number, mac: string, field: string): Uint8Array {
  const option = new Uint8Array(8);
  option[0] = type;
  option[1] = 1; // length in units of 8 bytes
  option.set(macToBytes(mac, field), 2);
  return option;
}

function ndpFrame(
  ethernet: EthernetHeader,
  ipv6: { source: string; destination: string },
  type: number,
  flags: number,
  target: string,
  option: Uint8Array | undefined,
): Buffer {
  const source = ipToBytes(ipv6.source, 6, 'source IP');
  const destination = ipToBytes(ipv6.destination, 6, 'destination IP');
  const message = new Uint8Array(24 + (option?.length ?? 0));
  message[0] = type;
  message[4] = flags;
  message.set(ipToBytes(target, 6, 'target'), 8);
  if (option) message.set(option, 24);
  const checksum = icmpv6Checksum(source, destination, message);
  message[2] = checksum >>> 8;
  message[3] = checksum & 0xff;

  const packet = Buffer.alloc(IPV6_HEADER + message.length);
  packet.writeUInt32BE(0x60000000, 0); // version 6, traffic class 0, flow label 0
  packet.writeUInt16BE(message.length, 4);
  packet[6] = ICMPV6;
  packet[7] = NDP_HOP_LIMIT;
  packet.set(source, 8);
  packet.set(destination, 24);
  packet.set(message, IPV6_HEADER);
  return ethernetFrame(ethernet, ETHERTYPE_IPV6, packet);
}

/**
 * Neighbor Solicitation for `target`, multicast to its solicited-node group unless a unicast
 * destination is given. With sourceIp `::` it is a DAD probe and carries no source link-layer option.
 */
export function buildNeighborSolicitation(options: {
  sourceMac: string;
  sourceIp: string;
  target: string;
  destinationIp?: string;
  destinationMac?: string;
}): Buffer {
  const destinationIp = options.destinationIp ?? solicitedNodeMulticast(options.target);
  const destinationMac = options.destinationMac ?? ipv6MulticastMac(destinationIp);
  const dad = canonicalIp(options.sourceIp) === UNSPECIFIED_IPV6;
  return ndpFrame(
    { destination: destinationMac, source: options.sourceMac },
    { source: options.sourceIp, destination: destinationIp },
    ICMPV6_NEIGHBOR_SOLICITATION,
    0,
    options.target,
    dad ? undefined : linkAddressOption(OPTION_SOURCE_LINK_ADDRESS, options.sourceMac, 'sourceMac'),
  );
}

export interface NeighborAdvertisementOptions {
  /** Ethernet source and the target link-layer address option. */
  mac: string;
  target: string;
  /** IPv6 source; defaults to the target (the address being advertised). */
  sourceIp?: string;
  destinationIp: string;
  destinationMac: string;
  solicited: boolean;
  override: boolean;
  router?: boolean;
}

export function buildNeighborAdvertisement(options: NeighborAdvertisementOptions): Buffer {
  const flags =
    (options.router ? NA_FLAG_ROUTER : 0) | (options.solicited ? NA_FLAG_SOLICITED : 0) | (options.override ? NA_FLAG_OVERRIDE : 0);
  return ndpFrame(
    { destination: options.destinationMac, source: options.mac },
    { source: options.sourceIp ?? options.target, destination: options.destinationIp },
    ICMPV6_NEIGHBOR_ADVERTISEMENT,
    flags,
    options.target,
    linkAddressOption(OPTION_TARGET_LINK_ADDRESS, options.mac, 'mac'),
  );
}

/** Unsolicited NA to all nodes after a takeover (RFC 4861 7.2.6): override set, solicited clear. */
export function buildUnsolicitedNeighborAdvertisement(options: { mac: string; ip: string }): Buffer {
  return buildNeighborAdvertisement({
    mac: options.mac,
    target: options.ip,
    destinationIp: ALL_NODES_IPV6,
    destinationMac: ipv6MulticastMac(ALL_NODES_IPV6),
    solicited: false,
    override: true,
  });
}

/**
 * The advertisement answering a parsed solicitation for an address this host owns at `ownMac`
 * (RFC 4861 7.2.4): unicast and solicited to the soliciting node, or to all nodes and
 * unsolicited when the solicitation came from `::` (DAD).
 */
export function buildNeighborAdvertisementReply(
  request: { ethernet: EthernetHeader; ipv6: Ipv6Header; ndp: NeighborSolicitation },
  ownMac: string,
): Buffer {
  if (request.ipv6.source === UNSPECIFIED_IPV6) {
    return buildNeighborAdvertisement({
      mac: ownMac,
      target: request.ndp.target,
      destinationIp: ALL_NODES_IPV6,
      destinationMac: ipv6MulticastMac(ALL_NODES_IPV6),
      solicited: false,
      override: true,
    });
  }
  return buildNeighborAdvertisement({
    mac: ownMac,
    target: request.ndp.target,
    destinationIp: request.ipv6.source,
    destinationMac: request.ndp.sourceLinkAddress ?? request.ethernet.source,
    solicited: true,
    override: true,
  });
}

// ---------------------------------------------------------------------------------------------
// parser

const fail = (reason: string): FrameParseResult => ({ ok: false, reason });

/** Parses an Ethernet frame carrying ARP or an NDP NS/NA. Never throws. */
export function parseFrame(bytes: Uint8Array): FrameParseResult {
  if (bytes.length < ETHERNET_HEADER) return fail(`frame of ${bytes.length} bytes is shorter than an Ethernet header`);
  const ethernet = { destination: macFromBytes(bytes, 0), source: macFromBytes(bytes, 6) };
  const etherType = ((bytes[12] ?? 0) << 8) | (bytes[13] ?? 0);
  if (etherType === ETHERTYPE_ARP) return parseArp(bytes, ethernet);
  if (etherType === ETHERTYPE_IPV6) return parseNdp(bytes, ethernet);
  return fail(`ethertype 0x${etherType.toString(16).padStart(4, '0')} is neither ARP nor IPv6`);
}

function parseArp(bytes: Uint8Array, ethernet: EthernetHeader): FrameParseResult {
  const at = ETHERNET_HEADER;
  if (bytes.length < at + ARP_LENGTH) return fail(`ARP message of ${bytes.length - at} bytes is shorter than ${ARP_LENGTH}`);
  const u16 = (offset: number): number => ((bytes[at + offset] ?? 0) << 8) | (bytes[at + offset + 1] ?? 0);
  if (u16(0) !== 1) return fail(`ARP hardware type ${u16(0)} is not Ethernet (1)`);
  if (u16(2) !== ETHERTYPE_IPV4) return fail(`ARP protocol type 0x${u16(2).toString(16)} is not IPv4`);
  if (bytes[at + 4] !== 6 || bytes[at + 5] !== 4) return fail(`ARP address lengths ${bytes[at + 4]}/${bytes[at + 5]} are not 6/4`);
  const code = u16(6);
  if (code !== 1 && code !== 2) return fail(`ARP operation ${code} is neither request (1) nor reply (2)`);
  return {
    ok: true,
    frame: {
      kind: 'arp',
      ethernet,
      arp: {
        operation: code === 1 ? 'request' : 'reply',
        senderMac: macFromBytes(bytes, at + 8),
        senderIp: ipv4FromBytes(bytes, at + 14),
        targetMac: macFromBytes(bytes, at + 18),
        targetIp: ipv4FromBytes(bytes, at + 24),
      },
    },
  };
}

function parseNdp(bytes: Uint8Array, ethernet: EthernetHeader): FrameParseResult {
  const ip = ETHERNET_HEADER;
  if (bytes.length < ip + IPV6_HEADER) return fail(`IPv6 packet of ${bytes.length - ip} bytes is shorter than its header`);
  if ((bytes[ip] ?? 0) >> 4 !== 6) return fail(`IP version ${(bytes[ip] ?? 0) >> 4} in an IPv6 frame`);
  const payloadLength = ((bytes[ip + 4] ?? 0) << 8) | (bytes[ip + 5] ?? 0);
  if (ip + IPV6_HEADER + payloadLength > bytes.length) {
    return fail(`IPv6 payload length ${payloadLength} exceeds the ${bytes.length - ip - IPV6_HEADER} bytes received`);
  }
  if (bytes[ip + 6] !== ICMPV6) return fail(`IPv6 next header ${bytes[ip + 6]} is not ICMPv6 (58)`);
  const hopLimit = bytes[ip + 7] ?? 0;
  // RFC 4861 7.1: a hop limit below 255 means the packet was forwarded by a router.
  if (hopLimit !== NDP_HOP_LIMIT) return fail(`NDP hop limit ${hopLimit} is not 255`);
  const message = bytes.subarray(ip + IPV6_HEADER, ip + IPV6_HEADER + payloadLength);
  if (message.length < 24) return fail(`ICMPv6 message of ${message.length} bytes is too short for NS/NA`);
  const type = message[0] ?? 0;
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    return fail(`ICMPv6 type ${type} is neither NS (135) nor NA (136)`);
  }
  if (message[1] !== 0) return fail(`ICMPv6 code ${message[1]} is not 0`);
  const sourceBytes = bytes.subarray(ip + 8, ip + 24);
  const destinationBytes = bytes.subarray(ip + 24, ip + 40);
  const zeroed = Uint8Array.from(message);
  zeroed[2] = 0;
  zeroed[3] = 0;
  const expected = icmpv6Checksum(sourceBytes, destinationBytes, zeroed);
  const received = ((message[2] ?? 0) << 8) | (message[3] ?? 0);
  if (expected !== received) return fail(`ICMPv6 checksum 0x${received.toString(16)} does not match 0x${expected.toString(16)}`);
  if (message[8] === 0xff) return fail('NDP target is a multicast address');

  const ipv6 = { source: ipv6FromBytes(bytes, ip + 8), destination: ipv6FromBytes(bytes, ip + 24), hopLimit };
  const target = ipv6FromBytes(message, 8);
  const links: { [type: number]: string } = {};
  for (let at = 24; at < message.length; ) {
    if (at + 2 > message.length) return fail('truncated NDP option');
    const optionType = message[at] ?? 0;
    const optionLength = (message[at + 1] ?? 0) * 8;
    if (optionLength === 0) return fail('NDP option with length 0');
    if (at + optionLength > message.length) return fail(`NDP option ${optionType} runs past the message`);
    if ((optionType === OPTION_SOURCE_LINK_ADDRESS || optionType === OPTION_TARGET_LINK_ADDRESS) && optionLength >= 8) {
      links[optionType] = macFromBytes(message, at + 2);
    }
    at += optionLength;
  }

  if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
    const sourceLinkAddress = links[OPTION_SOURCE_LINK_ADDRESS];
    if (ipv6.source === UNSPECIFIED_IPV6 && sourceLinkAddress !== undefined) {
      return fail('NS from :: carries a source link-layer address (RFC 4861 7.1.1)');
    }
    const ndp: NeighborSolicitation = { type: 'solicitation', target };
    if (sourceLinkAddress !== undefined) ndp.sourceLinkAddress = sourceLinkAddress;
    return { ok: true, frame: { kind: 'ndp', ethernet, ipv6, ndp } };
  }
  const flags = message[4] ?? 0;
  const ndp: NeighborAdvertisement = {
    type: 'advertisement',
    target,
    router: (flags & NA_FLAG_ROUTER) !== 0,
    solicited: (flags & NA_FLAG_SOLICITED) !== 0,
    override: (flags & NA_FLAG_OVERRIDE) !== 0,
  };
  if (ndp.solicited && (bytes[ip + 24] ?? 0) === 0xff) return fail('solicited NA sent to a multicast address (RFC 4861 7.1.2)');
  const targetLinkAddress = links[OPTION_TARGET_LINK_ADDRESS];
  if (targetLinkAddress !== undefined) ndp.targetLinkAddress = targetLinkAddress;
  return { ok: true, frame: { kind: 'ndp', ethernet, ipv6, ndp } };
}
